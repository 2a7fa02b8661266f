package checkpoint_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/checkpoint/checkpointtest"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newTracker(t testing.TB, s checkpoint.Store, opts checkpoint.TrackerOptions) *checkpoint.Tracker {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	tr, err := checkpoint.NewTracker(s, opts)
	if err != nil {
		t.Fatalf("NewTracker: %v", err)
	}
	t.Cleanup(func() { tr.Close(ctx) })
	return tr
}

// savedFile writes a file for key in dir, as a download would, and
// returns what Done takes.
func savedFile(t testing.TB, dir, key string) checkpoint.SavedFile {
	path := filepath.Join(dir, key+".pdf")
	if err := os.WriteFile(path, []byte("%PDF-1.7 "+key), 0o600); err != nil {
		t.Error(err)
	}
	size, sum, err := checkpoint.HashFile(path)
	if err != nil {
		t.Error(err)
	}
	return checkpoint.SavedFile{Path: path, Size: size, SHA256: sum}
}

func getRecord(t testing.TB, s checkpoint.Store, key string) checkpoint.Record {
	t.Helper()
	r, err := s.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	return r
}

func wantStats(t testing.TB, tr *checkpoint.Tracker, want checkpoint.TrackerStats) {
	t.Helper()
	if got := tr.Stats(); got != want {
		t.Errorf("Stats:\n got %+v\nwant %+v", got, want)
	}
}

// scripted is a scheduler that plays the attempts at each key from a
// script, one letter per attempt, across claims and runs: 'd' done, 'r'
// failed and retried, 'f' failed for good, 's' stopped by a shutdown.
type scripted struct {
	t   *testing.T
	tr  *checkpoint.Tracker
	dir string
	wg  sync.WaitGroup

	mu     sync.Mutex
	script map[string]string
	starts map[string][]time.Time // each attempt's start, by key
	n      int
}

func newScripted(t *testing.T, script map[string]string) *scripted {
	return &scripted{t: t, dir: t.TempDir(), script: script, starts: map[string][]time.Time{}}
}

func (s *scripted) submit(c checkpoint.Claim) error {
	s.wg.Go(func() { s.work(c) })
	return nil
}

func (s *scripted) next(key string) (byte, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.script[key]
	if sc == "" {
		s.t.Errorf("%s: claimed with no attempt left in its script", key)
		sc = "f"
	}
	s.script[key] = sc[1:]
	s.n++
	at := t0.Add(time.Duration(s.n) * time.Second)
	s.starts[key] = append(s.starts[key], at)
	return sc[0], at
}

func (s *scripted) start(key string, i int) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.starts[key][i]
}

func (s *scripted) work(c checkpoint.Claim) {
	for attempt := c.Attempts + 1; ; attempt++ {
		step, started := s.next(c.Key)
		if err := s.tr.Begin(ctx, c.Key, attempt, started); err != nil {
			s.t.Errorf("%s: Begin %d: %v", c.Key, attempt, err)
			return
		}
		var err error
		switch step {
		case 'd':
			err = s.tr.Done(ctx, c.Key, attempt, savedFile(s.t, s.dir, c.Key))
		case 'r':
			if err = s.tr.Retry(ctx, c.Key, started, attempt, errors.New("timeout")); err == nil {
				continue
			}
		case 'f':
			err = s.tr.Fail(ctx, c.Key, attempt, errors.New("HTTP 404"))
		case 's':
			err = s.tr.Stop(ctx, c.Key, attempt-1)
		}
		if err != nil {
			s.t.Errorf("%s: attempt %d (%c): %v", c.Key, attempt, step, err)
		}
		return
	}
}

// TestTrackerCycle runs a job through the tracker on every store: a first
// run with items that finish, are retried, fail and are stopped; a plain
// rerun with nothing to do; and a rerun that retries what was given up.
func TestTrackerCycle(t *testing.T) {
	t.Parallel()
	for _, env := range storeEnvs {
		t.Run(env.name, func(t *testing.T) {
			t.Parallel()
			next := env.runs(t)
			var items []string
			for i := range 10 {
				items = append(items, fmt.Sprint("k", i))
			}
			s := newScripted(t, map[string]string{"k0": "d", "k1": "d", "k2": "d", "k3": "d", "k4": "d", "k5": "d",
				"k6": "rd", "k7": "f", "k8": "rrf", "k9": "sd"})
			meta := func(key string) map[string]string { return map[string]string{"item": key} }
			opts := checkpoint.TrackerOptions{Owner: "run-1", MaxAttempts: 3, Hold: 3, Meta: meta}

			store := next()
			tr := newTracker(t, store, opts)
			plan, err := tr.Plan(ctx, items)
			if err != nil {
				t.Fatal(err)
			}
			if len(plan.Todo) != 10 || len(plan.Done)+len(plan.Adopted)+len(plan.GivenUp) != 0 || plan.Todo[3].Reason != checkpoint.ReasonNew {
				t.Fatalf("Plan of a new job: %+v", plan)
			}
			s.tr = tr
			if err := tr.Feed(ctx, plan.Keys(), s.submit); err != nil {
				t.Fatalf("Feed: %v", err)
			}
			s.wg.Wait()
			wantStats(t, tr, checkpoint.TrackerStats{Claimed: 11, Done: 8, Failed: 2, Stopped: 1})
			for _, k := range items {
				r := getRecord(t, store, k)
				want := checkpoint.Record{Key: k, State: checkpoint.Done, Attempts: 1, Owner: "run-1", Meta: meta(k), Started: s.start(k, 0)}
				switch k {
				case "k6":
					want.Attempts = 2
				case "k7":
					want.State, want.Err = checkpoint.Failed, "HTTP 404"
				case "k8":
					want.State, want.Err, want.Attempts = checkpoint.Failed, "HTTP 404", 3
				}
				if want.State == checkpoint.Done {
					want.Path, want.Size, want.SHA256 = filepath.Join(s.dir, k+".pdf"), r.Size, r.SHA256
					if err := checkpoint.VerifyFile(r); err != nil || !filepath.IsAbs(r.Path) {
						t.Errorf("%s: %s: %v", k, r.Path, err)
					}
				}
				want.Updated = r.Updated
				if fmt.Sprint(r) != fmt.Sprint(want) {
					t.Errorf("%s:\n got %+v\nwant %+v", k, r, want)
				}
			}
			if err := tr.Close(ctx); err != nil {
				t.Fatal(err)
			}

			// A plain rerun: everything is done or given up.
			store = next()
			opts.Owner = "run-2"
			tr = newTracker(t, store, opts)
			if plan, err = tr.Plan(ctx, items); err != nil {
				t.Fatal(err)
			}
			var givenUp []string
			for _, r := range plan.GivenUp {
				givenUp = append(givenUp, r.Key)
			}
			if len(plan.Todo) != 0 || len(plan.Done) != 8 || fmt.Sprint(givenUp) != "[k7 k8]" {
				t.Errorf("Plan of a finished job: %+v", plan)
			}
			if err := tr.Feed(ctx, plan.Keys(), s.submit); err != nil {
				t.Errorf("Feed(nothing): %v", err)
			}
			tr.Close(ctx)

			// RetryFailed: the given-up items get a fresh budget.
			store = next()
			opts.Owner, opts.RetryFailed = "run-3", true
			tr = newTracker(t, store, opts)
			s.tr = tr
			s.mu.Lock()
			s.script["k7"], s.script["k8"] = "d", "rd"
			s.mu.Unlock()
			if plan, err = tr.Plan(ctx, items); err != nil {
				t.Fatal(err)
			}
			if len(plan.Todo) != 2 || plan.Todo[0].Reason != checkpoint.ReasonRetryFailed || plan.Todo[1].Key != "k8" || len(plan.Done) != 8 {
				t.Fatalf("Plan with RetryFailed: %+v", plan)
			}
			if err := tr.Feed(ctx, plan.Keys(), s.submit); err != nil {
				t.Fatalf("Feed: %v", err)
			}
			s.wg.Wait()
			wantStats(t, tr, checkpoint.TrackerStats{Claimed: 2, Done: 2})
			for k, attempts := range map[string]int{"k7": 1, "k8": 2} {
				r := getRecord(t, store, k)
				if r.State != checkpoint.Done || r.Attempts != attempts || r.Owner != "run-3" || !r.Started.Equal(s.start(k, len(s.starts[k])-attempts)) {
					t.Errorf("%s after RetryFailed: %+v; want Done after %d attempt(s) of a fresh budget", k, r, attempts)
				}
			}
		})
	}
}

