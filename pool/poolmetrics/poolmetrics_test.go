package poolmetrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cenkalti/backoff/v4"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"

	"github.com/pagefleet/pagefleet/pool"
	"github.com/pagefleet/pagefleet/pool/poolmetrics"
	"github.com/pagefleet/pagefleet/pool/pooltest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	errFlaky  = errors.New("flaky")
	errGone   = errors.New("gone")
	errLogout = errors.New("logged out")
)

// reason is a Config.Reason as a browser program's: its own errors by
// name, the pool's by DefaultReason.
func reason(err error) string {
	for _, e := range []error{errFlaky, errGone, errLogout} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return poolmetrics.DefaultReason(err)
}

// scriptedRun runs seven orders through a pool hooked to m, on a fake
// clock: four done (one after a retry, one after a requeue), one gone, one
// failing both its attempts, one still running when the run is stopped.
// It returns when the pool has stopped.
func scriptedRun(t *testing.T, m *poolmetrics.Metrics, relogins *atomic.Int64) {
	t.Helper()
	f := &pooltest.Factory{Script: func(key string, call int) pooltest.Step {
		switch key {
		case "flaky":
			if call == 1 {
				return pooltest.Step{Err: errFlaky}
			}
		case "relog":
			if call == 1 {
				relogins.Add(1)
				return pooltest.Step{Err: pool.Requeue(errLogout)}
			}
		case "gone":
			return pooltest.Step{Err: errGone, Permanent: true}
		case "worn":
			return pooltest.Step{Err: errFlaky}
		case "slow":
			return pooltest.Step{Latency: time.Hour}
		}
		return pooltest.Step{Latency: time.Second}
	}}
	pc := pool.Config[*pooltest.Page]{
		Factory: f, Workers: 3, MaxAttempts: 2, AttemptTimeout: 2 * time.Hour, GracePeriod: time.Second,
		NewBackOff: func() backoff.BackOff { return &backoff.ZeroBackOff{} },
		Logger:     slog.New(slog.DiscardHandler),
	}
	poolmetrics.Hook(m, &pc)
	p, err := pool.New(pc)
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"ok1", "ok2", "flaky", "relog", "gone", "worn", "slow"}
	for _, k := range keys {
		if err := p.Submit(f.Task(k)); err != nil {
			t.Fatal(err)
		}
	}
	p.CloseQueue()
	m.Follow(poolmetrics.Progress{Stats: p.Stats, Before: 3, Total: len(keys)})
	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan error)
	go func() { ran <- p.Run(ctx) }()
	time.Sleep(time.Minute) // the rest is done; slow runs on
	if s := m.Snapshot(); s.Phase == "stopped" || s.WorkersBusy != 1 || s.Done != 4 || s.ETASeconds <= 0 {
		t.Errorf("mid-run: phase %q, %d busy, %d done, ETA %v s; want 1 busy, 4 done, an ETA", s.Phase, s.WorkersBusy, s.Done, s.ETASeconds)
	}
	cancel()
	if err := <-ran; !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v", err)
	}
	f.Check(t)
}

// get serves path from h.
func get(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
	}
	return rec
}

// series reads metrics in the text format into a value per series, named
// as in PromQL without the label worker_id (a histogram by its _count),
// and checks that each series carries worker_id="w7".
func series(t *testing.T, text []byte) map[string]float64 {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(text))
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
			if worker != "w7" {
				t.Errorf("%s has worker_id %q, want w7", name, worker)
			}
			key := name
			if f.GetType() == dto.MetricType_HISTOGRAM {
				key += "_count"
			}
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[key] = float64(m.GetHistogram().GetSampleCount())
			case dto.MetricType_UNTYPED:
				out[key] = m.GetUntyped().GetValue()
			}
		}
	}
	return out
}

