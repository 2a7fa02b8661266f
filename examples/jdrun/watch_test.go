package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/examples/portal/dealer"
	"github.com/pagefleet/pagefleet/session/sessiontest"
)

// TestReportWatch: `jdrun report -watch`, started before any run, waits
// for the checkpoint; then shows the progress of every process writing to
// it, by worker id, as the vehicles get done; and ends by itself once the
// job is finished, its last line agreeing with the report that follows it.
// A file journal is watched beside the one run that holds it; a PostgreSQL
// checkpoint, beside two processes sharing it.
func TestReportWatch(t *testing.T) {
	t.Run("file", func(t *testing.T) { testWatch(t, nil, "w1") })
	t.Run("postgres", func(t *testing.T) {
		dsn := testPostgres(t)
		table := fmt.Sprintf("jdrun_watch_%d", time.Now().UnixNano())
		testWatch(t, []string{"-store", dsn, "-store-table", table}, "w1", "w2")
	})
}

// watchLine is one refresh of -watch off a terminal.
type watchLine struct {
	records, done, failed, unfinished int
	owners                            map[string][3]int // done, failed, unfinished
}

var (
	watchTotals = regexp.MustCompile(`^\S+ (\d+) vehicles: (\d+) done, (\d+) failed, (\d+) unfinished;`)
	watchOwner  = regexp.MustCompile(`\| (\S+) (\d+) done, (\d+) failed, (\d+) unfinished`)
)

// watchLines parses the refresh lines of -watch's output, leaving out the
// rest (waiting for the journal, the report).
func watchLines(out string) []watchLine {
	var lines []watchLine
	for _, l := range strings.Split(out, "\n") {
		m := watchTotals.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		n := func(s string) int { i, _ := strconv.Atoi(s); return i }
		w := watchLine{records: n(m[1]), done: n(m[2]), failed: n(m[3]), unfinished: n(m[4]), owners: map[string][3]int{}}
		for _, o := range watchOwner.FindAllStringSubmatch(l, -1) {
			w.owners[o[1]] = [3]int{n(o[2]), n(o[3]), n(o[4])}
		}
		lines = append(lines, w)
	}
	return lines
}

