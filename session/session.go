package session

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	playwright "github.com/mxschmitt/playwright-go"
	"golang.org/x/sync/singleflight"

	"github.com/pagefleet/pagefleet/pool"
)

// Sentinel errors. Test with errors.Is.
var (
	// ErrBadCredentials is what a [LoginFunc] returns (wrapped) when the site
	// says the credentials are wrong. At the first login it is permanent:
	// Open fails at once, without trying again. At a re-login — the same
	// credentials worked in this process — it is more likely a race (a form
	// whose token expired while other pages reset it) and is retried on a
	// fresh page with backoff; only when every try is refused is it final,
	// and then the session attempts no further logins.
	ErrBadCredentials = errors.New("session: bad credentials")
	// ErrLoginRefused is what a [LoginFunc] returns (wrapped) when the site
	// refused a login for another reason than wrong credentials (an expired
	// form, too many sessions): it is retried with backoff.
	ErrLoginRefused = errors.New("session: login refused")
	// ErrLoginFailed wraps every failed login (Open, re-login, relaunch).
	ErrLoginFailed = errors.New("session: login failed")
	// ErrLoggedOut is the cause [Session.Check] reports after it found the
	// page logged out and logged in again.
	ErrLoggedOut = errors.New("session: logged out")
	// ErrUnresponsive is a page that stopped answering the browser's
	// calls — a script on it that never yields — and was closed. It is the
	// page's fault, not the site's load: [Overload] says no.
	ErrUnresponsive = errors.New("session: the page does not answer (a script on it never yields)")

	// ErrDisconnected is reported for pages of a browser that crashed or
	// disconnected; the next [Session.NewPage] relaunches it.
	ErrDisconnected = errors.New("session: browser disconnected")
	// ErrClosed is returned by calls on a closed Session.
	ErrClosed = errors.New("session: closed")
	// ErrNotInstalled is returned when the driver, Node.js or the browser
	// cannot be found; its message says what to run.
	ErrNotInstalled = errors.New("session: browser or driver not installed")
)

// LoginFunc logs the browser context in, using page (a fresh page that the
// session closes afterwards). It should return once ctx is done; the page is
// closed then, which unblocks a pending browser call. Return an error
// wrapping [ErrBadCredentials] (or any error wrapped with backoff.Permanent)
// when retrying cannot help; other errors are retried.
type LoginFunc func(ctx context.Context, page playwright.Page) error

// DefaultBlockTypes are the resource types [Config].Block aborts unless
// BlockTypes says otherwise.
var DefaultBlockTypes = []string{"image", "stylesheet", "font", "media"}

// DefaultArgs are the chromium flags every launch gets, before [Config].Args:
// no background traffic, no first-run work, no QUIC (so test servers and
// proxies see plain TCP), no sandbox (chromium refuses to start as root
// with one), and fewer processes: the GPU thread and the network service
// inside the browser process (about 35 MB less at 7 workers). Each page
// keeps a renderer of its own, although one per site (--process-per-site)
// saves about 30 MB a page (the demo portal's vehicle pages at 7 workers):
// a page whose script never yields then freezes every page of the site
// until the browser is relaunched — closing it does not help. The --enable-features
// list repeats Playwright's own (CDPScreenshotNewSurface), which a second
// such flag replaces. Change DefaultArgs before Open to drop a flag.
var DefaultArgs = []string{
	"--no-sandbox",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
	"--no-first-run",
	"--disable-quic",
	"--disable-gpu",
	"--in-process-gpu",
	"--enable-features=CDPScreenshotNewSurface,NetworkServiceInProcess2",
}

