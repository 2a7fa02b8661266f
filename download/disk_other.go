//go:build !unix && !windows

package download

import (
	"errors"
	"fmt"
)

func isDiskFull(error) bool { return false }

// FreeSpace returns the bytes this user may still write on dir's file
// system. Not implemented here: an error wrapping errors.ErrUnsupported.
func FreeSpace(dir string) (int64, error) {
	return 0, fmt.Errorf("download: FreeSpace: %w", errors.ErrUnsupported)
}
