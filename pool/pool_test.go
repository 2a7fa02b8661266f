package pool_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/pagefleet/pagefleet/pool"
	"github.com/pagefleet/pagefleet/pool/pooltest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var errFlaky = errors.New("flaky")

// noWait retries at once: tests that are not about backoff need no delays.
func noWait() backoff.BackOff { return &backoff.ZeroBackOff{} }

// run builds a pool over f, submits keys, closes the queue and runs it,
// returning the results by key. It fails t on duplicate results.
func run(t *testing.T, ctx context.Context, f *pooltest.Factory, cfg pool.Config[*pooltest.Page], keys ...string) (map[string]pool.Result, error) {
	t.Helper()
	results := make(map[string]pool.Result)
	cfg.Factory = f
	cfg.Logger = testLogger(t)
	if cfg.NewBackOff == nil {
		cfg.NewBackOff = noWait
	}
	cfg.OnResult = func(r pool.Result) {
		if _, dup := results[r.Key]; dup {
			t.Errorf("second result for %q", r.Key)
		}
		results[r.Key] = r
	}
	p, err := pool.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if err := p.Submit(f.Task(k)); err != nil {
			t.Fatal(err)
		}
	}
	p.CloseQueue()
	err = p.Run(ctx)
	f.Check(t)
	return results, err
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func keys(n int) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = fmt.Sprintf("k%04d", i)
	}
	return ks
}

func TestRunsEveryTaskOnReusedPages(t *testing.T) {
	t.Parallel()
	synctest.Test(t, testRunsEveryTaskOnReusedPages)
}

func testRunsEveryTaskOnReusedPages(t *testing.T) {
	f := &pooltest.Factory{Script: func(string, int) pooltest.Step {
		return pooltest.Step{Latency: time.Millisecond}
	}}
	res, err := run(t, t.Context(), f, pool.Config[*pooltest.Page]{Workers: 4}, keys(200)...)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 200 {
		t.Fatalf("got %d results, want 200", len(res))
	}
	for k, r := range res {
		if r.Err != nil || r.Attempts != 1 || r.Worker == 0 {
			t.Errorf("%s: %+v", k, r)
		}
	}
	if made, _, _, _ := f.Counts(); made != 4 {
		t.Errorf("made %d pages, want 4 (one per worker, reused)", made)
	}
	for _, pg := range f.Pages() {
		if pg.Tasks() < 10 {
			t.Errorf("page %d ran only %d tasks: load not spread", pg.ID, pg.Tasks())
		}
	}
}

func TestSubmitErrors(t *testing.T) {
	t.Parallel()
	f := &pooltest.Factory{}
	p, err := pool.New(pool.Config[*pooltest.Page]{Factory: f})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Submit(f.Task("a")); err != nil {
		t.Fatal(err)
	}
	if err := p.Submit(f.Task("a")); !errors.Is(err, pool.ErrDuplicateKey) {
		t.Errorf("duplicate key: got %v, want ErrDuplicateKey", err)
	}
	if err := p.Submit(pool.Task[*pooltest.Page]{Key: "no-run"}); err == nil {
		t.Error("task without Run accepted")
	}
	p.CloseQueue()
	if err := p.Submit(f.Task("b")); !errors.Is(err, pool.ErrClosed) {
		t.Errorf("after CloseQueue: got %v, want ErrClosed", err)
	}
	if err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := p.Run(t.Context()); err == nil {
		t.Error("second Run accepted")
	}
	f.Check(t)
}

func TestSubmitAfterRunReturnedIsClosed(t *testing.T) {
	t.Parallel()
	f := &pooltest.Factory{}
	p, _ := pool.New(pool.Config[*pooltest.Page]{Factory: f})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := p.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	if err := p.Submit(f.Task("late")); !errors.Is(err, pool.ErrClosed) {
		t.Errorf("got %v, want ErrClosed", err)
	}
	f.Check(t)
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	f := &pooltest.Factory{}
	for name, cfg := range map[string]pool.Config[*pooltest.Page]{
		"no factory":        {},
		"negative workers":  {Factory: f, Workers: -1},
		"stuck under limit": {Factory: f, AttemptTimeout: time.Minute, StuckAfter: time.Second},
	} {
		if _, err := pool.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := pool.New(pool.Config[*pooltest.Page]{Factory: f}); err != nil {
		t.Errorf("zero config: %v", err)
	}
}

func TestSubmitWhileRunning(t *testing.T) {
	t.Parallel()
	f := &pooltest.Factory{}
	var got []string
	p, _ := pool.New(pool.Config[*pooltest.Page]{Factory: f, Workers: 2,
		OnResult: func(r pool.Result) { got = append(got, r.Key) }})
	done := make(chan error)
	go func() { done <- p.Run(t.Context()) }()
	for _, k := range keys(50) {
		if err := p.Submit(f.Task(k)); err != nil {
			t.Fatal(err)
		}
	}
	p.CloseQueue()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(got) != 50 {
		t.Errorf("got %d results, want 50", len(got))
	}
	f.Check(t)
}

func TestAttemptTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, testAttemptTimeout)
}

