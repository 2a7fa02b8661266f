package main

import (
	"cmp"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/pool"
	"github.com/pagefleet/pagefleet/session"
)

// live is what -listen serves while a run goes on: its numbers as
// Prometheus metrics at /metrics and as a status page at / (and
// /status.json, which the page polls). Both read one snapshot, so they
// show the same numbers. The counts by reason come from the pool's
// callbacks (hook); the rest — workers, re-logins, memory, the job's
// progress and ETA — is read when asked, from the runner and the progress
// monitor's meter. A nil *live serves nothing and counts nothing.
//
// Its registry is its own, not the global default: a process (or a test)
// may run several jobs one after another, each with its own metrics.
type live struct {
	log      *slog.Logger
	reg      *prometheus.Registry
	durs     *prometheus.HistogramVec
	desc     liveDescs
	srv      *http.Server
	served   chan struct{} // closed when Serve has returned
	promFile string        // where close writes the final values
	url      string

	// Fixed at the start: the handlers read them, and cfg may change
	// before the run (the demo portal sets cfg.URL).
	workerID, portal, version string
	started                   time.Time

	mu            sync.Mutex
	r             *runner     // once logged in
	meter         *pool.Meter // once downloading
	before, total int         // vehicles done by earlier runs; this run's
	closed        bool
	done, stopped int
	failed        map[string]int // by reason: download.ClassName, as the reports group them
	retried       map[string]int
	requeued      map[string]int
	attempts      int
	attemptSecs   float64
	lastFailed    map[string]time.Duration // a vehicle's final failed attempt, until its Result tells failed from stopped

	memMu sync.Mutex
	mem   int64 // the PSS last measured, -1 where it can't be
	memAt time.Time
}

// liveDescs describe the metrics the snapshot makes (the histogram
// describes itself).
type liveDescs struct {
	done, failed, stopped, retried, requeued         *prometheus.Desc
	busy, target, relogins, relaunches, mem, peakMem *prometheus.Desc
	jobTotal, jobDone, eta                           *prometheus.Desc
}

func newLiveDescs() liveDescs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return liveDescs{
		done:       d("jdrun_vehicles_done_total", "Vehicles whose sticker this run saved and checked."),
		failed:     d("jdrun_vehicles_failed_total", "Vehicles this run gave up, by the kind of their last error (the reports' failure kinds).", "reason"),
		stopped:    d("jdrun_vehicles_stopped_total", "Vehicles left unfinished because the run was stopped (Ctrl-C); a rerun resumes them."),
		retried:    d("jdrun_attempts_retried_total", "Failed attempts that were retried, by the kind of their error.", "reason"),
		requeued:   d("jdrun_attempts_requeued_total", "Attempts run again uncharged (logged out, browser relaunched, 429), by the kind of their error.", "reason"),
		busy:       d("jdrun_workers_active", "Worker pages running an attempt now."),
		target:     d("jdrun_workers_target", "Worker pages wanted now (the adaptive controller moves it)."),
		relogins:   d("jdrun_relogins_total", "Logins after the first: a session that ended, or a relaunched browser."),
		relaunches: d("jdrun_browser_relaunches_total", "Browser relaunches after a crash or disconnect."),
		mem:        d("jdrun_memory_pss_bytes", "Proportional set size of jdrun, the Playwright driver and the browser (Linux only)."),
		peakMem:    d("jdrun_memory_pss_peak_bytes", "The most jdrun_memory_pss_bytes the progress monitor saw this run (Linux only)."),
		jobTotal:   d("jdrun_job_vehicles", "Vehicles of the job as this process planned it: done by earlier runs, and this run's."),
		jobDone:    d("jdrun_job_vehicles_done", "Vehicles of the job done, earlier runs included."),
		eta:        d("jdrun_eta_seconds", "Time left for this run's vehicles at the pace of the last five minutes; absent until there is a pace."),
	}
}

