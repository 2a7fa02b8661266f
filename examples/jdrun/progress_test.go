package main

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pagefleet/pagefleet/pool"
)

// TestProgressCountsEarlierRuns: a resumed run's progress is the job's —
// 35 done before, 365 in this run: "35+n of 400" — its workers are
// labelled busy of target, and the ETA follows the recent pace. Before: the
// bar said 8/365, "workers 2/1", and the ETA was the average since the start.
func TestProgressCountsEarlierRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		st := pool.Stats{Target: 4}
		stats := func() pool.Stats {
			mu.Lock()
			defer mu.Unlock()
			return st
		}
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		cfg := &config{Progress: "log", ProgressLog: time.Minute}
		m := startMonitor(cfg, io.Discard, &switchWriter{w: io.Discard}, log, stats)
		// While the inventory is being listed, the total is what is
		// planned so far, and the bar says so.
		m.setTotal(35, 100, false)
		if c, d := m.counts(stats()), m.describe(stats()); c != "35/135+ (listing) " || !strings.Contains(d, "ETA after listing") {
			t.Errorf("while listing, the bar says %q %q; want the total so far marked, and no ETA", c, d)
		}
		// 5 minutes at 1 vehicle/s, then 5 at 1 every 10 s: 330 done, 35
		// left. The average since the start is 1980/h (an ETA of ~1 min),
		// the recent pace 360/h (~6 min).
		for i := range 10 * 60 {
			if i == 10 {
				m.setTotal(35, 365, true)
			}
			time.Sleep(time.Second)
			if i < 300 || i%10 == 0 {
				mu.Lock()
				st.Done++
				st.Running = 3
				mu.Unlock()
			}
		}
		desc := m.describe(stats())
		m.finish()
		last := logs.String()[strings.LastIndex(strings.TrimSpace(logs.String()), "\n")+1:]
		for _, want := range []string{"done=365", "total=400", "workers_busy=3", "workers=4"} {
			if !strings.Contains(last, want) {
				t.Errorf("the last progress line lacks %q: %s", want, last)
			}
		}
		var rate float64
		var eta string
		if _, err := fmt.Sscanf(desc, "%f/h ETA %s", &rate, &eta); err != nil || rate < 300 || rate > 450 || !strings.HasPrefix(eta, "5m") && !strings.HasPrefix(eta, "6m") {
			t.Errorf("the bar says %q, want the recent pace (~360/h, ETA ~6 min), not the average since the start", desc)
		}
		if !strings.Contains(desc, "3/4 workers busy") {
			t.Errorf("the bar says %q, want 3/4 workers busy", desc)
		}
		if len(desc) > 60 {
			t.Errorf("the bar's text is %d columns: %q", len(desc), desc)
		}
	})
}
