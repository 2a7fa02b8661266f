package session

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	playwright "github.com/mxschmitt/playwright-go"
)

// Evidence is what a page showed when something went wrong, for a person
// to see why: taken by [Session.Evidence].
type Evidence struct {
	URL        string    `json:"url"`
	Status     int       `json:"status,omitempty"` // of the main document, from the last Goto; 0 if unknown
	Title      string    `json:"title"`
	Taken      time.Time `json:"taken"`
	HTML       string    `json:"-"` // the page's HTML, clipped to MaxEvidenceHTML
	Screenshot []byte    `json:"-"` // a JPEG of the viewport
	// Requests are the page's last requests, from the browser's own timing
	// records: the document's first.
	Requests []Request `json:"requests"`
	// Console are the errors the page logged or threw (console.error,
	// uncaught exceptions, unhandled rejections), the last ones.
	Console []string `json:"console"`
}

// Request is one request of a page, as [Evidence] records it.
type Request struct {
	URL     string  `json:"url"`
	Status  int     `json:"status,omitempty"` // 0: not reported (blocked, cross-origin, failed)
	Type    string  `json:"type"`             // navigation, script, img, fetch…
	Seconds float64 `json:"seconds"`
}

// Limits of what Evidence keeps.
const (
	MaxEvidenceHTML     = 2 << 20
	maxEvidenceRequests = 50
	maxConsoleErrors    = 50
)

// consoleJS keeps a page's last console errors where Evidence can read
// them: it runs in every page of the context before the page's scripts. It
// costs nothing until the page logs an error.
const consoleJS = `(() => {
	const errs = []; const keep = m => { errs.push(String(m).slice(0, 500)); if (errs.length > ` + "50" + `) errs.shift(); };
	Object.defineProperty(window, "__pagefleetErrors", {value: errs});
	const orig = console.error;
	console.error = function (...a) { keep(a.join(" ")); return orig.apply(this, a); };
	addEventListener("error", e => keep("uncaught: " + (e.message || e.type)));
	addEventListener("unhandledrejection", e => keep("unhandled rejection: " + (e.reason && e.reason.message || e.reason)));
})()`

const evidenceJS = `() => {
	const entries = performance.getEntriesByType("navigation").concat(performance.getEntriesByType("resource"));
	return {
		title: document.title,
		console: window.__pagefleetErrors || [],
		requests: entries.slice(-50).map(e => ({url: e.name, status: e.responseStatus || 0, type: e.initiatorType || e.entryType, seconds: e.duration / 1000})),
	};
}`

// Evidence takes a screenshot of page, its HTML, URL and status, its last
// requests and console errors, within ctx's deadline (at most
// Config.Timeout). A navigation still pending (a page that never answered)
// is stopped first, so that the evidence shows what the page shows. What
// it can't get (a dead browser) it leaves out; it fails only when it got
// nothing. Secrets in URLs are
// scrubbed ([ScrubString]).
func (s *Session) Evidence(ctx context.Context, page playwright.Page) (*Evidence, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	ev := &Evidence{URL: ScrubString(page.URL()), Taken: time.Now()}
	if st, _ := s.pageState(page); st != nil {
		s.mu.Lock()
		ev.Status = st.status
		s.mu.Unlock()
	}
	ms := Timeout(ctx, s.cfg.Timeout)
	var errs []error
	s.stopLoading(ctx, page)
	shot, err := await(ctx, &s.wg, func() ([]byte, error) {
		return page.Screenshot(playwright.PageScreenshotOptions{Type: playwright.ScreenshotTypeJpeg, Quality: playwright.Int(60), Timeout: ms})
	}, nil)
	ev.Screenshot, errs = shot, append(errs, err)
	html, err := await(ctx, &s.wg, func() (string, error) { return page.Content() }, nil)
	ev.HTML, errs = html[:min(len(html), MaxEvidenceHTML)], append(errs, err)
	v, err := await(ctx, &s.wg, func() (any, error) { return page.Evaluate(evidenceJS) }, nil)
	errs = append(errs, err)
	if m, ok := v.(map[string]any); ok {
		ev.Title, _ = m["title"].(string)
		for _, c := range asSlice(m["console"]) {
			if t, ok := c.(string); ok {
				ev.Console = append(ev.Console, t)
			}
		}
		for _, r := range asSlice(m["requests"]) {
			rm, _ := r.(map[string]any)
			u, _ := rm["url"].(string)
			typ, _ := rm["type"].(string)
			ev.Requests = append(ev.Requests, Request{URL: ScrubString(u), Status: toInt(rm["status"]), Type: typ, Seconds: toFloat(rm["seconds"])})
		}
	}
	if ev.Screenshot == nil && ev.HTML == "" && v == nil {
		return nil, fmt.Errorf("session: evidence of %s: %w", ev.URL, Scrub(errors.Join(errs...)))
	}
	return ev, nil
}

// stopLoading stops page's navigation if one is pending — one that hung
// blocks screenshots and scripts until it ends — so that the evidence
// shows what the page shows now. Chromium only (a CDP call); elsewhere
// the evidence of a hung page is what its timeout allows.
func (s *Session) stopLoading(ctx context.Context, page playwright.Page) {
	_, _ = await(ctx, &s.wg, func() (any, error) {
		cdp, err := page.Context().NewCDPSession(page)
		if err != nil {
			return nil, err
		}
		defer cdp.Detach()
		return cdp.Send("Page.stopLoading", nil)
	}, nil)
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

func toInt(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case float64:
		return int(n)
	}
	return 0
}