func testAttemptTimeout(t *testing.T) {
	f := &pooltest.Factory{Script: func(string, int) pooltest.Step { return pooltest.Step{Latency: time.Hour} }}
	res, err := run(t, t.Context(), f, pool.Config[*pooltest.Page]{
		Workers: 1, AttemptTimeout: 20 * time.Millisecond, MaxAttempts: 2,
	}, "slow")
	if err != nil {
		t.Fatal(err)
	}
	r := res["slow"]
	if !errors.Is(r.Err, context.DeadlineExceeded) || r.Attempts != 2 {
		t.Errorf("got %+v, want DeadlineExceeded after 2 attempts", r)
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	failFirst := func(n int) func(string, int) pooltest.Step {
		return func(_ string, call int) pooltest.Step {
			if call <= n {
				return pooltest.Step{Err: errFlaky}
			}
			return pooltest.Step{}
		}
	}
	for _, tc := range []struct {
		name         string
		script       func(string, int) pooltest.Step
		cfg          pool.Config[*pooltest.Page]
		wantErr      error
		wantAttempts int
	}{
		{"succeeds on third", failFirst(2), pool.Config[*pooltest.Page]{}, nil, 3},
		{"gives up after three", failFirst(3), pool.Config[*pooltest.Page]{}, errFlaky, 3},
		{"MaxAttempts 1", failFirst(1), pool.Config[*pooltest.Page]{MaxAttempts: 1}, errFlaky, 1},
		{"permanent", func(string, int) pooltest.Step { return pooltest.Step{Err: errFlaky, Permanent: true} },
			pool.Config[*pooltest.Page]{}, errFlaky, 1},
		{"not retryable", failFirst(1), pool.Config[*pooltest.Page]{Retryable: func(err error) bool { return !errors.Is(err, errFlaky) }},
			errFlaky, 1},
		{"backoff says stop", failFirst(1), pool.Config[*pooltest.Page]{NewBackOff: func() backoff.BackOff { return &backoff.StopBackOff{} }},
			errFlaky, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &pooltest.Factory{Script: tc.script}
			res, err := run(t, t.Context(), f, tc.cfg, "k")
			if err != nil {
				t.Fatal(err)
			}
			r := res["k"]
			if !errors.Is(r.Err, tc.wantErr) || (tc.wantErr == nil) != (r.Err == nil) || r.Attempts != tc.wantAttempts {
				t.Errorf("got err=%v attempts=%d, want err=%v attempts=%d", r.Err, r.Attempts, tc.wantErr, tc.wantAttempts)
			}
			if r.Err != nil && !strings.Contains(r.Err.Error(), `task "k": giving up after`) {
				t.Errorf("error %q does not name the task and attempts", r.Err)
			}
		})
	}
}

// gate is a page script whose calls block until released, announcing each start.
type gate struct {
	started chan string
	release chan struct{}
}

func newGate() *gate { return &gate{started: make(chan string, 1000), release: make(chan struct{})} }

func (g *gate) task(key string, fn func() error) pool.Task[*pooltest.Page] {
	return pool.Task[*pooltest.Page]{Key: key, Run: func(ctx context.Context, _ *pooltest.Page) (any, error) {
		g.started <- key
		select {
		case <-g.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if fn != nil {
			return nil, fn()
		}
		return nil, nil
	}}
}

func TestWaitingRetryDoesNotHoldWorker(t *testing.T) {
	t.Parallel()
	synctest.Test(t, testWaitingRetryDoesNotHoldWorker)
}

func testWaitingRetryDoesNotHoldWorker(t *testing.T) {
	f := &pooltest.Factory{Script: func(key string, call int) pooltest.Step {
		if key == "flaky" {
			return pooltest.Step{Err: errFlaky}
		}
		return pooltest.Step{}
	}}
	results := make(chan pool.Result, 2)
	p, _ := pool.New(pool.Config[*pooltest.Page]{
		Factory: f, Workers: 1, GracePeriod: time.Millisecond,
		NewBackOff: func() backoff.BackOff { return backoff.NewConstantBackOff(time.Hour) },
		OnResult:   func(r pool.Result) { results <- r },
	})
	p.Submit(f.Task("flaky"))
	p.Submit(f.Task("other"))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()

	// "other" finishes on the only worker while "flaky" waits an hour.
	if r := <-results; r.Key != "other" || r.Err != nil {
		t.Fatalf("first result %+v, want other ok", r)
	}
	if s := p.Stats(); s.Waiting != 1 || s.Retries != 1 {
		t.Errorf("stats: waiting=%d retries=%d, want 1 and 1", s.Waiting, s.Retries)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v, want context.Canceled", err)
	}
	if r := <-results; r.Key != "flaky" || !errors.Is(r.Err, pool.ErrStopped) || !errors.Is(r.Err, context.Canceled) || r.Attempts != 1 {
		t.Errorf("waiting task's result %+v, want ErrStopped (canceled) after 1 attempt", r)
	}
	f.Check(t)
}

func TestResetAndRecycle(t *testing.T) {
	t.Parallel()
	failOnce := func(key string, call int) pooltest.Step {
		if key == "a" && call == 1 {
			return pooltest.Step{Err: errFlaky}
		}
		return pooltest.Step{}
	}
	t.Run("reset keeps the page", func(t *testing.T) {
		t.Parallel()
		f := &pooltest.Factory{Script: failOnce}
		res, _ := run(t, t.Context(), f, pool.Config[*pooltest.Page]{Workers: 1}, "a")
		made, _, _, resets := f.Counts()
		if res["a"].Err != nil || made != 1 || resets != 1 {
			t.Errorf("err=%v made=%d resets=%d, want nil, 1 page, 1 reset", res["a"].Err, made, resets)
		}
	})
	t.Run("failed reset replaces the page", func(t *testing.T) {
		t.Parallel()
		f := &pooltest.Factory{Script: failOnce, ResetErr: func(*pooltest.Page) error { return pooltest.ErrInjected }}
		res, _ := run(t, t.Context(), f, pool.Config[*pooltest.Page]{Workers: 1}, "a", "b")
		made, _, _, _ := f.Counts()
		if res["a"].Err != nil || res["b"].Err != nil || made != 2 {
			t.Errorf("a=%v b=%v made=%d, want both ok on 2 pages", res["a"].Err, res["b"].Err, made)
		}
	})
	t.Run("RecycleAfter", func(t *testing.T) {
		t.Parallel()
		f := &pooltest.Factory{}
		res, _ := run(t, t.Context(), f, pool.Config[*pooltest.Page]{Workers: 1, RecycleAfter: 5}, keys(20)...)
		made, _, _, _ := f.Counts()
		if len(res) != 20 || made != 4 {
			t.Errorf("results=%d pages=%d, want 20 results on 4 pages of 5 tasks", len(res), made)
		}
		for _, pg := range f.Pages() {
			if pg.Tasks() != 5 {
				t.Errorf("page %d ran %d tasks, want 5", pg.ID, pg.Tasks())
			}
		}
	})
}

// countingBackOff counts how often the pool asks it for a delay.
type countingBackOff struct{ n atomic.Int32 }

func (b *countingBackOff) NextBackOff() time.Duration { b.n.Add(1); return time.Millisecond }
func (b *countingBackOff) Reset()                     {}

func TestFactoryFailures(t *testing.T) {
	t.Parallel()
	t.Run("keeps failing: backs off, then Run fails", func(t *testing.T) {
		t.Parallel()
		f := &pooltest.Factory{NewErr: func(int) error { return pooltest.ErrInjected }}
		b := &countingBackOff{}
		res, err := run(t, t.Context(), f, pool.Config[*pooltest.Page]{
			Workers: 1, PageAttempts: 4, NewBackOff: func() backoff.BackOff { return b },
		}, "a")
		if !errors.Is(err, pooltest.ErrInjected) || !strings.Contains(err.Error(), "could not make a page (4 attempt(s))") {
			t.Errorf("Run: %v", err)
		}
		if _, _, news, _ := f.Counts(); news != 4 || b.n.Load() != 4 {
			t.Errorf("New called %d times with %d backoffs, want 4 and 4", news, b.n.Load())
		}
		if !errors.Is(res["a"].Err, pool.ErrStopped) {
			t.Errorf("task result %v, want ErrStopped", res["a"].Err)
		}
	})
	t.Run("recovers", func(t *testing.T) {
		t.Parallel()
		f := &pooltest.Factory{NewErr: func(n int) error {
			if n <= 2 {
				return pooltest.ErrInjected
			}
			return nil
		}}
		res, err := run(t, t.Context(), f, pool.Config[*pooltest.Page]{Workers: 1}, "a")
		if err != nil || res["a"].Err != nil {
			t.Errorf("Run: %v, task: %v", err, res["a"].Err)
		}
	})
	t.Run("an outage does not count", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			f := &pooltest.Factory{NewErr: func(n int) error {
				if n <= 10 {
					return pool.Requeue(outageErr{}) // the login is down: no page for an hour of the fake clock
				}
				return nil
			}}
			start := time.Now()
			res, err := run(t, t.Context(), f, pool.Config[*pooltest.Page]{Workers: 1, PageAttempts: 2}, "a")
			if err != nil || res["a"].Err != nil {
				t.Errorf("Run: %v, task: %v; want the page made after the outage", err, res["a"].Err)
			}
			if took := time.Since(start); took < 10*time.Minute {
				t.Errorf("made after %v; each try should wait the outage's minute", took)
			}
		})
	})
	t.Run("permanent stops at once", func(t *testing.T) {
		t.Parallel()
		f := &pooltest.Factory{NewErr: func(int) error { return backoff.Permanent(pooltest.ErrInjected) }}
		_, err := run(t, t.Context(), f, pool.Config[*pooltest.Page]{Workers: 3}, "a")
		if !errors.Is(err, pooltest.ErrInjected) {
			t.Errorf("Run: %v", err)
		}
		if _, _, news, _ := f.Counts(); news > 3 {
			t.Errorf("New called %d times, want at most one per worker", news)
		}
	})
}

