package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	playwright "github.com/mxschmitt/playwright-go"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pagefleet/pagefleet/examples/portal/dealer"
	"github.com/pagefleet/pagefleet/session"
	"github.com/pagefleet/pagefleet/session/sessiontest"
)

// syncBuffer is a buffer that a test may read while jdrun writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor checks cond until it holds; after a generous two minutes it
// fails the test, naming what it waited for.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !cond(); time.Sleep(25 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited two minutes for %s", what)
		}
	}
}

// gate is a proxy in front of a portal that holds every sticker request
// until the test lets it through: the run progresses when the test says.
type gate struct {
	URL     string
	tickets chan struct{}
	opened  chan struct{}
	once    sync.Once
}

func newGate(t *testing.T, target string) *gate {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	g := &gate{tickets: make(chan struct{}, 1000), opened: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/sticker.pdf") {
			select {
			case <-g.tickets:
			case <-g.opened:
			case <-r.Context().Done():
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(g.open) // before Close, which waits for the requests held here
	g.URL = srv.URL
	return g
}

// let lets n more sticker requests through.
func (g *gate) let(n int) {
	for range n {
		g.tickets <- struct{}{}
	}
}

// open lets every sticker request through from now on.
func (g *gate) open() { g.once.Do(func() { close(g.opened) }) }

// runJDAt runs jdrun in-process against the portal at url, with its
// output and state in dir (absolute paths: no chdir, so it may run in a
// goroutine of its own).
func runJDAt(t *testing.T, ctx context.Context, dir, url string, args ...string) runResult {
	env := map[string]string{"JD_USER": dealer.DemoUser, "JD_PASS": secret}
	args = append([]string{"-url", url, "-out", filepath.Join(dir, "out"), "-state", filepath.Join(dir, "state"), "-progress", "off"}, args...)
	var stdout, stderr syncBuffer
	start := time.Now()
	err := run(ctx, args, func(k string) string { return env[k] }, strings.NewReader(""), &stdout, &stderr)
	r := runResult{err, stdout.String(), stderr.String(), time.Since(start)}
	t.Logf("jdrun %v: err=%v in %v\nstdout:\n%s", args, err, r.took.Round(time.Millisecond), r.stdout)
	return r
}

// liveURL waits for the run in dir to log where it serves its status
// page, and returns that URL.
func liveURL(t *testing.T, dir string) string {
	t.Helper()
	var u string
	waitFor(t, "jdrun to log its status page's URL", func() bool {
		f, err := os.Open(filepath.Join(dir, "state", "jdrun.log"))
		if err != nil {
			return false
		}
		defer f.Close()
		for sc := bufio.NewScanner(f); sc.Scan(); {
			var rec struct{ Msg, URL string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "live status page and metrics" {
				u = rec.URL
				return true
			}
		}
		return false
	})
	return u
}

// get returns the body of url, or nil if it did not answer 200.
func get(url string) []byte {
	resp, err := http.Get(url)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil
	}
	return b
}

// promSeries reads metrics in Prometheus's text format into a value per
// series, named as in PromQL without the worker_id label (a histogram by
// its _count and _sum), and checks that every series has worker_id id.
func promSeries(t *testing.T, text []byte, id string) map[string]float64 {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("metrics do not parse: %v\n%s", err, text)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var labels []string
			worker := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "worker_id" {
					worker = l.GetValue()
					continue
				}
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			if worker != id {
				t.Errorf("%s: worker_id %q, want %q", name, worker, id)
			}
			key := func(suffix string) string {
				if len(labels) == 0 {
					return name + suffix
				}
				return name + suffix + "{" + strings.Join(labels, ",") + "}"
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[key("")] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key("")] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[key("_count")] = float64(m.GetHistogram().GetSampleCount())
				out[key("_sum")] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out
}

// sumOf adds up the series of metric name, whatever their labels.
func sumOf(series map[string]float64, name string) float64 {
	var n float64
	for k, v := range series {
		if k == name || strings.HasPrefix(k, name+"{") {
			n += v
		}
	}
	return n
}

// TestLiveMetricsAndStatusPage runs jdrun with -listen against a faulty
// demo portal (500s, two vehicles gone, short sessions) behind a gate that
// holds the stickers until the test lets them through. While it runs,
// /metrics is scraped and the status page is opened in chromium: it
// renders with no console error and no request elsewhere, and its numbers
// change as vehicles get done. After the run, the final metrics
// (state/metrics.prom) agree with the run's report, reason by reason.
func TestLiveMetricsAndStatusPage(t *testing.T) {
	sessiontest.RequireBrowser(t)
	srv := startPortal(t, dealer.Config{Vehicles: 40, Seed: 5, Photos: 1, Latency: 10 * time.Millisecond,
		ErrorRate: 0.08, GoneVehicles: []int{3, 17}, SessionTTL: 6 * time.Second})
	g := newGate(t, srv.URL())
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	finished := make(chan runResult, 1)
	go func() {
		// Held stickers must not time out: the attempts wait as long as the test.
		finished <- runJDAt(t, ctx, dir, g.URL, "-listen", "127.0.0.1:0", "-worker-id", "live-test", "-workers", "2", "-adaptive=false",
			"-retries", "8", "-fixed-timeouts", "-request-timeout", "2m", "-timeout", "3m", "-stuck-after", "4m")
	}()
	var r runResult
	ran := false
	defer func() { // a failed check must not leave the run behind
		if !ran {
			g.open()
			cancel()
			<-finished
		}
	}()

	base := liveURL(t, dir)
	var scrapes [][]byte
	scrape := func() map[string]float64 {
		t.Helper()
		b := get(base + "metrics")
		if b == nil {
			t.Fatal("/metrics does not answer during the run")
		}
		scrapes = append(scrapes, b)
		return promSeries(t, b, "live-test")
	}
	type status struct {
		Phase       string `json:"phase"`
		WorkersBusy int    `json:"workers_busy"`
	}
	waitFor(t, "the run to start downloading", func() bool {
		var s status
		return json.Unmarshal(get(base+"status.json"), &s) == nil && s.Phase == "downloading" && s.WorkersBusy > 0
	})
	first := scrape()
	want := []string{"jdrun_vehicles_done_total", "jdrun_workers_active", "jdrun_workers_target", "jdrun_relogins_total",
		"jdrun_browser_relaunches_total", "jdrun_job_vehicles", "jdrun_job_vehicles_done", "go_goroutines"}
	if runtime.GOOS == "linux" { // PSS is measured on Linux only
		want = append(want, "jdrun_memory_pss_bytes")
	}
	for _, name := range want {
		if _, ok := first[name]; !ok {
			t.Errorf("/metrics has no %s", name)
		}
	}
	if first["jdrun_vehicles_done_total"] != 0 || first["jdrun_job_vehicles"] != 40 || first["jdrun_workers_target"] != 2 {
		t.Errorf("at the gate: done %v of %v, %v workers wanted; want 0 of 40, 2", first["jdrun_vehicles_done_total"],
			first["jdrun_job_vehicles"], first["jdrun_workers_target"])
	}

	// The status page, in chromium: it renders, then shows the vehicles the
	// gate lets through.
	sess := sessiontest.Open(t, session.Config{})
	page, err := sess.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.ClosePage(page)
	if _, err := sess.Goto(ctx, page, base, session.Expect{Ready: "h1"}); err != nil {
		t.Fatalf("opening the status page: %v", err)
	}
	read := func(key string) string {
		t.Helper()
		v, err := page.Evaluate(`(k) => document.querySelector("[data-k=" + k + "]").textContent`, key)
		if err != nil {
			t.Fatalf("reading %s on the status page: %v", key, err)
		}
		s, _ := v.(string)
		return s
	}
	if got := read("done"); got != "0" {
		t.Errorf("the status page shows %q done before any sticker got through", got)
	}
	if got := read("job"); got != "0 / 40" {
		t.Errorf("the status page shows the job at %q, want 0 / 40", got)
	}
	g.let(6)
	waitFor(t, "the status page to show vehicles done", func() bool { return read("done") != "0" })
	ev, err := sess.Evidence(ctx, page)
	if err != nil || len(ev.Console) > 0 {
		t.Errorf("status page: console errors %v (%v)", ev.Console, err)
	}
	for _, req := range ev.Requests {
		if !strings.HasPrefix(req.URL, base) {
			t.Errorf("the status page requested %s: not its own", req.URL)
		}
	}
	shots := cmp.Or(os.Getenv("PAGEFLEET_SCREENSHOTS"), t.TempDir())
	if _, err := page.Screenshot(playwright.PageScreenshotOptions{Path: playwright.String(filepath.Join(shots, "status.png")), FullPage: playwright.Bool(true)}); err != nil {
		t.Errorf("screenshot of the status page: %v", err)
	}
	html, _ := page.Content()
	if strings.Contains(html, secret) {
		t.Error("the status page shows the password")
	}
	mid := scrape()
	for k, v := range first {
		if strings.HasSuffix(strings.SplitN(k, "{", 2)[0], "_total") && mid[k] < v {
			t.Errorf("%s went down from %v to %v", k, v, mid[k])
		}
	}
	if mid["jdrun_vehicles_done_total"] < 1 {
		t.Errorf("/metrics shows %v done after the status page showed some", mid["jdrun_vehicles_done_total"])
	}

	g.open()
	select {
	case r = <-finished:
		ran = true
	case <-time.After(3 * time.Minute):
		t.Fatal("the run did not finish within 3 minutes of the gate opening")
	}
	if exitCodeOf(r.err) != exitFailures {
		t.Fatalf("jdrun: %v, want exit %d (two vehicles are gone)\n%s", r.err, exitFailures, r.stderr)
	}
	if get(base+"metrics") != nil {
		t.Error("/metrics still answers after the run")
	}

	// The final values against the report.
	prom, err := os.ReadFile(filepath.Join(dir, "state", "metrics.prom"))
	if err != nil {
		t.Fatal(err)
	}
	final := promSeries(t, prom, "live-test")
	m := readMetrics(t, dir)
	var rep summary
	if b, err := os.ReadFile(filepath.Join(dir, "state", "report.json")); err != nil || json.Unmarshal(b, &rep) != nil {
		t.Fatalf("report.json: %v", err)
	}
	t.Logf("report: done %d failed %d retries %d requeues %d relogins %d; metrics.prom:\n%s", rep.Done, rep.Failed, rep.Retries,
		rep.Requeues, rep.Relogins, bytes.Join(grepLines(prom, "jdrun_"), []byte("\n")))
	failedBy, attempts := map[string]int{}, 0
	for _, o := range m.Vehicles {
		if o.State == "failed" {
			failedBy[o.Reason]++
		}
		attempts += o.Attempts + o.Requeues
	}
	if failedBy["HTTP 404"] != 2 {
		t.Errorf("the report has failures %v, want two HTTP 404", failedBy)
	}
	for _, c := range []struct {
		what      string
		got, want float64
	}{
		{"done", final["jdrun_vehicles_done_total"], float64(rep.Done)},
		{"failed", sumOf(final, "jdrun_vehicles_failed_total"), float64(rep.Failed)},
		{"retries", sumOf(final, "jdrun_attempts_retried_total"), float64(rep.Retries)},
		{"requeues", sumOf(final, "jdrun_attempts_requeued_total"), float64(rep.Requeues)},
		{"re-logins", final["jdrun_relogins_total"], float64(rep.Relogins)},
		{"relaunches", final["jdrun_browser_relaunches_total"], float64(rep.Relaunches)},
		{"job vehicles", final["jdrun_job_vehicles"], float64(rep.Selected)},
		{"job done", final["jdrun_job_vehicles_done"], float64(rep.Skipped + rep.Done)},
		{"attempts", sumOf(final, "jdrun_attempt_duration_seconds_count"), float64(attempts)},
		{"last attempts of failed vehicles", final[`jdrun_attempt_duration_seconds_count{outcome="failed"}`], float64(rep.Failed)},
		{"attempts done", final[`jdrun_attempt_duration_seconds_count{outcome="done"}`], float64(rep.Done)},
	} {
		if c.got != c.want {
			t.Errorf("%s: metrics %v, report %v", c.what, c.got, c.want)
		}
	}
	for reason, n := range failedBy {
		if got := final[fmt.Sprintf("jdrun_vehicles_failed_total{reason=%q}", reason)]; got != float64(n) {
			t.Errorf("failed for %q: metrics %v, report %d", reason, got, n)
		}
	}
	if rep.Retries == 0 || rep.Relogins == 0 {
		t.Logf("the run saw %d retries and %d re-logins: those counters were compared at zero", rep.Retries, rep.Relogins)
	}
	for _, b := range scrapes {
		during := promSeries(t, b, "live-test")
		for k, v := range during {
			if strings.HasSuffix(strings.SplitN(k, "{", 2)[0], "_total") && strings.HasPrefix(k, "jdrun_") && v > final[k] {
				t.Errorf("%s: %v during the run, %v at the end", k, v, final[k])
			}
		}
		if bytes.Contains(b, []byte(secret)) {
			t.Error("/metrics shows the password")
		}
	}
	noSecret(t, r, filepath.Join(dir, "state"))
}

// grepLines returns the lines of b that start with prefix.
func grepLines(b []byte, prefix string) [][]byte {
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if bytes.HasPrefix(l, []byte(prefix)) {
			out = append(out, l)
		}
	}
	return out
}

// TestListenRefused: an address jdrun can't listen on is a configuration
// error, said before any browser starts.
func TestListenRefused(t *testing.T) {
	busy := httptest.NewServer(http.NotFoundHandler())
	defer busy.Close()
	addr := strings.TrimPrefix(busy.URL, "http://")
	dir := t.TempDir()
	for _, listen := range []string{"no-port", addr} {
		var stdout, stderr bytes.Buffer
		err := run(t.Context(), []string{"-demo", "-listen", listen, "-state", filepath.Join(dir, "state"), "-out", filepath.Join(dir, "out"),
			"-progress", "off"}, func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
		if exitCodeOf(err) != exitUsage || !strings.Contains(err.Error(), "-listen") {
			t.Errorf("-listen %s: %v, want a configuration error naming -listen", listen, err)
		}
	}
}
