package checkpoint

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
	"time"
)

// Memory is a [Store] that keeps records in memory only: for tests and
// short runs. It is a [Leaser] for the goroutines of one process. The zero
// value is an empty store, ready to use.
type Memory struct {
	table
	leases leases

	// Now is the clock leases expire by; tests set it to a fake one before
	// the first claim. Defaults to time.Now.
	Now func() time.Time
}

var (
	_ Store        = (*Memory)(nil)
	_ Batcher      = (*Memory)(nil)
	_ LeaseBatcher = (*Memory)(nil)
	_ Surveyor     = (*Memory)(nil)
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

// Claim leases key to owner for ttl. See [Leaser].
func (m *Memory) Claim(ctx context.Context, key, owner string, ttl time.Duration) (Lease, error) {
	ls, err := m.leases.claim(ctx, m, []string{key}, owner, 1, ttl, true)
	if err != nil {
		return nil, err
	}
	return ls[0], nil
}

// ClaimBatch leases up to n of keys to owner for ttl. See [Leaser].
func (m *Memory) ClaimBatch(ctx context.Context, keys []string, owner string, n int, ttl time.Duration) ([]Lease, error) {
	return m.leases.claim(ctx, m, keys, owner, n, ttl, false)
}

// RenewBatch renews leases of m. See [LeaseBatcher].
func (m *Memory) RenewBatch(ctx context.Context, ls []Lease, ttl time.Duration) ([]error, error) {
	return m.leases.renewBatch(ctx, m, ls, ttl)
}

// WriteBatch writes through leases of m. See [LeaseBatcher].
func (m *Memory) WriteBatch(ctx context.Context, ws []LeaseWrite) ([]error, error) {
	return m.leases.writeBatch(ctx, m, ws)
}

func (m *Memory) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
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

// lookup returns the record of key, if any, or ErrClosed.
func (t *table) lookup(key string) (Record, bool, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return Record{}, false, ErrClosed
	}
	r, ok := t.recs[key]
	return clone(r), ok, nil
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

// Left returns the records of keys that are not Done. See [Surveyor].
func (t *table) Left(ctx context.Context, keys []string) ([]Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return nil, ErrClosed
	}
	var out []Record
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		switch r, ok := t.recs[k]; {
		case !ok:
			out = append(out, Record{Key: k})
		case r.State != Done:
			out = append(out, clone(r))
		}
	}
	return out, nil
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
