package download

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Validator checks a downloaded file of the given size before it gets its
// final name. It returns an [*InvalidError] for a bad file.
type Validator func(r io.ReaderAt, size int64) error

// minPDF is about the smallest well-formed PDF (header, one object, xref,
// trailer, %%EOF).
const minPDF = 64

// PDF returns a Validator for PDF files: not empty, not an HTML page (a
// login or error page served in the PDF's place — reported as
// [ErrHTMLPage] with the page's title), a %PDF- header in the first 1024
// bytes ([ErrNotPDF]), and a %%EOF marker in the last 1024 bytes
// ([ErrTruncated]).
func PDF() Validator {
	return func(r io.ReaderAt, size int64) error {
		if size == 0 {
			return &InvalidError{Reason: ErrEmpty, Detail: ""}
		}
		head := readAt(r, 0, min(size, 1024))
		if isHTML(head) {
			page := readAt(r, 0, min(size, 64<<10))
			reason := ErrHTMLPage
			if isLoginForm(page) {
				reason = ErrLoginPage
			}
			return &InvalidError{Reason: reason, Detail: describeHTML(page)}
		}
		if !bytes.Contains(head, []byte("%PDF-")) {
			return &InvalidError{Reason: ErrNotPDF, Detail: fmt.Sprintf("starts with %q", head[:min(len(head), 16)])}
		}
		if size < minPDF {
			return &InvalidError{Reason: ErrTruncated, Detail: fmt.Sprintf("only %d bytes", size)}
		}
		if !bytes.Contains(readAt(r, max(0, size-1024), min(size, 1024)), []byte("%%EOF")) {
			return &InvalidError{Reason: ErrTruncated, Detail: fmt.Sprintf("no %%%%EOF at the end of %d bytes", size)}
		}
		return nil
	}
}

// ErrWrongItem is the Reason of an [*InvalidError] from [PDFOf]: the
// file's text names another item of the job, so the server handed out
// another item's file. It wraps [ErrContentMismatch]: errors.Is(err,
// ErrContentMismatch) holds for it too.
var ErrWrongItem error = &wrapError{"download: file of another item", ErrContentMismatch}

// ErrUnlisted is the Reason of an [*InvalidError] from [PDFOf] while its
// IDs are [IDs.SetGrowing]: the file names its item, and also a word shaped
// like an ID that the set does not have yet — maybe an item listed later,
// whose file this is. Whose file it is can be told once the set is
// complete: see [IDs.Await].
var ErrUnlisted = errors.New("download: the file names what may be an item not listed yet")

type wrapError struct {
	msg string
	err error
}

func (e *wrapError) Error() string { return e.msg }
func (e *wrapError) Unwrap() error { return e.err }

// PDFContains returns a Validator that extracts the PDF's text and
// requires it to contain want, ignoring case and white space (text runs
// may be split anywhere). It is what proves a file belongs to its item:
// pass the item's own ID, such as a VIN — or use [PDFOf], which also
// rejects a file that names another item. It applies the checks of [PDF]
// first; a file it cannot read is [ErrNotPDF], and so is one too complex
// to check within bounded time and memory (say, a page tree that contains
// itself, or a billion pages); a missing text is [ErrContentMismatch].
func PDFContains(want string) Validator {
	norm := normalizeID(want)
	structure := PDF()
	return func(r io.ReaderAt, size int64) error {
		if err := structure(r, size); err != nil {
			return err
		}
		text, err := pdfText(r, size)
		if err != nil {
			return err
		}
		if !strings.Contains(normalizeID(text), norm) {
			return &InvalidError{Reason: ErrContentMismatch, Detail: fmt.Sprintf("text does not contain %q; it starts %q", want, textStart(text))}
		}
		return nil
	}
}

