// Package session provides one browser with one logged-in browser context,
// and the pages that work in it: the part of a bulk download that knows
// about logins, logouts and crashes.
//
// # Opening
//
// [Open] finds chromium and the Playwright driver ([Locate]; scripts/setup
// installs them), launches headless chromium — or connects to a Playwright
// browser server, Config.Endpoint — opens one browser context that accepts
// downloads, and runs the caller's [LoginFunc] once, on a page of its own.
// [FormLogin] makes a LoginFunc for an ordinary login form. A refused login
// ([ErrBadCredentials]) fails Open at once, after one attempt at the site;
// other login failures are retried with backoff. The zero [Config] works:
// headless, no login, no blocking.
//
// # Pages for a pool
//
// [Session.NewPage] opens a page in the context; [Session.Pages] is the same
// as a [pool.Factory], so a pool's workers get their pages from the session
// with no glue: Reset takes a page back to about:blank, and fails for a page
// of a dead browser so the pool recycles it; Close never blocks on a dead
// browser, so the pool's watchdog can always close a stuck page.
//
// # Opening pages with a verdict
//
// [Session.Goto] opens a URL in a page under the context's deadline and
// says what came back, as errors a [pool.PagePool] acts on: an HTTP error
// status is a [*StatusError] (404 and 410 permanent, see [StatusErr]); the
// site's error page ([Expect].ErrorPage) an [*ErrorPageError]; a page
// without the element the task needs ([Expect].Ready) [ErrNotReady], as
// soon as the page has settled rather than at the deadline; a logout one
// re-login and [ErrLoggedOut] wrapped with [pool.Requeue]; a crashed
// browser or driver [ErrDisconnected] wrapped with pool.Requeue.
//
// # Requests without a page
//
// [Session.Fetch] sends a GET with the browser context's cookies from this
// process: no page, no rendering, no round trip through the driver; it
// streams, stops when its context ends, and keeps working while a crashed
// browser is relaunched. [Session.Get] reads an HTML page that way and
// judges it like Goto. [List] reads a paginated listing (an inventory)
// with read-ahead and retries, and stops at a page that adds nothing, a
// link back, or MaxPages — a "next" link that never ends can't keep it
// reading; [ListReader] reads its pages with Get, or in browser tabs when
// their rows are drawn by scripts. [Session.Tabs] is a pool factory of pages opened only when a
// task asks for one.
//
// # Logouts
//
// Goto, Get and [Session.Check] (for pages navigated by other means) find
// a logged-out page (Config.LoggedOut; by default: the page is on
// Config.LoginURL). However many pages notice the logout, and however late,
// there is one login: each successful login starts a new generation, and a
// page only triggers a login if nothing logged in since it last saw the
// site logged in. Pages that notice together share that login. For a
// logout found elsewhere (a file request that got the login page: package
// download does this) record [Session.Generation] before and call
// [Session.Relogin] after.
//
// A login the site refuses as wrong credentials ([ErrBadCredentials]) at
// the first login fails Open at once, after one attempt. At a re-login the
// same credentials worked before in this process, so a refusal is more
// likely a race (a form whose token other pages reset): it is retried on a
// fresh page with backoff, at least five times, and only then remembered
// as final: Goto, Check, NewPage and [Session.Relogin] return it wrapped
// with [pool.Abort], and no further login is attempted. Other refusals
// ([ErrLoginRefused]: an expired form, [Form].BadCredentials tells them
// apart) are retried.
//
// # Crashes
//
// When chromium crashes, the browser server goes away or the driver dies,
// pages of the dead browser fail; Goto and Check report [ErrDisconnected]
// wrapped with pool.Requeue, and the next NewPage (or Fetch) launches a new
// browser — restarting the driver if it died — opens a new context and logs
// in again, once, however many workers ask. A dead driver sends no event:
// a failed call asks the context once whether it still answers.
//
// # Secrets
//
// Passwords never appear in logs, errors or saved files. Playwright's call
// logs quote request headers; every error of this package (and of package
// download) that can carry them is passed through [Scrub], which blanks
// cookie, authorization and token values. Callers that print errors from
// elsewhere can use Scrub and [ScrubString] too.
//
// # Blocking, storage state, memory
//
// Config.Block aborts requests for images, stylesheets, fonts and media
// (Config.BlockTypes) and for Config.BlockURLs in every page; Stats counts
// them. Config.StorageState keeps the context's cookies in a file (mode
// 0600) so the next run can skip the login. [TreePSS] and [Session.Memory]
// measure the proportional set size of the Go process, the driver and
// chromium together. Passwords are never logged, put in errors or saved.
//
// # Concurrency
//
// All methods of [Session] are safe for concurrent use. The sessions of a
// process share one driver (Node.js) process; each has its own browser.
// [Session.Close] ends the browser and chromium's helper processes, and the
// driver when no other session uses it, and returns once they are gone.
//
// # Examples
//
// go doc prints no examples; they are in example_test.go (and on
// pkg.go.dev): Example logs in and checks a page, ExampleLoginFunc logs in
// with a custom function. The complete downloader — Open, List, Get, Goto
// and a pool of pages — is Example_stickers in package download.
package session