// Config configures a [Session]. The zero Config launches a headless
// chromium found by [Locate], with no login and no resource blocking.
type Config struct {
	// Login logs the context in. It runs in Open, on re-login and after a
	// browser relaunch. Defaults to nil: no login.
	Login LoginFunc
	// LoginAttempts is how often a failing login is tried before giving up;
	// permanent failures are not retried. A re-login gets at least 5 tries
	// (see [ErrBadCredentials]). Defaults to 8: with the default backoff
	// that is about half a minute, so a site refusing logins for a moment
	// at the start of an unattended run does not end it.
	LoginAttempts int
	// NewBackOff makes the pause policy between login attempts. Defaults to
	// exponential backoff from 500ms up to 10s, with jitter.
	NewBackOff func() backoff.BackOff
	// LoginOutage is how long re-logins may keep failing for reasons that
	// may pass — the login page down or timing out, not refused
	// credentials — before the session gives up for good ([pool.Abort]).
	// Meanwhile the tasks that meet the logout are requeued uncharged
	// ([LoginDownError]), so a site's maintenance window in the night
	// costs time, not vehicles. Defaults to 30 minutes.
	LoginOutage time.Duration
	// LoginURL is where the site sends logged-out visitors; the default
	// LoggedOut reports a page on it (same host and path) as logged out.
	// Defaults to "": pages are never seen as logged out.
	LoginURL string
	// LoggedOut reports whether page shows that the session was logged out.
	// Defaults to comparing the page's URL with LoginURL.
	LoggedOut func(ctx context.Context, page playwright.Page) (bool, error)
	// StorageState is a file for the context's cookies and local storage.
	// If it exists, Open starts from it and skips the login; it is written
	// (mode 0600) after every login and by Close. Defaults to "": none.
	StorageState string
	// HomeURL is a page only logged-in users see. When set, Open visits it
	// to check a reused StorageState and logs in if LoggedOut says so.
	// Defaults to "": a stale state is found by the first [Session.Check].
	HomeURL string

	// Block turns on resource blocking: every page of the context aborts
	// requests of BlockTypes and to URLs matching BlockURLs. Defaults to false.
	// A launched browser blocking images does not even request them
	// (--blink-settings=imagesEnabled=false): each aborted request is a
	// round trip through the driver and this process, and images are most
	// of a page's requests.
	Block bool
	// BlockTypes are Playwright resource types to abort. Defaults to
	// DefaultBlockTypes (nil); an empty non-nil slice blocks no type.
	BlockTypes []string
	// BlockURLs are URL glob patterns to abort, e.g. "**/analytics/**".
	// Defaults to none.
	BlockURLs []string

	// Endpoint is the ws:// endpoint of a Playwright browser server to
	// connect to instead of launching chromium. Defaults to "": launch.
	Endpoint string
	// Headed shows the browser window. Defaults to false: headless.
	Headed bool
	// Args are extra chromium flags, after DefaultArgs. Defaults to none.
	// Note that a --disable-features (or --enable-features) flag replaces
	// the list Playwright passes rather than adding to it; so does a
	// --blink-settings flag, and the imagesEnabled=false of Block with it.
	Args []string
	// Context holds browser context options (user agent, viewport, …);
	// AcceptDownloads is always turned on. Defaults to Playwright's defaults.
	Context playwright.BrowserNewContextOptions
	// Install says where the driver and chromium are; empty fields are found
	// by [Locate]. Defaults to Locate's answer.
	Install Install
	// Timeout bounds browser calls when the caller's context has no earlier
	// deadline: launch, login steps, page defaults, closing. Defaults to 30s.
	Timeout time.Duration
	// FixedTimeouts turns learned timeouts off: every navigation, page
	// read and download then waits its full timeout, and a page is taken
	// for hung ([ErrUnresponsive]) only when it has not answered a call
	// within that timeout. By default the wait for an answer is learned
	// from the site's latency per kind of request (see [RTO] and
	// [Session.RTO]), so that on a site that answers in 50 ms a hung
	// request costs seconds, not a minute.
	FixedTimeouts bool
	// MinTimeout is the least a learned timeout can be. Defaults to
	// [DefaultMinTimeout].
	MinTimeout time.Duration
	// MinPageTimeout is the least a learned navigation timeout can be, and
	// the least time a page may take to answer a call (beyond the call's
	// own wait) before it is taken for hung ([ErrUnresponsive]): as long as
	// a navigation of its kind may take, at least this. Defaults to
	// [DefaultMinPageTimeout], at most the configured timeout.
	MinPageTimeout time.Duration
	// Logger receives the session's events (never a password). Defaults to
	// slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	c.LoginAttempts = cmp.Or(c.LoginAttempts, 8)
	c.Timeout = cmp.Or(c.Timeout, 30*time.Second)
	c.MinPageTimeout = cmp.Or(c.MinPageTimeout, DefaultMinPageTimeout)
	c.LoginOutage = cmp.Or(c.LoginOutage, 30*time.Minute)
	if c.NewBackOff == nil {
		c.NewBackOff = func() backoff.BackOff {
			b := backoff.NewExponentialBackOff()
			b.InitialInterval, b.MaxInterval, b.MaxElapsedTime = 500*time.Millisecond, 10*time.Second, 0
			return b
		}
	}
	if c.BlockTypes == nil {
		c.BlockTypes = DefaultBlockTypes
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.LoginAttempts < 0:
		return errors.New("session: Config.LoginAttempts is negative")
	case c.Timeout < 0:
		return errors.New("session: Config.Timeout is negative")
	case c.LoginOutage < 0:
		return errors.New("session: Config.LoginOutage is negative")
	case c.Endpoint != "" && !strings.HasPrefix(c.Endpoint, "ws://") && !strings.HasPrefix(c.Endpoint, "wss://"):
		return fmt.Errorf("session: Config.Endpoint %q is not a ws:// or wss:// URL", c.Endpoint)
	}
	if c.LoginURL != "" {
		if u, err := url.Parse(c.LoginURL); err != nil || u.Host == "" {
			return fmt.Errorf("session: Config.LoginURL %q is not an absolute URL", c.LoginURL)
		}
	}
	return nil
}

// Session is one browser with one logged-in context, shared by many pages.
// All methods are safe for concurrent use.
type Session struct {
	cfg     Config
	log     *slog.Logger
	install Install
	dir     string // private XDG_CONFIG_HOME of the browsers: chromium's crash handlers are found by it

	mu    sync.Mutex // never held across a browser call: event handlers take it
	drv   *driver
	cur   *browser
	gen   uint64 // login generation: +1 per successful (re-)login
	fatal error  // a permanent login failure; no login is attempted after it
	// While logins fail for reasons that may pass (the login page down):
	// since when, the last failure, and the earliest time of the next try.
	down, lastFail, nextLogin time.Time
	closing                   chan struct{} // closed by Close
	relaunchLogin             atomic.Bool   // the relaunch flight under way got to its login
	closed                    bool
	pages                     map[playwright.Page]*pageState
	wg                        group   // goroutines still talking to the driver
	hc                        *client // for requests without a page; see Fetch
	ua                        string  // the browser's user agent, read at login
	rtos                      map[string]*RTO

	flight                      singleflight.Group
	logins, relaunches, blocked atomic.Int64
	loginsBegun, loggingIn      atomic.Int64 // see overlapsLogin
	loginLoops                  atomic.Int64 // see LoginLoops
}

// loginMark marks now, for [Session.overlapsLogin].
func (s *Session) loginMark() int64 { return s.loginsBegun.Load() }

// overlapsLogin reports whether a login ran at some time since mark. A
// request that timed out meanwhile is not the site's slowness: pages are
// redirected and the browser is busy logging in, so the timeout is neither
// charged to the task nor learned.
func (s *Session) overlapsLogin(mark int64) bool {
	return s.loggingIn.Load() > 0 || s.loginsBegun.Load() != mark
}

// timedOut is the verdict on a request of rto's kind that timed out.
func (s *Session) timedOut(rto *RTO, mark int64, err error) error {
	if s.overlapsLogin(mark) {
		return pool.Requeue(err)
	}
	rto.Expired()
	return err
}

