package pool

import "context"

// Factory makes, resets and closes the pages a [PagePool] hands to its
// workers. Each worker owns one page for many tasks; the pool never gives a
// page to two tasks at once and closes every page it made exactly once.
//
// Methods should return once ctx is done: a factory whose New or Reset can
// block (a browser call) should turn the deadline into its own timeout.
type Factory[P any] interface {
	// New makes a page. An error wrapped with backoff.Permanent (or [Abort])
	// stops the pool; other errors are retried with backoff.
	New(ctx context.Context) (P, error)
	// Reset makes a page fit for the next task after a failed attempt
	// (e.g. navigate to about:blank). An error makes the worker close the
	// page and make a new one.
	Reset(ctx context.Context, page P) error
	// Close releases a page. It is called once per page the factory made,
	// also when the page is broken.
	Close(page P) error
}

// Funcs adapts plain functions to a [Factory]. NewFunc is required; a nil
// ResetFunc resets nothing and a nil CloseFunc closes nothing.
type Funcs[P any] struct {
	NewFunc   func(ctx context.Context) (P, error)
	ResetFunc func(ctx context.Context, page P) error
	CloseFunc func(page P) error
}

var _ Factory[int] = Funcs[int]{}

// New calls NewFunc.
func (f Funcs[P]) New(ctx context.Context) (P, error) { return f.NewFunc(ctx) }

// Reset calls ResetFunc, if set.
func (f Funcs[P]) Reset(ctx context.Context, page P) error {
	if f.ResetFunc == nil {
		return nil
	}
	return f.ResetFunc(ctx, page)
}

// Close calls CloseFunc, if set.
func (f Funcs[P]) Close(page P) error {
	if f.CloseFunc == nil {
		return nil
	}
	return f.CloseFunc(page)
}
