package session

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	neturl "net/url"
	"strings"
	"sync"
	"time"

	"github.com/PuerkitoBio/goquery"
	playwright "github.com/mxschmitt/playwright-go"

	"github.com/pagefleet/pagefleet/pool"
)

// Requests without a page go out from this process, with the browser
// context's cookies, rather than through Playwright's APIRequestContext:
// the driver hands a body over whole (so a huge file is held in memory
// twice), takes no context (a hung request can't be cancelled), and dies
// with the driver. A Go request streams, stops when its ctx ends, and
// keeps working while a crashed browser is relaunched.

// cookieRefresh is how often the cookies of the browser context are read
// again within one login generation (a site may refresh them as pages are
// viewed).
const cookieRefresh = 30 * time.Second

// MaxPageSize bounds the body of a page read by [Session.Get].
const MaxPageSize = 16 << 20

// client is the HTTP client of one browser's login generation.
type client struct {
	b      *browser
	gen    uint64
	jar    http.CookieJar
	http   *http.Client
	mu     sync.Mutex
	seeded time.Time
}

// Response is an answer to [Session.Fetch]. The caller closes Body.
type Response struct {
	*http.Response
	// Generation is the login generation whose cookies the request
	// carried: pass it to [Session.Relogin] when the answer shows the
	// session logged out.
	Generation uint64
}

// Fetch sends a GET for url with the session's cookies, from this process
// (no page, no rendering, no driver round trip), following redirects. It
// streams: the caller reads and closes the Body. Ending ctx ends the
// request, also while the body is read. A crashed browser is relaunched
// (and logged in) first, as its cookies are the session. Any status comes
// back as a Response; only a request that got no answer is an error
// (scrubbed of secrets), or a refused re-login wrapped with [pool.Abort],
// or a login that is down (pool.Requeue of a [*LoginDownError]).
//
// It sends the browser's user agent and Config.Context's extra headers and
// HTTP credentials, and honours its proxy and IgnoreHttpsErrors. Cookies
// the answer sets stay with this process's requests; the browser's pages
// keep theirs.
func (s *Session) Fetch(ctx context.Context, url string) (*Response, error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	return s.get(ctx, c, url)
}

func (s *Session) get(ctx context.Context, c *client, url string) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("session: GET: %w", err)
	}
	for k, v := range s.cfg.Context.ExtraHttpHeaders {
		req.Header.Set(k, v)
	}
	if ua := s.userAgent(); ua != "" {
		req.Header.Set("User-Agent", ua)
	}
	if hc := s.cfg.Context.HttpCredentials; hc != nil {
		req.SetBasicAuth(hc.Username, hc.Password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("session: GET %s: %w", ScrubString(url), ctx.Err())
		}
		return nil, fmt.Errorf("session: GET %s: %w", ScrubString(url), Scrub(err))
	}
	return &Response{Response: resp, Generation: c.gen}, nil
}

// FetchWithin is [Session.Fetch] with a learned timeout (see [RTO]): the
// answer must begin within the timeout learned for kind, at most ceiling,
// and its body must keep coming — no pause that long — or the request
// fails with a [*TimeoutError]. The latency of its answer teaches kind's
// timeout. ctx still bounds the whole request.
func (s *Session) FetchWithin(ctx context.Context, kind, url string, ceiling time.Duration) (*Response, error) {
	c, err := s.client(ctx) // a relaunch and login, if the browser died: not the request's time
	if err != nil {
		return nil, err
	}
	rto := s.RTO(kind)
	wait := rto.Timeout(ceiling)
	ctx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(wait, func() { cancel(&TimeoutError{Kind: kind, After: wait}) })
	start, mark := time.Now(), s.loginMark()
	resp, err := s.get(ctx, c, url)
	if err != nil {
		timer.Stop()
		var te *TimeoutError
		if errors.As(context.Cause(ctx), &te) {
			err = s.timedOut(rto, mark, fmt.Errorf("session: GET %s: %w", ScrubString(url), te))
		}
		cancel(nil)
		return nil, err
	}
	rto.Observe(time.Since(start))
	timer.Reset(wait)
	resp.Body = &watchedBody{ReadCloser: resp.Body, ctx: ctx, cancel: cancel, timer: timer, wait: wait, kind: kind}
	return resp, nil
}

