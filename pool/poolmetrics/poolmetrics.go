// Package poolmetrics provides [Metrics]: the numbers of a [pool.PagePool]
// run as Prometheus metrics, a live HTML status page and its JSON, and a
// textfile of the final values — what a person or a monitoring system
// watches while a fleet of pages works through a queue.
//
// # Use
//
// [New] takes a [Config]; the zero Config works. [Hook] makes a
// pool.Config report its attempts and results; [Metrics.Follow] gives the
// pool's Stats and the job's size, for progress, rate and ETA;
// [Metrics.Listen] serves [Metrics.Handler] (/metrics, the status page at
// /, /status.json); [Metrics.Close] stops serving and writes
// Config.TextFile. Counts by reason come from the callbacks; everything
// else is read when a page or a scrape asks, from one snapshot
// ([Metrics.Snapshot]), so the page and the metrics agree.
//
// # Names
//
// Metric names are Config.Prefix, then what they count: with Prefix
// "jdrun" and Noun "vehicles", jdrun_vehicles_done_total,
// jdrun_vehicles_failed_total{reason}, jdrun_vehicles_stopped_total,
// jdrun_attempts_retried_total{reason}, jdrun_attempts_requeued_total{reason},
// jdrun_attempt_duration_seconds{outcome}, jdrun_workers_active,
// jdrun_workers_target, jdrun_job_vehicles, jdrun_job_vehicles_done,
// jdrun_eta_seconds, jdrun_memory_pss_bytes, jdrun_memory_pss_peak_bytes,
// and one per [Counter]. Each Metrics has its own registry (never the
// global one), with the Go runtime's and the process's metrics too, all
// carrying Config.Labels.
//
// # Dependencies
//
// Like pool, this package imports no browser code: what only a browser
// session knows (re-logins, the browser's memory, how to name an error) is
// passed in through Config as functions.
//
// # Concurrency
//
// All methods are safe for concurrent use, and do nothing on a nil
// *Metrics, so a program can keep one that is off.
//
// # Examples
//
// go doc prints no examples; Example in example_test.go runs a pool on
// fake pages ([github.com/pagefleet/pagefleet/pool/pooltest]) and scrapes
// its metrics. examples/jdrun's live.go is the wiring of a browser program.
package poolmetrics

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/pagefleet/pagefleet/pool"
)

// Config configures [Metrics]. The zero Config works.
type Config struct {
	// Prefix starts every metric name of the run: letters, digits and
	// underscores. Defaults to "pool".
	Prefix string
	// Noun is what the tasks are, plural, in metric names and on the page
	// ("vehicles"): lower-case letters, digits and underscores. Defaults
	// to "tasks".
	Noun string
	// Name is the program, in the page's title and heading. Defaults to Prefix.
	Name string
	// ID tells this process apart from others of a fleet on the page
	// (jdrun's worker ID). Defaults to none.
	ID string
	// Target is what the run works on — a site's URL, say — shown under
	// the page's heading. It must hold no secret. Defaults to none.
	Target string
	// Version is the program's, shown on the page. Defaults to none.
	Version string
	// Labels are constant labels on every series, the Go runtime's and the
	// process's included (say, worker_id), so that the processes of a
	// fleet can be told apart. Defaults to none.
	Labels map[string]string

	// Reason names the kind of an error: the reason label of the failed,
	// retried and requeued counts, and the rows of the page's error table.
	// Keep the kinds few; each is a series. Defaults to [DefaultReason].
	Reason func(error) string
	// Memory measures the proportional set size (PSS) of the program and
	// the browser it drives, in bytes; it is asked at most once a second.
	// An error shows as "n/a" and leaves the memory metrics out. Defaults
	// to nil: no memory metrics, and no memory on the page.
	Memory func() (int64, error)
	// Counters are more counters to export and show, such as a session's
	// re-logins. Defaults to none.
	Counters []Counter
	// Buckets are the upper bounds, in seconds, of the attempt duration
	// histogram. Defaults to 25 ms to 5 minutes (a direct fetch to a hung
	// request's timeout).
	Buckets []float64

	// TextFile, if set, is where Close writes the final values, in the text
	// format of node_exporter's textfile collector: a process that ends
	// takes its last increments with it, between two scrapes. Defaults to
	// "": none written.
	TextFile string
	// Logger receives serving errors. Defaults to slog.Default().
	Logger *slog.Logger
}

