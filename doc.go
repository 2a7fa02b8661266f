// Package pagefleet is a library for authenticated bulk downloads through a
// real browser: log into a site once, run many worker pages in parallel from
// a task queue, and save one validated file per item — surviving slow sites,
// errors, hangs, logouts, browser crashes and the process being killed.
//
// The work is split into packages that can be used on their own:
//
//   - [github.com/pagefleet/pagefleet/pool]: a generic pool of long-lived
//     pages with a task queue, per-attempt timeouts, retries, a watchdog,
//     and an optional adaptive concurrency controller;
//     [github.com/pagefleet/pagefleet/pool/poolmetrics] serves its Prometheus
//     metrics and a live status page.
//   - [github.com/pagefleet/pagefleet/session]: one browser, one context, one
//     login; pages opened with a verdict (HTTP status, error page, logout);
//     requests without a page; listings; re-login and crash recovery.
//   - [github.com/pagefleet/pagefleet/download]: click or fetch a file,
//     validate it (a whole PDF, the item's own and no other's), save it
//     atomically under a safe name; a pool fed and recorded by a checkpoint.
//   - [github.com/pagefleet/pagefleet/checkpoint]: crash-safe records of
//     every item's attempts and outcome, one cycle for every store (a
//     journal file, memory, PostgreSQL for many processes), resume planning.
//
// # Example
//
// The whole job in outline — the complete program, about 100 lines, is
// Example_stickers in download/recipe_example_test.go, and README.md shows it
// too (go doc prints no examples; pkg.go.dev does):
//
//	sess, err := session.Open(ctx, session.Config{Login: session.FormLogin(form), LoginURL: site + "/login"})
//	vehicles, err := session.List(ctx, session.Listing[vehicle]{First: site + "/inventory", Read: readPage, Key: vinOf})
//	tracker, err := checkpoint.NewTracker(store, checkpoint.TrackerOptions{})
//	plan, err := tracker.Plan(ctx, vins)            // what earlier runs left to do
//	p, err := download.NewTracked(pool.Config[playwright.Page]{Factory: sess.Pages(), Workers: 4}, tracker)
//	err = p.Run(ctx, plan.Keys(), func(ctx context.Context, page playwright.Page, vin string) (any, error) {
//		if _, err := sess.Goto(ctx, page, vehicleURL(vin), session.Expect{ErrorPage: "h1#error", Ready: "#window-sticker"}); err != nil {
//			return nil, err // a logout: logged in again, and the vehicle requeued uncharged
//		}
//		return download.Click(ctx, sess, page, download.Selector("#window-sticker"), download.Target{
//			Dir: "out", Name: download.SafeName(vin + ".pdf"), Validate: []download.Validator{download.PDFOf(vin, vins)}})
//	})
//
// examples/jdrun is the production command line tool built from these
// packages, and examples/portal the demo site it runs against.
package pagefleet
