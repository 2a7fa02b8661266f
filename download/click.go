package download

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	playwright "github.com/mxschmitt/playwright-go"

	"github.com/pagefleet/pagefleet/pool"
	"github.com/pagefleet/pagefleet/session"
)

// Trigger starts a download in page: it clicks a link or a button, submits
// a form, calls the site's JavaScript… Navigate to the item's page before
// calling [Click], not in the Trigger: Click takes any navigation of the
// page as the file itself (an inline PDF or an error page).
type Trigger func(ctx context.Context, page playwright.Page) error

// Selector returns a Trigger that clicks the first element matching the
// CSS selector sel, calling element.click() in the page's main frame. An
// element a script adds late is waited for; but once the page has been
// loaded for two seconds without one, it fails at once with [ErrNoElement]
// rather than wait out the deadline. It is the default way to click a
// download link: one round trip to the page, while a Playwright locator
// click ([MouseClick]) first resolves the locator and runs actionability
// checks (visible, stable, enabled, receives events) — several round trips
// that stall for a second or more when several pages are busy at once; a
// download link needs none of them. If ctx ends while the page does not
// answer, the page is closed.
func Selector(sel string) Trigger {
	return func(ctx context.Context, page playwright.Page) error {
		defer context.AfterFunc(ctx, func() { _ = page.Close() })() // Evaluate takes no timeout
		ms := *timeout(ctx, DefaultTimeout)
		ms -= min(ms/2, 5000) // the script gives up well before ctx ends, so the page stays open
		found, err := page.Evaluate(clickJS, []any{sel, ms, settleMS})
		switch {
		case err != nil:
			return session.Scrub(err)
		case found != true:
			return fmt.Errorf("%w: no element matches %s on %s", ErrNoElement, sel, session.ScrubString(page.URL()))
		}
		return nil
	}
}

// settleMS is how long after its load event a page may still add the
// element to click.
const settleMS = 2000

const clickJS = `async ([sel, ms, settle]) => {
	let loaded = 0;
	for (const end = Date.now() + ms; ; await new Promise(r => setTimeout(r, 50))) {
		const el = document.querySelector(sel);
		if (el) { el.click(); return true; }
		const now = Date.now();
		if (document.readyState === "complete") loaded = loaded || now;
		if ((loaded && now - loaded > settle) || now > end) return false;
	}
}`

// MouseClick returns a Trigger that clicks the first element matching sel
// as a user would, with Playwright's actionability checks and real mouse
// events — for sites whose button only reacts to those.
func MouseClick(sel string) Trigger {
	return func(ctx context.Context, page playwright.Page) error {
		return page.Locator(sel).First().Click(playwright.LocatorClickOptions{Timeout: timeout(ctx, DefaultTimeout)})
	}
}

// Click runs trigger in page, a page of session s, and saves the file it
// brings, validated and atomically (see [Save]). The file may come as a
// download of page or of a popup it opens, or as an inline document that
// page or a popup navigates to (a PDF shown in a tab, fetched again with
// the session's cookies, since a viewer shows a wrapper, not the file);
// popups are closed afterwards. Nothing arriving within dst.Timeout (or
// ctx's deadline) is [ErrNoDownload].
//
// What the site sends instead of the file is judged as [Fetch] judges it:
// its login page means a logout — one re-login for all pages, then
// [ErrLoginPage] wrapped with session.ErrLoggedOut and pool.Requeue, so the
// task runs again uncharged; an error status is a *session.StatusError;
// another HTML page [ErrHTMLPage], at once. A full disk is [ErrDiskFull]
// wrapped with pool.Abort. Errors never quote cookies or tokens.
func Click(ctx context.Context, s *session.Session, page playwright.Page, trigger Trigger, dst Target) (File, error) {
	dst, err := dst.check()
	if err != nil {
		return File{}, err
	}
	if err := ctx.Err(); err != nil {
		return File{}, err
	}
	gen := s.Generation()
	wctx, cancel := context.WithTimeout(ctx, dst.Timeout)
	defer cancel()
	f, err := click(wctx, s, page, trigger, dst)
	var stalled *session.TimeoutError
	if err != nil && wctx.Err() != nil && ctx.Err() == nil && !errors.Is(err, ErrNoDownload) && !errors.As(err, &stalled) {
		err = fmt.Errorf("%w within %v: %w", ErrNoDownload, dst.Timeout, err)
	}
	return f, settle(ctx, s, gen, err)
}

