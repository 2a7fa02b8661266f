package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/checkpoint/postgres"
	"github.com/pagefleet/pagefleet/examples/portal/dealer"
	"github.com/pagefleet/pagefleet/session/sessiontest"
)

// testPostgres returns the test database's URL, failing loudly without one.
func testPostgres(t *testing.T) string {
	t.Helper()
	if os.Getenv("PAGEFLEET_SKIP_POSTGRES_TESTS") == "1" {
		t.Skip("PAGEFLEET_SKIP_POSTGRES_TESTS=1")
	}
	dsn := os.Getenv("PAGEFLEET_TEST_POSTGRES")
	if dsn == "" {
		t.Fatal(`PAGEFLEET_TEST_POSTGRES is not set: run eval "$(scripts/postgres)" (scripts/test does), or set PAGEFLEET_SKIP_POSTGRES_TESTS=1`)
	}
	return dsn
}

func buildJDRun(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "jdrun")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestScaleOutThreeProcesses: three jdrun processes share one PostgreSQL
// checkpoint and one output directory; one is SIGKILLed mid-run. The other
// two take over its vehicles once its leases run out, and every vehicle ends
// up done once, with its right file.
func TestScaleOutThreeProcesses(t *testing.T) {
	sessiontest.RequireBrowser(t)
	dsn := testPostgres(t)
	table := fmt.Sprintf("jdrun_scaleout_%d", time.Now().UnixNano())
	srv := startPortal(t, dealer.Config{Vehicles: 300, Seed: 11, Photos: 1, Latency: 40 * time.Millisecond, ErrorRate: 0.02})
	bin := buildJDRun(t)
	dir := t.TempDir()
	const workers = 3

	start := func(id string) (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(bin, "-url", srv.URL(), "-out", filepath.Join(dir, "out"), "-state", filepath.Join(dir, "state-"+id),
			"-store", dsn, "-store-table", table, "-worker-id", id, "-lease-ttl", "3s",
			"-workers", fmt.Sprint(workers), "-adaptive=false", "-progress", "off")
		cmd.Env = append(os.Environ(), "JD_USER="+dealer.DemoUser, "JD_PASS="+secret)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &out
	}
	w1, out1 := start("w1")
	w2, _ := start("w2")
	w3, out3 := start("w3")

	store, err := postgres.Open(t.Context(), dsn, postgres.Options{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	countDone := func() (n int, owners map[string]int) {
		owners = map[string]int{}
		for r, err := range store.All(t.Context()) {
			if err != nil {
				t.Fatal(err)
			}
			if r.State == checkpoint.Done {
				n++
				owners[r.Owner]++
			}
		}
		return n, owners
	}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if _, owners := countDone(); owners["w2"] >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("w2 finished nothing within 2 minutes")
		}
	}
	w2.Process.Signal(syscall.SIGKILL)
	w2.Wait()
	served := srv.Stats().Stickers
	doneAtKill, owners := countDone()
	t.Logf("killed w2 with %d stickers served; done so far by owner: %v", served, owners)
	if doneAtKill > 250 {
		t.Logf("the kill came late (%d of 300 done): the takeover was barely exercised", doneAtKill)
	}

	for name, w := range map[string]*exec.Cmd{"w1": w1, "w3": w3} {
		done := make(chan error, 1)
		go func() { done <- w.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: %v\n%s", name, err, map[string]*bytes.Buffer{"w1": out1, "w3": out3}[name])
			}
		case <-time.After(3 * time.Minute):
			w.Process.Kill()
			t.Fatalf("%s did not finish", name)
		}
	}
	n, owners := countDone()
	t.Logf("done by owner: %v", owners)
	if n != 300 {
		t.Errorf("%d vehicles done in the checkpoint, want 300", n)
	}
	checkFiles(t, filepath.Join(dir, "out"), srv.Vehicles())
	// Only stickers in flight when w2 died may have been served twice.
	ps := srv.Stats()
	if extra := ps.Stickers - 300; extra < 0 || extra > workers {
		t.Errorf("the portal served %d stickers for 300 vehicles: more than the %d in flight at the kill", ps.Stickers, workers)
	}

	// The combined report sees all three workers.
	var stdout bytes.Buffer
	err = run(t.Context(), []string{"report", "-store", dsn, "-store-table", table, "-state", dir}, func(string) string { return "" },
		nil, &stdout, &bytes.Buffer{})
	if err != nil || !strings.Contains(stdout.String(), "300 done") || !strings.Contains(stdout.String(), "w1") ||
		!strings.Contains(stdout.String(), "w3") {
		t.Errorf("jdrun report: %v\n%s", err, stdout.String())
	}
	if strings.Contains(stdout.String(), "pagefleet@") && strings.Contains(dsn, ":pagefleet@") {
		t.Error("the report shows the database password")
	}
}

// TestRemoteBrowser runs the job through a Playwright browser server.
func TestRemoteBrowser(t *testing.T) {
	sessiontest.RequireBrowser(t)
	ws := sessiontest.BrowserServer(t)
	srv := startPortal(t, dealer.Config{Vehicles: 20, Photos: 1})
	dir := t.TempDir()
	r := runJD(t, dir, srv, secret, "-browser", ws, "-download", "fetch")
	if r.err != nil {
		t.Fatalf("jdrun through %s: %v\n%s", ws, r.err, r.stderr)
	}
	checkFiles(t, filepath.Join(dir, "out"), srv.Vehicles())
}