// RTO returns the session's latency estimate of one kind of request ("page"
// for Goto, "document" for Get, "file" for downloads, or what
// Expect.Kind says), from which its timeouts are learned. A caller timing
// requests of its own kind can use one too.
func (s *Session) RTO(kind string) *RTO {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rtos == nil {
		s.rtos = map[string]*RTO{}
	}
	r := s.rtos[kind]
	if r == nil {
		r = &RTO{Floor: s.cfg.MinTimeout, kind: kind, log: s.log}
		if s.cfg.FixedTimeouts {
			r.MinSamples = -1
		}
		s.rtos[kind] = r
	}
	return r
}

// Timeouts returns what the session learned of each kind of request.
func (s *Session) Timeouts() map[string]RTOStats {
	s.mu.Lock()
	rtos := maps.Clone(s.rtos)
	s.mu.Unlock()
	out := map[string]RTOStats{}
	for k, r := range rtos {
		out[k] = r.Stats()
	}
	return out
}

// browser is one launched (or connected) browser and its context.
type browser struct {
	b    playwright.Browser
	ctx  playwright.BrowserContext
	gone chan struct{} // closed when the browser disconnects
	once sync.Once
}

func (b *browser) dead() bool {
	select {
	case <-b.gone:
		return true
	default:
		return false
	}
}

func (b *browser) markDead() { b.once.Do(func() { close(b.gone) }) }

// pageState is what the session knows about a page it made.
type pageState struct {
	b      *browser
	gen    uint64 // a lower bound of the login generation the page's requests carry
	status int    // of the main document the last Goto opened (under s.mu)
}

// Stats is a snapshot of a session's counters.
type Stats struct {
	Logins     int64  // successful logins, the first one included
	Relaunches int64  // browser relaunches after a crash or disconnect
	Blocked    int64  // requests aborted by resource blocking (images a launched browser does not request are not counted)
	Pages      int    // open pages made by NewPage
	Generation uint64 // current login generation
}

// Open starts the driver, launches chromium (or connects to cfg.Endpoint),
// opens the context and logs in. A refused login fails fast with an error
// wrapping [ErrBadCredentials]; nothing is left running when Open fails.
func Open(ctx context.Context, cfg Config) (*Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	install, err := Locate(cfg.Install)
	if err != nil {
		return nil, err
	}
	s := &Session{cfg: cfg, log: cfg.Logger, install: install, pages: map[playwright.Page]*pageState{}, closing: make(chan struct{})}
	if s.dir, err = os.MkdirTemp("", "pagefleet-session-"); err != nil {
		return nil, err
	}
	if s.drv, err = acquireDriver(install, s.log); err != nil {
		return nil, errors.Join(err, os.RemoveAll(s.dir))
	}
	if err := s.open(ctx); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

func (s *Session) open(ctx context.Context) error {
	reuse := s.cfg.StorageState != "" && isFile(s.cfg.StorageState)
	start := time.Now()
	b, err := s.launch(ctx, reuse)
	if err != nil {
		return err
	}
	s.log.Debug("session: browser launched", "version", b.b.Version(), "took", time.Since(start).Round(time.Millisecond))
	s.mu.Lock()
	s.cur = b
	s.mu.Unlock()
	if reuse {
		out, err := s.verify(ctx, b)
		if err != nil {
			return err
		}
		s.log.Info("session: reused storage state", "path", s.cfg.StorageState, "logged_out", out)
		reuse = !out
	}
	if !reuse {
		if err := s.login(ctx, b); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.loggedInLocked()
	s.mu.Unlock()
	return nil
}

// verify visits HomeURL to tell whether a reused storage state is stale.
func (s *Session) verify(ctx context.Context, b *browser) (loggedOut bool, err error) {
	if s.cfg.HomeURL == "" {
		return false, nil
	}
	page, err := await(ctx, &s.wg, b.ctx.NewPage, func(p playwright.Page) { s.closePage(p) })
	if err != nil {
		return false, fmt.Errorf("session: verify storage state: %w", err)
	}
	defer s.closePage(page)
	defer context.AfterFunc(ctx, func() { s.closePage(page) })()
	if _, err := page.Goto(s.cfg.HomeURL, playwright.PageGotoOptions{Timeout: Timeout(ctx, s.cfg.Timeout)}); err != nil {
		return false, fmt.Errorf("session: verify storage state: %w", err)
	}
	return s.loggedOut(ctx, page)
}

// launch starts a browser (or connects to one) and opens its context.
func (s *Session) launch(ctx context.Context, useState bool) (*browser, error) {
	s.mu.Lock()
	pw := s.drv.pw
	s.mu.Unlock()
	var (
		b   playwright.Browser
		err error
	)
	if s.cfg.Endpoint != "" {
		b, err = pw.Chromium.Connect(s.cfg.Endpoint, playwright.BrowserTypeConnectOptions{Timeout: Timeout(ctx, s.cfg.Timeout)})
	} else {
		opts := playwright.BrowserTypeLaunchOptions{
			Headless: playwright.Bool(!s.cfg.Headed),
			Args:     slices.Concat(DefaultArgs, s.blockArgs(), s.cfg.Args),
			Timeout:  Timeout(ctx, s.cfg.Timeout),
			// A terminal's Ctrl-C reaches the driver too (the browser has a
			// process group of its own): the program's shutdown, not the
			// driver, decides when the browser closes.
			HandleSIGINT: playwright.Bool(false),
		}
		if s.install.Browser != "" {
			opts.ExecutablePath = playwright.String(s.install.Browser)
		}
		if s.cfg.Headed && filepath.Base(s.install.Browser) == filepath.Base(DefaultHeadlessShell) { // it has no window to show
			full := fullChromium()
			if !isFile(full) {
				return nil, fmt.Errorf("%w: a headed session needs the full chromium at %s (%s has no window); %s",
					ErrNotInstalled, full, s.install.Browser, setupHint())
			}
			opts.ExecutablePath = playwright.String(full)
		}
		opts.Env = map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			opts.Env[k] = v
		}
		opts.Env["XDG_CONFIG_HOME"] = s.dir // only chromium's crash reports go there: the profile is a temporary --user-data-dir
		b, err = pw.Chromium.Launch(opts)
	}
	if err != nil {
		return nil, fmt.Errorf("session: launch browser: %w", err)
	}
	nb := &browser{b: b, gone: make(chan struct{})}
	b.OnDisconnected(func(playwright.Browser) { nb.markDead() }) // runs on the driver's dispatch goroutine: just flag it
	opts := s.cfg.Context                                        // a copy: NewContext clears fields of what it is given
	opts.AcceptDownloads = playwright.Bool(true)
	if useState {
		opts.StorageStatePath = playwright.String(s.cfg.StorageState)
	}
	if nb.ctx, err = b.NewContext(opts); err == nil {
		nb.ctx.SetDefaultTimeout(float64(s.cfg.Timeout.Milliseconds()))
		err = nb.ctx.AddInitScript(playwright.Script{Content: playwright.String(consoleJS)}) // for Evidence
		if s.cfg.Block && err == nil {
			err = s.route(nb.ctx)
		}
	}
	if err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("session: new context: %w", err)
	}
	return nb, nil
}

