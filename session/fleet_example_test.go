package session_test

import (
	"context"
	"fmt"
	"os"
	"slices"

	playwright "github.com/mxschmitt/playwright-go"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/pool"
	"github.com/pagefleet/pagefleet/session"
	"github.com/pagefleet/pagefleet/session/sessiontest"
)

// The whole library together: one login, a pool of pages from the session,
// one validated PDF per item saved atomically, each outcome checkpointed.
func Example_fleet() {
	site := sessiontest.StartServer() // stands in for the real portal
	defer site.Close()
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "fleet")
	defer os.RemoveAll(dir)

	sess, err := session.Open(ctx, session.Config{
		Login:    session.FormLogin(session.Form{URL: site.URL + "/login", User: site.User, Password: site.Password}),
		LoginURL: site.URL + "/login",
		Block:    true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sess.Close()

	store := checkpoint.NewMemory() // checkpoint.Open(path, …) for a crash-safe journal
	p, _ := pool.New(pool.Config[playwright.Page]{
		Factory: sess.Pages(),
		Workers: 4,
		OnResult: func(r pool.Result) {
			st := checkpoint.Done
			if r.Err != nil {
				st = checkpoint.Failed
			}
			store.Put(ctx, checkpoint.Record{Key: r.Key, State: st, Attempts: r.Attempts})
		},
	})
	for _, vin := range []string{"1FTEW1E53KFA12345", "1HGCM82633A004352", "JH4KA7561PC008269"} {
		p.Submit(pool.Task[playwright.Page]{Key: vin, Run: func(ctx context.Context, page playwright.Page) (any, error) {
			if _, err := page.Goto(site.ItemURL(vin)); err != nil {
				return nil, err
			}
			if err := sess.Check(ctx, page); err != nil {
				return nil, err // logged out: re-logged in, and the task runs again uncharged
			}
			return download.Click(ctx, sess, page, download.Selector("#download"), download.Target{
				Dir: dir, Name: download.SafeName(vin + ".pdf"),
				Validate: []download.Validator{download.PDF(), download.PDFContains(vin)}, // the right vehicle's PDF
			})
		}})
	}
	p.CloseQueue()
	if err := p.Run(ctx); err != nil {
		fmt.Println(err)
		return
	}
	var done []string
	for r := range store.All(ctx) {
		done = append(done, r.Key+" "+string(r.State))
	}
	slices.Sort(done)
	for _, d := range done {
		fmt.Println(d)
	}
	// Output:
	// 1FTEW1E53KFA12345 done
	// 1HGCM82633A004352 done
	// JH4KA7561PC008269 done
}
