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
// # Logouts
//
// A task calls [Session.Check] after navigating. If the page shows the site
// logged out (Config.LoggedOut; by default: the page is on Config.LoginURL),
// Check logs in again and returns [ErrLoggedOut] wrapped with [pool.Requeue],
// so the task runs again without being charged an attempt. However many
// pages notice the logout, and however late, there is one login: each
// successful login starts a new generation, and a page only triggers a
// login if nothing logged in since it last saw the site logged in. Pages
// that notice together share that login. A refused re-login is remembered:
// Check, NewPage and [Session.Relogin] then return it wrapped with
// [pool.Abort], and no further login is attempted. For logouts found outside
// a page (a fetch that got the login page) record [Session.Generation]
// before and call [Session.Relogin] after.
//
// # Crashes
//
// When chromium crashes or the browser server goes away, pages of the dead
// browser fail; Check reports [ErrDisconnected] wrapped with pool.Requeue,
// and the next NewPage launches a new browser, opens a new context and logs
// in again — once, however many workers ask. [Session.Request] and
// [Session.BrowserContext] then return the new context's.
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
package session
