package download_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
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
	_, err := s.Goto(ctx, page, url, session.Expect{})
	return err
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
			f, err := download.Click(ctx, s, page, download.Selector("#download"), sticker(dir, id))
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
	srv.SetFault("LOGIN", sessiontest.FaultLoginPage)
	srv.SetFault("BROWSER", sessiontest.FaultBrowserOnly)
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
		{"ERROR", "#download", session.ErrStatus},
		{"ERROR", "#view", session.ErrStatus},
		{"LOGIN", "#download", download.ErrLoginPage},
		{"LOGIN", "#view", download.ErrLoginPage},
		{"BROWSER", "#download", nil},               // the page's own download gets it
		{"BROWSER", "#view", download.ErrLoginLoop}, // shown inline, fetched again without the page: no logout

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
			f, err := download.Click(ctx, s, page, download.Selector(tt.link), dst)
			t.Logf("%v after %v", err, time.Since(start))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Click = %+v, %v; want %v", f, err, tt.want)
			}
			if tt.want == download.ErrLoginPage && (!pool.IsRequeue(err) || !errors.Is(err, session.ErrLoggedOut)) {
				t.Errorf("Click = %v; a login page wants a re-login and pool.Requeue(ErrLoggedOut)", err)
			}
			if n := len(page.Context().Pages()); n != 1 {
				t.Errorf("%d pages open after Click, want 1 (popups closed)", n)
			}
			if entries, _ := os.ReadDir(dir); (err == nil) != (len(entries) == 1) {
				t.Errorf("directory holds %d entries after Click = %v", len(entries), err)
			}
		})
	}
	t.Run("no element", func(t *testing.T) {
		// A loaded page without the link fails at once, not at the
		// deadline: with no deadline at all this would take the default
		// minute (and the test's timeout tells).
		if err := open(ctx, s, page, srv.ItemURL("X")); err != nil {
			t.Fatal(err)
		}
		_, err := download.Click(ctx, s, page, download.Selector("#no-such-link"), sticker(t.TempDir(), "X"))
		if !errors.Is(err, download.ErrNoElement) || !strings.Contains(err.Error(), "#no-such-link") {
			t.Errorf("Click = %v; want ErrNoElement naming the selector", err)
		}
		if page.IsClosed() {
			t.Error("the page was closed")
		}
	})
	t.Run("stalled transfer", func(t *testing.T) {
		// A download that began and then stopped coming is a stalled
		// transfer, not "no download" (which points at the selectors).
		srv.SetFault("STALL", sessiontest.FaultStall)
		if err := open(ctx, s, page, srv.ItemURL("STALL")); err != nil {
			t.Fatal(err)
		}
		dst := sticker(t.TempDir(), "STALL")
		dst.Timeout = 2 * time.Second
		_, err := download.Click(ctx, s, page, download.Selector("#download"), dst)
		var te *session.TimeoutError
		if errors.Is(err, download.ErrNoDownload) || !errors.As(err, &te) || !te.Stalled {
			t.Errorf("Click = %v; want a stalled *session.TimeoutError", err)
		}
	})
	t.Run("mouse click", func(t *testing.T) {
		if err := open(ctx, s, page, srv.ItemURL("MOUSE")); err != nil {
			t.Fatal(err)
		}
		if _, err := download.Click(ctx, s, page, download.MouseClick("#download"), sticker(t.TempDir(), "MOUSE")); err != nil {
			t.Error(err)
		}
	})
	// The login pages came with the session still good: the re-logins
	// find it so and post no form.
	if got, posts := s.Stats().Logins, srv.LoginPosts(); got != 3 || posts != 1 {
		t.Errorf("%d logins, %d posted; want 3 (the first and one per login page), 1", got, posts)
	}
}

