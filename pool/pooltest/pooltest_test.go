package pooltest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/pagefleet/pagefleet/pool"
	"github.com/pagefleet/pagefleet/pool/pooltest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestScriptedSteps(t *testing.T) {
	errX := errors.New("x")
	f := &pooltest.Factory{Script: func(key string, call int) pooltest.Step {
		switch key {
		case "fail-then-ok":
			if call == 1 {
				return pooltest.Step{Err: errX}
			}
		case "permanent":
			return pooltest.Step{Err: errX, Permanent: true}
		case "slow":
			return pooltest.Step{Latency: time.Hour}
		case "hang":
			return pooltest.Step{Hang: true}
		case "panic":
			return pooltest.Step{Panic: "boom"}
		}
		return pooltest.Step{}
	}}
	ctx := t.Context()
	pg, err := f.New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := pg.Do(ctx, "fail-then-ok"); !errors.Is(err, errX) {
		t.Errorf("call 1: %v", err)
	}
	if err := pg.Do(ctx, "fail-then-ok"); err != nil {
		t.Errorf("call 2: %v", err)
	}
	var perm *backoff.PermanentError
	if err := pg.Do(ctx, "permanent"); !errors.As(err, &perm) || !errors.Is(err, errX) {
		t.Errorf("permanent: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	if err := pg.Do(short, "slow"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow: %v", err)
	}
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Errorf("panic: recovered %v", v)
			}
		}()
		pg.Do(ctx, "panic")
	}()
	if got := f.Calls("fail-then-ok"); got != 2 {
		t.Errorf("Calls = %d", got)
	}

	hung := make(chan error)
	cancelled, cancel2 := context.WithCancel(ctx)
	cancel2() // Hang ignores the context...
	go func() { hung <- pg.Do(cancelled, "hang") }()
	for f.Calls("hang") == 0 {
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-hung:
		t.Fatalf("hang returned before the page was closed: %v", err)
	case <-time.After(10 * time.Millisecond):
	}
	f.Close(pg) // ...and returns only when the page is closed.
	if err := <-hung; !errors.Is(err, pooltest.ErrPageClosed) {
		t.Errorf("hang: %v", err)
	}
	if len(f.Violations()) != 0 {
		t.Errorf("violations: %v", f.Violations())
	}
}

func TestRecordsViolations(t *testing.T) {
	f := &pooltest.Factory{Script: func(key string, call int) pooltest.Step {
		if key == "hang" {
			return pooltest.Step{Hang: true}
		}
		return pooltest.Step{}
	}}
	ctx := t.Context()
	pg, _ := f.New(ctx)
	leaked, _ := f.New(ctx)
	_ = leaked

	started := make(chan struct{})
	done := make(chan struct{})
	go func() {
		close(started)
		pg.Do(ctx, "hang")
		close(done)
	}()
	<-started
	for f.Calls("hang") == 0 { // wait until the hanging call has counted itself
		time.Sleep(time.Millisecond)
	}
	pg.Do(ctx, "second") // overlaps the hanging call
	f.Close(pg)
	<-done
	f.Close(pg)         // twice
	pg.Do(ctx, "after") // on a closed page
	f.Reset(ctx, pg)    // on a closed page

	want := []string{"used by 2 tasks", "closed twice", "ran on closed page", "Reset of closed page"}
	got := strings.Join(f.Violations(), "\n")
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("violations %q lack %q", got, w)
		}
	}
	if _, open, _, _ := f.Counts(); open != 1 {
		t.Errorf("open = %d, want the 1 leaked page", open)
	}
}

func TestFactoryFailures(t *testing.T) {
	f := &pooltest.Factory{
		NewErr:   func(n int) error { return map[bool]error{true: pooltest.ErrInjected}[n == 1] },
		ResetErr: func(*pooltest.Page) error { return pooltest.ErrInjected },
	}
	ctx := t.Context()
	if _, err := f.New(ctx); !errors.Is(err, pooltest.ErrInjected) {
		t.Errorf("New 1: %v", err)
	}
	pg, err := f.New(ctx)
	if err != nil {
		t.Fatalf("New 2: %v", err)
	}
	if err := f.Reset(ctx, pg); !errors.Is(err, pooltest.ErrInjected) {
		t.Errorf("Reset: %v", err)
	}
	f.Close(pg)
	f.Check(t)
}

// A hard limit refuses the request beyond it after RefuseLatency, with
// an error a pool requeues after RetryAfter; requests within the limit are
// served in Latency.
func TestServerLimit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := &pooltest.Server{Latency: time.Second, Limit: 2, RefuseLatency: 10 * time.Millisecond, RetryAfter: 3 * time.Second}
		ctx := t.Context()
		start := time.Now()
		errs := make(chan error, 2)
		for range 2 {
			go func() { errs <- srv.Do(ctx) }()
		}
		synctest.Wait() // both in flight
		err := srv.Do(ctx)
		var ra interface{ RetryAfter() time.Duration }
		if !errors.Is(err, pooltest.ErrOverloaded) || !pool.IsRequeue(err) || !errors.As(err, &ra) || ra.RetryAfter() != 3*time.Second {
			t.Errorf("third request: %v, want a requeued ErrOverloaded asking for 3s", err)
		}
		if d := time.Since(start); d != 10*time.Millisecond {
			t.Errorf("refused after %v, want 10ms", d)
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Errorf("request within the limit: %v", err)
			}
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("served after %v, want 1s", d)
		}
		if served, refused := srv.Counts(); served != 2 || refused != 1 {
			t.Errorf("served %d, refused %d; want 2, 1", served, refused)
		}
	})
}

// Reset takes ResetLatency, or until its context ends.
func TestResetLatency(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := &pooltest.Factory{ResetLatency: 10 * time.Millisecond}
		ctx := t.Context()
		pg, _ := f.New(ctx)
		start := time.Now()
		if err := f.Reset(ctx, pg); err != nil || time.Since(start) != 10*time.Millisecond {
			t.Errorf("Reset: %v after %v, want nil after 10ms", err, time.Since(start))
		}
		short, cancel := context.WithTimeout(ctx, time.Millisecond)
		defer cancel()
		if err := f.Reset(short, pg); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Reset past its context: %v", err)
		}
		f.Close(pg)
		f.Check(t)
	})
}
