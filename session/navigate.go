package session

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	playwright "github.com/mxschmitt/playwright-go"

	"github.com/pagefleet/pagefleet/pool"
)

// More sentinel errors. Test with errors.Is.
var (
	// ErrStatus: the site answered with an HTTP status of 400 or more (or,
	// for a file, anything but 2xx). The error is a [*StatusError].
	ErrStatus = errors.New("session: HTTP status")
	// ErrErrorPage: the site showed its error page (Expect.ErrorPage)
	// instead of the content. The error is an [*ErrorPageError].
	ErrErrorPage = errors.New("session: the site showed an error page")
	// ErrNotReady: the page loaded but the element Expect.Ready names never
	// showed up.
	ErrNotReady = errors.New("session: page without the expected element")
)

// StatusError is an HTTP status that is not what a page or file should
// answer. errors.Is(err, ErrStatus) holds for it. Errors of this package and
// of package download wrap a 404 or 410 (the item is gone: retrying can't
// help) with backoff.Permanent, so a pool does not retry them, and a 429
// (the site asks to slow down: no fault of the item) with pool.Requeue, so
// it is retried uncharged after Wait.
type StatusError struct {
	Code int
	URL  string
	Wait time.Duration // what the site's Retry-After asked (for a 429, at least a second)
}

// RetryAfter is how long the site asked to wait: see pool.Requeue.
func (e *StatusError) RetryAfter() time.Duration { return e.Wait }

func (e *StatusError) Error() string {
	return fmt.Sprintf("HTTP %d %s at %s", e.Code, http.StatusText(e.Code), ScrubString(e.URL))
}

// Is makes a StatusError match [ErrStatus].
func (e *StatusError) Is(target error) bool { return target == ErrStatus }

// StatusErr returns the error for an HTTP status code at url, with the
// answer's Retry-After header (or ""): nil for 2xx and 3xx, else a
// [*StatusError] — wrapped with backoff.Permanent for 404 and 410, which
// retrying can't mend, and with pool.Requeue for 429, which waiting mends.
func StatusErr(code int, url, retryAfter string) error {
	if code < 400 {
		return nil
	}
	err := &StatusError{Code: code, URL: url, Wait: parseRetryAfter(retryAfter)}
	switch code {
	case http.StatusNotFound, http.StatusGone:
		return backoff.Permanent(err)
	case http.StatusTooManyRequests:
		err.Wait = max(err.Wait, time.Second)
		return pool.Requeue(err)
	}
	return err
}

// maxRetryAfter bounds what a site's Retry-After can make a task wait.
const maxRetryAfter = time.Minute

// parseRetryAfter reads a Retry-After header: seconds, or an HTTP date.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		return min(time.Duration(max(n, 0))*time.Second, maxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(t), 0), maxRetryAfter)
	}
	return 0
}

// ErrorPageError is the site's error page where content should be.
// errors.Is(err, ErrErrorPage) holds for it.
type ErrorPageError struct {
	URL  string
	Text string // what the error element says, clipped
}

func (e *ErrorPageError) Error() string {
	return fmt.Sprintf("the site showed an error page at %s: %q", ScrubString(e.URL), e.Text)
}

// Is makes an ErrorPageError match [ErrErrorPage].
func (e *ErrorPageError) Is(target error) bool { return target == ErrErrorPage }