func click(ctx context.Context, s *session.Session, page playwright.Page, trigger Trigger, dst Target) (File, error) {
	w := &watch{ch: make(chan outcome, 16)}
	w.add(page, false)
	defer w.stop()
	if err := trigger(ctx, page); err != nil {
		return File{}, fmt.Errorf("download: trigger: %w", err)
	}
	rto := s.RTO("file")
	wait, start := rto.Timeout(dst.Timeout), time.Now()
	alive := time.NewTicker(2 * time.Second) // a dead driver sends no event, not even a close
	defer alive.Stop()
	answer := time.NewTimer(wait) // nothing came within the learned timeout: a hung request
	defer answer.Stop()
	for {
		select {
		case <-alive.C:
			if s.Lost(page) {
				return File{}, pool.Requeue(fmt.Errorf("download: waiting: %w", session.ErrDisconnected))
			}
		case <-answer.C:
			rto.Expired()
			return File{}, fmt.Errorf("download: waiting: %w", &session.TimeoutError{Kind: "file", After: wait})
		case o := <-w.ch:
			if answer.Stop() {
				rto.Observe(time.Since(start))
			}
			switch {
			case o.err != nil:
				return File{}, o.err
			case o.dl != nil:
				return saveDownload(ctx, o.dl, dst)
			case o.popup != nil:
				w.follow(ctx, o.popup)
			default:
				return saveNavigation(ctx, s, o, dst)
			}
		case <-ctx.Done():
			return File{}, fmt.Errorf("download: waiting: %w", ctx.Err())
		}
	}
}

// settle turns what a download brought into what a task should return: a
// login page is a re-login and an uncharged requeue, a full disk stops the
// pool.
func settle(ctx context.Context, s *session.Session, gen uint64, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrLoginPage) && !errors.Is(err, ErrLoginLoop):
		if rerr := s.Relogin(ctx, gen); rerr != nil {
			return rerr
		}
		return pool.Requeue(fmt.Errorf("%w: %w", session.ErrLoggedOut, err))
	case errors.Is(err, ErrDiskFull):
		return pool.Abort(err)
	}
	return session.Scrub(err)
}

func saveDownload(ctx context.Context, dl playwright.Download, dst Target) (File, error) {
	defer func() { _ = dl.Delete() }() // the driver's own copy
	f, err := createTemp(dst.Dir)
	if err != nil {
		_ = dl.Cancel()
		return File{}, fmt.Errorf("download: %w", diskErr(err))
	}
	// The driver writes into the file we hold open and locked (it copies
	// into the existing file): no other process takes it for abandoned.
	stop := context.AfterFunc(ctx, func() { _ = dl.Cancel() }) // SaveAs takes no timeout; this ends it
	err = dl.SaveAs(f.Name())
	stop()
	if err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		if ctx.Err() == context.DeadlineExceeded { // it began, then stopped coming
			err = errors.Join(err, &session.TimeoutError{Kind: "file", After: dst.Timeout, Stalled: true})
		} else if ctx.Err() != nil {
			err = errors.Join(err, ctx.Err())
		}
		return File{}, fmt.Errorf("download: save %s: %w", session.ScrubString(dl.URL()), diskErr(err))
	}
	return finish(f, dst)
}

// saveNavigation saves the document a navigation showed instead of a
// download.
func saveNavigation(ctx context.Context, s *session.Session, o outcome, dst Target) (File, error) {
	if r := o.resp; r != nil {
		o.url = r.URL()
		// Let the navigation commit before returning: a page's next Goto
		// would otherwise be "interrupted by another navigation" to it.
		defer func() {
			_ = o.page.WaitForURL(func(u string) bool { return u == o.url },
				playwright.PageWaitForURLOptions{Timeout: timeout(ctx, 5*time.Second), WaitUntil: playwright.WaitUntilStateCommit})
		}()
		if err := statusErr(r.Status(), o.url, r.Headers()["retry-after"]); err != nil && !s.IsLoginURL(o.url) {
			return File{}, err
		}
		if isHTMLType(r.Headers()["content-type"]) || s.IsLoginURL(o.url) {
			body, _ := r.Body()
			return File{}, htmlError(s, body, o.url, r.Status())
		}
	}
	// What a viewer shows is not the file (chromium's PDF viewer wraps it
	// in a page of its own): fetch it again with the session's cookies.
	f, err := fetch(ctx, s, o.url, dst)
	if errors.Is(err, ErrLoginPage) && o.resp != nil {
		// The page was just shown the document: the session is live, and
		// the site keeps it from requests without a page.
		err = fmt.Errorf("%w: %w", ErrLoginLoop, err)
	}
	return f, err
}

