//go:build !linux

package session

import (
	"errors"
	"fmt"
	"os"
)

// Descendants returns the IDs of all processes descended from pid. It is
// implemented on Linux only; here it returns an error wrapping
// errors.ErrUnsupported.
func Descendants(pid int) ([]int, error) {
	return nil, fmt.Errorf("session: Descendants: %w", errors.ErrUnsupported)
}

// TreePSS returns the proportional set size of process pid and all its
// descendants. It is implemented on Linux only; here it returns an error
// wrapping errors.ErrUnsupported.
func TreePSS(pid int) (int64, error) {
	return 0, fmt.Errorf("session: TreePSS: %w", errors.ErrUnsupported)
}

// killTree kills the driver; without /proc its children are left to notice
// their parent's death.
func killTree(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}

// killMatching does nothing: without /proc, chromium's crash handlers are
// left to exit with the browser, as they do.
func killMatching(string) {}

func killAll(pids []int) {
	for _, pid := range pids {
		if p, err := os.FindProcess(pid); err == nil {
			_ = p.Kill()
		}
	}
}

func browserPID(driver int, dir string) int { return 0 }

// CPU returns the CPU time of the session's processes. It is implemented
// on Linux only; here it returns an error wrapping errors.ErrUnsupported.
func (s *Session) CPU() (CPU, error) {
	return CPU{}, fmt.Errorf("session: CPU: %w", errors.ErrUnsupported)
}