// TestTrackerPlan: what Plan makes of each kind of record, and what it writes.
func TestTrackerPlan(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store := checkpoint.NewMemory()
	defer store.Close()
	file := func(key string) checkpoint.Record {
		f := savedFile(t, dir, key)
		return checkpoint.Record{Key: key, State: checkpoint.Done, Attempts: 1, Path: f.Path, Size: f.Size, SHA256: f.SHA256, Meta: map[string]string{"stock": key}}
	}
	missing := file("missing")
	os.Remove(missing.Path)
	changed := file("changed")
	os.WriteFile(changed.Path, []byte("%PDF-1.7 chAnged"), 0o600) // the same size
	resized := file("resized")
	os.WriteFile(resized.Path, []byte("short"), 0o600)
	imported := checkpoint.Record{Key: "imported", State: checkpoint.Done, Path: filepath.Join(dir, "gone.pdf")} // no SHA-256: trusted
	failed := checkpoint.Record{Key: "failed", State: checkpoint.Failed, Attempts: 5, Err: "HTTP 404", Updated: t0}
	running := checkpoint.Record{Key: "running", State: checkpoint.Running, Attempts: 2, Crashes: 1, Started: t0}
	pending := checkpoint.Record{Key: "pending", State: checkpoint.Pending, Attempts: 3, Err: "timeout", Started: t0}
	for _, r := range []checkpoint.Record{file("intact"), missing, changed, resized, imported, failed, running, pending} {
		if err := store.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	adoptable := savedFile(t, dir, "adoptable")
	adopt := func(_ context.Context, key string) (checkpoint.Record, bool) {
		if key != "adoptable" {
			return checkpoint.Record{}, false
		}
		return checkpoint.Record{Path: adoptable.Path, Size: adoptable.Size, SHA256: adoptable.SHA256}, true
	}
	items := []string{"new", "pending", "intact", "missing", "changed", "resized", "imported", "failed", "running", "adoptable"}

	for _, retry := range []bool{false, true} {
		t.Run(fmt.Sprint("RetryFailed=", retry), func(t *testing.T) {
			tr := newTracker(t, store, checkpoint.TrackerOptions{Owner: "planner", RetryFailed: retry, Adopt: adopt, Now: func() time.Time { return t0 }})
			plan, err := tr.Plan(ctx, items)
			if err != nil {
				t.Fatal(err)
			}
			reasons := map[string]checkpoint.Reason{}
			var order []string
			for _, td := range plan.Todo {
				reasons[td.Key] = td.Reason
				order = append(order, td.Key)
			}
			want := map[string]checkpoint.Reason{"new": checkpoint.ReasonNew, "pending": checkpoint.ReasonUnfinished,
				"running": checkpoint.ReasonUnfinished}
			wantOrder := "[new pending running]"
			if !retry { // the first Plan rewrote the bad files' records as Pending
				want["missing"], want["changed"], want["resized"] = checkpoint.ReasonFileMissing, checkpoint.ReasonFileChanged, checkpoint.ReasonFileChanged
				wantOrder = "[new pending missing changed resized running]"
			} else {
				want["missing"], want["changed"], want["resized"] = checkpoint.ReasonUnfinished, checkpoint.ReasonUnfinished, checkpoint.ReasonUnfinished
				want["failed"] = checkpoint.ReasonRetryFailed
				wantOrder = "[new pending missing changed resized failed running]"
			}
			if fmt.Sprint(reasons) != fmt.Sprint(want) || fmt.Sprint(order) != wantOrder {
				t.Errorf("Todo reasons = %v in order %v;\nwant %v in order %s", reasons, order, want, wantOrder)
			}
			// The second time, adoptable is an intact Done record.
			if fmt.Sprint(plan.Done) != "[intact imported adoptable]" {
				t.Errorf("Done = %v, want [intact imported adoptable]", plan.Done)
			}
			if !retry && fmt.Sprint(plan.Adopted) != "[adoptable]" || retry && len(plan.Adopted) != 0 {
				t.Errorf("Adopted = %v", plan.Adopted)
			}
			if !retry && (len(plan.GivenUp) != 1 || plan.GivenUp[0].Key != "failed") || retry && len(plan.GivenUp) != 0 {
				t.Errorf("GivenUp = %+v", plan.GivenUp)
			}
			for _, td := range plan.Todo {
				if td.Key == "running" && (td.Record.Attempts != 2 || td.Record.Crashes != 1) {
					t.Errorf("Todo of running: %+v, want its record with the attempts and crashes so far", td.Record)
				}
			}
		})
	}

	// What the first Plan wrote.
	for key, wantErr := range map[string]error{"missing": checkpoint.ErrFileMissing, "changed": checkpoint.ErrFileChanged, "resized": checkpoint.ErrFileChanged} {
		r := getRecord(t, store, key)
		if r.State != checkpoint.Pending || r.Attempts != 0 || r.Path != "" || r.Meta["stock"] != key || !strings.Contains(r.Err, wantErr.Error()) {
			t.Errorf("%s after Plan: %+v; want Pending with no attempts, saying %q", key, r, wantErr)
		}
	}
	if r := getRecord(t, store, "adoptable"); r.State != checkpoint.Done || r.Path != adoptable.Path || r.Owner != "planner" || checkpoint.VerifyFile(r) != nil {
		t.Errorf("adopted: %+v", r)
	}
	if r := getRecord(t, store, "failed"); r.State != checkpoint.Failed || r.Attempts != 5 {
		t.Errorf("Plan changed a Failed record: %+v", r)
	}

	tr := newTracker(t, store, checkpoint.TrackerOptions{})
	if _, err := tr.Plan(ctx, []string{"a", "b", "a"}); err == nil || !strings.Contains(err.Error(), `"a"`) {
		t.Errorf("Plan with a key twice: %v, want an error naming it", err)
	}
	if _, err := tr.Plan(ctx, []string{"a", ""}); !errors.Is(err, checkpoint.ErrInvalid) {
		t.Errorf("Plan with an empty key: %v, want ErrInvalid", err)
	}
}

func TestVerifyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := savedFile(t, dir, "a")
	r := checkpoint.Record{Key: "a", State: checkpoint.Done, Path: f.Path, Size: f.Size, SHA256: strings.ToUpper(f.SHA256)}
	if err := checkpoint.VerifyFile(r); err != nil {
		t.Errorf("VerifyFile of an intact file: %v", err)
	}
	for _, tc := range []struct {
		name string
		mod  func(r *checkpoint.Record)
		want error
		says string
	}{
		{"missing", func(r *checkpoint.Record) { r.Path = filepath.Join(dir, "b.pdf") }, checkpoint.ErrFileMissing, "b.pdf"},
		{"size", func(r *checkpoint.Record) { r.Size++ }, checkpoint.ErrFileChanged, "size"},
		{"content", func(r *checkpoint.Record) { r.SHA256 = strings.Repeat("0", 64) }, checkpoint.ErrFileChanged, "SHA-256 differs"},
		{"directory", func(r *checkpoint.Record) { r.Path = dir }, checkpoint.ErrFileChanged, "not a regular file"},
	} {
		r := r
		tc.mod(&r)
		if err := checkpoint.VerifyFile(r); !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v, want %v saying %q", tc.name, err, tc.want, tc.says)
		}
	}
	if err := checkpoint.VerifyFile(checkpoint.Record{Key: "old", State: checkpoint.Done, Path: filepath.Join(dir, "none")}); err != nil {
		t.Errorf("VerifyFile of a record without SHA-256: %v, want it trusted", err)
	}
	if _, _, err := checkpoint.HashFile(filepath.Join(dir, "none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("HashFile of a missing file: %v", err)
	}
}

