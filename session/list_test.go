package session_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/pagefleet/pagefleet/pool"
	"github.com/pagefleet/pagefleet/session"
)

// site is a fake listing: page n (1-based) of "total" holds items n*10 …
// n*10+9 and links to its neighbours; pages past the end behave as
// configured.
type site struct {
	total   int
	endless bool // pages past the end show the last page again, with a next link (the tester's portal)
	fresh   bool // pages past the end hold new items forever
	loopTo  int  // the last page's next link points back to this page
	fail    map[int]error
	limit   int           // reads at once the site takes; more are refused with 429 (0: any; -1: none)
	latency time.Duration // of each read
	refused atomic.Int32  // reads refused for the limit
	now     atomic.Int32  // reads in progress
	reads   atomic.Int32
	mu      sync.Mutex
	tries   map[int]int
}

func (s *site) read(ctx context.Context, url string) (session.ListPage[string], error) {
	s.reads.Add(1)
	busy := s.now.Add(1)
	defer s.now.Add(-1)
	time.Sleep(s.latency)
	if s.limit != 0 && int(busy) > s.limit {
		s.refused.Add(1)
		return session.ListPage[string]{}, session.StatusErr(429, url, "1")
	}
	n, _ := strconv.Atoi(strings.TrimPrefix(url, "p"))
	s.mu.Lock()
	s.tries[n]++
	try := s.tries[n]
	s.mu.Unlock()
	if err := s.fail[n]; err != nil && (try == 1 || backoffPermanent(err)) {
		return session.ListPage[string]{}, err
	}
	content := n
	if n > s.total && !s.fresh {
		content = s.total
	}
	var p session.ListPage[string]
	for i := range 10 {
		p.Items = append(p.Items, fmt.Sprint(content*10+i))
	}
	if n < s.total || s.endless || s.fresh {
		p.Next = fmt.Sprintf("p%d", n+1)
	} else if s.loopTo > 0 {
		p.Next = fmt.Sprintf("p%d", s.loopTo)
	}
	for _, d := range []int{-2, -1, 1, 2, 3} {
		if m := n + d; m >= 1 && m <= s.total {
			p.Links = append(p.Links, fmt.Sprintf("p%d", m))
		}
	}
	return p, nil
}

func backoffPermanent(err error) bool {
	var p *backoff.PermanentError
	return errors.As(err, &p)
}

func listing(s *site) session.Listing[string] {
	return session.Listing[string]{First: "p1", Read: s.read, Key: func(k string) string { return k },
		NewBackOff: func() backoff.BackOff { return &backoff.ZeroBackOff{} }, Logger: slog.New(slog.DiscardHandler)}
}

func newSite(total int) *site {
	return &site{total: total, tries: map[int]int{}, fail: map[int]error{}}
}

func TestListInOrder(t *testing.T) {
	t.Parallel()
	s := newSite(12)
	s.fail[3] = errors.New("HTTP 500")                                  // once: retried
	s.fail[5] = pool.Requeue(errors.New("logged out; logged in again")) // once: retried at once
	var pages []int
	l := listing(s)
	l.OnPage = func(n int, url string, items []string) {
		pages = append(pages, n)
		if want := fmt.Sprint(n * 10); items[0] != want {
			t.Errorf("page %d starts with %s, want %s", n, items[0], want)
		}
	}
	items, err := session.List(t.Context(), l)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 120 || items[0] != "10" || items[119] != "129" || fmt.Sprint(pages) != "[1 2 3 4 5 6 7 8 9 10 11 12]" {
		t.Errorf("%d items, pages %v", len(items), pages)
	}
	for n := 1; n <= 12; n++ { // every page once, the two that failed once twice
		want := 1
		if s.fail[n] != nil {
			want = 2
		}
		if s.tries[n] != want {
			t.Errorf("page %d read %d times, want %d", n, s.tries[n], want)
		}
	}
	// Page numbers count up: pages past the end were guessed, a few.
	if r := s.reads.Load(); r > 14+2*4 {
		t.Errorf("%d reads, want 14 and at most 8 guessed past the end", r)
	}
}

