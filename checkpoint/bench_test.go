package checkpoint_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/pagefleet/pagefleet/checkpoint"
)

// vehicle is a realistic Done record: about 330 bytes of JSON.
func vehicle(i int) checkpoint.Record {
	key := fmt.Sprintf("1FTFW1E5%09d", i)
	sum := sha256.Sum256([]byte(key))
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
	return checkpoint.Record{
		Key: key, State: checkpoint.Done, Attempts: 1, Path: "stickers/" + key + ".pdf", Size: 48_000 + int64(i%5000),
		SHA256: hex.EncodeToString(sum[:]), Owner: "host-a/1234/w3", Meta: map[string]string{"stock": fmt.Sprint("S", i)},
		Started: t0, Updated: t0.Add(40 * time.Second),
	}
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// BenchmarkPut measures Puts per second from one goroutine, the way a
// pool's result callback writes them.
func BenchmarkPut(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts checkpoint.Options
	}{
		{"fsync", checkpoint.Options{}},
		{"group-commit-10ms", checkpoint.Options{GroupCommit: 10 * time.Millisecond}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			bc.opts.Logger = quiet
			f := openFile(b, filepath.Join(b.TempDir(), "cp.jsonl"), bc.opts)
			i := 0
			for b.Loop() {
				if err := f.Put(ctx, vehicle(i)); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "puts/s")
		})
	}
}

// BenchmarkOpen measures Open (replay) of a journal of 100k records, with
// each key once (as after a compaction) and twice (Running then Done, not
// compacted).
func BenchmarkOpen(b *testing.B) {
	for _, lines := range []int{1, 2} {
		b.Run(fmt.Sprintf("100k-records-%dx", lines), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "cp.jsonl")
			opts := checkpoint.Options{CompactAfter: -1, Logger: quiet}
			f, err := checkpoint.Open(path, opts)
			if err != nil {
				b.Fatal(err)
			}
			for l := range lines {
				for start := 0; start < 100_000; start += 10_000 {
					batch := make([]checkpoint.Record, 0, 10_000)
					for i := start; i < start+10_000; i++ {
						r := vehicle(i)
						if l < lines-1 {
							r.State, r.Path, r.Size, r.SHA256 = checkpoint.Running, "", 0, ""
						}
						batch = append(batch, r)
					}
					if err := f.PutBatch(ctx, batch); err != nil {
						b.Fatal(err)
					}
				}
			}
			f.Close()
			for b.Loop() {
				f, err := checkpoint.Open(path, opts)
				if err != nil {
					b.Fatal(err)
				}
				if n := f.Stats().Records; n != 100_000 {
					b.Fatalf("%d records", n)
				}
				f.Close()
			}
		})
	}
}

// BenchmarkPlan measures Plan of 100k keys: a first run (no records) and a
// rerun of a finished job (every key Done; Verify trusts the files). Each
// process of a fleet plans the whole list before its first claim.
func BenchmarkPlan(b *testing.B) {
	keys := make([]string, 100_000)
	for i := range keys {
		keys[i] = vehicle(i).Key
	}
	for _, bc := range []struct {
		name string
		done bool
	}{{"new", false}, {"done", true}} {
		b.Run(bc.name, func(b *testing.B) {
			store := checkpoint.NewMemory()
			if bc.done {
				for i := range keys {
					if err := store.Put(ctx, vehicle(i)); err != nil {
						b.Fatal(err)
					}
				}
			}
			tr, err := checkpoint.NewTracker(store, checkpoint.TrackerOptions{Logger: quiet, Verify: func(checkpoint.Record) error { return nil }})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				p, err := tr.Plan(ctx, keys)
				if err != nil {
					b.Fatal(err)
				}
				if got := len(p.Todo) + len(p.Done); got != len(keys) {
					b.Fatalf("planned %d keys of %d", got, len(keys))
				}
			}
		})
	}
}
