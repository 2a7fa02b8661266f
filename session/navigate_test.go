package session_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/pagefleet/pagefleet/pool"
	"github.com/pagefleet/pagefleet/session"
	"github.com/pagefleet/pagefleet/session/sessiontest"
)

// TestGotoVerdicts: one call opens a page and tells what came back.
func TestGotoVerdicts(t *testing.T) {
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
	srv.SetFault("E404", sessiontest.FaultPage404)
	srv.SetFault("ERRP", sessiontest.FaultPageError)
	srv.SetFault("NOBT", sessiontest.FaultPageNoButton)
	exp := session.Expect{ErrorPage: "h1#error", Ready: "#download"}
	var perm *backoff.PermanentError
	var st *session.StatusError
	var ep *session.ErrorPageError
	for _, tc := range []struct {
		id    string
		check func(error) bool
		want  string
	}{
		{"OK", func(err error) bool { return err == nil }, "nil"},
		{"LATE", func(err error) bool { return err == nil }, "nil"}, // #download is there from the start; #late after 300 ms
		{"E500", func(err error) bool { return errors.As(err, &st) && st.Code == 500 && !errors.As(err, &perm) }, "StatusError 500, retryable"},
		{"E404", func(err error) bool { return errors.Is(err, session.ErrStatus) && errors.As(err, &perm) }, "StatusError 404, permanent"},
		{"ERRP", func(err error) bool { return errors.As(err, &ep) && strings.Contains(ep.Text, "Something went wrong") }, "ErrorPageError"},
		{"NOBT", func(err error) bool { return errors.Is(err, session.ErrNotReady) }, "ErrNotReady"},
	} {
		_, err := s.Goto(ctx, page, srv.ItemURL(tc.id), exp)
		if !tc.check(err) {
			t.Errorf("%s: Goto = %v, want %s", tc.id, err, tc.want)
		}
	}
	// Script-drawn content: Ready waits for it.
	if _, err := s.Goto(ctx, page, srv.ItemURL("X"), session.Expect{Ready: "#late"}); err != nil {
		t.Errorf("Ready of a late element: %v", err)
	}
	// Logged out: one re-login, and a requeue; the next visit works.
	srv.Expire()
	_, err = s.Goto(ctx, page, srv.ItemURL("A"), exp)
	if !pool.IsRequeue(err) || !errors.Is(err, session.ErrLoggedOut) {
		t.Errorf("after a logout: %v, want pool.Requeue(ErrLoggedOut)", err)
	}
	if _, err := s.Goto(ctx, page, srv.ItemURL("A"), exp); err != nil {
		t.Errorf("after the re-login: %v", err)
	}
	if got := srv.LoginPosts(); got != 2 {
		t.Errorf("%d logins, want 2", got)
	}
}