// feeding runs Feed in a goroutine and hands its claims to the test.
type feeding struct {
	claims chan checkpoint.Claim
	cancel context.CancelFunc
	done   chan error
}

func startFeed(tr *checkpoint.Tracker, keys []string) *feeding {
	c, cancel := context.WithCancel(ctx)
	f := &feeding{claims: make(chan checkpoint.Claim, len(keys)+10), cancel: cancel, done: make(chan error, 1)}
	go func() {
		f.done <- tr.Feed(c, keys, func(cl checkpoint.Claim) error { f.claims <- cl; return nil })
	}()
	return f
}

func (f *feeding) claim(t *testing.T) checkpoint.Claim {
	t.Helper()
	select {
	case c := <-f.claims:
		return c
	case err := <-f.done:
		t.Fatalf("Feed returned %v before a claim", err)
	}
	return checkpoint.Claim{}
}

// stop cancels Feed and waits for it to return.
func (f *feeding) stop(t *testing.T) {
	t.Helper()
	f.cancel()
	if err := <-f.done; !errors.Is(err, context.Canceled) {
		t.Errorf("Feed after its context ended: %v", err)
	}
}

// TestTrackerAttemptsAcrossRuns: attempts add up across runs of a File
// store; a run that dies while an item waits for its retry (Pending) costs
// no crash, one that dies during an attempt (Running) does; a shutdown does
// not charge the attempt it stops.
func TestTrackerAttemptsAcrossRuns(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "cp.jsonl")
	dir := t.TempDir()
	items := []string{"k"}
	type run struct {
		store *checkpoint.File
		tr    *checkpoint.Tracker
		feed  *feeding
		plan  checkpoint.Plan
	}
	start := func(owner string) run {
		t.Helper()
		r := run{store: openFile(t, path, checkpoint.Options{})}
		r.tr = newTracker(t, r.store, checkpoint.TrackerOptions{Owner: owner})
		var err error
		if r.plan, err = r.tr.Plan(ctx, items); err != nil {
			t.Fatal(err)
		}
		r.feed = startFeed(r.tr, r.plan.Keys())
		return r
	}
	// die ends a run the way kill -9 would: nothing more reaches the store.
	die := func(r run) {
		r.feed.stop(t)
		closeFile(t, r.store)
		r.tr.Close(ctx) // stops its goroutines; its writes fail on the closed store
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	s := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }

	// Run 1 dies while k waits for its third attempt.
	r := start("run-1")
	if c := r.feed.claim(t); c.Attempts != 0 || c.Record.Key != "" {
		t.Fatalf("first claim: %+v", c)
	}
	must(r.tr.Begin(ctx, "k", 1, s(1)))
	must(r.tr.Retry(ctx, "k", s(1), 1, errors.New("timeout")))
	must(r.tr.Begin(ctx, "k", 2, s(2)))
	must(r.tr.Retry(ctx, "k", s(2), 2, errors.New("timeout")))
	die(r)

	// Run 2 finds it Pending: no crash. It dies during an attempt.
	r = start("run-2")
	if td := r.plan.Todo; len(td) != 1 || td[0].Reason != checkpoint.ReasonUnfinished || td[0].Record.State != checkpoint.Pending {
		t.Fatalf("Plan after a death during a backoff: %+v", r.plan)
	}
	if c := r.feed.claim(t); c.Attempts != 2 || c.Record.Crashes != 0 {
		t.Fatalf("claim after a death during a backoff: %+v", c)
	}
	if st := r.tr.Stats(); st.Crashes != 0 {
		t.Errorf("a death during a backoff counted as a crash: %+v", st)
	}
	must(r.tr.Begin(ctx, "k", 3, s(3)))
	die(r)

	// Run 3 finds it Running: a crash. A shutdown stops its attempt.
	r = start("run-3")
	if c := r.feed.claim(t); c.Attempts != 3 || c.Record.State != checkpoint.Running {
		t.Fatalf("claim after a death during an attempt: %+v", c)
	}
	if rec := getRecord(t, r.store, "k"); rec.State != checkpoint.Pending || rec.Crashes != 1 || rec.Attempts != 3 {
		t.Errorf("record after the claim counted a crash: %+v", rec)
	}
	must(r.tr.Begin(ctx, "k", 4, s(4)))
	r.feed.stop(t)
	must(r.tr.Close(ctx)) // the shutdown: the attempt in flight is not charged
	wantStats(t, r.tr, checkpoint.TrackerStats{Claimed: 1, Stopped: 1, Crashes: 1})
	closeFile(t, r.store)

	// Run 4 finishes it.
	r = start("run-4")
	if c := r.feed.claim(t); c.Attempts != 3 || c.Record.Crashes != 1 {
		t.Fatalf("claim after a shutdown: %+v", c)
	}
	must(r.tr.Begin(ctx, "k", 4, s(5)))
	must(r.tr.Done(ctx, "k", 4, savedFile(t, dir, "k")))
	if err := <-r.feed.done; err != nil {
		t.Errorf("Feed: %v", err)
	}
	wantStats(t, r.tr, checkpoint.TrackerStats{Claimed: 1, Done: 1})
	if rec := getRecord(t, r.store, "k"); rec.State != checkpoint.Done || rec.Attempts != 4 || rec.Crashes != 1 || !rec.Started.Equal(s(1)) || rec.Owner != "run-4" {
		t.Errorf("final record: %+v; want Done after 4 attempts and 1 crash, started at %v", rec, s(1))
	}
}

