package download_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/checkpoint/postgres"
	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/pool"
	"github.com/pagefleet/pagefleet/pool/pooltest"
)

// trackedRun plans keys on store and runs them through a Tracked pool of
// fake pages whose tasks run task.
func trackedRun(t testing.TB, ctx context.Context, store checkpoint.Store, opts checkpoint.TrackerOptions, keys []string,
	task func(ctx context.Context, key string) (any, error)) (checkpoint.Plan, error) {
	tr, err := checkpoint.NewTracker(store, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close(context.Background())
	plan, err := tr.Plan(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	cfg := pool.Config[*pooltest.Page]{Factory: &pooltest.Factory{}, Workers: 3, Logger: opts.Logger,
		NewBackOff: func() backoff.BackOff { return &backoff.ZeroBackOff{} }}
	p, err := download.NewTracked(cfg, tr)
	if err != nil {
		t.Fatal(err)
	}
	err = p.Run(ctx, plan.Keys(), func(ctx context.Context, _ *pooltest.Page, key string) (any, error) { return task(ctx, key) })
	return plan, err
}

// TestTrack: a pool's attempts and results become the tracker's records —
// Done with the saved file, Failed, Pending for what a shutdown stopped —
// and attempts add up across runs.
func TestTrack(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store := checkpoint.NewMemory()
	opts := checkpoint.TrackerOptions{MaxAttempts: 3, Logger: slog.New(slog.DiscardHandler)}
	save := func(key string) (any, error) {
		path := filepath.Join(dir, key)
		if err := os.WriteFile(path, []byte(key), 0o644); err != nil {
			return nil, err
		}
		size, sum, err := checkpoint.HashFile(path)
		return download.File{Path: path, Size: size, SHA256: sum}, err
	}
	var mu sync.Mutex // the workers run tasks at once
	calls := map[string]int{}
	ctx := t.Context()
	_, err := trackedRun(t, ctx, store, opts, []string{"ok", "flaky", "bad", "gone"}, func(ctx context.Context, key string) (any, error) {
		a, _ := pool.AttemptFrom(ctx)
		if r, err := store.Get(ctx, key); err != nil || r.State != checkpoint.Running || r.Attempts != a.Number {
			t.Errorf("%s: record during attempt %d: %+v, %v; want Running", key, a.Number, r, err)
		}
		mu.Lock()
		calls[key]++
		call := calls[key]
		mu.Unlock()
		switch {
		case key == "flaky" && call == 1:
			return nil, errors.New("HTTP 500")
		case key == "bad":
			return nil, errors.New("always broken")
		case key == "gone":
			return nil, backoff.Permanent(errors.New("HTTP 404"))
		}
		return save(key)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		state    checkpoint.State
		attempts int
	}{"ok": {checkpoint.Done, 1}, "flaky": {checkpoint.Done, 2}, "bad": {checkpoint.Failed, 3}, "gone": {checkpoint.Failed, 1}}
	for key, w := range want {
		r, err := store.Get(ctx, key)
		if err != nil || r.State != w.state || r.Attempts != w.attempts {
			t.Errorf("%s: %+v, %v; want %s after %d attempts", key, r, err, w.state, w.attempts)
		}
		if w.state == checkpoint.Done && checkpoint.VerifyFile(r) != nil {
			t.Errorf("%s: the Done record does not describe its file: %+v", key, r)
		}
	}

	// A run stopped mid-attempt: the attempt is not charged, the item is
	// Pending, and the next run carries on from the attempts made before.
	started := make(chan struct{})
	sctx, cancel := context.WithCancel(ctx)
	go func() { <-started; cancel() }()
	_, err = trackedRun(t, sctx, store, opts, []string{"slow"}, func(ctx context.Context, key string) (any, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped run: %v", err)
	}
	if r, _ := store.Get(ctx, "slow"); r.State != checkpoint.Pending || r.Attempts != 0 {
		t.Errorf("slow after a stop: %+v; want Pending, no attempt charged", r)
	}
	plan, err := trackedRun(t, ctx, store, opts, []string{"ok", "flaky", "bad", "gone", "slow"}, func(ctx context.Context, key string) (any, error) {
		return save(key)
	})
	if err != nil || fmt.Sprint(plan.Keys()) != "[slow]" {
		t.Errorf("rerun planned %v (%v); want only slow: done and given-up items stay", plan.Keys(), err)
	}
	if r, _ := store.Get(ctx, "slow"); r.State != checkpoint.Done || r.Attempts != 1 {
		t.Errorf("slow after the rerun: %+v", r)
	}
}

// TestTrackSlowRecord: an attempt whose Running record is not written
// before the attempt's deadline fails like an attempt that timed out, and
// is retried; the run goes on — a slow store is not a store that can't be
// written.
func TestTrackSlowRecord(t *testing.T) {
	t.Parallel()
	store := &slowStore{Memory: checkpoint.NewMemory(), slow: map[string]bool{"a": true}}
	defer store.Close()
	tr, err := checkpoint.NewTracker(store, checkpoint.TrackerOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close(context.Background())
	cfg := pool.Config[*pooltest.Page]{Factory: &pooltest.Factory{}, Workers: 2, AttemptTimeout: 50 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler), NewBackOff: func() backoff.BackOff { return &backoff.ZeroBackOff{} }}
	p, err := download.NewTracked(cfg, tr)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	runs := map[string]int{}
	err = p.Run(t.Context(), []string{"a", "b"}, func(ctx context.Context, _ *pooltest.Page, key string) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		runs[key]++
		return download.File{Path: "/out/" + key, Size: 1, SHA256: "00"}, nil
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for key, want := range map[string]int{"a": 2, "b": 1} {
		if r, err := store.Get(t.Context(), key); err != nil || r.State != checkpoint.Done || r.Attempts != want || runs[key] != 1 {
			t.Errorf("%s: %+v, %v, run %d time(s); want Done after %d attempt(s), run once", key, r, err, runs[key], want)
		}
	}
}

// slowStore is a Memory whose leases' first Running record of each slow key
// is never written: the Put waits for its context to end.
type slowStore struct {
	*checkpoint.Memory
	mu   sync.Mutex
	slow map[string]bool
}

func (s *slowStore) ClaimBatch(ctx context.Context, keys []string, owner string, n int, ttl time.Duration) ([]checkpoint.Lease, error) {
	ls, err := s.Memory.ClaimBatch(ctx, keys, owner, n, ttl)
	for i, l := range ls {
		ls[i] = slowLease{l, s}
	}
	return ls, err
}

type slowLease struct {
	checkpoint.Lease
	s *slowStore
}

func (l slowLease) Put(ctx context.Context, r checkpoint.Record) error {
	l.s.mu.Lock()
	slow := l.s.slow[l.Key()] && r.State == checkpoint.Running
	delete(l.s.slow, l.Key())
	l.s.mu.Unlock()
	if slow {
		<-ctx.Done()
		return ctx.Err()
	}
	return l.Lease.Put(ctx, r)
}

// The poison pill, through a real pool: a task that kills the process in
// every run (os.Exit) is given up after MaxCrashes runs, and the rest of the
// job finishes — for the File and the PostgreSQL store alike.
const (
	poisonChildEnv = "PAGEFLEET_DOWNLOAD_POISON_CHILD" // store kind of the child run
	poisonWhereEnv = "PAGEFLEET_DOWNLOAD_POISON_WHERE" // its journal, or its PostgreSQL table
)

func TestTrackPoisonPill(t *testing.T) {
	if kind := os.Getenv(poisonChildEnv); kind != "" {
		poisonRun(t, kind, os.Getenv(poisonWhereEnv))
		return
	}
	t.Parallel()
	for _, kind := range []string{"file", "postgres", "postgres-quick"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			where := filepath.Join(t.TempDir(), "cp.jsonl")
			if kind != "file" {
				pgDSN(t)
				where = fmt.Sprintf("poison_%d", time.Now().UnixNano())
			}
			var codes []int
			for run := 1; run <= 4; run++ {
				cmd := exec.Command(os.Args[0], "-test.run=^TestTrackPoisonPill$")
				cmd.Env = append(os.Environ(), poisonChildEnv+"="+kind, poisonWhereEnv+"="+where)
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				err := cmd.Run()
				code := 0
				if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
					code = ee.ExitCode()
				} else if err != nil {
					t.Fatal(err)
				}
				t.Logf("run %d: exit %d\n%s", run, code, out.String())
				codes = append(codes, code)
			}
			// Two runs die at POISON; the third gives it up and finishes; the
			// fourth has nothing left. With QuickStart, a run that dies
			// before the attempt's record is stored leaves no crash on
			// record — the next takes POISON for a suspect and records its
			// start first: one more run may die.
			if !slices.Equal(codes, []int{3, 3, 0, 0}) && (kind != "postgres-quick" || !slices.Equal(codes, []int{3, 3, 3, 0})) {
				t.Fatalf("exit codes %v, want [3 3 0 0]", codes)
			}
			store := openPoisonStore(t, kind, where)
			defer store.Close()
			for r, err := range store.All(t.Context()) {
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case r.Key == "POISON":
					if r.State != checkpoint.Failed || r.Crashes != 2 || !strings.HasPrefix(r.Err, checkpoint.ErrPoison.Error()) {
						t.Errorf("POISON: %+v; want given up as a poison pill", r)
					}
				case r.State != checkpoint.Done:
					t.Errorf("%s: %+v; want Done", r.Key, r)
				}
			}
		})
	}
}

func pgDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("PAGEFLEET_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("PAGEFLEET_SKIP_POSTGRES_TESTS") == "1" {
			t.Skip("PAGEFLEET_SKIP_POSTGRES_TESTS=1")
		}
		t.Fatal(`PAGEFLEET_TEST_POSTGRES is not set: run eval "$(scripts/postgres)" (scripts/test does), or set PAGEFLEET_SKIP_POSTGRES_TESTS=1`)
	}
	return dsn
}

