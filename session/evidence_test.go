package session_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	playwright "github.com/mxschmitt/playwright-go"

	"github.com/pagefleet/pagefleet/pool"
	"github.com/pagefleet/pagefleet/session"
	"github.com/pagefleet/pagefleet/session/sessiontest"
)

// TestEvidence: what a page showed when it failed — screenshot, HTML,
// status, requests, console errors.
func TestEvidence(t *testing.T) {
	t.Parallel()
	srv := sessiontest.NewServer(t)
	s := sessiontest.Open(t, srv.Config())
	ctx := t.Context()
	page, err := s.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.ClosePage(page)
	srv.SetFault("E500", sessiontest.FaultPage500)
	if _, err := s.Goto(ctx, page, srv.ItemURL("E500"), session.Expect{}); err == nil {
		t.Fatal("Goto of a 500 succeeded")
	}
	page.Evaluate(`() => { console.error("the sticker service is down"); setTimeout(() => { throw new Error("boom") }, 0) }`)
	ev, err := s.Evidence(ctx, page)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Status != 500 || !strings.Contains(ev.HTML, "Oops") || ev.Title != "Internal error" || !bytes.HasPrefix(ev.Screenshot, []byte{0xFF, 0xD8}) {
		t.Errorf("evidence: status %d, title %q, %d bytes of HTML, %d of screenshot", ev.Status, ev.Title, len(ev.HTML), len(ev.Screenshot))
	}
	if len(ev.Requests) == 0 || ev.Requests[0].Status != 500 || !strings.HasSuffix(ev.Requests[0].URL, "/item/E500") {
		t.Errorf("requests %+v", ev.Requests)
	}
	if len(ev.Console) == 0 || !strings.Contains(strings.Join(ev.Console, "|"), "the sticker service is down") {
		t.Errorf("console %q", ev.Console)
	}
}

// TestEvidenceOfAHungPage: a page whose navigation never answered still
// gives evidence — what it showed before, and that it was loading — at
// once, not after the evidence's own timeout.
func TestEvidenceOfAHungPage(t *testing.T) {
	t.Parallel()
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hang" {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
			return
		}
		fmt.Fprint(w, "<title>Before</title><h1>the page before</h1>")
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(hang) })
	s := sessiontest.Open(t, session.Config{})
	ctx := t.Context()
	page, err := s.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.ClosePage(page)
	if _, err := s.Goto(ctx, page, srv.URL+"/before", session.Expect{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Goto(ctx, page, srv.URL+"/hang", session.Expect{Timeout: time.Second}); !errors.Is(err, playwright.ErrTimeout) {
		t.Fatalf("Goto of a page that hangs: %v", err)
	}
	ectx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	ev, err := s.Evidence(ectx, page)
	if err != nil {
		t.Fatal(err)
	}
	if ectx.Err() != nil || ev.Screenshot == nil || !strings.Contains(ev.HTML, "the page before") {
		t.Errorf("evidence: %d bytes of screenshot, HTML %q; its timeout passed: %v", len(ev.Screenshot), ev.HTML, ectx.Err())
	}
}

// TestTrace: a replay in a context of its own, logged in, saved as a
// Playwright trace.
func TestTrace(t *testing.T) {
	t.Parallel()
	srv := sessiontest.NewServer(t)
	s := sessiontest.Open(t, srv.Config())
	path := filepath.Join(t.TempDir(), "trace.zip")
	var title string
	err := s.Trace(t.Context(), path, func(ctx context.Context, page playwright.Page) error {
		if _, err := s.Goto(ctx, page, srv.ItemURL("T1"), session.Expect{Ready: "#download"}); err != nil {
			return err
		}
		title, _ = page.Title()
		return nil
	})
	if err != nil || title != "Vehicle T1" {
		t.Fatalf("Trace: %v, title %q (want the logged-in item page)", err, title)
	}
	z, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	names := map[string]bool{}
	for _, f := range z.File {
		names[f.Name] = true
	}
	if !names["trace.trace"] || !names["trace.network"] {
		t.Errorf("trace.zip holds %v", names)
	}
	if got := srv.LoginPosts(); got != 1 {
		t.Errorf("%d logins: the trace's context should reuse the session's cookies", got)
	}
	cookies, err := s.BrowserContext().Cookies()
	if err != nil || len(cookies) == 0 {
		t.Fatalf("the session's cookies: %v, %v", cookies, err)
	}
	files := noCookieValues(t, &z.Reader, cookies)
	if !bytes.Contains(files["trace.network"], []byte(session.Redacted)) {
		t.Errorf("trace.network shows no %s cookie: were the requests' headers recorded?", session.Redacted)
	}
}

// noCookieValues checks that no file of a trace holds a cookie's value,
// and returns the files' contents by name.
func noCookieValues(t *testing.T, z *zip.Reader, cookies []playwright.Cookie) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, f := range z.File {
		r, _ := f.Open()
		b, _ := io.ReadAll(r)
		r.Close()
		files[f.Name] = b
		for _, c := range cookies {
			if bytes.Contains(b, []byte(c.Value)) {
				t.Errorf("the trace's %s holds the value of cookie %s", f.Name, c.Name)
			}
		}
	}
	return files
}

