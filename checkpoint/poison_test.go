package checkpoint_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/checkpoint/postgres"
)

// The poison pill test: an item whose attempt kills the process, in every
// run. Each run is the test binary run again as a child, the way a CLI is
// rerun: it opens the store, plans, feeds, and works on each claim — and on
// POISON it exits in the middle of the attempt. The item must be given up
// after MaxCrashes deaths, so that the job finishes.
const (
	poisonEnv      = "PAGEFLEET_TRACKER_POISON_CHILD" // the child's store kind: file or postgres
	poisonStoreEnv = "PAGEFLEET_TRACKER_POISON_STORE" // its journal or schema
	poisonDirEnv   = "PAGEFLEET_TRACKER_POISON_DIR"   // where it saves files
	poisonExit     = 3
)

var poisonItems = []string{"k00", "k01", "k02", "POISON", "k04", "k05", "k06", "k07", "k08", "k09", "k10"}

func TestTrackerPoison(t *testing.T) {
	if kind := os.Getenv(poisonEnv); kind != "" {
		poisonChild(t, kind, os.Getenv(poisonStoreEnv), os.Getenv(poisonDirEnv))
		return
	}
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	t.Parallel()
	for _, kind := range []string{"file", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			where := filepath.Join(t.TempDir(), "cp.jsonl")
			if kind == "postgres" {
				where = pgSchema(t)
			}
			dir := t.TempDir()
			run := func(n int) (code int, out string) {
				t.Helper()
				cmd := exec.Command(os.Args[0], "-test.run=^TestTrackerPoison$")
				cmd.Env = append(os.Environ(), poisonEnv+"="+kind, poisonStoreEnv+"="+where, poisonDirEnv+"="+dir)
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err := cmd.Run()
				var ee *exec.ExitError
				switch {
				case errors.As(err, &ee):
					code = ee.ExitCode()
				case err != nil:
					t.Fatalf("run %d: %v", n, err)
				}
				t.Logf("run %d: exit %d\n%s", n, code, stdout.Bytes())
				if code != 0 && code != poisonExit {
					t.Fatalf("run %d failed: exit %d\n%s\n%s", n, code, stdout.Bytes(), stderr.Bytes())
				}
				return code, stdout.String()
			}
			open := func() checkpoint.Store {
				if kind == "file" {
					return openFile(t, where, checkpoint.Options{})
				}
				return pgOpen(t, where)
			}

			// MaxCrashes is 2: two runs die, the third gives POISON up.
			var codes []int
			var out string
			for n := 1; n <= 3; n++ {
				var code int
				code, out = run(n)
				codes = append(codes, code)
			}
			if !slices.Equal(codes, []int{poisonExit, poisonExit, 0}) {
				t.Fatalf("exit codes of the runs: %v, want %v", codes, []int{poisonExit, poisonExit, 0})
			}
			if !strings.Contains(out, "poisoned=1 crashes=1") {
				t.Errorf("the run that gave POISON up reports:\n%s", out)
			}
			store := open()
			var before []checkpoint.Record
			for r, err := range store.All(ctx) {
				if err != nil {
					t.Fatal(err)
				}
				before = append(before, r)
				switch {
				case r.Key == "POISON":
					if r.State != checkpoint.Failed || r.Crashes != 2 || r.Attempts != 2 ||
						r.Err != checkpoint.ErrPoison.Error()+": the process died during 2 attempts at this item" {
						t.Errorf("POISON: %+v; want it given up after 2 crashes", r)
					}
				case r.State != checkpoint.Done || r.Attempts != 1 || r.Crashes != 0 || checkpoint.VerifyFile(r) != nil:
					t.Errorf("%s: %+v; want Done at the first attempt, its file intact", r.Key, r)
				}
			}
			if len(before) != len(poisonItems) {
				t.Errorf("%d records, want %d", len(before), len(poisonItems))
			}
			store.Close()

			// A further run has nothing to do, and writes nothing.
			if code, out := run(4); code != 0 || !strings.Contains(out, "plan todo=0 done=10 givenup=1") || !strings.Contains(out, "stats claimed=0 done=0 poisoned=0 crashes=0") {
				t.Errorf("the run after: exit %d\n%s", code, out)
			}
			store = open()
			var after []checkpoint.Record
			for r, err := range store.All(ctx) {
				if err != nil {
					t.Fatal(err)
				}
				after = append(after, r)
			}
			if fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("the run after changed the records:\n%v\nwere\n%v", after, before)
			}
		})
	}
}

// poisonChild is one run of the job.
func poisonChild(t *testing.T, kind, where, dir string) {
	var (
		store checkpoint.Store
		err   error
		opts  = checkpoint.TrackerOptions{
			Owner: fmt.Sprint("run-", os.Getpid()), Hold: 4, PollInterval: 50 * time.Millisecond,
			Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
		}
	)
	switch kind {
	case "file":
		store, err = checkpoint.Open(where, checkpoint.Options{})
	case "postgres":
		store, err = postgres.Open(ctx, os.Getenv(pgDSNEnv), postgres.Options{Schema: where})
		opts.LeaseTTL = time.Second // the dead run's leases: the next run waits them out
	}
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	tr, err := checkpoint.NewTracker(store, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close(ctx)
	plan, err := tr.Plan(ctx, poisonItems)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("plan todo=%d done=%d givenup=%d\n", len(plan.Todo), len(plan.Done), len(plan.GivenUp))
	err = tr.Feed(ctx, plan.Keys(), func(c checkpoint.Claim) error {
		if c.Finished != nil {
			return nil
		}
		attempt := c.Attempts + 1
		if err := tr.Begin(ctx, c.Key, attempt, time.Now()); err != nil {
			return err
		}
		if c.Key == "POISON" {
			fmt.Println("dying at POISON, attempt", attempt)
			os.Exit(poisonExit) // the attempt kills the process
		}
		return tr.Done(ctx, c.Key, attempt, savedFile(t, dir, c.Key))
	})
	if err != nil {
		t.Fatal(err)
	}
	st := tr.Stats()
	fmt.Printf("stats claimed=%d done=%d poisoned=%d crashes=%d\n", st.Claimed, st.Done, st.Poisoned, st.Crashes)
}