// route installs resource blocking on a context, so it covers every page,
// popups included. (APIRequestContext fetches bypass routes.)
func (s *Session) route(bctx playwright.BrowserContext) error {
	block := func(r playwright.Route) {
		s.blocked.Add(1)
		_ = r.Abort("blockedbyclient")
	}
	if len(s.cfg.BlockTypes) > 0 {
		types := s.cfg.BlockTypes
		if err := bctx.Route("**/*", func(r playwright.Route) {
			if slices.Contains(types, r.Request().ResourceType()) {
				block(r)
				return
			}
			_ = r.Fallback()
		}); err != nil {
			return err
		}
	}
	for _, p := range s.cfg.BlockURLs { // registered last, so they run first
		if err := bctx.Route(p, block); err != nil {
			return err
		}
	}
	return nil
}

// headlessDevice is the --blink-settings Playwright launches a headless
// chromium with (a mouse: hover and a fine pointer). Chromium keeps only the
// last --blink-settings, so blockArgs repeats them.
const headlessDevice = "primaryHoverType=2,availableHoverTypes=2,primaryPointerType=4,availablePointerTypes=4"

// blockArgs are the launch arguments of Config.Block.
func (s *Session) blockArgs() []string {
	if !s.cfg.Block || !slices.Contains(s.cfg.BlockTypes, "image") {
		return nil
	}
	if s.cfg.Headed {
		return []string{"--blink-settings=imagesEnabled=false"}
	}
	return []string{"--blink-settings=" + headlessDevice + ",imagesEnabled=false"}
}

// NewPage opens a page in the session's context. If the browser crashed
// or disconnected, NewPage relaunches it and logs in first (one relaunch
// however many callers ask at once). After a permanent login failure it
// returns that failure wrapped with [pool.Abort]; while the login is down,
// a [*LoginDownError] wrapped with pool.Requeue (see [Session.Relogin]).
func (s *Session) NewPage(ctx context.Context) (playwright.Page, error) {
	for try := 0; ; try++ {
		b, err := s.live(ctx)
		if err != nil {
			return nil, err
		}
		page, err := await(ctx, &s.wg, b.ctx.NewPage, func(p playwright.Page) { _ = p.Close() })
		if err != nil {
			if try == 0 && ctx.Err() == nil && !s.alive(b) {
				continue // the browser or the driver died under us: relaunch
			}
			return nil, fmt.Errorf("session: new page: %w", Scrub(err))
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = page.Close()
			return nil, ErrClosed
		}
		s.pages[page] = &pageState{b: b, gen: s.gen}
		s.mu.Unlock()
		page.OnClose(func(p playwright.Page) { s.untrack(p) })
		return page, nil
	}
}

func (s *Session) untrack(p playwright.Page) (st *pageState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st = s.pages[p]
	delete(s.pages, p)
	return st
}

// live returns the current browser, relaunching it if it is gone.
func (s *Session) live(ctx context.Context) (*browser, error) {
	s.mu.Lock()
	b, closed, fatal := s.cur, s.closed, s.fatal
	s.mu.Unlock()
	switch {
	case closed:
		return nil, ErrClosed
	case fatal != nil:
		return nil, pool.Abort(fatal)
	case !b.dead():
		return b, nil
	}
	if err := s.awaitNextLogin(ctx); err != nil { // a relaunch logs in: the login may be down
		return nil, err
	}
	v, err := s.do(ctx, "relaunch", func(ctx context.Context) (any, error) {
		start := time.Now()
		s.relaunchLogin.Store(false)
		nb, err := s.relaunch(ctx, b)
		if err != nil {
			s.loginFailed(start, err)
		}
		return nb, err
	})
	if err != nil {
		// A caller whose time ran out waited for a login only if the
		// relaunch got that far: a launch that hangs is no outage.
		return nil, s.outageErr(ctx, err, s.relaunchLogin.Load())
	}
	return v.(*browser), nil
}