func newShopMetrics(t *testing.T, cfg poolmetrics.Config) *poolmetrics.Metrics {
	t.Helper()
	cfg.Prefix, cfg.Noun, cfg.Name, cfg.ID = "shop", "orders", "shopper", "w7"
	cfg.Labels = map[string]string{"worker_id": "w7"}
	cfg.Reason = reason
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	m, err := poolmetrics.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestScriptedRun: the counts by reason, the metrics and /status.json of
// a scripted run all say what happened, and so does the textfile written
// at Close.
func TestScriptedRun(t *testing.T) {
	t.Parallel()
	synctest.Test(t, testScriptedRun)
}

func testScriptedRun(t *testing.T) {
	var relogins atomic.Int64
	textFile := filepath.Join(t.TempDir(), "metrics.prom")
	m := newShopMetrics(t, poolmetrics.Config{
		TextFile: textFile,
		Counters: []poolmetrics.Counter{{Name: "relogins_total", Title: "re-logins", Value: relogins.Load}},
	})
	scriptedRun(t, m, &relogins)

	s := m.Snapshot()
	want := []poolmetrics.ReasonCount{
		{Reason: "flaky", Failed: 1, Retried: 2},
		{Reason: "gone", Failed: 1},
		{Reason: "logged out", Requeued: 1},
	}
	if !slices.Equal(s.Reasons, want) {
		t.Errorf("reasons %+v, want %+v", s.Reasons, want)
	}
	if s.Done != 4 || s.Failed != 2 || s.Stopped != 1 || s.Retried != 2 || s.Requeued != 1 || s.Attempts != 10 ||
		s.JobDone != 7 || s.JobTotal != 10 || s.Phase != "stopped" || s.Counters["relogins_total"] != 1 || s.Memory != -1 {
		t.Errorf("snapshot %+v", s)
	}

	h := m.Handler()
	metrics := series(t, get(t, h, "/metrics").Body.Bytes())
	var js poolmetrics.Status
	if err := json.Unmarshal(get(t, h, "/status.json").Body.Bytes(), &js); err != nil {
		t.Fatal(err)
	}
	checkAgree(t, "/metrics", metrics, js)
	for k, want := range map[string]float64{
		`shop_attempt_duration_seconds_count{outcome="done"}`:     4,
		`shop_attempt_duration_seconds_count{outcome="retried"}`:  2,
		`shop_attempt_duration_seconds_count{outcome="requeued"}`: 1,
		`shop_attempt_duration_seconds_count{outcome="failed"}`:   2,
		`shop_attempt_duration_seconds_count{outcome="stopped"}`:  1,
	} {
		if metrics[k] != want {
			t.Errorf("%s = %v, want %v", k, metrics[k], want)
		}
	}
	if _, ok := metrics["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
	for _, absent := range []string{"shop_memory_pss_bytes", "shop_eta_seconds", `shop_orders_failed_total{reason="logged out"}`} {
		if _, ok := metrics[absent]; ok {
			t.Errorf("%s is there", absent)
		}
	}

	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(textFile)
	if err != nil {
		t.Fatal(err)
	}
	checkAgree(t, "the textfile", series(t, b), m.Snapshot())
}

// checkAgree compares metrics with the Status they should be made of.
func checkAgree(t *testing.T, what string, metrics map[string]float64, s poolmetrics.Status) {
	t.Helper()
	want := map[string]float64{
		"shop_orders_done_total":    float64(s.Done),
		"shop_orders_stopped_total": float64(s.Stopped),
		"shop_workers_active":       float64(s.WorkersBusy),
		"shop_workers_target":       float64(s.WorkersTarget),
		"shop_job_orders":           float64(s.JobTotal),
		"shop_job_orders_done":      float64(s.JobDone),
		"shop_relogins_total":       float64(s.Counters["relogins_total"]),
	}
	for _, rc := range s.Reasons {
		for name, n := range map[string]int{"shop_orders_failed_total": rc.Failed, "shop_attempts_retried_total": rc.Retried,
			"shop_attempts_requeued_total": rc.Requeued} {
			if n > 0 {
				want[fmt.Sprintf("%s{reason=%q}", name, rc.Reason)] = float64(n)
			}
		}
	}
	attempts := 0.0
	for k, v := range metrics {
		if strings.HasPrefix(k, "shop_attempt_duration_seconds_count") {
			attempts += v
		}
		if strings.HasPrefix(k, "shop_") && !strings.HasPrefix(k, "shop_attempt_duration") {
			if _, ok := want[k]; !ok {
				t.Errorf("%s: %s = %v, not in the status", what, k, v)
			}
		}
	}
	want["attempts"], metrics["attempts"] = float64(s.Attempts), attempts
	for k, v := range want {
		if got, ok := metrics[k]; !ok || got != v {
			t.Errorf("%s: %s = %v (present %v), status says %v", what, k, got, ok, v)
		}
	}
}

// TestStatusPage: the page renders the numbers with the item noun and
// the program's name, and loads nothing from elsewhere.
func TestStatusPage(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var relogins atomic.Int64
		m := newShopMetrics(t, poolmetrics.Config{
			Target: "https://shop.example/", Version: "v1.2.3",
			Memory:   func() (int64, error) { return 300 << 20, nil },
			Counters: []poolmetrics.Counter{{Name: "relogins_total", Title: "re-logins", Value: relogins.Load}},
		})
		m.SetPhase("shopping")
		scriptedRun(t, m, &relogins)
		rec := get(t, m.Handler(), "/")
		if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		page := rec.Body.String()
		for _, want := range []string{
			`<title>shopper w7 — 7 / 10</title>`, `orders of the job done`, `orders / hour`, `<th class="num">orders failed</th>`,
			`<b data-k="done">4</b>`, `<b data-k="counter_relogins_total">1</b>re-logins`, `<b data-k="memory">300 MB</b>`,
			`<td>flaky</td><td class="num">1</td><td class="num">2</td>`, "https://shop.example/", "shopper v1.2.3",
			`document.title = "shopper" + " "`, `data-k="phase">stopped<`,
		} {
			if !strings.Contains(page, want) {
				t.Errorf("the page has no %s", want)
			}
		}
		if strings.Contains(page, "vehicle") || strings.Contains(page, "jdrun") {
			t.Error("the page speaks of vehicles or jdrun")
		}
		// Nothing from elsewhere: no script or style file, only relative links.
		for _, m := range regexp.MustCompile(`(?i)(src|href)\s*=\s*"([^"]*)"`).FindAllStringSubmatch(page, -1) {
			if m[1] != "href" || strings.Contains(m[2], ":") || strings.HasPrefix(m[2], "/") {
				t.Errorf("the page refers to %s=%q", m[1], m[2])
			}
		}
		if regexp.MustCompile(`(?i)<link|@import|url\(`).MatchString(page) {
			t.Error("the page loads a style from elsewhere")
		}
		m.Close()
	})
}

