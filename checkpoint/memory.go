package checkpoint

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
)

// Memory is a [Store] that keeps records in memory only: for tests and
// short runs. The zero value is an empty store, ready to use.
type Memory struct{ table }

var (
	_ Store   = (*Memory)(nil)
	_ Batcher = (*Memory)(nil)
)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return new(Memory) }

// Put stores r. See [Store].
func (m *Memory) Put(ctx context.Context, r Record) error {
	return m.PutBatch(ctx, []Record{r})
}

// PutBatch stores recs. See [Batcher].
func (m *Memory) PutBatch(ctx context.Context, recs []Record) error {
	recs, err := normalizeAll(ctx, recs)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.setLocked(recs)
	return nil
}

// Close empties the store.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed, m.recs = true, nil
	return nil
}

// table is the in-memory index both stores serve reads from.
type table struct {
	mu     sync.RWMutex
	recs   map[string]Record
	closed bool
}

func (t *table) setLocked(recs []Record) {
	if t.recs == nil {
		t.recs = map[string]Record{}
	}
	for _, r := range recs {
		t.recs[r.Key] = r
	}
}

// Get returns the record of key. See [Store].
func (t *table) Get(ctx context.Context, key string) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return Record{}, ErrClosed
	}
	r, ok := t.recs[key]
	if !ok {
		return Record{}, fmt.Errorf("%w: %.80q", ErrNotFound, key)
	}
	return clone(r), nil
}

// All yields every record in key order. See [Store].
func (t *table) All(ctx context.Context) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		if err := ctx.Err(); err != nil {
			yield(Record{}, err)
			return
		}
		// Yield from a snapshot, not under the lock: the loop body may Put.
		t.mu.RLock()
		if t.closed {
			t.mu.RUnlock()
			yield(Record{}, ErrClosed)
			return
		}
		recs := make([]Record, 0, len(t.recs))
		for _, r := range t.recs {
			recs = append(recs, r)
		}
		t.mu.RUnlock()
		slices.SortFunc(recs, func(a, b Record) int { return strings.Compare(a.Key, b.Key) })
		for _, r := range recs {
			if err := ctx.Err(); err != nil {
				yield(Record{}, err)
				return
			}
			if !yield(clone(r), nil) {
				return
			}
		}
	}
}

func normalizeAll(ctx context.Context, recs []Record) ([]Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]Record, len(recs))
	for i, r := range recs {
		var err error
		if out[i], err = Normalize(r); err != nil {
			return nil, err
		}
	}
	return out, nil
}
