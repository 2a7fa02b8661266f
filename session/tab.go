package session

import (
	"context"
	"fmt"
	"sync"

	playwright "github.com/mxschmitt/playwright-go"

	"github.com/pagefleet/pagefleet/pool"
)

// Tab is a worker's page, opened on first use: a task that only fetches
// ([Session.Fetch], [Session.Get]) never opens one, and an idle page costs
// memory. Tabs come from [Session.Tabs].
type Tab struct {
	s      *Session
	mu     sync.Mutex
	page   playwright.Page
	closed bool
}

// Page returns the tab's page, opening it (see [Session.NewPage]) on the
// first call. After the pool closed the tab — its attempt was abandoned —
// it fails with playwright.ErrTargetClosed.
func (t *Tab) Page(ctx context.Context) (playwright.Page, error) {
	t.mu.Lock()
	page, closed := t.page, t.closed
	t.mu.Unlock()
	switch {
	case closed:
		return nil, fmt.Errorf("session: tab: %w", playwright.ErrTargetClosed)
	case page != nil:
		return page, nil
	}
	page, err := t.s.NewPage(ctx)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed { // the pool gave up on this attempt meanwhile
		_ = t.s.ClosePage(page)
		return nil, fmt.Errorf("session: tab: %w", playwright.ErrTargetClosed)
	}
	t.page = page
	return page, nil
}

// Tabs returns the session as a [pool.Factory] of [Tab]s: New makes an
// empty tab at once, Reset resets its page (if it has one) as
// [Session.Pages] does, Close closes it.
func (s *Session) Tabs() pool.Factory[*Tab] { return tabs{s} }

type tabs struct{ s *Session }

func (f tabs) New(context.Context) (*Tab, error) { return &Tab{s: f.s}, nil }

func (f tabs) Reset(ctx context.Context, t *Tab) error {
	t.mu.Lock()
	page := t.page
	t.mu.Unlock()
	if page == nil {
		return nil
	}
	return f.s.reset(ctx, page)
}

func (f tabs) Close(t *Tab) error {
	t.mu.Lock()
	page := t.page
	t.closed = true
	t.mu.Unlock()
	if page == nil {
		return nil
	}
	return f.s.ClosePage(page)
}