// TestMemory: Memory is asked at most once a second, its peak is kept,
// and an error leaves the memory metrics out.
func TestMemory(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		calls, mem, memErr := 0, int64(100), error(nil)
		m := newShopMetrics(t, poolmetrics.Config{Memory: func() (int64, error) { calls++; return mem, memErr }})
		defer m.Close()
		m.Snapshot()
		mem = 500
		if s := m.Snapshot(); calls != 1 || s.Memory != 100 {
			t.Errorf("second snapshot at once: %d calls, memory %d; want 1, 100", calls, s.Memory)
		}
		time.Sleep(time.Second)
		m.Snapshot()
		mem = 200
		time.Sleep(time.Second)
		if s := m.Snapshot(); s.Memory != 200 || s.PeakMemory != 500 || calls != 3 {
			t.Errorf("memory %d peak %d after %d calls; want 200, 500, 3", s.Memory, s.PeakMemory, calls)
		}
		metrics := series(t, get(t, m.Handler(), "/metrics").Body.Bytes())
		if metrics["shop_memory_pss_bytes"] != 200 || metrics["shop_memory_pss_peak_bytes"] != 500 {
			t.Errorf("memory metrics %v, %v", metrics["shop_memory_pss_bytes"], metrics["shop_memory_pss_peak_bytes"])
		}
		memErr = errors.New("no /proc here")
		time.Sleep(time.Second)
		metrics = series(t, get(t, m.Handler(), "/metrics").Body.Bytes())
		if _, ok := metrics["shop_memory_pss_bytes"]; ok {
			t.Error("a memory that can't be measured is exported")
		}
		if s := m.Snapshot(); s.Memory != -1 || s.Text["memory"] != "n/a" {
			t.Errorf("memory %d %q, want -1 n/a", s.Memory, s.Text["memory"])
		}
	})
}

