package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pagefleet/pagefleet/checkpoint"
)

// ErrVersion is returned by [Open] for a table that a newer build migrated
// past [SchemaVersion].
var ErrVersion = errors.New("checkpoint/postgres: table is from a newer version")

// Options configure [Open] and [New]. The zero value is ready to use.
type Options struct {
	// Schema is the PostgreSQL schema of the tables. Open creates it if it
	// does not exist. Defaults to "public".
	Schema string
	// Table is the name of the records table. Jobs that share a database
	// use different tables (or schemas); the processes of one job share
	// one. Open creates and migrates it. At most 63 bytes. Defaults to
	// "pagefleet_checkpoint".
	Table string
	// Logger receives migrations. It never gets record contents. Defaults
	// to slog.Default().
	Logger *slog.Logger
}

func (o Options) validate() error {
	for _, f := range []struct{ name, v string }{{"Schema", o.Schema}, {"Table", o.Table}} {
		if len(f.v) > 63 || strings.ContainsRune(f.v, 0) {
			return fmt.Errorf("checkpoint/postgres: Options.%s %.80q: want at most 63 bytes and no NUL", f.name, f.v)
		}
	}
	return nil
}

// Store is a [checkpoint.Store], [checkpoint.Batcher] and
// [checkpoint.Leaser] in a PostgreSQL table. It is safe for concurrent use,
// by any number of goroutines and processes.
type Store struct {
	pool    *pgxpool.Pool
	ownPool bool
	opts    Options
	log     *slog.Logger
	table   string // schema-qualified and quoted
	closed  atomic.Bool
	sql     statements

	mu       sync.Mutex
	known    map[string]struct{} // keys ClaimBatch has made sure have a row
	inserted int64               // rows ClaimBatch added
	analyzed bool                // had the table analyzed
}

var (
	_ checkpoint.Store        = (*Store)(nil)
	_ checkpoint.Batcher      = (*Store)(nil)
	_ checkpoint.LeaseBatcher = (*Store)(nil)
	_ checkpoint.Surveyor     = (*Store)(nil)
)

// Open connects to the database at dsn — a URL such as
// postgres://user:password@host:5432/db or key=value pairs; pgxpool's pool_*
// parameters size the connection pool — and returns a Store over its table,
// created or migrated to [SchemaVersion] first. Close closes the pool.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	cfg, err := ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("checkpoint/postgres: %w", err)
	}
	s, err := New(ctx, pool, opts)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.ownPool = true
	return s, nil
}

// ParseConfig returns the configuration of the pool that [Open] makes of
// dsn: pgxpool's, with the session settings the store's statements want.
// Start from it to give [New] a pool of your own settings (a tracer, more
// connections); an AfterConnect of yours should call the one it has.
//
// The setting is plan_cache_mode = force_generic_plan. The statements take
// their keys as arrays, and PostgreSQL plans a prepared statement afresh at
// every execution whose arrays it finds short, as a batch of records
// usually is: planning cost more of its CPU than executing did. The
// generic plan of each statement is the one a custom plan would be — an
// index lookup per key, which the LATERAL subqueries hold it to.
func ParseConfig(dsn string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("checkpoint/postgres: %w", err)
	}
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, "SET plan_cache_mode = force_generic_plan")
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == undefinedObject {
			return nil // before PostgreSQL 12: plans as they come
		}
		if err != nil {
			return fmt.Errorf("checkpoint/postgres: set plan_cache_mode: %w", err)
		}
		return nil
	}
	return cfg, nil
}

// undefinedObject is the SQLSTATE of a setting the server does not know.
const undefinedObject = "42704"

// New returns a Store over the table of opts in the database of pool,
// created or migrated to [SchemaVersion] first. Close leaves the pool open.
// A pool made from [ParseConfig] runs the store's statements with less CPU.
func New(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Store, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	opts.Schema = cmp.Or(opts.Schema, "public")
	opts.Table = cmp.Or(opts.Table, "pagefleet_checkpoint")
	s := &Store{pool: pool, opts: opts, log: cmp.Or(opts.Logger, slog.Default())}
	s.table = pgx.Identifier{opts.Schema, opts.Table}.Sanitize()
	s.sql = newStatements(s.table)
	if err := s.migrate(ctx); err != nil {
		return nil, s.errorf(err, "migrate %s", s.table)
	}
	return s, nil
}

// Table returns the schema-qualified, quoted name of the records table.
func (s *Store) Table() string { return s.table }

