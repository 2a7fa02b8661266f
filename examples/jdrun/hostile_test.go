package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/examples/portal/dealer"
	"github.com/pagefleet/pagefleet/session"
	"github.com/pagefleet/pagefleet/session/sessiontest"
)

// The hostile sites a tester built: each test failed before the fix that
// it names, and must pass now.

// checkSaved checks that out holds a right PDF for each of vehicles and no
// file for any of missing.
func checkSaved(t *testing.T, out string, vehicles []dealer.Vehicle, missing ...int) {
	t.Helper()
	skip := map[int]bool{}
	for _, id := range missing {
		skip[id] = true
	}
	ids := download.NewIDs()
	for _, v := range vehicles {
		ids.Add(v.VIN)
	}
	for _, v := range vehicles {
		_, err := download.Check(filepath.Join(out, v.VIN+".pdf"), download.Target{Validate: []download.Validator{download.PDFOf(v.VIN, ids)}})
		if skip[v.ID] != (err != nil) {
			t.Errorf("vehicle %d (%s): %v", v.ID, v.VIN, err)
		}
	}
	if parts, _ := filepath.Glob(filepath.Join(out, ".pagefleet-*")); len(parts) > 0 {
		t.Errorf("temporary files left: %v", parts)
	}
}

// TestHostileCraftedPDFAndEndlessNext: a sticker whose page tree contains
// itself, one that claims a billion pages, and an inventory whose "next"
// link never ends. Before: the PDF check looped forever (jdrun never
// exited) and the listing read pages forever.
func TestHostileCraftedPDFAndEndlessNext(t *testing.T) {
	sessiontest.RequireBrowser(t)
	srv := startPortal(t, dealer.Config{Vehicles: 30, Seed: 5, Photos: 1, EndlessNext: true, // vehicle 7: bounded, and in fact a valid one-page PDF
		CraftedVehicles: []int{3}, PageBombVehicles: []int{7}})
	dir := t.TempDir()
	r := runJD(t, dir, srv, secret, "-retries", "1", "-max-pages", "50")
	if !errors.Is(r.err, errFailures) {
		t.Fatalf("jdrun: %v, want exit 4 (vehicle 3 failed)\n%s", r.err, r.stderr)
	}
	m := readMetrics(t, dir)
	if m.Run.Done != 29 || m.Run.Failed != 1 || len(m.Run.Failures) != 1 || m.Run.Failures[0].Class != "not a valid file" {
		t.Errorf("report: done %d, failed %d, groups %+v", m.Run.Done, m.Run.Failed, m.Run.Failures)
	}
	checkSaved(t, filepath.Join(dir, "out"), srv.Vehicles(), 3)
	// The listing reads ahead by page number, twice as many pages as it has
	// readers (one per worker, 8 here): that many past the end at most.
	if st := srv.Stats(); st.EndlessPages > 2*8 {
		t.Errorf("read %d inventory pages past the end, want at most the read-ahead window", st.EndlessPages)
	}
}

// TestHostileVINs: lower-case VINs everywhere (before: 0 of 60 saved,
// every PDF "of another vehicle"), and stickers of other vehicles that
// mention the requested VIN in a footer (before: saved under the wrong
// name).
func TestHostileVINs(t *testing.T) {
	sessiontest.RequireBrowser(t)
	srv := startPortal(t, dealer.Config{Vehicles: 40, Seed: 9, Photos: 1, LowercaseVINs: true, MentionRate: 0.1})
	dir := t.TempDir()
	r := runJD(t, dir, srv, secret, "-retries", "8")
	if r.err != nil {
		t.Fatalf("jdrun: %v\n%s", r.err, r.stderr)
	}
	checkSaved(t, filepath.Join(dir, "out"), srv.Vehicles())
	st, m := srv.Stats(), readMetrics(t, dir)
	if st.MentionStickers == 0 || int64(m.Run.WrongPDF) != st.MentionStickers {
		t.Errorf("the portal served %d stickers of other vehicles mentioning the requested VIN; jdrun caught %d", st.MentionStickers, m.Run.WrongPDF)
	}
	if st.DuplicateStickers != st.MentionStickers {
		t.Errorf("%d stickers downloaded twice, want only the %d wrong ones again", st.DuplicateStickers, st.MentionStickers)
	}
}

