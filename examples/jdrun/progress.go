package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
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
	meter         *pool.Meter
	before, total int // done before this run; this run's vehicles
	stop, done    chan struct{}
}

// startMonitor starts sampling stats (the pool's, once there is one) of a
// run of total vehicles, after before done by earlier runs: the bar shows
// the job's progress, not the run's. logOut is the logger's switchable
// writer, which the bar takes over.
func startMonitor(cfg *config, stderr io.Writer, logOut *switchWriter, log *slog.Logger, before, total int, stats func() pool.Stats) *monitor {
	mode := cfg.Progress
	if mode == "auto" {
		mode = "log"
		if canDrawBar(stderr) {
			mode = "bar"
		}
	}
	m := &monitor{before: before, total: total, stop: make(chan struct{}), done: make(chan struct{}),
		meter: &pool.Meter{Stats: stats, Memory: func() int64 { n, _ := session.TreePSS(os.Getpid()); return n }}}
	m.meter.Start()
	var bar *mpb.Bar
	var prog *mpb.Progress
	if mode == "bar" {
		cols, _, _ := term.GetSize(int(stderr.(*os.File).Fd()))
		prog = mpb.New(mpb.WithOutput(stderr), mpb.WithWidth(max(10, cols-70)), mpb.WithRefreshRate(250*time.Millisecond))
		bar = prog.AddBar(int64(max(before+total, 1)),
			mpb.PrependDecorators(decor.CountersNoUnit("%d/%d ")),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return m.describe(stats()) }, decor.WCSyncSpace)),
		)
		bar.SetCurrent(int64(before))
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
					s := stats()
					bar.SetCurrent(int64(before + s.Done + s.Failed))
					bar.Abort(false) // leave the final state on screen
					prog.Wait()
					logOut.set(stderr)
				}
				return
			case now := <-tick.C:
				s := stats()
				if bar != nil {
					bar.SetCurrent(int64(before + s.Done + s.Failed))
				}
				if mode == "log" && now.Sub(lastLog) >= cfg.ProgressLog {
					log.Info("progress", "done", before+s.Done, "total", before+total, "failed", s.Failed, "retries", s.Retries,
						"workers_busy", s.Running, "workers", s.Target, "per_hour", int(m.meter.Rate()), "eta", m.meter.ETA(total-s.Done-s.Failed).String())
					lastLog = now
				}
			}
		}
	}()
	return m
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
	if d := m.meter.ETA(m.total - s.Done - s.Failed); d > 0 {
		eta = d.String()
	}
	return fmt.Sprintf("%.0f/h ETA %s %d failed %d retried %d/%d workers busy",
		m.meter.Rate(), eta, s.Failed, s.Retries, s.Running, s.Target)
}