// watchedBody is a body that must keep coming: a pause of wait ends its
// request with a stalled [*TimeoutError].
type watchedBody struct {
	io.ReadCloser
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	wait   time.Duration
	kind   string
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.timer.Reset(b.wait)
	}
	var te *TimeoutError
	if err != nil && err != io.EOF && errors.As(context.Cause(b.ctx), &te) {
		err = &TimeoutError{Kind: b.kind, After: b.wait, Stalled: true}
	}
	return n, err
}

func (b *watchedBody) Close() error {
	b.timer.Stop()
	err := b.ReadCloser.Close()
	b.cancel(nil)
	return err
}

// client returns the HTTP client of the current browser and generation,
// relaunching a dead browser first.
func (s *Session) client(ctx context.Context) (*client, error) {
	b, err := s.live(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	c, gen := s.hc, s.gen
	if c == nil || c.b != b || c.gen != gen {
		jar, _ := cookiejar.New(nil) // no public-suffix list: one site's cookies
		c = &client{b: b, gen: gen, jar: jar, http: &http.Client{Jar: jar, Transport: s.transport()}}
		s.hc = c
	}
	s.mu.Unlock()
	if err := c.seed(ctx, s); err != nil {
		return nil, err
	}
	return c, nil
}

// seed copies the browser context's cookies into the jar, when they are
// older than cookieRefresh.
func (c *client) seed(ctx context.Context, s *Session) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.seeded) < cookieRefresh {
		return nil
	}
	cookies, err := await(ctx, &s.wg, func() ([]playwright.Cookie, error) { return c.b.ctx.Cookies() }, nil)
	if err != nil {
		if ctx.Err() == nil && !s.alive(c.b) {
			return pool.Requeue(fmt.Errorf("%w (%w)", ErrDisconnected, Scrub(err)))
		}
		return fmt.Errorf("session: cookies: %w", Scrub(err))
	}
	for _, k := range cookies {
		host := strings.TrimPrefix(k.Domain, ".")
		for _, scheme := range []string{"http", "https"} {
			if scheme == "http" && k.Secure {
				continue
			}
			hc := &http.Cookie{Name: k.Name, Value: k.Value, Path: k.Path, Secure: k.Secure, HttpOnly: k.HttpOnly}
			if strings.HasPrefix(k.Domain, ".") {
				hc.Domain = host
			}
			if k.Expires > 0 {
				hc.Expires = time.Unix(int64(k.Expires), 0)
			}
			c.jar.SetCookies(&neturl.URL{Scheme: scheme, Host: host, Path: cmp.Or(k.Path, "/")}, []*http.Cookie{hc})
		}
	}
	c.seeded = time.Now()
	return nil
}

