package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pagefleet/pagefleet/examples/portal/dealer"
	"github.com/pagefleet/pagefleet/session/sessiontest"
)

// What an unattended overnight run needs (issue 14): each test failed
// before the change it names.

// TestCtrlCGivesTheGracePeriod: four downloads in flight with 3 s stickers
// finish after a Ctrl-C, within the grace period; the rest stay for the
// next run. Before: they were "stopped" in under a second.
func TestCtrlCGivesTheGracePeriod(t *testing.T) {
	sessiontest.RequireBrowser(t)
	srv := startPortal(t, dealer.Config{Vehicles: 20, Seed: 3, Photos: 1, StickerLatency: 3 * time.Second})
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for srv.Stats().Requests[dealer.KindSticker] < 4 { // four stickers on their way
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	r := runJDContext(t, ctx, dir, srv, secret, "-workers", "4", "-adaptive=false", "-grace", "30s", "-download", "direct")
	if !errors.Is(r.err, errInterrupted) {
		t.Fatalf("jdrun: %v, want interrupted", r.err)
	}
	m := readMetrics(t, dir)
	if m.Run.Done != 4 || m.Run.Stopped != 16 {
		t.Errorf("done %d, not finished %d; want the 4 in flight done within the grace period, 16 left", m.Run.Done, m.Run.Stopped)
	}
	if !strings.Contains(r.stderr, "stopping: 4 downloads in progress get up to 30s to finish; Ctrl-C again") {
		t.Errorf("the Ctrl-C was not acknowledged:\n%s", r.stderr)
	}
}

// TestSecondCtrlCStillWritesTheRecord: a second Ctrl-C stops the downloads
// in flight at once — and the summary, the reports and the checkpoint are
// still written. Before: the process died on the spot.
func TestSecondCtrlCStillWritesTheRecord(t *testing.T) {
	sessiontest.RequireBrowser(t)
	srv := startPortal(t, dealer.Config{Vehicles: 10, Seed: 3, Photos: 1, StickerLatency: time.Hour})
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	hurry := make(chan struct{})
	ctx = context.WithValue(ctx, hurryKey{}, (<-chan struct{})(hurry))
	go func() {
		for srv.Stats().Requests[dealer.KindSticker] < 2 {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		time.Sleep(200 * time.Millisecond)
		close(hurry)
	}()
	r := runJDContext(t, ctx, dir, srv, secret, "-workers", "2", "-adaptive=false", "-grace", "1h", "-download", "direct")
	if !errors.Is(r.err, errInterrupted) || !strings.Contains(r.stdout, "jdrun interrupted") {
		t.Fatalf("jdrun: %v; want interrupted, with its summary\n%s", r.err, r.stdout)
	}
	if m := readMetrics(t, dir); m.Run.Stopped != 10 || !m.Run.Interrupted {
		t.Errorf("report: %+v", m.Run)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "state", "checkpoint.jsonl")); !bytes.Contains(b, []byte(`"state":"pending"`)) {
		t.Errorf("the checkpoint does not record the stopped vehicles as pending:\n%s", b)
	}
}

// TestEveryNightsEvidenceIsKept: each run's reports are kept in runs/, a
// run with nothing to do leaves the last report alone, and jdrun.log has a
// start and an end record, durations in seconds, no secret. Before: a rerun
// overwrote last night's report with an empty one, and the log had neither.
func TestEveryNightsEvidenceIsKept(t *testing.T) {
	sessiontest.RequireBrowser(t)
	srv := startPortal(t, dealer.Config{Vehicles: 8, Seed: 3, Photos: 1})
	dir := t.TempDir()
	if r := runJD(t, dir, srv, secret); r.err != nil {
		t.Fatal(r.err)
	}
	report, _ := os.ReadFile(filepath.Join(dir, "state", "report.html"))
	time.Sleep(1100 * time.Millisecond) // runs are named by their start second
	if r := runJD(t, dir, srv, secret); r.err != nil {
		t.Fatal(r.err)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "state", "report.html")); !bytes.Equal(again, report) {
		t.Error("a run with nothing to do replaced the last report")
	}
	runs, _ := os.ReadDir(filepath.Join(dir, "state", "runs"))
	if len(runs) != 1 {
		t.Errorf("%d run directories, want 1 (the run that did something)", len(runs))
	}
	var rep summary
	b, _ := os.ReadFile(filepath.Join(dir, "state", "report.json"))
	if json.Unmarshal(b, &rep) != nil || rep.Version == "" || rep.Settings["Workers"] == nil || rep.Settings["Password"] != nil {
		t.Errorf("report.json: version %q, settings %v", rep.Version, rep.Settings)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "state", "jdrun.log"))
	var starts, ends int
	for _, line := range bytes.Split(log, []byte("\n")) {
		var rec map[string]any
		if json.Unmarshal(line, &rec) != nil {
			continue
		}
		switch rec["msg"] {
		case "jdrun start":
			starts++
			if rec["version"] == nil || rec["settings"] == nil {
				t.Errorf("start record %s", line)
			}
		case "jdrun end":
			ends++
			if rec["exit_code"] != 0.0 {
				t.Errorf("end record %s", line)
			}
		case "logged in":
			if _, ok := rec["took"].(float64); !ok {
				t.Errorf("a duration not in seconds: %s", line)
			}
		}
	}
	if starts != 2 || ends != 2 || bytes.Contains(log, []byte(secret)) {
		t.Errorf("jdrun.log: %d start and %d end records (want 2 each); password in it: %v", starts, ends, bytes.Contains(log, []byte(secret)))
	}
}