// TestTrackerGiveUpAtClaim: a claim that finds the budget used up, or the
// last crash allowed, gives the item up: it is passed to submit finished,
// with why, not to be worked on.
func TestTrackerGiveUpAtClaim(t *testing.T) {
	t.Parallel()
	store := checkpoint.NewMemory()
	defer store.Close()
	for _, r := range []checkpoint.Record{
		{Key: "used-up", State: checkpoint.Pending, Attempts: 3, Err: "timeout"},
		{Key: "died-at-last", State: checkpoint.Running, Attempts: 3, Err: "timeout"},
		{Key: "poison", State: checkpoint.Running, Attempts: 2, Crashes: 2},
		{Key: "failed", State: checkpoint.Failed, Attempts: 1, Err: "HTTP 404"},
	} {
		if err := store.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	tr := newTracker(t, store, checkpoint.TrackerOptions{MaxAttempts: 3, MaxCrashes: 3})
	gaveUp := map[string]error{}
	err := tr.Feed(ctx, []string{"used-up", "died-at-last", "poison", "failed"}, func(c checkpoint.Claim) error {
		if c.Finished == nil || c.Finished.State != checkpoint.Failed || c.Finished.Key != c.Key {
			t.Errorf("submitted %+v to be worked on", c)
		}
		gaveUp[c.Key] = c.GaveUp
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]error{"used-up": checkpoint.ErrGivenUp, "died-at-last": checkpoint.ErrGivenUp, "poison": checkpoint.ErrPoison} {
		if !errors.Is(gaveUp[key], want) {
			t.Errorf("%s: given up with %v, want %v", key, gaveUp[key], want)
		}
	}
	if len(gaveUp) != 3 {
		t.Errorf("submitted %v, want the 3 given up (not the one Failed before)", gaveUp)
	}
	wantStats(t, tr, checkpoint.TrackerStats{Failed: 2, Poisoned: 1, Crashes: 2, Elsewhere: 1})
	for key, want := range map[string]string{"used-up": "3 attempt(s); the last: timeout", "died-at-last": "the process died during attempt 3",
		"poison": checkpoint.ErrPoison.Error() + ": the process died during 3 attempts at this item", "failed": "HTTP 404"} {
		if r := getRecord(t, store, key); r.State != checkpoint.Failed || !strings.Contains(r.Err, want) {
			t.Errorf("%s: %+v; want Failed saying %q", key, r, want)
		}
	}
	if r := getRecord(t, store, "poison"); r.Crashes != 3 {
		t.Errorf("poison: Crashes %d, want 3", r.Crashes)
	}
}

// TestTrackerLateRetry: a Retry that arrives after a newer Begin of its key
// changes nothing, however the two race.
func TestTrackerLateRetry(t *testing.T) {
	t.Parallel()
	store := checkpoint.NewMemory()
	defer store.Close()
	tr := newTracker(t, store, checkpoint.TrackerOptions{})
	f := startFeed(tr, []string{"k"})
	f.claim(t)
	s := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }
	if err := tr.Begin(ctx, "k", 1, s(1)); err != nil {
		t.Fatal(err)
	}
	if err := tr.Begin(ctx, "k", 2, s(2)); err != nil { // the watchdog requeued attempt 1
		t.Fatal(err)
	}
	if err := tr.Retry(ctx, "k", s(1), 1, errors.New("late")); err != nil {
		t.Errorf("late Retry: %v, want nil", err)
	}
	if r := getRecord(t, store, "k"); r.State != checkpoint.Running || r.Attempts != 2 {
		t.Errorf("after a late Retry: %+v, want attempt 2 Running", r)
	}
	// Retries of each attempt racing the next attempt's Begin.
	var wg sync.WaitGroup
	for i := 2; i < 200; i++ {
		wg.Go(func() { tr.Retry(ctx, "k", s(i), i, errors.New("timeout")) })
		if err := tr.Begin(ctx, "k", i+1, s(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if r := getRecord(t, store, "k"); r.State != checkpoint.Running || r.Attempts != 200 || r.Err != "" && !strings.Contains(r.Err, "timeout") {
		t.Errorf("after racing Retries: %+v, want attempt 200 Running", r)
	}
	if err := tr.Retry(ctx, "k", s(200), 200, errors.New("timeout")); err != nil {
		t.Fatal(err)
	}
	if r := getRecord(t, store, "k"); r.State != checkpoint.Pending || r.Attempts != 200 || r.Err != "timeout" {
		t.Errorf("after the current attempt's Retry: %+v, want Pending", r)
	}
	if err := tr.Fail(ctx, "k", 200, errors.New("enough")); err != nil {
		t.Fatal(err)
	}
	if err := tr.Retry(ctx, "k", s(200), 200, errors.New("late")); err != nil {
		t.Errorf("Retry after the key ended: %v, want nil", err)
	}
	if r := getRecord(t, store, "k"); r.State != checkpoint.Failed {
		t.Errorf("a Retry after Fail changed the record: %+v", r)
	}
	if err := <-f.done; err != nil {
		t.Errorf("Feed: %v", err)
	}
}

// TestTrackerStop: a stopped item is released Pending, its stopped attempt
// not charged, and another owner takes it at once without counting a crash.
func TestTrackerStop(t *testing.T) {
	t.Parallel()
	store := checkpoint.NewMemory()
	defer store.Close()
	a := newTracker(t, store, checkpoint.TrackerOptions{Owner: "a"})
	f := startFeed(a, []string{"k", "never-begun"})
	f.claim(t)
	f.claim(t)
	if err := a.Begin(ctx, "k", 1, t0); err != nil {
		t.Fatal(err)
	}
	f.stop(t) // the shutdown: Feed first, then each key
	if err := a.Stop(ctx, "k", 0); err != nil {
		t.Fatal(err)
	}
	if err := a.Stop(ctx, "never-begun", 0); err != nil {
		t.Fatal(err)
	}
	if err := a.Stop(ctx, "k", 0); !errors.Is(err, checkpoint.ErrLeaseLost) {
		t.Errorf("second Stop: %v, want ErrLeaseLost", err)
	}
	wantStats(t, a, checkpoint.TrackerStats{Claimed: 2, Stopped: 2})
	if r := getRecord(t, store, "k"); r.State != checkpoint.Pending || r.Attempts != 0 || r.Owner != "a" || !r.Started.Equal(t0) {
		t.Errorf("stopped: %+v, want Pending with no attempt charged", r)
	}
	if _, err := store.Get(ctx, "never-begun"); !errors.Is(err, checkpoint.ErrNotFound) {
		t.Errorf("a key stopped before its first Begin has a record: %v", err)
	}

	b := newTracker(t, store, checkpoint.TrackerOptions{Owner: "b"})
	g := startFeed(b, []string{"k", "never-begun"})
	if c := g.claim(t); c.Key != "k" || c.Attempts != 0 || c.Record.State != checkpoint.Pending {
		t.Errorf("claim by another owner: %+v", c)
	}
	g.claim(t)
	g.stop(t)
	if st := b.Stats(); st.Crashes != 0 {
		t.Errorf("a stopped item counted as a crash: %+v", st)
	}
}

// TestTrackerTakeover: a key whose lease ran out goes to another owner,
// whose claim counts the crash of the attempt in flight; the first owner's
// writes fail with ErrLeaseLost and store nothing.
func TestTrackerTakeover(t *testing.T) {
	t.Parallel()
	clock := new(checkpointtest.Clock)
	store := &checkpoint.Memory{Now: clock.Now}
	defer store.Close()
	a := newTracker(t, store, checkpoint.TrackerOptions{Owner: "a", LeaseTTL: time.Hour})
	fa := startFeed(a, []string{"k"})
	fa.claim(t)
	if err := a.Begin(ctx, "k", 1, t0); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Hour) // a stalls past its lease

	b := newTracker(t, store, checkpoint.TrackerOptions{Owner: "b", LeaseTTL: time.Hour})
	fb := startFeed(b, []string{"k"})
	if c := fb.claim(t); c.Attempts != 1 || c.Record.Owner != "a" {
		t.Errorf("takeover claim: %+v", c)
	}
	if st := b.Stats(); st.Crashes != 1 {
		t.Errorf("takeover of a Running key: %+v, want a crash", st)
	}
	if err := a.Done(ctx, "k", 1, savedFile(t, t.TempDir(), "k")); !errors.Is(err, checkpoint.ErrLeaseLost) || !strings.Contains(err.Error(), `"b"`) {
		t.Errorf("Done of a lost key: %v, want ErrLeaseLost naming b", err)
	}
	if err := <-fa.done; err != nil {
		t.Errorf("Feed of the owner that lost its key: %v", err)
	}
	for name, err := range map[string]error{
		"Begin": a.Begin(ctx, "k", 2, t0.Add(time.Hour)),
		"Fail":  a.Fail(ctx, "k", 1, errors.New("x")),
		"Stop":  a.Stop(ctx, "k", 1),
	} {
		if !errors.Is(err, checkpoint.ErrLeaseLost) {
			t.Errorf("%s after the key was lost: %v, want ErrLeaseLost", name, err)
		}
	}
	wantStats(t, a, checkpoint.TrackerStats{Claimed: 1, Lost: 1})
	if r := getRecord(t, store, "k"); r.State != checkpoint.Pending || r.Owner != "b" || r.Crashes != 1 {
		t.Errorf("record after the takeover: %+v", r)
	}
	if err := b.Begin(ctx, "k", 2, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := b.Fail(ctx, "k", 2, errors.New("HTTP 404")); err != nil {
		t.Fatal(err)
	}
	if err := <-fb.done; err != nil {
		t.Errorf("Feed: %v", err)
	}
}

// TestTrackerRenews: held leases are renewed while their attempts run, so
// no one can take a key that is being worked on, however long it takes.
func TestTrackerRenews(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		store := checkpoint.NewMemory() // the bubble's clock
		defer store.Close()
		a := newTracker(t, store, checkpoint.TrackerOptions{Owner: "a", LeaseTTL: 30 * time.Second})
		f := startFeed(a, []string{"slow"})
		f.claim(t)
		if err := a.Begin(ctx, "slow", 1, time.Now()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Minute) // twenty TTLs
		if _, err := store.Claim(ctx, "slow", "b", time.Minute); !errors.Is(err, checkpoint.ErrLeased) {
			t.Errorf("Claim of a key held for twenty TTLs: %v, want ErrLeased", err)
		}
		if err := a.Done(ctx, "slow", 1, checkpoint.SavedFile{Path: "/out/slow.pdf", Size: 1, SHA256: "00"}); err != nil {
			t.Errorf("Done after twenty TTLs: %v", err)
		}
		if err := <-f.done; err != nil {
			t.Errorf("Feed: %v", err)
		}
		a.Close(ctx)
	})
}

// TestTrackerPolls: keys held by another owner are waited for and dropped
// once that owner finished them.
func TestTrackerPolls(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		store := checkpoint.NewMemory()
		defer store.Close()
		a := newTracker(t, store, checkpoint.TrackerOptions{Owner: "a"})
		fa := startFeed(a, []string{"k1", "k3"})
		fa.claim(t)
		fa.claim(t)
		b := newTracker(t, store, checkpoint.TrackerOptions{Owner: "b", PollInterval: time.Second})
		var submitted []string
		done := make(chan error)
		go func() {
			done <- b.Feed(ctx, []string{"k1", "k2", "k3"}, func(c checkpoint.Claim) error {
				submitted = append(submitted, c.Key)
				return b.Done(ctx, c.Key, c.Attempts+1, checkpoint.SavedFile{Path: "/out/" + c.Key, SHA256: "00"})
			})
		}()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if err := a.Done(ctx, "k1", 1, checkpoint.SavedFile{Path: "/out/k1", SHA256: "00"}); err != nil {
			t.Fatal(err)
		}
		if err := a.Fail(ctx, "k3", 1, errors.New("HTTP 404")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second) // a poll
		synctest.Wait()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Feed: %v", err)
			}
		default:
			t.Fatal("Feed still waits a poll after the other owner finished its keys")
		}
		if fmt.Sprint(submitted) != "[k2]" {
			t.Errorf("submitted %v, want [k2]", submitted)
		}
		wantStats(t, b, checkpoint.TrackerStats{Claimed: 1, Done: 1, Elsewhere: 2})
		if err := <-fa.done; err != nil {
			t.Errorf("Feed: %v", err)
		}
		a.Close(ctx)
		b.Close(ctx)
	})
}

