// Package download gets one file per item out of a logged-in browser and
// saves it under a safe name, complete and checked, or not at all.
//
// # Getting the file
//
// [Click] runs a [Trigger] in a page — [Selector] clicks a link by CSS
// selector, [MouseClick] clicks like a user, any function will do — and
// takes the file however it comes: as a download of the page or of a popup,
// or as a document shown inline in the page or in a new tab. A page that
// navigates to HTML instead (an error or a login page) is reported at once
// as [ErrHTMLPage]. [Fetch] instead GETs the file's URL through the
// session's APIRequestContext, which shares the browser's cookies: no
// rendering, many times faster, where the site allows it.
//
// # Saving
//
// Every path ends in [Save]: the bytes go to a temporary file in the target
// directory, which is validated ([Target].Validate), synced and only then
// renamed to its final name. A partial or invalid file never carries the
// final name, and temporary files are removed on every error; those a
// killed process leaves behind, [RemoveTemp] removes on the next run. The
// result, a [File], has the path, size and SHA-256 a checkpoint records.
//
// # Validating
//
// [PDF] rejects empty files, HTML pages served in a PDF's place (with the
// page's title, and a hint when it is a login form), non-PDFs and
// truncated PDFs. [PDFContains] reads the PDF's text and requires the
// item's own ID, such as a VIN, ignoring case and white space. [PDFOf]
// also requires that the text names no other ID of the job's [IDs], a set
// that may grow while files download: the check that catches a server
// handing out another item's file, even one that mentions the right ID in
// a footer ([ErrWrongItem], whose Detail names the IDs found). Failures
// are [*InvalidError] values whose Reason is one of the sentinel errors,
// for errors.Is.
//
// The text is read by an extractor bounded in work and memory whatever
// the file holds: a page tree that contains itself, a billion pages, a
// Flate bomb or a loop of cross-reference sections ends, in a fraction of
// a second, as [ErrNotPDF] "too complex to check" or "unreadable".
//
// # Names
//
// [SafeName] turns item data into a file name that cannot escape the
// directory, is no reserved device name, is bounded in length, and never
// collides with another key's name.
//
// # Concurrency
//
// Functions are safe for concurrent use on different pages; a page must
// run one Click at a time.
package download
