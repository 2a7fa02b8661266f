package sessiontest

import (
	"errors"
	"os"
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