// do runs fn once for all concurrent callers of the same key; a caller
// whose ctx ends stops waiting. fn gets ctx without its cancellation or
// deadline: a login or relaunch that every worker waits for must not end
// because the caller that started it had a 2 s request to make (it has
// bounds of its own, and Close ends it).
func (s *Session) do(ctx context.Context, key string, fn func(ctx context.Context) (any, error)) (any, error) {
	flight := context.WithoutCancel(ctx)
	ch := s.flight.DoChan(key, func() (any, error) {
		s.wg.add()
		defer s.wg.done()
		if s.isClosed() {
			return nil, ErrClosed
		}
		return fn(flight)
	})
	select {
	case r := <-ch:
		s.mu.Lock()
		fatal := s.fatal
		s.mu.Unlock()
		if fatal != nil && r.Err != nil {
			return nil, pool.Abort(r.Err)
		}
		return r.Val, r.Err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *Session) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Session) relaunch(ctx context.Context, old *browser) (*browser, error) {
	s.mu.Lock()
	cur := s.cur
	s.mu.Unlock()
	if cur != old {
		return cur, nil // a relaunch finished while this caller was deciding
	}
	s.log.Warn("session: browser disconnected, relaunching")
	s.wg.goGo(func() { _ = old.b.Close() }) // releases the dead browser's driver-side state; may fail, never matters
	b, err := s.launch(ctx, false)
	if err != nil && errors.Is(err, playwright.ErrTargetClosed) {
		if err = s.restartDriver(); err == nil { // the driver itself died
			b, err = s.launch(ctx, false)
		}
	}
	if err != nil {
		return nil, err
	}
	s.relaunchLogin.Store(true)
	if err := s.login(ctx, b); err != nil {
		_ = b.b.Close()
		return nil, err
	}
	s.mu.Lock()
	if s.closed { // Close ran meanwhile and did not see this browser
		s.mu.Unlock()
		_ = b.b.Close()
		return nil, ErrClosed
	}
	s.cur = b
	s.loggedInLocked()
	gen := s.gen
	s.mu.Unlock()
	s.relaunches.Add(1)
	s.log.Info("session: browser relaunched", "generation", gen)
	return b, nil
}

func (s *Session) restartDriver() error {
	s.mu.Lock()
	old := s.drv
	s.mu.Unlock()
	old.forget()
	d, err := acquireDriver(s.install, s.log)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.drv = d
	s.mu.Unlock()
	s.wg.goGo(func() { _ = old.release(s.cfg.Timeout) })
	return nil
}

// Check tells a task whether page is still usable and logged in. It
// returns nil if so. If LoggedOut reports the page logged out, Check logs
// the session in again — concurrent and late reports of the same logout
// share one login — and returns [ErrLoggedOut] wrapped with [pool.Requeue],
// so the task runs again without being charged an attempt. A page of a
// crashed browser gives [ErrDisconnected] wrapped with pool.Requeue; a
// refused login gives the failure wrapped with [pool.Abort]; a login that
// is down, a [*LoginDownError] wrapped with pool.Requeue (see
// [Session.Relogin]); any other failure comes back as is.
//
// Call it after navigating, before trusting what the page shows.
func (s *Session) Check(ctx context.Context, page playwright.Page) error {
	st, seen := s.pageState(page)
	s.mu.Lock()
	fatal, cur := s.fatal, s.cur
	s.mu.Unlock()
	gone := func() bool { // an untracked page (closed meanwhile) is judged by its context
		if st != nil {
			return st.b.dead()
		}
		return page.Context() != cur.ctx || cur.dead()
	}
	switch {
	case fatal != nil:
		return pool.Abort(fatal)
	case gone():
		return pool.Requeue(ErrDisconnected)
	case page.IsClosed():
		return fmt.Errorf("session: check: %w", playwright.ErrTargetClosed)
	}
	return s.checkLoggedOut(ctx, page, st, seen)
}

func (s *Session) loggedOut(ctx context.Context, page playwright.Page) (bool, error) {
	if s.cfg.LoggedOut != nil {
		return s.cfg.LoggedOut(ctx, page)
	}
	return s.cfg.LoginURL != "" && SamePage(page.URL(), s.cfg.LoginURL), nil
}

// SamePage reports whether two URLs name the same page: same host and path
// (ignoring a trailing slash), any query or fragment.
func SamePage(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && strings.EqualFold(ua.Host, ub.Host) &&
		strings.TrimSuffix(ua.Path, "/") == strings.TrimSuffix(ub.Path, "/")
}

// LoginLoops reports how many requests without a page ([Session.Fetch]) in
// a row met the site's login page even right after a login: the site's
// login does not reach such requests (download.ErrLoginLoop).
func (s *Session) LoginLoops() int64 { return s.loginLoops.Load() }

// NoteLoginLoop records whether a request without a page met the login
// page right after a login (loop) or got what it asked for, which ends the
// streak [Session.LoginLoops] counts.
func (s *Session) NoteLoginLoop(loop bool) {
	if loop {
		s.loginLoops.Add(1)
	} else if s.loginLoops.Load() != 0 {
		s.loginLoops.Store(0)
	}
}

// Generation returns the login generation: it grows by one with every
// successful login. Record it before an action whose result may show a
// logout, and pass it to [Session.Relogin].
func (s *Session) Generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

// Relogin logs the session in again because something observed under
// generation seen (see [Session.Generation]) showed it logged out. If a
// login already happened since seen, it returns nil at once; concurrent
// callers share one login. A permanent failure is remembered and returned
// wrapped with [pool.Abort], now and on every later call; one that may
// pass (the login page down) is a [pool.Requeue] of a [*LoginDownError],
// until it has lasted Config.LoginOutage.
func (s *Session) Relogin(ctx context.Context, seen uint64) error {
	if err := s.awaitNextLogin(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	b, gen, fatal, closed := s.cur, s.gen, s.fatal, s.closed
	s.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case fatal != nil:
		return pool.Abort(fatal)
	case gen != seen:
		return nil
	case b.dead():
		_, err := s.live(ctx) // a relaunch logs in
		return err
	}
	_, err := s.do(ctx, "login", func(ctx context.Context) (any, error) {
		s.mu.Lock()
		done, fatal := s.gen != seen, s.fatal // a straggler's flight after the real one
		s.mu.Unlock()
		switch {
		case fatal != nil:
			return nil, fatal
		case done:
			return nil, nil
		}
		s.log.Warn("session: logged out, logging in again", "generation", seen)
		start := time.Now()
		if err := s.login(ctx, b); err != nil {
			s.loginFailed(start, err)
			return nil, err
		}
		s.mu.Lock()
		s.loggedInLocked()
		s.mu.Unlock()
		return nil, nil
	})
	return s.outageErr(ctx, err, true)
}

