//go:build unix

package download

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

func isDiskFull(err error) bool { return errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) }

// FreeSpace returns the bytes this user may still write on dir's file
// system: what a job's files must fit in.
func FreeSpace(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("download: %w", err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
