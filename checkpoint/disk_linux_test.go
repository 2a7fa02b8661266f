//go:build linux

package checkpoint_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pagefleet/pagefleet/checkpoint"
)

// mountTmpfs mounts a small tmpfs for the test, or skips it where mounting
// is not permitted (not root, or a container without CAP_SYS_ADMIN).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("can't mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// fill writes to path until the file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for buf := make([]byte, 512); err == nil; {
		_, err = f.Write(buf)
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling the disk: %v", err)
	}
}

func padded(key string) checkpoint.Record {
	r := rec(key)
	r.Meta["padding"] = strings.Repeat("p", 1500)
	return r
}

func TestFileDiskFull(t *testing.T) {
	t.Parallel()
	dir := mountTmpfs(t, "64k")
	path := filepath.Join(dir, "cp.jsonl")
	f := openFile(t, path, checkpoint.Options{})
	os.WriteFile(filepath.Join(dir, "filler"), make([]byte, 40<<10), 0o644) // room for a few records

	var acked []string
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		if err = f.Put(ctx, padded(fmt.Sprintf("k%02d", i))); err == nil {
			acked = append(acked, fmt.Sprintf("k%02d", i))
		}
	}
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Put on a full disk: err = %v, want ENOSPC naming %s", err, path)
	}
	t.Logf("%d records acknowledged, then: %v", len(acked), err)
	if len(acked) == 0 {
		t.Fatal("no record fit: the test's sizes are off")
	}
	if err := f.Put(ctx, padded("again")); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("second Put on a full disk: err = %v, want ENOSPC", err)
	}

	os.Remove(filepath.Join(dir, "filler"))
	mustPut(t, f, "after")
	closeFile(t, f)
	f = openFile(t, path, checkpoint.Options{})
	if st := f.Stats(); st.TornLines != 0 {
		t.Errorf("Stats = %+v: a failed write left a torn line", st)
	}
	wantKeys(t, f, append([]string{"after"}, acked...)...)
}

// TestFileCompactionDiskFull: a compaction that can't be written is given
// up, and the store opens as it is.
func TestFileCompactionDiskFull(t *testing.T) {
	t.Parallel()
	dir := mountTmpfs(t, "64k")
	path := filepath.Join(dir, "cp.jsonl")
	f := openFile(t, path, checkpoint.Options{CompactAfter: -1})
	for range 5 {
		mustPut(t, f, "a", "b")
	}
	closeFile(t, f)
	fill(t, filepath.Join(dir, "filler"))

	var logs logBuffer
	f = openFile(t, path, checkpoint.Options{CompactAfter: 2, Logger: logs.logger(t)})
	if st := f.Stats(); st.Compacted || st.Records != 2 {
		t.Errorf("Stats = %+v, want 2 records, not compacted", st)
	}
	if !strings.Contains(logs.String(), "compaction failed") {
		t.Errorf("the failed compaction was not logged:\n%s", logs.String())
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the failed compaction left its temp file: %v", err)
	}
	wantKeys(t, f, "a", "b")
}

func TestFileReadOnly(t *testing.T) {
	t.Parallel()
	dir := mountTmpfs(t, "64k")
	path := filepath.Join(dir, "cp.jsonl")
	f := openFile(t, path, checkpoint.Options{})
	mustPut(t, f, "a")
	closeFile(t, f)
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount read-only: %v", err)
	}
	_, err := checkpoint.Open(path, checkpoint.Options{Logger: testLogger(t)})
	if !errors.Is(err, syscall.EROFS) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open on a read-only file system: err = %v, want EROFS naming %s", err, path)
	}
	t.Log(err)
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT, ""); err != nil {
		t.Fatalf("remount read-write: %v", err)
	}
	wantKeys(t, openFile(t, path, checkpoint.Options{}), "a")
}
