package postgres_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/checkpoint/postgres"
)

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		dsn  string
		opts postgres.Options
		want string
	}{
		{"long table", dsn(t), postgres.Options{Table: strings.Repeat("t", 64)}, "Options.Table"},
		{"long schema", dsn(t), postgres.Options{Schema: strings.Repeat("s", 64)}, "Options.Schema"},
		{"bad DSN", "postgres://%zz", postgres.Options{}, "checkpoint/postgres"},
		{"wrong password", strings.Replace(dsn(t), "://pagefleet:pagefleet@", "://pagefleet:wrong@", 1), postgres.Options{Schema: "never_made"}, "checkpoint/postgres"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := postgres.Open(ctx, tc.dsn, tc.opts)
			if err == nil {
				s.Close()
				t.Fatalf("Open: nil error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open: %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// version returns the schema version recorded for table in schema.
func version(t *testing.T, schema, table string) int {
	t.Helper()
	var v int
	err := adminPool(t).QueryRow(ctx, "SELECT version FROM "+pgx.Identifier{schema, "pagefleet_schema_version"}.Sanitize()+" WHERE table_name = $1", table).Scan(&v)
	if err != nil {
		t.Fatalf("read the schema version of %s.%s: %v", schema, table, err)
	}
	return v
}

// TestMigrateConcurrent: processes that open a new table at once take turns
// migrating it; all of them succeed.
func TestMigrateConcurrent(t *testing.T) {
	t.Parallel()
	sch := schema(t)
	var wg sync.WaitGroup
	stores := make([]*postgres.Store, 6)
	for i := range stores {
		wg.Go(func() {
			s, err := postgres.Open(ctx, dsn(t), postgres.Options{Schema: sch, Logger: testLogger(t)})
			if err != nil {
				t.Errorf("Open %d: %v", i, err)
				return
			}
			stores[i] = s
		})
	}
	wg.Wait()
	for i, s := range stores {
		if s == nil {
			continue
		}
		if err := s.Put(ctx, checkpoint.Record{Key: fmt.Sprint("k", i), State: checkpoint.Done}); err != nil {
			t.Errorf("Put through store %d: %v", i, err)
		}
		s.Close()
	}
	if v := version(t, sch, "pagefleet_checkpoint"); v != postgres.SchemaVersion {
		t.Errorf("schema version %d, want %d", v, postgres.SchemaVersion)
	}
}

func TestVersionTooNew(t *testing.T) {
	t.Parallel()
	s := open(t, postgres.Options{Table: "jobs"})
	s.Close()
	sch := strings.Trim(strings.Split(s.Table(), ".")[0], `"`)
	if _, err := adminPool(t).Exec(ctx, "UPDATE "+pgx.Identifier{sch, "pagefleet_schema_version"}.Sanitize()+" SET version = 99"); err != nil {
		t.Fatal(err)
	}
	_, err := postgres.Open(ctx, dsn(t), postgres.Options{Schema: sch, Table: "jobs"})
	if !errors.Is(err, postgres.ErrVersion) || !strings.Contains(err.Error(), "99") {
		t.Errorf("Open of a table at version 99: err = %v, want ErrVersion naming it", err)
	}
}

// TestTablesShareSchema: jobs in one schema keep to their own tables.
func TestTablesShareSchema(t *testing.T) {
	t.Parallel()
	sch := schema(t)
	a := open(t, postgres.Options{Schema: sch, Table: "Job A"}) // any name, quoted
	b := open(t, postgres.Options{Schema: sch, Table: "job_b"})
	if err := a.Put(ctx, checkpoint.Record{Key: "k", State: checkpoint.Done}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, "k"); !errors.Is(err, checkpoint.ErrNotFound) {
		t.Errorf("Get from the other table: %v, want ErrNotFound", err)
	}
	if _, err := b.Claim(ctx, "k", "o", time.Minute); err != nil {
		t.Errorf("Claim in the other table: %v", err)
	}
	for _, table := range []string{"Job A", "job_b"} {
		if v := version(t, sch, table); v != postgres.SchemaVersion {
			t.Errorf("%s: version %d", table, v)
		}
	}
	if a.Table() != `"`+sch+`"."Job A"` {
		t.Errorf("Table() = %s", a.Table())
	}
}

// TestNUL: PostgreSQL text can't hold NUL: it becomes U+FFFD, except in a
// key, which is refused.
func TestNUL(t *testing.T) {
	t.Parallel()
	s := open(t, postgres.Options{})
	r := checkpoint.Record{Key: "k", State: checkpoint.Failed, Err: "a\x00b", Owner: "o\x00", Meta: map[string]string{"m\x00": "v\x00"}}
	if err := s.Put(ctx, r); err != nil {
		t.Fatalf("Put with NUL characters: %v", err)
	}
	got, err := s.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if got.Err != "a\uFFFDb" || got.Owner != "o\uFFFD" || got.Meta["m\uFFFD"] != "v\uFFFD" || len(got.Meta) != 1 {
		t.Errorf("Get: %+v, want NUL replaced by U+FFFD", got)
	}
	if err := s.Put(ctx, checkpoint.Record{Key: "k\x00", State: checkpoint.Done}); !errors.Is(err, checkpoint.ErrInvalid) {
		t.Errorf("Put of a key with NUL: %v, want ErrInvalid", err)
	}
	if _, err := s.Get(ctx, "k\x00"); !errors.Is(err, checkpoint.ErrNotFound) {
		t.Errorf("Get of a key with NUL: %v, want ErrNotFound", err)
	}
	if _, err := s.Claim(ctx, "k\x00", "o", time.Minute); !errors.Is(err, checkpoint.ErrInvalid) {
		t.Errorf("Claim of a key with NUL: %v, want ErrInvalid", err)
	}
	if _, err := s.Claim(ctx, "k", "o\x00", time.Minute); err == nil {
		t.Errorf("Claim by an owner with NUL: nil error")
	}
}

// TestTimes: Put cuts times to microseconds, and Get returns them in UTC,
// before 1970 too.
func TestTimes(t *testing.T) {
	t.Parallel()
	s := open(t, postgres.Options{})
	for i, tm := range []time.Time{
		time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.FixedZone("X", 3600)),
		time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC), // just after the zero Time
	} {
		key := fmt.Sprint("k", i)
		if err := s.Put(ctx, checkpoint.Record{Key: key, State: checkpoint.Done, Started: tm, Updated: tm}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		want := tm.UTC().Truncate(time.Microsecond)
		if !got.Started.Equal(want) || got.Started.Location() != time.UTC || !got.Updated.Equal(want) {
			t.Errorf("%v: Get returned Started %v, Updated %v; want %v", tm, got.Started, got.Updated, want)
		}
	}
}

// TestLeaseRowsHidden: a key that is leased but has no record yet has a row
// in the table, which Get and All don't show.
func TestLeaseRowsHidden(t *testing.T) {
	t.Parallel()
	s := open(t, postgres.Options{})
	if _, err := s.ClaimBatch(ctx, []string{"a", "b", "c"}, "o", 2, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "a"); !errors.Is(err, checkpoint.ErrNotFound) {
		t.Errorf("Get of a leased key without a record: %v, want ErrNotFound", err)
	}
	for r, err := range s.All(ctx) {
		t.Errorf("All yielded %+v, %v; want nothing", r, err)
	}
}

// TestClaimAnalyzes: a store that fills a new table through ClaimBatch has
// it analyzed once it has added a thousand rows: the plans of its statements
// depend on the statistics. Only once: each ANALYZE of a large table costs
// the server a sample of 30,000 rows.
func TestClaimAnalyzes(t *testing.T) {
	t.Parallel()
	s := open(t, postgres.Options{})
	reltuples := func() float64 {
		var n float64
		if err := adminPool(t).QueryRow(ctx, "SELECT reltuples FROM pg_class WHERE oid = $1::regclass", s.Table()).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := reltuples(); n > 0 {
		t.Fatalf("a new table has statistics: reltuples %v", n)
	}
	// Only the store's own ANALYZE: none by autovacuum meanwhile.
	if _, err := adminPool(t).Exec(ctx, "ALTER TABLE "+s.Table()+" SET (autovacuum_enabled = false)"); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 1500)
	for i := range keys {
		keys[i] = fmt.Sprintf("VIN%05d", i)
	}
	for i := 0; i < len(keys); i += 500 {
		if _, err := s.ClaimBatch(ctx, keys[i:i+500], "a", 1, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if n := reltuples(); n < 1000 {
		t.Errorf("reltuples %v after ClaimBatch added 1500 rows: the table was not analyzed", n)
	}
	// Once: the plans of a thousand rows are those of any more.
	more := make([]string, 4000)
	for i := range more {
		more[i] = fmt.Sprintf("VIN%05d", len(keys)+i)
	}
	for i := 0; i < len(more); i += 500 {
		if _, err := s.ClaimBatch(ctx, more[i:i+500], "a", 1, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if n := reltuples(); n >= 2000 {
		t.Errorf("reltuples %v: the table was analyzed again as it grew to 5500 rows", n)
	}
	// Offered again, by other owners too, the keys keep one row each.
	for range 3 {
		if _, err := s.ClaimBatch(ctx, keys, "b", 1, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := adminPool(t).QueryRow(ctx, "SELECT count(*) FROM "+s.Table()).Scan(&n); err != nil || n != len(keys)+len(more) {
		t.Errorf("%d rows (%v), want %d", n, err, len(keys)+len(more))
	}
}

// TestGenericPlans: the pool Open makes, and one made from ParseConfig, plan
// the store's statements once (generic plans): PostgreSQL otherwise plans a
// statement with short arrays — a small batch of records — afresh at every
// execution, which cost more CPU than executing it.
func TestGenericPlans(t *testing.T) {
	t.Parallel()
	s := open(t, postgres.Options{})
	cfg, err := postgres.ParseConfig(dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	own, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	for name, p := range map[string]*pgxpool.Pool{"Open": postgres.Pool(s), "ParseConfig": own} {
		var mode string
		if err := p.QueryRow(ctx, "SHOW plan_cache_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if mode != "force_generic_plan" {
			t.Errorf("%s: plan_cache_mode %s, want force_generic_plan", name, mode)
		}
	}
}
