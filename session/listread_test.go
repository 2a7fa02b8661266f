package session_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	playwright "github.com/mxschmitt/playwright-go"

	"github.com/pagefleet/pagefleet/session"
	"github.com/pagefleet/pagefleet/session/sessiontest"
)

// listingSite serves a 6-page listing whose pages link to every other page
// (so List reads several at once). With scripted, a page's rows are drawn
// by /rows.js; else they are in its HTML.
func listingSite(t *testing.T, scripted bool) (url string, scriptHits *atomic.Int32) {
	hits := new(atomic.Int32)
	const pages = 6
	mux := http.NewServeMux()
	mux.HandleFunc("GET /list", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("p"))
		var b strings.Builder
		b.WriteString("<!doctype html><title>list</title><body><div id=rows>")
		if scripted {
			fmt.Fprintf(&b, `</div><script src="/rows.js?p=%d"></script>`, n)
		} else {
			for i := range 5 {
				fmt.Fprintf(&b, "<p class=row>item-%d-%d</p>", n, i)
			}
			b.WriteString("</div>")
		}
		for m := 1; m <= pages; m++ {
			fmt.Fprintf(&b, `<a class=page href="/list?p=%d">%d</a>`, m, m)
		}
		if n < pages {
			fmt.Fprintf(&b, `<a id=next href="/list?p=%d">next</a>`, n+1)
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, b.String())
	})
	mux.HandleFunc("GET /rows.js", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		n := r.URL.Query().Get("p")
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprintf(w, `for (let i = 0; i < 5; i++) { const p = document.createElement("p"); p.className = "row";
			p.textContent = "item-%s-" + i; document.getElementById("rows").appendChild(p); }`, n)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/list?p=1", hits
}

func parseListing(doc *session.Document) (p session.ListPage[string]) {
	doc.Find("p.row").Each(func(_ int, s *goquery.Selection) { p.Items = append(p.Items, s.Text()) })
	abs := func(href string) string {
		u, _ := doc.Url.Parse(href)
		return u.String()
	}
	if href, ok := doc.Find("#next").Attr("href"); ok {
		p.Next = abs(href)
	}
	doc.Find("a.page").Each(func(_ int, s *goquery.Selection) {
		href, _ := s.Attr("href")
		p.Links = append(p.Links, abs(href))
	})
	return p
}

// TestListReader: a listing whose rows are in the HTML is read without a
// browser; one whose rows are drawn by scripts is read in tabs, several
// pages at once, one tab each — every item, in order, either way.
func TestListReader(t *testing.T) {
	s := sessiontest.Open(t, session.Config{})
	var want []string
	for n := 1; n <= 6; n++ {
		for i := range 5 {
			want = append(want, fmt.Sprintf("item-%d-%d", n, i))
		}
	}
	for _, scripted := range []bool{false, true} {
		t.Run(fmt.Sprintf("scripted=%v", scripted), func(t *testing.T) {
			first, hits := listingSite(t, scripted)
			read, closeTabs := session.ListReader(s, session.Expect{Ready: "p.row"}, parseListing)
			defer closeTabs()
			var failed atomic.Int32 // the site never fails: a failed read is the reader's doing (reads in one tab abort each other)
			got, err := session.List(context.Background(), session.Listing[string]{
				First: first, Key: func(s string) string { return s }, Readers: 4,
				Read: func(ctx context.Context, url string) (session.ListPage[string], error) {
					p, err := read(ctx, url)
					if err != nil && ctx.Err() == nil { // not a read ahead past the end, cut short as the listing ended
						failed.Add(1)
						t.Logf("read %s: %v", url, err)
					}
					return p, err
				},
			})
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if n := failed.Load(); n > 0 {
				t.Errorf("%d page reads failed", n)
			}
			if !slices.Equal(got, want) {
				t.Errorf("listed %v\nwant %v", got, want)
			}
			switch n := hits.Load(); {
			case !scripted && n != 0:
				t.Errorf("a listing in plain HTML ran its pages' scripts %d times: it was rendered", n)
			case scripted && n < 6:
				t.Errorf("the scripts ran %d times for 6 pages", n)
			}
		})
	}
}

