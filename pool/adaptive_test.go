package pool_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pagefleet/pagefleet/pool"
	"github.com/pagefleet/pagefleet/pool/pooltest"
)

// settle runs tasks against a modelled server through an adaptive pool and
// returns the worker counts seen over the second half of the run.
func settle(t *testing.T, srv *pooltest.Server, tasks int, a pool.Adaptive) (counts map[int]int, log string) {
	t.Helper()
	var buf bytes.Buffer
	var mu sync.Mutex
	f := &pooltest.Factory{}
	counts = map[int]int{}
	var p *pool.PagePool[*pooltest.Page]
	finished := 0
	cfg := pool.Config[*pooltest.Page]{
		Factory: f, Workers: 12, Adaptive: &a, MaxAttempts: 10, NewBackOff: noWait,
		Logger: slog.New(slog.NewTextHandler(&syncWriter{w: &buf, mu: &mu}, nil)),
		OnResult: func(r pool.Result) {
			if r.Err != nil {
				t.Errorf("%s: %v", r.Key, r.Err)
			}
			if finished++; finished > tasks/2 {
				counts[p.Stats().Target]++
			}
		},
	}
	p, err := pool.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range tasks {
		p.Submit(srv.Task(fmt.Sprint(i)))
	}
	p.CloseQueue()
	if err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.Check(t)
	mu.Lock()
	defer mu.Unlock()
	return counts, buf.String()
}

type syncWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

func checkSettled(t *testing.T, counts map[int]int, k int, log string) {
	t.Helper()
	total, near := 0, 0
	for n, c := range counts {
		total += c
		if n >= k-1 && n <= k+1 {
			near += c
		}
	}
	t.Logf("worker counts over the second half (count: results): %v", counts)
	if near < total*9/10 {
		t.Errorf("settled at K±1 for only %d of %d results; K=%d\n%s", near, total, k, log)
	}
	if !strings.Contains(log, "reason=") {
		t.Errorf("changes are not logged with a reason:\n%s", log)
	}
}

// A site that refuses requests beyond its capacity (429s).
func TestAdaptiveSettlesBelowRefusals(t *testing.T) {
	t.Parallel()
	// On a fake clock: rates measured in wall time are at the mercy of a
	// loaded machine; in the bubble, time moves only when every goroutine waits.
	synctest.Test(t, func(t *testing.T) {
		const k = 6
		srv := &pooltest.Server{Capacity: k, Latency: 20 * time.Millisecond, RefuseRate: 1, Seed: 1}
		counts, log := settle(t, srv, 1500, pool.Adaptive{Min: 1, Max: 12, MinWindow: 50 * time.Millisecond, Cooldown: time.Second})
		checkSettled(t, counts, k, log)
		if !strings.Contains(log, "overload") {
			t.Errorf("never saw overload:\n%s", log)
		}
	})
}

// A site that only gets slower beyond its capacity: more workers queue.
func TestAdaptiveSettlesWhereLatencyClimbs(t *testing.T) {
	t.Parallel()
	// On a fake clock: rates measured in wall time are at the mercy of a
	// loaded machine; in the bubble, time moves only when every goroutine waits.
	synctest.Test(t, func(t *testing.T) {
		const k = 5
		srv := &pooltest.Server{Capacity: k, Latency: 20 * time.Millisecond, Seed: 2}
		counts, log := settle(t, srv, 1500, pool.Adaptive{Min: 1, Max: 12, MinWindow: 50 * time.Millisecond, Cooldown: time.Second})
		checkSettled(t, counts, k, log)
		if !strings.Contains(log, "no gain") {
			t.Errorf("never saw a no-gain step:\n%s", log)
		}
	})
}

// Without limits in sight the controller climbs to Max.
func TestAdaptiveClimbsToMax(t *testing.T) {
	t.Parallel()
	// On a fake clock: rates measured in wall time are at the mercy of a
	// loaded machine; in the bubble, time moves only when every goroutine waits.
	synctest.Test(t, func(t *testing.T) {
		srv := &pooltest.Server{Capacity: 100, Latency: 20 * time.Millisecond}
		counts, log := settle(t, srv, 1000, pool.Adaptive{Max: 8, MinWindow: 50 * time.Millisecond})
		checkSettled(t, counts, 8, log)
	})
}