// TestZeroConfig: the zero Config works, with generic names, and so does
// a nil *Metrics (it does nothing).
func TestZeroConfig(t *testing.T) {
	t.Parallel()
	m, err := poolmetrics.New(poolmetrics.Config{})
	if err != nil {
		t.Fatal(err)
	}
	pc := pool.Config[*pooltest.Page]{}
	poolmetrics.Hook(m, &pc)
	pc.OnAttempt(pool.Attempt{Key: "a", Duration: time.Second})
	pc.OnResult(pool.Result{Key: "a"})
	if s := m.Snapshot(); s.Phase != "starting" || s.Done != 1 || s.Attempts != 1 {
		t.Errorf("snapshot %+v", s)
	}
	body := get(t, m.Handler(), "/metrics").Body.String()
	for _, want := range []string{"pool_tasks_done_total 1", "pool_job_tasks 0", `pool_attempt_duration_seconds_count{outcome="done"} 1`} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics has no %q", want)
		}
	}
	if page := get(t, m.Handler(), "/").Body.String(); !strings.Contains(page, "tasks of the job done") {
		t.Error("the page does not speak of tasks")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	var none *poolmetrics.Metrics
	pc = pool.Config[*pooltest.Page]{}
	poolmetrics.Hook(none, &pc)
	none.SetPhase("x")
	none.Follow(poolmetrics.Progress{})
	none.OnAttempt(pool.Attempt{})
	none.OnResult(pool.Result{})
	if url, err := none.Listen("127.0.0.1:0"); url != "" || err != nil || none.Close() != nil || pc.OnResult != nil {
		t.Error("a nil *Metrics does something")
	}
}

// TestListen: Listen serves until Close, which ends with the phase
// finished.
func TestListen(t *testing.T) {
	t.Parallel()
	m := newShopMetrics(t, poolmetrics.Config{})
	url, err := m.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.Follow(poolmetrics.Progress{Total: 5})
	m.SetPhase("shopping")
	resp, err := http.Get(url + "status.json")
	if err != nil {
		t.Fatal(err)
	}
	var s poolmetrics.Status
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := json.Unmarshal(b, &s); err != nil || s.Phase != "shopping" || s.JobTotal != 5 || s.ID != "w7" {
		t.Errorf("status.json: %s (%v)", b, err)
	}
	if _, err := m.Listen("127.0.0.1:0"); err == nil {
		t.Error("a second Listen works")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(url + "metrics"); err == nil {
		t.Error("still serving after Close")
	}
	if got := m.Snapshot().Phase; got != "finished" {
		t.Errorf("phase after Close %q, want finished", got)
	}
	if _, err := m.Listen("no-port"); err == nil {
		t.Error("Listen on no-port works")
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		cfg   poolmetrics.Config
		field string
	}{
		{poolmetrics.Config{Noun: "window stickers"}, "Config.Noun"},
		{poolmetrics.Config{Counters: []poolmetrics.Counter{{Name: "x"}}}, "Config.Counters[0]"},
		{poolmetrics.Config{Prefix: "bad-prefix"}, "Config.Prefix"},
	} {
		if _, err := poolmetrics.New(c.cfg); err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("New(%+v): %v, want an error naming %s", c.cfg, err, c.field)
		}
	}
}