func openPoisonStore(t testing.TB, kind, where string) checkpoint.Store {
	t.Helper()
	var st checkpoint.Store
	var err error
	if kind == "file" {
		st, err = checkpoint.Open(where, checkpoint.Options{})
	} else {
		st, err = postgres.Open(context.Background(), pgDSN(t), postgres.Options{Table: where})
	}
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// poisonRun is one run of the job, in a child process.
func poisonRun(t *testing.T, kind, where string) {
	store := openPoisonStore(t, kind, where)
	defer store.Close()
	keys := []string{"A", "B", "POISON", "C", "D"}
	opts := checkpoint.TrackerOptions{LeaseTTL: time.Second, PollInterval: 50 * time.Millisecond, QuickStart: kind == "postgres-quick",
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	dir := t.TempDir()
	_, err := trackedRun(t, t.Context(), store, opts, keys, func(ctx context.Context, key string) (any, error) {
		if key == "POISON" {
			os.Exit(3) // in the middle of the attempt, as a crash would
		}
		path := filepath.Join(dir, key)
		os.WriteFile(path, []byte(key), 0o644)
		size, sum, err := checkpoint.HashFile(path)
		return download.File{Path: path, Size: size, SHA256: sum}, err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTrackedReturnsAfterAnAbort: once the pool aborts, Run returns at once,
// even while another owner holds a key Feed would otherwise keep asking about.
func TestTrackedReturnsAfterAnAbort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := checkpoint.NewMemory()
		if _, err := store.Claim(t.Context(), "b", "other", time.Hour); err != nil {
			t.Fatal(err)
		}
		tr, err := checkpoint.NewTracker(store, checkpoint.TrackerOptions{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close(context.Background())
		p, err := download.NewTracked(pool.Config[*pooltest.Page]{Factory: &pooltest.Factory{}, Workers: 1, Logger: slog.New(slog.DiscardHandler)}, tr)
		if err != nil {
			t.Fatal(err)
		}
		refused := errors.New("credentials refused")
		done := make(chan error, 1)
		go func() {
			done <- p.Run(t.Context(), []string{"a", "b"}, func(context.Context, *pooltest.Page, string) (any, error) {
				return nil, pool.Abort(refused)
			})
		}()
		synctest.Wait()
		select {
		case err := <-done:
			if !errors.Is(err, refused) {
				t.Errorf("Run: %v, want the abort's cause", err)
			}
		default:
			t.Fatal("Run still waits for a Feed polling a key another owner holds, after the pool aborted")
		}
	})
}

// TestTrackedWantsAFile: a task that succeeds without returning the File it
// saved is recorded as failed (ErrNoFile), not as done with no file — such a
// record would be trusted by every later run. A *File is taken as the File.
func TestTrackedWantsAFile(t *testing.T) {
	store := checkpoint.NewMemory()
	tr, err := checkpoint.NewTracker(store, checkpoint.TrackerOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close(context.Background())
	results := map[string]error{}
	p, err := download.NewTracked(pool.Config[*pooltest.Page]{Factory: &pooltest.Factory{}, Workers: 1, Logger: slog.New(slog.DiscardHandler),
		OnResult: func(r pool.Result) { results[r.Key] = r.Err }}, tr)
	if err != nil {
		t.Fatal(err)
	}
	err = p.Run(t.Context(), []string{"nil", "pointer", "zero"}, func(_ context.Context, _ *pooltest.Page, key string) (any, error) {
		switch key {
		case "pointer":
			return &download.File{Path: "/out/pointer.pdf", Size: 10, SHA256: "ab"}, nil
		case "zero":
			return download.File{}, nil // before: the tracker refused it, and the run stopped
		}
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := store.Get(t.Context(), "nil"); r.State != checkpoint.Failed || !errors.Is(results["nil"], download.ErrNoFile) {
		t.Errorf("a task with no File: record %s, result %v; want failed, ErrNoFile", r.State, results["nil"])
	}
	if r, _ := store.Get(t.Context(), "zero"); r.State != checkpoint.Failed || !errors.Is(results["zero"], download.ErrNoFile) {
		t.Errorf("a task with a zero File: record %s, result %v; want failed, ErrNoFile", r.State, results["zero"])
	}
	if r, _ := store.Get(t.Context(), "pointer"); r.State != checkpoint.Done || r.SHA256 != "ab" || results["pointer"] != nil {
		t.Errorf("a task with a *File: record %s %q, result %v; want done with its hash", r.State, r.SHA256, results["pointer"])
	}
}

// TestTrackedReportsItemsFinishedAtTheClaim: an item the tracker finishes
// when it claims it — a file a dead run saved, adopted; an item whose
// attempts are used up; a poison pill — is never worked on, yet OnResult
// hears of it, so a report accounts for every item (they were "not
// finished" in jdrun's summary).
func TestTrackedReportsItemsFinishedAtTheClaim(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	saved := filepath.Join(dir, "saved.pdf")
	if err := os.WriteFile(saved, []byte("%PDF-1.4 saved"), 0o644); err != nil {
		t.Fatal(err)
	}
	size, sum, err := checkpoint.HashFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	store := checkpoint.NewMemory()
	for _, r := range []checkpoint.Record{
		{Key: "saved", State: checkpoint.Running, Attempts: 1, Owner: "dead"},
		{Key: "used-up", State: checkpoint.Pending, Attempts: 3, Err: "HTTP 500"},
		{Key: "poison", State: checkpoint.Running, Attempts: 1, Crashes: 1, Owner: "dead"},
	} {
		if err := store.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := checkpoint.NewTracker(store, checkpoint.TrackerOptions{MaxAttempts: 3, MaxCrashes: 2, Logger: slog.New(slog.DiscardHandler),
		Adopt: func(_ context.Context, key string) (checkpoint.Record, bool) {
			return checkpoint.Record{Path: saved, Size: size, SHA256: sum}, key == "saved"
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close(context.Background())
	results := map[string]pool.Result{}
	p, err := download.NewTracked(pool.Config[*pooltest.Page]{Factory: &pooltest.Factory{}, Logger: slog.New(slog.DiscardHandler),
		OnResult: func(r pool.Result) { results[r.Key] = r }}, tr)
	if err != nil {
		t.Fatal(err)
	}
	var worked []string
	var mu sync.Mutex
	err = p.Run(ctx, []string{"saved", "used-up", "poison", "fresh"}, func(_ context.Context, _ *pooltest.Page, key string) (any, error) {
		mu.Lock()
		worked = append(worked, key)
		mu.Unlock()
		return download.File{Path: saved, Size: size, SHA256: sum}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(worked) != "[fresh]" {
		t.Errorf("worked on %v, want only fresh", worked)
	}
	if r := results["saved"]; r.Err != nil || r.Value != (download.File{Path: saved, Size: size, SHA256: sum}) || r.Attempts != 1 {
		t.Errorf("saved: %+v, want done with the adopted file after 1 attempt", r)
	}
	if r := results["used-up"]; !errors.Is(r.Err, checkpoint.ErrGivenUp) || r.Attempts != 3 {
		t.Errorf("used-up: %+v, want given up after 3 attempts", r)
	}
	if r := results["poison"]; !errors.Is(r.Err, checkpoint.ErrPoison) {
		t.Errorf("poison: %+v, want a poison pill", r)
	}
	if r := results["fresh"]; r.Err != nil || len(results) != 4 {
		t.Errorf("results %v, want all 4, fresh done", results)
	}
}

// TestTrackedRunFrom: RunFrom works on a batch as soon as it arrives —
// the first batch is done before the second is sent — returns once the
// channel is closed and every item is done, and returns when its context
// ends while the channel is still open.
func TestTrackedRunFrom(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := t.Context()
	store := checkpoint.NewMemory()
	tr, err := checkpoint.NewTracker(store, checkpoint.TrackerOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close(context.Background())
	results := make(chan pool.Result, 10)
	cfg := pool.Config[*pooltest.Page]{Factory: &pooltest.Factory{}, Workers: 2, Logger: slog.New(slog.DiscardHandler),
		OnResult: func(r pool.Result) { results <- r }}
	p, err := download.NewTracked(cfg, tr)
	if err != nil {
		t.Fatal(err)
	}
	in := make(chan []string)
	ran := make(chan error, 1)
	go func() {
		ran <- p.RunFrom(ctx, in, func(ctx context.Context, _ *pooltest.Page, key string) (any, error) {
			path := filepath.Join(dir, key)
			if err := os.WriteFile(path, []byte(key), 0o644); err != nil {
				return nil, err
			}
			size, sum, err := checkpoint.HashFile(path)
			return download.File{Path: path, Size: size, SHA256: sum}, err
		})
	}()
	for _, batch := range [][]string{{"a", "b", "c"}, {"d"}} {
		in <- batch
		for range batch {
			if r := <-results; r.Err != nil {
				t.Errorf("%s: %v", r.Key, r.Err)
			}
		}
	}
	close(in)
	if err := <-ran; err != nil {
		t.Fatalf("RunFrom: %v", err)
	}
	for _, k := range []string{"a", "b", "c", "d"} {
		if r, err := store.Get(ctx, k); err != nil || r.State != checkpoint.Done {
			t.Errorf("%s: %+v, %v; want Done", k, r, err)
		}
	}

	// A run whose keys never stop coming ends with its context.
	tr2, err := checkpoint.NewTracker(checkpoint.NewMemory(), checkpoint.TrackerOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer tr2.Close(context.Background())
	cfg.OnResult = nil
	p2, err := download.NewTracked(cfg, tr2)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	err = p2.RunFrom(cctx, make(chan []string), func(context.Context, *pooltest.Page, string) (any, error) { return nil, nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("RunFrom past its deadline with keys still to come: %v; want DeadlineExceeded", err)
	}
}

// TestRunFromAfterTheFeedFails: once the tracker's feed has failed (here
// at a key given twice), RunFrom still reads the sender's batches until it
// returns, and drops them: a sender blocked on a send could not go on to
// what the items under way wait for — the end of a listing, say
// (download.IDs.Await) — and they waited out their attempt timeout.
func TestRunFromAfterTheFeedFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr, err := checkpoint.NewTracker(checkpoint.NewMemory(), checkpoint.TrackerOptions{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close(context.Background())
		results := make(chan pool.Result, 10)
		p, err := download.NewTracked(pool.Config[*pooltest.Page]{Factory: &pooltest.Factory{}, Workers: 1, AttemptTimeout: time.Minute,
			Logger: slog.New(slog.DiscardHandler), OnResult: func(r pool.Result) { results <- r }}, tr)
		if err != nil {
			t.Fatal(err)
		}
		keys, started, listed := make(chan []string), make(chan struct{}, 1), make(chan struct{})
		sending, stop := context.WithCancel(t.Context()) // cancelled once RunFrom returns, as its doc asks
		go func() {
			defer close(keys)
			for i, batch := range [][]string{{"a"}, {"a"}, {"b"}} {
				select {
				case keys <- batch:
				case <-sending.Done():
					return
				}
				if i == 0 {
					<-started // "a" is under way, waiting for the listing
				}
			}
			close(listed)
		}()
		dir := t.TempDir()
		err = p.RunFrom(t.Context(), keys, func(ctx context.Context, _ *pooltest.Page, key string) (any, error) {
			select {
			case started <- struct{}{}:
			default:
			}
			select {
			case <-listed:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			path := filepath.Join(dir, key)
			if err := os.WriteFile(path, []byte(key), 0o644); err != nil {
				return nil, err
			}
			size, sum, err := checkpoint.HashFile(path)
			return download.File{Path: path, Size: size, SHA256: sum}, err
		})
		stop()
		if err == nil {
			t.Error("RunFrom: nil; want the feed's error about the key given twice")
		}
		if r := <-results; r.Key != "a" || r.Err != nil || r.Attempts != 1 {
			t.Errorf("%s: %d attempt(s), %v; want it done at its first attempt", r.Key, r.Attempts, r.Err)
		}
	})
}
