// Package sessiontest helps tests that drive a real browser, like
// net/http/httptest helps tests of HTTP handlers.
//
// [RequireBrowser] finds chromium and the Playwright driver or fails the
// test loudly, saying to run scripts/setup — browser tests are never
// skipped silently. Set PAGEFLEET_SKIP_BROWSER_TESTS=1 to skip them on
// purpose. [Open] opens a session that closes when the test ends, and
// [NewServer] serves a small site with a login form, item pages and
// generated PDFs, with faults to inject and counters to check.
package sessiontest

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/pagefleet/pagefleet/session"
)

// SkipEnv is the environment variable that, set to 1, skips browser tests
// instead of failing them when no browser is installed.
const SkipEnv = "PAGEFLEET_SKIP_BROWSER_TESTS"

// RequireBrowser returns where the driver and chromium are. If they cannot
// be found it fails the test with a message that says what to run — or
// skips it when PAGEFLEET_SKIP_BROWSER_TESTS=1.
func RequireBrowser(t testing.TB) session.Install {
	t.Helper()
	if os.Getenv(SkipEnv) == "1" {
		t.Skipf("browser test skipped: %s=1", SkipEnv)
	}
	in, err := session.Locate(session.Install{})
	if err != nil {
		t.Fatalf("this test needs chromium and the Playwright driver: %v\n(to skip browser tests instead, set %s=1)", err, SkipEnv)
	}
	return in
}

// Open opens a session for the test and closes it at cleanup, failing the
// test if either goes wrong. A nil cfg.Logger logs to t.Log.
func Open(t testing.TB, cfg session.Config) *session.Session {
	t.Helper()
	RequireBrowser(t)
	if cfg.Logger == nil {
		cfg.Logger = Logger(t)
	}
	s, err := session.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("session.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("session.Close: %v", err)
		}
	})
	return s
}

// Logger returns a logger that writes to t.Log.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
