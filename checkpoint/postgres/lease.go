package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pagefleet/pagefleet/checkpoint"
)

// micros is ttl in whole microseconds, at least one: PostgreSQL's interval
// resolution.
func micros(ttl time.Duration) int64 { return max(1, ttl.Microseconds()) }

// Claim leases key to owner for ttl, by the database server's clock, in one
// statement. See [checkpoint.Leaser].
func (s *Store) Claim(ctx context.Context, key, owner string, ttl time.Duration) (checkpoint.Lease, error) {
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	if err := checkClaim([]string{key}, owner, 1, ttl); err != nil {
		return nil, err
	}
	// A claim that finds the key taken reads why; if by then the key is
	// free again (its lease ended in between), it tries once more.
	for range 2 {
		l, err := s.scanLease(s.pool.QueryRow(ctx, s.sql.claim, key, owner, micros(ttl)), owner)
		if !errors.Is(err, pgx.ErrNoRows) {
			if err != nil {
				return nil, s.errorf(err, "claim %.80q", key)
			}
			return l, nil
		}
		var (
			state, holder pgtype.Text
			expires       pgtype.Timestamptz
			live          pgtype.Bool
		)
		if err := s.pool.QueryRow(ctx, s.sql.claimState, key).Scan(&state, &holder, &expires, &live); err != nil {
			return nil, s.errorf(err, "claim %.80q", key)
		}
		switch {
		case state.String == string(checkpoint.Done):
			return nil, fmt.Errorf("%w: %.80q", checkpoint.ErrDone, key)
		case holder.Valid && live.Bool:
			return nil, fmt.Errorf("%w: %.80q is leased to %.80q until %s", checkpoint.ErrLeased, key, holder.String, expires.Time.UTC().Format(time.RFC3339Nano))
		}
	}
	return nil, fmt.Errorf("%w: %.80q is claimed and released by others as this claim runs", checkpoint.ErrLeased, key)
}

// ClaimBatch leases up to n of keys to owner for ttl in one round trip.
// See [checkpoint.Leaser].
func (s *Store) ClaimBatch(ctx context.Context, keys []string, owner string, n int, ttl time.Duration) ([]checkpoint.Lease, error) {
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	if err := checkClaim(keys, owner, n, ttl); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, nil
	}
	order := make(map[string]int, len(keys))
	uniq := make([]string, 0, len(keys)) // a duplicate would count twice against n
	for _, k := range keys {
		if _, ok := order[k]; !ok {
			order[k] = len(uniq)
			uniq = append(uniq, k)
		}
	}
	keys = uniq
	var b pgx.Batch
	fresh := s.unknown(keys)
	if len(fresh) > 0 {
		b.Queue(s.sql.insertKeys, fresh)
	}
	b.Queue(s.sql.claimBatch, keys, n, owner, micros(ttl))
	res := s.pool.SendBatch(ctx, &b)
	defer res.Close()
	if len(fresh) > 0 {
		if _, err := res.Exec(); err != nil {
			return nil, s.errorf(err, "claim %d key(s)", len(keys))
		}
	}
	rows, err := res.Query()
	if err != nil {
		return nil, s.errorf(err, "claim %d key(s)", len(keys))
	}
	var ls []checkpoint.Lease
	for rows.Next() {
		l, err := s.scanLease(rows, owner)
		if err != nil {
			return nil, s.errorf(err, "claim %d key(s)", len(keys))
		}
		ls = append(ls, l)
	}
	if err := rows.Err(); err != nil {
		return nil, s.errorf(err, "claim %d key(s)", len(keys))
	}
	if err := res.Close(); err != nil { // commits
		return nil, s.errorf(err, "claim %d key(s)", len(keys))
	}
	s.learn(fresh, keys, len(ls) < n)
	slices.SortFunc(ls, func(a, b checkpoint.Lease) int { return order[a.Key()] - order[b.Key()] })
	return ls, nil
}

