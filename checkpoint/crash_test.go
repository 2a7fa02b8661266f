package checkpoint_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagefleet/pagefleet/checkpoint"
)

// crashEnv makes the test binary a crash-test child writing to the journal
// named by its value.
const crashEnv = "PAGEFLEET_CHECKPOINT_CRASH_CHILD"

// crashRecord is what the child writes for an item at each stage: Running,
// Failed, then Done on the second attempt. The parent computes the same to
// check what it finds.
func crashRecord(key string, stage int) checkpoint.Record {
	i, _ := strconv.Atoi(key[strings.IndexByte(key, '-')+1:])
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond)
	r := checkpoint.Record{Key: key, State: checkpoint.Running, Attempts: 1, Owner: "child", Started: t0, Updated: t0}
	switch stage {
	case 1:
		r.State, r.Err, r.Updated = checkpoint.Failed, "timeout", t0.Add(time.Second)
	case 2:
		sum := sha256.Sum256([]byte(key))
		r.State, r.Attempts, r.Path, r.Size, r.SHA256 = checkpoint.Done, 2, key+".pdf", int64(i), hex.EncodeToString(sum[:])
		r.Updated, r.Meta = t0.Add(2*time.Second), map[string]string{"i": strconv.Itoa(i)}
		if i%50 == 0 { // some big writes, which a kill can cut short
			r.Meta["padding"] = strings.Repeat("x", 256<<10)
		}
	}
	return r
}

const stages = 3

// isStage reports whether r is crashRecord(r.Key, s) for a stage s >= from.
func isStage(r checkpoint.Record, from int) bool {
	for s := from; s < stages; s++ {
		if reflect.DeepEqual(r, crashRecord(r.Key, s)) {
			return true
		}
	}
	return false
}

// TestFileCrash kills a process that is writing as fast as it can, at a
// random moment, several times, and checks that every record it reported
// acknowledged is there with its exact value and that the journal opens
// cleanly each time.
func TestFileCrash(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path)
		return
	}
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	t.Parallel()
	for _, mode := range []string{"fsync", "group-commit"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "cp.jsonl")
			acked := map[string]int{} // key → the last stage acknowledged
			torn, midCompaction := 0, 0
			for round := range 5 {
				n := crashRound(t, path, mode, round, acked)
				if _, err := os.Stat(path + ".tmp"); err == nil {
					midCompaction++
				}
				// Leave compaction to the child, where a kill can interrupt it.
				f, err := checkpoint.Open(path, checkpoint.Options{CompactAfter: -1, Logger: testLogger(t)})
				if err != nil {
					t.Fatalf("round %d: Open after SIGKILL: %v", round, err)
				}
				torn += f.Stats().TornLines
				t.Logf("round %d: killed after %d acknowledgements; reopened: %+v", round, n, f.Stats())
				for key, stage := range acked {
					got, err := f.Get(ctx, key)
					if err != nil {
						t.Fatalf("round %d: acknowledged %s lost: %v", round, key, err)
					}
					// A later stage may be stored but not yet acknowledged when the kill came.
					if !isStage(got, stage) {
						t.Fatalf("round %d: %s:\n got %+v\nwant %+v", round, key, got, crashRecord(key, stage))
					}
				}
				for got, err := range f.All(ctx) { // nothing but values the child wrote
					if err != nil || !isStage(got, 0) {
						t.Fatalf("round %d: unexpected record %+v (%v)", round, got, err)
					}
				}
				closeFile(t, f)
			}
			t.Logf("%d keys acknowledged in all; %d torn lines dropped; %d kills during a compaction", len(acked), torn, midCompaction)
		})
	}
}

// crashRound runs a child and kills it after a random number of
// acknowledgements, or while it opens the store. It adds what the child
// acknowledged to acked and returns how many acknowledgements it read.
func crashRound(t *testing.T, path, mode string, round int, acked map[string]int) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFileCrash$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path, "CRASH_MODE="+mode, fmt.Sprint("CRASH_ROUND=", round))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killAt := rand.IntN(1000) // 0: while the child opens (and compacts) the store
	if rand.IntN(4) == 0 {
		killAt = 0
	}
	kill := sync.OnceFunc(func() { cmd.Process.Kill() })
	n := 0
	for sc := bufio.NewScanner(out); sc.Scan(); { // until the child is dead and the pipe drained
		kind, key, _ := strings.Cut(sc.Text(), " ")
		switch kind {
		case "opening":
			if killAt == 0 { // a random moment, not a wait for something
				defer time.AfterFunc(rand.N(30*time.Millisecond), kill).Stop()
			}
		case "0", "1", "2":
			acked[key] = int(kind[0] - '0')
			if n++; n >= killAt {
				kill()
			}
		}
	}
	err = cmd.Wait()
	if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.Exited() {
		t.Fatalf("round %d: the child was not killed but ended: %v\n%s", round, err, stderr.Bytes())
	}
	return n
}

// crashChild puts records from 4 goroutines until it is killed, printing
// "stage key" for each acknowledged one.
func crashChild(path string) {
	opts := checkpoint.Options{CompactAfter: 100, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	if os.Getenv("CRASH_MODE") == "group-commit" {
		opts.GroupCommit = time.Millisecond
	}
	fmt.Println("opening")
	f, err := checkpoint.Open(path, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := next.Add(1); i < 1e7; i = next.Add(1) {
				key := fmt.Sprintf("r%s-%07d", os.Getenv("CRASH_ROUND"), i)
				for stage := range stages {
					if err := f.Put(ctx, crashRecord(key, stage)); err != nil {
						fmt.Fprintln(os.Stderr, err)
						os.Exit(3)
					}
					// One small write per line: lines from the goroutines don't mix.
					os.Stdout.WriteString(fmt.Sprintln(stage, key))
				}
			}
		})
	}
	wg.Wait()
	os.Exit(4) // never reached in practice: the parent kills first
}

// TestFileLockOtherProcess: a second process can't open a journal in use,
// and its error names the holder's PID.
func TestFileLockOtherProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	t.Parallel()
	path := filepath.Join(t.TempDir(), "cp.jsonl")
	cmd := exec.Command(os.Args[0], "-test.run=^TestFileCrash$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path, "CRASH_ROUND=0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := sync.OnceFunc(func() { cmd.Process.Kill(); cmd.Wait() })
	t.Cleanup(stop)
	sc := bufio.NewScanner(out)
	for sc.Scan() && sc.Text() == "opening" { // the first acknowledgement: the child holds the store
	}
	_, err = checkpoint.Open(path, checkpoint.Options{Logger: testLogger(t)})
	if want := fmt.Sprint("process ", cmd.Process.Pid, " "); !errors.Is(err, checkpoint.ErrLocked) || !strings.Contains(err.Error(), want) {
		t.Fatalf("Open while another process has it: err = %v, want ErrLocked naming %q", err, want)
	}
	t.Log(err)
	stop()
	f := openFile(t, path, checkpoint.Options{}) // the dead holder's lock is gone
	closeFile(t, f)
}