// startLive starts serving cfg.Listen, if it is set. The caller closes it.
func startLive(cfg *config, log *slog.Logger) (*live, error) {
	if cfg.Listen == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("%w: METRICS_LISTEN (-listen): %w", errUsage, err)
	}
	l := &live{
		log: log, reg: prometheus.NewRegistry(), desc: newLiveDescs(), served: make(chan struct{}),
		promFile: filepath.Join(cfg.StateDir, "metrics.prom"), url: "http://" + reachableAddr(ln.Addr()) + "/",
		workerID: cfg.WorkerID, portal: session.RedactString(redactedStore(cfg.URL), cfg.secrets()...),
		version: version(), started: time.Now(), mem: -1,
		failed: map[string]int{}, retried: map[string]int{}, requeued: map[string]int{}, lastFailed: map[string]time.Duration{},
	}
	l.durs = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "jdrun_attempt_duration_seconds",
		Help: "How long attempts took, by outcome: done, retried, requeued, failed (the vehicle's last), stopped (cut short by a stop).",
		// From a direct fetch (tens of ms) to a hung request's timeout (minutes).
		Buckets: []float64{.025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 180, 300},
	}, []string{"outcome"})
	// worker_id on every series, the Go runtime's and the process's too, so
	// that the processes of a fleet can be told apart wherever they run.
	reg := prometheus.WrapRegistererWith(prometheus.Labels{"worker_id": cfg.WorkerID}, l.reg)
	if err := errors.Join(reg.Register(l), reg.Register(l.durs), reg.Register(collectors.NewGoCollector()),
		reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))); err != nil {
		ln.Close()
		return nil, fmt.Errorf("live metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(l.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	mux.HandleFunc("GET /{$}", l.page)
	mux.HandleFunc("GET /status.json", l.statusJSON)
	l.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	go func() {
		defer close(l.served)
		if err := l.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Warn("live status page stopped", "err", err)
		}
	}()
	log.Info("live status page and metrics", "url", l.url, "metrics", l.url+"metrics")
	return l, nil
}

// reachableAddr is addr as a browser elsewhere can use it: a listener on
// every interface (":9300") is reached by the host's name.
func reachableAddr(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); err == nil && ip != nil && ip.IsUnspecified() {
		host, _ = os.Hostname()
		return net.JoinHostPort(cmp.Or(host, "localhost"), port)
	}
	return addr.String()
}

// close stops serving, and writes the final values to <state>/metrics.prom
// (the text format of node_exporter's textfile collector): a process that
// ends takes its last increments with it, between two scrapes.
func (l *live) close() {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	if err := prometheus.WriteToTextfile(l.promFile, l.reg); err != nil {
		l.log.Warn("writing the final metrics", "file", l.promFile, "err", err)
	}
	l.srv.Close()
	<-l.served
}

// attach makes the page and the metrics show r's workers and session.
func (l *live) attach(r *runner) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.r = r
	l.mu.Unlock()
	r.live = l
}

// follow gives the live numbers the progress monitor's meter, whose rate
// and ETA follow the recent pace, and the job's size: before vehicles done
// by earlier runs, total to do in this one.
func (l *live) follow(m *pool.Meter, before, total int) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.meter, l.before, l.total = m, before, total
	l.mu.Unlock()
}

// hook makes the pool of pc report its attempts and results here too,
// after pc's own functions.
func (l *live) hook(pc *pool.Config[*session.Tab]) {
	if l == nil {
		return
	}
	onAttempt, onResult := pc.OnAttempt, pc.OnResult
	pc.OnAttempt = func(a pool.Attempt) {
		if onAttempt != nil {
			onAttempt(a)
		}
		l.attempted(a)
	}
	pc.OnResult = func(res pool.Result) {
		if onResult != nil {
			onResult(res)
		}
		l.result(res)
	}
}

// attempted counts a finished attempt. The outcome of a vehicle's last
// failed attempt waits for its Result: given up, or cut short by a stop.
func (l *live) attempted(a pool.Attempt) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.attempts++
	l.attemptSecs += a.Duration.Seconds()
	switch {
	case a.Err == nil:
		l.durs.WithLabelValues("done").Observe(a.Duration.Seconds())
	case a.Requeued:
		l.requeued[download.ClassName(a.Err)]++
		l.durs.WithLabelValues("requeued").Observe(a.Duration.Seconds())
	case !a.Final:
		l.retried[download.ClassName(a.Err)]++
		l.durs.WithLabelValues("retried").Observe(a.Duration.Seconds())
	default:
		l.lastFailed[a.Key] = a.Duration
	}
}

// result counts a vehicle's outcome as the run's report does.
func (l *live) result(res pool.Result) {
	l.mu.Lock()
	defer l.mu.Unlock()
	outcome := "failed"
	switch {
	case res.Err == nil:
		l.done++
	case errors.Is(res.Err, pool.ErrStopped):
		l.stopped++
		outcome = "stopped"
	default:
		l.failed[download.ClassName(res.Err)]++
	}
	if d, ok := l.lastFailed[res.Key]; ok {
		delete(l.lastFailed, res.Key)
		l.durs.WithLabelValues(outcome).Observe(d.Seconds())
	}
}

