package download

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	playwright "github.com/mxschmitt/playwright-go"
)

// Trigger starts a download in page: it clicks a link or a button, submits
// a form, calls the site's JavaScript… Navigate to the item's page before
// calling [Click], not in the Trigger: Click takes any navigation of the
// page as the file itself (an inline PDF or an error page).
type Trigger func(ctx context.Context, page playwright.Page) error

// Selector returns a Trigger that clicks the first element matching the
// CSS selector sel, calling element.click() in the page's main frame, and
// waits up to the deadline for such an element to appear. It is the
// default way to click a download link: one round trip to the page, while
// a Playwright locator click ([MouseClick]) first resolves the locator and
// runs actionability checks (visible, stable, enabled, receives events) —
// several round trips that stall for a second or more when several pages
// are busy at once; a download link needs none of them. If ctx ends while
// the page does not answer, the page is closed.
func Selector(sel string) Trigger {
	return func(ctx context.Context, page playwright.Page) error {
		defer context.AfterFunc(ctx, func() { _ = page.Close() })() // Evaluate takes no timeout
		ms := *timeout(ctx, DefaultTimeout)
		ms -= min(ms/2, 5000) // the script gives up well before ctx ends, so the page stays open
		_, err := page.Evaluate(clickJS, []any{sel, ms})
		return err
	}
}

const clickJS = `async ([sel, ms]) => {
	for (const end = Date.now() + ms; ; await new Promise(r => setTimeout(r, 50))) {
		const el = document.querySelector(sel);
		if (el) return el.click();
		if (Date.now() > end) throw new Error("no element matches " + sel + " after " + ms + "ms");
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

// Click runs trigger in page and saves the file it brings, validated and
// atomically (see [Save]). The file may come as a download of page or of
// a popup it opens, or as an inline document that page or a popup
// navigates to (a PDF shown in a tab, fetched again with the page's
// cookies, since a viewer shows a wrapper, not the file); popups are
// closed afterwards. A navigation to an HTML page is reported at once as
// [ErrHTMLPage] — the site showed an error or login page instead of the
// file. Nothing arriving within dst.Timeout (or ctx's deadline) is
// [ErrNoDownload].
func Click(ctx context.Context, page playwright.Page, trigger Trigger, dst Target) (File, error) {
	dst, err := dst.check()
	if err != nil {
		return File{}, err
	}
	if err := ctx.Err(); err != nil {
		return File{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, dst.Timeout)
	defer cancel()
	w := &watch{ch: make(chan outcome, 16)}
	w.add(page, false)
	defer w.stop()
	if err := trigger(wctx, page); err != nil {
		return File{}, fmt.Errorf("download: trigger: %w", err)
	}
	for {
		select {
		case o := <-w.ch:
			switch {
			case o.err != nil:
				return File{}, o.err
			case o.dl != nil:
				return saveDownload(wctx, o.dl, dst)
			case o.popup != nil:
				w.follow(wctx, o.popup)
			default:
				return saveNavigation(wctx, page, o, dst)
			}
		case <-wctx.Done():
			if err := ctx.Err(); err != nil {
				return File{}, fmt.Errorf("download: waiting: %w", err)
			}
			return File{}, fmt.Errorf("%w within %v", ErrNoDownload, dst.Timeout)
		}
	}
}

func saveDownload(ctx context.Context, dl playwright.Download, dst Target) (File, error) {
	defer func() { _ = dl.Delete() }() // the driver's own copy
	f, err := createTemp(dst.Dir)
	if err != nil {
		_ = dl.Cancel()
		return File{}, fmt.Errorf("download: %w", err)
	}
	tmp := f.Name()
	_ = f.Close()
	stop := context.AfterFunc(ctx, func() { _ = dl.Cancel() }) // SaveAs takes no timeout; this ends it
	err = dl.SaveAs(tmp)
	stop()
	if err == nil {
		f, err = os.OpenFile(tmp, os.O_RDWR, 0)
	}
	if err != nil {
		_ = os.Remove(tmp)
		if ctx.Err() != nil {
			err = errors.Join(err, ctx.Err())
		}
		return File{}, fmt.Errorf("download: save %s: %w", dl.URL(), err)
	}
	return finish(f, dst)
}

// saveNavigation saves the document a navigation showed instead of a
// download.
func saveNavigation(ctx context.Context, page playwright.Page, o outcome, dst Target) (File, error) {
	if r := o.resp; r != nil {
		o.url = r.URL()
		// Let the navigation commit before returning: a page's next Goto
		// would otherwise be "interrupted by another navigation" to it.
		defer func() {
			_ = o.page.WaitForURL(func(u string) bool { return u == o.url },
				playwright.PageWaitForURLOptions{Timeout: timeout(ctx, 5*time.Second), WaitUntil: playwright.WaitUntilStateCommit})
		}()
		if strings.Contains(strings.ToLower(r.Headers()["content-type"]), "html") {
			body, _ := r.Body()
			return File{}, &InvalidError{ErrHTMLPage, fmt.Sprintf("%s, HTTP %d at %s", describeHTML(body), r.Status(), o.url)}
		}
		if r.Status() < 200 || r.Status() > 299 {
			return File{}, &StatusError{Code: r.Status(), URL: o.url}
		}
	}
	// What a viewer shows is not the file (chromium's PDF viewer wraps it
	// in a page of its own): fetch it again with the page's cookies.
	return fetch(ctx, page.Context().Request(), o.url, dst, true)
}

// Fetch GETs url with req — normally the session's APIRequestContext, which
// carries the browser context's cookies — and saves the body validated and
// atomically (see [Save]), without rendering anything. Redirects are
// followed, so a logged-out fetch typically fails validation with
// [ErrHTMLPage]; a non-2xx status is a [*StatusError]. Playwright hands over the
// body whole, so files are held in memory once; MaxSize is checked against
// Content-Length before that.
func Fetch(ctx context.Context, req playwright.APIRequestContext, url string, dst Target) (File, error) {
	dst, err := dst.check()
	if err != nil {
		return File{}, err
	}
	if err := ctx.Err(); err != nil {
		return File{}, err
	}
	return fetch(ctx, req, url, dst, false)
}

func fetch(ctx context.Context, req playwright.APIRequestContext, url string, dst Target, rejectHTML bool) (File, error) {
	resp, err := req.Get(url, playwright.APIRequestContextGetOptions{Timeout: timeout(ctx, dst.Timeout)})
	if err != nil {
		return File{}, fmt.Errorf("download: GET %s: %w", url, err)
	}
	defer func() { _ = resp.Dispose() }()
	if rejectHTML && strings.Contains(strings.ToLower(resp.Headers()["content-type"]), "html") {
		body, _ := resp.Body()
		return File{}, &InvalidError{ErrHTMLPage, fmt.Sprintf("%s, HTTP %d at %s", describeHTML(body), resp.Status(), url)}
	}
	if !resp.Ok() {
		return File{}, &StatusError{Code: resp.Status(), URL: url}
	}
	if n, err := strconv.ParseInt(resp.Headers()["content-length"], 10, 64); err == nil && n > dst.MaxSize {
		return File{}, &InvalidError{ErrTooLarge, fmt.Sprintf("Content-Length %d, limit %d", n, dst.MaxSize)}
	}
	body, err := resp.Body()
	if err != nil {
		return File{}, fmt.Errorf("download: GET %s: body: %w", url, err)
	}
	return Save(bytes.NewReader(body), dst)
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
