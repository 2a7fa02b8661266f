//go:build windows

package download

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// renameOpen: Windows refuses to rename a file that is open.
const renameOpen = false

// haveLocks: tryLock can lock a new file.
const haveLocks = true

// tryLock takes the lock that marks f as being written. Windows locks are
// mandatory for the bytes they cover, so it locks one byte far past any
// file's end, which no read or write touches; the system drops it when the
// process dies. It returns errLockBusy if another holds it.
func tryLock(f *os.File) error {
	ol := windows.Overlapped{Offset: 0xFFFFFFFE, OffsetHigh: 0x7FFFFFFF}
	err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return errLockBusy
	}
	return err
}
