package pool_test

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pagefleet/pagefleet/pool"
)

// TestMeterFollowsTheRecentPace: 10 minutes at 60/min, then 10 at 6/min:
// the rate is the recent one, and so is the ETA.
func TestMeterFollowsTheRecentPace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var done, mem atomic.Int64
		m := &pool.Meter{Stats: func() pool.Stats { return pool.Stats{Done: int(done.Load()), Target: 4} },
			Memory: func() int64 { return mem.Load() }, Every: time.Second, Window: 5 * time.Minute}
		m.Start()
		// Half a second off the Meter's ticks: a sample and a change at
		// the same instant would come in either order.
		time.Sleep(time.Second / 2)
		for sec := range 1200 {
			if sec < 600 || sec%10 == 0 {
				done.Add(1)
			}
			if sec == 300 {
				mem.Store(500 << 20)
			} else {
				mem.Store(400 << 20)
			}
			time.Sleep(time.Second)
		}
		if r := m.Rate(); r < 350 || r > 370 { // 6/min = 360/h
			t.Errorf("Rate = %.0f/h, want the recent 360/h, not the average", r)
		}
		if eta := m.ETA(60); eta < 9*time.Minute || eta > 11*time.Minute {
			t.Errorf("ETA(60) = %v, want about 10 min", eta)
		}
		samples := m.Stop()
		if n := len(samples); n < 1200 || samples[n-1].Done != 660 || samples[n-1].Workers != 4 {
			t.Errorf("%d samples, last %+v", n, samples[n-1])
		}
		if m.Peak() != 500<<20 {
			t.Errorf("Peak = %d", m.Peak())
		}
		if (&pool.Meter{}).ETA(5) != 0 {
			t.Error("ETA without samples is not 0")
		}
	})
}
