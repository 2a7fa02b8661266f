package download

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	playwright "github.com/mxschmitt/playwright-go"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/pool"
	"github.com/pagefleet/pagefleet/session"
)

// Class is a kind of failure: what reports group failures by, and what a
// person can do about it.
type Class struct {
	Name string // short and stable, e.g. "logged out", "HTTP 503"
	Hint string // what to do
}

// Classify names the kind of err by its sentinel errors and types — never
// by its text — for the failures of [Click], [Fetch], the session and the
// pool.
func Classify(err error) Class {
	var st *session.StatusError
	var pe *pool.PanicError
	switch {
	case err == nil:
		return Class{}
	case errors.Is(err, checkpoint.ErrPoison):
		return Class{"crashed the process", "the process died during every attempt at this item: see the log of those runs; a rerun with retried failures tries it again"}
	case errors.Is(err, checkpoint.ErrGivenUp):
		return Class{"attempts used up", "earlier runs used up the item's attempts (see their reports): a rerun with retried failures tries it again"}
	case errors.Is(err, ErrWrongItem):
		return Class{"another item's file", "the site mixed items up (it keeps a per-session current item that parallel pages change): retried, and parallel views are serialised when it repeats"}
	case errors.Is(err, ErrUnlisted):
		return Class{"may be an item not listed yet", "the file names what may be the ID of an item listed later, and the attempt ended before the listing did: a slow listing; rerun"}
	case errors.Is(err, ErrContentMismatch):
		return Class{"file without the item's ID", "the file is not this item's: check that the ID is printed in it"}
	case errors.Is(err, ErrTruncated):
		return Class{"truncated file", "the transfer was cut short (network): rerun"}
	case errors.Is(err, ErrLoginLoop):
		return Class{"login page for direct requests", "the site serves the file only from the item's page: open the page and click"}
	case errors.Is(err, ErrLoginPage), errors.Is(err, session.ErrLoggedOut):
		return Class{"logged out", "the session kept ending: check the credentials and the site's session lifetime"}
	case errors.Is(err, session.ErrBadCredentials):
		return Class{"credentials refused", "check the user name and password"}
	case errors.Is(err, session.ErrLoginFailed):
		return Class{"login failed", "logging in again failed (the error says why): check that the site's login page still works"}
	case errors.Is(err, ErrHTMLPage):
		return Class{"HTML page instead of the file", "the site answered with a page: see its title in the error"}
	case errors.Is(err, ErrNotPDF), errors.Is(err, ErrEmpty), errors.Is(err, ErrTooLarge):
		return Class{"not a valid file", "the site sent something else than the file (or one too large or too complex to check)"}
	case errors.Is(err, ErrNoDownload), errors.Is(err, ErrNoElement), errors.Is(err, session.ErrNotReady):
		return Class{"no download on the page", "the item's page has no download link or it brought nothing: check the selectors"}
	case errors.Is(err, session.ErrUnresponsive):
		return Class{"page hung", "a script on the item's page never yields: the page was closed and the item retried; if it repeats, the page is broken"}
	case errors.Is(err, session.ErrErrorPage):
		return Class{"site error page", "the site had trouble: rerun later"}
	case errors.As(err, &st) && (st.Code == http.StatusNotFound || st.Code == http.StatusGone):
		return Class{fmt.Sprintf("HTTP %d", st.Code), "the item is gone from the site"}
	case errors.As(err, &st) && (st.Code == http.StatusTooManyRequests || st.Code >= 500):
		return Class{fmt.Sprintf("HTTP %d", st.Code), "the site was overloaded or failing: rerun later, or with fewer workers"}
	case errors.As(err, &st):
		return Class{fmt.Sprintf("HTTP %d", st.Code), "the site refused the request"}
	case errors.Is(err, ErrDiskFull):
		return Class{"disk full", "free disk space, then rerun"}
	case errors.Is(err, pool.ErrStuck):
		return Class{"stuck", "an attempt hung past its timeout and was rescued: rerun later"}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, playwright.ErrTimeout):
		return Class{"timeout", "the site was too slow: rerun later, or raise the timeouts"}
	case errors.Is(err, session.ErrDisconnected):
		return Class{"browser crashed", "the browser went away and was relaunched: rerun"}
	case errors.As(err, &pe):
		return Class{"panic", "a bug: please report it with the log"}
	}
	return Class{"other", "see the error"}
}

// ClassName is Classify(err).Name: for checkpoint.TrackerOptions.Class,
// so that Failed records keep the kind of their failure.
func ClassName(err error) string { return Classify(err).Name }

