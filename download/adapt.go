package download

import (
	"cmp"
	"errors"
	"log/slog"
	"sync"

	"github.com/pagefleet/pagefleet/session"
)

// Fallback chooses, attempt by attempt, between fetching an item's file URL
// directly (no page: the fast way) and opening the item's page. A direct
// fetch that fails in a way that says the site wants the page opened first
// ([NeedsPage]) is followed by the page in the same attempt; only when
// Streak distinct items in a row needed that does every item go to its
// page. One odd item changes nothing for the others.
//
// The zero Fallback is ready to use; it is safe for concurrent use.
type Fallback struct {
	// Streak is how many distinct items in a row must need their page
	// before every item does. Default 3.
	Streak int
	// Logger says when every item goes to its page; nil: [slog.Default].
	Logger *slog.Logger

	mu       sync.Mutex
	pageOnly bool
	streak   map[string]bool
}

// Direct reports whether to try the direct URL first.
func (f *Fallback) Direct() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.pageOnly
}

// Fetched notes a direct fetch that needed no page: the streak ends.
func (f *Fallback) Fetched(err error) {
	if err == nil {
		f.mu.Lock()
		clear(f.streak)
		f.mu.Unlock()
	}
}

// Paged notes how key's page download went after its direct fetch had
// failed: a success is evidence that the site wants its pages opened.
func (f *Fallback) Paged(key string, err error) {
	if err != nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pageOnly {
		return
	}
	if f.streak == nil {
		f.streak = map[string]bool{}
	}
	if f.streak[key] = true; len(f.streak) >= cmp.Or(f.Streak, 3) {
		f.pageOnly = true
		cmp.Or(f.Logger, slog.Default()).Warn("the file URL does not work without opening the item's page; opening each page from now on",
			"items", len(f.streak))
	}
}

// NeedsPage reports whether a direct fetch failed in a way that says the
// site wants the item's page opened first: a 4xx other than 429 (a 404
// too: the page will tell whether the item is gone), or HTML that is not
// the login page (unless it is [ErrLoginLoop]), or no PDF at all.
func NeedsPage(err error) bool {
	var st *session.StatusError
	switch {
	case errors.As(err, &st):
		return st.Code >= 400 && st.Code < 500 && st.Code != 429
	case errors.Is(err, ErrLoginLoop):
		return true
	case errors.Is(err, ErrLoginPage):
		return false
	}
	return errors.Is(err, ErrHTMLPage) || errors.Is(err, ErrNotPDF)
}

// Interference guards against a portal that keeps a per-session "current
// item" and serves the file of whichever item a page of the session viewed
// last, not the one asked for. A wrong file ([ErrWrongItem]) that names an
// item some page views right now, or Repeat wrong files among the last
// Window page downloads, put the page path on one worker; after Release
// clean downloads (files saved right) it goes back to all workers, and the
// next release waits twice as long.
//
// Set SetMaxWorkers; the other fields have defaults. It is safe for
// concurrent use.
type Interference struct {
	// SetMaxWorkers limits the pool's workers; 0 lifts the limit
	// ([pool.PagePool.SetMaxWorkers]). Required.
	SetMaxWorkers func(n int) error
	// Repeat wrong files among the last Window page downloads mean
	// interference even when no other page is open. Defaults 2 and 50.
	Repeat, Window int
	// Release is how many clean downloads in a row lift the first limit.
	// Default 100.
	Release int
	// Logger says when the limit is set and lifted; nil: [slog.Default].
	Logger *slog.Logger

	mu      sync.Mutex
	viewing map[string]int // items whose page is open now
	serial  bool
	recent  []bool // the last page downloads: wrong or not
	clean   int
	release int
}

// View notes that a page shows key until done is called.
func (g *Interference) View(key string) (done func()) {
	g.mu.Lock()
	if g.viewing == nil {
		g.viewing = map[string]int{}
	}
	g.viewing[key]++
	g.mu.Unlock()
	return sync.OnceFunc(func() {
		g.mu.Lock()
		if g.viewing[key]--; g.viewing[key] <= 0 {
			delete(g.viewing, key)
		}
		g.mu.Unlock()
	})
}

// Downloaded weighs a page download's outcome.
func (g *Interference) Downloaded(err error) {
	var inv *InvalidError
	wrong := errors.Is(err, ErrWrongItem)
	g.mu.Lock()
	defer g.mu.Unlock()
	window, repeat := cmp.Or(g.Window, 50), cmp.Or(g.Repeat, 2)
	if g.release == 0 {
		g.release = cmp.Or(g.Release, 100)
	}
	g.recent = append(g.recent, wrong)
	g.recent = g.recent[max(0, len(g.recent)-window):]
	correlated, n := false, 0
	if wrong && errors.As(err, &inv) {
		for _, other := range inv.Others {
			correlated = correlated || g.viewing[other] > 0
		}
	}
	for _, w := range g.recent {
		if w {
			n++
		}
	}
	log := cmp.Or(g.Logger, slog.Default())
	switch {
	case wrong && !g.serial && (correlated || n >= repeat):
		g.serial, g.clean = true, 0
		log.Warn("the portal served files of other items (it keeps a per-session \"current item\"): "+
			"one worker views and downloads at a time until that stops", "wrong", n, "of", len(g.recent), "while_viewed", correlated)
		_ = g.SetMaxWorkers(1) // fails only for n < 0
	case g.serial && wrong:
		g.clean = 0
	case g.serial && err == nil:
		// Only a file saved right is clean: a download that failed (a
		// timeout, an error page, a file naming an item not listed yet)
		// says nothing of whether the portal still mixes items up.
		if g.clean++; g.clean >= g.release {
			g.serial, g.recent = false, nil
			log.Info("no wrong file for a while: back to all workers", "downloads", g.clean)
			g.release *= 2
			_ = g.SetMaxWorkers(0)
		}
	}
}