// Counter is one more counter that [Metrics] exports and shows, read at
// each snapshot.
type Counter struct {
	// Name follows Config.Prefix and "_" in the metric name, e.g.
	// "relogins_total"; it is also the counter's key in [Status].Counters.
	// Required.
	Name string
	// Help is the metric's help text. Defaults to Title.
	Help string
	// Title labels it on the page ("re-logins"). Defaults to Name.
	Title string
	// Value returns the count so far. It may be called from several
	// goroutines at once. Required.
	Value func() int64
}

// Progress is what [Metrics.Follow] needs to show a run's progress.
type Progress struct {
	// Stats returns the pool's, usually [pool.PagePool.Stats]. Defaults to
	// Meter.Stats; with neither, workers and queue show as zero.
	Stats func() pool.Stats
	// Meter supplies the rate and the ETA, which follow the recent pace.
	// Defaults to a meter of Stats that Follow starts and Close stops.
	Meter *pool.Meter
	// Before counts the tasks of the job that earlier runs did: the job is
	// Before + Total, and Before of it is done already. Defaults to 0.
	Before int
	// Total is the number of tasks this run has to do. Defaults to 0:
	// unknown — no percentage, no ETA, and the run is not finished until
	// Close.
	Total int
	// Growing says Total counts the tasks found so far, and more may come:
	// the job is still being listed. Then there is no ETA, the run is not
	// finished until Follow is called without it (or Close), and the job
	// shows as "at least" its total.
	Growing bool
}

// DefaultReason names err by the pool's own errors: "stuck", "timeout",
// "panic", "stopped", "canceled", and "error" for anything else.
func DefaultReason(err error) string {
	var pe *pool.PanicError
	switch {
	case errors.Is(err, pool.ErrStuck):
		return "stuck"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.As(err, &pe):
		return "panic"
	case errors.Is(err, pool.ErrStopped):
		return "stopped"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "error"
}

// Metrics counts a pool run's attempts and results and serves them; see
// the package doc. Make one with [New].
type Metrics struct {
	cfg      Config
	log      *slog.Logger
	reg      *prometheus.Registry
	durs     *prometheus.HistogramVec
	desc     descs
	served   chan struct{} // closed when Serve has returned; nil: not serving
	srv      *http.Server
	ownMet   *pool.Meter                       // started by Follow, stopped by Close
	ownStats atomic.Pointer[func() pool.Stats] // what ownMet samples: the latest Follow's
	start    time.Time

	mu          sync.Mutex
	phase       string
	followed    bool
	progress    Progress
	closed      bool
	done        int
	stopped     int
	failed      map[string]int // by reason
	retried     map[string]int
	requeued    map[string]int
	attempts    int
	attemptSecs float64
	lastFailed  map[string]time.Duration // a task's final failed attempt, until its Result tells failed from stopped

	memMu   sync.Mutex
	mem     int64 // the PSS last measured, -1 where it can't be
	memPeak int64
	memAt   time.Time
}

var (
	prefixRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	nounRE   = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
)

func (c *Config) setDefaults() {
	c.Prefix = cmp.Or(c.Prefix, "pool")
	c.Noun = cmp.Or(c.Noun, "tasks")
	c.Name = cmp.Or(c.Name, c.Prefix)
	if c.Reason == nil {
		c.Reason = DefaultReason
	}
	if c.Buckets == nil {
		c.Buckets = []float64{.025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 180, 300}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Labels = maps.Clone(c.Labels)
}

func (c *Config) validate() error {
	if !prefixRE.MatchString(c.Prefix) {
		return fmt.Errorf("poolmetrics: Config.Prefix %q: want letters, digits and underscores", c.Prefix)
	}
	if !nounRE.MatchString(c.Noun) {
		return fmt.Errorf("poolmetrics: Config.Noun %q: want lower-case letters, digits and underscores", c.Noun)
	}
	for i, ct := range c.Counters {
		if ct.Name == "" || ct.Value == nil {
			return fmt.Errorf("poolmetrics: Config.Counters[%d]: Name and Value are required", i)
		}
	}
	return nil
}

// New returns Metrics for one run, registered in a registry of their own.
// It starts nothing: only Metrics that Listen or Follow need Close.
func New(cfg Config) (*Metrics, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m := &Metrics{
		cfg: cfg, log: cfg.Logger, reg: prometheus.NewRegistry(), desc: newDescs(&cfg), start: time.Now(),
		phase: "starting", mem: -1,
		failed: map[string]int{}, retried: map[string]int{}, requeued: map[string]int{}, lastFailed: map[string]time.Duration{},
	}
	m.durs = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    cfg.Prefix + "_attempt_duration_seconds",
		Help:    "How long attempts took, by outcome: done, retried, requeued, failed (the task's last), stopped (cut short by a stop).",
		Buckets: cfg.Buckets,
	}, []string{"outcome"})
	reg := prometheus.WrapRegistererWith(cfg.Labels, m.reg)
	if err := errors.Join(reg.Register(collector{m}), reg.Register(m.durs), reg.Register(collectors.NewGoCollector()),
		reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))); err != nil {
		return nil, fmt.Errorf("poolmetrics: registering the metrics: %w", err)
	}
	return m, nil
}