// On a fake clock: with real time, a loaded machine made an ordinary 1 ms
// attempt look stuck after 60 ms.
func TestWatchdogRescuesHungAttempt(t *testing.T) {
	t.Parallel()
	synctest.Test(t, testWatchdogRescuesHungAttempt)
}

func testWatchdogRescuesHungAttempt(t *testing.T) {
	f := &pooltest.Factory{Script: func(key string, call int) pooltest.Step {
		if key == "hang" && call == 1 {
			return pooltest.Step{Hang: true} // ignores its context until the page is closed
		}
		return pooltest.Step{Latency: time.Millisecond}
	}}
	const workers = 2
	var maxLive atomic.Int32
	var p *pool.PagePool[*pooltest.Page]
	cfg := pool.Config[*pooltest.Page]{
		Workers: workers, AttemptTimeout: 20 * time.Millisecond, StuckAfter: 60 * time.Millisecond,
		WatchdogInterval: 5 * time.Millisecond,
		OnAttempt: func(pool.Attempt) {
			if n := int32(len(p.Stats().Workers)); n > maxLive.Load() {
				maxLive.Store(n)
			}
		},
	}
	cfg.Factory, cfg.NewBackOff, cfg.Logger = f, noWait, testLogger(t)
	results := map[string]pool.Result{}
	cfg.OnResult = func(r pool.Result) { results[r.Key] = r }
	p, _ = pool.New(cfg)
	p.Submit(f.Task("hang"))
	for _, k := range keys(20) {
		p.Submit(f.Task(k))
	}
	p.CloseQueue()
	if err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := results["hang"]
	if r.Err != nil || r.Attempts != 2 {
		t.Errorf("hung task: %+v, want success on attempt 2", r)
	}
	s := p.Stats()
	if s.Rescued != 1 || s.Done != 21 {
		t.Errorf("stats %+v, want 1 rescue, 21 done", s)
	}
	if f.Pages()[0].Closed() == false {
		t.Error("the hung attempt's page was not closed")
	}
	if made, _, _, _ := f.Counts(); made != workers+1 {
		t.Errorf("made %d pages, want %d (one replacement)", made, workers+1)
	}
	if maxLive.Load() > workers {
		t.Errorf("saw %d live workers, want at most %d", maxLive.Load(), workers)
	}
	f.Check(t)
}

func TestLateReturnOfRescuedAttemptIsIgnored(t *testing.T) {
	t.Parallel()
	synctest.Test(t, testLateReturnOfRescuedAttemptIsIgnored)
}

func testLateReturnOfRescuedAttemptIsIgnored(t *testing.T) {
	f := &pooltest.Factory{}
	var calls atomic.Int32
	task := pool.Task[*pooltest.Page]{Key: "late", Run: func(ctx context.Context, pg *pooltest.Page) (any, error) {
		if calls.Add(1) == 1 {
			for !pg.Closed() { // ignore ctx; "succeed" only after the watchdog gave up on us
				time.Sleep(time.Millisecond)
			}
			return nil, nil
		}
		return nil, backoff.Permanent(errFlaky)
	}}
	var results []pool.Result
	p, _ := pool.New(pool.Config[*pooltest.Page]{
		Factory: f, Workers: 1, NewBackOff: noWait, Logger: testLogger(t),
		AttemptTimeout: 10 * time.Millisecond, StuckAfter: 30 * time.Millisecond, WatchdogInterval: 5 * time.Millisecond,
		OnResult: func(r pool.Result) { results = append(results, r) },
	})
	p.Submit(task)
	p.CloseQueue()
	if err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || !errors.Is(results[0].Err, errFlaky) || results[0].Attempts != 2 {
		t.Errorf("results %+v, want one failure (errFlaky, 2 attempts): the late success must not count", results)
	}
	f.Check(t)
}

