//go:build !linux && !windows

package session

import (
	"errors"
	"fmt"
)

// AvailableMemory returns the memory available for new work. It is
// implemented on Linux and Windows only; here it returns an error
// wrapping errors.ErrUnsupported.
func AvailableMemory() (int64, error) {
	return 0, fmt.Errorf("session: AvailableMemory: %w", errors.ErrUnsupported)
}