// testWatch runs `jdrun report -watch` on store (nil: the file journal of
// the first run), then a jdrun per id writing to it, against a portal
// whose stickers wait at a gate until the test lets them through.
func testWatch(t *testing.T, store []string, ids ...string) {
	sessiontest.RequireBrowser(t)
	const vehicles = 24
	srv := startPortal(t, dealer.Config{Vehicles: vehicles, Seed: 7, Photos: 1, Latency: 10 * time.Millisecond, GoneVehicles: []int{4}})
	g := newGate(t, srv.URL())
	base := t.TempDir()
	if store == nil {
		store = []string{"-store", filepath.Join(base, ids[0], "state", "checkpoint.jsonl")}
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	var out, errOut syncBuffer
	watched := make(chan error, 1)
	go func() {
		args := append([]string{"report", "-watch", "-interval", "50ms", "-state", filepath.Join(base, "report")}, store...)
		watched <- run(ctx, args, func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
	}()
	waitFor(t, "-watch to show the store before any run", func() bool { return strings.Contains(out.String(), "\n") })

	finished := make(chan runResult, len(ids))
	for _, id := range ids {
		go func() {
			// Held stickers must not time out: the attempts wait as long as the test.
			finished <- runJDAt(t, ctx, filepath.Join(base, id), g.URL, append(slices.Clone(store), "-worker-id", id, "-workers", "2",
				"-adaptive=false", "-fixed-timeouts", "-request-timeout", "2m", "-timeout", "3m", "-stuck-after", "4m")...)
		}()
	}
	runs := 0
	defer func() { // a failed check must not leave the runs behind
		g.open()
		cancel()
		for ; runs < len(ids); runs++ {
			<-finished
		}
	}()
	last := func() watchLine {
		lines := watchLines(out.String())
		if len(lines) == 0 {
			return watchLine{}
		}
		return lines[len(lines)-1]
	}

	// At the gate: every process has claimed vehicles, none is done.
	waitFor(t, "-watch to show every process's claims", func() bool {
		w := last()
		for _, id := range ids {
			if w.owners[id][2] == 0 {
				return false
			}
		}
		return true
	})
	if w := last(); w.done != 0 {
		t.Errorf("-watch shows %d done before any sticker got through", w.done)
	}
	g.let(4)
	waitFor(t, "-watch to show vehicles done", func() bool { return last().done > 0 })
	if w := last(); w.done+w.failed >= vehicles {
		t.Errorf("-watch shows %d of %d finished with the gate closed", w.done+w.failed, vehicles)
	}

	g.open()
	for ; runs < len(ids); runs++ {
		if r := <-finished; r.err != nil && exitCodeOf(r.err) != exitFailures {
			t.Errorf("jdrun: %v\n%s", r.err, r.stderr)
		}
	}
	var err error
	select {
	case err = <-watched:
	case <-time.After(2 * time.Minute):
		t.Fatal("-watch did not end within 2 minutes of the runs' end")
	}
	text := out.String()
	t.Logf("jdrun report -watch: %v\n%s", err, text)
	if exitCodeOf(err) != exitFailures {
		t.Errorf("jdrun report -watch: %v, want exit %d (a vehicle is gone)\n%s", err, exitFailures, errOut.String())
	}
	end := last()
	if end.records != vehicles || end.done != vehicles-1 || end.failed != 1 || end.unfinished != 0 {
		t.Errorf("-watch's last line: %+v, want %d vehicles, %d done, 1 failed", end, vehicles, vehicles-1)
	}
	if !strings.Contains(text, fmt.Sprintf("%d vehicles — %d done, 1 failed, 0 unfinished", vehicles, vehicles-1)) {
		t.Error("no report after -watch, or not of the finished job")
	}
	var combined struct{ Tally checkpoint.Tally }
	if b, err := os.ReadFile(filepath.Join(base, "report", "combined-report.json")); err != nil || json.Unmarshal(b, &combined) != nil {
		t.Fatalf("combined-report.json: %v", err)
	}
	for _, o := range combined.Tally.Owners {
		if got, want := end.owners[o.Owner], [3]int{o.Done, o.Failed, o.Unfinished}; got != want {
			t.Errorf("-watch's last line has %s at %v, the report %v", o.Owner, got, want)
		}
	}
	if len(end.owners) != len(ids) || len(combined.Tally.Owners) != len(ids) {
		t.Errorf("-watch's last line has workers %v, the report %v; want %v", end.owners, combined.Tally.Owners, ids)
	}
	if strings.Contains(text, secret) || strings.Contains(text, ":pagefleet@") {
		t.Error("-watch shows a password")
	}
}

// TestReportFileJournalErrors: `jdrun report` on a file journal that is
// missing or damaged is a configuration error naming it, and leaves the
// file as it was.
func TestReportFileJournalErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	damaged := filepath.Join(dir, "damaged.jsonl")
	content := "not a record\n" + `{"key":"a","state":"pending","updated":"2026-01-01T00:00:00Z"}` + "\n"
	if err := os.WriteFile(damaged, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ store, says string }{
		{filepath.Join(dir, "missing.jsonl"), "no checkpoint yet at " + filepath.Join(dir, "missing.jsonl")},
		{damaged, damaged + " line 1"},
	} {
		var stdout, stderr syncBuffer
		err := run(t.Context(), []string{"report", "-store", c.store, "-state", dir}, func(string) string { return "" },
			strings.NewReader(""), &stdout, &stderr)
		if exitCodeOf(err) != exitUsage || !strings.Contains(err.Error(), c.says) {
			t.Errorf("report -store %s: %v, want exit %d saying %q", c.store, err, exitUsage, c.says)
		}
	}
	if b, _ := os.ReadFile(damaged); string(b) != content {
		t.Errorf("the damaged journal was changed:\n%s", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.jsonl")); err == nil {
		t.Error("report created the missing journal")
	}
}
