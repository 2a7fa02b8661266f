package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/examples/portal/dealer"
	"github.com/pagefleet/pagefleet/session/sessiontest"
)

const secret = "Sup3r-S3cret-pa55"

// startPortal starts a demo portal that accepts demo/secret.
func startPortal(t *testing.T, cfg dealer.Config) *dealer.Server {
	t.Helper()
	cfg.Username, cfg.Password = dealer.DemoUser, secret
	srv, err := dealer.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

type runResult struct {
	err            error
	stdout, stderr string
	took           time.Duration
}

// runJD runs jdrun in-process in dir against srv with the given extra flags.
func runJD(t *testing.T, dir string, srv *dealer.Server, password string, args ...string) runResult {
	t.Helper()
	return runJDContext(t, t.Context(), dir, srv, password, args...)
}

// runJDContext is runJD with a context: cancelling it is a Ctrl-C.
func runJDContext(t *testing.T, ctx context.Context, dir string, srv *dealer.Server, password string, args ...string) runResult {
	t.Helper()
	t.Chdir(dir)
	env := map[string]string{"JD_USER": dealer.DemoUser, "JD_PASS": password}
	args = append([]string{"-url", srv.URL(), "-out", "out", "-state", "state", "-progress", "off"}, args...)
	var stdout, stderr bytes.Buffer
	start := time.Now()
	err := run(ctx, args, func(k string) string { return env[k] }, strings.NewReader(""), &stdout, &stderr)
	r := runResult{err, stdout.String(), stderr.String(), time.Since(start)}
	t.Logf("jdrun %v: err=%v in %v\nstdout:\n%s", args, err, r.took.Round(time.Millisecond), r.stdout)
	return r
}

func readMetrics(t *testing.T, dir string) metrics {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "state", "metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m metrics
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// checkFiles checks that out holds exactly one valid PDF per vehicle, named
// by its VIN and carrying it, and nothing else.
func checkFiles(t *testing.T, out string, vehicles []dealer.Vehicle) {
	t.Helper()
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(vehicles) {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("%d files in %s, want %d: %v", len(entries), out, len(vehicles), names)
	}
	for _, v := range vehicles {
		p := filepath.Join(out, v.VIN+".pdf")
		f, err := os.Open(p)
		if err != nil {
			t.Errorf("vehicle %d: %v", v.ID, err)
			continue
		}
		fi, _ := f.Stat()
		for _, check := range []download.Validator{download.PDF(), download.PDFContains(v.VIN)} {
			if err := check(f, fi.Size()); err != nil {
				t.Errorf("%s: %v", p, err)
			}
		}
		f.Close()
	}
}

// noSecret checks that the password appears in no output and no file.
func noSecret(t *testing.T, r runResult, dirs ...string) {
	t.Helper()
	if strings.Contains(r.stdout+r.stderr, secret) || (r.err != nil && strings.Contains(r.err.Error(), secret)) {
		t.Error("the password appears in jdrun's output")
	}
	for _, dir := range dirs {
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(secret)) {
					t.Errorf("the password appears in %s", p)
				}
			}
			return nil
		})
	}
}

// TestStrictSite: a site that takes two requests of a session at once
// and refuses more with 429, and jdrun asked for 16 workers. The listing
// (73 pages) reads fewer pages at once after each refusal, the adaptive
// pool settles at what the site takes, and the 40 vehicles asked for
// (-max) are done. Before, the listing's
// 16 readers had pages refused until their tries ran out: exit 1 before a
// single download.
func TestStrictSite(t *testing.T) {
	sessiontest.RequireBrowser(t)
	srv := startPortal(t, dealer.Config{Vehicles: 1820, Seed: 3, Photos: 1, Latency: 100 * time.Millisecond, MaxInFlight: 2})
	dir := t.TempDir()
	r := runJD(t, dir, srv, secret, "-workers", "16", "-download", "direct", "-max", "40")
	if r.err != nil {
		t.Fatalf("jdrun failed: %v\nstderr:\n%s", r.err, r.stderr)
	}
	checkFiles(t, filepath.Join(dir, "out"), srv.Vehicles()[:40])
	if m := readMetrics(t, dir); m.Run.Done != 40 || m.Run.Failed != 0 {
		t.Errorf("report: done %d, failed %d; want 40 (-max), 0", m.Run.Done, m.Run.Failed)
	}
}