// Expect says what a usable page looks like, for [Session.Goto] and
// [Session.Get]. The zero Expect accepts any page that is not an HTTP error
// and not the login page.
type Expect struct {
	// ErrorPage is a CSS selector for what the site shows on its error
	// page ("h1#error"): a page that has it fails with an
	// [*ErrorPageError] at once, however it was served. Defaults to "":
	// only HTTP statuses tell errors.
	ErrorPage string
	// Ready is a CSS selector for the element the caller needs (the
	// download button, the inventory table). Goto waits for it, or for
	// ErrorPage; a page that finished loading without either for Settle
	// fails with [ErrNotReady] at once instead of waiting out the deadline.
	// A page that stops answering meanwhile (a script on it that never
	// yields) is closed once it has not answered a 1 s poll for as long as
	// a navigation may take (at least Config.MinPageTimeout; the full
	// timeout with Config.FixedTimeouts), and fails with [ErrUnresponsive].
	// Defaults to "": no wait.
	Ready string
	// Settle is how long after the page's load event Ready may still take
	// to appear (drawn by a script). Defaults to 2 s.
	Settle time.Duration
	// WaitUntil is the navigation event Goto waits for. Defaults to
	// playwright.WaitUntilStateLoad.
	WaitUntil *playwright.WaitUntilState
	// Timeout bounds the navigation when ctx has no earlier deadline.
	// Defaults to Config.Timeout. The wait for the page is shorter once
	// its kind's timeout is learned (see Config.FixedTimeouts).
	Timeout time.Duration
	// Kind names the kind of page, for learned timeouts: pages of one kind
	// take alike (an inventory page, a vehicle page). Defaults to "page"
	// for Goto and Render, "document" for Get.
	Kind string
}