// Fetch GETs url with the cookies of session s (see session.Session.Fetch:
// no page, no rendering, many times faster than opening a page, where the
// site allows it) and saves the body, validated and atomically (see
// [Save]). The body streams to disk: a file over dst.MaxSize is cut off as
// it arrives, and ending ctx ends the transfer. Redirects are followed.
//
// What comes instead of the file: the site's login page (the request ended
// on session.Config.LoginURL, or HTML with a password field, or HTTP 401)
// means a logout — one re-login for all workers, then the request once
// more. The login page again right after a login is no logout: the site
// does not serve the file to requests without its page ([ErrLoginLoop],
// charged, [NeedsPage]). Another status of 400 or more is a
// *session.StatusError (permanent for 404 and 410); another HTML page
// [ErrHTMLPage] with its title. A full disk is [ErrDiskFull] wrapped with
// pool.Abort; a crashed browser is relaunched first. Errors never quote
// cookies or tokens.
func Fetch(ctx context.Context, s *session.Session, url string, dst Target) (File, error) {
	dst, err := dst.check()
	if err != nil {
		return File{}, err
	}
	if err := ctx.Err(); err != nil {
		return File{}, err
	}
	gen := s.Generation()
	f, err := fetchWithin(ctx, s, url, dst)
	if errors.Is(err, ErrLoginPage) {
		if n := s.LoginLoops(); n > 2 && n&(n-1) != 0 {
			// Logging in did not help the last n requests: try it again
			// only at the next power of two, not for every item.
			s.NoteLoginLoop(true)
			return File{}, fmt.Errorf("%w: %w", ErrLoginLoop, err)
		}
		// The re-login gets the task's time, not the file's leftover.
		if rerr := s.Relogin(ctx, gen); rerr != nil {
			return File{}, rerr
		}
		if ctx.Err() != nil { // the re-login took the attempt's time: again, uncharged
			return File{}, pool.Requeue(fmt.Errorf("%w: %w", session.ErrLoggedOut, err))
		}
		if f, err = fetchWithin(ctx, s, url, dst); errors.Is(err, ErrLoginPage) {
			s.NoteLoginLoop(true)
			err = fmt.Errorf("%w: %w", ErrLoginLoop, err)
		}
	}
	if err == nil {
		s.NoteLoginLoop(false)
	}
	return f, settle(ctx, s, gen, err)
}

func fetchWithin(ctx context.Context, s *session.Session, url string, dst Target) (File, error) {
	ctx, cancel := context.WithTimeout(ctx, dst.Timeout)
	defer cancel()
	return fetch(ctx, s, url, dst)
}

func fetch(ctx context.Context, s *session.Session, url string, dst Target) (File, error) {
	resp, err := s.FetchWithin(ctx, "file", url, dst.Timeout)
	if err != nil {
		return File{}, fmt.Errorf("download: %w", err)
	}
	defer resp.Body.Close()
	final := resp.Request.URL.String()
	if resp.StatusCode == http.StatusUnauthorized {
		return File{}, &InvalidError{Reason: ErrLoginPage, Detail: fmt.Sprintf("HTTP 401 at %s", session.ScrubString(url))}
	}
	if err := statusErr(resp.StatusCode, url, resp.Header.Get("Retry-After")); err != nil && !s.IsLoginURL(final) {
		return File{}, err
	}
	if isHTMLType(resp.Header.Get("Content-Type")) || s.IsLoginURL(final) {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return File{}, htmlError(s, body, final, resp.StatusCode)
	}
	if resp.ContentLength > dst.MaxSize {
		return File{}, &InvalidError{Reason: ErrTooLarge, Detail: fmt.Sprintf("Content-Length %d, limit %d", resp.ContentLength, dst.MaxSize)}
	}
	f, err := Save(resp.Body, dst)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return f, err
}

// statusErr is session.StatusErr for a file: anything but 2xx is wrong.
func statusErr(code int, url, retryAfter string) error {
	if code >= 300 && code < 400 {
		return &session.StatusError{Code: code, URL: url}
	}
	return session.StatusErr(code, url, retryAfter)
}