// liveStatus is one snapshot of the run: what /status.json returns, the
// status page shows and the metrics are made of.
type liveStatus struct {
	WorkerID string    `json:"worker_id"`
	Portal   string    `json:"portal"`
	Version  string    `json:"version"`
	Phase    string    `json:"phase"`
	Started  time.Time `json:"started"`
	Updated  time.Time `json:"updated"`

	JobDone  int     `json:"job_done"`  // earlier runs included
	JobTotal int     `json:"job_total"` // earlier runs' and this run's
	Percent  float64 `json:"percent"`

	Done     int           `json:"done"` // this run's, like the rest
	Failed   int           `json:"failed"`
	Stopped  int           `json:"stopped"`
	Retried  int           `json:"retried"`
	Requeued int           `json:"requeued"`
	Reasons  []reasonCount `json:"reasons"`
	Attempts int           `json:"attempts"`
	MeanSecs float64       `json:"mean_attempt_seconds"`

	WorkersBusy   int   `json:"workers_busy"`
	WorkersTarget int   `json:"workers_target"`
	Queued        int   `json:"queued"` // ready, or waiting out a retry's backoff
	Relogins      int64 `json:"relogins"`
	Relaunches    int64 `json:"relaunches"`
	Memory        int64 `json:"memory_bytes"` // -1: can't be measured here
	PeakMemory    int64 `json:"peak_memory_bytes"`

	PerHour    float64 `json:"per_hour"`    // at the recent pace
	ETASeconds float64 `json:"eta_seconds"` // 0: no pace yet, or nothing left

	Text map[string]string `json:"text"` // the numbers as the page shows them
}

// reasonCount is one kind of error's counts.
type reasonCount struct {
	Reason   string `json:"reason"`
	Failed   int    `json:"failed"`
	Retried  int    `json:"retried"`
	Requeued int    `json:"requeued"`
}

// status takes a snapshot.
func (l *live) status() liveStatus {
	l.mu.Lock()
	s := liveStatus{WorkerID: l.workerID, Portal: l.portal, Version: l.version, Started: l.started, Updated: time.Now(),
		Reasons: []reasonCount{}, Done: l.done, Stopped: l.stopped, Attempts: l.attempts, JobDone: l.before + l.done, JobTotal: l.before + l.total}
	if l.attempts > 0 {
		s.MeanSecs = l.attemptSecs / float64(l.attempts)
	}
	reasons := map[string]bool{}
	for _, by := range []struct {
		counts map[string]int
		sum    *int
	}{{l.failed, &s.Failed}, {l.retried, &s.Retried}, {l.requeued, &s.Requeued}} {
		for reason, n := range by.counts {
			*by.sum += n
			reasons[reason] = true
		}
	}
	for reason := range reasons {
		s.Reasons = append(s.Reasons, reasonCount{reason, l.failed[reason], l.retried[reason], l.requeued[reason]})
	}
	r, meter, closed, total := l.r, l.meter, l.closed, l.total
	l.mu.Unlock()
	slices.SortFunc(s.Reasons, func(a, b reasonCount) int {
		return cmp.Or(cmp.Compare(b.Failed, a.Failed), cmp.Compare(b.Retried+b.Requeued, a.Retried+a.Requeued), cmp.Compare(a.Reason, b.Reason))
	})

	switch {
	case r == nil:
		s.Phase = "logging in"
	case meter == nil:
		s.Phase = "listing the inventory"
	case s.Done+s.Failed+s.Stopped < total && !closed:
		s.Phase = "downloading"
	case s.Stopped > 0:
		s.Phase = "stopped"
	default:
		s.Phase = "finished"
	}
	if r != nil {
		ps := r.stats()
		s.WorkersBusy, s.WorkersTarget, s.Queued = ps.Running, ps.Target, ps.Queued+ps.Waiting
		ss := r.sess.Stats()
		s.Relogins, s.Relaunches = max(ss.Logins-1, 0), ss.Relaunches
		if meter != nil {
			s.PerHour = meter.Rate()
			s.ETASeconds = meter.ETA(total - ps.Done - ps.Failed).Seconds()
		}
	}
	s.Memory = l.memory()
	if s.PeakMemory = s.Memory; meter != nil {
		s.PeakMemory = max(s.Memory, meter.Peak())
	}
	if s.JobTotal > 0 {
		s.Percent = 100 * float64(s.JobDone) / float64(s.JobTotal)
	}
	s.Text = s.text()
	return s
}