// transport is the HTTP transport for Fetch: Go's defaults, with the
// context options that change where and how requests go.
func (s *Session) transport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64 // many workers, one site
	if s.cfg.Context.IgnoreHttpsErrors != nil && *s.cfg.Context.IgnoreHttpsErrors {
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} // the caller asked for it, as for the browser
	}
	if p := s.cfg.Context.Proxy; p != nil {
		if u, err := neturl.Parse(p.Server); err == nil {
			if p.Username != nil {
				u.User = neturl.UserPassword(*p.Username, deref(p.Password))
			}
			t.Proxy = http.ProxyURL(u)
		}
	}
	return t
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (s *Session) userAgent() string {
	if s.cfg.Context.UserAgent != nil {
		return *s.cfg.Context.UserAgent
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ua
}

// Document is an HTML page read by [Session.Get], parsed.
type Document struct {
	*goquery.Document
	URL    string // where the request ended, after redirects
	Status int
	Body   []byte
}

// Get reads the HTML page at url without rendering it (see
// [Session.Fetch]) and judges it as [Session.Goto] does: logged out (the
// request ended on Config.LoginURL) is a re-login and [ErrLoggedOut]
// wrapped with [pool.Requeue]; an HTTP status of 400 or more a
// [*StatusError]; Expect.ErrorPage an [*ErrorPageError]; Expect.Ready
// missing [ErrNotReady] (a page drawn by scripts needs Goto instead). A
// body over [MaxPageSize] is an error.
func (s *Session) Get(ctx context.Context, url string, exp Expect) (*Document, error) {
	ceiling, outer := cmp.Or(exp.Timeout, s.cfg.Timeout), ctx // a re-login is not bounded by the request's timeout
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, ceiling)
		defer cancel()
	}
	resp, err := s.FetchWithin(ctx, cmp.Or(exp.Kind, "document"), url, ceiling)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	final := resp.Request.URL.String()
	if s.cfg.LoginURL != "" && SamePage(final, s.cfg.LoginURL) && !SamePage(url, s.cfg.LoginURL) {
		if err := s.Relogin(outer, resp.Generation); err != nil {
			return nil, err
		}
		return nil, pool.Requeue(fmt.Errorf("%w (%s led to the login page)", ErrLoggedOut, ScrubString(url)))
	}
	if err := StatusErr(resp.StatusCode, url, resp.Header.Get("Retry-After")); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxPageSize+1))
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, fmt.Errorf("session: GET %s: %w", ScrubString(url), ctx.Err())
	case err != nil:
		return nil, fmt.Errorf("session: GET %s: %w", ScrubString(url), Scrub(err))
	case len(body) > MaxPageSize:
		return nil, fmt.Errorf("session: GET %s: page larger than %d bytes", ScrubString(url), MaxPageSize)
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("session: GET %s: %w", ScrubString(url), err)
	}
	doc.Url = resp.Request.URL
	if exp.ErrorPage != "" {
		if e := doc.Find(exp.ErrorPage).First(); e.Length() > 0 {
			return nil, &ErrorPageError{URL: url, Text: clip(strings.Join(strings.Fields(e.Text()), " "), 200)}
		}
	}
	if exp.Ready != "" && doc.Find(exp.Ready).Length() == 0 {
		return nil, fmt.Errorf("%w: no %s at %s", ErrNotReady, exp.Ready, ScrubString(url))
	}
	return &Document{Document: doc, URL: final, Status: resp.StatusCode, Body: body}, nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// IsLoginURL reports whether url is the site's login page
// (Config.LoginURL, any query). Without a LoginURL nothing is.
func (s *Session) IsLoginURL(url string) bool {
	return s.cfg.LoginURL != "" && SamePage(url, s.cfg.LoginURL)
}

// Evaluate is page.Evaluate(expression, arg) bounded by ctx and by within
// (0: Config.Timeout), the most the script may take: playwright's
// Evaluate has no timeout, so a page whose script never yields would hold
// the call — and its worker — for ever. A page that has not answered by
// then is closed and the error wraps [ErrUnresponsive]; ctx ending first
// closes it too.
func (s *Session) Evaluate(ctx context.Context, page playwright.Page, within time.Duration, expression string, arg any) (any, error) {
	v, err := s.evalOrClose(ctx, page, cmp.Or(within, s.cfg.Timeout), expression, arg)
	if err != nil {
		return nil, fmt.Errorf("session: evaluating a script in %s: %w", ScrubString(page.URL()), Scrub(err))
	}
	return v, nil
}

// Render opens url in page and judges it as [Session.Goto] does, and
// returns the page as its scripts drew it, parsed: [Session.Get] for a
// page that is built in the browser. A page that does not answer the read
// as soon as a navigation would is closed ([ErrUnresponsive]).
func (s *Session) Render(ctx context.Context, page playwright.Page, url string, exp Expect) (*Document, error) {
	resp, err := s.Goto(ctx, page, url, exp)
	if err != nil {
		return nil, err
	}
	// A script that never yields blocks this call until the page closes.
	html, err := callOrClose(ctx, s, page, s.answerWithin(exp), func() (string, error) { return page.Content() })
	if err != nil {
		return nil, fmt.Errorf("session: reading %s: %w", ScrubString(url), Scrub(err))
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(html))
	if err != nil {
		return nil, fmt.Errorf("session: parsing %s: %w", ScrubString(url), err)
	}
	doc.Url, _ = neturl.Parse(page.URL())
	d := &Document{Document: doc, URL: page.URL(), Body: []byte(html)}
	if resp != nil {
		d.Status = resp.Status()
	}
	return d, nil
}