func TestPanicIsAFailedAttempt(t *testing.T) {
	t.Parallel()
	f := &pooltest.Factory{Script: func(key string, call int) pooltest.Step {
		if key == "always" || call == 1 {
			return pooltest.Step{Panic: "boom"}
		}
		return pooltest.Step{}
	}}
	res, err := run(t, t.Context(), f, pool.Config[*pooltest.Page]{Workers: 1}, "once", "always", "after")
	if err != nil {
		t.Fatal(err)
	}
	if r := res["once"]; r.Err != nil || r.Attempts != 2 {
		t.Errorf("once: %+v", r)
	}
	var pe *pool.PanicError
	if r := res["always"]; !errors.As(r.Err, &pe) || pe.Value != "boom" || !strings.Contains(string(pe.Stack), "pooltest.(*Page).do") {
		t.Errorf("always: %v, want a PanicError with the stack", r.Err)
	}
	if r := res["after"]; r.Err != nil && r.Attempts > 2 {
		t.Errorf("worker did not go on after panics: %+v", r)
	}
}

func TestRequeueIsNotCharged(t *testing.T) {
	t.Parallel()
	loggedOut := errors.New("logged out")
	f := &pooltest.Factory{Script: func(key string, call int) pooltest.Step {
		if call <= 2 || key == "always" {
			return pooltest.Step{Err: pool.Requeue(loggedOut)}
		}
		return pooltest.Step{}
	}}
	// A requeue past MaxRequeues is charged but not backed off: waiting
	// would let a short-lived session expire again before the retry.
	b := &countingBackOff{}
	counting := func() backoff.BackOff { return b }
	res, err := run(t, t.Context(), f, pool.Config[*pooltest.Page]{Workers: 2, MaxRequeues: 2, NewBackOff: counting}, "twice", "always")
	if err != nil {
		t.Fatal(err)
	}
	if r := res["twice"]; r.Err != nil || r.Attempts != 1 || r.Requeues != 2 {
		t.Errorf("twice: %+v, want success with 1 attempt, 2 requeues", r)
	}
	if r := res["always"]; !errors.Is(r.Err, loggedOut) || r.Attempts != 3 || r.Requeues != 2 {
		t.Errorf("always: %+v, want failure after 2 requeues and 3 charged attempts", r)
	}
	if n := b.n.Load(); n != 0 {
		t.Errorf("%d backoffs asked for, want none", n)
	}
	// Every failure resets the page, requeued ones too (that is how a page
	// of a crashed browser gets replaced): 2 + (2 requeues + 3 charged).
	if _, _, _, resets := f.Counts(); resets != 7 {
		t.Errorf("%d resets, want 7", resets)
	}
}

// outageErr is a site's outage that its caller bounds (see pool.Requeue).
type outageErr struct{}

func (outageErr) Error() string             { return "the login page is down" }
func (outageErr) Outage() bool              { return true }
func (outageErr) RetryAfter() time.Duration { return time.Minute }

// TestOutageRequeuesAreNotCounted: a task that meets a site's outage more
// often than MaxRequeues allows is still not charged, and waits what the
// outage asks each time; the limit still holds for other requeues. On a
// fake clock: the waits are an hour of it.
func TestOutageRequeuesAreNotCounted(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		loggedOut := errors.New("logged out")
		f := &pooltest.Factory{Script: func(key string, call int) pooltest.Step {
			switch {
			case call <= 60:
				return pooltest.Step{Err: pool.Requeue(fmt.Errorf("re-login: %w", outageErr{}))}
			case call <= 62 || key == "then logged out":
				return pooltest.Step{Err: pool.Requeue(loggedOut)}
			}
			return pooltest.Step{}
		}}
		start := time.Now()
		res, err := run(t, t.Context(), f, pool.Config[*pooltest.Page]{Workers: 2, MaxAttempts: 1, MaxRequeues: 2}, "outage", "then logged out")
		if err != nil {
			t.Fatal(err)
		}
		if r := res["outage"]; r.Err != nil || r.Attempts != 1 || r.Requeues != 62 {
			t.Errorf("outage: %+v, want success at the first attempt after 60 + 2 requeues", r)
		}
		if r := res["then logged out"]; !errors.Is(r.Err, loggedOut) || r.Attempts != 1 || r.Requeues != 62 {
			t.Errorf("then logged out: %+v, want the 60 outage requeues free and the 2 others the limit", r)
		}
		if took := time.Since(start); took < time.Hour {
			t.Errorf("the run took %v; each outage requeue should wait its minute", took)
		}
	})
}

func TestAbortStopsThePool(t *testing.T) {
	t.Parallel()
	badCreds := errors.New("credentials refused")
	g := newGate()
	f := &pooltest.Factory{}
	results := map[string]pool.Result{}
	p, _ := pool.New(pool.Config[*pooltest.Page]{Factory: f, Workers: 1,
		OnResult: func(r pool.Result) { results[r.Key] = r }})
	p.Submit(pool.Task[*pooltest.Page]{Key: "abort", Run: func(context.Context, *pooltest.Page) (any, error) { return nil, pool.Abort(badCreds) }})
	p.Submit(g.task("never", nil))
	err := p.Run(t.Context())
	if !errors.Is(err, badCreds) || !pool.IsAbort(err) {
		t.Errorf("Run: %v, want the abort cause", err)
	}
	if !errors.Is(results["abort"].Err, badCreds) || !errors.Is(results["never"].Err, pool.ErrStopped) {
		t.Errorf("results: %+v", results)
	}
	// The abort is the run's, not the item's: the item is stopped, not
	// given up, and the attempt is not charged.
	if r := results["abort"]; !errors.Is(r.Err, pool.ErrStopped) || r.Attempts != 0 {
		t.Errorf("the aborting item: %d attempt(s), %v; want 0, stopped", r.Attempts, r.Err)
	}
	f.Check(t)
}

// TestRequeueWhileStoppingIsNotCharged: a requeue (say, logged out) that
// comes while the pool stops ends the item as stopped, uncharged — not as
// a charged attempt that gives the item up on its last one.
func TestRequeueWhileStoppingIsNotCharged(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var res pool.Result
		p, _ := pool.New(pool.Config[*pooltest.Page]{Factory: &pooltest.Factory{}, Workers: 1, MaxAttempts: 3, GracePeriod: time.Minute,
			OnResult: func(r pool.Result) { res = r }})
		p.Submit(pool.Task[*pooltest.Page]{Key: "a", Prior: 2, Run: func(context.Context, *pooltest.Page) (any, error) {
			<-release
			return nil, pool.Requeue(errors.New("logged out"))
		}})
		p.CloseQueue()
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		synctest.Wait() // the attempt runs
		cancel()
		synctest.Wait() // the pool stops, giving it its grace period
		close(release)
		<-done
		if !errors.Is(res.Err, pool.ErrStopped) || res.Attempts != 2 {
			t.Errorf("result: %d attempt(s), %v; want 2 (the prior ones), stopped", res.Attempts, res.Err)
		}
	})
}

