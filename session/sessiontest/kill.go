package sessiontest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/pagefleet/pagefleet/session"
)

// BrowserPID returns the process ID of the session's chromium. It skips
// the test where processes cannot be inspected.
func BrowserPID(t testing.TB, s *session.Session) int {
	t.Helper()
	if _, err := session.Descendants(s.DriverPID()); errors.Is(err, errors.ErrUnsupported) {
		t.Skip("cannot inspect processes here:", err)
	}
	pid := s.BrowserPID()
	if pid == 0 {
		t.Fatalf("no chromium of this session under the driver (pid %d)", s.DriverPID())
	}
	return pid
}

// KillBrowser kills the session's chromium, as a crash would.
func KillBrowser(t testing.TB, s *session.Session) {
	t.Helper()
	pid := BrowserPID(t, s)
	p, err := os.FindProcess(pid)
	if err == nil {
		err = p.Kill()
	}
	if err != nil {
		t.Fatalf("kill chromium %d: %v", pid, err)
	}
	t.Logf("killed chromium (pid %d)", pid)
}

// OwnDriver returns an Install whose driver process no other session of
// the test binary shares (sessions share one driver per Install), so a test
// may kill it with [KillDriver] without harming tests running in parallel.
func OwnDriver(t testing.TB) session.Install {
	t.Helper()
	in := RequireBrowser(t)
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(in.DriverDir, "package"), filepath.Join(dir, "package")); err != nil {
		t.Fatal(err)
	}
	in.DriverDir = dir
	return in
}

// KillDriver kills the session's Playwright driver (Node.js), as a crash
// would. Use it on a session opened with [OwnDriver].
func KillDriver(t testing.TB, s *session.Session) {
	t.Helper()
	pid := s.DriverPID()
	p, err := os.FindProcess(pid)
	if err == nil {
		err = p.Kill()
	}
	if err != nil {
		t.Fatalf("kill the driver %d: %v", pid, err)
	}
	t.Logf("killed the driver (pid %d)", pid)
}
