package checkpoint_test

import (
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/checkpoint/checkpointtest"
)

func TestMemoryConformance(t *testing.T) {
	checkpointtest.Run(t, func(t *testing.T) checkpoint.Store { return checkpoint.NewMemory() })
}

func TestMemoryZeroValue(t *testing.T) {
	var m checkpoint.Memory
	if _, err := m.Get(ctx, "k"); !errors.Is(err, checkpoint.ErrNotFound) {
		t.Errorf("Get: %v, want ErrNotFound", err)
	}
	mustPut(t, &m, "k")
	wantKeys(t, &m, "k")
}

func TestFileConformance(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts checkpoint.Options
		many int
	}{
		{"fsync", checkpoint.Options{}, 100_000},                                    // even under -race: replaying 100k is the File's job
		{"group-commit", checkpoint.Options{GroupCommit: time.Millisecond}, 10_000}, // 100k: the same code as fsync
	} {
		opts := tc.opts
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkpointtest.Suite{
				Many: tc.many,
				New: func(t *testing.T) checkpoint.Store {
					return openFile(t, filepath.Join(t.TempDir(), "cp.jsonl"), opts)
				},
				Reopen: func(t *testing.T, s checkpoint.Store) checkpoint.Store {
					return openFile(t, s.(*checkpoint.File).Path(), opts)
				},
			}.Run(t)
		})
	}
}

// openFile opens a File store that logs to the test's log.
func openFile(t testing.TB, path string, opts checkpoint.Options) *checkpoint.File {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	f, err := checkpoint.Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestMemoryLeaser(t *testing.T) {
	checkpointtest.RunLeaser(t, func(t *testing.T, clock *checkpointtest.Clock) checkpoint.Store {
		return &checkpoint.Memory{Now: clock.Now}
	})
}

func TestFileLeaser(t *testing.T) {
	checkpointtest.RunLeaser(t, func(t *testing.T, clock *checkpointtest.Clock) checkpoint.Store {
		return openFile(t, filepath.Join(t.TempDir(), "cp.jsonl"), checkpoint.Options{Now: clock.Now})
	})
}
