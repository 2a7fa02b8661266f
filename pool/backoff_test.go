package pool_test

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pagefleet/pagefleet/pool"
	"github.com/pagefleet/pagefleet/pool/pooltest"
)

// retryWaits runs ok tasks then one that always fails, each taking 50 ms,
// on one worker with the default retry policy, and returns the waits
// between the failing task's attempts.
func retryWaits(t *testing.T, ok, prior int) []time.Duration {
	f := &pooltest.Factory{Script: func(key string, _ int) pooltest.Step {
		if key == "flaky" {
			return pooltest.Step{Latency: 50 * time.Millisecond, Err: errFlaky}
		}
		return pooltest.Step{Latency: 50 * time.Millisecond}
	}}
	var mu sync.Mutex
	var attempts []pool.Attempt
	p, err := pool.New(pool.Config[*pooltest.Page]{Factory: f, Workers: 1, MaxAttempts: 5, Logger: testLogger(t),
		OnAttempt: func(a pool.Attempt) {
			mu.Lock()
			defer mu.Unlock()
			if a.Key == "flaky" {
				attempts = append(attempts, a)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys(ok) {
		if err := p.Submit(f.Task(k)); err != nil {
			t.Fatal(err)
		}
	}
	flaky := f.Task("flaky")
	flaky.Prior = prior
	if err := p.Submit(flaky); err != nil {
		t.Fatal(err)
	}
	p.CloseQueue()
	if err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.Check(t)
	if len(attempts) != 5-prior {
		t.Fatalf("%d attempts of the failing task, want %d", len(attempts), 5-prior)
	}
	var waits []time.Duration
	for i := 1; i < len(attempts); i++ {
		prev := attempts[i-1]
		waits = append(waits, attempts[i].Started.Sub(prev.Started.Add(prev.Duration)))
	}
	return waits
}

func sum(ds []time.Duration) (s time.Duration) {
	for _, d := range ds {
		s += d
	}
	return s
}

// A one-off error on a fast site is retried within a few attempt durations
// (a second would be the whole run waiting at its end), yet an item that
// keeps failing is given up no sooner than with waits of 1, 2, 4 and 8 s.
func TestRetryWaitFollowsThePace(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		waits := retryWaits(t, 10, 0)
		t.Logf("waits after 10 successes of 50 ms: %v", waits)
		if waits[0] > 300*time.Millisecond {
			t.Errorf("first retry after %v, want 4 × 50 ms ± 50 %%", waits[0])
		}
		if s := sum(waits); s < 7500*time.Millisecond || s > 22500*time.Millisecond {
			t.Errorf("the waits add up to %v, want the 15 s of 1+2+4+8 s ± 50 %%", s)
		}
	})
}

// Until an attempt has succeeded there is no pace to go by.
func TestRetryWaitBeforeAnySuccess(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		waits := retryWaits(t, 0, 0)
		if waits[0] < 500*time.Millisecond || waits[0] > 1500*time.Millisecond {
			t.Errorf("first retry after %v, want 1 s ± 50 %%", waits[0])
		}
	})
}

// A task resumed with attempts of earlier runs has fewer retries left:
// their waits still add up to those of 1 s doubling — its only retry
// waits a second, not a few attempt durations.
func TestRetryWaitOfAResumedTask(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		if waits := retryWaits(t, 10, 3); waits[0] < 500*time.Millisecond {
			t.Errorf("the only retry left waits %v, want 1 s ± 50 %%", waits[0])
		}
		if s := sum(retryWaits(t, 10, 2)); s < 1500*time.Millisecond {
			t.Errorf("the two retries left wait %v in all, want the 3 s of 1+2 s ± 50 %%", s)
		}
	})
}