// TestTraceAfterALogout: a replay whose cookies expired is logged in
// again and run once more, in the same trace, without the new cookie.
func TestTraceAfterALogout(t *testing.T) {
	t.Parallel()
	srv := sessiontest.NewServer(t)
	s := sessiontest.Open(t, srv.Config())
	srv.Expire()
	path := filepath.Join(t.TempDir(), "trace.zip")
	runs := 0
	err := s.Trace(t.Context(), path, func(ctx context.Context, page playwright.Page) error {
		runs++
		_, err := s.Goto(ctx, page, srv.ItemURL("T1"), session.Expect{Ready: "#download"})
		return err
	})
	if err != nil || runs != 2 || srv.LoginPosts() != 2 {
		t.Fatalf("Trace after a logout: %v, %d runs, %d logins; want success at the second run after one re-login", err, runs, srv.LoginPosts())
	}
	cookies, _ := s.BrowserContext().Cookies()
	z, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	noCookieValues(t, &z.Reader, cookies) // the new cookie's too
}

// TestLearnedTimeouts: after a few quick answers, a request that hangs —
// before its answer, or in the middle of its body — fails with a
// TimeoutError after the learned timeout, not the minute it was allowed;
// the same for a page navigation.
func TestLearnedTimeouts(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hang":
			<-r.Context().Done()
		case "/stall":
			w.Write(bytes.Repeat([]byte("x"), 4096))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		default:
			fmt.Fprint(w, "<title>quick</title>quick")
		}
	}))
	t.Cleanup(srv.Close)
	s := sessiontest.Open(t, session.Config{MinTimeout: 500 * time.Millisecond})
	ctx := t.Context()
	for range 3 {
		resp, err := s.FetchWithin(ctx, "file", srv.URL+"/quick", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if st := s.Timeouts()["file"]; st.Samples != 3 || st.Timeout >= time.Minute {
		t.Fatalf("learned %+v from 3 answers", st)
	}
	start := time.Now()
	_, err := s.FetchWithin(ctx, "file", srv.URL+"/hang", time.Minute)
	var te *session.TimeoutError
	if !errors.As(err, &te) || te.Stalled || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 30*time.Second {
		t.Errorf("a hung request: %v after %v, want a TimeoutError after the learned timeout", err, time.Since(start))
	}
	resp, err := s.FetchWithin(ctx, "file", srv.URL+"/stall", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if !errors.As(err, &te) || !te.Stalled || n != 4096 {
		t.Errorf("a body that stalls after %d bytes: %v, want a stalled TimeoutError", n, err)
	}

	page, err := s.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.ClosePage(page)
	for range 3 {
		if _, err := s.Goto(ctx, page, srv.URL+"/quick", session.Expect{Kind: "quick page", Timeout: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	start = time.Now()
	if _, err := s.Goto(ctx, page, srv.URL+"/hang", session.Expect{Kind: "quick page", Timeout: time.Minute}); !errors.Is(err, playwright.ErrTimeout) || time.Since(start) > 30*time.Second {
		t.Errorf("a hung navigation: %v after %v, want a timeout after the learned timeout", err, time.Since(start))
	}
}

// TestTimeoutDuringRelogin: a navigation that times out while the session
// logs in again (pages are redirected, the browser is busy) is requeued,
// not charged, and does not double the learned timeout; the same timeout
// with no login about is charged and learned.
func TestTimeoutDuringRelogin(t *testing.T) {
	t.Parallel()
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(hang.Close)
	srv := sessiontest.NewServer(t)
	cfg := srv.Config()
	login, entered, release := cfg.Login, make(chan struct{}), make(chan struct{})
	var logins atomic.Int64
	cfg.Login = func(ctx context.Context, page playwright.Page) error {
		if logins.Add(1) == 2 { // the re-login: held until the navigation has timed out
			close(entered)
			<-release
		}
		return login(ctx, page)
	}
	s := sessiontest.Open(t, cfg)
	ctx := t.Context()
	page, err := s.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.ClosePage(page)
	if _, err := s.Goto(ctx, page, srv.ItemURL("A"), session.Expect{Ready: "#download"}); err != nil {
		t.Fatal(err) // a latency sample: a timeout learned from it is below the ceiling
	}
	relogin := make(chan error, 1)
	go func() { relogin <- s.Relogin(ctx, s.Generation()) }()
	<-entered
	before := s.RTO("page").Stats().Timeout
	exp := session.Expect{Timeout: time.Second}
	_, err = s.Goto(ctx, page, hang.URL, exp)
	if !errors.Is(err, playwright.ErrTimeout) || !pool.IsRequeue(err) {
		t.Errorf("timed out during a re-login: %v, want a requeued timeout", err)
	}
	if after := s.RTO("page").Stats().Timeout; after != before {
		t.Errorf("the learned timeout went from %v to %v for a timeout during a re-login", before, after)
	}
	close(release)
	if err := <-relogin; err != nil {
		t.Fatal(err)
	}
	_, err = s.Goto(ctx, page, hang.URL+"/again", exp) // another URL: the first navigation may still be pending in the page
	if !errors.Is(err, playwright.ErrTimeout) || pool.IsRequeue(err) {
		t.Errorf("timed out with no login about: %v, want a charged timeout", err)
	}
	if after := s.RTO("page").Stats().Timeout; after <= before {
		t.Errorf("the learned timeout stayed %v after a timeout", after)
	}
}

// TestTraceHidesHTTPCredentials: a site behind HTTP basic authentication
// (Config.Context.HttpCredentials) gets an Authorization header with every
// request; the saved trace keeps neither it nor the password.
func TestTraceHidesHTTPCredentials(t *testing.T) {
	t.Parallel()
	const user, password = "dealer", "s3cret-basic-pw"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="portal"`)
			http.Error(w, "who are you?", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `<!doctype html><title>inside</title><p id=in>in</p>`)
	}))
	t.Cleanup(srv.Close)
	s := sessiontest.Open(t, session.Config{Context: playwright.BrowserNewContextOptions{
		HttpCredentials: &playwright.HttpCredentials{Username: user, Password: password}}})
	path := filepath.Join(t.TempDir(), "trace.zip")
	err := s.Trace(t.Context(), path, func(ctx context.Context, page playwright.Page) error {
		_, err := s.Goto(ctx, page, srv.URL, session.Expect{Ready: "#in"})
		return err
	})
	if err != nil {
		t.Fatalf("Trace: %v", err)
	}
	z, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	header := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	for _, f := range z.File {
		r, _ := f.Open()
		b, _ := io.ReadAll(r)
		r.Close()
		if bytes.Contains(b, []byte(header)) || bytes.Contains(b, []byte(password)) {
			t.Errorf("the trace's %s holds the basic-auth credentials", f.Name)
		}
	}
}
