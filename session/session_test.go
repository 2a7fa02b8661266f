package session_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	playwright "github.com/mxschmitt/playwright-go"

	"github.com/pagefleet/pagefleet/pool"
	"github.com/pagefleet/pagefleet/session"
	"github.com/pagefleet/pagefleet/session/sessiontest"
)

var _ pool.Factory[playwright.Page] = (&session.Session{}).Pages()

// work runs task for every id in a pool.PagePool of n workers whose pages
// come from f, and returns each id's result.
func work(t *testing.T, f pool.Factory[playwright.Page], n int, ids []string,
	task func(ctx context.Context, page playwright.Page, id string) error) map[string]pool.Result {
	t.Helper()
	res := map[string]pool.Result{}
	p, err := pool.New(pool.Config[playwright.Page]{
		Factory:        f,
		Workers:        n,
		AttemptTimeout: 30 * time.Second,
		NewBackOff:     func() backoff.BackOff { return &backoff.ZeroBackOff{} },
		OnResult:       func(r pool.Result) { res[r.Key] = r },
		Logger:         sessiontest.Logger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if err := p.Submit(pool.Task[playwright.Page]{Key: id, Run: func(ctx context.Context, page playwright.Page) (any, error) {
			return nil, task(ctx, page, id)
		}}); err != nil {
			t.Fatal(err)
		}
	}
	p.CloseQueue()
	if err := p.Run(t.Context()); err != nil {
		t.Errorf("pool.Run: %v", err)
	}
	t.Logf("pool stats: %+v", p.Stats())
	return res
}

// visit opens id's page with Goto and checks it shows the item, logged in.
// It takes the attempt's deadline: no timeout of its own that a loaded
// machine could miss.
func visit(s *session.Session, srv *sessiontest.Server) func(ctx context.Context, page playwright.Page, id string) error {
	return func(ctx context.Context, page playwright.Page, id string) error {
		if _, err := s.Goto(ctx, page, srv.ItemURL(id), session.Expect{Ready: "#download"}); err != nil {
			return err
		}
		if title, err := page.Title(); err != nil || title != "Vehicle "+id {
			return fmt.Errorf("title %q, %v", title, err)
		}
		return nil
	}
}

func ids(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("VIN%03d", i))
	}
	return out
}

func allDone(t *testing.T, res map[string]pool.Result) {
	t.Helper()
	for id, r := range res {
		if r.Err != nil {
			t.Errorf("%s: %v", id, r.Err)
		}
	}
}

func TestBadCredentialsFailFast(t *testing.T) {
	t.Parallel()
	sessiontest.RequireBrowser(t)
	srv := sessiontest.NewServer(t)
	var logs syncBuffer
	cfg := srv.Config()
	const wrong = "Wr0ng-Passw0rd-42"
	cfg.Login = srv.Login(wrong)
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.StorageState = filepath.Join(t.TempDir(), "state.json")
	start := time.Now()
	s, err := session.Open(t.Context(), cfg)
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded with a wrong password")
	}
	t.Logf("Open failed after %v: %v", time.Since(start), err)
	if !errors.Is(err, session.ErrBadCredentials) || !errors.Is(err, session.ErrLoginFailed) {
		t.Errorf("error %v does not wrap ErrBadCredentials and ErrLoginFailed", err)
	}
	if got := srv.LoginPosts(); got != 1 {
		t.Errorf("%d login attempts at the server, want exactly 1", got)
	}
	for what, text := range map[string]string{"error": err.Error(), "logs": logs.String()} {
		if strings.Contains(text, wrong) || strings.Contains(text, srv.Password) {
			t.Errorf("a password appears in the %s:\n%s", what, text)
		}
	}
	if _, err := os.Stat(cfg.StorageState); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("storage state saved after a refused login: %v", err)
	}
}

