// Package pagefleet is a library for authenticated bulk downloads through a
// real browser: log into a site once, run many worker pages in parallel from
// a task queue, and save one validated file per item — surviving slow sites,
// errors, hangs, logouts, browser crashes and the process being killed.
//
// The work is split into packages that can be used on their own:
//
//   - [github.com/pagefleet/pagefleet/pool]: a generic pool of long-lived
//     pages with a task queue, per-attempt timeouts, retries, and a watchdog.
//   - [github.com/pagefleet/pagefleet/checkpoint]: crash-safe records of what
//     is done, for resume.
//   - [github.com/pagefleet/pagefleet/session]: one browser, one context, one
//     login; pages for the pool; re-login and crash recovery.
//   - [github.com/pagefleet/pagefleet/download]: trigger or fetch a download,
//     validate it, save it atomically under a safe name.
//
// examples/jdrun is the production command line tool built from them.
package pagefleet
