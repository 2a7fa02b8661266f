package checkpoint_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/pagefleet/pagefleet/checkpoint"
)

// BenchmarkClaim: claims per second from one goroutine on a File, to
// compare with checkpoint/postgres's BenchmarkClaim. Claims stay in memory;
// only a lease's Put and Release write (and fsync) the journal.
func BenchmarkClaim(b *testing.B) {
	open := func(b *testing.B) *checkpoint.File {
		return openFile(b, filepath.Join(b.TempDir(), "cp.jsonl"), checkpoint.Options{Logger: quiet})
	}
	b.Run("one", func(b *testing.B) {
		f := open(b)
		i := 0
		for b.Loop() {
			if _, err := f.Claim(ctx, vehicle(i).Key, "bench", time.Hour); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "claims/s")
	})
	b.Run("batch-50-of-2000", func(b *testing.B) {
		f := open(b)
		inventory := make([]string, 2000)
		for i := range inventory {
			inventory[i] = vehicle(i).Key
		}
		claimed, round := 0, 0
		for b.Loop() {
			ls, err := f.ClaimBatch(ctx, inventory, "bench", 50, time.Hour)
			if err != nil {
				b.Fatal(err)
			}
			if len(ls) == 0 {
				b.StopTimer()
				round++
				for i := range inventory {
					inventory[i] = vehicle(round*len(inventory) + i).Key
				}
				b.StartTimer()
			}
			claimed += len(ls)
		}
		b.ReportMetric(float64(claimed)/b.Elapsed().Seconds(), "claims/s")
	})
	b.Run("cycle", func(b *testing.B) {
		f := open(b)
		i := 0
		for b.Loop() {
			r := vehicle(i)
			l, err := f.Claim(ctx, r.Key, "bench", time.Hour)
			if err != nil {
				b.Fatal(err)
			}
			if err := l.Put(ctx, checkpoint.Record{State: checkpoint.Running, Attempts: 1}); err != nil {
				b.Fatal(err)
			}
			if err := l.Release(ctx, r); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "items/s")
	})
}