// PDFOf returns a Validator that proves a PDF is the file of the item id,
// and of no other item of the job: its text must contain id and no other
// ID of known, ignoring case and white space. A file without id is
// [ErrContentMismatch]; one that names another ID of known is
// [ErrWrongItem], with a Detail naming the IDs found: the evidence of a
// server (or of a session shared by parallel downloads) that mixed up
// items. It catches the file of another item that merely mentions id, say
// in a footer "replaces the sticker of VIN …".
//
// An ID found only inside a longer ID of known, or inside id, does not
// count: in "ABC12", "ABC1" is not named. IDs should be distinctive, as
// VINs are: text runs are joined without white space, so a short ID may
// also turn up across the boundary of two words.
//
// known may grow while the validator is in use; nil is an empty set. While
// it is [IDs.SetGrowing], a file that names id and a word shaped like an ID
// not in known is [ErrUnlisted]: it may be the file of an item listed
// later (see [IDs.Await]). The text is extracted once per call, as by
// [PDFContains], whose other errors PDFOf shares. An empty id is rejected:
// it would prove nothing.
func PDFOf(id string, known *IDs) Validator {
	norm := normalizeID(id)
	if known == nil {
		known = new(IDs)
	}
	structure := PDF()
	return func(r io.ReaderAt, size int64) error {
		if norm == "" {
			return &InvalidError{Reason: ErrContentMismatch, Detail: "no ID to look for"}
		}
		if err := structure(r, size); err != nil {
			return err
		}
		text, err := pdfText(r, size)
		if err != nil {
			return err
		}
		named, others, unlisted := known.scan(text, norm)
		switch {
		case len(others) > 0 && named:
			return &InvalidError{Reason: ErrWrongItem, Detail: fmt.Sprintf("text contains %q but also %s", id, idList(others)), Others: others}
		case len(others) > 0:
			return &InvalidError{Reason: ErrWrongItem, Detail: fmt.Sprintf("text does not contain %q but %s", id, idList(others)), Others: others}
		case !named:
			return &InvalidError{Reason: ErrContentMismatch, Detail: fmt.Sprintf("text does not contain %q; it starts %q", id, textStart(text))}
		}
		if unlisted != "" {
			return &InvalidError{Reason: ErrUnlisted, Detail: fmt.Sprintf("text contains %q and %q, which is not listed (yet)", id, unlisted)}
		}
		return nil
	}
}

// idList names the other items' IDs found, the first few of them.
func idList(ids []string) string {
	const most = 5
	var b strings.Builder
	if len(ids) == 1 {
		b.WriteString("the ID of another item: ")
	} else {
		b.WriteString("the IDs of other items: ")
	}
	for i, id := range ids[:min(len(ids), most)] {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(id)
	}
	if len(ids) > most {
		fmt.Fprintf(&b, " and %d more", len(ids)-most)
	}
	return b.String()
}

// normalizeID returns s upper-case, without white space, control or
// format characters (soft hyphens, zero-width spaces): how IDs and texts
// are compared, as a PDF's text runs may be split anywhere.
func normalizeID(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf:
			if r <= ' ' || r == 0x7f {
				continue
			}
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
			b.WriteByte(byte(r))
			continue
		case unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			continue
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// textStart is the start of a text for a message, its white space folded.
func textStart(text string) string {
	n := min(len(text), 1024)
	for n < len(text) && !utf8.RuneStart(text[n]) {
		n--
	}
	return clip(strings.Join(strings.Fields(text[:n]), " "), 80)
}

func readAt(r io.ReaderAt, off, n int64) []byte {
	b := make([]byte, n)
	k, _ := r.ReadAt(b, off)
	return b[:k]
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

var htmlStart = regexp.MustCompile(`(?i)^\x{FEFF}?\s*(<!doctype\s+html|<html|<head|<body|<title|<!--|<\?xml[^>]*>\s*<(!doctype\s+)?html)`)

func isHTML(head []byte) bool { return htmlStart.Match(head) }

var (
	titleRE    = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
	passwordRE = regexp.MustCompile(`(?i)<input[^>]+type\s*=\s*["']?password`)
)

// describeHTML names an HTML page by its title, and says whether it holds
// a login form — the usual reason a PDF link serves HTML.
func describeHTML(b []byte) string {
	d := "untitled page"
	if m := titleRE.FindSubmatch(b); m != nil {
		d = fmt.Sprintf("page %q", clip(strings.Join(strings.Fields(string(m[1])), " "), 80))
	}
	if isLoginForm(b) {
		d += " with a password field (a login page: the session was probably logged out)"
	}
	return d
}

// isLoginForm reports whether an HTML page holds a password field: served
// where a file should be, it is the login page.
func isLoginForm(b []byte) bool { return passwordRE.Match(b) }
