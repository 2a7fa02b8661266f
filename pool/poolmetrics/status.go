package poolmetrics

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Status is one snapshot of a run: what /status.json returns, the status
// page shows and the metrics are made of.
type Status struct {
	ID      string    `json:"id"`
	Target  string    `json:"target"`
	Version string    `json:"version"`
	Phase   string    `json:"phase"`
	Started time.Time `json:"started"` // when New was called
	Updated time.Time `json:"updated"`

	JobDone  int     `json:"job_done"`  // Progress.Before included
	JobTotal int     `json:"job_total"` // Progress.Before + Progress.Total
	Growing  bool    `json:"growing"`   // JobTotal is the job so far: Progress.Growing
	Percent  float64 `json:"percent"`

	Done     int           `json:"done"` // this run's, like the rest
	Failed   int           `json:"failed"`
	Stopped  int           `json:"stopped"`
	Retried  int           `json:"retried"`
	Requeued int           `json:"requeued"`
	Reasons  []ReasonCount `json:"reasons"` // most failed first
	Attempts int           `json:"attempts"`
	MeanSecs float64       `json:"mean_attempt_seconds"`

	WorkersBusy   int              `json:"workers_busy"`
	WorkersTarget int              `json:"workers_target"`
	Queued        int              `json:"queued"`            // ready, or waiting out a retry's backoff
	Counters      map[string]int64 `json:"counters"`          // Config.Counters, by Name
	Memory        int64            `json:"memory_bytes"`      // -1: not measured
	PeakMemory    int64            `json:"peak_memory_bytes"` // -1: not measured

	PerHour    float64 `json:"per_hour"`    // at the recent pace
	ETASeconds float64 `json:"eta_seconds"` // 0: no pace yet, nothing left, or the run is over

	Text map[string]string `json:"text"` // the numbers as the page shows them, by data-k key
}

// ReasonCount is one kind of error's counts (see Config.Reason).
type ReasonCount struct {
	Reason   string `json:"reason"`
	Failed   int    `json:"failed"` // tasks given up
	Retried  int    `json:"retried"`
	Requeued int    `json:"requeued"`
}

// Snapshot returns the numbers now.
func (m *Metrics) Snapshot() Status {
	if m == nil {
		return Status{}
	}
	m.mu.Lock()
	s := Status{ID: m.cfg.ID, Target: m.cfg.Target, Version: m.cfg.Version, Started: m.start, Updated: time.Now(),
		Phase: m.phase, Reasons: []ReasonCount{}, Done: m.done, Stopped: m.stopped, Attempts: m.attempts}
	if m.attempts > 0 {
		s.MeanSecs = m.attemptSecs / float64(m.attempts)
	}
	reasons := map[string]bool{}
	for _, by := range []struct {
		counts map[string]int
		sum    *int
	}{{m.failed, &s.Failed}, {m.retried, &s.Retried}, {m.requeued, &s.Requeued}} {
		for reason, n := range by.counts {
			*by.sum += n
			reasons[reason] = true
		}
	}
	for reason := range reasons {
		s.Reasons = append(s.Reasons, ReasonCount{reason, m.failed[reason], m.retried[reason], m.requeued[reason]})
	}
	p, followed, closed := m.progress, m.followed, m.closed
	m.mu.Unlock()
	slices.SortFunc(s.Reasons, func(a, b ReasonCount) int {
		return cmp.Or(cmp.Compare(b.Failed, a.Failed), cmp.Compare(b.Retried+b.Requeued, a.Retried+a.Requeued), cmp.Compare(a.Reason, b.Reason))
	})

	s.JobDone, s.JobTotal, s.Growing = p.Before+s.Done, p.Before+p.Total, p.Growing
	finished := s.Done+s.Failed+s.Stopped >= p.Total && p.Total > 0 && !p.Growing
	over := followed && (finished || closed)
	if over {
		s.Phase = "finished"
		if s.Stopped > 0 {
			s.Phase = "stopped"
		}
	}
	if p.Stats != nil {
		ps := p.Stats()
		s.WorkersBusy, s.WorkersTarget, s.Queued = ps.Running, ps.Target, ps.Queued+ps.Waiting
		if p.Meter != nil {
			s.PerHour = p.Meter.Rate()
			if !over && !p.Growing {
				s.ETASeconds = p.Meter.ETA(p.Total - ps.Done - ps.Failed).Seconds()
			}
		}
	}
	s.Counters = map[string]int64{}
	for _, c := range m.cfg.Counters {
		s.Counters[c.Name] = c.Value()
	}
	s.Memory, s.PeakMemory = m.memory()
	if p.Meter != nil && s.PeakMemory >= 0 {
		s.PeakMemory = max(s.PeakMemory, p.Meter.Peak())
	}
	if s.JobTotal > 0 {
		s.Percent = 100 * float64(s.JobDone) / float64(s.JobTotal)
	}
	s.Text = s.text()
	return s
}