// TestEndToEndWithFaults: 120 vehicles, every fault the portal has, eight
// workers over one session; views and downloads so that the "current
// vehicle" interference bites. Every file must be there and right.
func TestEndToEndWithFaults(t *testing.T) {
	sessiontest.RequireBrowser(t)
	srv := startPortal(t, dealer.Config{
		Vehicles: 120, Seed: 7, Photos: 2, Latency: 20 * time.Millisecond,
		ErrorRate: 0.05, HangRate: 0.01, TruncateRate: 0.02, SoftErrorRate: 0.01,
		// Sessions short enough for many re-logins, long enough that a login
		// on a loaded CI machine (up to 4 s seen) does not outlast one.
		SessionTTL: 5 * time.Second, MaxInFlight: 6, Interference: true,
		CSRFRaceRate: 0.3, // re-logins refused as an expired form: retried, never fatal
	})
	dir := t.TempDir()
	r := runJD(t, dir, srv, secret, "-workers", "8", "-download", "fetch", "-retries", "8",
		"-request-timeout", "2s", "-timeout", "20s", "-stuck-after", "40s")
	if r.err != nil {
		t.Fatalf("jdrun failed: %v\nstderr:\n%s", r.err, r.stderr)
	}
	vehicles := srv.Vehicles()
	checkFiles(t, filepath.Join(dir, "out"), vehicles)

	m := readMetrics(t, dir)
	ps := srv.Stats()
	if m.Run.Done != 120 || m.Run.Failed != 0 || len(m.Vehicles) != 120 {
		t.Errorf("report: done %d failed %d vehicles %d", m.Run.Done, m.Run.Failed, len(m.Vehicles))
	}
	if ps.LoginsOK < 3 || m.Run.Relogins < 2 {
		t.Errorf("want ≥ 2 re-logins: portal saw %d logins, report says %d re-logins", ps.LoginsOK, m.Run.Relogins)
	}
	if ps.WrongStickers == 0 || m.Run.WrongPDF == 0 || int64(m.Run.WrongPDF) > ps.WrongStickers {
		t.Errorf("wrong stickers: portal served %d, jdrun caught %d", ps.WrongStickers, m.Run.WrongPDF)
	}
	if ps.Hangs == 0 || ps.TruncatedStickers == 0 || ps.Errors500 == 0 || ps.TooManyRequests == 0 {
		t.Logf("faults seen by the portal: hangs %d, truncated %d, 500s %d, 429s %d", ps.Hangs, ps.TruncatedStickers, ps.Errors500, ps.TooManyRequests)
	}
	// No vehicle downloaded twice without cause: the portal served a second
	// sticker only to a vehicle whose first one was refused.
	byVIN := map[string]outcome{}
	for _, o := range m.Vehicles {
		byVIN[o.VIN] = o
	}
	for _, v := range vehicles {
		o, served := byVIN[v.VIN], int(ps.StickersByVehicle[v.ID])
		if o.State != "done" || served < 1 || served > o.Downloads || (served > 1 && o.Attempts+o.Requeues < 2) {
			t.Errorf("%s: %+v, portal served %d sticker(s)", v.VIN, o, served)
		}
	}
	var report summary
	b, _ := os.ReadFile(filepath.Join(dir, "state", "report.json"))
	if err := json.Unmarshal(b, &report); err != nil || report.Done != 120 {
		t.Errorf("report.json: done %d, err %v", report.Done, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "state", "report.html")); !bytes.Contains(b, []byte("<svg")) {
		t.Error("report.html has no chart")
	}
	noSecret(t, r, filepath.Join(dir, "state"), filepath.Join(dir, "out"))

	// A rerun resumes: nothing left to download, nothing fetched.
	srv.ResetStats()
	r = runJD(t, dir, srv, secret)
	if r.err != nil || srv.Stats().Stickers != 0 || !strings.Contains(r.stdout, "120 already done") {
		t.Errorf("rerun: err %v, %d stickers fetched", r.err, srv.Stats().Stickers)
	}
}

