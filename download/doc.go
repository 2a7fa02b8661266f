// Package download gets one file per item out of a logged-in session and
// saves it under a safe name, complete and checked, or not at all; and it
// runs a whole job: a pool of pages fed and recorded by a checkpoint.
//
// # Getting the file
//
// [Click] runs a [Trigger] in a page — [Selector] clicks a link by CSS
// selector (and fails at once, [ErrNoElement], on a loaded page without
// it), [MouseClick] clicks like a user, any function will do — and takes
// the file however it comes: as a download of the page or of a popup, or
// as a document shown inline in the page or in a new tab. [Fetch] instead
// GETs the file's URL with the session's cookies (session.Session.Fetch):
// no page, no rendering, many times faster, where the site allows it. It
// streams to disk, is cut off at [Target].MaxSize as it arrives, and ends
// with its context.
//
// Both judge what comes instead of the file: the site's login page is a
// logout — one re-login for all workers, then [Click] returns
// [ErrLoginPage] wrapped with session.ErrLoggedOut and pool.Requeue, so the
// item runs again uncharged, and [Fetch] asks once more ([ErrLoginLoop] if
// the login page comes again);
// an HTTP error is a *session.StatusError (404 and 410 permanent); another
// HTML page is [ErrHTMLPage], at once; a full disk is [ErrDiskFull]
// wrapped with pool.Abort. No error quotes a cookie or a token.
//
// # Saving
//
// Every path ends in [Save]: the bytes go to a temporary file in the target
// directory, locked while it is written, which is validated
// ([Target].Validate), synced and only then renamed to its final name. A
// partial or invalid file never carries the final name, and temporary
// files are removed on every error; those a killed process leaves behind,
// [RemoveTemp] removes — from any process, sparing those still being
// written. The result, a [File], has the path, size and SHA-256 a
// checkpoint records; [Check] computes the same for a file found on disk.
//
// # Validating
//
// [PDF] rejects empty files, HTML pages served in a PDF's place (with the
// page's title; a login form is [ErrLoginPage]), non-PDFs and truncated
// PDFs. [PDFContains] reads the PDF's text and requires the item's own ID,
// such as a VIN, ignoring case and white space. [PDFOf] also requires that
// the text names no other ID of the job's [IDs]: the check that catches a
// server handing out another item's file, even one that mentions the right
// ID in a footer ([ErrWrongItem]; [InvalidError].Others names the IDs
// found). The set may grow while files download — the items still being
// listed ([IDs.SetGrowing]); a file that may name an item not listed yet then
// waits for the listing ([IDs.Await]), and [Tracked.RunFrom] takes the items
// as they are listed. Failures are
// [*InvalidError] values whose Reason is one of the sentinel errors, for
// errors.Is.
//
// The text is read by an extractor bounded in work and memory whatever
// the file holds: a page tree that contains itself, a billion pages, a
// Flate bomb or a loop of cross-reference sections ends, in a fraction of
// a second, as [ErrNotPDF] "too complex to check" or "unreadable".
//
// # A whole job
//
// [Tracked] is a pool.PagePool fed by a checkpoint.Tracker: the tracker
// claims the items a plan left to do, the pool works on them, and every
// attempt and outcome is recorded as it happens — so attempts add up across
// runs, a rerun resumes, and an item that crashes the process is given up
// after two runs without taking innocent items with it.
//
// # Site quirks
//
// Two adapters change how a job works only on evidence, so that one odd
// item changes nothing for the others. [Fallback] fetches file URLs
// directly until several items in a row needed their page opened first
// ([NeedsPage] says which failures mean that). [Interference] puts the page
// path on one worker (pool.PagePool.SetMaxWorkers) while the portal serves
// the file of the item another page views, and lifts that when it stops.
//
// # Names
//
// [SafeName] turns item data into a file name that cannot escape the
// directory, is no reserved device name, is bounded in length, and never
// collides with another key's name.
//
// # Examples
//
// go doc prints no examples; they are in this package's example_test.go
// files (and on pkg.go.dev): Example (click and fetch one file) and
// Example_stickers in recipe_example_test.go, the complete downloader that
// README.md shows — login, listing, checked downloads, checkpoint, resume —
// in about 100 lines.
//
// # Concurrency
//
// Functions are safe for concurrent use on different pages; a page must
// run one Click at a time.
package download