// TestListEndlessNext: pages past the end show the last page again, with a
// "next" link that never ends: the listing stops at the first page that
// adds nothing, having read only a few pages ahead.
func TestListEndlessNext(t *testing.T) {
	t.Parallel()
	s := newSite(5)
	s.endless = true
	l := listing(s)
	l.Readers = 2
	items, err := session.List(t.Context(), l)
	if err != nil || len(items) != 50 {
		t.Fatalf("%d items, %v", len(items), err)
	}
	if r := s.reads.Load(); r > 6+2*2 {
		t.Errorf("%d pages read for a 5-page listing", r)
	}
}

func TestListLoopAndCap(t *testing.T) {
	t.Parallel()
	s := newSite(4)
	s.loopTo = 2
	if items, err := session.List(t.Context(), listing(s)); err != nil || len(items) != 40 {
		t.Errorf("a next link back to page 2: %d items, %v", len(items), err)
	}
	s = newSite(3)
	s.fresh = true // every page new, forever
	l := listing(s)
	l.MaxPages = 50
	if _, err := session.List(t.Context(), l); !errors.Is(err, session.ErrListTooLong) {
		t.Errorf("an endless listing of new items: %v, want ErrListTooLong", err)
	}
	if r := s.reads.Load(); r > 50+2*4 {
		t.Errorf("%d pages read with MaxPages 50", r)
	}
}

func TestListFailure(t *testing.T) {
	t.Parallel()
	s := newSite(6)
	gone := errors.New("HTTP 404")
	s.fail[4] = backoff.Permanent(gone)
	_, err := session.List(t.Context(), listing(s))
	if !errors.Is(err, gone) || !strings.Contains(err.Error(), "page 4") {
		t.Errorf("List = %v, want page 4's permanent error", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := session.List(ctx, listing(newSite(3))); !errors.Is(err, context.Canceled) {
		t.Errorf("List with a cancelled context = %v", err)
	}
}

// TestListWaitsWhatA429Asks: a page refused with a 429 and "Retry-After: 3"
// is read again after 3 s, not at once (which the site would refuse again).
func TestListWaitsWhatA429Asks(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := newSite(3)
		s.fail[2] = session.StatusErr(429, "p2", "3")
		start := time.Now()
		items, err := session.List(t.Context(), listing(s))
		if err != nil || len(items) != 30 {
			t.Fatalf("List = %d items, %v", len(items), err)
		}
		if waited := time.Since(start); waited != 3*time.Second {
			t.Errorf("the listing took %v (fake clock), want the 3 s the 429 asked", waited)
		}
		if s.tries[2] != 2 {
			t.Errorf("page 2 read %d times, want 2", s.tries[2])
		}
	})
}

// TestListReadersFollowA429: a site that takes two requests at once
// refuses the rest with 429. The listing halves its readers after a
// refusal (16, 8, 4, 2) instead of failing the pages that the site keeps
// refusing while all the readers ask at once.
func TestListReadersFollowA429(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := newSite(73)
		s.limit, s.latency = 2, 100*time.Millisecond
		l := listing(s)
		l.Readers = 16
		start := time.Now()
		items, err := session.List(t.Context(), l)
		if err != nil || len(items) != 730 {
			t.Fatalf("List = %d items, %v; want 730", len(items), err)
		}
		if n := s.refused.Load(); n > 40 {
			t.Errorf("%d reads refused with 429; want the readers to come down to what the site takes", n)
		}
		// 73 pages of 100 ms: 3.7 s two at a time, 7.3 s one at a time.
		if took := time.Since(start); took > 6500*time.Millisecond {
			t.Errorf("the listing took %v (fake clock); want it to end reading two pages at once, as many as the site takes", took)
		}
	})
}