// TestKilledMidRunResumes SIGKILLs a jdrun process mid-run and reruns it:
// nothing is missing and nothing recorded as done is downloaded again.
func TestKilledMidRunResumes(t *testing.T) {
	sessiontest.RequireBrowser(t)
	srv := startPortal(t, dealer.Config{Vehicles: 150, Seed: 3, Photos: 1, Latency: 30 * time.Millisecond})
	dir := t.TempDir()
	bin := filepath.Join(dir, "jdrun")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	const workers = 4
	cmd := exec.Command(bin, "-url", srv.URL(), "-out", "out", "-state", "state", "-progress", "off", "-workers", strconv.Itoa(workers), "-adaptive=false")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "JD_USER="+dealer.DemoUser, "JD_PASS="+secret)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	journal := filepath.Join(dir, "state", "checkpoint.jsonl")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		b, _ := os.ReadFile(journal)
		if bytes.Count(b, []byte("\n")) > 40 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("jdrun recorded nothing within 2 minutes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	// What survived the kill.
	store, err := checkpoint.Open(journal, checkpoint.Options{})
	if err != nil {
		t.Fatalf("the checkpoint does not open after kill -9: %v", err)
	}
	doneBefore := map[string]bool{}
	for r, err := range store.All(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
		if r.State == checkpoint.Done {
			doneBefore[r.Key] = true
		}
	}
	store.Close()
	before := srv.Stats().StickersByVehicle
	t.Logf("killed with %d vehicles recorded done, %d stickers served", len(doneBefore), srv.Stats().Stickers)
	// What a kill in the middle of saving leaves (the kill above may not
	// have hit one): the rerun must remove it.
	if err := os.WriteFile(filepath.Join(dir, "out", ".pagefleet-KILLEDMIDSAVE0.part"), []byte("%PDF-1.7 partial"), 0o644); err != nil {
		t.Fatal(err)
	}

	r := runJD(t, dir, srv, secret, "-workers", strconv.Itoa(workers))
	if r.err != nil {
		t.Fatalf("rerun failed: %v\n%s", r.err, r.stderr)
	}
	checkFiles(t, filepath.Join(dir, "out"), srv.Vehicles())
	after := srv.Stats().StickersByVehicle
	twice := 0
	for _, v := range srv.Vehicles() {
		if doneBefore[v.VIN] && after[v.ID] != before[v.ID] {
			t.Errorf("%s was recorded done before the kill but downloaded again", v.VIN)
		}
		if after[v.ID] > 1 {
			twice++
		}
	}
	// Only downloads in flight at the kill may have been made twice.
	if twice > workers {
		t.Errorf("%d vehicles downloaded twice, more than the %d in flight", twice, workers)
	}
}

func TestWrongPasswordFailsFast(t *testing.T) {
	sessiontest.RequireBrowser(t)
	srv := startPortal(t, dealer.Config{Vehicles: 5})
	r := runJD(t, t.TempDir(), srv, "not-the-password")
	if !errors.Is(r.err, errLogin) || exitCode(r.err, &bytes.Buffer{}) != exitLogin {
		t.Fatalf("err %v, want a login error (exit %d)", r.err, exitLogin)
	}
	if !strings.Contains(r.err.Error(), "refused the credentials") {
		t.Errorf("message %q does not say the credentials were refused", r.err)
	}
	// Fails fast: one refused login, no retries (how long it took depends
	// on the machine; the count does not).
	if st := srv.Stats(); st.LoginsFailed != 1 || st.LoginsOK != 0 {
		t.Errorf("portal saw %d failed and %d good logins, want exactly 1 failed", st.LoginsFailed, st.LoginsOK)
	}
	if strings.Contains(r.err.Error()+r.stderr, "not-the-password") {
		t.Error("the password appears in the output")
	}
}

