package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
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
		l, err := s.scanLease(s.pool.QueryRow(ctx, s.sql.claim, key, owner, micros(ttl)), owner, nil)
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
	var added int64
	if len(fresh) > 0 {
		tag, err := res.Exec()
		if err != nil {
			return nil, s.errorf(err, "claim %d key(s)", len(keys))
		}
		added = tag.RowsAffected()
	}
	rows, err := res.Query()
	if err != nil {
		return nil, s.errorf(err, "claim %d key(s)", len(keys))
	}
	var ls []checkpoint.Lease
	taken := new(bool) // a lease that ran out held the key: see lease.TookOver
	for rows.Next() {
		l, err := s.scanLease(rows, owner, taken)
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
	s.learn(fresh, keys, len(ls) == 0)
	if s.grew(added) {
		s.analyze(ctx)
	}
	slices.SortFunc(ls, func(a, b checkpoint.Lease) int { return order[a.Key()] - order[b.Key()] })
	return ls, nil
}

// analyzeAt is how many rows a store adds before it has the table
// analyzed, once.
const analyzeAt = 1000

// grew counts rows ClaimBatch added, and reports whether the table is to
// be analyzed now. Once is enough: the plans a thousand rows' statistics
// give are the plans of any larger table (see analyze). Each ANALYZE of a
// large table reads a sample of 30,000 rows: a fleet whose every process
// analyzed at each doubling spent 7.5 s of the server's time on it in a
// 100,000-item run.
func (s *Store) grew(added int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inserted += added
	if s.inserted >= analyzeAt && !s.analyzed {
		s.analyzed = true
		return true
	}
	return false
}

