package checkpoint_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pagefleet/pagefleet/checkpoint"
)

var ctx = context.Background()

func rec(key string) checkpoint.Record {
	return checkpoint.Record{Key: key, State: checkpoint.Done, Attempts: 1, Path: key + ".pdf", Size: 42,
		SHA256: strings.Repeat("ab", 32), Meta: map[string]string{"stock": "S-" + key}}
}

func mustPut(t testing.TB, s checkpoint.Store, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if err := s.Put(ctx, rec(k)); err != nil {
			t.Fatalf("Put(%s): %v", k, err)
		}
	}
}

func keys(t testing.TB, s checkpoint.Store) []string {
	t.Helper()
	var out []string
	for r, err := range s.All(ctx) {
		if err != nil {
			t.Fatalf("All: %v", err)
		}
		out = append(out, r.Key)
	}
	return out
}

func wantKeys(t testing.TB, s checkpoint.Store, want ...string) {
	t.Helper()
	if got := keys(t, s); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("keys = %v, want %v", got, want)
	}
}

func closeFile(t testing.TB, f *checkpoint.File) {
	t.Helper()
	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// logBuffer is a logger whose output a test can read.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(io.MultiWriter(l, t.Output()), nil))
}

func TestFileTornLastLine(t *testing.T) {
	t.Parallel()
	for name, tail := range map[string]string{
		"cut JSON":        `{"key":"d","state":"do`,
		"whole JSON":      `{"key":"d","state":"done"}`, // not acknowledged: its newline never made it
		"power-loss NULs": "\x00\x00\x00\x00\x00\x00",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "cp.jsonl")
			f := openFile(t, path, checkpoint.Options{})
			mustPut(t, f, "a", "b", "c")
			closeFile(t, f)
			appendTo(t, path, tail)

			var logs logBuffer
			f = openFile(t, path, checkpoint.Options{Logger: logs.logger(t)})
			if st := f.Stats(); st.TornLines != 1 || st.Records != 3 {
				t.Errorf("Stats = %+v, want 1 torn line and 3 records", st)
			}
			if !strings.Contains(logs.String(), "torn last line") || !strings.Contains(logs.String(), "line=5") {
				t.Errorf("log does not report the torn line 5:\n%s", logs.String())
			}
			mustPut(t, f, "e") // must not glue onto the torn line
			closeFile(t, f)
			f = openFile(t, path, checkpoint.Options{})
			if st := f.Stats(); st.TornLines != 0 {
				t.Errorf("second reopen: Stats = %+v, want no torn line", st)
			}
			wantKeys(t, f, "a", "b", "c", "e")
		})
	}
}

func TestFileCorruptLine(t *testing.T) {
	t.Parallel()
	for name, line := range map[string]string{
		"not JSON":       "garbage\n",
		"invalid record": `{"key":"","state":"done"}` + "\n",
		"unknown state":  `{"key":"x","state":"finished"}` + "\n",
		"blank line":     "\n",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "cp.jsonl")
			f := openFile(t, path, checkpoint.Options{})
			mustPut(t, f, "a")
			closeFile(t, f)
			appendTo(t, path, line)
			appendTo(t, path, `{"key":"b","state":"done"}`+"\n")
			before, _ := os.ReadFile(path)

			_, err := checkpoint.Open(path, checkpoint.Options{Logger: testLogger(t)})
			var ce *checkpoint.CorruptError
			if !errors.As(err, &ce) || ce.Line != 3 || ce.Path != path {
				t.Fatalf("Open: err = %v, want a *CorruptError for %s line 3", err, path)
			}
			if want := fmt.Sprintf("checkpoint: %s line 3 is corrupt: ", path); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error = %q, want it to start %q", err, want)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Error("Open changed a journal it refused")
			}
			// The refused Open released its lock.
			if _, err := checkpoint.Open(path, checkpoint.Options{Logger: testLogger(t)}); errors.Is(err, checkpoint.ErrLocked) {
				t.Errorf("second Open: %v", err)
			}
		})
	}
}