// TestTrackerSubmitError: a submit that fails ends its claim and Feed,
// and the claims Feed had not submitted yet.
func TestTrackerSubmitError(t *testing.T) {
	t.Parallel()
	store := checkpoint.NewMemory()
	defer store.Close()
	tr := newTracker(t, store, checkpoint.TrackerOptions{Hold: 4})
	closed := errors.New("pool closed")
	n := 0
	err := tr.Feed(ctx, []string{"a", "b", "c", "d"}, func(c checkpoint.Claim) error {
		if n++; n == 2 {
			return closed
		}
		return nil
	})
	if !errors.Is(err, closed) {
		t.Fatalf("Feed: %v, want the submit's error", err)
	}
	if st := tr.Stats(); st.Held != 1 || st.Stopped != 1 {
		t.Errorf("Stats after a failed submit: %+v, want the first claim held, the second stopped", st)
	}
	other := newTracker(t, store, checkpoint.TrackerOptions{Owner: "other"})
	f := startFeed(other, []string{"a", "b", "c", "d"})
	var got []string
	for range 3 {
		got = append(got, f.claim(t).Key)
	}
	f.stop(t)
	if slices.Sort(got); fmt.Sprint(got) != "[b c d]" {
		t.Errorf("another owner could claim %v, want [b c d]", got)
	}
}

