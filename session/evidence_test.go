package session_test

import (
	"archive/zip"
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	playwright "github.com/mxschmitt/playwright-go"

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
}
