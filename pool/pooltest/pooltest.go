// Package pooltest provides fake pages for testing code that uses
// [pool.PagePool], in the spirit of net/http/httptest.
//
// A [Factory] makes [*Page] values whose behaviour is scripted per task key
// and call: latency, errors, permanent errors, hanging until the page is
// closed, panics. The factory itself can be made to fail New or Reset. It
// records what a correct pool must never do — two tasks on one page at once,
// use of a closed page, closing a page twice, pages left open — and
// [Factory.Check] reports those as test failures.
//
// # Example
//
//	f := &pooltest.Factory{Script: func(key string, call int) pooltest.Step {
//		if call == 1 {
//			return pooltest.Step{Err: errors.New("flaky")} // fail once, then succeed
//		}
//		return pooltest.Step{Latency: 10 * time.Millisecond}
//	}}
//	p, _ := pool.New(pool.Config[*pooltest.Page]{Factory: f})
//	p.Submit(f.Task("a"))
//	p.CloseQueue()
//	p.Run(ctx)
//	f.Check(t)
//
// All methods are safe for concurrent use.
package pooltest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/pagefleet/pagefleet/pool"
)

// Step is the scripted behaviour of one call of [Page.Do]. The zero Step
// succeeds at once. Fields combine in this order: Panic, Hang, Latency, Err.
type Step struct {
	// Latency delays the call; it returns ctx.Err() if ctx ends first.
	Latency time.Duration
	// Err is returned after Latency. Permanent wraps it with backoff.Permanent.
	Err       error
	Permanent bool
	// Hang blocks the call, ignoring its context, until the page is closed
	// — like a browser-driver call that never returns. It then returns
	// [ErrPageClosed].
	Hang bool
	// Panic, if not nil, is passed to panic.
	Panic any
	// Value is what a task of [Factory.Task] returns when the call succeeds.
	Value any
}

// Sentinel errors of fake pages.
var (
	// ErrPageClosed is returned by calls on a closed page.
	ErrPageClosed = errors.New("pooltest: page closed")
	// ErrInjected is the default error of NewErr and ResetErr helpers.
	ErrInjected = errors.New("pooltest: injected failure")
)

// Factory is a fake [pool.Factory] of [*Page]. The zero Factory makes pages
// that succeed at everything at once.
type Factory struct {
	// Script returns the behaviour of the call-th call (1-based) of
	// Page.Do for key, counted across pages. Defaults to success.
	Script func(key string, call int) Step
	// NewErr, if set, is asked before the n-th New (1-based); a non-nil
	// error fails that New.
	NewErr func(n int) error
	// ResetErr, if set, is asked on each Reset; a non-nil error fails it.
	ResetErr func(page *Page) error
	// ResetLatency is how long each Reset takes, as a real page's
	// navigation to about:blank does; it returns ctx.Err() if ctx ends
	// first. Zero: at once.
	ResetLatency time.Duration

	mu         sync.Mutex
	pages      []*Page
	news       int
	resets     int
	calls      map[string]int
	violations []string
}

var _ pool.Factory[*Page] = (*Factory)(nil)

// Page is a fake page made by a [Factory].
type Page struct {
	// ID numbers pages in order of creation, from 1.
	ID int

	f        *Factory
	closed   chan struct{}
	isClosed bool
	inUse    int
	tasks    int
}

// New makes a page, or fails as NewErr says.
func (f *Factory) New(ctx context.Context) (*Page, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.news++
	if f.NewErr != nil {
		if err := f.NewErr(f.news); err != nil {
			return nil, err
		}
	}
	p := &Page{ID: len(f.pages) + 1, f: f, closed: make(chan struct{})}
	f.pages = append(f.pages, p)
	return p, nil
}

// Reset takes ResetLatency, and fails as ResetErr says and on a closed page.
func (f *Factory) Reset(ctx context.Context, p *Page) error {
	f.mu.Lock()
	f.resets++
	closed := p.isClosed
	f.mu.Unlock()
	if closed {
		f.violation("Reset of closed page %d", p.ID)
		return ErrPageClosed
	}
	if f.ResetLatency > 0 {
		t := time.NewTimer(f.ResetLatency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	if f.ResetErr != nil {
		return f.ResetErr(p)
	}
	return nil
}

// Close closes a page; it records a violation if the page was closed before.
func (f *Factory) Close(p *Page) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p.isClosed {
		f.violations = append(f.violations, fmt.Sprintf("page %d closed twice", p.ID))
		return ErrPageClosed
	}
	p.isClosed = true
	close(p.closed)
	return nil
}

// Do performs key's next scripted step on the page. It records a violation
// if the page is closed or already in use by another call.
func (p *Page) Do(ctx context.Context, key string) error {
	_, err := p.do(ctx, key)
	return err
}

func (p *Page) do(ctx context.Context, key string) (any, error) {
	f := p.f
	f.mu.Lock()
	if f.calls == nil {
		f.calls = make(map[string]int)
	}
	f.calls[key]++
	call := f.calls[key]
	p.inUse++
	p.tasks++
	closed, inUse := p.isClosed, p.inUse
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		p.inUse--
		f.mu.Unlock()
	}()
	if closed {
		f.violation("task %q ran on closed page %d", key, p.ID)
		return nil, ErrPageClosed
	}
	if inUse > 1 {
		f.violation("page %d used by %d tasks at once (%q)", p.ID, inUse, key)
	}

	var s Step
	if f.Script != nil {
		s = f.Script(key, call)
	}
	if s.Panic != nil {
		panic(s.Panic)
	}
	if s.Hang {
		<-p.closed
		return nil, ErrPageClosed
	}
	if s.Latency > 0 {
		t := time.NewTimer(s.Latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-p.closed:
			t.Stop()
			return nil, ErrPageClosed
		}
	}
	if s.Permanent {
		return nil, backoff.Permanent(s.Err)
	}
	if s.Err != nil {
		return nil, s.Err
	}
	return s.Value, nil
}

// Closed reports whether the page has been closed.
func (p *Page) Closed() bool {
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	return p.isClosed
}

// Tasks is the number of Do calls the page has served.
func (p *Page) Tasks() int {
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	return p.tasks
}

// Task returns a task for key whose Run does what [Page.Do] does and
// returns the Step's Value.
func (f *Factory) Task(key string) pool.Task[*Page] {
	return pool.Task[*Page]{Key: key, Run: func(ctx context.Context, p *Page) (any, error) { return p.do(ctx, key) }}
}

// Calls returns how many times Do ran for key.
func (f *Factory) Calls(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[key]
}

// Counts returns how many pages were made, how many of them are still
// open, and how many New and Reset calls were made (failed ones included).
func (f *Factory) Counts() (made, open, news, resets int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.pages {
		if !p.isClosed {
			open++
		}
	}
	return len(f.pages), open, f.news, f.resets
}

// Pages returns the pages made so far, in order.
func (f *Factory) Pages() []*Page {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*Page(nil), f.pages...)
}

// Violations returns what the pool did wrong so far.
func (f *Factory) Violations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.violations...)
}

// Check fails t for every violation and every page left open. Call it
// after the pool's Run has returned.
func (f *Factory) Check(t testing.TB) {
	t.Helper()
	for _, v := range f.Violations() {
		t.Errorf("pooltest: %s", v)
	}
	if _, open, _, _ := f.Counts(); open > 0 {
		t.Errorf("pooltest: %d page(s) left open", open)
	}
}

func (f *Factory) violation(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.violations = append(f.violations, fmt.Sprintf(format, args...))
}