// Close closes the pool if [Open] made it. Further calls of the store's
// methods, and its leases', return [checkpoint.ErrClosed]. Leases the
// store's callers hold stay in the table until they expire.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if s.ownPool {
		s.pool.Close()
	}
	return nil
}

// start checks, before a call, that the store is open and ctx is not done.
func (s *Store) start(ctx context.Context) error {
	if s.closed.Load() {
		return checkpoint.ErrClosed
	}
	return ctx.Err()
}

// errorf wraps a database error; once the store is closed, it is ErrClosed.
func (s *Store) errorf(err error, format string, args ...any) error {
	if s.closed.Load() {
		return checkpoint.ErrClosed
	}
	return fmt.Errorf("checkpoint/postgres: %s: %w", fmt.Sprintf(format, args...), err)
}

// statements are the store's SQL, made once for its table.
type statements struct {
	get, page, put, leasePut, leaseRelease    string
	claim, claimState, insertKeys, claimBatch string
	renew, abandon, abandonTaken, holder      string
	renewBatch, writeBatch, holders, left     string
}

// columns are a record's, in the order scan reads them.
const columns = "key, state, attempts, path, size, sha256, err, owner, meta, started, updated, crashes"

func newStatements(t string) statements {
	// Lease conditions: the lease of generation $2 still holds the key (an
	// expired one too, until another claim takes it); a key is free when it
	// is not Done and no lease holds it that has not expired.
	const held = "key = $1 AND lease_gen = $2 AND lease_expires IS NOT NULL"
	const free = "state IS DISTINCT FROM 'done' AND (lease_expires IS NULL OR lease_expires <= now())"
	const set = `state = $3, attempts = $4, path = $5, size = $6, sha256 = $7, err = $8, owner = $9,
		meta = $10::jsonb, started = $11, updated = $12, crashes = $13`
	const returning = "RETURNING " + columns + ", lease_gen, lease_expires"
	return statements{
		get:  "SELECT " + columns + " FROM " + t + " WHERE key = $1 AND state IS NOT NULL",
		page: "SELECT " + columns + " FROM " + t + " WHERE key > $1 AND state IS NOT NULL ORDER BY key LIMIT $2",
		put: "INSERT INTO " + t + " (" + columns + `)
			SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::text[],
				$7::text[], $8::text[], $9::text[]::jsonb[], $10::timestamptz[], $11::timestamptz[], $12::bigint[])
			ON CONFLICT (key) DO UPDATE SET state = excluded.state, attempts = excluded.attempts,
				path = excluded.path, size = excluded.size, sha256 = excluded.sha256, err = excluded.err,
				owner = excluded.owner, meta = excluded.meta, started = excluded.started, updated = excluded.updated,
				crashes = excluded.crashes`,
		leasePut:     "UPDATE " + t + " SET " + set + " WHERE " + held,
		leaseRelease: "UPDATE " + t + " SET " + set + ", lease_expires = NULL WHERE " + held,
		// One statement: a new key is inserted with its lease; an existing
		// one is updated only if it is free. A concurrent claim of the same
		// key waits for this one's row lock, then finds the key leased.
		claim: "INSERT INTO " + t + ` AS r (key, lease_owner, lease_gen, lease_expires)
			VALUES ($1, $2, 1, now() + $3::bigint * interval '1 microsecond')
			ON CONFLICT (key) DO UPDATE SET lease_owner = excluded.lease_owner,
				lease_gen = r.lease_gen + 1, lease_expires = excluded.lease_expires
			WHERE r.` + strings.ReplaceAll(free, "lease_", "r.lease_") + " " + returning,
		claimState: "SELECT state, lease_owner, lease_expires, lease_expires > now() FROM " + t + " WHERE key = $1",
		// A batch claim is two statements in one round trip and one
		// (implicit) transaction. The first adds a row for each offered key
		// the table does not have, in key order, so that concurrent batches
		// lock new rows in one order and never deadlock. The second walks the
		// offered keys in order (a function scan WITH ORDINALITY is sorted
		// by its ordinality: no sort) and looks each one up by the primary
		// key, locking it if it is free and skipping it if another claim has
		// it locked, until it has $2: concurrent batches get disjoint keys
		// without waiting for each other, and a batch costs an index lookup
		// per key it passes, not a scan of the table. The LATERAL subquery
		// with FOR UPDATE can't be flattened into a join, which keeps that
		// plan whatever the statistics. FOR UPDATE rechecks the conditions
		// on a row another claim changed since this statement's snapshot,
		// so a key that claim took is skipped too.
		insertKeys: "INSERT INTO " + t + ` (key)
			SELECT k FROM unnest($1::text[]) AS u(k)
			ORDER BY k COLLATE "C"
			ON CONFLICT (key) DO NOTHING`,
		claimBatch: `WITH c AS (
				SELECT f.key, f.taken FROM unnest($1::text[]) WITH ORDINALITY AS u(k, i),
					LATERAL (SELECT r.key, r.lease_expires IS NOT NULL AS taken FROM ` + t + ` r
						WHERE r.key = u.k AND r.` + strings.ReplaceAll(free, "lease_", "r.lease_") + `
						FOR UPDATE SKIP LOCKED) f
				ORDER BY u.i
				LIMIT $2
			)
			UPDATE ` + t + ` r SET lease_owner = $3, lease_gen = r.lease_gen + 1,
				lease_expires = now() + $4::bigint * interval '1 microsecond'
			FROM c WHERE r.key = c.key
			RETURNING r.` + strings.ReplaceAll(columns, ", ", ", r.") + ", r.lease_gen, r.lease_expires, c.taken",
		renew:   "UPDATE " + t + " SET lease_expires = now() + $3::bigint * interval '1 microsecond' WHERE " + held + " RETURNING lease_expires",
		abandon: "UPDATE " + t + " SET lease_expires = NULL WHERE " + held,
		// A lease that took its key over from one that ran out leaves it
		// run out too (free at once; its generation moved on, so it holds
		// nothing): the next claim takes it over in turn, a suspect still.
		abandonTaken: "UPDATE " + t + " SET lease_expires = now(), lease_gen = lease_gen + 1 WHERE " + held,
		holder:       "SELECT lease_owner, lease_gen FROM " + t + " WHERE key = $1",
		// The batch statements of leases lock the rows whose lease still
		// holds them, one index lookup per key in the arrays' order (key
		// order: a LATERAL subquery with FOR UPDATE keeps that plan, so
		// concurrent batches — a process's renewals and its records — lock
		// rows in one order and can't deadlock; a join was free to scan the
		// table instead, and did, on a small one), then update them. The
		// rows they return are the leases that held; the others were lost.
		renewBatch: "UPDATE " + t + ` r SET lease_expires = now() + $3::bigint * interval '1 microsecond'
			FROM (SELECT u.key FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS u(key, gen, i),
					LATERAL (SELECT key FROM ` + t + ` WHERE key = u.key AND lease_gen = u.gen
						AND lease_expires IS NOT NULL FOR UPDATE) l
				ORDER BY u.i) u
			WHERE r.key = u.key
			RETURNING r.key, r.lease_expires`,
		writeBatch: "UPDATE " + t + ` r SET state = u.state, attempts = u.attempts, path = u.path, size = u.size,
				sha256 = u.sha256, err = u.err, owner = u.owner, meta = u.meta::jsonb, started = u.started,
				updated = u.updated, crashes = u.crashes,
				lease_expires = CASE WHEN u.release THEN NULL ELSE r.lease_expires END
			FROM (SELECT u.* FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::bigint[], $7::text[],
					$8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::timestamptz[], $13::bigint[], $14::bool[])
					WITH ORDINALITY AS u(key, gen, state, attempts, path, size, sha256, err, owner, meta, started, updated, crashes, release, i),
					LATERAL (SELECT key FROM ` + t + ` WHERE key = u.key AND lease_gen = u.gen
						AND lease_expires IS NOT NULL FOR UPDATE) l
				ORDER BY u.i) u
			WHERE r.key = u.key
			RETURNING r.key`,
		holders: "SELECT key, lease_owner, lease_gen FROM " + t + " WHERE key = ANY($1::text[])",
		// What is left of many keys: each looked up by the primary key (the
		// LATERAL subquery with OFFSET 0 can't be flattened into a join,
		// which keeps that plan: a merge join would walk the index from its
		// start); a key without a row comes back with NULLs.
		left: `SELECT u.k, r.state, coalesce(r.attempts, 0), coalesce(r.path, ''), coalesce(r.size, 0),
				coalesce(r.sha256, ''), coalesce(r.err, ''), coalesce(r.owner, ''), r.meta, r.started, r.updated,
				coalesce(r.crashes, 0)
			FROM unnest($1::text[]) WITH ORDINALITY AS u(k, i)
			LEFT JOIN LATERAL (SELECT * FROM ` + t + ` WHERE key = u.k OFFSET 0) r ON true
			WHERE r.state IS DISTINCT FROM 'done'
			ORDER BY u.i`,
	}
}

