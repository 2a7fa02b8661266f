package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"image/jpeg"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	playwright "github.com/mxschmitt/playwright-go"

	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/examples/portal/dealer"
	"github.com/pagefleet/pagefleet/session"
	"github.com/pagefleet/pagefleet/session/sessiontest"
)

// TestForensics: a run on the demo portal with failures of several kinds —
// a vehicle gone (404), a sticker too large, a crafted sticker, and 500s,
// hangs, truncated and wrong stickers at random — explains every failure:
// one group per cause with the right counts, a bundle for every vehicle
// given up whose screenshot shows the page it failed on, a replay trace
// (-trace failures) without the session cookie, and a report.html that a
// browser shows without console errors, with labelled axes and links that
// resolve. A rerun allowed fewer bundles drops the oldest, and its report
// links none of them.
func TestForensics(t *testing.T) {
	// Several of each: a random fault may come first to one of them.
	gone, huge, crafted := []int{3, 11, 19}, []int{5, 13}, []int{7, 15}
	srv := startPortal(t, dealer.Config{Vehicles: 30, Latency: 20 * time.Millisecond, Seed: 7, Prewarm: true,
		GoneVehicles: gone, HugeVehicles: huge, CraftedVehicles: crafted,
		ErrorRate: 0.08, HangRate: 0.03, TruncateRate: 0.08, MentionRate: 0.08})
	dir := t.TempDir()
	res := runJD(t, dir, srv, secret, "-retries", "0", "-workers", "3", "-request-timeout", "5s", "-trace", "failures")
	if !errors.Is(res.err, errFailures) {
		t.Fatalf("jdrun: %v, want some vehicles failed", res.err)
	}
	noSecret(t, res, dir)
	m := readMetrics(t, dir)
	state := filepath.Join(dir, "state")
	byID := map[string]outcome{}
	for _, o := range m.Vehicles {
		byID[o.ID] = o
	}

	// Groups: every failure in one, counted right, none unexplained.
	perClass, groups := map[string]int{}, map[string]int{}
	for _, o := range m.Run.FailedList {
		perClass[o.Reason]++
	}
	for _, g := range m.Run.Failures {
		groups[g.Class] += g.Count
		if g.Class == "other" || g.Hint == "" || g.First.IsZero() || g.Last.Before(g.First) || len(g.Keys) == 0 {
			t.Errorf("group %+v: unexplained, or without times or examples", g)
		}
		t.Logf("group %3d × %s", g.Count, g.Signature)
	}
	if !maps.Equal(perClass, groups) || m.Run.Failed != len(m.Run.FailedList) {
		t.Errorf("failed vehicles by kind %v, the groups count %v", perClass, groups)
	}
	for _, c := range []struct {
		ids  []int
		want string
	}{{gone, "HTTP 404"}, {huge, "not a valid file"}, {crafted, "not a valid file"}} {
		seen := false
		for _, id := range c.ids {
			o := byID[strconv.Itoa(id)]
			seen = seen || o.Reason == c.want
			if o.State != "failed" {
				t.Errorf("vehicle %d: %s, want failed", id, o.State)
			}
		}
		if !seen {
			t.Errorf("none of vehicles %v failed with %q", c.ids, c.want)
		}
	}

	// Bundles: one for every vehicle given up, showing its page.
	traces := 0
	for _, o := range m.Run.FailedList {
		if len(o.Bundles) == 0 {
			t.Errorf("%s (%s) has no bundle", o.VIN, o.Reason)
			continue
		}
		b := filepath.Join(state, o.Bundles[len(o.Bundles)-1])
		var info download.BundleInfo
		if raw, err := os.ReadFile(filepath.Join(b, "bundle.json")); err != nil || json.Unmarshal(raw, &info) != nil {
			t.Errorf("%s: bundle.json: %v", o.VIN, err)
			continue
		}
		if info.Key != o.VIN || info.Class != o.Reason || len(info.Errors) == 0 || info.Evidence == nil {
			t.Errorf("%s: bundle %+v", o.VIN, info)
			continue
		}
		// A page that never answered shows what was there before it, often
		// nothing: a hung navigation is left blank.
		if info.Class != "timeout" {
			if !strings.HasSuffix(info.Evidence.URL, "/vehicle/"+o.ID) {
				t.Errorf("%s (%s): the bundle shows %s, not the vehicle's page", o.VIN, o.Reason, info.Evidence.URL)
			}
			if colors := screenshotColors(t, filepath.Join(b, "screenshot.jpg")); colors < 3 {
				t.Errorf("%s: the screenshot has %d colours: blank", o.VIN, colors)
			}
		}
		if o.Reason == "HTTP 404" {
			if html, _ := os.ReadFile(filepath.Join(b, "page.html")); !bytes.Contains(html, []byte("not available")) {
				t.Errorf("the gone vehicle's page.html: %.200s", html)
			}
		}
		if o.Trace != "" {
			traces++
			checkTrace(t, filepath.Join(state, o.Trace))
		}
	}
	if want := min(len(m.Run.FailedList), maxTraces); traces != want {
		t.Errorf("%d traces of failed vehicles, want %d", traces, want)
	}
	sess := sessiontest.Open(t, session.Config{})
	for _, o := range m.Run.FailedList {
		if o.Trace != "" {
			showTrace(t, sess, filepath.Join(state, o.Trace))
			break
		}
	}

	// The report, in a browser: both copies, the latest and the run's own.
	web := httptest.NewServer(http.FileServer(http.Dir(state)))
	t.Cleanup(web.Close)
	checkPage(t, sess, web.URL+"/report.html", "report", 2)
	runs, _ := filepath.Glob(filepath.Join(state, "runs", "*", "report.html"))
	if len(runs) != 1 {
		t.Fatalf("runs' reports: %v", runs)
	}
	rel, _ := filepath.Rel(state, runs[0])
	checkPage(t, sess, web.URL+"/"+filepath.ToSlash(rel), "", 2)

	// A rerun with at most 2 bundles: the oldest go, the report links
	// only what is there, and shows the first run in its history.
	time.Sleep(time.Second) // runs are kept by the second they started
	res = runJD(t, dir, srv, secret, "-retries", "0", "-workers", "3", "-request-timeout", "5s", "-retry-failed", "-bundles", "2")
	if entries, _ := os.ReadDir(filepath.Join(state, "bundles")); len(entries) != 2 {
		t.Errorf("%d bundles kept, want 2", len(entries))
	}
	if v := checkPage(t, sess, web.URL+"/report.html", "", 2); v.HistoryRows != 1 {
		t.Errorf("the rerun's report shows %d earlier runs, want 1", v.HistoryRows)
	}
}