func isHTMLType(ct string) bool { return strings.Contains(strings.ToLower(ct), "html") }

// htmlError describes an HTML page that came instead of the file: the
// login page, or another one.
func htmlError(s *session.Session, body []byte, url string, status int) error {
	reason := ErrHTMLPage
	if s.IsLoginURL(url) || isLoginForm(body) {
		reason = ErrLoginPage
	}
	return &InvalidError{Reason: reason, Detail: fmt.Sprintf("%s, HTTP %d at %s", describeHTML(body), status, session.ScrubString(url))}
}

// outcome is the first thing a trigger brought.
type outcome struct {
	dl    playwright.Download
	resp  playwright.Response // a main-frame navigation that is no download…
	page  playwright.Page     // …in this page
	popup playwright.Page     // a new popup: follow it
	url   string              // where a followed popup went
	err   error
}

// watch listens to a page and the popups it opens. Its handlers run on the
// driver's dispatch goroutine, so they only send, never block.
type watch struct {
	ch      chan outcome
	mu      sync.Mutex
	undo    []func()
	popups  []playwright.Page
	stopped bool
	wg      sync.WaitGroup
}

// follow reports where popup navigates: its response event may go unseen,
// as the popup's subscription starts late.
func (w *watch) follow(ctx context.Context, popup playwright.Page) {
	w.wg.Go(func() {
		err := popup.WaitForURL(func(u string) bool { return u != "" && u != "about:blank" },
			playwright.PageWaitForURLOptions{Timeout: timeout(ctx, DefaultTimeout), WaitUntil: playwright.WaitUntilStateCommit})
		if err == nil {
			w.send(outcome{url: popup.URL()})
		}
	})
}

func (w *watch) send(o outcome) {
	select {
	case w.ch <- o:
	default: // the first outcomes decide; later ones are dropped
	}
}

func (w *watch) add(p playwright.Page, popup bool) {
	if popup {
		w.mu.Lock()
		stopped := w.stopped
		if !stopped {
			w.popups = append(w.popups, p)
		}
		w.mu.Unlock()
		if stopped { // a late popup: nobody will use it
			go func() { _ = p.Close() }()
			return
		}
	}
	onDownload := func(d playwright.Download) { w.send(outcome{dl: d}) }
	onResponse := func(r playwright.Response) {
		if r.Frame() != p.MainFrame() || !r.Request().IsNavigationRequest() ||
			(r.Status() >= 300 && r.Status() < 400) ||
			strings.Contains(strings.ToLower(r.Headers()["content-disposition"]), "attachment") { // a download event follows
			return
		}
		w.send(outcome{resp: r, page: p})
	}
	onPopup := func(np playwright.Page) {
		w.add(np, true)
		w.send(outcome{popup: np})
	}
	onClose := func(playwright.Page) {
		if !popup {
			w.send(outcome{err: fmt.Errorf("%w: the page closed", ErrNoDownload)})
		}
	}
	onCrash := func(playwright.Page) { w.send(outcome{err: fmt.Errorf("%w: the page crashed", ErrNoDownload)}) }
	p.OnDownload(onDownload)
	p.OnResponse(onResponse)
	p.OnPopup(onPopup)
	p.OnClose(onClose)
	p.OnCrash(onCrash)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.undo = append(w.undo, func() {
		p.RemoveListener("download", onDownload)
		p.RemoveListener("response", onResponse)
		p.RemoveListener("popup", onPopup)
		p.RemoveListener("close", onClose)
		p.RemoveListener("crash", onCrash)
	})
}

func (w *watch) stop() {
	w.mu.Lock()
	w.stopped = true
	undo, popups := w.undo, w.popups
	w.mu.Unlock() // handlers take w.mu: never hold it across a driver call
	for _, f := range undo {
		f()
	}
	for _, p := range popups {
		_ = p.Close()
	}
	w.wg.Wait() // followers end when their popup closes
}

// timeout converts what remains of ctx's deadline, capped at def, into a
// Playwright timeout in milliseconds (never 0, which means none).
func timeout(ctx context.Context, def time.Duration) *float64 {
	d := def
	if dl, ok := ctx.Deadline(); ok {
		if r := time.Until(dl); d <= 0 || r < d {
			d = max(r, time.Millisecond)
		}
	}
	return playwright.Float(float64(d.Milliseconds()))
}
