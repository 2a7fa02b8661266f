package download_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	playwright "github.com/mxschmitt/playwright-go"

	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/pool"
	"github.com/pagefleet/pagefleet/session"
	"github.com/pagefleet/pagefleet/session/sessiontest"
)

// sticker is the Target for item id's PDF: valid, and with id in its text.
func sticker(dir, id string) download.Target {
	return download.Target{
		Dir: dir, Name: download.SafeName("sticker " + id + ".pdf"),
		Validate: []download.Validator{download.PDF(), download.PDFContains("VIN: " + id)},
		Timeout:  20 * time.Second,
	}
}

func open(ctx context.Context, s *session.Session, page playwright.Page, url string) error {
	if _, err := page.Goto(url, playwright.PageGotoOptions{Timeout: session.Timeout(ctx, 20*time.Second)}); err != nil {
		return err
	}
	return s.Check(ctx, page)
}

// TestConcurrentClick logs in once and downloads 40 PDFs with a pool of 8
// pages; each file must hold its own item's VIN.
func TestConcurrentClick(t *testing.T) {
	t.Parallel()
	srv := sessiontest.NewServer(t)
	s := sessiontest.Open(t, srv.Config())
	dir := t.TempDir()
	files := map[string]download.File{}
	p, err := pool.New(pool.Config[playwright.Page]{
		Factory: s.Pages(),
		Workers: 8,
		Logger:  sessiontest.Logger(t),
		OnResult: func(r pool.Result) {
			if r.Err != nil {
				t.Errorf("%s: %v", r.Key, r.Err)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	for i := range 40 {
		id := fmt.Sprintf("1FTEW1E5%09d", i)
		err := p.Submit(pool.Task[playwright.Page]{Key: id, Run: func(ctx context.Context, page playwright.Page) (any, error) {
			if err := open(ctx, s, page, srv.ItemURL(id)); err != nil {
				return nil, err
			}
			f, err := download.Click(ctx, page, download.Selector("#download"), sticker(dir, id))
			if err == nil {
				mu.Lock()
				files[id] = f
				mu.Unlock()
			}
			return f, err
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	p.CloseQueue()
	if err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(files) != 40 {
		t.Fatalf("%d files, want 40", len(files))
	}
	if got := srv.LoginPosts(); got != 1 {
		t.Errorf("%d logins, want 1", got)
	}
	sums := map[string]bool{}
	for id, file := range files {
		r, err := os.Open(file.Path)
		if err != nil {
			t.Fatal(err)
		}
		if err := download.PDFContains("VIN: "+id)(r, file.Size); err != nil {
			t.Errorf("%s: %s: %v", id, file.Path, err)
		}
		r.Close()
		sums[file.SHA256] = true
	}
	if len(sums) != 40 {
		t.Errorf("%d distinct SHA-256 sums, want 40", len(sums))
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 40 {
		t.Errorf("%d entries in the directory, want 40 (no temporary files)", len(entries))
	}
}

// TestClick covers the ways a click brings (or fails to bring) a file.
func TestClick(t *testing.T) {
	t.Parallel()
	srv := sessiontest.NewServer(t)
	s := sessiontest.Open(t, srv.Config())
	ctx := t.Context()
	page, err := s.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.ClosePage(page)
	srv.SetFault("HTML", sessiontest.FaultHTML)
	srv.SetFault("ERROR", sessiontest.FaultErrorPage)
	srv.SetFault("TRUNC", sessiontest.FaultTruncated)
	srv.SetFault("WRONG", sessiontest.FaultWrongPDF)
	for _, tt := range []struct {
		id, link string
		want     error // nil: saved
	}{
		{"OK", "#download", nil},
		{"INLINE", "#view", nil},
		{"TAB", "#open", nil},
		{"LATE", "#late", nil},
		{"HTML", "#download", download.ErrHTMLPage},
		{"HTML", "#open", download.ErrHTMLPage},
		{"ERROR", "#download", download.ErrHTMLPage},
		{"ERROR", "#view", download.ErrHTMLPage},
		{"TRUNC", "#download", download.ErrTruncated},
		{"TRUNC", "#open", download.ErrTruncated},
		{"WRONG", "#download", download.ErrContentMismatch},
		{"NOTHING", "h1", download.ErrNoDownload},
	} {
		t.Run(tt.id+tt.link, func(t *testing.T) {
			dir := t.TempDir()
			if err := open(ctx, s, page, srv.ItemURL(tt.id)); err != nil {
				t.Fatal(err)
			}
			dst := sticker(dir, tt.id)
			dst.Timeout = 5 * time.Second
			if tt.want == download.ErrNoDownload {
				dst.Timeout = time.Second
			}
			start := time.Now()
			f, err := download.Click(ctx, page, download.Selector(tt.link), dst)
			t.Logf("%v after %v", err, time.Since(start))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Click = %+v, %v; want %v", f, err, tt.want)
			}
			if n := len(page.Context().Pages()); n != 1 {
				t.Errorf("%d pages open after Click, want 1 (popups closed)", n)
			}
			if entries, _ := os.ReadDir(dir); (err == nil) != (len(entries) == 1) {
				t.Errorf("directory holds %d entries after Click = %v", len(entries), err)
			}
		})
	}
	t.Run("trigger fails", func(t *testing.T) {
		tctx, cancel := context.WithTimeout(ctx, 4*time.Second)
		defer cancel()
		_, err := download.Click(tctx, page, download.Selector("#no-such-link"), sticker(t.TempDir(), "X"))
		if err == nil || !strings.Contains(err.Error(), "no element matches #no-such-link") {
			t.Errorf("Click = %v; want the trigger's error", err)
		}
		if page.IsClosed() {
			t.Error("the page was closed")
		}
	})
	t.Run("mouse click", func(t *testing.T) {
		if err := open(ctx, s, page, srv.ItemURL("MOUSE")); err != nil {
			t.Fatal(err)
		}
		if _, err := download.Click(ctx, page, download.MouseClick("#download"), sticker(t.TempDir(), "MOUSE")); err != nil {
			t.Error(err)
		}
	})
}

// TestFetch downloads through the session's APIRequestContext, and finds a
// logout the way a task would: a login page instead of the PDF.
func TestFetch(t *testing.T) {
	t.Parallel()
	srv := sessiontest.NewServer(t)
	s := sessiontest.Open(t, srv.Config())
	ctx := t.Context()
	srv.SetFault("ERROR", sessiontest.FaultErrorPage)
	srv.SetFault("WRONG", sessiontest.FaultWrongPDF)
	for _, tt := range []struct {
		id   string
		want error
	}{
		{"OK", nil}, {"ERROR", download.ErrStatus}, {"WRONG", download.ErrContentMismatch},
	} {
		dir := t.TempDir()
		f, err := download.Fetch(ctx, s.Request(), srv.PDFURL(tt.id), sticker(dir, tt.id))
		if !errors.Is(err, tt.want) {
			t.Errorf("Fetch(%s) = %+v, %v; want %v", tt.id, f, err, tt.want)
		}
		if entries, _ := os.ReadDir(dir); (err == nil) != (len(entries) == 1) {
			t.Errorf("Fetch(%s): directory holds %d entries after %v", tt.id, len(entries), err)
		}
	}

	gen := s.Generation()
	srv.Expire()
	dir := t.TempDir()
	_, err := download.Fetch(ctx, s.Request(), srv.PDFURL("OK"), sticker(dir, "OK"))
	var inv *download.InvalidError
	if !errors.As(err, &inv) || inv.Reason != download.ErrHTMLPage {
		t.Fatalf("logged-out Fetch = %v; want ErrHTMLPage", err)
	}
	t.Log(err)
	if err := s.Relogin(ctx, gen); err != nil {
		t.Fatal(err)
	}
	if err := s.Relogin(ctx, gen); err != nil || srv.LoginPosts() != 2 {
		t.Fatalf("a second Relogin for the same generation = %v after %d logins; want nil and no login", err, srv.LoginPosts())
	}
	if _, err := download.Fetch(ctx, s.Request(), srv.PDFURL("OK"), sticker(dir, "OK")); err != nil {
		t.Errorf("Fetch after Relogin: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 || entries[0].Name() != filepath.Base(download.SafeName("sticker OK.pdf")) {
		t.Errorf("directory holds %v", entries)
	}
}
