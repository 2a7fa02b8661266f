package session

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/pagefleet/pagefleet/pool"
)

// ListPage is what one page of a paginated listing yields.
type ListPage[T any] struct {
	Items []T
	// Next is the URL of the next page; "" on the last one.
	Next string
	// Links are URLs of other pages of the listing (page numbers), read
	// ahead while the pages before them are read. Optional.
	Links []string
}

// Listing describes a paginated listing (an inventory) for [List].
type Listing[T any] struct {
	// First is the URL of the first page. Required.
	First string
	// Read reads one page. Required. It is called from several goroutines
	// at once (see Readers). An error wrapped with [pool.Requeue] (a
	// logout that was dealt with) is retried at once; one wrapped with
	// backoff.Permanent or [pool.Abort] ends the listing; others are
	// retried with backoff.
	Read func(ctx context.Context, url string) (ListPage[T], error)
	// Key identifies an item: an item whose key was listed before is
	// dropped, and a page that adds no new item ends the listing (a site
	// whose pages past the end show the last one again). Required.
	Key func(T) string
	// OnPage is called with each page's new items, in listing order (page
	// 1 first, then along the Next links) as soon as they can be, so work
	// on them can start before the listing ends. Optional.
	OnPage func(n int, url string, items []T)
	// Readers is how many pages are read at once. Defaults to 4. A read
	// the site refuses with HTTP 429 halves it, down to one, for the rest
	// of the listing (once for the reads under way then); such a try does
	// not count against Attempts until one reader is left.
	Readers int
	// MaxPages ends the listing after that many pages, with an error
	// wrapping [ErrListTooLong]. Defaults to 10,000.
	MaxPages int
	// Attempts bounds the tries of one page. Defaults to 8.
	Attempts int
	// NewBackOff makes the pause policy between tries of one page.
	// Defaults to exponential backoff from 500 ms up to 10 s.
	NewBackOff func() backoff.BackOff
	// Logger receives retries and the reason the listing ended. Defaults
	// to slog.Default().
	Logger *slog.Logger
}

// ErrListTooLong is returned by [List] for a listing longer than its
// MaxPages.
var ErrListTooLong = errors.New("session: listing longer than MaxPages")