func TestFileNotAJournal(t *testing.T) {
	t.Parallel()
	for name, content := range map[string]string{
		"old tool's file":     `{"completed": ["a", "b"]}`,
		"old, pretty":         "{\n  \"completed\": []\n}\n",
		"other format":        `{"format":"something-else","version":1}` + "\n",
		"header torn by hand": `{"format":"pagefleet-che`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "tracking.json")
			os.WriteFile(path, []byte(content), 0o644)
			_, err := checkpoint.Open(path, checkpoint.Options{Logger: testLogger(t)})
			var ce *checkpoint.CorruptError
			if !errors.As(err, &ce) || ce.Line != 1 || !strings.Contains(err.Error(), "not a pagefleet checkpoint journal") {
				t.Fatalf("Open: err = %v, want a *CorruptError for line 1", err)
			}
			if got, _ := os.ReadFile(path); string(got) != content {
				t.Error("Open changed a file it refused")
			}
		})
	}
}

func TestFileVersion(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "cp.jsonl")
	content := `{"format":"pagefleet-checkpoint","version":3}` + "\n" + `{"key":"a","state":"done"}` + "\n"
	os.WriteFile(path, []byte(content), 0o644)
	_, err := checkpoint.Open(path, checkpoint.Options{Logger: testLogger(t)})
	if !errors.Is(err, checkpoint.ErrVersion) || !strings.Contains(err.Error(), "version 3") {
		t.Fatalf("Open: err = %v, want ErrVersion naming version 3", err)
	}
	if got, _ := os.ReadFile(path); string(got) != content {
		t.Error("Open changed a file it refused")
	}
}

func TestFileEmptyFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "cp.jsonl")
	os.WriteFile(path, nil, 0o644)
	f := openFile(t, path, checkpoint.Options{})
	mustPut(t, f, "a")
	closeFile(t, f)
	wantKeys(t, openFile(t, path, checkpoint.Options{}), "a")
}

func TestFileLock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "cp.jsonl")
	f := openFile(t, path, checkpoint.Options{})
	_, err := checkpoint.Open(path, checkpoint.Options{Logger: testLogger(t)})
	if !errors.Is(err, checkpoint.ErrLocked) {
		t.Fatalf("second Open: err = %v, want ErrLocked", err)
	}
	if pid := strconv.Itoa(os.Getpid()); !strings.Contains(err.Error(), "process "+pid) {
		t.Errorf("error %q does not name the holder's PID %s", err, pid)
	}
	t.Log(err)
	closeFile(t, f)
	openFile(t, path, checkpoint.Options{}) // free again
}

