package sessiontest

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/pagefleet/pagefleet/session"
)

// BrowserPID returns the process ID of the session's chromium (the
// driver's child). It skips the test where processes cannot be listed.
func BrowserPID(t testing.TB, s *session.Session) int {
	t.Helper()
	pids, err := session.Descendants(s.DriverPID())
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip("cannot list processes here:", err)
	}
	if err != nil || len(pids) == 0 {
		t.Fatalf("no browser process under the driver (pid %d): %v", s.DriverPID(), err)
	}
	if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pids[0])); err == nil && !strings.Contains(string(comm), "chrom") {
		t.Fatalf("driver's first child %d is %q, not chromium", pids[0], comm)
	}
	return pids[0]
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