// TestReloginOnce expires the server-side session while 8 pages are busy:
// exactly one re-login must follow, and every task must still finish.
func TestReloginOnce(t *testing.T) {
	t.Parallel()
	srv := sessiontest.NewServer(t)
	cfg := srv.Config()
	cfg.FixedTimeouts = true // a page slowed by a loaded machine is not what this is about
	s := sessiontest.Open(t, cfg)
	var visits atomic.Int64
	var once sync.Once
	visit := visit(s, srv)
	res := work(t, s.Pages(), 8, ids(48), func(ctx context.Context, page playwright.Page, id string) error {
		if visits.Add(1) == 16 { // every page is busy by now
			once.Do(srv.Expire)
		}
		return visit(ctx, page, id)
	})
	allDone(t, res)
	requeued := 0
	for _, r := range res {
		if r.Attempts != 1 {
			t.Errorf("%s charged %d attempts; a logout must cost none", r.Key, r.Attempts)
		}
		requeued += r.Requeues
	}
	if requeued == 0 {
		t.Error("no task was requeued: the logout went unnoticed")
	}
	if got := srv.LoginPosts(); got != 2 {
		t.Errorf("%d logins at the server, want 2 (the first and one re-login)", got)
	}
	if st := s.Stats(); st.Logins != 2 || st.Generation != 2 {
		t.Errorf("Stats = %+v, want 2 logins, generation 2", st)
	}
}

// TestReloginRefused changes the password mid-run: the re-login is tried
// five times (a refusal at a re-login may be a race), then reported as
// pool.Abort, and never attempted again.
func TestReloginRefused(t *testing.T) {
	t.Parallel()
	srv := sessiontest.NewServer(t)
	cfg := srv.Config()
	cfg.NewBackOff = func() backoff.BackOff { return &backoff.ZeroBackOff{} }
	s := sessiontest.Open(t, cfg)
	ctx := t.Context()
	page, err := s.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.ClosePage(page)
	srv.ChangePassword("changed-elsewhere")
	srv.Expire()
	if _, err := page.Goto(srv.ItemURL("A")); err != nil {
		t.Fatal(err)
	}
	err = s.Check(ctx, page)
	if !pool.IsAbort(err) || !errors.Is(err, session.ErrBadCredentials) {
		t.Fatalf("Check = %v; want pool.Abort wrapping ErrBadCredentials", err)
	}
	if err := s.Check(ctx, page); !pool.IsAbort(err) {
		t.Errorf("second Check = %v; want the remembered abort", err)
	}
	if _, err := s.NewPage(ctx); !pool.IsAbort(err) {
		t.Errorf("NewPage = %v; want the remembered abort", err)
	}
	if got := srv.LoginPosts(); got != 9 {
		t.Errorf("%d logins at the server, want 9 (the first and LoginAttempts' default 8 refused)", got)
	}
}

// quickRetries is the login backoff of the outage tests: a flight's tries
// follow each other in milliseconds, so the tests time the session's
// pacing and bounds, not the default backoff.
func quickRetries() backoff.BackOff { return backoff.NewConstantBackOff(10 * time.Millisecond) }

// outageSession opens a session with quickRetries on a new test server,
// with its config changed by set (nil: unchanged).
func outageSession(t *testing.T, set func(*session.Config)) (*sessiontest.Server, *session.Session) {
	t.Helper()
	srv := sessiontest.NewServer(t)
	cfg := srv.Config()
	cfg.NewBackOff = quickRetries
	if set != nil {
		set(&cfg)
	}
	return srv, sessiontest.Open(t, cfg)
}