// Goto opens url in page, a page of this session, under ctx's deadline,
// and judges what came back:
//
//   - nil: the page is there, logged in, with Expect.Ready if set;
//   - logged out (Config.LoggedOut; by default the page is on
//     Config.LoginURL): the session logs in again — one login however many
//     pages notice — and Goto returns [ErrLoggedOut] wrapped with
//     [pool.Requeue], so the task runs again uncharged;
//   - the browser crashed or its driver died: [ErrDisconnected] wrapped
//     with pool.Requeue (the pool replaces the page; the next page comes
//     from a relaunched browser);
//   - an HTTP status of 400 or more: a [*StatusError] (permanent for 404
//     and 410, see [StatusErr]);
//   - the site's error page (Expect.ErrorPage): an [*ErrorPageError];
//   - Expect.Ready missing once the page settled: [ErrNotReady];
//   - a refused re-login: the failure wrapped with [pool.Abort];
//   - a re-login that failed for a reason that may pass (the login page
//     down): a [*LoginDownError] wrapped with pool.Requeue (see
//     [Session.Relogin]);
//   - anything else (a timeout, a network error) as is, scrubbed of
//     cookies and tokens ([Scrub]).
//
// The response is returned with a nil error only.
func (s *Session) Goto(ctx context.Context, page playwright.Page, url string, exp Expect) (playwright.Response, error) {
	st, seen := s.pageState(page)
	if st != nil && st.b.dead() {
		return nil, pool.Requeue(ErrDisconnected)
	}
	kind := cmp.Or(exp.Kind, "page")
	rto := s.RTO(kind)
	ceiling := cmp.Or(exp.Timeout, s.cfg.Timeout)
	opts := playwright.PageGotoOptions{Timeout: Timeout(ctx, max(rto.Timeout(ceiling), min(s.cfg.MinPageTimeout, ceiling)))}
	opts.WaitUntil = exp.WaitUntil
	start, mark := time.Now(), s.loginMark()
	resp, err := page.Goto(url, opts)
	if err != nil {
		timeout := errors.Is(err, playwright.ErrTimeout)
		err = s.browserErr(ctx, st, fmt.Errorf("session: open %s: %w", url, err))
		if timeout {
			err = s.timedOut(rto, mark, err)
		}
		return nil, err
	}
	rto.Observe(time.Since(start))
	if err := s.checkLoggedOut(ctx, page, st, seen); err != nil {
		return nil, err
	}
	if resp != nil {
		if st != nil {
			s.mu.Lock()
			st.status = resp.Status()
			s.mu.Unlock()
		}
		if err := StatusErr(resp.Status(), url, resp.Headers()["retry-after"]); err != nil {
			return nil, err
		}
	}
	if exp.ErrorPage != "" || exp.Ready != "" {
		if err := s.ready(ctx, page, st, url, exp); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// readyJS waits until the page shows the error element (→ its text), the
// ready element (→ ""), or has settled for settle ms without either (→
// null), for at most ms (→ false: ask again). Settled counts from the
// later of the page's load event and the start of the wait, waited ms
// before this call: a page loaded long ago (a fragment-only navigation,
// a tab reused) gets its full settle time too. Polled in the page.
const readyJS = `async ([errSel, readySel, settle, ms, waited]) => {
	const start = Date.now() - waited, end = Date.now() + ms;
	const loadedAt = () => {
		try {
			const nav = performance.getEntriesByType("navigation")[0];
			if (nav) return nav.loadEventEnd > 0 ? Date.now() - (performance.now() - nav.loadEventEnd) : 0;
		} catch (e) {} // a page that shadows performance: judge by readyState
		return document.readyState === "complete" ? start : 0;
	};
	for (let i = 0; ; i++) { // counted too: a page may shadow Date
		const e = errSel && document.querySelector(errSel);
		if (e) return (e.textContent || "").trim().slice(0, 200) || "(empty)";
		if (!readySel || document.querySelector(readySel)) return "";
		const loaded = loadedAt();
		if (loaded && Date.now() - Math.max(loaded, start) > settle) return null;
		if (Date.now() > end || i * 50 >= ms) return false;
		await new Promise(r => setTimeout(r, 50));
	}
}`

// readySlice is how long one call of readyJS waits in the page. The wait
// for the element is made of such calls, so that a page that stops
// answering — a script that never yields — is found out within a slice
// and the time a navigation may take (at least [Config].MinPageTimeout),
// however long the element may take.
const readySlice = time.Second

// ready waits for exp's error or ready element until ctx's deadline (or
// exp.Timeout) draws near.
func (s *Session) ready(ctx context.Context, page playwright.Page, st *pageState, url string, exp Expect) error {
	ms := *Timeout(ctx, cmp.Or(exp.Timeout, s.cfg.Timeout))
	ms -= min(ms/4, 2000) // answer before the deadline, so the page stays usable
	start := time.Now()
	end := start.Add(time.Duration(ms) * time.Millisecond)
	settle := cmp.Or(exp.Settle, 2*time.Second).Milliseconds()
	for {
		slice := min(time.Until(end), readySlice)
		if slice <= 0 {
			return fmt.Errorf("%w: no %s at %s", ErrNotReady, exp.Ready, ScrubString(url))
		}
		args := []any{exp.ErrorPage, exp.Ready, settle, slice.Milliseconds(), time.Since(start).Milliseconds()}
		v, err := s.evalOrClose(ctx, page, slice+s.answerWithin(exp), readyJS, args)
		switch text, isText := v.(string); {
		case errors.Is(err, ErrUnresponsive):
			return fmt.Errorf("session: reading %s: %w", ScrubString(url), err)
		case err != nil:
			return s.browserErr(ctx, st, fmt.Errorf("session: reading %s: %w", url, err))
		case v == false:
			continue
		case !isText:
			return fmt.Errorf("%w: no %s at %s", ErrNotReady, exp.Ready, ScrubString(url))
		case text != "":
			return &ErrorPageError{URL: url, Text: text}
		}
		return nil
	}
}

// answerWithin is how long a page may take to answer a script beyond the
// script's own wait before it is taken for hung: as long as a navigation
// of its kind may take (at least Config.MinPageTimeout), so that a page
// that is merely slow — a renderer starved of CPU — is not.
func (s *Session) answerWithin(exp Expect) time.Duration {
	ceiling := cmp.Or(exp.Timeout, s.cfg.Timeout)
	if s.cfg.FixedTimeouts {
		return ceiling
	}
	return max(s.RTO(cmp.Or(exp.Kind, "page")).Timeout(ceiling), min(s.cfg.MinPageTimeout, ceiling))
}

// evalOrClose is page.Evaluate(expression, arg), which takes no timeout:
// if the page has not answered within, it closes the page (which ends the
// call) and returns [ErrUnresponsive]; if ctx ends first, it closes the
// page too and returns ctx.Err().
func (s *Session) evalOrClose(ctx context.Context, page playwright.Page, within time.Duration, expression string, arg any) (any, error) {
	return callOrClose(ctx, s, page, within, func() (any, error) { return page.Evaluate(expression, arg) })
}

// callOrClose is fn, a call to page that takes no timeout, bounded by ctx
// and within: past either the page is closed, which ends the call.
func callOrClose[T any](ctx context.Context, s *Session, page playwright.Page, within time.Duration, fn func() (T, error)) (T, error) {
	wctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	v, err := await(wctx, &s.wg, fn, nil)
	if wctx.Err() == nil || !errors.Is(err, wctx.Err()) {
		return v, err
	}
	_ = s.closePage(page) // the worker's page goes; the pool replaces it
	if ctx.Err() != nil {
		return v, ctx.Err()
	}
	return v, fmt.Errorf("%w (no answer in %v; closed it)", ErrUnresponsive, within)
}

// pageState returns what the session knows of page and the login
// generation its requests carry.
func (s *Session) pageState(page playwright.Page) (*pageState, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, seen := s.pages[page], s.gen
	if st != nil {
		seen = st.gen
	}
	return st, seen
}

// checkLoggedOut is Check's verdict for a page that just navigated: nil,
// or a re-login and a requeue.
func (s *Session) checkLoggedOut(ctx context.Context, page playwright.Page, st *pageState, seen uint64) error {
	out, err := s.loggedOut(ctx, page)
	if err != nil {
		return s.browserErr(ctx, st, fmt.Errorf("session: check: %w", err))
	}
	if out {
		if s.cfg.Login == nil {
			return ErrLoggedOut
		}
		if err := s.Relogin(ctx, seen); err != nil {
			return err
		}
	}
	s.mu.Lock()
	if st != nil {
		st.gen = s.gen // the page's next requests carry at least this generation's cookies
	}
	s.mu.Unlock()
	if out {
		return pool.Requeue(ErrLoggedOut)
	}
	return nil
}

// browserErr judges a failed browser call: a dead browser or driver is a
// requeue (after a crash nothing is the task's fault), anything else the
// error, scrubbed. st may be nil (a call not on a page of ours).
func (s *Session) browserErr(ctx context.Context, st *pageState, err error) error {
	if ctx.Err() == nil {
		b := s.current()
		if st != nil {
			b = st.b
		}
		if b != nil && !s.alive(b) {
			return pool.Requeue(fmt.Errorf("%w (%w)", ErrDisconnected, Scrub(err)))
		}
	}
	return Scrub(err)
}

// alive reports whether b can still be talked to. A crashed browser is
// flagged by its disconnect event; a dead driver is not (every call just
// fails with ErrTargetClosed), so a failed call asks the context once.
func (s *Session) alive(b *browser) bool {
	if b.dead() {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := await(ctx, &s.wg, func() ([]playwright.Cookie, error) { return b.ctx.Cookies("http://probe.invalid/") }, nil)
	if errors.Is(err, playwright.ErrTargetClosed) {
		b.markDead()
		return false
	}
	return true // answered, or too slow to tell: not dead as far as we know
}

func (s *Session) current() *browser {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// Overload reports whether err says the site has more than it can take —
// HTTP 429 or 502–504, a timeout, an attempt the pool's watchdog rescued —
// for pool.Adaptive.Overload. A 500 or a logout happens at any load and
// says nothing about it.
func Overload(err error) bool {
	var st *StatusError
	switch {
	case errors.Is(err, ErrLoginFailed): // the login's trouble (its page down), not the pages' load
		return false
	case errors.As(err, &st):
		return st.Code == http.StatusTooManyRequests || st.Code >= 502 && st.Code <= 504
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, pool.ErrStuck), errors.Is(err, playwright.ErrTimeout):
		return true
	}
	return false
}

// Lost reports whether page's browser (or the driver behind it) is gone:
// for a task waiting on events that a dead driver will never send. It asks
// the driver when the browser is not known to be dead.
func (s *Session) Lost(page playwright.Page) bool {
	st, _ := s.pageState(page)
	if st == nil {
		return page.IsClosed()
	}
	return !s.alive(st.b)
}
