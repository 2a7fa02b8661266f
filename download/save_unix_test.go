//go:build unix

package download_test

import (
	"syscall"
	"testing"

	"github.com/pagefleet/pagefleet/download"
)

// TestCreateTempKeepsNoFileAnotherLocked: a new temporary file whose lock
// another holds — a RemoveTemp that found it first, and will remove it — is
// never kept, however many names were tried: the Save's rename failed on a
// loaded machine when three tries in a row met a sweeping RemoveTemp. A
// file system without locks (flock fails with ENOLCK: NFS without lockd)
// gets an unlocked file after a few tries, as before.
func TestCreateTempKeepsNoFileAnotherLocked(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  error
		try  int
		keep bool
	}{
		{nil, 1, true},
		{download.ErrLockBusy, 1, false},
		{download.ErrLockBusy, 3, false},
		{download.ErrLockBusy, 8, false},
		{syscall.ENOLCK, 2, false},
		{syscall.ENOLCK, 3, true},
	} {
		if got := download.KeepTemp(c.err, c.try); got != c.keep {
			t.Errorf("keep a new file after try %d failed to lock it (%v): %t, want %t", c.try, c.err, got, c.keep)
		}
	}
}