// TestLoginOutage takes the login page down (503) while the session is
// logged out: each re-login gives up at once per try instead of waiting
// for a form, the task that met the logout is requeued uncharged with a
// wait, and once the login is back the session logs in again. An outage
// longer than Config.LoginOutage ends the session's logins.
func TestLoginOutage(t *testing.T) {
	t.Parallel()
	srv := sessiontest.NewServer(t)
	cfg := srv.Config()
	cfg.NewBackOff = quickRetries
	s := sessiontest.Open(t, cfg)
	ctx := t.Context()
	page, err := s.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.ClosePage(page)
	srv.SetLoginDown(true)
	srv.Expire()
	_, err = s.Goto(ctx, page, srv.ItemURL("A"), session.Expect{})
	var down *session.LoginDownError
	var status *session.StatusError
	switch {
	case !pool.IsRequeue(err) || !errors.As(err, &down) || !errors.Is(err, session.ErrLoginFailed):
		t.Fatalf("Goto while the login is down = %v; want pool.Requeue of a *LoginDownError wrapping ErrLoginFailed", err)
	case down.RetryAfter() < 5*time.Second:
		t.Errorf("RetryAfter = %v, want at least 5 s", down.RetryAfter())
	case !errors.As(err, &status) || status.Code != 503:
		t.Errorf("Goto while the login is down = %v; want the login page's 503 in it", err)
	}
	srv.SetLoginDown(false)
	for try := 1; ; try++ {
		_, err := s.Goto(ctx, page, srv.ItemURL("A"), session.Expect{})
		if err == nil {
			break
		}
		if !pool.IsRequeue(err) || try == 2 {
			t.Fatalf("Goto once the login is back, try %d: %v", try, err)
		}
	}

	// While it is down, re-logins are paced: a task that cannot wait for
	// the next try is requeued at once, without a login.
	srv.SetLoginDown(true)
	srv.Expire()
	if _, err := s.Goto(ctx, page, srv.ItemURL("A"), session.Expect{}); !errors.As(err, &down) {
		t.Fatalf("Goto as the login goes down again = %v; want a *LoginDownError", err)
	}
	hits := srv.LoginRequests()
	short, cancel := context.WithTimeout(ctx, 3*time.Second)
	_, err = s.Goto(short, page, srv.ItemURL("A"), session.Expect{})
	cancel()
	if hits++; !pool.IsRequeue(err) || !errors.As(err, &down) || srv.LoginRequests() != hits { // the Goto's own, redirected
		t.Errorf("Goto with 3 s left before the next login try = %v, %d login page requests; want a requeue, 1", err, srv.LoginRequests()-hits+1)
	}

	// Past LoginOutage, every task waiting on the failed login is told to
	// stop, not one of them.
	srv.SetLoginDown(false)
	cfg.LoginAttempts, cfg.LoginOutage = 1, 4*time.Second // a flight of 5 tries fails within it; the next, 5 s later, past it
	brief := sessiontest.Open(t, cfg)
	srv.SetLoginDown(true)
	gen := brief.Generation()
	if err := brief.Relogin(ctx, gen); !errors.As(err, &down) {
		t.Fatalf("first re-login of the outage = %v; want a *LoginDownError", err)
	}
	errs := make(chan error, 3)
	for range 3 {
		go func() { errs <- brief.Relogin(ctx, gen) }()
	}
	for range 3 {
		if err := <-errs; !pool.IsAbort(err) || !errors.Is(err, session.ErrLoginFailed) {
			t.Errorf("re-login past LoginOutage = %v; want pool.Abort wrapping ErrLoginFailed", err)
		}
	}
	if err := brief.Relogin(ctx, gen); !pool.IsAbort(err) {
		t.Errorf("a later re-login = %v; want the remembered abort", err)
	}
}