func TestCorruptCheckpointIsRefusedUntouched(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.MkdirAll("state", 0o755)
	journal := filepath.Join("state", "checkpoint.jsonl")
	content := []byte(`{"format":"pagefleet-checkpoint","version":1}
{"key":"A","state":"done","attempts":1}
{"key":"B","state":"do
{"key":"C","state":"done","attempts":1}
`)
	os.WriteFile(journal, content, 0o644)
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"-demo", "-state", "state", "-progress", "off"}, func(string) string { return "" }, nil, &stdout, &stderr)
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), journal) || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("err %v, want a clear error naming %s line 3", err, journal)
	}
	if b, _ := os.ReadFile(journal); !bytes.Equal(b, content) {
		t.Error("the corrupt checkpoint was changed")
	}
}

// TestPlan checks resume decisions without a browser.
func TestPlan(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	c, err := loadConfig([]string{"-demo", "-out", "out"}, func(string) string { return "" }, nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll("out", 0o755)
	pdf := sessiontest.PDF("WINDOW STICKER", "VIN 1HGCM82633A004352")
	os.WriteFile(filepath.Join("out", "1HGCM82633A004352.pdf"), pdf, 0o644) // saved, never recorded: adopted
	os.WriteFile(filepath.Join("out", "INTACT00000000001.pdf"), pdf, 0o644)
	size, sum, _ := checkpoint.HashFile(filepath.Join("out", "INTACT00000000001.pdf"))
	abs, _ := filepath.Abs(filepath.Join("out", "INTACT00000000001.pdf"))

	store := checkpoint.NewMemory()
	ctx := context.Background()
	store.Put(ctx, checkpoint.Record{Key: "INTACT00000000001", State: checkpoint.Done, Path: abs, Size: size, SHA256: sum})
	store.Put(ctx, checkpoint.Record{Key: "CHANGED0000000001", State: checkpoint.Done, Path: abs, Size: size, SHA256: "00"})
	store.Put(ctx, checkpoint.Record{Key: "FAILED00000000001", State: checkpoint.Failed, Attempts: 5, Err: "HTTP 500"})
	vehicles := []*vehicle{{VIN: "1HGCM82633A004352"}, {VIN: "INTACT00000000001"}, {VIN: "CHANGED0000000001"},
		{VIN: "FAILED00000000001"}, {VIN: "NEW00000000000001"}, {VIN: "NEW00000000000002"}}

	plan := func(mod func(*config)) []string {
		cfg := *c
		mod(&cfg)
		r, err := newRunner(&cfg, defaultSite(), sessiontest.Logger(t), store)
		if err != nil {
			t.Fatal(err)
		}
		defer r.close()
		r.know(vehicles)
		todo, err := newPlanner(r, nil).plan(ctx, vehicles)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, v := range todo {
			keys = append(keys, v.VIN)
		}
		return keys
	}
	// A plain rerun resumes: what is not done, or whose file changed; the
	// vehicle given up before stays given up.
	if got := strings.Join(plan(func(*config) {}), " "); got != "CHANGED0000000001 NEW00000000000001 NEW00000000000002" {
		t.Errorf("plan: %s", got)
	}
	if r, err := store.Get(ctx, "1HGCM82633A004352"); err != nil || r.State != checkpoint.Done {
		t.Errorf("the unrecorded valid file was not adopted: %+v %v", r, err)
	}
	if got := strings.Join(plan(func(c *config) { c.RetryFailed = true }), " "); got != "CHANGED0000000001 FAILED00000000001 NEW00000000000001 NEW00000000000002" {
		t.Errorf("-retry-failed plan: %s", got)
	}
	if got := strings.Join(plan(func(c *config) { c.MaxDownloads = 1 }), " "); got != "CHANGED0000000001" {
		t.Errorf("MAX_DOWNLOADS=1 plan: %s", got)
	}
}

// TestFilesJudgedWhileListing: a sticker judged while the inventory is
// still being listed was checked against the VINs listed by then. Once the
// listing ends it is judged again: one that names a vehicle listed later
// is that vehicle's — removed, its vehicle recorded to fetch again and
// counted failed; a good one's record loses its mark and stays done. One
// whose second judgement never came (the run died first) is fetched again
// by the next run. Here the files are a dead run's, adopted while listing.
func TestFilesJudgedWhileListing(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	c, err := loadConfig([]string{"-demo", "-out", "out"}, func(string) string { return "" }, nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	const good, wrong, later = "1HGCM82633A004352", "JH4KA7561PC008269", "WVWZZZ1JZXW000001"
	save := func() {
		os.MkdirAll("out", 0o755)
		os.WriteFile(filepath.Join("out", good+".pdf"), sessiontest.PDF("WINDOW STICKER", "VIN "+good), 0o644)
		// A later page's sticker that mentions this vehicle, its VIN glued
		// to the text before it: no word shaped like a VIN.
		os.WriteFile(filepath.Join("out", wrong+".pdf"), sessiontest.PDF("WINDOW STICKER", "VIN"+later+" replaces "+wrong), 0o644)
	}
	ctx := context.Background()
	var store checkpoint.Store
	run := func(finish bool) *runner {
		r, err := newRunner(c, defaultSite(), sessiontest.Logger(t), store)
		if err != nil {
			t.Fatal(err)
		}
		defer r.close()
		r.ids.SetGrowing(true)
		pl := newPlanner(r, func(context.Context, []*vehicle) error { return nil })
		page1, page2 := []*vehicle{{VIN: good}, {VIN: wrong}}, []*vehicle{{VIN: later}}
		r.know(page1)
		if err := pl.add(ctx, page1, false); err != nil { // adopts the files
			t.Fatal(err)
		}
		if finish {
			r.know(page2)
			r.inventoryListed(ctx)
			if err := pl.add(ctx, page2, true); err != nil {
				t.Fatal(err)
			}
		}
		return r
	}
	state := func(vin string) checkpoint.Record {
		rec, err := store.Get(ctx, vin)
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}

	// The listing ends: the files are judged again.
	save()
	store = checkpoint.NewMemory()
	r := run(true)
	if rec := state(wrong); rec.State != checkpoint.Pending || !strings.Contains(rec.Err, later) {
		t.Errorf("the wrong file's record: %+v; want Pending, naming the other VIN", rec)
	}
	if _, err := os.Stat(filepath.Join("out", wrong+".pdf")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the other vehicle's sticker is still saved under %s's name (%v)", wrong, err)
	}
	if rec := state(good); rec.State != checkpoint.Done || rec.Meta[partialMark] != "" {
		t.Errorf("the good file's record: %+v; want Done, the mark cleared", rec)
	}
	rep, sum := &reporter{r: r}, summary{Skipped: 2}
	rep.rejected(&sum)
	if len(rep.outcomes) != 1 || rep.outcomes[0].State != "failed" || rep.outcomes[0].WrongPDF != 1 || sum.Skipped != 1 || sum.Queued != 1 {
		t.Errorf("report: %+v, %d skipped, %d queued; want the wrong file a failure, not done before", rep.outcomes, sum.Skipped, sum.Queued)
	}

	// The run dies before the listing ends: both files keep their mark,
	// and the next run fetches both again.
	save()
	store = checkpoint.NewMemory()
	run(false)
	if rec := state(good); rec.State != checkpoint.Done || rec.Meta[partialMark] == "" {
		t.Fatalf("a file adopted while listing: %+v; want Done, marked", rec)
	}
	r2, err := newRunner(c, defaultSite(), sessiontest.Logger(t), store)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.close()
	all := []*vehicle{{VIN: good}, {VIN: wrong}, {VIN: later}}
	r2.know(all)
	if todo, err := newPlanner(r2, nil).plan(ctx, all); err != nil || len(todo) != 3 {
		t.Errorf("after a run that died while listing: %d to download (%v); want 3", len(todo), err)
	}
}

// TestJudgingAgainEdges: the second judgement of the files saved while
// listing (runner.confirm), where it met other runs and its own timing.
func TestJudgingAgainEdges(t *testing.T) {
	const good, wrong, later = "1HGCM82633A004352", "JH4KA7561PC008269", "WVWZZZ1JZXW000001"
	ctx := context.Background()
	setup := func(t *testing.T, log *slog.Logger) (*runner, checkpoint.Store, checkpoint.Record) {
		dir := t.TempDir()
		t.Chdir(dir)
		c, err := loadConfig([]string{"-demo", "-out", "out", "-retries", "0"}, func(string) string { return "" }, nil, &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll("out", 0o755)
		path, _ := filepath.Abs(filepath.Join("out", wrong+".pdf"))
		pdf := sessiontest.PDF("WINDOW STICKER", "VIN"+later+" replaces "+wrong) // names a later page's VIN, glued to the text
		os.WriteFile(path, pdf, 0o644)
		sum := sha256.Sum256(pdf)
		store := checkpoint.NewMemory()
		r, err := newRunner(c, defaultSite(), log, store)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.close)
		r.ids.SetGrowing(true)
		r.know([]*vehicle{{VIN: good}, {VIN: wrong}})
		// Saved by its only attempt allowed, judged while listing.
		rec := checkpoint.Record{Key: wrong, State: checkpoint.Done, Attempts: 1, Path: path, Size: int64(len(pdf)),
			SHA256: hex.EncodeToString(sum[:]), Owner: c.WorkerID, Meta: map[string]string{partialMark: "listing"}}
		if err := store.Put(ctx, rec); err != nil {
			t.Fatal(err)
		}
		return r, store, rec
	}

	// The wrong file's vehicle is recorded with an attempt left: the
	// attempt that saved it was the last one allowed, and a rerun gave the
	// vehicle up unfetched. A second judgement of the record and file as
	// they were (inventoryListed and confirmLate may both find it Done and
	// check the file before either removes it) counts nothing more.
	t.Run("rejected", func(t *testing.T) {
		r, store, rec := setup(t, sessiontest.Logger(t))
		pdf, err := os.ReadFile(rec.Path)
		if err != nil {
			t.Fatal(err)
		}
		v := r.vehicle(wrong)
		r.counted(func() { v.partial = true }) // its attempt began while listing
		r.know([]*vehicle{{VIN: later}})
		r.inventoryListed(ctx)
		os.WriteFile(rec.Path, pdf, 0o644) // as the other judgement read it, before the first removed it
		r.confirm(ctx, rec)
		got, err := store.Get(ctx, wrong)
		if err != nil || got.State != checkpoint.Pending || got.Attempts >= r.tr.MaxAttempts() {
			t.Errorf("the wrong file's record: %+v (%v); want Pending with fewer than %d attempts", got, err, r.tr.MaxAttempts())
		}
		if n := v.wrongPDF; n != 1 {
			t.Errorf("%d wrong PDFs counted for one file", n)
		}
	})

	// A mark left by an earlier run with the same worker ID is not this
	// run's to judge: the file stays as it is until planning takes it for
	// one to fetch again. It was judged, removed and counted failed — and
	// when its vehicle was then downloaded right, still reported failed.
	t.Run("earlier run", func(t *testing.T) {
		r, store, rec := setup(t, sessiontest.Logger(t))
		r.know([]*vehicle{{VIN: later}})
		r.inventoryListed(ctx)
		if got, _ := store.Get(ctx, wrong); got.State != checkpoint.Done || len(r.rejected) != 0 {
			t.Errorf("an earlier run's marked record: %+v, rejected %v; want it left for planning", got, r.rejected)
		}
		if _, err := os.Stat(rec.Path); err != nil {
			t.Errorf("an earlier run's file was removed: %v", err)
		}
		todo, err := newPlanner(r, nil).plan(ctx, []*vehicle{r.vehicle(wrong)})
		if err != nil || len(todo) != 1 {
			t.Errorf("planned %d to download (%v); want the marked file fetched again", len(todo), err)
		}
	})

	// A file adopted as the listing ends is marked if it was checked while
	// the listing went on: the mark was taken after the check, from the
	// listing's state then, and a file judged on part of the VINs went
	// unmarked — trusted for good.
	t.Run("adopted as the listing ends", func(t *testing.T) {
		var r *runner
		log := slog.New(onMessage{Handler: sessiontest.Logger(t).Handler(), msg: "found a valid file from an interrupted run; recorded it",
			do: func() { r.ids.SetGrowing(false) }})
		r, _, _ = setup(t, log)
		rec, ok := r.adopt(ctx, wrong)
		if !ok || rec.Meta[partialMark] == "" {
			t.Errorf("adopted (%v) %+v; want the mark of a file judged while listing", ok, rec)
		}
	})
}

// onMessage is a slog handler that runs do when it sees msg.
type onMessage struct {
	slog.Handler
	msg string
	do  func()
}

func (h onMessage) Handle(ctx context.Context, rec slog.Record) error {
	if rec.Message == h.msg {
		h.do()
	}
	return h.Handler.Handle(ctx, rec)
}

// TestPreflightBeforeTheFirstDownload: when the plan needs more disk than
// there is, the run says so before it downloads anything — not after its
// pool has started on the vehicles (with the listing first, as here with
// the adaptive worker count, the preflight came once they were handed
// over). The disk here is too small because the checkpoint says the
// stickers saved so far take a petabyte each.
func TestPreflightBeforeTheFirstDownload(t *testing.T) {
	sessiontest.RequireBrowser(t)
	srv := startPortal(t, dealer.Config{Vehicles: 20, Seed: 4, Photos: 1})
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "state"), 0o755); err != nil {
		t.Fatal(err)
	}
	store, err := checkpoint.Open(filepath.Join(dir, "state", "checkpoint.jsonl"), checkpoint.Options{})
	if err != nil {
		t.Fatal(err)
	}
	huge := checkpoint.Record{Key: "1FTFW1ET5DFC10312", State: checkpoint.Done, Path: filepath.Join(dir, "out", "elsewhere.pdf"),
		Size: 1 << 50, SHA256: strings.Repeat("ab", 32), Owner: "an earlier run"}
	if err := store.Put(t.Context(), huge); err != nil {
		t.Fatal(err)
	}
	store.Close()
	res := runJD(t, dir, srv, secret)
	if !errors.Is(res.err, errPreflight) {
		t.Fatalf("jdrun: %v; want the preflight's error\n%s", res.err, res.stderr)
	}
	if n := srv.Stats().Stickers; n != 0 {
		t.Errorf("%d stickers fetched before the preflight stopped the run", n)
	}
	all, err := checkpoint.ReadFile(filepath.Join(dir, "state", "checkpoint.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if tally, _ := checkpoint.Count(t.Context(), all, nil); tally.Records != 1 {
		t.Errorf("the checkpoint has %+v; want only the record it had: no vehicle claimed", tally)
	}
	if _, err := os.Stat(filepath.Join(dir, "state", "report.html")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a report of a run that downloaded nothing (%v)", err)
	}
}

// TestDownloadsStartWhileListing: the first stickers are fetched while
// the inventory is still being listed: here its last page is held back
// until a sticker has been served, which a run that lists everything
// first would wait for forever. The run gets every vehicle right, each
// sticker fetched once.
func TestDownloadsStartWhileListing(t *testing.T) {
	sessiontest.RequireBrowser(t)
	srv := startPortal(t, dealer.Config{Vehicles: 60, Seed: 9, Photos: 1, PageSize: 20})
	target, _ := url.Parse(srv.URL())
	proxy := httputil.NewSingleHostReverseProxy(target)
	served := make(chan struct{})
	var once sync.Once
	gate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/inventory" && r.URL.Query().Get("page") == "3" {
			select {
			case <-served:
			case <-time.After(time.Minute):
				http.Error(w, "no sticker was fetched before the last inventory page", http.StatusGatewayTimeout)
				return
			case <-r.Context().Done():
				return
			}
		}
		proxy.ServeHTTP(w, r)
		if strings.HasSuffix(r.URL.Path, "/sticker.pdf") {
			once.Do(func() { close(served) })
		}
	}))
	defer gate.Close()
	dir := t.TempDir()
	res := runJD(t, dir, srv, secret, "-url", gate.URL, "-workers", "3", "-adaptive=false", "-retries", "0")
	if res.err != nil {
		t.Fatalf("jdrun: %v\n%s", res.err, res.stderr)
	}
	checkFiles(t, filepath.Join(dir, "out"), srv.Vehicles())
	if n := srv.Stats().Stickers; n != 60 {
		t.Errorf("%d stickers served for 60 vehicles", n)
	}
}

