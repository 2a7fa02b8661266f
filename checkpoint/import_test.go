package checkpoint_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pagefleet/pagefleet/checkpoint"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tracking.json")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestImportShapes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, content string
		want          []string // done keys, in key order
	}{
		{"list", `["A1", "B2", "A1"]`, []string{"A1", "B2"}},
		{"numbers", `[12345, "B2"]`, []string{"12345", "B2"}},
		{"completed", `{"completed": ["A1"], "failed": ["F"], "updated": "2024-05-01"}`, []string{"A1"}},
		{"downloaded", `{"downloaded": ["A1", "B2"]}`, []string{"A1", "B2"}},
		{"done", `{"done": ["A1"]}`, []string{"A1"}},
		{"several lists", `{"done": ["A1"], "completed": ["B2"]}`, []string{"A1", "B2"}},
		{"empty list", `{"completed": []}`, nil},
		{"map", `{
			"A1": {"status": "done", "path": "out/A1.pdf"},
			"B2": {"status": "Completed"},
			"C3": {"status": "success", "file": "C3.pdf"},
			"D4": {"status": true},
			"E5": true,
			"F6": "downloaded",
			"G7": {"status": "failed", "error": "timeout"},
			"H8": false,
			"I9": "pending"
		}`, []string{"A1", "B2", "C3", "D4", "E5", "F6"}},
		{"empty map", `{}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := checkpoint.NewMemory()
			defer s.Close()
			added, skipped, err := checkpoint.Import(ctx, s, writeFile(t, tc.content))
			if err != nil || added != len(tc.want) || skipped != 0 {
				t.Fatalf("Import = %d added, %d skipped, %v; want %d added", added, skipped, err, len(tc.want))
			}
			wantKeys(t, s, tc.want...)
			for r, _ := range s.All(ctx) {
				if r.State != checkpoint.Done || r.Meta["imported_from"] != "tracking.json" || r.Updated.IsZero() {
					t.Errorf("imported record %+v", r)
				}
			}
		})
	}
	s := checkpoint.NewMemory()
	checkpoint.Import(ctx, s, writeFile(t, `{"A1": {"status": "done", "path": "out/A1.pdf"}, "C3": {"status": "ok", "filename": "C3.pdf"}}`))
	for key, path := range map[string]string{"A1": "out/A1.pdf", "C3": "C3.pdf"} {
		if r, err := s.Get(ctx, key); err != nil || r.Path != path {
			t.Errorf("%s: Path = %q (%v), want %q", key, r.Path, err, path)
		}
	}
}

func TestImportRejects(t *testing.T) {
	t.Parallel()
	for name, content := range map[string]string{
		"not JSON":             `completed: [A1]`,
		"two values":           `["A1"] ["B2"]`,
		"a string":             `"A1"`,
		"a number":             `42`,
		"null":                 `null`,
		"list of objects":      `[{"key": "A1"}]`,
		"empty key in list":    `["A1", ""]`,
		"completed not list":   `{"completed": "A1"}`,
		"bad list element":     `{"done": ["A1", null]}`,
		"entry without status": `{"A1": {"path": "a.pdf"}}`,
		"entry a number":       `{"A1": 1}`,
		"entry a list":         `{"A1": ["done"]}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := checkpoint.NewMemory()
			defer s.Close()
			path := writeFile(t, content)
			_, _, err := checkpoint.Import(ctx, s, path)
			if !errors.Is(err, checkpoint.ErrFormat) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Import: err = %v, want ErrFormat naming the file", err)
			}
			t.Log(err)
			wantKeys(t, s)
		})
	}
	_, _, err := checkpoint.Import(ctx, checkpoint.NewMemory(), filepath.Join(t.TempDir(), "missing.json"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Import of a missing file: err = %v, want ErrNotExist", err)
	}
}

func TestImportKeepsExisting(t *testing.T) {
	t.Parallel()
	s := openFile(t, filepath.Join(t.TempDir(), "cp.jsonl"), checkpoint.Options{})
	failed := checkpoint.Record{Key: "B2", State: checkpoint.Failed, Attempts: 3, Err: "newer"}
	if err := s.Put(ctx, failed); err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, `{"completed": ["A1", "B2", "C3"]}`)
	added, skipped, err := checkpoint.Import(ctx, s, path)
	if err != nil || added != 2 || skipped != 1 {
		t.Fatalf("Import = %d added, %d skipped, %v; want 2, 1", added, skipped, err)
	}
	if r, _ := s.Get(ctx, "B2"); r.State != checkpoint.Failed || r.Err != "newer" {
		t.Errorf("Import overwrote B2: %+v", r)
	}
	added, skipped, err = checkpoint.Import(ctx, s, path) // a second import changes nothing
	if err != nil || added != 0 || skipped != 3 {
		t.Errorf("second Import = %d added, %d skipped, %v; want 0, 3", added, skipped, err)
	}
	wantKeys(t, s, "A1", "B2", "C3")
}

// plainStore hides the Batcher of a store, to test Import's one-by-one path.
type plainStore struct{ checkpoint.Store }

func TestImportWithoutBatcher(t *testing.T) {
	t.Parallel()
	s := checkpoint.NewMemory()
	added, _, err := checkpoint.Import(ctx, plainStore{s}, writeFile(t, `["A1", "B2"]`))
	if err != nil || added != 2 {
		t.Fatalf("Import = %d added, %v; want 2", added, err)
	}
	wantKeys(t, s, "A1", "B2")

	c, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := checkpoint.Import(c, plainStore{s}, writeFile(t, `["C3"]`)); !errors.Is(err, context.Canceled) {
		t.Errorf("Import with a canceled context: err = %v", err)
	}
}
