package checkpoint_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/pagefleet/pagefleet/checkpoint"
)

// TestReadFile: a journal another File has open (and locked) reads as
// what it has recorded, its last line being appended left out, and the
// journal and its lock are left as they were.
func TestReadFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "cp.jsonl")
	f := openFile(t, path, checkpoint.Options{})
	mustPut(t, f, "a", "b")
	if err := f.Put(ctx, checkpoint.Record{Key: "c", State: checkpoint.Running, Attempts: 1, Owner: "w1"}); err != nil {
		t.Fatal(err)
	}
	mustPut(t, f, "a") // superseded lines count once
	appendTo(t, path, `{"key":"d","state":"do`)
	before, _ := os.ReadFile(path)

	m, err := checkpoint.ReadFile(path)
	if err != nil {
		t.Fatalf("ReadFile of an open journal: %v", err)
	}
	wantKeys(t, m, "a", "b", "c")
	if r, err := m.Get(ctx, "c"); err != nil || r.State != checkpoint.Running || r.Owner != "w1" {
		t.Errorf("c = %+v, %v", r, err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("ReadFile changed the journal")
	}
	if _, err := checkpoint.Open(path, checkpoint.Options{Logger: testLogger(t)}); !errors.Is(err, checkpoint.ErrLocked) {
		t.Errorf("a second Open: %v, want the File's lock still held", err)
	}
}

func TestReadFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := checkpoint.ReadFile(filepath.Join(dir, "none.jsonl")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing journal: %v, want fs.ErrNotExist", err)
	}
	empty := filepath.Join(dir, "empty.jsonl")
	os.WriteFile(empty, nil, 0o600)
	if _, err := checkpoint.ReadFile(empty); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty journal: %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(empty + ".lock"); !errors.Is(err, fs.ErrNotExist) {
		t.Error("ReadFile made a lock file")
	}

	corrupt := filepath.Join(dir, "corrupt.jsonl")
	f := openFile(t, corrupt, checkpoint.Options{})
	mustPut(t, f, "a")
	closeFile(t, f)
	appendTo(t, corrupt, "garbage\n")
	appendTo(t, corrupt, `{"key":"b","state":"done"}`+"\n")
	var ce *checkpoint.CorruptError
	if _, err := checkpoint.ReadFile(corrupt); !errors.As(err, &ce) || ce.Line != 3 {
		t.Errorf("corrupt journal: %v, want a *CorruptError for line 3", err)
	}

	newer := filepath.Join(dir, "newer.jsonl")
	os.WriteFile(newer, []byte(`{"format":"pagefleet-checkpoint","version":99}`+"\n"), 0o600)
	if _, err := checkpoint.ReadFile(newer); !errors.Is(err, checkpoint.ErrVersion) {
		t.Errorf("newer journal: %v, want ErrVersion", err)
	}
}