// TestHostileOneBadVehicle: one vehicle gone (404) and a wrong PDF now and
// then change neither the mode nor the workers for the others. Before: one
// 404 on a direct URL sent every vehicle to its page, and one wrong PDF put
// the rest of the run on one worker.
func TestHostileOneBadVehicle(t *testing.T) {
	sessiontest.RequireBrowser(t)
	srv := startPortal(t, dealer.Config{Vehicles: 60, Seed: 21, Photos: 1, GoneVehicles: []int{4}, MentionRate: 0.02})
	dir := t.TempDir()
	r := runJD(t, dir, srv, secret, "-retries", "2", "-workers", "4", "-adaptive=false", "-v")
	if !errors.Is(r.err, errFailures) {
		t.Fatalf("jdrun: %v, want exit 4 (one vehicle gone)\n%s", r.err, r.stderr)
	}
	checkSaved(t, filepath.Join(dir, "out"), srv.Vehicles(), 4)
	st := srv.Stats()
	if pages := st.Requests[dealer.KindVehicle]; pages > 3 {
		t.Errorf("%d vehicle pages opened: the direct path was given up for more than the gone vehicle", pages)
	}
	if strings.Contains(r.stderr, "one worker views and downloads at a time") || strings.Contains(r.stderr, "opening each page from now on") {
		t.Errorf("one bad vehicle changed the run:\n%s", r.stderr)
	}
	m := readMetrics(t, dir)
	if m.Run.Workers != 4 || m.Run.Failed != 1 || m.Run.Failures[0].Class != "HTTP 404" {
		t.Errorf("report: workers %d, failed %d, groups %+v", m.Run.Workers, m.Run.Failed, m.Run.Failures)
	}
}

// TestHostileBusyVehiclePage: a vehicle page whose script never yields
// stops answering the browser's calls once its DOM is ready. Waiting for
// it is bounded (a page must answer within seconds): the vehicle fails as
// "page hung" in seconds, and the other vehicles are not touched. Before: every page of the site shared the busy page's renderer
// (--process-per-site) and hung with it until the attempt timeout (60 s
// here), and the vehicles in flight beside it failed too.
func TestHostileBusyVehiclePage(t *testing.T) {
	sessiontest.RequireBrowser(t)
	srv := startPortal(t, dealer.Config{Vehicles: 8, Seed: 4, Photos: 1, BusyVehicles: []int{2}})
	dir := t.TempDir()
	r := runJD(t, dir, srv, secret, "-download", "fetch", "-retries", "0", "-workers", "2", "-adaptive=false",
		"-timeout", "60s", "-stuck-after", "90s")
	if !errors.Is(r.err, errFailures) {
		t.Fatalf("jdrun: %v, want exit 4 (the busy vehicle failed)\n%s", r.err, r.stderr)
	}
	m := readMetrics(t, dir)
	if m.Run.Done != 7 || m.Run.Failed != 1 || m.Run.Failures[0].Class != "page hung" {
		t.Errorf("report: done %d, failed %d, groups %+v; want the busy vehicle failed as a page that hung", m.Run.Done, m.Run.Failed, m.Run.Failures)
	}
	if srv.Stats().Busy == 0 {
		t.Error("the portal served no busy page")
	}
	checkSaved(t, filepath.Join(dir, "out"), srv.Vehicles(), 2)
}

// cookieRE finds the portal's session cookie with a value, anywhere.
var cookieRE = regexp.MustCompile(dealer.SessionCookie + `=[A-Za-z0-9_-]{8,}`)

// TestHostileSecrets: requests that hang and time out, on pages and
// stickers, in both paths: no output and no state file holds the session
// cookie or the password, state files are private, and the password is
// not in the environment of the driver or the browser. Before: Playwright's
// call log carried "cookie: sid=…" into stderr, jdrun.log, checkpoint.jsonl
// (0644) and the reports; JD_PASS was inherited by node and chromium.
func TestHostileSecrets(t *testing.T) {
	sessiontest.RequireBrowser(t)
	srv := startPortal(t, dealer.Config{Vehicles: 30, Seed: 4, Photos: 1, HangRate: 0.15, ErrorRate: 0.05})
	bin := buildJDRun(t)
	dir := t.TempDir()
	for _, mode := range []string{"direct", "click"} {
		dir := filepath.Join(dir, mode)
		os.MkdirAll(dir, 0o755)
		cmd := exec.Command(bin, "-url", srv.URL(), "-out", "out", "-state", "state", "-progress", "off", "-v",
			"-download", mode, "-request-timeout", "1s", "-retries", "1", "-workers", "3")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "JD_USER="+dealer.DemoUser, "JD_PASS="+secret)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		leaked := childEnvHolds(t, cmd.Process.Pid, "JD_PASS=")
		cmd.Wait()
		if leaked != "" {
			t.Errorf("%s: JD_PASS is in the environment of %s", mode, leaked)
		}
		if cookieRE.Match(out.Bytes()) || bytes.Contains(out.Bytes(), []byte(secret)) {
			t.Errorf("%s: the session cookie or the password is in jdrun's output", mode)
		}
		if !bytes.Contains(out.Bytes(), []byte("exceeded")) {
			t.Logf("%s: no timeout in the output (the hangs did not bite?)\n%s", mode, out.String()[:min(out.Len(), 6000)])
		}
	}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Base(p) == "jdrun" {
			return nil
		}
		b, _ := os.ReadFile(p)
		if cookieRE.Match(b) || bytes.Contains(b, []byte(secret)) {
			t.Errorf("the session cookie or the password is in %s", p)
		}
		if fi, _ := d.Info(); strings.Contains(p, "state") && runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is mode %v; state files are private (0600)", p, fi.Mode().Perm())
		}
		return nil
	})
}