func TestFileCompaction(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "cp.jsonl")
	os.WriteFile(path+".tmp", []byte("a crashed compaction's leftover"), 0o644)
	f := openFile(t, path, checkpoint.Options{CompactAfter: 10})
	for i := range 10 {
		r := rec(fmt.Sprint("k", i%4))
		r.Attempts = i + 1
		if err := f.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	closeFile(t, f)
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover temp file: %v", err)
	}

	// 6 superseded of 10 lines: below CompactAfter, nothing happens.
	f = openFile(t, path, checkpoint.Options{CompactAfter: 10})
	if st := f.Stats(); st.Compacted || st.Lines != 10 {
		t.Errorf("Stats = %+v, want 10 lines, not compacted", st)
	}
	mustPut(t, f, "k0", "k1", "k2", "k3", "k0", "k1")
	closeFile(t, f)

	f = openFile(t, path, checkpoint.Options{CompactAfter: 10})
	if st := f.Stats(); !st.Compacted || st.Lines != 16 || st.Records != 4 {
		t.Errorf("Stats = %+v, want 16 lines compacted into 4 records", st)
	}
	want := map[string]checkpoint.Record{}
	for r, err := range f.All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		want[r.Key] = r
	}
	closeFile(t, f)
	if data, _ := os.ReadFile(path); bytes.Count(data, []byte("\n")) != 5 {
		t.Errorf("compacted journal has %d lines, want header + 4:\n%s", bytes.Count(data, []byte("\n")), data)
	}
	f = openFile(t, path, checkpoint.Options{CompactAfter: 10})
	if st := f.Stats(); st.Compacted || st.Lines != 4 {
		t.Errorf("after compaction: Stats = %+v, want 4 lines", st)
	}
	for r, err := range f.All(ctx) {
		if err != nil || fmt.Sprint(r) != fmt.Sprint(want[r.Key]) {
			t.Errorf("after compaction: %+v, %v; want %+v", r, err, want[r.Key])
		}
	}
	closeFile(t, f)

	f = openFile(t, path, checkpoint.Options{CompactAfter: -1})
	mustPut(t, f, "k0", "k0", "k0", "k0")
	closeFile(t, f)
	if f = openFile(t, path, checkpoint.Options{CompactAfter: -1}); f.Stats().Compacted {
		t.Error("compacted with CompactAfter < 0")
	}
	// 4 superseded of 8 lines now; 9 more keys make them less than a third.
	mustPut(t, f, "n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8")
	closeFile(t, f)
	if f = openFile(t, path, checkpoint.Options{CompactAfter: 1}); f.Stats().Compacted {
		t.Errorf("compacted %+v: fewer than a third of the lines are superseded", f.Stats())
	}
}

func TestFileOptionsValidate(t *testing.T) {
	t.Parallel()
	_, err := checkpoint.Open(filepath.Join(t.TempDir(), "cp"), checkpoint.Options{GroupCommit: -time.Second})
	if err == nil || !strings.Contains(err.Error(), "GroupCommit") {
		t.Errorf("Open with a negative GroupCommit: err = %v, want one naming the field", err)
	}
	_, err = checkpoint.Open(filepath.Join(t.TempDir(), "no", "such", "dir", "cp"), checkpoint.Options{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open in a missing directory: err = %v, want ErrNotExist", err)
	}
}

// faultyJournal fails the journal's operations on demand.
type faultyJournal struct {
	checkpoint.Journal
	mu                          sync.Mutex
	writeErr, syncErr, truncErr error
	partial                     bool // write half of the bytes before failing
	syncs                       int
}

func (j *faultyJournal) set(fn func(j *faultyJournal)) {
	j.mu.Lock()
	defer j.mu.Unlock()
	fn(j)
}

func heal(j *faultyJournal) { j.writeErr, j.syncErr, j.truncErr, j.partial = nil, nil, nil, false }

func (j *faultyJournal) WriteAt(p []byte, off int64) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.writeErr == nil {
		return j.Journal.WriteAt(p, off)
	}
	n := 0
	if j.partial {
		n, _ = j.Journal.WriteAt(p[:len(p)/2], off)
	}
	return n, &os.PathError{Op: "write", Path: "journal", Err: j.writeErr}
}

func (j *faultyJournal) Sync() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.syncs++
	if j.syncErr != nil {
		return j.syncErr
	}
	return j.Journal.Sync()
}

func (j *faultyJournal) Truncate(n int64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.truncErr != nil {
		return j.truncErr
	}
	return j.Journal.Truncate(n)
}

func (j *faultyJournal) Syncs() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.syncs
}

func openFaulty(t *testing.T, path string, opts checkpoint.Options) (*checkpoint.File, *faultyJournal) {
	t.Helper()
	fj := &faultyJournal{}
	f := openFile(t, path, checkpoint.WithJournal(opts, func(j checkpoint.Journal) checkpoint.Journal {
		fj.Journal = j
		return fj
	}))
	return f, fj
}