// TestExactlyOnceUnderLoad: 1,000 tasks, 64 workers, pseudo-random failures.
// Each key gets exactly one Result, and it is the one its script implies.
func TestExactlyOnceUnderLoad(t *testing.T) {
	t.Parallel()
	fails := func(key string, call int) bool {
		h := fnv.New32a()
		fmt.Fprintf(h, "%s/%d", key, call)
		return h.Sum32()%3 == 0
	}
	f := &pooltest.Factory{Script: func(key string, call int) pooltest.Step {
		if fails(key, call) {
			return pooltest.Step{Err: errFlaky}
		}
		return pooltest.Step{}
	}}
	var unlocked int // written by OnResult without a lock: -race checks it's one goroutine
	cfg := pool.Config[*pooltest.Page]{Workers: 64, OnAttempt: func(pool.Attempt) { unlocked++ }}
	ks := keys(1000)
	res, err := run(t, t.Context(), f, cfg, ks...)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(ks) {
		t.Fatalf("%d results, want %d", len(res), len(ks))
	}
	attempts := 0
	for _, k := range ks {
		want := 3
		for c := 1; c <= 3; c++ {
			if !fails(k, c) {
				want = c
				break
			}
		}
		r := res[k]
		attempts += r.Attempts
		if r.Attempts != want || (r.Err == nil) == fails(k, want) {
			t.Errorf("%s: %+v, want %d attempt(s)", k, r, want)
		}
	}
	if unlocked != attempts {
		t.Errorf("OnAttempt called %d times, want %d", unlocked, attempts)
	}
}

func TestShutdownMidRun(t *testing.T) {
	t.Parallel()
	synctest.Test(t, testShutdownMidRun)
}

func testShutdownMidRun(t *testing.T) {
	f := &pooltest.Factory{Script: func(string, int) pooltest.Step { return pooltest.Step{Latency: 2 * time.Millisecond} }}
	ctx, cancel := context.WithCancel(t.Context())
	var n int
	cfg := pool.Config[*pooltest.Page]{Workers: 8}
	cfg.OnAttempt = func(pool.Attempt) {
		if n++; n == 20 {
			cancel()
		}
	}
	res, err := run(t, ctx, f, cfg, keys(500)...)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v, want context.Canceled", err)
	}
	var done, stopped int
	for _, r := range res {
		switch {
		case r.Err == nil:
			done++
		case errors.Is(r.Err, pool.ErrStopped):
			stopped++
		default:
			t.Errorf("%s: %v", r.Key, r.Err)
		}
	}
	if len(res) != 500 || done < 20 || stopped == 0 {
		t.Errorf("results=%d done=%d stopped=%d", len(res), done, stopped)
	}
	// f.Check (in run) has verified every page is closed; goleak checks goroutines.
}

func TestShutdownClosesPagesOfAttemptsIgnoringContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, testShutdownClosesPagesOfAttemptsIgnoringContext)
}

func testShutdownClosesPagesOfAttemptsIgnoringContext(t *testing.T) {
	f := &pooltest.Factory{Script: func(string, int) pooltest.Step { return pooltest.Step{Hang: true} }}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var started atomic.Int32
	cfg := pool.Config[*pooltest.Page]{Workers: 4, GracePeriod: 20 * time.Millisecond}
	cfg.Factory, cfg.NewBackOff, cfg.Logger = f, noWait, testLogger(t)
	results := map[string]pool.Result{}
	cfg.OnResult = func(r pool.Result) { results[r.Key] = r }
	p, _ := pool.New(cfg)
	for _, k := range keys(10) {
		k := k
		p.Submit(pool.Task[*pooltest.Page]{Key: k, Run: func(ctx context.Context, pg *pooltest.Page) (any, error) {
			if started.Add(1) == 4 {
				cancel()
			}
			return nil, pg.Do(ctx, k)
		}})
	}
	p.CloseQueue()
	if err := p.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	if len(results) != 10 {
		t.Errorf("%d results, want 10", len(results))
	}
	for k, r := range results {
		if !errors.Is(r.Err, pool.ErrStopped) {
			t.Errorf("%s: %v, want ErrStopped", k, r.Err)
		}
	}
	f.Check(t)
}

