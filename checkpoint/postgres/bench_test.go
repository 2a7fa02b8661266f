package postgres_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/checkpoint/postgres"
)

// vehicle is a realistic Done record, as in the checkpoint package's
// benchmarks.
func vehicle(i int) checkpoint.Record {
	key := fmt.Sprintf("1FTFW1E5%09d", i)
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
	return checkpoint.Record{
		Key: key, State: checkpoint.Done, Attempts: 1, Path: "stickers/" + key + ".pdf", Size: 48_000 + int64(i%5000),
		SHA256: fmt.Sprintf("%064x", i), Owner: "host-a/1234/w3", Meta: map[string]string{"stock": fmt.Sprint("S", i)},
		Started: t0, Updated: t0.Add(40 * time.Second),
	}
}

// BenchmarkPut: Puts per second from one goroutine, each its own
// transaction, and records per second in batches of 100.
func BenchmarkPut(b *testing.B) {
	b.Run("one", func(b *testing.B) {
		s := open(b, postgres.Options{})
		i := 0
		for b.Loop() {
			if err := s.Put(ctx, vehicle(i)); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "puts/s")
	})
	b.Run("batch-100", func(b *testing.B) {
		s := open(b, postgres.Options{})
		i := 0
		batch := make([]checkpoint.Record, 100)
		for b.Loop() {
			for j := range batch {
				batch[j] = vehicle(i)
				i++
			}
			if err := s.PutBatch(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "records/s")
	})
}

// BenchmarkClaim: claims per second from one goroutine. "one" claims a new
// key per call; "batch-50" claims 50 per call out of an inventory of 2,000
// offered whole each time, as a CLI does; "cycle" is Claim, Put of the
// Running record, and Release Done: one item's whole bookkeeping.
func BenchmarkClaim(b *testing.B) {
	b.Run("one", func(b *testing.B) {
		s := open(b, postgres.Options{})
		i := 0
		for b.Loop() {
			if _, err := s.Claim(ctx, vehicle(i).Key, "bench", time.Hour); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "claims/s")
	})
	b.Run("batch-50-of-2000", func(b *testing.B) {
		s := open(b, postgres.Options{})
		inventory := make([]string, 2000)
		for i := range inventory {
			inventory[i] = vehicle(i).Key
		}
		claimed, round := 0, 0
		for b.Loop() {
			ls, err := s.ClaimBatch(ctx, inventory, "bench", 50, time.Hour)
			if err != nil {
				b.Fatal(err)
			}
			if len(ls) == 0 { // all leased: a fresh owner's view of a new inventory
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
		s := open(b, postgres.Options{})
		i := 0
		for b.Loop() {
			r := vehicle(i)
			l, err := s.Claim(ctx, r.Key, "bench", time.Hour)
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