// TestFileWriteFailure covers a full disk and a read-only file system with
// injected errors, so the path is tested where mounting is not allowed.
func TestFileWriteFailure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		fault   func(j *faultyJournal)
		wantErr error
	}{
		{"disk full, partial write", func(j *faultyJournal) { j.writeErr, j.partial = syscall.ENOSPC, true }, syscall.ENOSPC},
		{"read-only file system", func(j *faultyJournal) { j.writeErr = syscall.EROFS }, syscall.EROFS},
		{"fsync fails", func(j *faultyJournal) { j.syncErr = syscall.EIO }, syscall.EIO},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "cp.jsonl")
			f, fj := openFaulty(t, path, checkpoint.Options{})
			mustPut(t, f, "a", "b")
			fj.set(tc.fault)
			err := f.Put(ctx, rec("c"))
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Put: err = %v, want %v naming %s", err, tc.wantErr, path)
			}
			t.Log(err)
			if _, err := f.Get(ctx, "c"); !errors.Is(err, checkpoint.ErrNotFound) {
				t.Errorf("Get of the failed record: %v, want ErrNotFound", err)
			}
			fj.set(heal) // space freed
			mustPut(t, f, "d")
			closeFile(t, f)
			f = openFile(t, path, checkpoint.Options{})
			if st := f.Stats(); st.TornLines != 0 {
				t.Errorf("Stats = %+v: the failed write left a torn line", st)
			}
			wantKeys(t, f, "a", "b", "d")
		})
	}
}

func TestFileUndoFailure(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "cp.jsonl")
	f, fj := openFaulty(t, path, checkpoint.Options{})
	mustPut(t, f, "a")
	fj.set(func(j *faultyJournal) { j.writeErr, j.partial, j.truncErr = syscall.ENOSPC, true, syscall.EIO })
	if err := f.Put(ctx, rec("b")); !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "reopen") {
		t.Fatalf("Put: err = %v, want ENOSPC telling to reopen", err)
	}
	fj.set(heal)
	if err := f.Put(ctx, rec("c")); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Put after a failed undo: err = %v, want the same error again", err)
	}
	if err := f.Close(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Close: err = %v, want the write error", err)
	}
	f = openFile(t, path, checkpoint.Options{})
	if st := f.Stats(); st.TornLines != 1 {
		t.Errorf("Stats = %+v, want the partial write dropped as a torn line", st)
	}
	wantKeys(t, f, "a")
}

func TestFileGroupCommit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "cp.jsonl")
		f, fj := openFaulty(t, path, checkpoint.Options{GroupCommit: time.Second})
		opened := fj.Syncs()
		mustPut(t, f, "a", "b", "c")
		if n := fj.Syncs() - opened; n != 0 {
			t.Errorf("%d fsyncs right after 3 Puts, want 0", n)
		}
		time.Sleep(time.Second) // the bubble's fake clock: returns at once
		synctest.Wait()
		if n := fj.Syncs() - opened; n != 1 {
			t.Errorf("%d fsyncs once GroupCommit passed, want 1", n)
		}
		mustPut(t, f, "d")
		closeFile(t, f) // flushes "d"
		if n := fj.Syncs() - opened; n != 2 {
			t.Errorf("%d fsyncs after Close, want 2", n)
		}
		wantKeys(t, openFile(t, path, checkpoint.Options{}), "a", "b", "c", "d")
	})
}

func TestFileGroupCommitFailure(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "cp.jsonl")
		var logs logBuffer
		f, fj := openFaulty(t, path, checkpoint.Options{GroupCommit: time.Second, Logger: logs.logger(t)})
		mustPut(t, f, "a")
		fj.set(func(j *faultyJournal) { j.syncErr = syscall.EIO })
		time.Sleep(time.Second)
		synctest.Wait()
		err := f.Put(ctx, rec("b"))
		if !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "may be lost") {
			t.Errorf("Put after a failed group commit: err = %v, want EIO saying records may be lost", err)
		}
		if !strings.Contains(logs.String(), "group commit failed") {
			t.Errorf("failure not logged:\n%s", logs.String())
		}
		if err := f.Close(); !errors.Is(err, syscall.EIO) {
			t.Errorf("Close: err = %v, want the fsync error", err)
		}
	})
}