// TestFetch downloads without a page, judges what comes instead of the
// file, and finds a logout the way a task would: a login page instead of
// the PDF, followed by one re-login and a requeue.
func TestFetch(t *testing.T) {
	t.Parallel()
	srv := sessiontest.NewServer(t)
	s := sessiontest.Open(t, srv.Config())
	ctx := t.Context()
	srv.SetFault("ERROR", sessiontest.FaultErrorPage)
	srv.SetFault("WRONG", sessiontest.FaultWrongPDF)
	srv.SetFault("HTML", sessiontest.FaultHTML)
	srv.SetFault("LOGIN", sessiontest.FaultLoginPage)
	for _, tt := range []struct {
		id   string
		want error
	}{
		{"OK", nil}, {"ERROR", session.ErrStatus}, {"WRONG", download.ErrContentMismatch}, {"HTML", download.ErrHTMLPage},
		{"LOGIN", download.ErrLoginLoop},
	} {
		dir := t.TempDir()
		f, err := download.Fetch(ctx, s, srv.PDFURL(tt.id), sticker(dir, tt.id))
		if !errors.Is(err, tt.want) || tt.want == download.ErrHTMLPage && errors.Is(err, download.ErrLoginPage) {
			t.Errorf("Fetch(%s) = %+v, %v; want %v", tt.id, f, err, tt.want)
		}
		if entries, _ := os.ReadDir(dir); (err == nil) != (len(entries) == 1) {
			t.Errorf("Fetch(%s): directory holds %d entries after %v", tt.id, len(entries), err)
		}
	}

	srv.Expire()
	dir := t.TempDir()
	if _, err := download.Fetch(ctx, s, srv.PDFURL("OK"), sticker(dir, "OK")); err != nil {
		t.Fatalf("logged-out Fetch: %v; want the file, after one re-login", err)
	}
	if got, posts := s.Stats().Logins, srv.LoginPosts(); got != 3 || posts != 2 {
		t.Errorf("%d logins, %d posted; want 3 (the first, one for the LOGIN fault, one for the expiry), 2 (no form for the LOGIN fault: the session was good)", got, posts)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 || entries[0].Name() != filepath.Base(download.SafeName("sticker OK.pdf")) {
		t.Errorf("directory holds %v", entries)
	}
}

// TestFetchHostile: a hung request ends when its context does, and a huge
// file is cut off while it streams in, never held in memory.
func TestFetchHostile(t *testing.T) {
	t.Parallel()
	srv := sessiontest.NewServer(t)
	s := sessiontest.Open(t, srv.Config())
	srv.SetFault("HANG", sessiontest.FaultHang)
	srv.SetFault("HUGE", sessiontest.FaultHuge)

	ctx, cancel := context.WithCancel(t.Context())
	served := srv.PDFs()
	go func() {
		for srv.PDFs() == served { // the request hangs at the server now
			time.Sleep(5 * time.Millisecond)
		}
		cancel() // a Ctrl-C, say: no deadline would end this request
	}()
	dst := sticker(t.TempDir(), "HANG")
	dst.Timeout = time.Hour
	if _, err := download.Fetch(ctx, s, srv.PDFURL("HANG"), dst); !errors.Is(err, context.Canceled) {
		t.Errorf("Fetch of a hung PDF, cancelled: %v", err)
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	dir := t.TempDir()
	dst = sticker(dir, "HUGE")
	dst.MaxSize = 10 << 20
	_, err := download.Fetch(t.Context(), s, srv.PDFURL("HUGE"), dst)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, download.ErrTooLarge) {
		t.Errorf("Fetch of 200 MB with a 10 MB limit: %v", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 50<<20 {
		t.Errorf("Fetch allocated %d MB for a file cut off at 10 MB", alloc>>20)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left %d files", len(entries))
	}
}

// TestFetchReloginOutlivesTheFileTimeout: the re-login after a logout is
// not cut short by the file's own timeout, which the request that found the
// login page has nearly spent: a slow login still brings the file, not a
// charged timeout.
func TestFetchReloginOutlivesTheFileTimeout(t *testing.T) {
	t.Parallel()
	srv := sessiontest.NewServer(t)
	cfg := srv.Config()
	login, logins := cfg.Login, atomic.Int32{}
	cfg.Login = func(ctx context.Context, page playwright.Page) error {
		if logins.Add(1) > 1 {
			select { // a slow login form, longer than the file's timeout
			case <-time.After(3 * time.Second):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return login(ctx, page)
	}
	s := sessiontest.Open(t, cfg)
	srv.Expire()
	dst := sticker(t.TempDir(), "OK")
	dst.Timeout = 2 * time.Second
	if _, err := download.Fetch(t.Context(), s, srv.PDFURL("OK"), dst); err != nil {
		t.Fatalf("Fetch with a slow re-login: %v", err)
	}
	if got := srv.LoginPosts(); got != 2 {
		t.Errorf("%d logins, want 2", got)
	}
}

// TestFetchLoginLoop: a site whose login never reaches requests without a
// page (it wants a header only browsers send) answers every Fetch with its
// login page. That is no logout: Fetch says so (ErrLoginLoop, NeedsPage),
// charged, and logs in again only at every power of two of such answers,
// not for every item. The item's page still works; a success ends it.
func TestFetchLoginLoop(t *testing.T) {
	t.Parallel()
	srv := sessiontest.NewServer(t)
	s := sessiontest.Open(t, srv.Config())
	ctx := t.Context()
	const items = 12
	for i := range items {
		id := fmt.Sprint("B", i)
		srv.SetFault(id, sessiontest.FaultBrowserOnly)
		_, err := download.Fetch(ctx, s, srv.PDFURL(id), sticker(t.TempDir(), id))
		if !errors.Is(err, download.ErrLoginLoop) || pool.IsRequeue(err) || !download.NeedsPage(err) {
			t.Fatalf("Fetch(%s) = %v; want a charged ErrLoginLoop that needs the page", id, err)
		}
	}
	if got, want := s.Stats().Logins, int64(1+5); got != want || srv.LoginPosts() != 1 { // re-logins after 0, 1, 2, 4 and 8 loops
		t.Errorf("%d logins (%d posted) for %d items, want %d (1)", got, srv.LoginPosts(), items, want)
	}

	page, err := s.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := open(ctx, s, page, srv.ItemURL("B0")); err != nil {
		t.Fatal(err)
	}
	if _, err := download.Click(ctx, s, page, download.Selector("#download"), sticker(t.TempDir(), "B0")); err != nil {
		t.Errorf("Click on the page of B0: %v", err)
	}
	if _, err := download.Fetch(ctx, s, srv.PDFURL("OK"), sticker(t.TempDir(), "OK")); err != nil || s.LoginLoops() != 0 {
		t.Errorf("Fetch(OK) = %v, %d loops after; want the file, 0", err, s.LoginLoops())
	}
}
