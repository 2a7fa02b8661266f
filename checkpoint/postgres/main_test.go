package postgres_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/pagefleet/pagefleet/checkpoint/postgres"
)

// The tests run against the server named by PAGEFLEET_TEST_POSTGRES, which
// scripts/postgres starts. Without it they fail — unless
// PAGEFLEET_SKIP_POSTGRES_TESTS=1 says to skip them.
const (
	dsnEnv  = "PAGEFLEET_TEST_POSTGRES"
	skipEnv = "PAGEFLEET_SKIP_POSTGRES_TESTS"
)

var ctx = context.Background()

func TestMain(m *testing.M) {
	code := m.Run()
	if p, ok := admin.pool, admin.ok; ok && p != nil {
		p.Close()
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// dsn returns the test server's DSN, or fails (or skips) the test.
func dsn(t testing.TB) string {
	t.Helper()
	d := os.Getenv(dsnEnv)
	if d == "" {
		if os.Getenv(skipEnv) == "1" {
			t.Skipf("%s=1: skipping the PostgreSQL tests", skipEnv)
		}
		t.Fatalf("%s is not set: run `eval \"$(scripts/postgres)\"` to start a test server and set it "+
			"(or set %s=1 to skip the PostgreSQL tests)", dsnEnv, skipEnv)
	}
	return d
}

// admin is a pool for the tests' own statements: making and dropping schemas.
var admin struct {
	once sync.Once
	pool *pgxpool.Pool
	err  error
	ok   bool
}

func adminPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	d := dsn(t)
	admin.once.Do(func() {
		admin.pool, admin.err = pgxpool.New(ctx, d)
		if admin.err == nil {
			admin.err = admin.pool.Ping(ctx)
		}
		admin.ok = true
	})
	if admin.err != nil {
		t.Fatalf("connect to %s: %v (is the server up? run scripts/postgres)", dsnEnv, admin.err)
	}
	return admin.pool
}

// schema returns a new schema name for t, dropped with everything in it
// when t ends, so tests run in parallel and leave nothing behind.
func schema(t testing.TB) string {
	t.Helper()
	pool := adminPool(t)
	name := "pftest_" + rand.Text()[:12]
	t.Cleanup(func() {
		if _, err := pool.Exec(context.WithoutCancel(ctx), "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

// open opens a store in schema (a new one if empty) that logs to t.
func open(t testing.TB, opts postgres.Options) *postgres.Store {
	t.Helper()
	if opts.Schema == "" {
		opts.Schema = schema(t)
	}
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	s, err := postgres.Open(ctx, dsn(t), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