// childEnvHolds waits for pid's children (the driver, the browser) and
// returns the first whose environment holds the string, or "".
func childEnvHolds(t *testing.T, pid int, s string) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		return ""
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		kids, _ := session.Descendants(pid)
		if len(kids) >= 2 { // the driver and the browser
			for _, k := range kids {
				if env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", k)); err == nil && bytes.Contains(env, []byte(s)) {
					cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", k))
					return fmt.Sprintf("pid %d (%.60s)", k, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
				}
			}
			return ""
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Error("jdrun started no driver or browser within a minute")
	return ""
}

// TestHostileCtrlCWithAHungRequest: every sticker hangs; Ctrl-C must end
// the run within the grace period, not at the request's own timeout.
// Before: a hung direct fetch ignored the cancellation and ran to its
// 60 s timeout.
func TestHostileCtrlCWithAHungRequest(t *testing.T) {
	sessiontest.RequireBrowser(t)
	srv := startPortal(t, dealer.Config{Vehicles: 10, Seed: 2, Photos: 1, HugeVehicles: nil, StickerLatency: time.Hour})
	bin := buildJDRun(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "-url", srv.URL(), "-out", "out", "-state", "state", "-progress", "off",
		"-download", "direct", "-request-timeout", "10m", "-timeout", "20m", "-stuck-after", "30m", "-grace", "1s")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "JD_USER="+dealer.DemoUser, "JD_PASS="+secret)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for srv.Stats().Requests[dealer.KindSticker] == 0 { // the stickers hang now
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
			t.Errorf("exit %v, want %d\n%s", err, exitInterrupted, out.String())
		}
		// Wait returns once every holder of the output pipe closed it,
		// the driver and chromium too: what they print is in out.
		for _, noise := range []string{"Unhandled", "EPIPE", "node:internal", "    at "} {
			if strings.Contains(out.String(), noise) {
				t.Errorf("the terminal got the driver's %q after a Ctrl-C:\n%s", noise, out.String())
			}
		}
	case <-time.After(5 * time.Minute): // the hung requests would take 10
		cmd.Process.Kill()
		t.Fatalf("Ctrl-C did not end the run: the hung requests were not cancelled\n%s", out.String())
	}
}

// TestHostileHugeSticker: a 200 MB sticker without a Content-Length is cut
// off while it streams, and memory stays flat. Before: it was transferred
// and held whole, five times (3.4 GB peak).
func TestHostileHugeSticker(t *testing.T) {
	sessiontest.RequireBrowser(t)
	srv := startPortal(t, dealer.Config{Vehicles: 10, Seed: 6, Photos: 1, HugeVehicles: []int{2}})
	dir := t.TempDir()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := runJD(t, dir, srv, secret, "-retries", "1", "-download", "direct")
	runtime.ReadMemStats(&after)
	if !errors.Is(r.err, errFailures) {
		t.Fatalf("jdrun: %v, want exit 4\n%s", r.err, r.stderr)
	}
	checkSaved(t, filepath.Join(dir, "out"), srv.Vehicles(), 2)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 150<<20 {
		t.Errorf("the run allocated %d MB: the huge sticker was held in memory", alloc>>20)
	}
	if st := srv.Stats(); st.HugeBytes > 2*(maxSticker+8<<20) {
		t.Errorf("the portal sent %d MB of the huge sticker: it was not cut off at %d MB", st.HugeBytes>>20, maxSticker>>20)
	}
}