// TestListKeepsReadersAfterALoginPage429: a re-login met while listing
// that finds the login page rate-limited (a 429 inside the
// *LoginDownError) says nothing of how many listing pages the site takes:
// the readers stay as many.
func TestListKeepsReadersAfterALoginPage429(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := newSite(40)
		s.latency = 100 * time.Millisecond
		var refusals atomic.Int32
		var now, peak atomic.Int32
		l := listing(s)
		l.Readers = 8
		l.Read = func(ctx context.Context, url string) (session.ListPage[string], error) {
			n := now.Add(1)
			defer now.Add(-1)
			p, _ := strconv.Atoi(strings.TrimPrefix(url, "p"))
			if p >= 3 && p <= 10 && refusals.Add(1) <= 8 { // the login page says 429 eight times
				time.Sleep(s.latency)
				return session.ListPage[string]{}, pool.Requeue(&session.LoginDownError{Wait: time.Second,
					Err: fmt.Errorf("%w: open login page: %w", session.ErrLoginFailed, session.StatusErr(429, "login", "1"))})
			}
			if p > 20 {
				for {
					if old := peak.Load(); n <= old || peak.CompareAndSwap(old, n) {
						break
					}
				}
			}
			return s.read(ctx, url)
		}
		items, err := session.List(t.Context(), l)
		if err != nil || len(items) != 400 {
			t.Fatalf("List = %d items, %v; want 400", len(items), err)
		}
		if p := peak.Load(); p < 4 {
			t.Errorf("at most %d pages read at once after the login page's 429s; want the 8 readers kept", p)
		}
	})
}

// TestListGivesUpOnASiteThatAlwaysSays429: fewer readers don't help a
// site that refuses every read: once one reader is left, its refusals
// count, and the listing ends with the 429.
func TestListGivesUpOnASiteThatAlwaysSays429(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := newSite(10)
		s.limit = -1 // every read is one too many
		l := listing(s)
		l.Readers = 4
		_, err := session.List(t.Context(), l)
		var st *session.StatusError
		if !errors.As(err, &st) || st.Code != 429 {
			t.Fatalf("List = %v; want the 429", err)
		}
		if n := s.reads.Load(); n > int32(l.Readers-1+8) {
			t.Errorf("%d reads; want at most the readers given up (3) and Attempts (8)", n)
		}
	})
}

// TestListReadsNumberedPagesAhead: pages that link only to the next one,
// at URLs that count up, are read Readers at once once pages 2 and 3 show
// the numbering; pages whose URLs don't count up are read one by one.
func TestListReadsNumberedPagesAhead(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		url      func(n int) string
		parallel bool
	}{
		{"numbered", func(n int) string { return fmt.Sprintf("/inventory?page=%d&sort=vin", n) }, true},
		{"cursors", func(n int) string { return fmt.Sprintf("/inventory?after=%x", n*7919) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const pages, latency = 40, 300 * time.Millisecond
				byURL := map[string]int{}
				for n := 1; n <= pages+20; n++ {
					byURL[tc.url(n)] = n
				}
				var reads atomic.Int32
				l := session.Listing[string]{First: tc.url(1), Key: func(k string) string { return k }, Readers: 5,
					Logger: slog.New(slog.DiscardHandler),
					Read: func(ctx context.Context, url string) (session.ListPage[string], error) {
						reads.Add(1)
						time.Sleep(latency)
						n := byURL[url]
						if n == 0 || n > pages {
							return session.ListPage[string]{}, backoff.Permanent(errors.New("HTTP 404"))
						}
						p := session.ListPage[string]{Items: []string{fmt.Sprint(n)}}
						if n < pages {
							p.Next = tc.url(n + 1)
						}
						return p, nil
					}}
				start := time.Now()
				items, err := session.List(t.Context(), l)
				took := time.Since(start)
				if err != nil || len(items) != pages || items[pages-1] != fmt.Sprint(pages) {
					t.Fatalf("List = %d items, %v", len(items), err)
				}
				sequential := pages * latency
				if tc.parallel && (took > sequential/3 || reads.Load() > pages+2*5) {
					t.Errorf("%v for %d pages (one by one: %v), %d reads", took, pages, sequential, reads.Load())
				}
				if !tc.parallel && (took != sequential || reads.Load() != pages) {
					t.Errorf("%v, %d reads; want one page after another, each once", took, reads.Load())
				}
			})
		})
	}
}
