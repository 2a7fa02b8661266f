package pool

import (
	"cmp"
	"sync"
	"time"
)

// Meter samples a pool's progress while it runs — for a chart of
// throughput over time, and for a rate and an ETA that follow the recent
// pace rather than the average since the start (a run that slowed down
// says so). Start it, read Rate and ETA while it runs, and Stop it for the
// samples. Its methods are safe for concurrent use.
type Meter struct {
	// Stats is the source of the samples, usually a pool's Stats method.
	// Required.
	Stats func() Stats
	// Memory, if set, is sampled too, in bytes (say, the PSS of a browser's
	// processes); Peak returns the most it gave. Defaults to nil.
	Memory func() int64
	// Every is the time between samples. Defaults to 2 s.
	Every time.Duration
	// Window is how far back Rate and ETA look. Defaults to 5 minutes.
	Window time.Duration

	mu      sync.Mutex
	start   time.Time
	samples []Sample
	peak    int64
	stop    chan struct{}
	done    chan struct{}
}

// Sample is a pool's progress at one moment.
type Sample struct {
	T        float64 `json:"t"` // seconds since Start
	Done     int     `json:"done"`
	Failed   int     `json:"failed"`
	Workers  int     `json:"workers"`            // the target count
	PerHour  float64 `json:"per_hour"`           // finished tasks per hour since the sample before
	Memory   int64   `json:"memory,omitempty"`   // from Meter.Memory
	Finished int     `json:"finished,omitempty"` // Done + Failed
	Queued   int     `json:"queued,omitempty"`   // ready or waiting for a retry
	Running  int     `json:"running,omitempty"`  // attempts running
	Retries  int     `json:"retries,omitempty"`  // retried attempts so far
}

// Start takes the first sample and samples every Every until Stop.
func (m *Meter) Start() {
	m.mu.Lock()
	m.start, m.stop, m.done = time.Now(), make(chan struct{}), make(chan struct{})
	m.Every, m.Window = cmp.Or(m.Every, 2*time.Second), cmp.Or(m.Window, 5*time.Minute)
	m.mu.Unlock()
	m.sample()
	go func() {
		defer close(m.done)
		t := time.NewTicker(m.Every)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				m.sample()
				return
			case <-t.C:
				m.sample()
			}
		}
	}()
}

// Stop takes a last sample, stops sampling and returns the samples.
func (m *Meter) Stop() []Sample {
	close(m.stop)
	<-m.done
	return m.Samples()
}

// Samples returns the samples so far.
func (m *Meter) Samples() []Sample {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Sample(nil), m.samples...)
}

// Peak returns the most memory a sample saw.
func (m *Meter) Peak() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peak
}

func (m *Meter) sample() {
	s := m.Stats()
	var mem int64
	if m.Memory != nil {
		mem = m.Memory()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	p := Sample{T: time.Since(m.start).Seconds(), Done: s.Done, Failed: s.Failed, Workers: s.Target, Memory: mem,
		Finished: s.Done + s.Failed, Queued: s.Queued + s.Waiting, Running: s.Running, Retries: s.Retries}
	if n := len(m.samples); n > 0 {
		if prev := m.samples[n-1]; p.T > prev.T {
			p.PerHour = float64(p.Finished-prev.Finished) / (p.T - prev.T) * 3600
		}
	}
	m.peak = max(m.peak, mem)
	m.samples = append(m.samples, p)
}

// Rate returns finished tasks per hour over the last Window (or since
// Start, if that is shorter), as of the latest sample.
func (m *Meter) Rate() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.samples)
	if n < 2 {
		return 0
	}
	last, i := m.samples[n-1], n-2
	for i > 0 && last.T-m.samples[i].T < m.Window.Seconds() {
		i--
	}
	first := m.samples[i]
	if last.T <= first.T {
		return 0
	}
	return float64(last.Finished-first.Finished) / (last.T - first.T) * 3600
}

// ETA returns how long left more tasks take at Rate; 0 when there is no
// rate to go by.
func (m *Meter) ETA(left int) time.Duration {
	r := m.Rate()
	if r <= 0 || left <= 0 {
		return 0
	}
	return time.Duration(float64(left) / r * float64(time.Hour)).Round(time.Second)
}