// screenshotColors decodes a JPEG and counts the distinct colours of a
// grid of its pixels: 1 for a blank picture.
func screenshotColors(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Error(err)
		return 0
	}
	defer f.Close()
	img, err := jpeg.Decode(f)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return 0
	}
	colors := map[[3]uint32]bool{}
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y += 8 {
		for x := r.Min.X; x < r.Max.X; x += 8 {
			c0, c1, c2, _ := img.At(x, y).RGBA()
			colors[[3]uint32{c0 >> 12, c1 >> 12, c2 >> 12}] = true
		}
	}
	return len(colors)
}

var sessionCookie = regexp.MustCompile(dealer.SessionCookie + `=([^;"\\\s]+)`)

// checkTrace checks that a trace is one Playwright opens — the zip of
// trace.trace and trace.network — that recorded the replay's requests,
// with the session cookie's value redacted.
func checkTrace(t *testing.T, path string) {
	t.Helper()
	z, err := zip.OpenReader(path)
	if err != nil {
		t.Errorf("trace %s: %v", path, err)
		return
	}
	defer z.Close()
	names := map[string]bool{}
	for _, f := range z.File {
		names[f.Name] = true
		r, _ := f.Open()
		b, _ := io.ReadAll(r)
		r.Close()
		for _, m := range sessionCookie.FindAllSubmatch(b, -1) {
			if string(m[1]) != session.Redacted {
				t.Errorf("%s holds the session cookie's value", f.Name)
				break
			}
		}
		if f.Name == "trace.network" && !bytes.Contains(b, []byte("/vehicle/")) {
			t.Errorf("trace.network has no request of the vehicle's page")
		}
	}
	if !names["trace.trace"] || !names["trace.network"] {
		t.Errorf("trace %s holds %v", path, names)
	}
}