// Hook makes the pool of pc report its attempts and results to m too,
// after pc's own OnAttempt and OnResult. Call it before [pool.New].
func Hook[P any](m *Metrics, pc *pool.Config[P]) {
	if m == nil {
		return
	}
	onAttempt, onResult := pc.OnAttempt, pc.OnResult
	pc.OnAttempt = func(a pool.Attempt) {
		if onAttempt != nil {
			onAttempt(a)
		}
		m.OnAttempt(a)
	}
	pc.OnResult = func(res pool.Result) {
		if onResult != nil {
			onResult(res)
		}
		m.OnResult(res)
	}
}

// SetPhase says what the program is doing, for the page ("logging in").
// Once the run it follows is over, the phase is "finished", or "stopped"
// if tasks were left unfinished. It starts as "starting".
func (m *Metrics) SetPhase(phase string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.phase = phase
	m.mu.Unlock()
}

// Follow makes the numbers show the progress of a run (see [Progress]).
// Call it as the run starts, and again with the same Meter as its totals
// change.
func (m *Metrics) Follow(p Progress) {
	if m == nil {
		return
	}
	if p.Stats == nil && p.Meter != nil {
		p.Stats = p.Meter.Stats
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if p.Meter == nil && p.Stats != nil && !m.closed { // after Close, no one would stop it
		// One meter for every call, reading the latest Stats: a new one
		// would start the rate and the ETA over each time the total grows.
		m.ownStats.Store(&p.Stats)
		if m.ownMet == nil {
			m.ownMet = &pool.Meter{Stats: func() pool.Stats { return (*m.ownStats.Load())() }}
			m.ownMet.Start()
		}
		p.Meter = m.ownMet
	}
	m.progress, m.followed = p, true
}

// OnAttempt counts a finished attempt; [Hook] calls it. The outcome of a
// task's last failed attempt waits for its Result: given up, or cut short
// by a stop.
func (m *Metrics) OnAttempt(a pool.Attempt) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.attempts++
	m.attemptSecs += a.Duration.Seconds()
	switch {
	case a.Err == nil:
		m.durs.WithLabelValues("done").Observe(a.Duration.Seconds())
	case a.Requeued:
		m.requeued[m.cfg.Reason(a.Err)]++
		m.durs.WithLabelValues("requeued").Observe(a.Duration.Seconds())
	case !a.Final:
		m.retried[m.cfg.Reason(a.Err)]++
		m.durs.WithLabelValues("retried").Observe(a.Duration.Seconds())
	default:
		m.lastFailed[a.Key] = a.Duration
	}
}

// OnResult counts a task's outcome; [Hook] calls it. A task the pool
// stopped ([pool.ErrStopped]) counts as stopped, not failed.
func (m *Metrics) OnResult(res pool.Result) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	outcome := "failed"
	switch {
	case res.Err == nil:
		m.done++
	case errors.Is(res.Err, pool.ErrStopped):
		m.stopped++
		outcome = "stopped"
	default:
		m.failed[m.cfg.Reason(res.Err)]++
	}
	if d, ok := m.lastFailed[res.Key]; ok {
		delete(m.lastFailed, res.Key)
		m.durs.WithLabelValues(outcome).Observe(d.Seconds())
	}
}

// Registry returns m's registry, for a program to add metrics of its own.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}
