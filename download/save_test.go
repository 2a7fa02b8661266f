package download_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/session/sessiontest"
)

// onlyFile checks that dir holds exactly name with content, or nothing when
// name is "": no temporary files are left behind.
func onlyFile(t *testing.T, dir, name string, content []byte) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if name == "" {
		if len(names) != 0 {
			t.Errorf("files left in the directory: %v", names)
		}
		return
	}
	if len(names) != 1 || names[0] != name {
		t.Fatalf("directory holds %v, want just %s", names, name)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, name)); string(got) != string(content) {
		t.Errorf("%s holds %d bytes, not the %d expected", name, len(got), len(content))
	}
}

func TestSave(t *testing.T) {
	t.Parallel()
	pdf := sessiontest.PDF("VIN: A1")
	sum := sha256.Sum256(pdf)
	valid := []download.Validator{download.PDF(), download.PDFContains("A1")}

	t.Run("valid", func(t *testing.T) {
		dir := t.TempDir()
		f, err := download.Save(strings.NewReader(string(pdf)), download.Target{Dir: dir, Name: "a.pdf", Validate: valid})
		if err != nil {
			t.Fatal(err)
		}
		if f.Path != filepath.Join(dir, "a.pdf") || f.Size != int64(len(pdf)) || f.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("File = %+v", f)
		}
		onlyFile(t, dir, "a.pdf", pdf)
	})
	for _, tt := range []struct {
		name string
		r    io.Reader
		dst  download.Target
		want error
	}{
		{"invalid", strings.NewReader(string(pdf[:300])), download.Target{Validate: valid}, download.ErrTruncated},
		{"wrong item", strings.NewReader(string(pdf)), download.Target{Validate: []download.Validator{download.PDFContains("B2")}}, download.ErrContentMismatch},
		{"too large", strings.NewReader(string(pdf)), download.Target{MaxSize: 100}, download.ErrTooLarge},
		{"read error", io.MultiReader(strings.NewReader("%PDF-1.4 partial"), iotest.ErrReader(io.ErrUnexpectedEOF)), download.Target{}, io.ErrUnexpectedEOF},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			old := []byte("the previous, good file")
			if err := os.WriteFile(filepath.Join(dir, "a.pdf"), old, 0o644); err != nil {
				t.Fatal(err)
			}
			tt.dst.Dir, tt.dst.Name = dir, "a.pdf"
			if _, err := download.Save(tt.r, tt.dst); !errors.Is(err, tt.want) {
				t.Fatalf("Save = %v; want %v", err, tt.want)
			}
			onlyFile(t, dir, "a.pdf", old) // untouched, and no temporary file left
		})
	}
	for _, name := range []string{"", ".", "..", "a/b", "/abs"} {
		if _, err := download.Save(strings.NewReader("x"), download.Target{Dir: t.TempDir(), Name: name}); err == nil || !strings.Contains(err.Error(), "Name") {
			t.Errorf("Save with Name %q = %v; want an error naming Target.Name", name, err)
		}
	}
}

// TestRemoveTemp removes what a killed Save leaves behind — by age when
// asked, so that another process's download in progress survives — and
// nothing else.
func TestRemoveTemp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	others := []string{"a.pdf", "notes.part", ".pagefleet-notes", ".hidden"}
	for _, name := range others {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("keep"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// saving starts a Save that blocks mid-copy and returns its temporary
	// file, as a killed process would leave it, and how to end the Save.
	saving := func() (string, func()) {
		before, _ := os.ReadDir(dir)
		pr, pw := io.Pipe()
		done := make(chan error)
		go func() {
			_, err := download.Save(pr, download.Target{Dir: dir, Name: "b.pdf"})
			done <- err
		}()
		if _, err := pw.Write([]byte("%PDF-1.4 partial")); err != nil {
			t.Fatal(err)
		}
		after, _ := os.ReadDir(dir)
		if len(after) != len(before)+1 {
			t.Fatalf("Save in progress: %d files, want %d", len(after), len(before)+1)
		}
		var temp string
		for i, e := range after {
			if i >= len(before) || e.Name() != before[i].Name() {
				temp = e.Name()
				break
			}
		}
		return filepath.Join(dir, temp), func() {
			pw.CloseWithError(io.ErrUnexpectedEOF)
			if err := <-done; !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("Save = %v, want it to fail", err)
			}
		}
	}

	temp, end := saving()
	if n, err := download.RemoveTemp(dir, time.Hour); n != 0 || err != nil {
		t.Errorf("RemoveTemp(1h) of a fresh file = %d, %v; want 0, nil", n, err)
	}
	if _, err := os.Stat(temp); err != nil {
		t.Errorf("a fresh temporary file was removed: %v", err)
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(temp, old, old); err != nil {
		t.Fatal(err)
	}
	if n, err := download.RemoveTemp(dir, time.Hour); n != 1 || err != nil {
		t.Errorf("RemoveTemp(1h) of a 2 h old file = %d, %v; want 1, nil", n, err)
	}
	end()

	temp, end = saving()
	if n, err := download.RemoveTemp(dir, 0); n != 1 || err != nil {
		t.Errorf("RemoveTemp(0) = %d, %v; want 1, nil", n, err)
	}
	end()
	if _, err := os.Stat(temp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still there: %v", temp, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(others) {
		t.Errorf("%d files left, want the %d others untouched", len(entries), len(others))
	}
	if n, err := download.RemoveTemp(filepath.Join(dir, "missing"), 0); n != 0 || err != nil {
		t.Errorf("RemoveTemp of a missing dir = %d, %v; want 0, nil", n, err)
	}
}