func TestTrackerOptions(t *testing.T) {
	t.Parallel()
	if _, err := checkpoint.NewTracker(notLeaser{checkpoint.NewMemory()}, checkpoint.TrackerOptions{}); err == nil || !strings.Contains(err.Error(), "Leaser") {
		t.Errorf("NewTracker of a store that is not a Leaser: %v", err)
	}
	for _, tc := range []struct {
		field string
		opts  checkpoint.TrackerOptions
	}{
		{"LeaseTTL", checkpoint.TrackerOptions{LeaseTTL: -time.Second}},
		{"Hold", checkpoint.TrackerOptions{Hold: -1}},
		{"MaxAttempts", checkpoint.TrackerOptions{MaxAttempts: -1}},
		{"MaxCrashes", checkpoint.TrackerOptions{MaxCrashes: -1}},
		{"PollInterval", checkpoint.TrackerOptions{PollInterval: -1}},
		{"Owner", checkpoint.TrackerOptions{Owner: "bad\xff"}},
	} {
		if _, err := checkpoint.NewTracker(checkpoint.NewMemory(), tc.opts); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("NewTracker with a bad %s: %v, want an error naming it", tc.field, err)
		}
	}
	tr, err := checkpoint.NewTracker(checkpoint.NewMemory(), checkpoint.TrackerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if host, _ := os.Hostname(); tr.Owner() != fmt.Sprintf("%s-%d", host, os.Getpid()) {
		t.Errorf("default Owner %q", tr.Owner())
	}
	if err := tr.Begin(ctx, "never-claimed", 1, t0); !errors.Is(err, checkpoint.ErrLeaseLost) {
		t.Errorf("Begin of a key never claimed: %v, want ErrLeaseLost", err)
	}
	if err := tr.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tr.Feed(ctx, []string{"k"}, func(checkpoint.Claim) error { return nil }); !errors.Is(err, checkpoint.ErrClosed) {
		t.Errorf("Feed after Close: %v, want ErrClosed", err)
	}
}

// notLeaser hides the Leaser methods of a store.
type notLeaser struct{ checkpoint.Store }

// TestTrackerSplit: trackers that share a store split its keys between
// them: none is worked on twice, and each Feed ends when all are done.
func TestTrackerSplit(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"memory", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			var stores [2]checkpoint.Store
			if kind == "memory" {
				m := checkpoint.NewMemory()
				defer m.Close()
				stores = [2]checkpoint.Store{m, m}
			} else { // a store each, as two processes have
				schema := pgSchema(t)
				stores = [2]checkpoint.Store{pgOpen(t, schema), pgOpen(t, schema)}
			}
			var items []string
			for i := range 300 {
				items = append(items, fmt.Sprintf("VIN%05d", i))
			}
			var (
				mu     sync.Mutex
				worked = map[string]int{}
				wg     sync.WaitGroup
				trs    [2]*checkpoint.Tracker
			)
			for i := range trs {
				trs[i] = newTracker(t, stores[i], checkpoint.TrackerOptions{Owner: fmt.Sprint("proc-", i), Hold: 8, PollInterval: 20 * time.Millisecond})
			}
			for _, tr := range trs {
				wg.Go(func() {
					var work sync.WaitGroup
					err := tr.Feed(ctx, items, func(c checkpoint.Claim) error {
						work.Go(func() {
							mu.Lock()
							worked[c.Key]++
							mu.Unlock()
							if err := tr.Begin(ctx, c.Key, c.Attempts+1, time.Now()); err != nil {
								t.Errorf("Begin: %v", err)
							}
							if err := tr.Done(ctx, c.Key, c.Attempts+1, checkpoint.SavedFile{Path: "/out/" + c.Key, SHA256: "00"}); err != nil {
								t.Errorf("Done: %v", err)
							}
						})
						return nil
					})
					work.Wait()
					if err != nil {
						t.Errorf("Feed of %s: %v", tr.Owner(), err)
					}
				})
			}
			wg.Wait()
			for _, k := range items {
				if worked[k] != 1 {
					t.Errorf("%s worked on %d times", k, worked[k])
				}
			}
			total := 0
			for _, tr := range trs {
				st := tr.Stats()
				t.Logf("%s: %+v", tr.Owner(), st)
				if st.Done+st.Elsewhere != len(items) || st.Claimed != st.Done {
					t.Errorf("%s: %+v: every key done here or elsewhere, once", tr.Owner(), st)
				}
				total += st.Done
			}
			if total != len(items) {
				t.Errorf("%d keys done, want %d", total, len(items))
			}
			for r, err := range stores[0].All(ctx) {
				if err != nil || r.State != checkpoint.Done {
					t.Errorf("%+v, %v", r, err)
				}
			}
		})
	}
}