// showTrace opens a trace as a user does, with `playwright show-trace`
// (the driver's CLI, serving the viewer on a port), shows it in chromium
// and checks that the viewer lists the replay's navigation to the
// vehicle's page and its requests.
func showTrace(t *testing.T, sess *session.Session, path string) {
	t.Helper()
	inst, err := session.Locate(session.Install{})
	if err != nil {
		t.Fatal(err)
	}
	node := cmp.Or(inst.Node, filepath.Join(inst.DriverDir, "node"))
	cmd := exec.CommandContext(t.Context(), node, filepath.Join(inst.DriverDir, "package", "cli.js"), "show-trace", "-h", "127.0.0.1", "-p", "0", path)
	cmd.Env = append(os.Environ(), "BROWSER=none") // serve only; the test is the browser
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "Listening on "); ok {
				listening <- u
			}
		}
		close(listening)
	}()
	var base string
	select {
	case base = <-listening:
	case <-time.After(time.Minute):
	}
	if base == "" {
		t.Fatal("playwright show-trace did not start")
	}
	t.Logf("ran: %s", strings.Join(cmd.Args, " "))
	page, err := sess.NewPage(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer sess.ClosePage(page)
	viewer := base + "/trace/index.html?trace=" + url.QueryEscape("/trace/file?path="+path)
	if _, err := page.Goto(viewer); err != nil {
		t.Fatal(err)
	}
	if err := page.Locator(".action-title", playwright.PageLocatorOptions{HasText: "Navigate"}).First().WaitFor(); err != nil {
		text, _ := page.Locator("body").InnerText()
		t.Fatalf("the trace viewer shows no navigation: %v\n%.500s", err, text)
	}
	text, _ := page.Locator("body").InnerText()
	if !strings.Contains(text, "/vehicle/") || !regexp.MustCompile(`Network\s*\d+`).MatchString(text) {
		t.Errorf("the trace viewer shows no vehicle page, or no requests:\n%.800s", text)
	}
}

// pageView is what checkPage read of a report.
type pageView struct {
	Charts      []struct{ Labels, Ticks int }
	Links       []string
	HistoryRows int    // earlier runs listed
	Advice      string // bench.html's recommendation
}