// prepare returns r normalized as the store keeps it: [checkpoint.Normalize]d,
// times cut to the microseconds PostgreSQL keeps, and NUL characters, which
// PostgreSQL text can't hold, replaced by U+FFFD — except in the key, where
// one is an error wrapping [checkpoint.ErrInvalid].
func prepare(r checkpoint.Record) (checkpoint.Record, error) {
	r, err := checkpoint.Normalize(r)
	if err != nil {
		return r, err
	}
	if err := checkKey(r.Key); err != nil {
		return r, err
	}
	r.Path, r.SHA256, r.Err, r.Owner = noNUL(r.Path), noNUL(r.SHA256), noNUL(r.Err), noNUL(r.Owner)
	for k, v := range r.Meta {
		if nk, nv := noNUL(k), noNUL(v); nk != k || nv != v {
			delete(r.Meta, k)
			r.Meta[nk] = nv
		}
	}
	r.Started, r.Updated = r.Started.Truncate(time.Microsecond), r.Updated.Truncate(time.Microsecond)
	return r, nil
}

func checkKey(key string) error {
	if strings.IndexByte(key, 0) >= 0 {
		return fmt.Errorf("%w %.80q: PostgreSQL can't store a key with a NUL character", checkpoint.ErrInvalid, key)
	}
	return nil
}