// List reads a paginated listing from its first page along the Next links,
// reading up to Readers pages at once (those the pages link to, ahead, and
// when the URLs of pages 2 and 3 differ only in that number, the pages after
// them by their numbers, for as long as each Next link matches), and
// returns its items in order, each key once. It stops at a page without a
// Next link, at a Next link back to a page already read, or at a page that
// adds no new item — so a site whose "next" never ends can't keep it
// reading — and fails past MaxPages. A page that fails all its tries fails
// the listing if it is on the Next chain; pages read ahead that are not on
// it don't matter.
func List[T any](ctx context.Context, l Listing[T]) ([]T, error) {
	switch {
	case l.First == "" || l.Read == nil || l.Key == nil:
		return nil, errors.New("session: List needs First, Read and Key")
	}
	l.Readers = cmp.Or(l.Readers, 4)
	l.MaxPages = cmp.Or(l.MaxPages, 10000)
	l.Attempts = cmp.Or(l.Attempts, 8)
	l.Logger = cmp.Or(l.Logger, slog.Default())
	if l.NewBackOff == nil {
		l.NewBackOff = func() backoff.BackOff {
			return backoff.NewExponentialBackOff(backoff.WithInitialInterval(500*time.Millisecond),
				backoff.WithMaxInterval(10*time.Second), backoff.WithMaxElapsedTime(0))
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	c := &crawl[T]{l: &l, ctx: ctx, readers: l.Readers, freed: make(chan struct{}), pages: map[string]chan read[T]{}, done: map[string]bool{}}
	defer c.wg.Wait() // after cancel: reads ahead that nobody needs stop
	defer cancel()

	var items []T
	seen := map[string]bool{}
	var numbered func(n int) string // page n's URL, once the pages' URLs turn out to count up
	for n, url := 1, l.First; url != ""; n++ {
		if n > l.MaxPages {
			return nil, fmt.Errorf("%w (%d): the listing at %s goes on; last page read %s", ErrListTooLong, l.MaxPages, ScrubString(l.First), ScrubString(url))
		}
		if numbered != nil {
			c.ahead(numbered, n+1)
		}
		var r read[T]
		select {
		case r = <-c.get(url):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if r.err != nil {
			return nil, fmt.Errorf("session: listing page %d (%s): %w", n, ScrubString(url), r.err)
		}
		var fresh []T
		for _, it := range r.page.Items {
			if k := l.Key(it); !seen[k] {
				seen[k] = true
				fresh = append(fresh, it)
			}
		}
		if len(fresh) == 0 && n > 1 {
			l.Logger.Info("session: listing ends at a page with nothing new", "page", n, "url", ScrubString(url))
			break
		}
		items = append(items, fresh...)
		if l.OnPage != nil {
			l.OnPage(n, url, fresh)
		}
		c.consume(url)
		switch next := r.page.Next; {
		case numbered != nil && next != numbered(n+1):
			numbered = nil // the guess was wrong: follow the links alone
		case numbered == nil && n == 2:
			numbered = countingUp(url, next, n)
		}
		if next := r.page.Next; c.consumed(next) {
			l.Logger.Info("session: listing ends at a link back to a page read before", "page", n, "next", ScrubString(next))
			break
		}
		url = r.page.Next
	}
	return items, nil
}

type read[T any] struct {
	page ListPage[T]
	err  error
}

// crawl reads pages once each, up to Readers at a time, and starts reading
// the pages each page links to.
type crawl[T any] struct {
	l   *Listing[T]
	ctx context.Context
	wg  sync.WaitGroup

	mu      sync.Mutex
	pages   map[string]chan read[T] // by URL: the result, once (buffered 1)
	done    map[string]bool         // consumed by List
	reading int                     // tries under way
	readers int                     // tries allowed at once: Readers, cut by 429s
	cuts    int                     // times readers was cut
	freed   chan struct{}           // closed (and replaced) when a try ends
}

// begin waits until a try may start, and returns how often the readers
// were cut so far; false if ctx ended first.
func (c *crawl[T]) begin() (cuts int, ok bool) {
	for {
		c.mu.Lock()
		if c.reading < c.readers {
			c.reading++
			cuts = c.cuts
			c.mu.Unlock()
			return cuts, true
		}
		freed := c.freed
		c.mu.Unlock()
		select {
		case <-freed:
		case <-c.ctx.Done():
			return 0, false
		}
	}
}

// end ends a try begun by begin.
func (c *crawl[T]) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reading--
	close(c.freed)
	c.freed = make(chan struct{})
}

// tooMany reports whether err, met by a try begun after cuts cuts of the
// readers, is the site refusing a read for the requests at once (HTTP
// 429). The first such refusal since the last cut halves the readers,
// down to one; a refusal of a try begun before the last cut only follows
// from the readers of then. tooMany reports true for both: the try is the
// site's pace, not the page's failure. Once one reader is left, it reports
// false.
func (c *crawl[T]) tooMany(err error, cuts int) bool {
	var st *StatusError
	if !errors.As(err, &st) || st.Code != http.StatusTooManyRequests || errors.Is(err, ErrLoginFailed) {
		return false // a login page's 429 says nothing of how many listing pages the site takes
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case cuts != c.cuts:
		return true
	case c.readers <= 1:
		return false
	}
	c.cuts++
	c.readers /= 2
	log := c.l.Logger.Debug
	if c.cuts == 1 {
		log = c.l.Logger.Info
	}
	log("session: the site refused a listing page (429): reading fewer at once", "readers", c.readers)
	return true
}

func (c *crawl[T]) consume(url string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done[url] = true
}

func (c *crawl[T]) consumed(url string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done[url]
}

// get returns the channel url's page will arrive on, starting its read if
// nobody did.
func (c *crawl[T]) get(url string) <-chan read[T] {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.startLocked(url)
}

func (c *crawl[T]) startLocked(url string) chan read[T] {
	if ch, ok := c.pages[url]; ok {
		return ch
	}
	ch := make(chan read[T], 1)
	c.pages[url] = ch
	c.wg.Go(func() {
		page, err := c.readPage(url)
		if err == nil {
			c.mu.Lock()
			// Read ahead what this page links to, its next page first —
			// but only so far ahead of what List has taken: a listing
			// whose "next" never ends must not run away.
			for _, l := range append([]string{page.Next}, page.Links...) {
				if l != "" && len(c.pages)-len(c.done) < 2*c.l.Readers {
					c.startLocked(l)
				}
			}
			c.mu.Unlock()
		}
		ch <- read[T]{page, err}
	})
	return ch
}

// ahead starts reading the pages from n on by their numbers, as far ahead
// as links are read.
func (c *crawl[T]) ahead(numbered func(int) string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ; len(c.pages)-len(c.done) < 2*c.l.Readers; n++ {
		c.startLocked(numbered(n))
	}
}

// countingUp returns the URL of page k of a listing whose page n is at url
// and page n+1 at next, if the two differ only in that number
// ("…?page=2", "…?page=3"): so a site whose pages link only to the next
// few is read Readers pages at once, not a few. Nil if they don't.
func countingUp(url, next string, n int) func(k int) string {
	num, succ := strconv.Itoa(n), strconv.Itoa(n+1)
	isDigit := func(s string, i int) bool { return i >= 0 && i < len(s) && s[i] >= '0' && s[i] <= '9' }
	for i := strings.Index(url, num); i >= 0; {
		prefix, suffix := url[:i], url[i+len(num):]
		if !isDigit(url, i-1) && !isDigit(url, i+len(num)) && next == prefix+succ+suffix {
			return func(k int) string { return prefix + strconv.Itoa(k) + suffix }
		}
		j := strings.Index(url[i+1:], num)
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return nil
}

// readPage reads one page with retries.
func (c *crawl[T]) readPage(url string) (ListPage[T], error) {
	b := c.l.NewBackOff()
	for try := 1; ; try++ {
		cuts, ok := c.begin() // for this try only: a page waiting to retry holds no reader
		if !ok {
			return ListPage[T]{}, c.ctx.Err()
		}
		page, err := c.l.Read(c.ctx, url)
		c.end()
		if c.tooMany(err, cuts) {
			try--
		}
		var perm *backoff.PermanentError
		switch {
		case err == nil:
			return page, nil
		case c.ctx.Err() != nil:
			return page, c.ctx.Err()
		case pool.IsRequeue(err) && (try < c.l.Attempts || errors.As(err, new(*LoginDownError))):
			// Dealt with (a re-login): at once — or after the wait a 429
			// asks for. A login outage has its own bound
			// (Config.LoginOutage), not Attempts.
			var ra interface{ RetryAfter() time.Duration }
			if errors.As(err, &ra) && ra.RetryAfter() > 0 {
				t := time.NewTimer(ra.RetryAfter())
				select {
				case <-t.C:
				case <-c.ctx.Done():
					t.Stop()
					return page, c.ctx.Err()
				}
			}
			continue
		case errors.As(err, &perm) || pool.IsAbort(err) || try >= c.l.Attempts:
			return page, err
		}
		wait := b.NextBackOff()
		if wait == backoff.Stop {
			return page, err
		}
		c.l.Logger.Warn("session: listing page failed; retrying", "url", ScrubString(url), "try", try, "in", wait.Round(time.Millisecond), "err", Scrub(err))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return page, c.ctx.Err()
		}
	}
}
