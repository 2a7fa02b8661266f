//go:build !unix && !windows

package download

import (
	"os"
	"time"
)

const renameOpen = false

// haveLocks: tryLock can lock a new file.
const haveLocks = false

// tryLock: no file locks here; a temporary file is taken as abandoned, and
// removed, once RemoveTemp finds it untouched for a day (errLockBusy
// before).
func tryLock(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if time.Since(fi.ModTime()) <= 24*time.Hour {
		return errLockBusy
	}
	return nil
}
