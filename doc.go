// Package pagefleet is a library for authenticated bulk downloads through a
// real browser: log into a site once, run many worker pages in parallel from
// a task queue, and save one validated file per item — surviving slow sites,
// errors, hangs, logouts, browser crashes and the process being killed.
//
// The work is split into packages that can be used on their own:
//
//   - [github.com/pagefleet/pagefleet/pool]: a generic pool of long-lived
//     pages with a task queue, per-attempt timeouts, retries, a watchdog,
//     and an optional adaptive concurrency controller.
//   - [github.com/pagefleet/pagefleet/session]: one browser, one context, one
//     login; pages for the pool; re-login and crash recovery.
//   - [github.com/pagefleet/pagefleet/download]: trigger or fetch a download,
//     validate it (is it a whole PDF, and the item's own?), save it
//     atomically under a safe name.
//   - [github.com/pagefleet/pagefleet/checkpoint]: crash-safe records of what
//     is done, for resume; leases and a PostgreSQL store for many processes.
//
// # Example
//
// One login, eight pages, one checked PDF per vehicle (the runnable version
// is Example_fleet in package session):
//
//	sess, err := session.Open(ctx, session.Config{
//		Login:    session.FormLogin(session.Form{URL: site + "/login", User: user, Password: pass}),
//		LoginURL: site + "/login",
//		Block:    true, // no images, stylesheets, fonts or media
//	})
//	if err != nil { … }
//	defer sess.Close()
//	p, _ := pool.New(pool.Config[playwright.Page]{Factory: sess.Pages(), Workers: 8, OnResult: record})
//	for _, vin := range vins {
//		p.Submit(pool.Task[playwright.Page]{Key: vin, Run: func(ctx context.Context, page playwright.Page) error {
//			if _, err := page.Goto(site + "/vehicle/" + vin); err != nil {
//				return err
//			}
//			if err := sess.Check(ctx, page); err != nil {
//				return err // logged out: one re-login for all pages; the task runs again
//			}
//			_, err := download.Click(ctx, page, download.Selector("#window-sticker"), download.Target{
//				Dir: "out", Name: download.SafeName(vin + ".pdf"),
//				Validate: []download.Validator{download.PDF(), download.PDFContains(vin)},
//			})
//			return err
//		}})
//	}
//	p.CloseQueue()
//	err = p.Run(ctx)
//
// examples/jdrun is the production command line tool built from these
// packages, and examples/portal the demo site it runs against by default.
package pagefleet
