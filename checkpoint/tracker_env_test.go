package checkpoint_test

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/checkpoint/postgres"
)

// The tracker's tests run on every store of the module. The PostgreSQL ones
// need the server named by PAGEFLEET_TEST_POSTGRES, which scripts/postgres
// starts; without it they fail, unless PAGEFLEET_SKIP_POSTGRES_TESTS=1.
const (
	pgDSNEnv  = "PAGEFLEET_TEST_POSTGRES"
	pgSkipEnv = "PAGEFLEET_SKIP_POSTGRES_TESTS"
)

func pgDSN(t testing.TB) string {
	t.Helper()
	d := os.Getenv(pgDSNEnv)
	if d == "" {
		if os.Getenv(pgSkipEnv) == "1" {
			t.Skipf("%s=1: skipping the PostgreSQL tests", pgSkipEnv)
		}
		t.Fatalf("%s is not set: run `eval \"$(scripts/postgres)\"` to start a test server and set it "+
			"(or set %s=1 to skip the PostgreSQL tests)", pgDSNEnv, pgSkipEnv)
	}
	return d
}

// pgSchema returns a new schema name for t, dropped with everything in it
// when t ends.
func pgSchema(t testing.TB) string {
	t.Helper()
	dsn := pgDSN(t)
	name := "pftrack_" + rand.Text()[:12]
	t.Cleanup(func() {
		c := context.Background()
		conn, err := pgx.Connect(c, dsn)
		if err != nil {
			t.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(c)
		if _, err := conn.Exec(c, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

// pgOpen opens the records table in schema.
func pgOpen(t testing.TB, schema string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(ctx, pgDSN(t), postgres.Options{Schema: schema, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// storeEnv is a store kind the tracker's tests run on. runs returns a
// function that opens the store of the next run of a job, closing the last
// run's — a Memory store stays the same.
type storeEnv struct {
	name string
	runs func(t *testing.T) func() checkpoint.Store
}

var storeEnvs = []storeEnv{
	{"memory", func(t *testing.T) func() checkpoint.Store {
		m := checkpoint.NewMemory()
		t.Cleanup(func() { m.Close() })
		return func() checkpoint.Store { return m }
	}},
	{"file", func(t *testing.T) func() checkpoint.Store {
		path := filepath.Join(t.TempDir(), "cp.jsonl")
		var cur *checkpoint.File
		return func() checkpoint.Store {
			if cur != nil {
				closeFile(t, cur)
			}
			cur = openFile(t, path, checkpoint.Options{})
			return cur
		}
	}},
	{"postgres", func(t *testing.T) func() checkpoint.Store {
		schema := pgSchema(t)
		var cur *postgres.Store
		return func() checkpoint.Store {
			if cur != nil {
				cur.Close()
			}
			cur = pgOpen(t, schema)
			return cur
		}
	}},
}
