package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/pagefleet/pagefleet/session"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// progressSnapshot is what the monitor reads every tick.
type progressSnapshot struct {
	Done, Failed, Retries, Running, Workers, Total int
}

// monitor samples progress for metrics.json and shows it: a live bar on a
// terminal (logs print above it), or a log line every interval otherwise.
type monitor struct {
	snap     func() progressSnapshot
	log      *slog.Logger
	start    time.Time
	sampleEv time.Duration

	mu      sync.Mutex
	samples []sample
	peakPSS int64

	stop chan struct{}
	done chan struct{}
}

// startMonitor starts sampling. mode is "bar", "log" or "off"; logOut is
// the logger's switchable writer, which the bar takes over while it runs.
func startMonitor(cfg *config, stderr io.Writer, logOut *switchWriter, log *slog.Logger, snap func() progressSnapshot) *monitor {
	mode, every := cfg.Progress, cfg.ProgressLog
	if mode == "auto" {
		mode = "log"
		if canDrawBar(stderr) {
			mode = "bar"
		}
	}
	m := &monitor{snap: snap, log: log, start: time.Now(), sampleEv: 2 * time.Second,
		stop: make(chan struct{}), done: make(chan struct{})}
	var bar *mpb.Bar
	var prog *mpb.Progress
	if mode == "bar" {
		prog = mpb.New(mpb.WithOutput(stderr), mpb.WithWidth(100), mpb.WithRefreshRate(250*time.Millisecond))
		total := int64(max(snap().Total, 1))
		bar = prog.AddBar(total,
			mpb.PrependDecorators(decor.Name("stickers "), decor.CountersNoUnit("%d/%d ")),
			mpb.AppendDecorators(decor.Percentage(decor.WCSyncSpace), decor.Any(m.describe, decor.WCSyncSpace)),
		)
		logOut.set(prog) // logs now print above the bar
	}
	go func() {
		defer close(m.done)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		lastSample, lastLog := time.Now(), time.Now()
		m.sample()
		for {
			select {
			case <-m.stop:
				m.sample()
				if bar != nil {
					s := snap()
					bar.SetCurrent(int64(s.Done + s.Failed))
					bar.Abort(false) // leave the final state on screen
					prog.Wait()
					logOut.set(stderr)
				}
				return
			case now := <-tick.C:
				s := snap()
				if bar != nil {
					bar.SetTotal(int64(max(s.Total, 1)), false)
					bar.SetCurrent(int64(s.Done + s.Failed))
				}
				if now.Sub(lastSample) >= m.sampleEv {
					m.sample()
					lastSample = now
				}
				if mode == "log" && now.Sub(lastLog) >= every {
					m.logLine(s)
					lastLog = now
				}
			}
		}
	}()
	return m
}

// finish stops the monitor and returns the samples and peak memory.
func (m *monitor) finish() ([]sample, int64) {
	close(m.stop)
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.samples, m.peakPSS
}

func (m *monitor) sample() {
	s := m.snap()
	pss, _ := session.TreePSS(os.Getpid())
	m.mu.Lock()
	defer m.mu.Unlock()
	t := time.Since(m.start).Seconds()
	rate := 0.0
	if n := len(m.samples); n > 0 {
		prev := m.samples[n-1]
		if dt := t - prev.T; dt > 0 {
			rate = float64(s.Done-prev.Done) / dt * 3600
		}
	}
	m.peakPSS = max(m.peakPSS, pss)
	m.samples = append(m.samples, sample{T: t, Done: s.Done, Failed: s.Failed, Workers: s.Workers,
		PerHour: rate, MemoryMB: float64(pss) / (1 << 20)})
}

// rate is vehicles per hour since the start, and the ETA at that rate.
func (m *monitor) rate(s progressSnapshot) (perHour float64, eta time.Duration) {
	el := time.Since(m.start)
	if s.Done == 0 || el <= 0 {
		return 0, 0
	}
	perHour = float64(s.Done) / el.Hours()
	left := s.Total - s.Done - s.Failed
	return perHour, time.Duration(float64(left) / perHour * float64(time.Hour)).Round(time.Second)
}

func (m *monitor) describe(decor.Statistics) string {
	s := m.snap()
	perHour, eta := m.rate(s)
	return fmt.Sprintf("%.0f/h ETA %v | failed %d retries %d | workers %d/%d",
		perHour, eta, s.Failed, s.Retries, s.Running, s.Workers)
}

func (m *monitor) logLine(s progressSnapshot) {
	perHour, eta := m.rate(s)
	m.log.Info("progress", "done", s.Done, "total", s.Total, "failed", s.Failed, "retries", s.Retries,
		"workers", s.Workers, "per_hour", int(perHour), "eta", eta)
}
