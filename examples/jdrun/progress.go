package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/pagefleet/pagefleet/pool"
	"github.com/pagefleet/pagefleet/session"
)

// monitor shows a run's progress — a live bar on a terminal (logs print
// above it), or a log line every -progress-every otherwise — from a
// pool.Meter, whose samples go into metrics.json: rates and ETAs follow the
// recent pace, not the average since the start.
type monitor struct {
	meter      *pool.Meter
	stop, done chan struct{}
	bar        *mpb.Bar

	mu            sync.Mutex
	before, total int  // done before this run; this run's vehicles
	final         bool // total is: the inventory is listed
}

// startMonitor starts sampling stats (the pool's, once there is one) of a
// run whose totals setTotal gives. logOut is the logger's switchable
// writer, which the bar takes over.
func startMonitor(cfg *config, stderr io.Writer, logOut *switchWriter, log *slog.Logger, stats func() pool.Stats) *monitor {
	mode := cfg.Progress
	if mode == "auto" {
		mode = "log"
		if canDrawBar(stderr) {
			mode = "bar"
		}
	}
	m := &monitor{stop: make(chan struct{}), done: make(chan struct{}),
		meter: &pool.Meter{Stats: stats, Memory: func() int64 { n, _ := session.TreePSS(os.Getpid()); return n }}}
	m.meter.Start()
	var bar *mpb.Bar
	var prog *mpb.Progress
	if mode == "bar" {
		cols, _, _ := term.GetSize(int(stderr.(*os.File).Fd()))
		prog = mpb.New(mpb.WithOutput(stderr), mpb.WithWidth(max(10, cols-70)), mpb.WithRefreshRate(250*time.Millisecond))
		bar = prog.AddBar(0, // a total set later (show): one set here would end the bar when reached
			mpb.PrependDecorators(decor.Any(func(decor.Statistics) string { return m.counts(stats()) })),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return m.describe(stats()) }, decor.WCSyncSpace)),
		)
		m.bar = bar
		logOut.set(prog) // logs now print above the bar
	}
	go func() {
		defer close(m.done)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		lastLog := time.Now()
		for {
			select {
			case <-m.stop:
				if bar != nil {
					m.show(stats())
					bar.Abort(false) // leave the final state on screen
					prog.Wait()
					logOut.set(stderr)
				}
				return
			case now := <-tick.C:
				s := stats()
				if bar != nil {
					m.show(s)
				}
				if mode == "log" && now.Sub(lastLog) >= cfg.ProgressLog {
					before, total, final := m.totals()
					eta := "listing"
					if final {
						eta = m.meter.ETA(total - s.Done - s.Failed).String()
					}
					log.Info("progress", "done", before+s.Done, "total", before+total, "total_final", final, "failed", s.Failed, "retries", s.Retries,
						"workers_busy", s.Running, "workers", s.Target, "per_hour", int(m.meter.Rate()), "eta", eta)
					lastLog = now
				}
			}
		}
	}()
	return m
}

// setTotal sets the job's totals: before vehicles done by earlier runs,
// and total for this run — so far, or final once the inventory is listed.
// The bar shows the job's progress, not the run's.
func (m *monitor) setTotal(before, total int, final bool) {
	m.mu.Lock()
	m.before, m.total, m.final = before, total, final
	m.mu.Unlock()
}

func (m *monitor) totals() (before, total int, final bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.before, m.total, m.final
}

// show moves the bar to s.
func (m *monitor) show(s pool.Stats) {
	before, total, _ := m.totals()
	m.bar.SetTotal(int64(max(before+total, 1)), false)
	m.bar.SetCurrent(int64(before + s.Done + s.Failed))
}

// counts is the bar's count: done of the total, which is the vehicles
// planned so far while the inventory is being listed, and says so.
func (m *monitor) counts(s pool.Stats) string {
	before, total, final := m.totals()
	if !final {
		return fmt.Sprintf("%d/%d+ (listing) ", before+s.Done+s.Failed, before+total)
	}
	return fmt.Sprintf("%d/%d ", before+s.Done+s.Failed, before+total)
}

// finish stops the monitor and returns the samples and peak memory.
func (m *monitor) finish() ([]pool.Sample, int64) {
	close(m.stop)
	<-m.done
	return m.meter.Stop(), m.meter.Peak()
}

// describe is the bar's text, under 60 columns: rate and ETA of the last
// minutes, failures, retries, busy workers of the target.
func (m *monitor) describe(s pool.Stats) string {
	eta := "?"
	if _, total, final := m.totals(); !final {
		eta = "after listing"
	} else if d := m.meter.ETA(total - s.Done - s.Failed); d > 0 {
		eta = d.String()
	}
	return fmt.Sprintf("%.0f/h ETA %s %d failed %d retried %d/%d workers busy",
		m.meter.Rate(), eta, s.Failed, s.Retries, s.Running, s.Target)
}