// loggedInLocked notes a login: a new generation, the end of any outage.
func (s *Session) loggedInLocked() {
	s.gen++
	s.down, s.nextLogin = time.Time{}, time.Time{}
}

// LoginDownError is a re-login (or a relaunch's login) that failed for a
// reason that may pass — the login page down (HTTP 5xx, 429) or timing out
// — rather than a refusal of the credentials. [Session.Relogin] returns it wrapped with
// [pool.Requeue]: the task that met the logout runs again uncharged once
// RetryAfter has passed, a wait that grows with the outage; past
// Config.LoginOutage the session gives up. It wraps the last failure,
// hence [ErrLoginFailed].
type LoginDownError struct {
	For  time.Duration // how long re-logins have been failing
	Wait time.Duration // what the task waits before it runs again
	Err  error
}

func (e *LoginDownError) Error() string {
	if e.For <= 0 {
		return fmt.Sprintf("the site's login is down or slow (retrying in %v): %v", e.Wait.Round(time.Second), e.Err)
	}
	return fmt.Sprintf("the site's login has been failing for %v (retrying in %v): %v", e.For.Round(time.Second), e.Wait.Round(time.Second), e.Err)
}

// Unwrap returns the last failure.
func (e *LoginDownError) Unwrap() error { return e.Err }

// RetryAfter is the wait before the task runs again: see pool.Requeue.
func (e *LoginDownError) RetryAfter() time.Duration { return e.Wait }

// Outage makes the pool requeue the task however often it meets the
// outage: Config.LoginOutage bounds it (see pool.Requeue).
func (e *LoginDownError) Outage() bool { return true }

// The wait between re-login tries while the login is down: as long as
// the outage so far, within these bounds.
const minLoginWait, maxLoginWait = 5 * time.Second, time.Minute

// awaitNextLogin holds a login while the login is down until its next
// try is due, so that the workers meeting the logout wait together rather
// than each starting a login; if ctx ends before then, it returns the
// requeue at once.
func (s *Session) awaitNextLogin(ctx context.Context) error {
	s.mu.Lock()
	down, next, over := s.down, s.nextLogin, s.fatal != nil || s.closed
	s.mu.Unlock()
	wait := time.Until(next)
	if wait <= 0 || over {
		return nil
	}
	requeue := func() error {
		wait := max(time.Until(next), 0)
		return pool.Requeue(&LoginDownError{For: time.Since(down), Wait: wait, Err: fmt.Errorf("%w: the login is down; next try in %v", ErrLoginFailed, wait.Round(time.Second))})
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		return requeue()
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-s.closing:
		return ErrClosed
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return requeue() // a loaded machine woke us after both: still the outage's doing
		}
		return ctx.Err()
	}
}

// loginFailed notes a failed login (of a flight that started at start)
// once per flight, whether anyone still waits for it: a failure that may
// pass starts or continues an outage, sets the next try 5 s to 1 min
// later (as long as the outage so far), and past Config.LoginOutage ends
// the session's logins.
func (s *Session) loginFailed(start time.Time, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fatal != nil || s.closed || !errors.Is(err, ErrLoginFailed) {
		return
	}
	now := time.Now()
	s.down = s.outageStartLocked(start)
	s.lastFail = now
	down := now.Sub(s.down)
	if down >= s.cfg.LoginOutage {
		s.fatal = fmt.Errorf("%w; logins have failed for %v (Config.LoginOutage)", err, down.Round(time.Second))
		s.log.Error("session: the login stays down; no further logins", "for", down.Round(time.Second), "err", err)
		return
	}
	if next := now.Add(min(max(down, minLoginWait), maxLoginWait)); next.After(s.nextLogin) {
		s.nextLogin = next
	}
}

// outageStartLocked is when the outage that a failure of a login flight
// begun at start belongs to began. Paced flights follow each other within
// maxLoginWait: a failure long after the last one (the pages worked
// meanwhile) is a new outage, begun with its flight.
func (s *Session) outageStartLocked(start time.Time) time.Time {
	if s.down.IsZero() || s.lastFail.Before(start.Add(-2*maxLoginWait)) {
		return start
	}
	return s.down
}

// outageErr is what a caller of a login flight (a re-login or a relaunch)
// gets for its error: the abort once the session gave up; a requeue until
// the next try while the login is down, or when the caller's time ran out
// while the flight was logging in (loggingIn: a login page that hangs);
// else err.
func (s *Session) outageErr(ctx context.Context, err error, loggingIn bool) error {
	if err == nil {
		return nil
	}
	s.mu.Lock()
	fatal, down, next := s.fatal, s.down, s.nextLogin
	s.mu.Unlock()
	var since time.Duration
	if !down.IsZero() {
		since = time.Since(down)
	}
	wait := max(time.Until(next), minLoginWait)
	switch {
	case fatal != nil:
		return pool.Abort(fatal)
	case errors.Is(err, ErrClosed) || pool.IsAbort(err):
		return err
	case ctx.Err() != nil && loggingIn:
		return pool.Requeue(&LoginDownError{For: since, Wait: wait, Err: fmt.Errorf("%w: still logging in when the task's time ran out: %w", ErrLoginFailed, err)})
	case ctx.Err() != nil:
		return err // a relaunch that hangs before its login is no outage: the attempt is charged
	case !errors.Is(err, ErrLoginFailed):
		return err
	}
	return pool.Requeue(&LoginDownError{For: since, Wait: wait, Err: err})
}