func toFloat(v any) float64 {
	switch n := v.(type) {
	case int:
		return float64(n)
	case float64:
		return n
	}
	return 0
}

// Trace runs fn on a page of a new browser context that has the session's
// cookies (so it is logged in) with Playwright tracing on, and saves the
// trace to path: a zip that `playwright show-trace` opens, with every
// action, network request, DOM snapshot and screenshot of fn's run. Tracing
// is per context and serial, so a trace costs a context of its own: for
// replaying a failure after a run, not for every attempt. If fn fails
// with [ErrLoggedOut] (the cookies had expired, and [Session.Goto] logged
// in again), it runs once more with the new cookies. The values of
// the context's cookies, extra headers and credentials are replaced by [Redacted] in
// the saved trace, so it can be handed on. fn's error is returned; the
// trace is saved either way.
func (s *Session) Trace(ctx context.Context, path string, fn func(ctx context.Context, page playwright.Page) error) error {
	b, err := s.live(ctx)
	if err != nil {
		return err
	}
	state, err := await(ctx, &s.wg, func() (*playwright.StorageState, error) { return b.ctx.StorageState() }, nil)
	if err != nil {
		return fmt.Errorf("session: trace: %w", Scrub(err))
	}
	opts := s.cfg.Context // a copy: NewContext clears fields of what it is given
	opts.AcceptDownloads = playwright.Bool(true)
	opts.StorageState = state.ToOptionalStorageState()
	tctx, err := b.b.NewContext(opts)
	if err != nil {
		return fmt.Errorf("session: trace: %w", Scrub(err))
	}
	defer tctx.Close()
	tctx.SetDefaultTimeout(float64(s.cfg.Timeout.Milliseconds()))
	if err := tctx.Tracing().Start(playwright.TracingStartOptions{Screenshots: playwright.Bool(true), Snapshots: playwright.Bool(true)}); err != nil {
		return fmt.Errorf("session: trace: %w", Scrub(err))
	}
	page, err := tctx.NewPage()
	if err == nil {
		defer context.AfterFunc(ctx, func() { _ = page.Close() })()
		err = fn(ctx, page)
		if errors.Is(err, ErrLoggedOut) && ctx.Err() == nil && s.refreshCookies(ctx, tctx) == nil {
			err = fn(ctx, page) // logged out meanwhile, and logged in again by Goto: once more, in the same trace
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	secrets := traceSecrets(state, opts)
	if now, cerr := tctx.Cookies(); cerr == nil { // those the site set during fn
		for _, c := range now {
			secrets = append(secrets, c.Value)
		}
	}
	raw := path + ".raw"
	defer os.Remove(raw)
	if serr := tctx.Tracing().Stop(raw); serr != nil {
		return errors.Join(err, fmt.Errorf("session: trace: %w", Scrub(serr)))
	}
	if serr := scrubZip(raw, path, secrets); serr != nil {
		return errors.Join(err, fmt.Errorf("session: trace: %w", serr))
	}
	return err
}

// refreshCookies gives the trace's context the session's cookies of now.
func (s *Session) refreshCookies(ctx context.Context, tctx playwright.BrowserContext) error {
	b, err := s.live(ctx)
	if err != nil {
		return err
	}
	state, err := await(ctx, &s.wg, func() (*playwright.StorageState, error) { return b.ctx.StorageState() }, nil)
	if err != nil {
		return err
	}
	return tctx.AddCookies(state.ToOptionalStorageState().Cookies)
}

// traceSecrets are the values a trace must not keep: the cookies, the
// extra headers, and HTTP and proxy credentials with the Authorization
// header made of them.
func traceSecrets(state *playwright.StorageState, opts playwright.BrowserNewContextOptions) []string {
	var out []string
	for _, c := range state.Cookies {
		out = append(out, c.Value)
	}
	for _, v := range opts.ExtraHttpHeaders {
		out = append(out, v)
	}
	if c := opts.HttpCredentials; c != nil {
		out = append(out, c.Password, base64.StdEncoding.EncodeToString([]byte(c.Username+":"+c.Password)))
	}
	if p := opts.Proxy; p != nil && p.Password != nil {
		out = append(out, *p.Password)
	}
	return out
}

// minSecret is the shortest value scrubZip replaces: shorter ones (a
// cookie "1") would match innocent bytes, and are no credentials.
const minSecret = 6

// scrubZip copies the zip src to dst with every secret replaced by
// [redacted] in every file — request headers in trace.network, the
// actions in trace.trace — so that a trace can be handed on.
func scrubZip(src, dst string, secrets []string) (err error) {
	var olds [][]byte
	for _, s := range secrets {
		if len(s) >= minSecret {
			olds = append(olds, []byte(s))
		}
	}
	zr, err := zip.OpenReader(src)
	if err != nil {
		return err
	}
	defer zr.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	zw := zip.NewWriter(out)
	for _, f := range zr.File {
		b, err := readZipFile(f)
		if err != nil {
			return err
		}
		for _, old := range olds {
			b = bytes.ReplaceAll(b, old, []byte(Redacted))
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: f.Method, Modified: f.Modified})
		if err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return zw.Close()
}

func readZipFile(f *zip.File) ([]byte, error) {
	r, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}