// stuckStore is a Memory store without batching whose Release of key
// "stuck" waits until unstick is closed: a store write that hangs.
type stuckStore struct {
	checkpoint.Store
	m       *checkpoint.Memory
	unstick chan struct{}
}

func (s stuckStore) Claim(ctx context.Context, key, owner string, ttl time.Duration) (checkpoint.Lease, error) {
	l, err := s.m.Claim(ctx, key, owner, ttl)
	if err != nil {
		return nil, err
	}
	return stuckLease{l, s.unstick}, nil
}

func (s stuckStore) ClaimBatch(ctx context.Context, keys []string, owner string, n int, ttl time.Duration) ([]checkpoint.Lease, error) {
	ls, err := s.m.ClaimBatch(ctx, keys, owner, n, ttl)
	for i, l := range ls {
		ls[i] = stuckLease{l, s.unstick}
	}
	return ls, err
}

type stuckLease struct {
	checkpoint.Lease
	unstick chan struct{}
}

func (l stuckLease) Release(ctx context.Context, r checkpoint.Record) error {
	if r.Key == "stuck" {
		<-l.unstick
	}
	return l.Lease.Release(ctx, r)
}

// TestTrackerRenewsBesideAStuckWrite: one key's record write that hangs
// does not stop the renewal of the other keys' leases (on a store that
// renews them one by one): they are not taken over meanwhile. (When the
// renewer waited for the stuck key's lock, this test hung: synctest's
// clock does not move past a goroutine blocked on a mutex.)
func TestTrackerRenewsBesideAStuckWrite(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		mem := checkpoint.NewMemory()
		defer mem.Close()
		store := stuckStore{Store: mem, m: mem, unstick: make(chan struct{})}
		a := newTracker(t, store, checkpoint.TrackerOptions{Owner: "a", LeaseTTL: 30 * time.Second})
		f := startFeed(a, []string{"stuck", "slow"})
		f.claim(t)
		f.claim(t)
		for _, k := range []string{"stuck", "slow"} {
			if err := a.Begin(ctx, k, 1, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		wrote := make(chan error, 1)
		go func() {
			wrote <- a.Done(ctx, "stuck", 1, checkpoint.SavedFile{Path: "/out/stuck.pdf", Size: 1, SHA256: "00"})
		}()
		time.Sleep(5 * time.Minute) // ten TTLs
		if _, err := mem.Claim(ctx, "slow", "b", time.Minute); !errors.Is(err, checkpoint.ErrLeased) {
			t.Errorf("Claim of a key held beside a stuck write: %v, want ErrLeased", err)
		}
		close(store.unstick)
		if err := <-wrote; err != nil {
			t.Errorf("the stuck Done: %v", err)
		}
		if err := a.Done(ctx, "slow", 1, checkpoint.SavedFile{Path: "/out/slow.pdf", Size: 1, SHA256: "00"}); err != nil {
			t.Errorf("Done of the other key: %v", err)
		}
		if err := <-f.done; err != nil {
			t.Errorf("Feed: %v", err)
		}
		a.Close(ctx)
	})
}

// TestTrackerAdoptsAtTheClaim: a run killed after it saved a file but
// before it recorded Done leaves the key Running. The next claim asks
// Adopt: the file is recorded Done, not downloaded again, and the death is
// not counted against the key (two such kills made a saved item a poison
// pill).
func TestTrackerAdoptsAtTheClaim(t *testing.T) {
	t.Parallel()
	store := checkpoint.NewMemory()
	defer store.Close()
	dir := t.TempDir()
	saved := savedFile(t, dir, "saved")
	if err := store.Put(ctx, checkpoint.Record{Key: "saved", State: checkpoint.Running, Attempts: 1, Owner: "dead", Updated: t0}); err != nil {
		t.Fatal(err)
	}
	if err := store.Put(ctx, checkpoint.Record{Key: "unsaved", State: checkpoint.Running, Attempts: 1, Owner: "dead", Updated: t0}); err != nil {
		t.Fatal(err)
	}
	adopt := func(_ context.Context, key string) (checkpoint.Record, bool) {
		if key != "saved" {
			return checkpoint.Record{}, false
		}
		return checkpoint.Record{Path: saved.Path, Size: saved.Size, SHA256: saved.SHA256}, true
	}
	tr := newTracker(t, store, checkpoint.TrackerOptions{Owner: "next", Adopt: adopt})
	f := startFeed(tr, []string{"saved", "unsaved"})
	if c := f.claim(t); c.Key != "saved" || c.Finished == nil || c.Finished.State != checkpoint.Done || c.Finished.SHA256 != saved.SHA256 {
		t.Errorf("claim %+v; want saved, finished with its file", c)
	}
	if c := f.claim(t); c.Key != "unsaved" || c.Crashes != 1 || c.Finished != nil {
		t.Errorf("claim %+v; want unsaved to work on, with its crash", c)
	}
	f.stop(t)
	if r := getRecord(t, store, "saved"); r.State != checkpoint.Done || r.SHA256 != saved.SHA256 || r.Crashes != 0 || r.Attempts != 1 {
		t.Errorf("saved: %+v; want Done with its file, 1 attempt, no crash", r)
	}
	if s := tr.Stats(); s.Done != 1 || s.Crashes != 1 {
		t.Errorf("stats %+v; want 1 done (adopted), 1 crash", s)
	}
	tr.Close(ctx)
}