// login runs the LoginFunc on a fresh page of b, retrying transient
// failures with backoff, and saves the storage state when it succeeds.
func (s *Session) login(ctx context.Context, b *browser) error {
	if s.cfg.Login == nil {
		return nil
	}
	s.loginsBegun.Add(1)
	s.loggingIn.Add(1)
	defer s.loggingIn.Add(-1)
	bo := backoff.WithContext(s.cfg.NewBackOff(), ctx)
	bo.Reset()
	begun := time.Now()
	relogin, tries := s.logins.Load(), s.cfg.LoginAttempts
	if relogin > 0 {
		tries = max(tries, 5)
	}
	for attempt := 1; ; attempt++ {
		start := time.Now()
		err := s.loginOnce(ctx, b)
		if err == nil {
			s.logins.Add(1)
			s.log.Info("session: logged in", "attempt", attempt, "took", time.Since(start).Round(time.Millisecond))
			s.saveState(ctx, b)
			return nil
		}
		err = fmt.Errorf("%w (attempt %d): %w", ErrLoginFailed, attempt, Scrub(err))
		var perm *backoff.PermanentError
		final := errors.As(err, &perm) || errors.Is(err, ErrBadCredentials) && (relogin == 0 || attempt >= tries)
		if final {
			s.mu.Lock()
			s.fatal = err
			s.mu.Unlock()
			s.log.Error("session: login refused; no further logins", "err", err)
			return err
		}
		if ctx.Err() != nil || b.dead() || attempt >= tries {
			return err
		}
		wait := bo.NextBackOff()
		if wait == backoff.Stop {
			return err
		}
		var ra interface{ RetryAfter() time.Duration }
		if errors.As(err, &ra) {
			wait = max(wait, ra.RetryAfter()) // a login page's 429 or 503 said how long (a minute at most)
		}
		if relogin > 0 {
			// Not past the end of Config.LoginOutage: the flight fails
			// then, and the session gives up on time.
			s.mu.Lock()
			left := time.Until(s.outageStartLocked(begun).Add(s.cfg.LoginOutage))
			s.mu.Unlock()
			if left <= 0 {
				return err
			}
			wait = min(wait, left)
		}
		s.log.Warn("session: login failed, retrying", "err", err, "in", wait)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.closing: // a flight runs without its callers' contexts: Close ends its wait
			t.Stop()
			return errors.Join(err, ErrClosed)
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		}
	}
}

func (s *Session) loginOnce(ctx context.Context, b *browser) (err error) {
	// Every worker waits for a login: however the browser, the driver or the
	// LoginFunc misbehave, it ends.
	ctx, cancel := context.WithTimeout(ctx, 2*s.cfg.Timeout)
	defer cancel()
	page, err := await(ctx, &s.wg, b.ctx.NewPage, func(p playwright.Page) { s.closePage(p) })
	if err != nil {
		return err
	}
	defer s.closePage(page)
	defer context.AfterFunc(ctx, func() { s.closePage(page) })() // ends what the LoginFunc is stuck in
	_, err = await(ctx, &s.wg, func() (ua any, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = backoff.Permanent(fmt.Errorf("LoginFunc panicked: %v", r))
			}
		}()
		if err := s.cfg.Login(ctx, page); err != nil {
			return nil, err
		}
		if ua, err := page.Evaluate("navigator.userAgent"); err == nil { // for Fetch, which is not the browser
			s.mu.Lock()
			s.ua, _ = ua.(string)
			s.mu.Unlock()
		}
		return nil, nil
	}, nil)
	return err
}

// closePage closes page, waiting for that at most Config.Timeout: a page
// the driver never reports closed (seen under heavy load) must not hold up
// its caller — a login that every worker waits for, say.
func (s *Session) closePage(page playwright.Page) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	_, err := await(ctx, &s.wg, func() (struct{}, error) { return struct{}{}, page.Close() }, nil)
	return err
}

// saveState writes the context's storage state, if configured, atomically
// and readable only by the owner: it holds session cookies.
func (s *Session) saveState(ctx context.Context, b *browser) {
	if s.cfg.StorageState == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	st, err := await(ctx, &s.wg, func() (*playwright.StorageState, error) { return b.ctx.StorageState() }, nil)
	if err == nil {
		err = writeState(s.cfg.StorageState, st)
	}
	if err != nil {
		s.log.Warn("session: could not save storage state", "path", s.cfg.StorageState, "err", err)
	}
}

func writeState(path string, st *playwright.StorageState) error {
	data, err := json.Marshal(struct {
		Cookies []playwright.Cookie `json:"cookies"`
		Origins []playwright.Origin `json:"origins"`
	}{st.Cookies, st.Origins})
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".state-*.tmp")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	err = errors.Join(err, f.Sync(), f.Close())
	if err == nil {
		err = os.Rename(f.Name(), path) // CreateTemp made it 0600
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return err
}

// Pages returns the session as a page factory for a [pool.PagePool]:
// New is [Session.NewPage]; Reset navigates to about:blank and closes the
// page's popups, and fails for pages of a dead browser so the pool recycles
// them; Close closes the page without blocking on a dead browser.
func (s *Session) Pages() pool.Factory[playwright.Page] { return pages{s} }

type pages struct{ s *Session }

func (p pages) New(ctx context.Context) (playwright.Page, error) { return p.s.NewPage(ctx) }
func (p pages) Reset(ctx context.Context, page playwright.Page) error {
	return p.s.reset(ctx, page)
}
func (p pages) Close(page playwright.Page) error { return p.s.ClosePage(page) }

func (s *Session) reset(ctx context.Context, page playwright.Page) error {
	s.mu.Lock()
	st := s.pages[page]
	s.mu.Unlock()
	switch {
	case st == nil || page.IsClosed():
		return fmt.Errorf("session: reset: %w", playwright.ErrTargetClosed)
	case st.b.dead():
		return fmt.Errorf("session: reset: %w", ErrDisconnected)
	}
	for _, p := range page.Context().Pages() {
		if o, _ := p.Opener(); o == page {
			_ = p.Close()
		}
	}
	if _, err := page.Goto("about:blank", playwright.PageGotoOptions{Timeout: Timeout(ctx, s.cfg.Timeout)}); err != nil {
		s.alive(st.b) // a dead driver is found here first: flag it, so the next page comes from a relaunch
		return fmt.Errorf("session: reset: %w", Scrub(err))
	}
	s.mu.Lock()
	st.gen = s.gen
	s.mu.Unlock()
	return nil
}