func TestSetWorkers(t *testing.T) {
	t.Parallel()
	g := newGate()
	f := &pooltest.Factory{}
	var running, maxAfterShrink atomic.Int32
	var shrunk atomic.Bool
	p, _ := pool.New(pool.Config[*pooltest.Page]{Factory: f, Workers: 2, Logger: testLogger(t)})
	for _, k := range keys(30) {
		gated := g.task(k, nil)
		p.Submit(pool.Task[*pooltest.Page]{Key: k, Run: func(ctx context.Context, pg *pooltest.Page) (any, error) {
			if shrunk.Load() { // started after the shrink: count how many run at once
				if n := running.Add(1); n > maxAfterShrink.Load() {
					maxAfterShrink.Store(n)
				}
				defer running.Add(-1)
			}
			return gated.Run(ctx, pg)
		}})
	}
	p.CloseQueue()
	done := make(chan error)
	go func() { done <- p.Run(t.Context()) }()
	<-g.started
	<-g.started
	p.SetWorkers(6)
	for range 4 {
		<-g.started // four more workers started tasks: six run at once
	}
	if s := p.Stats(); s.Running != 6 || s.Target != 6 {
		t.Errorf("after growing: running=%d target=%d, want 6", s.Running, s.Target)
	}
	shrunk.Store(true)
	p.SetWorkers(1)
	s := p.Stats()
	retiring := 0
	for _, w := range s.Workers {
		if w.Retiring {
			retiring++
		}
	}
	if s.Running != 6 || retiring != 5 {
		t.Errorf("after shrinking: running=%d retiring=%d, want busy workers to finish (6) and 5 retiring", s.Running, retiring)
	}
	close(g.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.Done != 30 {
		t.Errorf("done=%d, want 30", s.Done)
	}
	if m := maxAfterShrink.Load(); m != 1 {
		t.Errorf("after shrinking to 1, %d tasks ran at once", m)
	}
	if made, _, _, _ := f.Counts(); made != 6 {
		t.Errorf("made %d pages, want 6", made)
	}
	f.Check(t)
}

func TestStatsWhileRunning(t *testing.T) {
	t.Parallel()
	g := newGate()
	f := &pooltest.Factory{}
	p, _ := pool.New(pool.Config[*pooltest.Page]{Factory: f, Workers: 3, Logger: testLogger(t)})
	for _, k := range keys(10) {
		p.Submit(g.task(k, nil))
	}
	p.CloseQueue()
	done := make(chan error)
	go func() { done <- p.Run(t.Context()) }()
	running := map[string]bool{}
	for range 3 {
		running[<-g.started] = true
	}
	s := p.Stats()
	if s.Running != 3 || s.Queued != 7 || len(s.Workers) != 3 || s.Target != 3 {
		t.Errorf("stats %+v, want 3 running, 7 queued", s)
	}
	for _, w := range s.Workers {
		if w.State != pool.Running || !running[w.Key] || w.Since.IsZero() {
			t.Errorf("worker %+v", w)
		}
	}
	close(g.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.Done != 10 || s.Throughput() <= 0 {
		t.Errorf("final stats %+v", s)
	}
	f.Check(t)
}

// TestNoPageRunsTwoTasks checks exclusivity under contention, with failures
// and resets in the mix (pooltest records any overlap as a violation).
func TestNoPageRunsTwoTasks(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	n := 0
	f := &pooltest.Factory{Script: func(string, int) pooltest.Step {
		mu.Lock()
		defer mu.Unlock()
		if n++; n%5 == 0 {
			return pooltest.Step{Err: errFlaky}
		}
		return pooltest.Step{Latency: 100 * time.Microsecond}
	}}
	res, err := run(t, t.Context(), f, pool.Config[*pooltest.Page]{Workers: 16, MaxAttempts: 10}, keys(400)...)
	if err != nil || len(res) != 400 {
		t.Fatalf("Run: %v, %d results", err, len(res))
	}
}

func TestResultCarriesValueAndAttemptsAddUp(t *testing.T) {
	t.Parallel()
	f := &pooltest.Factory{Script: func(key string, call int) pooltest.Step {
		if key == "flaky" && call == 1 {
			return pooltest.Step{Err: errFlaky}
		}
		return pooltest.Step{Value: key + ".pdf"}
	}}
	results := map[string]pool.Result{}
	p, _ := pool.New(pool.Config[*pooltest.Page]{Factory: f, Workers: 2, MaxAttempts: 3, NewBackOff: noWait, Logger: testLogger(t),
		OnResult: func(r pool.Result) { results[r.Key] = r }})
	for _, k := range []string{"fresh", "flaky"} {
		task := f.Task(k)
		task.Prior = 1 // one attempt made by an earlier run
		p.Submit(task)
	}
	p.CloseQueue()
	if err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r := results["fresh"]; r.Err != nil || r.Value != "fresh.pdf" || r.Attempts != 2 {
		t.Errorf("fresh: %+v, want value fresh.pdf after 1+1 attempts", r)
	}
	if r := results["flaky"]; r.Err != nil || r.Value != "flaky.pdf" || r.Attempts != 3 {
		t.Errorf("flaky: %+v, want value flaky.pdf after 1+2 attempts", r)
	}
	if err := p.Submit(pool.Task[*pooltest.Page]{Key: "neg", Prior: -1, Run: f.Task("neg").Run}); err == nil {
		t.Error("Submit accepted a negative Prior")
	}
}

func TestPriorAttemptsLeaveOneTry(t *testing.T) {
	t.Parallel()
	f := &pooltest.Factory{Script: func(string, int) pooltest.Step { return pooltest.Step{Err: errFlaky} }}
	results := map[string]pool.Result{}
	p, _ := pool.New(pool.Config[*pooltest.Page]{Factory: f, Workers: 1, MaxAttempts: 3, NewBackOff: noWait, Logger: testLogger(t),
		OnResult: func(r pool.Result) { results[r.Key] = r }})
	task := f.Task("spent")
	task.Prior = 5 // more than MaxAttempts already
	p.Submit(task)
	p.CloseQueue()
	if err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r := results["spent"]; !errors.Is(r.Err, errFlaky) || r.Attempts != 6 || f.Calls("spent") != 1 {
		t.Errorf("spent: %+v after %d calls, want one more try, then given up", r, f.Calls("spent"))
	}
}

// TestAttemptInContext: a task and OnStart see the attempt's number; a
// requeued attempt is marked as such and the next one carries the same
// number; OnAttempt sees every attempt.
func TestAttemptInContext(t *testing.T) {
	t.Parallel()
	loggedOut := errors.New("logged out")
	var seen []pool.Attempt // from the task, in order (one worker)
	var started []pool.Attempt
	var ended []pool.Attempt
	calls := 0
	task := pool.Task[*pooltest.Page]{Key: "k", Prior: 2, Run: func(ctx context.Context, _ *pooltest.Page) (any, error) {
		a, ok := pool.AttemptFrom(ctx)
		if !ok {
			t.Error("no attempt in the task's context")
		}
		seen = append(seen, a)
		switch calls++; calls {
		case 1:
			return nil, pool.Requeue(loggedOut)
		case 2:
			return nil, errFlaky
		}
		return "ok", nil
	}}
	p, _ := pool.New(pool.Config[*pooltest.Page]{Factory: &pooltest.Factory{}, Workers: 1, MaxAttempts: 5, NewBackOff: noWait, Logger: testLogger(t),
		OnStart:   func(ctx context.Context, a pool.Attempt) error { started = append(started, a); return nil },
		OnAttempt: func(a pool.Attempt) { ended = append(ended, a) },
	})
	p.Submit(task)
	p.CloseQueue()
	if err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, ok := pool.AttemptFrom(t.Context()); ok {
		t.Error("AttemptFrom found an attempt in a plain context")
	}
	var nums, reqs []int
	for _, a := range seen {
		nums, reqs = append(nums, a.Number), append(reqs, a.Requeues)
	}
	if fmt.Sprint(nums) != "[3 3 4]" || fmt.Sprint(reqs) != "[0 1 1]" {
		t.Errorf("task saw numbers %v requeues %v, want [3 3 4] [0 1 1]", nums, reqs)
	}
	if len(started) != 3 || started[2].Number != 4 || started[2].Started != seen[2].Started {
		t.Errorf("OnStart saw %+v", started)
	}
	if len(ended) != 3 || !ended[0].Requeued || ended[1].Requeued || ended[1].Final || !ended[2].Final || ended[0].Started != seen[0].Started {
		t.Errorf("OnAttempt saw %+v", ended)
	}
}

func TestOnStartErrorFailsTheAttempt(t *testing.T) {
	t.Parallel()
	f := &pooltest.Factory{}
	storeDown := errors.New("store down")
	n := 0
	res, err := run(t, t.Context(), f, pool.Config[*pooltest.Page]{Workers: 1, MaxAttempts: 3,
		OnStart: func(ctx context.Context, a pool.Attempt) error {
			if n++; n == 1 {
				return storeDown
			}
			return nil
		}}, "k")
	if err != nil {
		t.Fatal(err)
	}
	if r := res["k"]; r.Err != nil || r.Attempts != 2 || f.Calls("k") != 1 {
		t.Errorf("%+v after %d calls: want the first attempt failed without running, the second done", r, f.Calls("k"))
	}
}

// TestLateOnStartFailsTheAttempt: an OnStart that returns after the
// attempt's deadline (a slow store) fails the attempt without running its
// task, whose page the watchdog may be closing.
func TestLateOnStartFailsTheAttempt(t *testing.T) {
	t.Parallel()
	synctest.Test(t, testLateOnStartFailsTheAttempt)
}

func testLateOnStartFailsTheAttempt(t *testing.T) {
	f := &pooltest.Factory{}
	var late []bool // by attempt: did OnStart return after the deadline?
	res, err := run(t, t.Context(), f, pool.Config[*pooltest.Page]{Workers: 1, MaxAttempts: 3, AttemptTimeout: 100 * time.Millisecond,
		OnStart: func(ctx context.Context, a pool.Attempt) error {
			if len(late) == 0 {
				<-ctx.Done()
			}
			late = append(late, ctx.Err() != nil)
			return nil
		}}, "k")
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, l := range late {
		if !l {
			ran++
		}
	}
	if r := res["k"]; r.Attempts != len(late) || f.Calls("k") != ran || !late[0] {
		t.Errorf("%+v after %d calls, OnStart late %v: want the tasks of late attempts not run", r, f.Calls("k"), late)
	}
}

// TestStoppedAttemptIsNotCharged: an attempt a shutdown cuts short is the
// shutdown's doing, not the task's: its Result keeps the attempts before.
func TestStoppedAttemptIsNotCharged(t *testing.T) {
	t.Parallel()
	synctest.Test(t, testStoppedAttemptIsNotCharged)
}

func testStoppedAttemptIsNotCharged(t *testing.T) {
	g := newGate()
	results := map[string]pool.Result{}
	ctx, cancel := context.WithCancel(t.Context())
	p, _ := pool.New(pool.Config[*pooltest.Page]{Factory: &pooltest.Factory{}, Workers: 1, GracePeriod: time.Millisecond, Logger: testLogger(t),
		OnResult: func(r pool.Result) { results[r.Key] = r }})
	task := g.task("k", nil)
	task.Prior = 2
	p.Submit(task)
	p.CloseQueue()
	go func() { <-g.started; cancel() }()
	if err := p.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	if r := results["k"]; !errors.Is(r.Err, pool.ErrStopped) || r.Attempts != 2 {
		t.Errorf("%+v, want ErrStopped with the 2 prior attempts only", r)
	}
}

// TestRunDoesNotWaitForeverForAnAbandonedLoop: an attempt that spins in a
// CPU loop, deaf to its context and its page, can't be stopped; Run leaves
// it running after a grace period instead of hanging, and says so.
func TestRunDoesNotWaitForeverForAnAbandonedLoop(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	looping := make(chan struct{})
	spin := pool.Task[*pooltest.Page]{Key: "spin", Run: func(ctx context.Context, _ *pooltest.Page) (any, error) {
		close(looping)
		for {
			select {
			case <-release: // only the test can end it
				return nil, nil
			default:
				runtime.Gosched()
			}
		}
	}}
	var logs bytes.Buffer
	var mu sync.Mutex
	results := map[string]pool.Result{}
	p, _ := pool.New(pool.Config[*pooltest.Page]{Factory: &pooltest.Factory{}, Workers: 1, MaxAttempts: 1,
		AttemptTimeout: 10 * time.Millisecond, StuckAfter: 20 * time.Millisecond, WatchdogInterval: 5 * time.Millisecond,
		GracePeriod: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&syncWriter{w: &logs, mu: &mu}, nil)),
		OnResult: func(r pool.Result) { results[r.Key] = r }})
	p.Submit(spin)
	p.CloseQueue()
	if err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	<-looping
	if r := results["spin"]; !errors.Is(r.Err, pool.ErrStuck) {
		t.Errorf("spin: %+v, want ErrStuck", r)
	}
	if s := p.Stats(); s.Adrift != 1 {
		t.Errorf("Stats.Adrift = %d, want 1", s.Adrift)
	}
	mu.Lock()
	if !strings.Contains(logs.String(), "did not return") {
		t.Errorf("nothing logged about the abandoned attempt:\n%s", logs.String())
	}
	mu.Unlock()
	close(release) // let it go, for goleak
	for p.Stats().Adrift != 0 {
		runtime.Gosched()
	}
}