// TestItemsFinishedAtTheClaimAreCounted: a rerun after a crash finishes
// some vehicles without an attempt — one whose sticker the dead run saved
// (adopted), one the process died on twice (a poison pill). They were
// counted "not finished" and missing from the report; they are done and
// failed, and neither is downloaded.
func TestItemsFinishedAtTheClaimAreCounted(t *testing.T) {
	sessiontest.RequireBrowser(t)
	srv := startPortal(t, dealer.Config{Vehicles: 5, Seed: 5, Photos: 1})
	saved, poison := srv.Vehicles()[0], srv.Vehicles()[1]
	dir := t.TempDir()
	for _, d := range []string{"out", "state"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pdf, err := srv.StickerPDF(saved.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "out", saved.VIN+".pdf"), pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	store, err := checkpoint.Open(filepath.Join(dir, "state", "checkpoint.jsonl"), checkpoint.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []checkpoint.Record{
		{Key: saved.VIN, State: checkpoint.Running, Attempts: 1, Owner: "dead"},
		{Key: poison.VIN, State: checkpoint.Running, Attempts: 2, Crashes: 1, Owner: "dead"},
	} {
		if err := store.Put(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	store.Close()

	r := runJD(t, dir, srv, secret, "-workers", "2", "-adaptive=false")
	if !errors.Is(r.err, errFailures) {
		t.Errorf("err %v, want the poison pill's failure", r.err)
	}
	m := readMetrics(t, dir)
	if m.Run.Done != 4 || m.Run.Failed != 1 || m.Run.Stopped != 0 {
		t.Errorf("done %d, failed %d, not finished %d; want 4, 1, 0", m.Run.Done, m.Run.Failed, m.Run.Stopped)
	}
	if len(m.Run.FailedList) != 1 || m.Run.FailedList[0].VIN != poison.VIN || m.Run.FailedList[0].Reason != "crashed the process" {
		t.Errorf("failed vehicles %+v, want %s as crashed the process", m.Run.FailedList, poison.VIN)
	}
	if len(m.Vehicles) != 5 {
		t.Errorf("the report lists %d vehicles, want all 5", len(m.Vehicles))
	}
	if st := srv.Stats(); st.StickersByVehicle[saved.ID] != 0 || st.StickersByVehicle[poison.ID] != 0 {
		t.Errorf("stickers served: %v; want none for %d (saved) and %d (poison)", st.StickersByVehicle, saved.ID, poison.ID)
	}
	checkFiles(t, filepath.Join(dir, "out"), slices.DeleteFunc(srv.Vehicles(), func(v dealer.Vehicle) bool { return v.ID == poison.ID }))
}