// TestFetchAndGet: requests without a page carry the session's cookies,
// stream, stop when their context ends, and notice a logout.
func TestFetchAndGet(t *testing.T) {
	t.Parallel()
	srv := sessiontest.NewServer(t)
	s := sessiontest.Open(t, srv.Config())
	ctx := t.Context()

	resp, err := s.Fetch(ctx, srv.PDFURL("A"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "%PDF-") || resp.Header.Get("User-Agent") != "" {
		t.Errorf("Fetch: %d %q", resp.StatusCode, body[:min(len(body), 20)])
	}
	if ua := resp.Request.Header.Get("User-Agent"); !strings.Contains(ua, "Chrome") {
		t.Errorf("Fetch sent user agent %q, want the browser's", ua)
	}

	doc, err := s.Get(ctx, srv.ItemURL("A"), session.Expect{Ready: "#download", ErrorPage: "h1#error"})
	if err != nil || doc.Find("h1").Text() != "Vehicle A" {
		t.Fatalf("Get: %v", err)
	}
	srv.SetFault("E500", sessiontest.FaultPage500)
	if _, err := s.Get(ctx, srv.ItemURL("E500"), session.Expect{}); !errors.Is(err, session.ErrStatus) {
		t.Errorf("Get of a 500: %v", err)
	}
	srv.SetFault("ERRP", sessiontest.FaultPageError)
	if _, err := s.Get(ctx, srv.ItemURL("ERRP"), session.Expect{ErrorPage: "h1#error"}); !errors.Is(err, session.ErrErrorPage) {
		t.Errorf("Get of an error page: %v", err)
	}

	srv.Expire()
	if _, err := s.Get(ctx, srv.ItemURL("A"), session.Expect{}); !pool.IsRequeue(err) || !errors.Is(err, session.ErrLoggedOut) {
		t.Errorf("Get after a logout: %v, want pool.Requeue(ErrLoggedOut)", err)
	}
	if _, err := s.Get(ctx, srv.ItemURL("A"), session.Expect{Ready: "#download"}); err != nil {
		t.Errorf("Get after the re-login: %v", err)
	}

	// A hung request ends with its context, not at some timeout of its own.
	srv.SetFault("HANG", sessiontest.FaultHang)
	hctx, cancel := context.WithCancel(ctx)
	go func() {
		for srv.PDFs() < 2 { // the hung request has reached the server
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	_, err = s.Fetch(hctx, srv.PDFURL("HANG"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Fetch of a hung PDF, cancelled: %v", err)
	}
}

// TestReloginRetriesAnExpiredForm: a re-login refused as an expired form
// (the race other pages cause by visiting the login page) is tried again;
// nothing is fatal. A first login refused that way is retried too.
func TestReloginRetriesAnExpiredForm(t *testing.T) {
	t.Parallel()
	srv := sessiontest.NewServer(t)
	cfg := srv.Config()
	cfg.NewBackOff = func() backoff.BackOff { return &backoff.ZeroBackOff{} }
	srv.RefuseLogins(1)
	s := sessiontest.Open(t, cfg) // refused once, then in
	ctx := t.Context()
	page, err := s.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.ClosePage(page)
	srv.Expire()
	srv.RefuseLogins(2)
	if _, err := s.Goto(ctx, page, srv.ItemURL("A"), session.Expect{}); !pool.IsRequeue(err) {
		t.Fatalf("Goto after a logout: %v, want a requeue after the re-login", err)
	}
	if _, err := s.Goto(ctx, page, srv.ItemURL("A"), session.Expect{Ready: "#download"}); err != nil {
		t.Errorf("after the re-login: %v", err)
	}
	if got := srv.LoginPosts(); got != 5 {
		t.Errorf("%d login posts, want 5 (1 refused + 1, then 2 refused + 1)", got)
	}
}

// TestCrashRecoveryWithoutPages: a dead browser, then a dead driver, found
// by requests without a page: each is relaunched and logged in once.
func TestCrashRecoveryWithoutPages(t *testing.T) {
	t.Parallel()
	srv := sessiontest.NewServer(t)
	cfg := srv.Config()
	cfg.Install = sessiontest.OwnDriver(t) // killed below: not the driver other tests use
	s := sessiontest.Open(t, cfg)
	ctx := t.Context()
	get := func(what string) {
		t.Helper()
		doc, err := s.Get(ctx, srv.ItemURL("A"), session.Expect{Ready: "#download"})
		if pool.IsRequeue(err) { // the crash was noticed now: the next try works
			doc, err = s.Get(ctx, srv.ItemURL("A"), session.Expect{Ready: "#download"})
		}
		if err != nil || doc.Status != http.StatusOK {
			t.Fatalf("%s: Get = %v", what, err)
		}
	}
	get("before")
	sessiontest.KillBrowser(t, s)
	for s.Stats().Relaunches == 0 { // a dead browser is noticed at the next use
		get("after killing chromium")
	}
	sessiontest.KillDriver(t, s)
	page, err := s.NewPage(ctx) // finds the driver dead: restarts it, relaunches, logs in
	if err != nil {
		t.Fatalf("NewPage after killing the driver: %v", err)
	}
	defer s.ClosePage(page)
	if _, err := s.Goto(ctx, page, srv.ItemURL("B"), session.Expect{Ready: "#download"}); err != nil {
		t.Errorf("Goto after the driver restart: %v", err)
	}
	get("after killing the driver")
	if st := s.Stats(); st.Relaunches != 2 || st.Logins != 3 {
		t.Errorf("Stats = %+v, want 2 relaunches, 3 logins", st)
	}
}

// TestTabs: a pool of tabs opens a page only for the tasks that ask for one.
func TestTabs(t *testing.T) {
	t.Parallel()
	srv := sessiontest.NewServer(t)
	s := sessiontest.Open(t, srv.Config())
	var maxPages atomic.Int64
	p, err := pool.New(pool.Config[*session.Tab]{Factory: s.Tabs(), Workers: 4, Logger: sessiontest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		id := fmt.Sprint("T", i)
		p.Submit(pool.Task[*session.Tab]{Key: id, Run: func(ctx context.Context, tab *session.Tab) (any, error) {
			if i < 10 { // fetch only: no page
				_, err := s.Get(ctx, srv.ItemURL(id), session.Expect{Ready: "#download"})
				return nil, err
			}
			page, err := tab.Page(ctx)
			if err != nil {
				return nil, err
			}
			if n := int64(s.Stats().Pages); n > maxPages.Load() {
				maxPages.Store(n)
			}
			_, err = s.Goto(ctx, page, srv.ItemURL(id), session.Expect{Ready: "#download"})
			return nil, err
		}})
	}
	p.CloseQueue()
	if err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Done != 20 {
		t.Errorf("pool: %+v", st)
	}
	if n := maxPages.Load(); n < 1 || n > 4 {
		t.Errorf("%d pages open at most, want 1..4 (one per worker that needed one)", n)
	}
	if n := s.Stats().Pages; n != 0 {
		t.Errorf("%d pages left open", n)
	}
}