// TestExclusiveRunsAlone: an Exclusive task's attempt starts only when no
// other runs, and nothing starts beside it.
func TestExclusiveRunsAlone(t *testing.T) {
	t.Parallel()
	synctest.Test(t, testExclusiveRunsAlone)
}

func testExclusiveRunsAlone(t *testing.T) {
	var mu sync.Mutex
	running, exclusive := 0, false
	var bad []string
	task := func(key string, excl bool) pool.Task[*pooltest.Page] {
		return pool.Task[*pooltest.Page]{Key: key, Exclusive: excl, Run: func(ctx context.Context, _ *pooltest.Page) (any, error) {
			mu.Lock()
			running++
			if running > 1 && (excl || exclusive) {
				bad = append(bad, fmt.Sprintf("%s started with %d running (an exclusive one among them: %v)", key, running, excl || exclusive))
			}
			if excl {
				exclusive = true
			}
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			running--
			if excl {
				exclusive = false
			}
			mu.Unlock()
			return nil, nil
		}}
	}
	p, _ := pool.New(pool.Config[*pooltest.Page]{Factory: &pooltest.Factory{}, Workers: 4, Logger: testLogger(t)})
	for i := range 60 {
		p.Submit(task(fmt.Sprint("k", i), i%10 == 3))
	}
	p.CloseQueue()
	if err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.Done != 60 {
		t.Errorf("stats %+v", s)
	}
	for _, b := range bad {
		t.Error(b)
	}
}

