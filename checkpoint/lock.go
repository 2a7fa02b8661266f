package checkpoint

import (
	"bytes"
	"fmt"
	"os"
	"strconv"

	"github.com/gofrs/flock"
)

// lockFile takes the lock next to the journal and writes this process's PID
// into it, so that a second opener can say who holds it. The lock is the
// kernel's (flock, LockFileEx), so it dies with its process: a stale lock
// file from a killed run blocks nobody.
//
// The PID starts at byte 1: on Windows the lock covers byte 0, which other
// handles can then neither read nor write.
func lockFile(journal string) (*flock.Flock, error) {
	path := journal + ".lock"
	pf, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: lock %s: %w", journal, err)
	}
	defer pf.Close()
	if st, err := pf.Stat(); err == nil && st.Size() == 0 {
		pf.WriteAt([]byte("\n"), 0) // every opener writes the same byte: no race
	}
	fl := flock.New(path)
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("checkpoint: lock %s: %w", journal, err)
	}
	if !ok {
		b := make([]byte, 32)
		n, _ := pf.ReadAt(b, 1)
		pid, _, _ := bytes.Cut(b[:n], []byte("\n"))
		if len(pid) == 0 {
			pid = []byte("unknown")
		}
		return nil, fmt.Errorf("%w: %s is open in process %s (lock file %s)", ErrLocked, journal, pid, path)
	}
	line := strconv.Itoa(os.Getpid()) + "\n"
	if _, err := pf.WriteAt([]byte(line), 1); err != nil {
		fl.Unlock()
		return nil, fmt.Errorf("checkpoint: lock %s: write PID: %w", journal, err)
	}
	pf.Truncate(int64(1 + len(line))) // a longer old PID's tail; harmless if it stays
	return fl, nil
}