func noNUL(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// row is a record as query arguments.
type row struct {
	state, path, sha256, errText, owner string
	attempts, size, crashes             int64
	meta                                pgtype.Text
	started, updated                    pgtype.Timestamptz
}

func toRow(r checkpoint.Record) (row, error) {
	w := row{state: string(r.State), path: r.Path, sha256: r.SHA256, errText: r.Err, owner: r.Owner,
		attempts: int64(r.Attempts), size: r.Size, crashes: int64(r.Crashes), started: timestamptz(r.Started), updated: timestamptz(r.Updated)}
	if r.Meta != nil {
		b, err := json.Marshal(r.Meta)
		if err != nil {
			return w, fmt.Errorf("checkpoint/postgres: encode Meta of %.80q: %w", r.Key, err)
		}
		w.meta = pgtype.Text{String: string(b), Valid: true}
	}
	return w, nil
}

func timestamptz(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

// scanner is pgx.Row or pgx.Rows.
type scanner interface{ Scan(dest ...any) error }

// scan reads the columns of a row, then extra. found is false for a row
// that only holds a lease.
func scan(sc scanner, extra ...any) (r checkpoint.Record, found bool, err error) {
	var (
		state             pgtype.Text
		attempts, crashes int64
		meta              []byte
		started, updated  pgtype.Timestamptz
	)
	dest := append([]any{&r.Key, &state, &attempts, &r.Path, &r.Size, &r.SHA256, &r.Err, &r.Owner, &meta, &started, &updated, &crashes}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return r, false, err
	}
	if !state.Valid {
		return checkpoint.Record{Key: r.Key}, false, nil // only the key: see scanLease
	}
	r.State, r.Attempts, r.Crashes = checkpoint.State(state.String), int(attempts), int(crashes)
	if meta != nil {
		if err := json.Unmarshal(meta, &r.Meta); err != nil {
			return r, false, fmt.Errorf("decode Meta of %.80q: %w", r.Key, err)
		}
		if len(r.Meta) == 0 {
			r.Meta = nil
		}
	}
	if started.Valid {
		r.Started = started.Time.UTC()
	}
	if updated.Valid {
		r.Updated = updated.Time.UTC()
	}
	return r, true, nil
}

// Put stores r. See [checkpoint.Store].
func (s *Store) Put(ctx context.Context, r checkpoint.Record) error {
	return s.PutBatch(ctx, []checkpoint.Record{r})
}

// PutBatch stores recs in one statement: all or none. See [checkpoint.Batcher].
func (s *Store) PutBatch(ctx context.Context, recs []checkpoint.Record) error {
	if err := s.start(ctx); err != nil {
		return err
	}
	last := make(map[string]checkpoint.Record, len(recs)) // one row per key: the last
	for _, r := range recs {
		r, err := prepare(r)
		if err != nil {
			return err
		}
		last[r.Key] = r
	}
	if len(last) == 0 {
		return nil
	}
	// In key order, so that concurrent batches lock rows in one order.
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range last {
			if !yield(k) {
				return
			}
		}
	})
	n := len(keys)
	var (
		states, paths, sums, errs, owners = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		attempts, sizes, crashes          = make([]int64, n), make([]int64, n), make([]int64, n)
		metas                             = make([]pgtype.Text, n)
		starts, updates                   = make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n)
	)
	for i, k := range keys {
		w, err := toRow(last[k])
		if err != nil {
			return err
		}
		states[i], paths[i], sums[i], errs[i], owners[i] = w.state, w.path, w.sha256, w.errText, w.owner
		attempts[i], sizes[i], metas[i], starts[i], updates[i], crashes[i] = w.attempts, w.size, w.meta, w.started, w.updated, w.crashes
	}
	if _, err := s.pool.Exec(ctx, s.sql.put, keys, states, attempts, paths, sizes, sums, errs, owners, metas, starts, updates, crashes); err != nil {
		return s.errorf(err, "put %d record(s) from %.80q", n, keys[0])
	}
	return nil
}