// TestFileModes: the journal is a job's state, and its error texts may
// carry details of the site: no one but its owner reads it.
func TestFileModes(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permission bits")
	}
	path := filepath.Join(t.TempDir(), "cp.jsonl")
	wantModes := func(when string) {
		t.Helper()
		for _, p := range []string{path, path + ".lock"} {
			if st, err := os.Stat(p); err != nil {
				t.Errorf("%s: %v", when, err)
			} else if m := st.Mode().Perm(); m != 0o600 {
				t.Errorf("%s: %s has mode %v, want 0600", when, filepath.Base(p), m)
			}
		}
	}
	f := openFile(t, path, checkpoint.Options{CompactAfter: 1})
	mustPut(t, f, "a", "a", "a")
	wantModes("new journal")
	closeFile(t, f)
	f = openFile(t, path, checkpoint.Options{CompactAfter: 1})
	if !f.Stats().Compacted {
		t.Fatalf("Stats = %+v, want a compaction", f.Stats())
	}
	wantModes("compacted journal")
}

// TestFileUpgrade: a version 1 journal is read, and rewritten as version 2
// before anything is appended, so that a version 1 build refuses it instead
// of misreading its pending lines.
func TestFileUpgrade(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "cp.jsonl")
	v1 := `{"format":"pagefleet-checkpoint","version":1}` + "\n" +
		`{"key":"a","state":"running","attempts":1,"started":"2025-03-01T12:00:00Z","updated":"2025-03-01T12:00:00Z"}` + "\n" +
		`{"key":"a","state":"done","attempts":1,"path":"a.pdf","size":3,"sha256":"abc","updated":"2025-03-01T12:01:00Z"}` + "\n" +
		`{"key":"b","state":"failed","attempts":2,"err":"timeout","updated":"2025-03-01T12:02:00Z"}` + "\n" +
		`{"key":"c","state":"run` // torn by a crash of the old build
	os.WriteFile(path, []byte(v1), 0o644)
	var logs logBuffer
	f := openFile(t, path, checkpoint.Options{Logger: logs.logger(t)})
	if st := f.Stats(); !st.Compacted || st.Records != 2 || st.TornLines != 1 {
		t.Errorf("Stats = %+v, want 2 records, the torn line dropped, compacted", st)
	}
	if !strings.Contains(logs.String(), "upgraded journal") {
		t.Errorf("the upgrade is not logged:\n%s", logs.String())
	}
	data, _ := os.ReadFile(path)
	if header, _, _ := strings.Cut(string(data), "\n"); header != `{"format":"pagefleet-checkpoint","version":2}` {
		t.Fatalf("header after Open = %s, want version 2", header)
	}
	a, err := f.Get(ctx, "a")
	if err != nil || a.State != checkpoint.Done || a.Path != "a.pdf" || a.Size != 3 || a.Crashes != 0 {
		t.Errorf("Get(a) = %+v, %v", a, err)
	}
	p := checkpoint.Record{Key: "b", State: checkpoint.Pending, Attempts: 2, Crashes: 1, Err: "timeout"}
	if err := f.Put(ctx, p); err != nil {
		t.Fatal(err)
	}
	closeFile(t, f)
	f = openFile(t, path, checkpoint.Options{})
	if st := f.Stats(); st.Compacted || st.Lines != 3 {
		t.Errorf("Stats of the version 2 journal = %+v, want 3 lines as they are", st)
	}
	if b, err := f.Get(ctx, "b"); err != nil || b.State != checkpoint.Pending || b.Crashes != 1 || b.Attempts != 2 {
		t.Errorf("Get(b) = %+v, %v; want the pending record with a crash", b, err)
	}
}
