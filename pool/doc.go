// Package pool provides [PagePool], a generic pool of long-lived pages
// (browser tabs, in production a playwright.Page) that runs a queue of
// tasks — one page per worker, one task per page at a time — and comes out
// with every task finished or explained.
//
// # Lifecycle
//
// [New] takes a [Config]; only its Factory is required, every other field
// has a working default. Tasks are submitted with [PagePool.Submit] before
// or during [PagePool.Run]; [PagePool.CloseQueue] says no more will come,
// and Run returns once each submitted task has its [Result]. Cancelling
// Run's context stops the pool: no attempt starts any more, running ones get
// a grace period, every page is closed exactly once, and Run returns only
// after every goroutine it started has exited.
//
// # Attempts, retries and errors
//
// Each attempt runs under a context with Config.AttemptTimeout that also
// says which attempt it is ([AttemptFrom]: key, number, requeues, start);
// Config.OnStart is told as each attempt starts, on the worker's goroutine,
// so a store can record it before it can crash the process. A successful
// Run's value comes back in the [Result]. Attempts add up across runs when
// the caller passes the attempts made before as Task.Prior. A failed
// attempt is retried after a backoff (github.com/cenkalti/backoff/v4, a
// fresh BackOff per task) until Config.MaxAttempts; a task waiting for its
// retry does not hold a worker. An error wrapped with backoff.Permanent is
// not retried; [Requeue] re-runs a task without charging an attempt (e.g.
// after a re-login); [Abort] stops the whole pool. A panic in a task is a
// failed attempt with a [*PanicError] that keeps the stack.
//
// After a failed attempt the worker resets its page (Factory.Reset); if
// that fails, it closes the page and makes a new one. A factory that keeps
// failing to make pages is retried with backoff, then Run fails.
//
// # Watchdog
//
// Browser-driver calls may ignore their context and block. The watchdog
// finds attempts running longer than Config.StuckAfter, closes their page
// (which makes the driver call return), starts a replacement worker with a
// fresh page, and counts the attempt as failed with [ErrStuck]. Whatever the
// abandoned attempt returns later is ignored. An abandoned attempt that never
// returns at all (a CPU loop deaf to its context and its page) can't be
// stopped in Go: Run waits a grace period for it, then leaves it running
// and counts it in [Stats].Adrift, rather than hang.
//
// # Concurrency
//
// All methods of PagePool are safe for concurrent use. Config.OnResult and
// Config.OnAttempt are called from a single goroutine, in completion order,
// so they need no locking. [PagePool.SetWorkers] changes the number of
// workers while running; [PagePool.Stats] is cheap enough to poll.
//
// # Examples
//
// go doc prints no examples; they are in example_test.go (and on
// pkg.go.dev): Example runs three tasks, one flaky, on a toy page type. The
// complete downloader built on this package is Example_stickers in package
// download.
//
// Fake pages for tests are in [github.com/pagefleet/pagefleet/pool/pooltest].
package pool
