package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/pagefleet/pagefleet/pool"
	"github.com/pagefleet/pagefleet/session"
)

// monitor shows a run's progress — a live bar on a terminal (logs print
// above it), or a log line every -progress-every otherwise — from a
// pool.Meter, whose samples go into metrics.json: rates and ETAs follow the
// recent pace, not the average since the start.
type monitor struct {
	meter      *pool.Meter
	total      int
	stop, done chan struct{}
}

// startMonitor starts sampling stats (the pool's, once there is one).
// logOut is the logger's switchable writer, which the bar takes over.
func startMonitor(cfg *config, stderr io.Writer, logOut *switchWriter, log *slog.Logger, total int, stats func() pool.Stats) *monitor {
	mode := cfg.Progress
	if mode == "auto" {
		mode = "log"
		if canDrawBar(stderr) {
			mode = "bar"
		}
	}
	m := &monitor{total: total, stop: make(chan struct{}), done: make(chan struct{}),
		meter: &pool.Meter{Stats: stats, Memory: func() int64 { n, _ := session.TreePSS(os.Getpid()); return n }}}
	m.meter.Start()
	var bar *mpb.Bar
	var prog *mpb.Progress
	if mode == "bar" {
		prog = mpb.New(mpb.WithOutput(stderr), mpb.WithWidth(100), mpb.WithRefreshRate(250*time.Millisecond))
		bar = prog.AddBar(int64(max(total, 1)),
			mpb.PrependDecorators(decor.Name("stickers "), decor.CountersNoUnit("%d/%d ")),
			mpb.AppendDecorators(decor.Percentage(decor.WCSyncSpace), decor.Any(func(decor.Statistics) string { return m.describe(stats()) }, decor.WCSyncSpace)),
		)
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
					bar.SetCurrent(int64(s.Done + s.Failed))
					bar.Abort(false) // leave the final state on screen
					prog.Wait()
					logOut.set(stderr)
				}
				return
			case now := <-tick.C:
				s := stats()
				if bar != nil {
					bar.SetCurrent(int64(s.Done + s.Failed))
				}
				if mode == "log" && now.Sub(lastLog) >= cfg.ProgressLog {
					log.Info("progress", "done", s.Done, "total", total, "failed", s.Failed, "retries", s.Retries,
						"workers", s.Target, "per_hour", int(m.meter.Rate()), "eta", m.meter.ETA(total-s.Done-s.Failed).String())
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

func (m *monitor) describe(s pool.Stats) string {
	return fmt.Sprintf("%.0f/h ETA %v | failed %d retries %d | workers %d/%d",
		m.meter.Rate(), m.meter.ETA(m.total-s.Done-s.Failed), s.Failed, s.Retries, s.Running, s.Target)
}
