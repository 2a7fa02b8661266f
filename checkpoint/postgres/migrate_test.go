package postgres_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/checkpoint/postgres"
)

// TestMigrateFromVersion1: a table that a version 1 build made and filled —
// records, a row that only holds a lease, a live lease over a record — is
// migrated by Open; its rows read as before, with no crashes, and take the
// new state and field.
func TestMigrateFromVersion1(t *testing.T) {
	t.Parallel()
	// A name of 63 bytes, the most: PostgreSQL cuts the constraint names
	// it makes from it.
	for _, table := range []string{"records", "Long " + strings.Repeat("t", 58)} {
		t.Run(table[:4], func(t *testing.T) {
			t.Parallel()
			sch := schema(t)
			admin := adminPool(t)
			tbl := pgx.Identifier{sch, table}.Sanitize()
			for _, q := range []string{
				"CREATE SCHEMA " + pgx.Identifier{sch}.Sanitize(),
				// As migrate made it at version 1.
				"CREATE TABLE " + pgx.Identifier{sch, "pagefleet_schema_version"}.Sanitize() +
					" (table_name text PRIMARY KEY, version int NOT NULL, migrated timestamptz NOT NULL DEFAULT now())",
				fmt.Sprintf(postgres.Migrations[0], tbl),
				"INSERT INTO " + pgx.Identifier{sch, "pagefleet_schema_version"}.Sanitize() + " VALUES ('" + table + "', 1, now())",
				"INSERT INTO " + tbl + ` (key, state, attempts, path, size, sha256, err, owner, meta, started, updated) VALUES
					('done', 'done', 1, '/out/done.pdf', 42, 'abcd', '', 'old', '{"stock":"S1"}', '2025-03-01T12:00:00Z', '2025-03-01T12:01:00Z'),
					('failed', 'failed', 2, '', 0, '', 'timeout', 'old', NULL, '2025-03-01T12:00:00Z', '2025-03-01T12:02:00Z')`,
				"INSERT INTO " + tbl + ` (key, lease_owner, lease_gen, lease_expires) VALUES ('leased', 'old', 1, now() + interval '1 hour')`,
				"INSERT INTO " + tbl + ` (key, state, attempts, owner, started, updated, lease_owner, lease_gen, lease_expires)
					VALUES ('running', 'running', 1, 'old', '2025-03-01T12:00:00Z', '2025-03-01T12:00:00Z', 'old', 3, now() + interval '1 hour')`,
			} {
				if _, err := admin.Exec(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			if _, err := admin.Exec(ctx, "INSERT INTO "+tbl+" (key, state) VALUES ('bad', 'pending')"); err == nil {
				t.Fatal("a version 1 table took a pending record: not the table a version 1 build made")
			}

			s := open(t, postgres.Options{Schema: sch, Table: table})
			if v := version(t, sch, table); v != postgres.SchemaVersion {
				t.Errorf("version %d after Open, want %d", v, postgres.SchemaVersion)
			}
			t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
			want := []checkpoint.Record{
				{Key: "done", State: checkpoint.Done, Attempts: 1, Path: "/out/done.pdf", Size: 42, SHA256: "abcd", Owner: "old",
					Meta: map[string]string{"stock": "S1"}, Started: t0, Updated: t0.Add(time.Minute)},
				{Key: "failed", State: checkpoint.Failed, Attempts: 2, Err: "timeout", Owner: "old", Started: t0, Updated: t0.Add(2 * time.Minute)},
				{Key: "running", State: checkpoint.Running, Attempts: 1, Owner: "old", Started: t0, Updated: t0},
			}
			var got []checkpoint.Record
			for r, err := range s.All(ctx) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, r)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("All after the migration:\n got %v\nwant %v", got, want)
			}
			// The leases of version 1 hold on.
			for _, k := range []string{"leased", "running"} {
				if _, err := s.Claim(ctx, k, "new", time.Minute); !errors.Is(err, checkpoint.ErrLeased) {
					t.Errorf("Claim(%s) of a key leased before the migration: %v, want ErrLeased", k, err)
				}
			}
			l, err := s.Claim(ctx, "failed", "new", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			p := checkpoint.Record{State: checkpoint.Pending, Attempts: 3, Crashes: 1, Err: "timeout", Started: t0, Updated: t0.Add(time.Hour)}
			if err := l.Release(ctx, p); err != nil {
				t.Fatalf("Release of a pending record: %v", err)
			}
			p.Key, p.Owner = "failed", "new"
			if r, err := s.Get(ctx, "failed"); err != nil || fmt.Sprint(r) != fmt.Sprint(p) {
				t.Errorf("Get after a pending release = %v, %v; want %v", r, err, p)
			}
			if err := s.Put(ctx, checkpoint.Record{Key: "bad", State: "bogus"}); !errors.Is(err, checkpoint.ErrInvalid) {
				t.Errorf("Put of an unknown state: %v, want ErrInvalid", err)
			}
			if _, err := admin.Exec(ctx, "INSERT INTO "+tbl+" (key, state) VALUES ('bad', 'bogus')"); err == nil {
				t.Error("the migrated table took an unknown state: its check is gone")
			}
			s.Close()
			s = open(t, postgres.Options{Schema: sch, Table: table}) // nothing left to migrate
			if r, err := s.Get(ctx, "done"); err != nil || r.Path != "/out/done.pdf" {
				t.Errorf("Get after reopening: %v, %v", r, err)
			}
		})
	}
}