// ClosePage closes a page made by NewPage. It returns within Config.Timeout
// even if the driver hangs, and treats a page of a dead browser as closed.
func (s *Session) ClosePage(page playwright.Page) error {
	st := s.untrack(page)
	err := s.closePage(page)
	if err == nil || errors.Is(err, playwright.ErrTargetClosed) || (st != nil && st.b.dead()) {
		return nil
	}
	return fmt.Errorf("session: close page: %w", err)
}

// Request returns the APIRequestContext of the current browser context,
// relaunching a crashed browser first: it shares the context's cookies, so
// its requests are logged in (route handlers, hence blocking, do not
// apply). After a relaunch it is the new context's: call Request for every
// use rather than keeping it. [Session.Fetch] is the better way to fetch a
// file: it streams and can be cancelled.
func (s *Session) Request(ctx context.Context) (playwright.APIRequestContext, error) {
	b, err := s.live(ctx)
	if err != nil {
		return nil, err
	}
	return b.ctx.Request(), nil
}

// BrowserContext returns the current browser context. After a relaunch it
// is a new one.
func (s *Session) BrowserContext() playwright.BrowserContext {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur.ctx
}

// Stats returns the session's counters.
func (s *Session) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		Logins:     s.logins.Load(),
		Relaunches: s.relaunches.Load(),
		Blocked:    s.blocked.Load(),
		Pages:      len(s.pages),
		Generation: s.gen,
	}
}

// DriverPID returns the process ID of the Playwright driver (Node.js),
// which the sessions of a process share; chromium runs as its child unless
// Config.Endpoint is set.
func (s *Session) DriverPID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.drv.pw.Pid()
}

// BrowserPID returns the process ID of the session's chromium, or 0 if it
// is not a local child or processes cannot be inspected (outside Linux).
func (s *Session) BrowserPID() int { return browserPID(s.DriverPID(), s.dir) }

// Memory returns the proportional set size (PSS) of this process and all its
// descendants — Go, the driver and chromium — see [TreePSS].
func (s *Session) Memory() (int64, error) { return TreePSS(os.Getpid()) }

// Close saves the storage state (if configured), closes the browser and
// stops the driver unless another session of the process still uses it.
// It returns once those processes have exited (killing them after
// Config.Timeout). Close is idempotent.
func (s *Session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closing)
	b, drv, save := s.cur, s.drv, s.gen > 0 && s.fatal == nil
	s.mu.Unlock()

	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	var procs []int // chromium's tree: it is re-parented if the driver exits first
	if pid := s.BrowserPID(); pid != 0 {
		procs, _ = Descendants(pid)
		procs = append(procs, pid)
	}
	if b != nil && !b.dead() {
		if save {
			s.saveState(ctx, b)
		}
		if _, err := await(ctx, &s.wg, func() (struct{}, error) { return struct{}{}, b.b.Close() }, nil); err != nil {
			errs = append(errs, fmt.Errorf("session: close browser: %w", err))
		}
	}
	if err := drv.release(s.cfg.Timeout); err != nil {
		errs = append(errs, err)
	}
	if !s.wg.wait(s.cfg.Timeout) { // the driver is gone: what still runs is not talking to it
		s.log.Warn("session: closed with a call still running (a LoginFunc that ignores its context?)")
	}
	killAll(procs) // what is left of them (usually nothing) and of chromium's crash handlers
	killMatching(s.dir)
	return errors.Join(append(errs, os.RemoveAll(s.dir))...)
}

// Timeout converts what remains of ctx's deadline, capped at def, into a
// Playwright timeout option in milliseconds (playwright-go calls take no
// context). def <= 0 means no cap. It never returns 0, which Playwright
// reads as "no timeout", unless there is neither deadline nor cap.
func Timeout(ctx context.Context, def time.Duration) *float64 {
	d := def
	if dl, ok := ctx.Deadline(); ok {
		if r := time.Until(dl); d <= 0 || r < d {
			d = max(r, time.Millisecond)
		}
	}
	return playwright.Float(float64(d.Milliseconds()))
}

// await runs fn on its own goroutine and returns its result, or ctx.Err()
// when ctx ends first; a result arriving later is passed to discard. It is
// for browser calls that take no timeout. g tracks the goroutine.
func await[T any](ctx context.Context, g *group, fn func() (T, error), discard func(T)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch, gaveUp := make(chan result), make(chan struct{})
	g.goGo(func() {
		v, err := fn()
		select {
		case ch <- result{v, err}:
		case <-gaveUp:
			if err == nil && discard != nil {
				discard(v)
			}
		}
	})
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		select {
		case r := <-ch: // answered just as ctx ended: the answer counts
			return r.v, r.err
		default:
		}
		close(gaveUp)
		var zero T
		return zero, ctx.Err()
	}
}

// group counts goroutines like sync.WaitGroup, but may be added to while
// someone waits: late calls on a closing session must not panic it.
type group struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0
}

func (g *group) add() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n == 0 {
		g.idle = make(chan struct{})
	}
	g.n++
}

func (g *group) done() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n--; g.n == 0 {
		close(g.idle)
	}
}

func (g *group) goGo(fn func()) {
	g.add()
	go func() {
		defer g.done()
		fn()
	}()
}

// wait waits until no goroutine is left, at most d; it reports whether
// none is.
func (g *group) wait(d time.Duration) bool {
	g.mu.Lock()
	idle := g.idle
	g.mu.Unlock()
	if idle == nil {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-idle:
		return true
	case <-t.C:
		return false
	}
}