// SetMaxWorkers caps the pool, and the controller stays under the cap.
func TestSetMaxWorkersCapsTheController(t *testing.T) {
	t.Parallel()
	// On a fake clock: rates measured in wall time are at the mercy of a
	// loaded machine; in the bubble, time moves only when every goroutine waits.
	synctest.Test(t, func(t *testing.T) {
		srv := &pooltest.Server{Capacity: 100, Latency: 5 * time.Millisecond}
		f := &pooltest.Factory{}
		var p *pool.PagePool[*pooltest.Page]
		finished, over := 0, 0
		p, err := pool.New(pool.Config[*pooltest.Page]{
			Factory: f, Workers: 8, Logger: testLogger(t),
			Adaptive: &pool.Adaptive{Start: 8, MinWindow: 10 * time.Millisecond},
			OnResult: func(pool.Result) {
				switch finished++; {
				case finished == 50:
					p.SetMaxWorkers(2)
				case finished > 100 && p.Stats().Target > 2:
					over++
				}
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 600 {
			p.Submit(srv.Task(fmt.Sprint(i)))
		}
		p.CloseQueue()
		if err := p.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		if over > 0 || p.Stats().Target > 2 {
			t.Errorf("the controller went over the cap %d times; final target %d", over, p.Stats().Target)
		}
		f.Check(t)
	})
}

// A change of the pool's target, at a fake time since the start.
type step struct {
	at time.Duration
	to int
}

func (s step) String() string { return fmt.Sprintf("%v: %d", s.at, s.to) }

// trace runs tasks against srv through an adaptive pool over f and returns
// the changes of the worker count, the controller's log and the results.
func trace(t *testing.T, srv *pooltest.Server, f *pooltest.Factory, tasks int, a pool.Adaptive) (steps []step, log string, done int) {
	t.Helper()
	var buf bytes.Buffer
	var mu sync.Mutex
	var p *pool.PagePool[*pooltest.Page]
	start := time.Now()
	last := 0
	p, err := pool.New(pool.Config[*pooltest.Page]{
		Factory: f, Workers: 16, Adaptive: &a,
		Logger: slog.New(slog.NewTextHandler(&syncWriter{w: &buf, mu: &mu}, nil)),
		OnAttempt: func(pool.Attempt) {
			// The controller sees each attempt just before this: a change
			// it made is seen here at the instant it was made.
			if n := p.Stats().Target; n != last {
				steps, last = append(steps, step{time.Since(start), n}), n
			}
		},
		OnResult: func(r pool.Result) {
			if r.Err != nil {
				t.Errorf("%s: %v", r.Key, r.Err)
			} else {
				done++
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	last = p.Stats().Target // Start
	for i := range tasks {
		p.Submit(srv.Task(fmt.Sprint(i)))
	}
	p.CloseQueue()
	if err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.Check(t)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("worker counts over time: %v", steps)
	return steps, buf.String(), done
}

// On a site whose latency stays flat, slow start doubles after each round
// of attempts, not each MinWindow (2 s by default): from 2 to 16 workers
// in four attempt times — before, it took three windows, 6 s.
func TestAdaptiveRampsFast(t *testing.T) {
	t.Parallel()
	// On a fake clock: rates measured in wall time are at the mercy of a
	// loaded machine; in the bubble, time moves only when every goroutine waits.
	synctest.Test(t, func(t *testing.T) {
		srv := &pooltest.Server{Latency: 50 * time.Millisecond}
		steps, log, _ := trace(t, srv, &pooltest.Factory{}, 600, pool.Adaptive{})
		// Two rounds at 2 workers (four attempts at least), one at 4 and at 8.
		want := []step{{50 * time.Millisecond * 2, 4}, {50 * time.Millisecond * 3, 8}, {50 * time.Millisecond * 4, 16}}
		if !slices.Equal(steps, want) {
			t.Errorf("worker counts over time: %v, want %v\n%s", steps, want, log)
		}
		if !strings.Contains(log, "reason=\"ramp:") {
			t.Errorf("the ramp is not logged with its reason:\n%s", log)
		}
	})
}

// When a round shows latency climbing instead of goodput, slow start stops
// doubling at once; the full window then finds no gain and steps back.
func TestAdaptiveRampWaitsWhenLatencyClimbs(t *testing.T) {
	t.Parallel()
	// On a fake clock: rates measured in wall time are at the mercy of a
	// loaded machine; in the bubble, time moves only when every goroutine waits.
	synctest.Test(t, func(t *testing.T) {
		// Beyond 4 requests at once, latency grows with the load.
		srv := &pooltest.Server{Capacity: 4, Latency: 50 * time.Millisecond}
		steps, log, _ := trace(t, srv, &pooltest.Factory{}, 600, pool.Adaptive{Start: 4})
		// The first round has nothing to compare with: it doubles.
		if len(steps) < 2 || steps[0] != (step{50 * time.Millisecond, 8}) {
			t.Fatalf("worker counts over time: %v, want 8 after the first round\n%s", steps, log)
		}
		if s := steps[1]; s.to != 4 || s.at-steps[0].at < 2*time.Second || !strings.Contains(log, "no gain") {
			t.Errorf("after 8: %v, want back to 4 after a full window (2 s) that found no gain\n%s", s, log)
		}
		for _, s := range steps {
			if s.to > 8 {
				t.Errorf("went to %d workers at %v\n%s", s.to, s.at, log)
			}
		}
	})
}

// Against a hard limit of requests at once, answered beyond it with an
// immediate 429 (a requeue after Retry-After), slow start overshoots once;
// the controller steps down by the workers refused, to the limit, and
// keeps off the counts above it for Cooldown instead of probing them one
// by one, each probe costing 429s.
func TestAdaptiveStopsAtHardLimit(t *testing.T) {
	t.Parallel()
	// On a fake clock: rates measured in wall time are at the mercy of a
	// loaded machine; in the bubble, time moves only when every goroutine waits.
	synctest.Test(t, func(t *testing.T) {
		const limit = 6
		srv := &pooltest.Server{Latency: 300 * time.Millisecond, Limit: limit, RefuseLatency: 20 * time.Millisecond, RetryAfter: time.Second}
		// A refused attempt's page is reset, as it is navigated to
		// about:blank in a browser.
		f := &pooltest.Factory{ResetLatency: 10 * time.Millisecond}
		steps, log, done := trace(t, srv, f, 600, pool.Adaptive{Start: 4})
		if done != 600 {
			t.Errorf("%d of 600 done", done)
		}
		want := []step{{300 * time.Millisecond, 8}, {350 * time.Millisecond, limit}}
		if !slices.Equal(steps, want) {
			t.Errorf("worker counts over time: %v, want %v\n%s", steps, want, log)
		}
		// One overshoot by two workers: refused twice each before the
		// controller decides (the third refusal), and once more in flight.
		// A refused worker that the pool does not retire (it retires idle
		// workers first, then the newest busy ones) is refused until a
		// retired worker's request ends: 300 ms at 30 ms a refusal.
		if _, refused := srv.Counts(); refused > 4+10 {
			t.Errorf("%d requests refused, want at most 14\n%s", refused, log)
		}
	})
}

// TestLiftingTheCapRestoresWorkers: a cap that shrank the pool, lifted or
// raised, gives back the workers it took — a fixed-size pool has no
// controller to grow it again.
func TestLiftingTheCapRestoresWorkers(t *testing.T) {
	t.Parallel()
	p, err := pool.New(pool.Config[*pooltest.Page]{Factory: &pooltest.Factory{}, Workers: 4, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	target := func(step string, want int) {
		t.Helper()
		if got := p.Stats().Target; got != want {
			t.Errorf("%s: target %d, want %d", step, got, want)
		}
	}
	p.SetMaxWorkers(1)
	target("capped at 1", 1)
	p.SetMaxWorkers(0)
	target("cap lifted", 4)
	p.SetMaxWorkers(2)
	p.SetWorkers(3)
	target("capped at 2, 3 asked for", 2)
	p.SetMaxWorkers(8)
	target("cap raised to 8", 3)
}