// TestTrackerCloseCancelled: Close with a context a Ctrl-C has cancelled
// still records the keys it holds as stopped; the next run finds them
// Pending, not Running (a crash each).
func TestTrackerCloseCancelled(t *testing.T) {
	t.Parallel()
	store := checkpoint.NewMemory()
	defer store.Close()
	tr := newTracker(t, store, checkpoint.TrackerOptions{Owner: "a"})
	f := startFeed(tr, []string{"k"})
	f.claim(t)
	if err := tr.Begin(ctx, "k", 1, t0); err != nil {
		t.Fatal(err)
	}
	f.stop(t)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := tr.Close(cancelled); err != nil {
		t.Errorf("Close(cancelled) = %v", err)
	}
	if r := getRecord(t, store, "k"); r.State != checkpoint.Pending || r.Attempts != 0 {
		t.Errorf("after Close: %+v; want Pending, the attempt in flight not charged", r)
	}
}

// TestTrackerDoneWantsAFile: a Done without the file's path or SHA-256
// would be trusted by every later run: refused.
func TestTrackerDoneWantsAFile(t *testing.T) {
	t.Parallel()
	store := checkpoint.NewMemory()
	defer store.Close()
	tr := newTracker(t, store, checkpoint.TrackerOptions{Owner: "a"})
	defer tr.Close(ctx)
	f := startFeed(tr, []string{"k"})
	f.claim(t)
	for _, sf := range []checkpoint.SavedFile{{}, {Path: "/out/k.pdf", Size: 1}, {SHA256: "00", Size: 1}} {
		if err := tr.Done(ctx, "k", 1, sf); !errors.Is(err, checkpoint.ErrInvalid) {
			t.Errorf("Done(%+v) = %v, want ErrInvalid", sf, err)
		}
	}
	f.stop(t)
}

// TestPlanStopsAtAFileItCannotCheck: a Verify error that says nothing of
// the file (a share not mounted, a permission) stops Plan and changes no
// record; a Done record is not thrown away for it.
func TestPlanStopsAtAFileItCannotCheck(t *testing.T) {
	t.Parallel()
	store := checkpoint.NewMemory()
	defer store.Close()
	done := checkpoint.Record{Key: "k", State: checkpoint.Done, Path: "/share/k.pdf", Size: 1, SHA256: "00", Updated: t0}
	if err := store.Put(ctx, done); err != nil {
		t.Fatal(err)
	}
	tr := newTracker(t, store, checkpoint.TrackerOptions{Owner: "a", Verify: func(checkpoint.Record) error { return fs.ErrPermission }})
	defer tr.Close(ctx)
	if _, err := tr.Plan(ctx, []string{"k"}); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("Plan = %v, want the Verify error", err)
	}
	if r := getRecord(t, store, "k"); r.State != checkpoint.Done || r.SHA256 != "00" {
		t.Errorf("after Plan: %+v; want the Done record untouched", r)
	}
}

// TestPlanKeepsAFreshDone: while Plan checks the files, another process
// fetches an item whose file was missing and records it Done; Plan does not
// write its Pending over that record (the item would be fetched twice).
func TestPlanKeepsAFreshDone(t *testing.T) {
	t.Parallel()
	store := checkpoint.NewMemory()
	defer store.Close()
	old := checkpoint.Record{Key: "x", State: checkpoint.Done, Path: "/gone/x.pdf", Size: 1, SHA256: "00", Owner: "a", Updated: t0}
	if err := store.Put(ctx, old); err != nil {
		t.Fatal(err)
	}
	fresh := old
	fresh.Path, fresh.SHA256, fresh.Owner, fresh.Updated = "/out/x.pdf", "11", "other", t0.Add(time.Hour)
	verify := func(r checkpoint.Record) error {
		if err := store.Put(ctx, fresh); err != nil { // the other process, meanwhile
			t.Error(err)
		}
		return checkpoint.ErrFileMissing
	}
	tr := newTracker(t, store, checkpoint.TrackerOptions{Owner: "b", Verify: verify})
	defer tr.Close(ctx)
	if _, err := tr.Plan(ctx, []string{"x"}); err != nil {
		t.Fatal(err)
	}
	if r := getRecord(t, store, "x"); r.State != checkpoint.Done || r.SHA256 != "11" {
		t.Errorf("after Plan: %+v; want the other process's Done", r)
	}
}

// hungBatcher is a Memory store whose batched writes never come back
// until their context ends: a database behind a network partition.
type hungBatcher struct {
	*checkpoint.Memory
	answers *atomic.Bool // until when, if set
}

func (h hungBatcher) WriteBatch(ctx context.Context, ws []checkpoint.LeaseWrite) ([]error, error) {
	if h.answers != nil && h.answers.Load() {
		return h.Memory.WriteBatch(ctx, ws)
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestTrackerHungStore: a record write to a store that stops answering
// fails once a lease would have run out, instead of holding Done (and
// with it Close) for ever.
func TestTrackerHungStore(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		mem := checkpoint.NewMemory()
		defer mem.Close()
		tr := newTracker(t, hungBatcher{Memory: mem}, checkpoint.TrackerOptions{Owner: "a", LeaseTTL: 30 * time.Second})
		f := startFeed(tr, []string{"k"})
		f.claim(t)
		start := time.Now()
		if err := tr.Done(ctx, "k", 1, savedFile(t, t.TempDir(), "k")); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Done on a hung store = %v, want a deadline", err)
		}
		if d := time.Since(start); d != 30*time.Second {
			t.Errorf("Done returned after %v, want the lease TTL, 30s (fake clock)", d)
		}
		f.stop(t)
		tr.Close(ctx)
	})
}

// TestTrackerCloseOnAHungStore: Close writes the stops of all the keys it
// holds at once, so a store that stopped answering costs about one lease
// TTL, not one per key (16 keys: 32 minutes at jdrun's defaults).
func TestTrackerCloseOnAHungStore(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		mem := checkpoint.NewMemory()
		defer mem.Close()
		answers := new(atomic.Bool)
		answers.Store(true)
		tr := newTracker(t, hungBatcher{Memory: mem, answers: answers}, checkpoint.TrackerOptions{Owner: "a", LeaseTTL: time.Minute, Hold: 8})
		keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
		f := startFeed(tr, keys)
		for range keys {
			if err := tr.Begin(ctx, f.claim(t).Key, 1, t0); err != nil {
				t.Fatal(err)
			}
		}
		answers.Store(false) // the database stops answering
		start := time.Now()
		if err := tr.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Close on a hung store = %v, want a deadline", err)
		}
		if d := time.Since(start); d > 2*time.Minute {
			t.Errorf("Close took %v for 8 keys, want at most two lease TTLs (fake clock)", d)
		}
		f.cancel()
		<-f.done
	})
}