// checkPage opens a report in chromium and checks it: no console errors,
// at least charts charts, each with axis labels and ticks, every link
// resolving. It saves a full-page screenshot named name (if not "") in
// $PAGEFLEET_SCREENSHOTS, or else the test's temp dir.
func checkPage(t *testing.T, sess *session.Session, url, name string, charts int) pageView {
	t.Helper()
	ctx := t.Context()
	page, err := sess.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.ClosePage(page)
	if _, err := sess.Goto(ctx, page, url, session.Expect{Ready: "h1"}); err != nil {
		t.Fatalf("opening %s: %v", url, err)
	}
	ev, err := sess.Evidence(ctx, page)
	if err != nil || len(ev.Console) > 0 {
		t.Errorf("%s: console errors %v (%v)", url, ev.Console, err)
	}
	got, err := page.Evaluate(`() => ({
		charts: [...document.querySelectorAll("figure.chart svg")].map(svg => ({
			labels: [...svg.querySelectorAll(".axis-label")].map(e => e.textContent.trim()).filter(Boolean).length,
			ticks: svg.querySelectorAll("text.tick").length,
		})),
		links: [...document.querySelectorAll("a[href]")].map(a => a.href),
		historyRows: (() => { const h = [...document.querySelectorAll("h2")].find(e => e.textContent.startsWith("Earlier runs"));
			return h ? h.nextElementSibling.querySelectorAll("tr").length - 1 : 0 })(),
		advice: (document.querySelector(".advice") || {}).textContent || "",
	})`)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(got)
	var view pageView
	json.Unmarshal(raw, &view)
	if len(view.Charts) < charts {
		t.Errorf("%s: %d charts, want %d", url, len(view.Charts), charts)
	}
	for i, c := range view.Charts {
		if c.Labels < 2 || c.Ticks < 4 {
			t.Errorf("%s: chart %d has %d axis labels and %d ticks", url, i+1, c.Labels, c.Ticks)
		}
	}
	for _, l := range slices.Compact(slices.Sorted(slices.Values(view.Links))) {
		resp, err := http.Get(l)
		if err != nil {
			t.Errorf("%s: link %s: %v", url, l, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: link %s: %s", url, l, resp.Status)
		}
	}
	if name != "" {
		shots := cmp.Or(os.Getenv("PAGEFLEET_SCREENSHOTS"), t.TempDir())
		if _, err := page.Screenshot(playwright.PageScreenshotOptions{Path: playwright.String(filepath.Join(shots, name+".png")), FullPage: playwright.Bool(true)}); err != nil {
			t.Errorf("screenshot of %s: %v", url, err)
		}
	}
	return view
}

// TestBenchReport: bench.html, opened in chromium, has a chart with
// labelled axes, no console errors, and ends with a recommendation.
func TestBenchReport(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	args := []string{"-vehicles", "12", "-workers", "1,3", "-latency", "30ms", "-out", dir}
	if err := runBench(t.Context(), args, func(string) string { return "" }, &stdout, &stderr); err != nil {
		t.Fatalf("jdrun bench: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	t.Logf("jdrun bench:\n%s", stdout.String())
	var rep benchReport
	if raw, err := os.ReadFile(filepath.Join(dir, "bench.json")); err != nil || json.Unmarshal(raw, &rep) != nil || len(rep.Rows) != 3 {
		t.Fatalf("bench.json: %v, %d rows", err, len(rep.Rows))
	}
	for _, r := range rep.Rows {
		if !strings.Contains(r.Timeouts, "file ") || !strings.Contains(r.Timeouts, "answers") {
			t.Errorf("%s %d workers: timeouts learned %q, want those of the stickers", r.Mode, r.Workers, r.Timeouts)
		}
	}
	web := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(web.Close)
	v := checkPage(t, sessiontest.Open(t, session.Config{}), web.URL+"/bench.html", "bench", 1)
	if want := recommend(rep.Rows); !strings.HasPrefix(v.Advice, "Use ") || v.Advice != want || !strings.Contains(stdout.String(), want) {
		t.Errorf("the recommendation %q, want %q, in the page and on stdout", v.Advice, want)
	}
}

// TestRecommend: the advice after a bench, and its reason.
func TestRecommend(t *testing.T) {
	row := func(mode string, workers int, perHour, success float64) benchRow {
		return benchRow{Mode: mode, Workers: workers, FinalWorkers: workers, PerHour: perHour, SuccessPct: success}
	}
	for _, tc := range []struct {
		rows []benchRow
		want string
	}{
		{[]benchRow{row("fixed", 1, 1000, 100), row("fixed", 4, 3800, 100), row("fixed", 8, 3900, 100), row("adaptive", 8, 3700, 100)},
			"Use adaptive (the default): 3700 vehicles/hour, within 3 % of the best fixed count — 4 workers at 3800 (8 workers reach 3900; more workers add memory, not speed)"},
		{[]benchRow{row("fixed", 2, 2000, 100), row("fixed", 6, 6000, 100), row("adaptive", 6, 3000, 100)},
			"Use 6 workers (-adaptive=false -workers 6): 6000 vehicles/hour; adaptive reached 3000."},
		{[]benchRow{row("fixed", 2, 2000, 100), row("fixed", 12, 9000, 80), row("adaptive", 12, 1000, 100)},
			"Use 2 workers (-adaptive=false -workers 2): 2000 vehicles/hour; adaptive reached 1000."},
		{[]benchRow{row("adaptive", 12, 1000, 100)}, "Use adaptive (the default): 1000 vehicles/hour, and it finished the most vehicles."},
	} {
		if got := recommend(tc.rows); !strings.HasPrefix(got, tc.want) {
			t.Errorf("recommend(%v)\n got %q\nwant %q", tc.rows, got, tc.want)
		}
	}
}