func TestDefaultReason(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("task a: %w", pool.ErrStuck), "stuck"},
		{fmt.Errorf("loading: %w", context.DeadlineExceeded), "timeout"},
		{&pool.PanicError{Value: "boom"}, "panic"},
		{fmt.Errorf("%w: %w", pool.ErrStopped, context.Canceled), "stopped"},
		{context.Canceled, "canceled"},
		{errors.New("HTTP 500"), "error"},
	} {
		if got := poolmetrics.DefaultReason(c.err); got != c.want {
			t.Errorf("DefaultReason(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

// TestGrowingTotal: while the job's total is only what was found so far
// (its items are still being listed), a run that has done all of them is
// not finished, has no ETA, and its page says the total may grow; once
// Follow is called with the final total, it is finished.
func TestGrowingTotal(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		m := newShopMetrics(t, poolmetrics.Config{})
		f := &pooltest.Factory{}
		pc := pool.Config[*pooltest.Page]{Factory: f, Workers: 2, Logger: slog.New(slog.DiscardHandler)}
		poolmetrics.Hook(m, &pc)
		p, err := pool.New(pc)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"a", "b"} {
			if err := p.Submit(f.Task(k)); err != nil {
				t.Fatal(err)
			}
		}
		meter := &pool.Meter{Stats: p.Stats}
		meter.Start()
		defer meter.Stop()
		m.Follow(poolmetrics.Progress{Meter: meter, Before: 1, Total: 2, Growing: true})
		ran := make(chan error)
		go func() { ran <- p.Run(t.Context()) }()
		time.Sleep(time.Minute)
		s := m.Snapshot()
		if s.Done != 2 || s.Phase == "finished" || s.ETASeconds != 0 || !s.Growing || s.JobTotal != 3 {
			t.Errorf("all found done, more to come: phase %q, %d done of %d, ETA %v s, growing %v; want not finished, no ETA",
				s.Phase, s.Done, s.JobTotal, s.ETASeconds, s.Growing)
		}
		if page := get(t, m.Handler(), "/").Body.String(); !strings.Contains(page, "(still listing)") {
			t.Error("the page does not say the total may grow")
		}
		m.Follow(poolmetrics.Progress{Meter: meter, Before: 1, Total: 2})
		if s := m.Snapshot(); s.Phase != "finished" || s.Growing {
			t.Errorf("with the final total: phase %q, growing %v; want finished", s.Phase, s.Growing)
		}
		p.CloseQueue()
		if err := <-ran; err != nil {
			t.Fatal(err)
		}
		m.Close()
	})
}

// TestFollowAgainKeepsTheRate: Follow called again as the total grows
// (Progress.Growing) keeps the pace measured so far — with no Meter given,
// each call made a meter of its own, and the rate and ETA started over at 0.
func TestFollowAgainKeepsTheRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newShopMetrics(t, poolmetrics.Config{})
		defer m.Close()
		start := time.Now()
		stats := func() pool.Stats { return pool.Stats{Done: int(time.Since(start) / time.Second)} }
		m.Follow(poolmetrics.Progress{Stats: stats, Total: 10_000, Growing: true})
		time.Sleep(time.Minute)
		before := m.Snapshot().PerHour
		m.Follow(poolmetrics.Progress{Stats: stats, Total: 20_000}) // the listing ended
		after := m.Snapshot()
		if before == 0 || after.PerHour != before || after.ETASeconds == 0 {
			t.Errorf("rate %v/h while growing; after Follow with the final total: rate %v/h, ETA %v s; want the rate kept, and an ETA",
				before, after.PerHour, after.ETASeconds)
		}
	})
}