// memory is Config.Memory's last value and the most it gave, asked at
// most once a second: measuring a browser's processes costs milliseconds.
func (m *Metrics) memory() (now, peak int64) {
	if m.cfg.Memory == nil {
		return -1, -1
	}
	m.memMu.Lock()
	defer m.memMu.Unlock()
	if m.memAt.IsZero() || time.Since(m.memAt) >= time.Second {
		n, err := m.cfg.Memory()
		if err != nil {
			n = -1
		}
		m.mem, m.memAt = n, time.Now()
		m.memPeak = max(m.memPeak, n)
	}
	if m.mem < 0 {
		return -1, -1
	}
	return m.mem, m.memPeak
}

// text is the numbers of s as the page shows them.
func (s Status) text() map[string]string {
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
	job := fmt.Sprintf("%d / %d", s.JobDone, s.JobTotal)
	if s.Growing {
		job += "+ (still listing)"
	}
	t := map[string]string{
		"phase": s.Phase, "job": job, "percent": fmt.Sprintf("%.1f %%", s.Percent),
		"done": fmt.Sprint(s.Done), "failed": fmt.Sprint(s.Failed), "stopped": fmt.Sprint(s.Stopped),
		"retried": fmt.Sprint(s.Retried), "requeued": fmt.Sprint(s.Requeued),
		"attempts": fmt.Sprint(s.Attempts), "mean": fmt.Sprintf("%.2f s", s.MeanSecs),
		"workers": fmt.Sprintf("%d / %d", s.WorkersBusy, s.WorkersTarget), "queued": fmt.Sprint(s.Queued),
		"memory": mb(s.Memory), "peak": mb(s.PeakMemory),
		"rate": fmt.Sprintf("%.0f", s.PerHour), "eta": eta,
		"elapsed": s.Updated.Sub(s.Started).Round(time.Second).String(), "updated": s.Updated.Format(time.TimeOnly),
	}
	for name, n := range s.Counters {
		t["counter_"+name] = fmt.Sprint(n)
	}
	return t
}

// descs describe the metrics a snapshot makes (the histogram describes
// itself).
type descs struct {
	done, failed, stopped, retried, requeued *prometheus.Desc
	busy, target, mem, peakMem               *prometheus.Desc
	jobTotal, jobDone, eta                   *prometheus.Desc
	counters                                 []*prometheus.Desc // as Config.Counters
}

func newDescs(c *Config) descs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(c.Prefix+"_"+name, help, labels, nil)
	}
	n := c.Noun
	ds := descs{
		done:     d(n+"_done_total", "Tasks ("+n+") this run finished successfully."),
		failed:   d(n+"_failed_total", "Tasks ("+n+") this run gave up, by the kind of their last error.", "reason"),
		stopped:  d(n+"_stopped_total", "Tasks ("+n+") left unfinished because the run was stopped; a rerun may resume them."),
		retried:  d("attempts_retried_total", "Failed attempts that were retried, by the kind of their error.", "reason"),
		requeued: d("attempts_requeued_total", "Attempts run again uncharged (pool.Requeue), by the kind of their error.", "reason"),
		busy:     d("workers_active", "Worker pages running an attempt now."),
		target:   d("workers_target", "Worker pages wanted now (the adaptive controller moves it)."),
		mem:      d("memory_pss_bytes", "Proportional set size of "+c.Name+" and the browser it drives."),
		peakMem:  d("memory_pss_peak_bytes", "The most "+c.Prefix+"_memory_pss_bytes seen this run."),
		jobTotal: d("job_"+n, "Tasks ("+n+") of the job: done by earlier runs, and this run's."),
		jobDone:  d("job_"+n+"_done", "Tasks ("+n+") of the job done, earlier runs included."),
		eta:      d("eta_seconds", "Time left for this run's tasks at the recent pace; absent until there is a pace."),
	}
	for _, ct := range c.Counters {
		ds.counters = append(ds.counters, d(ct.Name, cmp.Or(ct.Help, ct.Title, ct.Name)))
	}
	return ds
}

// collector is Metrics as a prometheus.Collector, unexported so that the
// Metrics API stays its own.
type collector struct{ m *Metrics }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	d := c.m.desc
	for _, desc := range append([]*prometheus.Desc{d.done, d.failed, d.stopped, d.retried, d.requeued, d.busy, d.target,
		d.mem, d.peakMem, d.jobTotal, d.jobDone, d.eta}, d.counters...) {
		ch <- desc
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s, d := c.m.Snapshot(), c.m.desc
	metric := func(desc *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, t, v, labels...)
	}
	metric(d.done, prometheus.CounterValue, float64(s.Done))
	metric(d.stopped, prometheus.CounterValue, float64(s.Stopped))
	for _, rc := range s.Reasons {
		// A series for each kind seen: one that never happened stays absent
		// rather than a zero for every kind there could be.
		for _, k := range []struct {
			desc *prometheus.Desc
			n    int
		}{{d.failed, rc.Failed}, {d.retried, rc.Retried}, {d.requeued, rc.Requeued}} {
			if k.n > 0 {
				metric(k.desc, prometheus.CounterValue, float64(k.n), rc.Reason)
			}
		}
	}
	metric(d.busy, prometheus.GaugeValue, float64(s.WorkersBusy))
	metric(d.target, prometheus.GaugeValue, float64(s.WorkersTarget))
	for i, ct := range c.m.cfg.Counters {
		metric(d.counters[i], prometheus.CounterValue, float64(s.Counters[ct.Name]))
	}
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
