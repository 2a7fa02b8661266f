package session

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// ListReader returns a [Listing].Read for s that parses each page with
// parse. Pages are read without rendering ([Session.Get]) as long as that
// works: when the first page it reads has no items that way — rows drawn by
// the page's scripts — it reads every page in browser tabs instead
// ([Session.Render]), one tab per page being read at once, since a tab
// shows one page at a time. exp.Ready, a row's selector, is waited for
// only in a tab. A tab whose read failed is closed, not read in again: its
// page may have died with the browser. close closes the tabs; call it when
// the listing ends. A read after close fails with [ErrClosed].
func ListReader[T any](s *Session, exp Expect, parse func(*Document) ListPage[T]) (read func(ctx context.Context, url string) (ListPage[T], error), close func()) {
	lr := &listReader[T]{s: s, exp: exp, parse: parse}
	return lr.read, lr.close
}

type listReader[T any] struct {
	s     *Session
	exp   Expect
	parse func(*Document) ListPage[T]

	decide  sync.Mutex // held while the first read finds out how to read
	decided bool
	render  bool

	mu     sync.Mutex
	idle   []*Tab
	all    []*Tab
	closed bool
}

func (lr *listReader[T]) read(ctx context.Context, url string) (ListPage[T], error) {
	lr.decide.Lock()
	decided, render := lr.decided, lr.render
	if decided {
		lr.decide.Unlock()
	} else {
		defer lr.decide.Unlock() // the others wait for the first page's verdict
	}
	if !render {
		get := lr.exp
		get.Ready = ""
		doc, err := lr.s.Get(ctx, url, get)
		if err != nil {
			return ListPage[T]{}, err
		}
		p := lr.parse(doc)
		if decided || len(p.Items) > 0 {
			if !decided {
				lr.decided = true
			}
			return p, nil
		}
		lr.decided, lr.render = true, true
		lr.s.log.Info("session: the listing's page has no items without rendering; reading it in the browser", "url", ScrubString(url))
	}
	tab, err := lr.tab(ctx)
	if err != nil {
		return ListPage[T]{}, err
	}
	page, err := tab.Page(ctx)
	var doc *Document
	if err == nil {
		doc, err = lr.s.Render(ctx, page, url, lr.exp)
	}
	if err != nil {
		lr.drop(tab)
		return ListPage[T]{}, err
	}
	lr.put(tab)
	return lr.parse(doc), nil
}

func (lr *listReader[T]) tab(ctx context.Context) (*Tab, error) {
	lr.mu.Lock()
	if lr.closed {
		lr.mu.Unlock()
		return nil, fmt.Errorf("session: ListReader: %w", ErrClosed)
	}
	if n := len(lr.idle); n > 0 {
		t := lr.idle[n-1]
		lr.idle = lr.idle[:n-1]
		lr.mu.Unlock()
		return t, nil
	}
	lr.mu.Unlock()
	t, err := lr.s.Tabs().New(ctx)
	if err != nil {
		return nil, err
	}
	lr.mu.Lock()
	if lr.closed { // closed while the tab was made
		lr.mu.Unlock()
		lr.s.Tabs().Close(t)
		return nil, fmt.Errorf("session: ListReader: %w", ErrClosed)
	}
	lr.all = append(lr.all, t)
	lr.mu.Unlock()
	return t, nil
}

// put makes t idle again, unless close closed it meanwhile.
func (lr *listReader[T]) put(t *Tab) {
	lr.mu.Lock()
	if !lr.closed {
		lr.idle = append(lr.idle, t)
	}
	lr.mu.Unlock()
}

// drop closes t and forgets it, unless close closed it meanwhile.
func (lr *listReader[T]) drop(t *Tab) {
	lr.mu.Lock()
	i := slices.Index(lr.all, t)
	if i >= 0 {
		lr.all = slices.Delete(lr.all, i, i+1)
	}
	lr.mu.Unlock()
	if i >= 0 {
		lr.s.Tabs().Close(t)
	}
}

func (lr *listReader[T]) close() {
	lr.mu.Lock()
	all := lr.all
	lr.all, lr.idle, lr.closed = nil, nil, true
	lr.mu.Unlock()
	for _, t := range all {
		lr.s.Tabs().Close(t)
	}
}