// TestUnreachableSiteFailsFast: a closed port is said at once, with what to
// check, before a browser starts. Before: 17 s of login attempts and raw
// Playwright call logs.
func TestUnreachableSiteFailsFast(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	t.Chdir(t.TempDir())
	var stdout, stderr bytes.Buffer
	env := map[string]string{"JD_USER": "u", "JD_PASS": secret}
	err = run(t.Context(), []string{"-url", closed, "-progress", "off"}, func(k string) string { return env[k] }, nil, &stdout, &stderr)
	if !errors.Is(err, errLogin) || !strings.Contains(err.Error(), "check JD_URL") || strings.Contains(stderr.String(), "session: logged in") ||
		strings.Contains(stderr.String(), "Call log") {
		t.Errorf("jdrun against a closed port: %v\n%s", err, stderr.String())
	}
}

// TestLoginOutageCostsTime: the portal's login page goes down (503) for
// 40 s while sessions last 4 s and an attempt may take 20 s, so re-logins
// fail for longer than an attempt; with no retries allowed, every vehicle
// still ends done: the vehicles that met the outage waited, uncharged.
// Before: each login try waited 30 s for a form the 503 page lacks, and
// the vehicles waiting on it failed at their deadline.
func TestLoginOutageCostsTime(t *testing.T) {
	sessiontest.RequireBrowser(t)
	srv := startPortal(t, dealer.Config{Vehicles: 240, Seed: 5, Photos: 1, Latency: 100 * time.Millisecond,
		SessionTTL: 4 * time.Second, LoginDownAfter: 2, LoginDownFor: 40 * time.Second})
	dir := t.TempDir()
	r := runJD(t, dir, srv, secret, "-download", "direct", "-retries", "0", "-workers", "2", "-adaptive=false", "-timeout", "20s")
	if r.err != nil {
		t.Fatalf("jdrun: %v\n%s", r.err, r.stderr)
	}
	if m := readMetrics(t, dir); m.Run.Done != 240 || m.Run.Failed != 0 {
		t.Errorf("done %d, failed %d; want all 240 done", m.Run.Done, m.Run.Failed)
	}
	if st := srv.Stats(); st.LoginsDown == 0 {
		t.Error("no login met the outage")
	}
	checkSaved(t, filepath.Join(dir, "out"), srv.Vehicles())
}

// TestLoginOutageEndsTheRun: a login that stays down longer than
// -login-outage ends the run with exit 3, and the vehicles it stopped are
// not charged: nothing failed, the rest is left for the next run.
func TestLoginOutageEndsTheRun(t *testing.T) {
	sessiontest.RequireBrowser(t)
	srv := startPortal(t, dealer.Config{Vehicles: 200, Seed: 5, Photos: 1, Latency: 100 * time.Millisecond,
		SessionTTL: 4 * time.Second, LoginDownAfter: 2, LoginDownFor: time.Hour})
	dir := t.TempDir()
	r := runJD(t, dir, srv, secret, "-download", "direct", "-workers", "2", "-adaptive=false", "-timeout", "20s", "-login-outage", "5s")
	if !errors.Is(r.err, errLogin) || exitCodeOf(r.err) != 3 {
		t.Fatalf("jdrun: %v (exit %d), want exit 3 for a login that stays down\n%s", r.err, exitCodeOf(r.err), r.stderr)
	}
	m := readMetrics(t, dir)
	if m.Run.Failed != 0 || m.Run.Done == 0 || m.Run.Done+m.Run.Stopped != 200 {
		t.Errorf("done %d, failed %d, not finished %d; want none failed, the rest left for the next run", m.Run.Done, m.Run.Failed, m.Run.Stopped)
	}
}

// TestLoginOutageWhileListing: the session expires while the inventory is
// being listed and the login page stays down: past -login-outage the run
// ends with exit 3, a login problem, as it does while downloading. A dry
// run lists alone; a run's downloads, alongside the listing, meet the same
// outage, and either may say so first (TestLoginOutageEndsTheRun).
func TestLoginOutageWhileListing(t *testing.T) {
	sessiontest.RequireBrowser(t)
	srv := startPortal(t, dealer.Config{Vehicles: 2000, Seed: 5, Photos: 1, Latency: 100 * time.Millisecond,
		SessionTTL: time.Second, LoginDownAfter: 1, LoginDownFor: time.Hour})
	dir := t.TempDir()
	r := runJD(t, dir, srv, secret, "-dry-run", "-workers", "2", "-login-outage", "3s")
	if !errors.Is(r.err, errLogin) || exitCodeOf(r.err) != 3 {
		t.Fatalf("jdrun: %v (exit %d), want exit 3 for a login that stays down while listing\n%s", r.err, exitCodeOf(r.err), r.stderr)
	}
	if !strings.Contains(r.err.Error(), "listing the inventory") {
		t.Errorf("jdrun: %v; want it to say it was listing the inventory", r.err)
	}
}