// TestHostileCrashes kills chromium, and later the Playwright driver, in
// the middle of a run, in each download mode: the session relaunches, logs
// in once, and every vehicle ends up right; the run exits 0. Before: in
// direct mode the fetches kept using the dead context — 66 of 200 failed
// after a browser kill, 72 after a driver kill.
func TestHostileCrashes(t *testing.T) {
	sessiontest.RequireBrowser(t)
	if runtime.GOOS != "linux" {
		t.Skip("finds the browser and the driver through /proc")
	}
	bin := buildJDRun(t)
	for _, mode := range []string{"direct", "click"} {
		t.Run(mode, func(t *testing.T) {
			srv := startPortal(t, dealer.Config{Vehicles: 80, Seed: 8, Photos: 1, Latency: 30 * time.Millisecond})
			dir := t.TempDir()
			cmd := exec.Command(bin, "-url", srv.URL(), "-out", "out", "-state", "state", "-progress", "off",
				"-download", mode, "-workers", "4", "-adaptive=false")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "JD_USER="+dealer.DemoUser, "JD_PASS="+secret)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			kill := func(after int64, what string) {
				for srv.Stats().Stickers < after {
					time.Sleep(10 * time.Millisecond)
				}
				pid := findProcess(t, cmd.Process.Pid, what)
				if pid == 0 {
					t.Fatalf("no %s under jdrun", what)
				}
				if p, err := os.FindProcess(pid); err == nil {
					p.Kill()
				}
				t.Logf("killed the %s (pid %d) after %d stickers", what, pid, srv.Stats().Stickers)
			}
			kill(15, "browser")
			kill(40, "driver")
			if err := cmd.Wait(); err != nil {
				t.Fatalf("jdrun: %v\n%s", err, out.String())
			}
			t.Logf("%s", out.String())
			checkSaved(t, filepath.Join(dir, "out"), srv.Vehicles())
			m := readMetrics(t, filepath.Join(dir))
			if m.Run.Done != 80 || m.Run.Relaunches < 1 {
				t.Errorf("done %d, relaunches %d; want 80, relaunched\n%s", m.Run.Done, m.Run.Relaunches, out.String())
			}
		})
	}
}

// findProcess returns the pid of jdrun's browser ("browser": chromium, a
// child of the driver) or driver ("driver": node), or 0.
func findProcess(t *testing.T, jdrun int, what string) int {
	kids, _ := session.Descendants(jdrun)
	for _, pid := range kids {
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		var ppid int
		if i := bytes.LastIndexByte(stat, ')'); i > 0 {
			if f := bytes.Fields(stat[i+1:]); len(f) > 1 {
				fmt.Sscan(string(f[1]), &ppid)
			}
		}
		switch {
		case what == "driver" && ppid == jdrun && bytes.Contains(cmd, []byte("cli.js")):
			return pid
		case what == "browser" && bytes.Contains(cmd, []byte("chromium")) && !bytes.Contains(cmd, []byte("--type=")):
			return pid
		}
	}
	return 0
}

// TestHostileBrowserOnlyStickers: a portal that serves stickers only to
// its pages answers direct requests with its login form even right after
// a login. jdrun takes that for what it is — not a logout to log in again
// for every vehicle — opens the pages, clicks, and gets every sticker.
func TestHostileBrowserOnlyStickers(t *testing.T) {
	sessiontest.RequireBrowser(t)
	srv := startPortal(t, dealer.Config{Vehicles: 40, Seed: 5, Photos: 1, BrowserOnlyStickers: true})
	dir := t.TempDir()
	r := runJD(t, dir, srv, secret, "-workers", "4", "-adaptive=false")
	if r.err != nil {
		t.Fatalf("jdrun: %v\n%s", r.err, r.stderr)
	}
	checkSaved(t, filepath.Join(dir, "out"), srv.Vehicles())
	if st := srv.Stats(); st.LoginsOK > 6 {
		t.Errorf("%d logins for 40 vehicles: a login per direct request that got the login form", st.LoginsOK)
	}
}

// TestDryRunChangesNothing: -dry-run lists what a run would download and
// leaves the checkpoint as it was. Before, it wrote Pending over the Done
// record of a file it could not find (a share not mounted yet), and the
// real run then downloaded it again.
func TestDryRunChangesNothing(t *testing.T) {
	sessiontest.RequireBrowser(t)
	srv := startPortal(t, dealer.Config{Vehicles: 30, Seed: 8, Photos: 1})
	dir := t.TempDir()
	if r := runJD(t, dir, srv, secret, "-max", "3"); r.err != nil {
		t.Fatalf("jdrun -max 3: %v\n%s", r.err, r.stderr)
	}
	vin := srv.Vehicles()[0].VIN
	if err := os.Remove(filepath.Join(dir, "out", vin+".pdf")); err != nil {
		t.Fatal(err)
	}
	journal := filepath.Join(dir, "state", "checkpoint.jsonl")
	f, err := os.OpenFile(journal, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"key":"torn`) // a run killed mid-line: a real run would repair the file
	f.Close()
	before, _ := os.ReadFile(journal)
	r := runJD(t, dir, srv, secret, "-dry-run")
	if r.err != nil {
		t.Fatalf("jdrun -dry-run: %v\n%s", r.err, r.stderr)
	}
	if listed := strings.Count(r.stdout, ".pdf\t"); listed != 28 || !strings.Contains(r.stdout, vin+"\t") { // VIN, stock, file, URL
		t.Errorf("dry run lists %d vehicles, want the 27 never fetched and %s (file missing):\n%s", listed, vin, r.stdout)
	}
	if after, _ := os.ReadFile(journal); !bytes.Equal(before, after) {
		t.Errorf("the dry run changed the checkpoint:\nbefore %s\nafter %s", before, after)
	}
}
