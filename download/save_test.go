package download_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"

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

// TestRemoveTemp removes what a killed process's Save left behind, spares
// a Save in progress — of this process or another — and nothing else.
func TestRemoveTemp(t *testing.T) {
	if dir := os.Getenv(saverEnv); dir != "" {
		saver(dir) // the child: saves, and blocks until killed
		return
	}
	t.Parallel()
	dir := t.TempDir()
	others := []string{"a.pdf", "notes.part", ".pagefleet-notes", ".hidden"}
	for _, name := range others {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("keep"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	temps := func() []string {
		m, _ := filepath.Glob(filepath.Join(dir, ".pagefleet-*.part"))
		return m
	}
	// A Save of this process, in progress.
	pr, pw := io.Pipe()
	done := make(chan error)
	go func() {
		_, err := download.Save(pr, download.Target{Dir: dir, Name: "b.pdf"})
		done <- err
	}()
	if _, err := pw.Write([]byte("%PDF-1.4 partial")); err != nil {
		t.Fatal(err)
	}
	// A Save of another process, in progress, and then killed.
	child := exec.Command(os.Args[0], "-test.run=^TestRemoveTemp$")
	child.Env = append(os.Environ(), saverEnv+"="+dir)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil { // "saving"
		t.Fatal(err)
	}
	if got := len(temps()); got != 2 {
		t.Fatalf("%d temporary files with two saves in progress", got)
	}
	if n, err := download.RemoveTemp(dir); n != 0 || err != nil {
		t.Errorf("RemoveTemp during two saves = %d, %v; want 0, nil", n, err)
	}
	child.Process.Kill()
	child.Wait()
	if n, err := download.RemoveTemp(dir); n != 1 || err != nil || len(temps()) != 1 {
		t.Errorf("RemoveTemp after the other process died = %d, %v, leaving %v; want its file removed, ours kept", n, err, temps())
	}
	pw.CloseWithError(io.ErrUnexpectedEOF)
	if err := <-done; !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Save = %v, want it to fail", err)
	}
	if got := temps(); len(got) != 0 {
		t.Errorf("left %v", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(others) {
		t.Errorf("%d files left, want the %d others untouched", len(entries), len(others))
	}
	if n, err := download.RemoveTemp(filepath.Join(dir, "missing")); n != 0 || err != nil {
		t.Errorf("RemoveTemp of a missing dir = %d, %v; want 0, nil", n, err)
	}
}

const saverEnv = "PAGEFLEET_TEST_SAVER_DIR"

// saver starts a Save into dir that never ends, says so, and waits to be killed.
func saver(dir string) {
	pr, pw := io.Pipe()
	go download.Save(pr, download.Target{Dir: dir, Name: "c.pdf"})
	pw.Write([]byte("%PDF-1.4 partial"))
	fmt.Println("saving")
	select {}
}

// TestRemoveTempDuringSaves: RemoveTemp running over and over beside
// saves never takes a file a Save has just created (and not yet locked):
// every Save succeeds.
func TestRemoveTempDuringSaves(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stop := make(chan struct{})
	swept := make(chan struct{})
	go func() {
		defer close(swept)
		for {
			select {
			case <-stop:
				return
			default:
				_, _ = download.RemoveTemp(dir)
			}
		}
	}()
	var wg sync.WaitGroup
	var failed atomic.Int32
	for g := range 2 {
		wg.Go(func() {
			for i := range 1000 {
				name := fmt.Sprintf("f%d-%d.pdf", g, i)
				if _, err := download.Save(strings.NewReader("%PDF-1.4 x"), download.Target{Dir: dir, Name: name}); err != nil {
					if failed.Add(1) == 1 {
						t.Errorf("Save(%s) beside RemoveTemp: %v", name, err)
					}
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-swept
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of 2000 saves failed", n)
	}
}