// analyze has PostgreSQL gather the table's statistics, for a table that
// ClaimBatch filled. The plans of the store's statements depend on them: a
// plan made while the table was nearly empty reads it whole — the right
// plan then — and PostgreSQL keeps the plans of prepared statements until
// the table's statistics change, which autovacuum may leave for a minute or
// more. The statistics of a table of a thousand rows or more make every
// statement look its keys up by the primary key, whatever the table grows
// to. It runs only if no other ANALYZE does; a role that does not own the
// table gets a warning, not an error, and autovacuum does it in time.
func (s *Store) analyze(ctx context.Context) {
	if _, err := s.pool.Exec(ctx, "ANALYZE (SKIP_LOCKED) "+s.table); err != nil {
		s.log.Warn("checkpoint/postgres: analyzing the table failed; autovacuum will", "table", s.table, "err", err)
	}
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
// empty, it forgets keys: if someone deleted rows, the next batch puts them
// back instead of missing those keys for good. (Forgetting them after every
// short batch — which concurrent claims make common — would add them again
// at nearly every claim.)
func (s *Store) learn(fresh, keys []string, empty bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.known == nil {
		s.known = map[string]struct{}{}
	}
	for _, k := range fresh {
		s.known[k] = struct{}{}
	}
	if empty {
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

// scanLease reads a claimed row; taken (nil: the statement has no such
// column) whether the claim took the key from a lease that ran out.
func (s *Store) scanLease(sc scanner, owner string, taken *bool) (*lease, error) {
	l := &lease{s: s, owner: owner}
	var expires time.Time
	extra := []any{&l.gen, &expires}
	if taken != nil {
		extra = append(extra, taken)
	}
	rec, found, err := scan(sc, extra...)
	if err != nil {
		return nil, err
	}
	l.key, l.found, l.expires = rec.Key, found, expires.UTC()
	if taken != nil {
		l.takeover = takeoverKnown
		if *taken {
			l.takeover = tookOver
		}
	}
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
	s        *Store
	key      string
	owner    string
	gen      int64
	rec      checkpoint.Record
	found    bool
	takeover takeover

	mu      sync.Mutex
	expires time.Time
}

// takeover is what a claim knows of the lease before it.
type takeover int8

const (
	takeoverUnknown takeover = iota // a single Claim: its statement can't tell
	takeoverKnown                   // the key was free: new, released or abandoned
	tookOver                        // a lease that ran out held it: its holder died or stalled
)

// TookOver reports whether the claim took its key from a lease that ran
// out, and whether it knows: leases of ClaimBatch do, those of Claim
// don't. See [checkpoint.TakeoverLease].
func (l *lease) TookOver() (taken, known bool) {
	return l.takeover == tookOver, l.takeover != takeoverUnknown
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
	sql := l.s.sql.abandon
	if l.takeover == tookOver {
		// No attempt since the holder that died: the next claim must see
		// that too (see TookOver), or a death early in an attempt whose
		// start was not stored yet (checkpoint.Tracker.Start) goes uncounted.
		sql = l.s.sql.abandonTaken
	}
	tag, err := l.s.pool.Exec(ctx, sql, l.key, l.gen)
	switch {
	case err != nil:
		return l.s.errorf(err, "abandon %.80q", l.key)
	case tag.RowsAffected() == 0:
		return l.lost(ctx)
	}
	return nil
}

// own returns l as a lease of this store, or an error wrapping
// ErrForeignLease.
func (s *Store) own(l checkpoint.Lease) (*lease, error) {
	if ml, ok := l.(*lease); ok && ml.s == s {
		return ml, nil
	}
	return nil, fmt.Errorf("%w: %T of %.80q", checkpoint.ErrForeignLease, l, l.Key())
}

// RenewBatch renews leases of this store in one statement. See
// [checkpoint.LeaseBatcher].
func (s *Store) RenewBatch(ctx context.Context, ls []checkpoint.Lease, ttl time.Duration) ([]error, error) {
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("checkpoint/postgres: renew: ttl is %v, want it positive", ttl)
	}
	errs := make([]error, len(ls))
	var mine []*lease
	for i, l := range ls {
		ml, err := s.own(l)
		if err != nil {
			errs[i] = err
			continue
		}
		mine = append(mine, ml)
	}
	slices.SortFunc(mine, func(a, b *lease) int { return strings.Compare(a.key, b.key) })
	keys, gens := make([]string, len(mine)), make([]int64, len(mine))
	for i, l := range mine {
		keys[i], gens[i] = l.key, l.gen
	}
	if len(mine) == 0 {
		return errs, nil
	}
	rows, err := s.pool.Query(ctx, s.sql.renewBatch, keys, gens, micros(ttl))
	if err != nil {
		return nil, s.errorf(err, "renew %d lease(s)", len(mine))
	}
	renewed := make(map[string]time.Time, len(mine))
	for rows.Next() {
		var (
			key     string
			expires time.Time
		)
		if err := rows.Scan(&key, &expires); err != nil {
			rows.Close()
			return nil, s.errorf(err, "renew %d lease(s)", len(mine))
		}
		renewed[key] = expires.UTC()
	}
	if err := rows.Err(); err != nil {
		return nil, s.errorf(err, "renew %d lease(s)", len(mine))
	}
	var lost []*lease
	for _, l := range mine {
		if exp, ok := renewed[l.key]; ok {
			l.mu.Lock()
			l.expires = exp
			l.mu.Unlock()
		} else {
			lost = append(lost, l)
		}
	}
	s.explain(ctx, ls, errs, lost)
	return errs, nil
}

// WriteBatch stores the writes' records through leases of this store, in
// one statement. See [checkpoint.LeaseBatcher].
func (s *Store) WriteBatch(ctx context.Context, ws []checkpoint.LeaseWrite) ([]error, error) {
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	errs := make([]error, len(ws))
	type write struct {
		l       *lease
		w       row
		release bool
	}
	var (
		batch []write
		seen  = make(map[string]bool, len(ws))
	)
	for i, w := range ws {
		l, err := s.own(w.Lease)
		var r checkpoint.Record
		if err == nil {
			r, err = checkpoint.LeaseRecord(w.Record, l.key, l.owner)
		}
		if err == nil {
			r, err = prepare(r)
		}
		var wr row
		if err == nil {
			wr, err = toRow(r)
		}
		if err == nil && seen[l.key] {
			err = fmt.Errorf("%w %.80q: written twice in one batch", checkpoint.ErrInvalid, l.key)
		}
		if err != nil {
			errs[i] = err
			continue
		}
		seen[l.key] = true
		batch = append(batch, write{l, wr, w.Release})
	}
	if len(batch) == 0 {
		return errs, nil
	}
	slices.SortFunc(batch, func(a, b write) int { return strings.Compare(a.l.key, b.l.key) })
	n := len(batch)
	var (
		keys, states, paths, sums, texts, owners = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		gens, attempts, sizes, crashes           = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		metas                                    = make([]pgtype.Text, n)
		starts, updates                          = make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n)
		releases                                 = make([]bool, n)
	)
	for i, b := range batch {
		keys[i], gens[i], releases[i] = b.l.key, b.l.gen, b.release
		states[i], paths[i], sums[i], texts[i], owners[i] = b.w.state, b.w.path, b.w.sha256, b.w.errText, b.w.owner
		attempts[i], sizes[i], crashes[i], metas[i], starts[i], updates[i] = b.w.attempts, b.w.size, b.w.crashes, b.w.meta, b.w.started, b.w.updated
	}
	rows, err := s.pool.Query(ctx, s.sql.writeBatch, keys, gens, states, attempts, paths, sizes, sums, texts, owners, metas, starts, updates, crashes, releases)
	if err != nil {
		return nil, s.errorf(err, "write %d record(s) through their leases", n)
	}
	stored := make(map[string]bool, n)
	for rows.Next() {
		var key string
		if err := rows.Scan(&key); err != nil {
			rows.Close()
			return nil, s.errorf(err, "write %d record(s) through their leases", n)
		}
		stored[key] = true
	}
	if err := rows.Err(); err != nil {
		return nil, s.errorf(err, "write %d record(s) through their leases", n)
	}
	var lost []*lease
	for _, b := range batch {
		if !stored[b.l.key] {
			lost = append(lost, b.l)
		}
	}
	leases := make([]checkpoint.Lease, len(ws))
	for i, w := range ws {
		leases[i] = w.Lease
	}
	s.explain(ctx, leases, errs, lost)
	return errs, nil
}

// explain sets the error of each lease of ls that is in lost — leases
// whose statement changed no row — to ErrLeaseLost, naming the owner that
// claimed its key since, if one did: one query for all of them.
func (s *Store) explain(ctx context.Context, ls []checkpoint.Lease, errs []error, lost []*lease) {
	if len(lost) == 0 {
		return
	}
	keys := make([]string, len(lost))
	for i, l := range lost {
		keys[i] = l.key
	}
	type holder struct {
		owner pgtype.Text
		gen   int64
	}
	now := map[string]holder{}
	if rows, err := s.pool.Query(ctx, s.sql.holders, keys); err == nil {
		for rows.Next() {
			var (
				key string
				h   holder
			)
			if rows.Scan(&key, &h.owner, &h.gen) == nil {
				now[key] = h
			}
		}
		rows.Close()
	}
	why := make(map[*lease]error, len(lost))
	for _, l := range lost {
		if h, ok := now[l.key]; ok && h.gen != l.gen {
			why[l] = fmt.Errorf("%w: %.80q was claimed by %.80q since", checkpoint.ErrLeaseLost, l.key, h.owner.String)
		} else {
			why[l] = fmt.Errorf("%w: the lease of %.80q was released or abandoned", checkpoint.ErrLeaseLost, l.key)
		}
	}
	for i, l := range ls {
		if ml, ok := l.(*lease); ok && errs[i] == nil {
			if err, ok := why[ml]; ok {
				errs[i] = err
			}
		}
	}
}
