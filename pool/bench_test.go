package pool_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pagefleet/pagefleet/pool"
)

func benchPool(b *testing.B, workers, tasks int, run func(context.Context, int) (any, error)) {
	p, err := pool.New(pool.Config[int]{
		Workers:  workers,
		Factory:  pool.Funcs[int]{NewFunc: func(context.Context) (int, error) { return 0, nil }},
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnResult: func(pool.Result) {}, // as real callers have
	})
	if err != nil {
		b.Fatal(err)
	}
	for i := range tasks {
		if err := p.Submit(pool.Task[int]{Key: strconv.Itoa(i), Run: run}); err != nil {
			b.Fatal(err)
		}
	}
	p.CloseQueue()
	if err := p.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkOverhead measures the pool's own cost per task: zero-latency
// tasks, so everything measured is scheduling. ns/op is per task.
func BenchmarkOverhead(b *testing.B) {
	for _, workers := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			b.ReportAllocs()
			benchPool(b, workers, b.N, func(context.Context, int) (any, error) { return nil, nil })
		})
	}
}

// BenchmarkEfficiency runs 1,000 tasks of 10 ms on 64 workers and reports
// the wall time as a share of the ideal (tasks × 10 ms / workers). The
// "baseline" runs the same sleeps on 64 plain goroutines, without a pool:
// what the machine's timers and scheduler allow at all. (The ideal itself
// is out of reach: 1,000 tasks on 64 workers take 16 rounds, not 15.6.)
func BenchmarkEfficiency(b *testing.B) {
	const tasks, workers, latency = 1000, 64, 10 * time.Millisecond
	ideal := time.Duration(float64(tasks) / workers * float64(latency))
	measure := func(b *testing.B, once func()) {
		var wall time.Duration
		for b.Loop() {
			start := time.Now()
			once()
			wall += time.Since(start)
		}
		b.ReportMetric(100*float64(ideal)*float64(b.N)/float64(wall), "%ideal")
	}
	b.Run("pool", func(b *testing.B) {
		measure(b, func() {
			benchPool(b, workers, tasks, func(ctx context.Context, _ int) (any, error) {
				time.Sleep(latency)
				return nil, nil
			})
		})
	})
	b.Run("baseline", func(b *testing.B) {
		measure(b, func() {
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := w; i < tasks; i += workers {
						time.Sleep(latency)
					}
				})
			}
			wg.Wait()
		})
	})
}