// TestListReaderAfterCrash: a browser crash between two rendered reads
// costs one read: the tab whose page died is not handed out again, so the
// next read opens a page in a relaunched browser.
func TestListReaderAfterCrash(t *testing.T) {
	s := sessiontest.Open(t, session.Config{})
	first, _ := listingSite(t, true)
	read, closeTabs := session.ListReader(s, session.Expect{Ready: "p.row"}, parseListing)
	defer closeTabs()
	ctx := t.Context()
	if p, err := read(ctx, first); err != nil || len(p.Items) != 5 {
		t.Fatalf("first read: %v, %d items; want 5", err, len(p.Items))
	}
	sessiontest.KillBrowser(t, s)
	var errs []error
	for range 3 {
		p, err := read(ctx, first)
		if err == nil {
			if len(p.Items) != 5 {
				t.Errorf("read after the crash: %d items, want 5", len(p.Items))
			}
			if len(errs) > 1 {
				t.Errorf("%d reads failed after one crash: %v", len(errs), errs)
			}
			return
		}
		errs = append(errs, err)
	}
	t.Errorf("every read after the crash failed (%v): the dead tab is handed out again; stats %+v", errs, s.Stats())
}

// TestListReaderClosed: a read after close fails with ErrClosed and leaves
// no tab open.
func TestListReaderClosed(t *testing.T) {
	s := sessiontest.Open(t, session.Config{})
	first, _ := listingSite(t, true)
	read, closeTabs := session.ListReader(s, session.Expect{Ready: "p.row"}, parseListing)
	if _, err := read(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	closeTabs()
	if _, err := read(t.Context(), first); !errors.Is(err, session.ErrClosed) {
		t.Errorf("read after close: %v, want ErrClosed", err)
	}
	if n := s.Stats().Pages; n != 0 {
		t.Errorf("%d pages open after close and a later read, want 0", n)
	}
}

// TestRenderBusyPage: a page whose script never yields after it loaded
// cannot be read; Render closes it and says so within the page's timeout
// instead of waiting for the page's HTML forever.
func TestRenderBusyPage(t *testing.T) {
	s := sessiontest.Open(t, session.Config{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<!doctype html><title>busy</title><p class=row>item</p>
<script>addEventListener("load", () => setTimeout(() => { for (;;) {} }, 0))</script>`)
	}))
	t.Cleanup(srv.Close)
	ctx := t.Context()
	page, err := s.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.ClosePage(page) }()
	_, err = s.Render(ctx, page, srv.URL, session.Expect{Timeout: 3 * time.Second})
	if !errors.Is(err, session.ErrUnresponsive) || !page.IsClosed() {
		t.Errorf("Render of a page that never yields: %v (closed: %v); want ErrUnresponsive, closed", err, page.IsClosed())
	}
}

// TestEvaluateBusyPage: playwright's Evaluate takes no timeout; on a page
// whose script never yields, Session.Evaluate gives up after its bound and
// closes the page, Goto waiting for an element on such a page gives up
// after a slice and MinPageTimeout, and the session's other pages still
// work (each page has a renderer of its own: with one per site they all
// froze).
func TestEvaluateBusyPage(t *testing.T) {
	s := sessiontest.Open(t, session.Config{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		if r.URL.Path == "/busy" {
			fmt.Fprint(w, `<!doctype html><title>busy</title><p class=row>item</p>
<script>document.addEventListener("DOMContentLoaded", () => setTimeout(() => { for (;;) {} }, 0))</script>`)
			return
		}
		fmt.Fprint(w, `<!doctype html><title>calm</title><p class=row>item</p>`)
	}))
	t.Cleanup(srv.Close)
	ctx := t.Context()
	busy, err := s.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.ClosePage(busy) }()
	if _, err := s.Goto(ctx, busy, srv.URL+"/busy", session.Expect{WaitUntil: playwright.WaitUntilStateDomcontentloaded}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Evaluate(ctx, busy, 3*time.Second, `() => document.title`, nil)
	if !errors.Is(err, session.ErrUnresponsive) || !busy.IsClosed() {
		t.Errorf("Evaluate on a page that never yields: %v (closed: %v); want ErrUnresponsive, closed", err, busy.IsClosed())
	}
	busy2, err := s.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.ClosePage(busy2) }()
	start := time.Now()
	_, err = s.Goto(ctx, busy2, srv.URL+"/busy", session.Expect{Ready: ".missing", Timeout: time.Minute})
	if !errors.Is(err, session.ErrUnresponsive) {
		t.Errorf("Goto waiting for an element on a page that never yields: %v after %v; want ErrUnresponsive", err, time.Since(start))
	}
	calm, err := s.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.ClosePage(calm) }()
	if _, err := s.Goto(ctx, calm, srv.URL+"/calm", session.Expect{Ready: ".row", Timeout: 10 * time.Second}); err != nil {
		t.Errorf("another page beside the busy one: %v", err)
	}
	if v, err := s.Evaluate(ctx, calm, 0, `() => document.title`, nil); err != nil || v != "calm" {
		t.Errorf("Evaluate on a calm page: %v, %v", v, err)
	}
}

// TestReadyDrawnLate: an element a script draws seconds after the load is
// waited for as Settle says, beyond the time a page may take to answer
// one call (the wait is made of short calls).
func TestReadyDrawnLate(t *testing.T) {
	s := sessiontest.Open(t, session.Config{MinPageTimeout: 2 * time.Second})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		if r.URL.Path == "/now" {
			fmt.Fprint(w, `<!doctype html><title>now</title><p class=row>item</p>`)
			return
		}
		fmt.Fprint(w, `<!doctype html><title>late</title>
<script>addEventListener("load", () => setTimeout(() => document.body.insertAdjacentHTML("beforeend", "<p class=row>item</p>"), 4000))</script>`)
	}))
	t.Cleanup(srv.Close)
	ctx := t.Context()
	page, err := s.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.ClosePage(page) }()
	// Pages whose element is there at once teach nothing about the wait.
	for range 3 {
		if _, err := s.Goto(ctx, page, srv.URL+"/now", session.Expect{Ready: ".row"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Goto(ctx, page, srv.URL, session.Expect{Ready: ".row", Settle: 10 * time.Second, Timeout: 30 * time.Second}); err != nil {
		t.Errorf("Goto: %v; want the row drawn after 4 s", err)
	}
	if _, err := s.Goto(ctx, page, srv.URL, session.Expect{Ready: ".row", Settle: time.Second, Timeout: 30 * time.Second}); !errors.Is(err, session.ErrNotReady) {
		t.Errorf("Goto with a settle time shorter than the drawing: %v; want ErrNotReady", err)
	}
}

// TestReadyAfterFragmentNavigation: a navigation that changes only the
// fragment (a page that routes by hash) keeps the document, loaded long
// ago; the element its route draws still gets the full Settle time.
func TestReadyAfterFragmentNavigation(t *testing.T) {
	s := sessiontest.Open(t, session.Config{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<!doctype html><title>app</title><main></main>
<script>
const draw = () => setTimeout(() => { document.querySelector("main").innerHTML = "<p class=" + location.hash.slice(1) + ">route</p>" }, 500);
addEventListener("hashchange", draw); draw();
</script>`)
	}))
	t.Cleanup(srv.Close)
	ctx := t.Context()
	page, err := s.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.ClosePage(page) }()
	exp := session.Expect{Ready: ".a", Settle: 2500 * time.Millisecond, Timeout: 30 * time.Second}
	if _, err := s.Goto(ctx, page, srv.URL+"/#a", exp); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // the document's load is now older than Settle
	exp.Ready = ".b"
	if _, err := s.Goto(ctx, page, srv.URL+"/#b", exp); err != nil {
		t.Errorf("Goto to another route of the same document: %v; want its element, drawn after 0.5 s", err)
	}
}