// unknown returns the keys this store has not seen rows of: ClaimBatch adds
// rows for them first. Sparing that statement spares a scan of the table.
func (s *Store) unknown(keys []string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, k := range keys {
		if _, ok := s.known[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

// learn notes that the keys in fresh have rows now. When a batch came back
// short, it forgets keys: if someone deleted rows, the next batch puts them
// back instead of missing those keys for good.
func (s *Store) learn(fresh, keys []string, short bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.known == nil {
		s.known = map[string]struct{}{}
	}
	for _, k := range fresh {
		s.known[k] = struct{}{}
	}
	if short {
		for _, k := range keys {
			delete(s.known, k)
		}
	}
}

func checkClaim(keys []string, owner string, n int, ttl time.Duration) error {
	if err := checkpoint.CheckClaim(keys, owner, n, ttl); err != nil {
		return err
	}
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return err
		}
	}
	if noNUL(owner) != owner {
		return fmt.Errorf("checkpoint/postgres: claim: owner %.80q has a NUL character", owner)
	}
	return nil
}

func (s *Store) scanLease(sc scanner, owner string) (*lease, error) {
	l := &lease{s: s, owner: owner}
	var expires time.Time
	rec, found, err := scan(sc, &l.gen, &expires)
	if err != nil {
		return nil, err
	}
	l.key, l.found, l.expires = rec.Key, found, expires.UTC()
	if found {
		l.rec = rec
	}
	return l, nil
}

// lease is a [checkpoint.Lease] held in the table: the row of its key with
// its generation and a non-NULL lease_expires. A claim of the key increments
// the generation; a release or abandon clears lease_expires. Every statement
// of the lease is conditional on both, so a lease that another claim took
// over, or that ended, changes nothing.
type lease struct {
	s     *Store
	key   string
	owner string
	gen   int64
	rec   checkpoint.Record
	found bool

	mu      sync.Mutex
	expires time.Time
}

func (l *lease) Key() string   { return l.key }
func (l *lease) Owner() string { return l.owner }

func (l *lease) Record() (checkpoint.Record, bool) {
	r := l.rec
	r.Meta = maps.Clone(r.Meta)
	return r, l.found
}

func (l *lease) Expires() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.expires
}

// lost explains why a statement of the lease changed no row.
func (l *lease) lost(ctx context.Context) error {
	var (
		holder pgtype.Text
		gen    int64
	)
	if err := l.s.pool.QueryRow(ctx, l.s.sql.holder, l.key).Scan(&holder, &gen); err == nil && gen != l.gen {
		return fmt.Errorf("%w: %.80q was claimed by %.80q since", checkpoint.ErrLeaseLost, l.key, holder.String)
	}
	return fmt.Errorf("%w: the lease of %.80q was released or abandoned", checkpoint.ErrLeaseLost, l.key)
}

func (l *lease) Renew(ctx context.Context, ttl time.Duration) error {
	if err := l.s.start(ctx); err != nil {
		return err
	}
	if ttl <= 0 {
		return fmt.Errorf("checkpoint/postgres: renew: ttl is %v, want it positive", ttl)
	}
	var expires time.Time
	err := l.s.pool.QueryRow(ctx, l.s.sql.renew, l.key, l.gen, micros(ttl)).Scan(&expires)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return l.lost(ctx)
	case err != nil:
		return l.s.errorf(err, "renew the lease of %.80q", l.key)
	}
	l.mu.Lock()
	l.expires = expires.UTC()
	l.mu.Unlock()
	return nil
}

func (l *lease) Put(ctx context.Context, r checkpoint.Record) error {
	return l.put(ctx, r, l.s.sql.leasePut, "put")
}

func (l *lease) Release(ctx context.Context, r checkpoint.Record) error {
	return l.put(ctx, r, l.s.sql.leaseRelease, "release")
}

func (l *lease) put(ctx context.Context, r checkpoint.Record, sql, what string) error {
	if err := l.s.start(ctx); err != nil {
		return err
	}
	r, err := checkpoint.LeaseRecord(r, l.key, l.owner)
	if err != nil {
		return err
	}
	if r, err = prepare(r); err != nil {
		return err
	}
	w, err := toRow(r)
	if err != nil {
		return err
	}
	tag, err := l.s.pool.Exec(ctx, sql, l.key, l.gen, w.state, w.attempts, w.path, w.size, w.sha256, w.errText, w.owner, w.meta, w.started, w.updated, w.crashes)
	switch {
	case err != nil:
		return l.s.errorf(err, "%s %.80q", what, l.key)
	case tag.RowsAffected() == 0:
		return l.lost(ctx)
	}
	return nil
}

func (l *lease) Abandon(ctx context.Context) error {
	if err := l.s.start(ctx); err != nil {
		return err
	}
	tag, err := l.s.pool.Exec(ctx, l.s.sql.abandon, l.key, l.gen)
	switch {
	case err != nil:
		return l.s.errorf(err, "abandon %.80q", l.key)
	case tag.RowsAffected() == 0:
		return l.lost(ctx)
	}
	return nil
}
