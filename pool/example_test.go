package pool_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/pagefleet/pagefleet/pool"
)

// A pool over a toy page type. In production P is a playwright.Page and the
// factory is a session's; here a page is just a name.
func Example() {
	var made atomic.Int32
	pages := pool.Funcs[string]{
		NewFunc: func(context.Context) (string, error) { return fmt.Sprintf("page-%d", made.Add(1)), nil },
	}
	var lines []string
	p, err := pool.New(pool.Config[string]{
		Factory:    pages,
		Workers:    2,
		NewBackOff: noWait, // retry at once; the default backs off exponentially
		OnResult: func(r pool.Result) {
			lines = append(lines, fmt.Sprintf("%s: attempts=%d err=%v", r.Key, r.Attempts, r.Err))
		},
	})
	if err != nil {
		panic(err)
	}
	var flaky atomic.Int32
	for _, vin := range []string{"1HGCM82633A004352", "JH4KA7561PC008269", "5YJSA1E26HF000001"} {
		p.Submit(pool.Task[string]{Key: vin, Run: func(ctx context.Context, page string) (any, error) {
			if vin == "JH4KA7561PC008269" && flaky.Add(1) == 1 {
				return nil, errors.New("site hiccup") // retried
			}
			return vin + ".pdf", nil // download the vehicle's PDF on page here; the value goes to the Result
		}})
	}
	p.CloseQueue()
	if err := p.Run(context.Background()); err != nil {
		panic(err)
	}
	slices.Sort(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	// Output:
	// 1HGCM82633A004352: attempts=1 err=<nil>
	// 5YJSA1E26HF000001: attempts=1 err=<nil>
	// JH4KA7561PC008269: attempts=2 err=<nil>
}