// Normalisations of an error's message for its signature: what differs
// between items of one failure.
var (
	sigURL    = regexp.MustCompile(`[a-z][a-z0-9+.-]*://[^\s"'<>)]+`)
	sigQuoted = regexp.MustCompile(`"[^"\n]*"|'[^'\n]*'`)
	sigID     = regexp.MustCompile(`\b(?:[A-Za-z]+[0-9]|[0-9]+[A-Za-z])[A-Za-z0-9]*\b`)
	sigNumber = regexp.MustCompile(`[0-9]+(?:\.[0-9]+)?`)
)

// Signature returns what is the same for every failure like err: its
// class and the first line of its message with URLs, quoted values, IDs
// and numbers taken out. Reports group failures by it.
func Signature(err error) string {
	if err == nil {
		return ""
	}
	return signature(Classify(err).Name, err.Error())
}

func signature(class, msg string) string {
	msg, _, _ = strings.Cut(msg, "\n") // Playwright's call log follows
	msg = sigURL.ReplaceAllString(msg, "<url>")
	msg = sigQuoted.ReplaceAllString(msg, "<…>")
	msg = sigID.ReplaceAllString(msg, "<id>")
	msg = sigNumber.ReplaceAllString(msg, "<n>")
	return class + ": " + msg
}

// Failures groups failures by [Signature], for a report: feed it the
// Results of a pool, or the Failed records of a checkpoint. It is safe for
// concurrent use; the zero value is ready.
type Failures struct {
	mu     sync.Mutex
	groups map[string]*FailureGroup
}

// FailureGroup is the failures of one signature.
type FailureGroup struct {
	Signature string    `json:"signature"`
	Class     string    `json:"class"`
	Hint      string    `json:"hint"`
	Example   string    `json:"example"` // one full message
	Count     int       `json:"count"`
	First     time.Time `json:"first"`
	Last      time.Time `json:"last"`
	Keys      []string  `json:"keys"` // the first few items
}

// maxKeys is how many example items a group keeps.
const maxKeys = 5

// Add counts the failure of key with err at time at. A nil err is no
// failure: nothing is counted.
func (f *Failures) Add(key string, err error, at time.Time) {
	if err == nil {
		return
	}
	c := Classify(err)
	f.add(key, c, session.ScrubString(err.Error()), at)
}

// AddRecord counts a Failed record of a checkpoint: its class is the
// record's Meta["class"] (see [Tracked], which stores it), its message the
// record's Err.
func (f *Failures) AddRecord(r checkpoint.Record) {
	c := Class{Name: cmp.Or(r.Meta["class"], "other")}
	c.Hint = hints[c.Name]
	f.add(r.Key, c, r.Err, r.Updated)
}

func (f *Failures) add(key string, c Class, msg string, at time.Time) {
	sig := signature(c.Name, msg)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.groups == nil {
		f.groups = map[string]*FailureGroup{}
	}
	g := f.groups[sig]
	if g == nil {
		g = &FailureGroup{Signature: sig, Class: c.Name, Hint: c.Hint, Example: msg, First: at, Last: at}
		f.groups[sig] = g
	}
	g.Count++
	if at.Before(g.First) {
		g.First = at
	}
	if at.After(g.Last) {
		g.Last = at
	}
	if len(g.Keys) < maxKeys {
		g.Keys = append(g.Keys, key)
	}
}

// Groups returns the groups, the largest first.
func (f *Failures) Groups() []FailureGroup {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]FailureGroup, 0, len(f.groups))
	for _, g := range f.groups {
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b FailureGroup) int { return cmp.Or(b.Count-a.Count, strings.Compare(a.Signature, b.Signature)) })
	return out
}

// Total returns the number of failures added.
func (f *Failures) Total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, g := range f.groups {
		n += g.Count
	}
	return n
}

// hints are the classes' hints by name, for records that only keep it.
var hints = func() map[string]string {
	m := map[string]string{}
	for _, err := range []error{checkpoint.ErrPoison, ErrWrongItem, ErrUnlisted, ErrContentMismatch, ErrTruncated, ErrLoginLoop, ErrLoginPage,
		session.ErrBadCredentials, session.ErrLoginFailed, ErrHTMLPage, ErrNotPDF, ErrNoDownload, session.ErrErrorPage, ErrDiskFull, pool.ErrStuck,
		context.DeadlineExceeded, session.ErrDisconnected, &pool.PanicError{}, errors.New("")} {
		c := Classify(err)
		m[c.Name] = c.Hint
	}
	for _, code := range []int{404, 410, 429, 500, 502, 503, 504, 403} {
		c := Classify(&session.StatusError{Code: code})
		m[c.Name] = c.Hint
	}
	return m
}()