// Get returns the record of key. See [checkpoint.Store].
func (s *Store) Get(ctx context.Context, key string) (checkpoint.Record, error) {
	if err := s.start(ctx); err != nil {
		return checkpoint.Record{}, err
	}
	if checkKey(key) != nil {
		return checkpoint.Record{}, fmt.Errorf("%w: %.80q", checkpoint.ErrNotFound, key)
	}
	r, _, err := scan(s.pool.QueryRow(ctx, s.sql.get, key))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return checkpoint.Record{}, fmt.Errorf("%w: %.80q", checkpoint.ErrNotFound, key)
	case err != nil:
		return checkpoint.Record{}, s.errorf(err, "get %.80q", key)
	}
	return r, nil
}

// Left returns the records of keys that are not Done, in one statement.
// See [checkpoint.Surveyor].
func (s *Store) Left(ctx context.Context, keys []string) ([]checkpoint.Record, error) {
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	var (
		ask  = make([]string, 0, len(keys))
		seen = make(map[string]bool, len(keys))
		none = map[string]bool{} // keys no row can have
	)
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		if checkKey(k) != nil || !utf8.ValidString(k) {
			none[k] = true
		} else {
			ask = append(ask, k)
		}
	}
	found := make(map[string]checkpoint.Record, len(ask))
	if len(ask) > 0 {
		rows, err := s.pool.Query(ctx, s.sql.left, ask)
		if err != nil {
			return nil, s.errorf(err, "what is left of %d key(s)", len(ask))
		}
		defer rows.Close()
		for rows.Next() {
			r, _, err := scan(rows)
			if err != nil {
				return nil, s.errorf(err, "what is left of %d key(s)", len(ask))
			}
			found[r.Key] = r
		}
		if err := rows.Err(); err != nil {
			return nil, s.errorf(err, "what is left of %d key(s)", len(ask))
		}
	}
	var out []checkpoint.Record
	for _, k := range keys {
		if r, ok := found[k]; ok {
			out = append(out, r)
			delete(found, k)
		} else if none[k] {
			out = append(out, checkpoint.Record{Key: k})
			delete(none, k)
		}
	}
	return out, nil
}

// pageSize is how many records All reads per query.
const pageSize = 1000

// All yields every record in key order. See [checkpoint.Store]. It reads
// them a page at a time and holds no connection while the loop body runs.
func (s *Store) All(ctx context.Context) iter.Seq2[checkpoint.Record, error] {
	return func(yield func(checkpoint.Record, error) bool) {
		after := ""
		for {
			if err := s.start(ctx); err != nil {
				yield(checkpoint.Record{}, err)
				return
			}
			page, err := s.page(ctx, after)
			if err != nil {
				yield(checkpoint.Record{}, err)
				return
			}
			for _, r := range page {
				if !yield(r, nil) {
					return
				}
			}
			if len(page) < pageSize {
				return
			}
			after = page[len(page)-1].Key
		}
	}
}

func (s *Store) page(ctx context.Context, after string) ([]checkpoint.Record, error) {
	rows, err := s.pool.Query(ctx, s.sql.page, after, pageSize)
	if err != nil {
		return nil, s.errorf(err, "read records")
	}
	defer rows.Close()
	page := make([]checkpoint.Record, 0, pageSize)
	for rows.Next() {
		r, _, err := scan(rows)
		if err != nil {
			return nil, s.errorf(err, "read records")
		}
		page = append(page, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.errorf(err, "read records")
	}
	return page, nil
}