// memory is the PSS of jdrun's process tree, measured at most once a
// second: reading every chromium process's smaps costs a few milliseconds.
func (l *live) memory() int64 {
	l.memMu.Lock()
	defer l.memMu.Unlock()
	if time.Since(l.memAt) >= time.Second {
		n, err := session.TreePSS(os.Getpid())
		if err != nil {
			n = -1
		}
		l.mem, l.memAt = n, time.Now()
	}
	return l.mem
}

// text is the numbers of s as the page shows them.
func (s liveStatus) text() map[string]string {
	mb := func(n int64) string {
		if n < 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.0f MB", float64(n)/(1<<20))
	}
	eta := "?"
	if s.ETASeconds > 0 {
		eta = (time.Duration(s.ETASeconds) * time.Second).String()
	}
	return map[string]string{
		"phase": s.Phase, "job": fmt.Sprintf("%d / %d", s.JobDone, s.JobTotal), "percent": fmt.Sprintf("%.1f %%", s.Percent),
		"done": fmt.Sprint(s.Done), "failed": fmt.Sprint(s.Failed), "stopped": fmt.Sprint(s.Stopped),
		"retried": fmt.Sprint(s.Retried), "requeued": fmt.Sprint(s.Requeued),
		"attempts": fmt.Sprint(s.Attempts), "mean": fmt.Sprintf("%.2f s", s.MeanSecs),
		"workers": fmt.Sprintf("%d / %d", s.WorkersBusy, s.WorkersTarget), "queued": fmt.Sprint(s.Queued),
		"relogins": fmt.Sprint(s.Relogins), "relaunches": fmt.Sprint(s.Relaunches),
		"memory": mb(s.Memory), "peak": mb(s.PeakMemory),
		"rate": fmt.Sprintf("%.0f", s.PerHour), "eta": eta,
		"elapsed": s.Updated.Sub(s.Started).Round(time.Second).String(), "updated": s.Updated.Format(time.TimeOnly),
	}
}

// Describe is prometheus.Collector's.
func (l *live) Describe(ch chan<- *prometheus.Desc) {
	d := l.desc
	for _, desc := range []*prometheus.Desc{d.done, d.failed, d.stopped, d.retried, d.requeued, d.busy, d.target,
		d.relogins, d.relaunches, d.mem, d.peakMem, d.jobTotal, d.jobDone, d.eta} {
		ch <- desc
	}
}

// Collect is prometheus.Collector's: the metrics of one snapshot.
func (l *live) Collect(ch chan<- prometheus.Metric) {
	s, d := l.status(), l.desc
	metric := func(desc *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, t, v, labels...)
	}
	metric(d.done, prometheus.CounterValue, float64(s.Done))
	metric(d.stopped, prometheus.CounterValue, float64(s.Stopped))
	for _, rc := range s.Reasons {
		// A series for each kind seen: one that never happened stays absent
		// rather than a zero for every kind there could be.
		for _, c := range []struct {
			desc *prometheus.Desc
			n    int
		}{{d.failed, rc.Failed}, {d.retried, rc.Retried}, {d.requeued, rc.Requeued}} {
			if c.n > 0 {
				metric(c.desc, prometheus.CounterValue, float64(c.n), rc.Reason)
			}
		}
	}
	metric(d.busy, prometheus.GaugeValue, float64(s.WorkersBusy))
	metric(d.target, prometheus.GaugeValue, float64(s.WorkersTarget))
	metric(d.relogins, prometheus.CounterValue, float64(s.Relogins))
	metric(d.relaunches, prometheus.CounterValue, float64(s.Relaunches))
	if s.Memory >= 0 {
		metric(d.mem, prometheus.GaugeValue, float64(s.Memory))
		metric(d.peakMem, prometheus.GaugeValue, float64(s.PeakMemory))
	}
	metric(d.jobTotal, prometheus.GaugeValue, float64(s.JobTotal))
	metric(d.jobDone, prometheus.GaugeValue, float64(s.JobDone))
	if s.ETASeconds > 0 {
		metric(d.eta, prometheus.GaugeValue, s.ETASeconds)
	}
}

//go:embed status.html.tmpl
var statusTemplate string

var statusHTML = template.Must(template.New("status").Parse(statusTemplate))

// page is the status page: the numbers of a snapshot, and a small script
// that fetches /status.json every two seconds and puts its numbers in.
func (l *live) page(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := statusHTML.Execute(w, l.status()); err != nil {
		l.log.Debug("serving the status page", "err", err)
	}
}

func (l *live) statusJSON(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := json.NewEncoder(w).Encode(l.status()); err != nil {
		l.log.Debug("serving /status.json", "err", err)
	}
}
