package pooltest_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/pagefleet/pagefleet/pool"
	"github.com/pagefleet/pagefleet/pool/pooltest"
)

// A task whose first call hangs, ignoring its context, like a stuck browser
// call: the pool's watchdog closes the page and the retry completes on a
// fresh one.
func Example() {
	f := &pooltest.Factory{Script: func(key string, call int) pooltest.Step {
		return pooltest.Step{Hang: call == 1}
	}}
	p, _ := pool.New(pool.Config[*pooltest.Page]{
		Factory:          f,
		Workers:          1,
		AttemptTimeout:   10 * time.Millisecond,
		StuckAfter:       20 * time.Millisecond,
		WatchdogInterval: 5 * time.Millisecond,
		NewBackOff:       func() backoff.BackOff { return &backoff.ZeroBackOff{} },
		Logger:           slog.New(slog.DiscardHandler),
		OnResult:         func(r pool.Result) { fmt.Println(r.Key, "attempts:", r.Attempts, "err:", r.Err) },
	})
	p.Submit(f.Task("vehicle-1"))
	p.CloseQueue()
	p.Run(context.Background())

	made, open, _, _ := f.Counts()
	fmt.Println("pages made:", made, "open:", open, "rescued:", p.Stats().Rescued, "violations:", len(f.Violations()))
	// Output:
	// vehicle-1 attempts: 2 err: <nil>
	// pages made: 2 open: 0 rescued: 1 violations: 0
}