// TestLoginOutageEndsOnTime: a login page that is down and says to come
// back in an hour (Retry-After) does not hold the re-login past
// Config.LoginOutage: the session gives up when the outage has lasted
// that long.
func TestLoginOutageEndsOnTime(t *testing.T) {
	t.Parallel()
	srv, s := outageSession(t, func(c *session.Config) { c.LoginOutage = 3 * time.Second })
	srv.SetLoginDown(true)
	srv.SetLoginRetryAfter(time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := s.Relogin(ctx, s.Generation()); !pool.IsAbort(err) || !errors.Is(err, session.ErrLoginFailed) {
		t.Errorf("re-login while the login page says to come back in an hour = %v; want pool.Abort wrapping ErrLoginFailed once LoginOutage (3 s) has passed", err)
	}
}

// TestCloseEndsALoginWait: Close ends a re-login that waits a minute for
// its next try (the login page said Retry-After), rather than wait for it.
func TestCloseEndsALoginWait(t *testing.T) {
	t.Parallel()
	srv, s := outageSession(t, nil)
	srv.SetLoginDown(true)
	srv.SetLoginRetryAfter(time.Minute)
	hits := srv.LoginRequests()
	errs := make(chan error, 1)
	go func() { errs <- s.Relogin(t.Context(), s.Generation()) }()
	for srv.LoginRequests() == hits {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // the first try failed: the flight waits for the next
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	select {
	case err := <-errs:
		if err == nil {
			t.Error("Relogin after Close = nil; want an error")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Relogin still waits for its next login try 20 s after Close")
	}
}

// TestRelaunchThatHangsIsNoOutage: a relaunch whose browser never starts
// is no login outage, even while one is on record: the task whose time ran
// out while it waited for the relaunch gets a charged error, not an
// outage's uncharged requeue, which would rerun it for ever.
func TestRelaunchThatHangsIsNoOutage(t *testing.T) {
	t.Parallel()
	in := sessiontest.RequireBrowser(t)
	dir := t.TempDir()
	hang := filepath.Join(dir, "hang")
	wrapper := filepath.Join(dir, "chromium")
	script := fmt.Sprintf("#!/bin/sh\n[ -e %q ] && exec sleep 30\nexec %q \"$@\"\n", hang, in.Browser)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	srv, s := outageSession(t, func(c *session.Config) { c.Install, c.Install.Browser, c.Timeout = in, wrapper, 10*time.Second })
	// An outage on record: a re-login failed; the next try is due in 5 s.
	srv.SetLoginDown(true)
	if err := s.Relogin(t.Context(), s.Generation()); !errors.As(err, new(*session.LoginDownError)) {
		t.Fatalf("re-login while the login is down = %v; want a *LoginDownError", err)
	}
	srv.SetLoginDown(false)
	time.Sleep(6 * time.Second)
	if err := os.WriteFile(hang, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sessiontest.KillBrowser(t, s)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	_, err := s.NewPage(ctx)
	var down *session.LoginDownError
	if err == nil || errors.As(err, &down) || pool.IsRequeue(err) {
		t.Errorf("NewPage while the relaunch hangs = %v; want a charged error, no login outage", err)
	}
}

// TestRelaunchDuringALoginOutage: the browser crashes while the login
// page is down; the relaunch's login fails, and NewPage (the pool's page
// factory) says so as an outage — a requeue the pool does not count
// against its page attempts — and once the login is back, the next
// relaunch logs in.
func TestRelaunchDuringALoginOutage(t *testing.T) {
	t.Parallel()
	srv, s := outageSession(t, nil)
	ctx := t.Context()
	srv.SetLoginDown(true)
	sessiontest.KillBrowser(t, s)
	_, err := s.NewPage(ctx)
	var down *session.LoginDownError
	if !pool.IsRequeue(err) || !errors.As(err, &down) || !errors.Is(err, session.ErrLoginFailed) {
		t.Fatalf("NewPage after a crash while the login is down = %v; want pool.Requeue of a *LoginDownError", err)
	}
	srv.SetLoginDown(false)
	page, err := s.NewPage(ctx)
	if err != nil {
		t.Fatalf("NewPage once the login is back: %v", err)
	}
	defer s.ClosePage(page)
	if _, err := s.Goto(ctx, page, srv.ItemURL("A"), session.Expect{}); err != nil {
		t.Errorf("Goto after the relaunch: %v", err)
	}
}

// TestLoginThatHangsRequeues: a re-login whose login page never answers
// outlasts the task that started it; the task is requeued uncharged (a
// *LoginDownError), not failed with its deadline.
func TestLoginThatHangsRequeues(t *testing.T) {
	t.Parallel()
	srv := sessiontest.NewServer(t)
	s := sessiontest.Open(t, srv.Config())
	srv.SetLoginHang(true)
	t.Cleanup(func() { srv.SetLoginHang(false) })
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	err := s.Relogin(ctx, s.Generation())
	var down *session.LoginDownError
	if !pool.IsRequeue(err) || !errors.As(err, &down) {
		t.Errorf("re-login that outlasts the task = %v; want pool.Requeue of a *LoginDownError", err)
	}
}

// TestCrashRecovery kills chromium while 4 pages work: the session must
// relaunch it once, log in again, and every task must still finish.
func TestCrashRecovery(t *testing.T) {
	t.Parallel()
	srv := sessiontest.NewServer(t)
	s := sessiontest.Open(t, srv.Config())
	ctx := t.Context()
	f := s.Pages()
	dead, err := f.New(ctx) // a page the crash will kill, for the checks below
	if err != nil {
		t.Fatal(err)
	}
	gone := make(chan struct{})
	s.BrowserContext().Browser().OnDisconnected(func(playwright.Browser) { close(gone) })
	var visits atomic.Int64
	var once sync.Once
	visit := visit(s, srv)
	res := work(t, f, 4, ids(24), func(ctx context.Context, page playwright.Page, id string) error {
		if visits.Add(1) == 8 {
			once.Do(func() { sessiontest.KillBrowser(t, s) })
		}
		return visit(ctx, page, id)
	})
	allDone(t, res)
	<-gone

	// What the pool's recycling and watchdog rely on: on a dead browser,
	// Check requeues, Reset fails, and Close returns at once.
	if err := s.Check(ctx, dead); !pool.IsRequeue(err) || !errors.Is(err, session.ErrDisconnected) {
		t.Errorf("Check = %v; want pool.Requeue(ErrDisconnected)", err)
	}
	if err := f.Reset(ctx, dead); err == nil {
		t.Error("Reset of a dead browser's page succeeded")
	}
	// Close must not wait for the dead browser: a hang would last the 30 s
	// default timeout, far beyond what any load makes of 10 s.
	start := time.Now()
	if err := f.Close(dead); err != nil || time.Since(start) > 10*time.Second {
		t.Errorf("Close = %v after %v; want nil, without waiting for the dead browser", err, time.Since(start))
	}
	if st := s.Stats(); st.Relaunches != 1 || st.Logins != 2 {
		t.Errorf("Stats = %+v, want 1 relaunch and 2 logins", st)
	}
	page, err := s.NewPage(ctx)
	if err != nil {
		t.Fatalf("NewPage after recovery: %v", err)
	}
	if err := visit(ctx, page, "AFTER"); err != nil {
		t.Errorf("page after recovery: %v", err)
	}
	if resp, err := s.Fetch(ctx, srv.PDFURL("AFTER")); err != nil || resp.StatusCode != 200 {
		t.Errorf("Request() after recovery: %v", err)
	}
}

func TestStorageState(t *testing.T) {
	t.Parallel()
	srv := sessiontest.NewServer(t)
	cfg := srv.Config()
	cfg.StorageState = filepath.Join(t.TempDir(), "state.json")
	var logs syncBuffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	defer func() {
		if strings.Contains(logs.String(), srv.Password) {
			t.Errorf("the password appears in the logs:\n%s", logs.String())
		}
	}()

	open := func() *session.Session { return sessiontest.Open(t, cfg) }
	s := open()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(cfg.StorageState)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
	}
	if b, _ := os.ReadFile(cfg.StorageState); bytes.Contains(b, []byte(srv.Password)) || !bytes.Contains(b, []byte("sid")) {
		t.Errorf("state file holds the password or no session cookie:\n%s", b)
	}

	s = open() // reuses the state: no login
	if got, st := srv.LoginPosts(), s.Stats(); got != 1 || st.Logins != 0 {
		t.Errorf("%d logins at the server, %d by the session; want the state reused", got, st.Logins)
	}
	allDone(t, work(t, s.Pages(), 1, ids(1), visit(s, srv)))
	s.Close()

	srv.Expire()
	s = open() // the state is stale: HomeURL shows the login page, so log in
	if got := srv.LoginPosts(); got != 2 {
		t.Errorf("%d logins at the server, want 2", got)
	}
	allDone(t, work(t, s.Pages(), 1, ids(1), visit(s, srv)))
}

// TestBlocking blocks images by type and the stylesheet by URL: no asset
// reaches the server (the font is never asked for without the stylesheet).
// Its login fails once, transiently, and is retried.
func TestBlocking(t *testing.T) {
	t.Parallel()
	srv := sessiontest.NewServer(t)
	cfg := srv.Config()
	cfg.Block, cfg.BlockTypes, cfg.BlockURLs = true, []string{"image"}, []string{"**/*.css"}
	var calls atomic.Int32
	login := cfg.Login
	cfg.Login = func(ctx context.Context, page playwright.Page) error {
		if calls.Add(1) == 1 {
			return errors.New("connection reset") // transient: retried
		}
		return login(ctx, page)
	}
	cfg.NewBackOff = func() backoff.BackOff { return &backoff.ZeroBackOff{} }
	s := sessiontest.Open(t, cfg)
	if calls.Load() != 2 || s.Stats().Logins != 1 {
		t.Errorf("%d login calls, %d logins; want a retry and one login", calls.Load(), s.Stats().Logins)
	}
	allDone(t, work(t, s.Pages(), 1, ids(2), visit(s, srv)))
	if got := srv.Assets(); got != 0 {
		t.Errorf("%d asset requests reached the server, want 0", got)
	}
	if got := s.Stats().Blocked; got < 2 { // images are not even requested
		t.Errorf("Stats().Blocked = %d, want ≥ 2 (2 visits × stylesheet)", got)
	}
}

// TestBlockedImagesAreNotRequested: a launched browser that blocks images
// does not request them at all, rather than have each request aborted by a
// round trip through the driver and this process.
func TestBlockedImagesAreNotRequested(t *testing.T) {
	srv := sessiontest.NewServer(t)
	cfg := srv.Config()
	cfg.Block, cfg.BlockTypes = true, []string{"image"}
	s := sessiontest.Open(t, cfg)
	allDone(t, work(t, s.Pages(), 1, ids(2), func(ctx context.Context, page playwright.Page, id string) error {
		if err := visit(s, srv)(ctx, page, id); err != nil {
			return err
		}
		loaded, err := page.Evaluate(`() => document.querySelector("img").naturalWidth > 0`)
		if err != nil || loaded != false {
			return fmt.Errorf("image loaded: %v, %v", loaded, err)
		}
		return nil
	}))
	if got := s.Stats().Blocked; got != 0 {
		t.Errorf("Stats().Blocked = %d: the images were requested (and aborted)", got)
	}
}

// TestBlockingKeepsTheDevice: blocking images by a launch switch does not
// change the device a page sees. Headless, Playwright passes its own
// --blink-settings (a mouse: hover and a fine pointer); a second
// --blink-settings replaces the first, and sites that show their buttons
// only to a mouse would hide them.
func TestBlockingKeepsTheDevice(t *testing.T) {
	srv := sessiontest.NewServer(t)
	const probe = `() => [matchMedia("(hover: hover)").matches, matchMedia("(pointer: fine)").matches]`
	device := func(block bool) string {
		cfg := srv.Config()
		cfg.Block, cfg.BlockTypes = block, []string{"image"}
		s := sessiontest.Open(t, cfg)
		var got string
		allDone(t, work(t, s.Pages(), 1, ids(1), func(ctx context.Context, page playwright.Page, id string) error {
			if err := visit(s, srv)(ctx, page, id); err != nil {
				return err
			}
			v, err := page.Evaluate(probe)
			got = fmt.Sprint(v)
			return err
		}))
		return got
	}
	plain, blocking := device(false), device(true)
	if plain != "[true true]" || blocking != plain {
		t.Errorf("hover, fine pointer: %s without blocking, %s blocking images; want [true true] both", plain, blocking)
	}
}

// TestCloseLeavesNothing runs a session with two pages, then checks that
// Close ends chromium, the driver and chromium's crash handlers (which
// re-parent themselves to PID 1).
func TestCloseLeavesNothing(t *testing.T) { // not parallel: the last session to close stops the shared driver
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	srv := sessiontest.NewServer(t)
	s := sessiontest.Open(t, srv.Config())
	allDone(t, work(t, s.Pages(), 2, ids(4), visit(s, srv)))
	if got := srv.LoginPosts(); got != 1 {
		t.Errorf("%d logins, want 1", got)
	}
	if st := s.Stats(); st.Logins != 1 || st.Generation != 1 || st.Pages != 0 || st.Blocked != 0 {
		t.Errorf("Stats = %+v, want 1 login, generation 1, no open pages, nothing blocked", st)
	}
	if srv.Assets() == 0 {
		t.Error("no asset requests reached the server without blocking")
	}
	driver, browser := s.DriverPID(), sessiontest.BrowserPID(t, s)
	tree, err := session.Descendants(browser)
	if err != nil || len(tree) < 2 {
		t.Fatalf("chromium's process tree %v, %v: want its zygotes, renderers…", tree, err)
	}
	tree = append(tree, browser)
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", browser))
	if err != nil {
		t.Fatal(err)
	}
	var config string // chromium's XDG_CONFIG_HOME, named by its crash handlers' command lines
	for kv := range bytes.SplitSeq(env, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("XDG_CONFIG_HOME=")); ok {
			config = string(v)
		}
	}
	if config == "" {
		t.Fatal("chromium runs without a private XDG_CONFIG_HOME")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second) // SIGKILLed processes need a moment to become zombies
	for {
		left := liveProcesses(t, append(tree, driver), config)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes left after Close: %v", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(config); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("session directory %s left behind: %v", config, err)
	}
}

// liveProcesses lists processes among pids, or whose command line holds
// marker, that are neither gone nor zombies.
func liveProcesses(t *testing.T, pids []int, marker string) []string {
	t.Helper()
	all, _ := filepath.Glob("/proc/[0-9]*")
	var left []string
	for _, dir := range all {
		var pid int
		fmt.Sscan(filepath.Base(dir), &pid)
		cmd, _ := os.ReadFile(dir + "/cmdline")
		mine := bytes.Contains(cmd, []byte(marker))
		for _, p := range pids {
			mine = mine || p == pid
		}
		if !mine {
			continue
		}
		stat, err := os.ReadFile(dir + "/stat")
		if i := bytes.LastIndexByte(stat, ')'); err == nil && i > 0 && i+2 < len(stat) && stat[i+2] != 'Z' {
			left = append(left, fmt.Sprintf("%d %.80s", pid, bytes.ReplaceAll(cmd, []byte{0}, []byte{' '})))
		}
	}
	return left
}

func TestTreePSS(t *testing.T) {
	t.Parallel()
	got, err := session.TreePSS(os.Getpid())
	if runtime.GOOS != "linux" {
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("TreePSS = %v; want ErrUnsupported", err)
		}
		return
	}
	if err != nil || got < 1<<20 {
		t.Errorf("TreePSS(self) = %d, %v; want at least 1 MiB", got, err)
	}
	if _, err := session.TreePSS(1 << 30); err == nil {
		t.Error("TreePSS of a non-existent process succeeded")
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	ms := func(f *float64) float64 { return *f }
	if got := ms(session.Timeout(context.Background(), 5*time.Second)); got != 5000 {
		t.Errorf("no deadline: %v, want the cap", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if got := ms(session.Timeout(ctx, time.Minute)); got > 1000 || got < 500 {
		t.Errorf("deadline in 1s: %v", got)
	}
	if got := ms(session.Timeout(ctx, 0)); got > 1000 || got < 500 {
		t.Errorf("deadline, no cap: %v", got)
	}
	done, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	if got := ms(session.Timeout(done, time.Minute)); got != 1 {
		t.Errorf("past deadline: %v, want 1 (0 would mean none)", got)
	}
}

func TestSamePage(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"http://h/login", "http://h/login?next=/x", true},
		{"http://H/login/", "http://h/login", true},
		{"http://h/login", "http://h/logout", false},
		{"http://h:1/login", "http://h:2/login", false},
		{"about:blank", "http://h/login", false},
	} {
		if got := session.SamePage(tt.a, tt.b); got != tt.want {
			t.Errorf("SamePage(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		cfg   session.Config
		field string
	}{
		{session.Config{LoginAttempts: -1}, "LoginAttempts"},
		{session.Config{Timeout: -time.Second}, "Timeout"},
		{session.Config{Endpoint: "http://x"}, "Endpoint"},
		{session.Config{LoginURL: "/login"}, "LoginURL"},
	} {
		if _, err := session.Open(context.Background(), tt.cfg); err == nil || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("Open(%+v) = %v; want an error naming %s", tt.cfg, err, tt.field)
		}
	}
}

// TestRemote connects to a Playwright browser server instead of launching.
func TestRemote(t *testing.T) {
	t.Parallel()
	srv := sessiontest.NewServer(t)
	cfg := srv.Config()
	cfg.Endpoint = sessiontest.BrowserServer(t)
	s := sessiontest.Open(t, cfg)
	allDone(t, work(t, s.Pages(), 2, ids(4), visit(s, srv)))
	if pid := s.BrowserPID(); pid != 0 {
		t.Errorf("the session's browser is a local child (pid %d); want the server's", pid)
	}
	if got := srv.LoginPosts(); got != 1 {
		t.Errorf("%d logins, want 1", got)
	}
}

// syncBuffer is a bytes.Buffer for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestZeroConfig: the zero Config launches headless chromium, no login.
func TestZeroConfig(t *testing.T) {
	t.Parallel()
	srv := sessiontest.NewServer(t)
	s := sessiontest.Open(t, session.Config{})
	page, err := s.NewPage(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer s.ClosePage(page)
	if _, err := page.Goto(srv.ItemURL("A")); err != nil { // redirected to the login form
		t.Fatal(err)
	}
	if err := s.Check(t.Context(), page); err != nil {
		t.Errorf("Check = %v; without LoginURL nothing looks logged out", err)
	}
	if st := s.Stats(); st.Logins != 0 || st.Generation != 1 || srv.LoginPosts() != 0 {
		t.Errorf("Stats = %+v after %d logins at the server; want none", st, srv.LoginPosts())
	}
}

// TestLoginThatHangsEnds: a re-login whose LoginFunc never returns (nor
// heeds its context) — as a login page whose close the driver never
// confirmed did in a loaded e2e run, holding every worker for 10 minutes —
// is abandoned after twice Config.Timeout, and the next try logs in.
func TestLoginThatHangsEnds(t *testing.T) {
	t.Parallel()
	srv := sessiontest.NewServer(t)
	cfg := srv.Config()
	cfg.Timeout = 5 * time.Second
	cfg.NewBackOff = func() backoff.BackOff { return &backoff.ZeroBackOff{} }
	login, stuck := cfg.Login, make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	var calls atomic.Int64
	cfg.Login = func(ctx context.Context, page playwright.Page) error {
		if calls.Add(1) == 2 {
			<-stuck // the first re-login hangs for good
		}
		return login(ctx, page)
	}
	s := sessiontest.Open(t, cfg)
	done := make(chan error, 1)
	go func() { done <- s.Relogin(context.Background(), s.Generation()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Relogin = %v, want the second try to log in", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("a re-login whose LoginFunc hangs never ended")
	}
	if n := calls.Load(); n < 3 {
		t.Errorf("%d logins, want the first, the hung one and one that worked", n)
	}
}

// TestReloginOutlivesTheRequestThatStartedIt: a re-login started by a
// request with a 1 s timeout takes 3 s; it finishes — every worker waits for
// it — instead of being cancelled with that request and started over by the
// next (under load, a listing with 2 s requests never got logged in again).
func TestReloginOutlivesTheRequestThatStartedIt(t *testing.T) {
	t.Parallel()
	srv := sessiontest.NewServer(t)
	cfg := srv.Config()
	login := cfg.Login
	var calls atomic.Int64
	cfg.Login = func(ctx context.Context, page playwright.Page) error {
		if calls.Add(1) > 1 {
			select { // a slow re-login that heeds its context
			case <-time.After(3 * time.Second):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return login(ctx, page)
	}
	s := sessiontest.Open(t, cfg)
	srv.Expire()
	_, err := s.Get(t.Context(), srv.ItemURL("A"), session.Expect{Timeout: time.Second})
	if !pool.IsRequeue(err) || !errors.Is(err, session.ErrLoggedOut) {
		t.Errorf("Get while logged out = %v, want a requeued ErrLoggedOut after the re-login", err)
	}
	if st := s.Stats(); st.Logins != 2 || calls.Load() != 2 {
		t.Errorf("%d logins (%d tried), want 2: the first and one re-login", st.Logins, calls.Load())
	}
	if _, err := s.Get(t.Context(), srv.ItemURL("A"), session.Expect{Timeout: 10 * time.Second}); err != nil {
		t.Errorf("Get after the re-login = %v", err)
	}
}