// TestHurryEndsTheGracePeriod: a stopping pool lets running attempts go on
// for the grace period — unless it is hurried.
func TestHurryEndsTheGracePeriod(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		started := make(chan struct{}, 2)
		results := map[string]pool.Result{}
		p, _ := pool.New(pool.Config[*pooltest.Page]{Factory: &pooltest.Factory{}, Workers: 2, GracePeriod: time.Minute, Logger: testLogger(t),
			OnResult: func(r pool.Result) { results[r.Key] = r }})
		for _, k := range []string{"a", "b"} {
			p.Submit(pool.Task[*pooltest.Page]{Key: k, Run: func(ctx context.Context, _ *pooltest.Page) (any, error) {
				started <- struct{}{}
				select {
				case <-time.After(time.Hour):
					return nil, nil
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}})
		}
		p.CloseQueue()
		done := make(chan error)
		go func() { done <- p.Run(ctx) }()
		<-started
		<-started
		p.Hurry() // not stopping yet: nothing happens
		synctest.Wait()
		cancel()
		time.Sleep(30 * time.Second) // within the grace period: still running
		if s := p.Stats(); s.Running != 2 {
			t.Errorf("%d running in the grace period, want 2", s.Running)
		}
		start := time.Now()
		p.Hurry()
		<-done
		if d := time.Since(start); d != 0 {
			t.Errorf("Run returned %v after Hurry, want at once (fake clock)", d)
		}
		if r := results["a"]; !errors.Is(r.Err, pool.ErrStopped) || r.Attempts != 0 {
			t.Errorf("a: %+v", r)
		}
	})
}

// slowDown is a site's "429, retry after" as a requeue asks for it.
type slowDown struct{ after time.Duration }

func (e slowDown) Error() string             { return "429 Too Many Requests" }
func (e slowDown) RetryAfter() time.Duration { return e.after }

// TestRequeueAfter: a requeue that asks to wait runs again after that
// long, uncharged, and its worker serves other tasks meanwhile.
func TestRequeueAfter(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var mu sync.Mutex
		ran := map[string][]time.Duration{}
		p, _ := pool.New(pool.Config[*pooltest.Page]{Factory: &pooltest.Factory{}, Workers: 1, Logger: testLogger(t),
			OnResult: func(r pool.Result) {
				if r.Err != nil || r.Attempts != 1 || r.Requeues != btoi(r.Key == "limited") {
					t.Errorf("%+v, want success in one charged attempt", r)
				}
			}})
		for _, k := range []string{"limited", "other"} {
			p.Submit(pool.Task[*pooltest.Page]{Key: k, Run: func(ctx context.Context, _ *pooltest.Page) (any, error) {
				mu.Lock()
				defer mu.Unlock()
				ran[k] = append(ran[k], time.Since(start))
				if k == "limited" && len(ran[k]) == 1 {
					return nil, pool.Requeue(fmt.Errorf("fetching: %w", slowDown{3 * time.Second}))
				}
				return nil, nil
			}})
		}
		p.CloseQueue()
		if err := p.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		if l, o := ran["limited"], ran["other"]; len(l) != 2 || l[1] != 3*time.Second || len(o) != 1 || o[0] != 0 {
			t.Errorf("limited ran at %v, other at %v: want other at once, limited again 3 s later", l, o)
		}
	})
}

// TestRequeueAfterPastMaxRequeues: a requeue that is charged because the
// task used up its uncharged ones still waits as long as the site asked.
func TestRequeueAfterPastMaxRequeues(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var ran []time.Duration
		p, _ := pool.New(pool.Config[*pooltest.Page]{Factory: &pooltest.Factory{}, Workers: 1, MaxRequeues: 1, MaxAttempts: 2, Logger: testLogger(t)})
		p.Submit(pool.Task[*pooltest.Page]{Key: "limited", Run: func(ctx context.Context, _ *pooltest.Page) (any, error) {
			ran = append(ran, time.Since(start))
			return nil, pool.Requeue(fmt.Errorf("fetching: %w", slowDown{3 * time.Second}))
		}})
		p.CloseQueue()
		if err := p.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		if want := []time.Duration{0, 3 * time.Second, 6 * time.Second}; !slices.Equal(ran, want) {
			t.Errorf("ran at %v, want %v: 3 s apart, as the site asked, charged or not", ran, want)
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestHurryClosesHungPagesSoon: attempts that ignore their context (a
// driver call that never returns) have their pages closed half a grace
// period after Hurry, as its doc says — not after the whole grace period
// and half another.
func TestHurryClosesHungPagesSoon(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		f := &pooltest.Factory{Script: func(string, int) pooltest.Step { return pooltest.Step{Hang: true} }}
		var attempts []pool.Attempt
		p, _ := pool.New(pool.Config[*pooltest.Page]{Factory: f, Workers: 2, GracePeriod: time.Minute, Logger: testLogger(t),
			OnAttempt: func(a pool.Attempt) { attempts = append(attempts, a) }})
		for _, k := range []string{"a", "b"} {
			p.Submit(f.Task(k))
		}
		p.CloseQueue()
		done := make(chan error)
		go func() { done <- p.Run(ctx) }()
		synctest.Wait()
		cancel()
		time.Sleep(10 * time.Second)
		start := time.Now()
		p.Hurry()
		p.Hurry() // a third Ctrl-C: no panic
		<-done
		if d := time.Since(start); d != 30*time.Second {
			t.Errorf("Run returned %v after Hurry, want 30s: half the grace period (fake clock)", d)
		}
		for _, a := range attempts {
			if !a.Final || !errors.Is(a.Err, pool.ErrStopped) || a.Number != 1 || a.Duration != 40*time.Second {
				t.Errorf("attempt %+v, want final, stopped, the first, 40s long", a)
			}
		}
		if len(attempts) != 2 {
			t.Errorf("OnAttempt saw %d attempts of the 2 cut short", len(attempts))
		}
		f.Check(t)
	})
}
