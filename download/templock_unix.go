//go:build unix

package download

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// renameOpen: a file may be renamed while open (and locked), so that no
// moment passes between unlocking a temporary file and giving it its name.
const renameOpen = true

// haveLocks: tryLock can lock a new file.
const haveLocks = true

// tryLock takes the lock that marks f as being written: flock(2), which
// the kernel drops when the process dies, and which blocks nothing but
// other locks. It returns errLockBusy if another holds it.
func tryLock(f *os.File) error {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return errLockBusy
	}
	return err
}
