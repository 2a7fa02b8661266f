package pool

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Adaptive configures the pool's concurrency controller, which moves the
// number of workers between Min and Max to where the site gives the most
// good results per second. Set Config.Adaptive to turn it on; the zero
// value is usable (with Config.Workers as the ceiling).
//
// # How it decides
//
// The controller measures each worker count in windows of finished
// attempts (counting only attempts that started at that count). Per window
// it estimates goodput by Little's law — workers × success ratio ÷ mean
// attempt time — which needs far fewer samples than counting completions,
// and counts overload signals (429s, 5xx, timeouts, stuck attempts, forced
// logouts: see Overload) and the workers that saw them. A window is full
// after MinSamples attempts and MinWindow; then:
//
//   - overload above Tolerance: step down by the number of workers that
//     saw overload — against a hard limit of requests at once, the ones
//     beyond it — at least one and at most a quarter (in slow start, which
//     has just doubled: back to the count it doubled from, or by half),
//     and keep off the counts above the new one for Cooldown. This is
//     decided at once, without waiting for the window to fill, when a
//     quarter of the attempts (and more than two) are overloaded: 429s
//     come back fast, and every one more is a request the site refused;
//   - goodput gained less than half of what the extra workers should give
//     over the last lower count measured (latency climbed instead: the site
//     only queues them): step back to that count, and keep off for Cooldown;
//   - otherwise, if work is waiting: step up — doubling at first (slow
//     start) until the first setback, then one at a time.
//
// Slow start does not wait for full windows while nothing pushes back:
// after each round of attempts (one per worker, at least four) without
// overload, it doubles at once if the count has no lower one to compare
// with yet, or if goodput gained at least three quarters of what the
// extra workers should give — latency stayed flat, as TCP's slow start
// grows every round trip until a loss or a delay. On a fast site it so
// doubles every few attempt times, not every MinWindow; when a round
// shows less, the full window decides as above.
//
// So it settles just below the count where the site starts failing or
// stops paying back, and probes one step above it once per Cooldown to
// follow a site that got faster or slower. Each change is logged with its
// reason.
type Adaptive struct {
	// Min is the fewest workers. Defaults to 1.
	Min int
	// Max is the most workers. Defaults to Config.Workers.
	Max int
	// Start is the count to begin with. Defaults to min(2, Max).
	Start int
	// MinSamples is the number of attempts a window needs. Defaults to
	// four per worker, at least 20.
	MinSamples int
	// MinWindow is the shortest full window; slow start's rounds without
	// overload need not wait for it. Defaults to 2 s.
	MinWindow time.Duration
	// Cooldown is how long the worker counts that overloaded the site
	// (every count above the one it stepped down to) or did not pay back
	// stay off-limits before they are probed again. Defaults to 1 min.
	Cooldown time.Duration
	// Tolerance is the share of attempts in a window that may show
	// overload before the controller steps down; two overloaded attempts
	// are always tolerated. Defaults to 0.02.
	Tolerance float64
	// Overload reports whether a failed attempt's error says the site is
	// overloaded. Defaults to every error except permanent ones.
	Overload func(error) bool
}

type controller struct {
	cfg     Adaptive
	log     *slog.Logger
	set     func(int)
	backlog func() bool
	limit   func() int  // the pool's SetMaxWorkers cap; 0: none
	settled func() bool // the pool runs exactly its target (retired workers gone)
	now     func() time.Time

	level     int
	since     time.Time // when level was set: attempts started earlier don't count
	shrinking bool      // retired workers are finishing their attempts: wait
	linear    bool      // past slow start
	from      int       // in slow start, the count last doubled from; 0: none
	n, ok     int       // attempts and successes in the window
	overload  int
	refusedBy map[int]bool // workers with an overloaded attempt in the window
	totalTime time.Duration
	measured  map[int]measure // goodput per level
	offLimits map[int]time.Time
}

type measure struct {
	goodput float64 // successes per second
	at      time.Time
}

func newController(a Adaptive, workers int, log *slog.Logger, set func(int), backlog func() bool, limit func() int, settled func() bool) *controller {
	a.Min = max(a.Min, 1)
	a.Max = cmp.Or(a.Max, workers)
	a.Max = max(a.Max, a.Min)
	a.Start = min(max(cmp.Or(a.Start, 2), a.Min), a.Max)
	a.MinWindow = cmp.Or(a.MinWindow, 2*time.Second)
	a.Cooldown = cmp.Or(a.Cooldown, time.Minute)
	a.Tolerance = cmp.Or(a.Tolerance, 0.02)
	if a.Overload == nil {
		a.Overload = func(err error) bool {
			var p *backoff.PermanentError
			return !errors.As(err, &p)
		}
	}
	return &controller{cfg: a, log: log, set: set, backlog: backlog, limit: limit, settled: settled, now: time.Now,
		refusedBy: make(map[int]bool), measured: make(map[int]measure), offLimits: make(map[int]time.Time)}
}

// observe takes one finished attempt; called from the pool's event goroutine.
func (c *controller) observe(a Attempt) {
	if l := c.limit(); l > 0 && c.level > l {
		c.level = l // the pool was capped: measure anew at the cap
		c.reset(c.now())
	}
	if c.shrinking {
		if !c.settled() {
			return // the workers being retired still add their load
		}
		c.shrinking = false
		c.reset(c.now())
	}
	if a.Started.Before(c.since) {
		return // ran (partly) under the previous count
	}
	if a.Requeued && isOutage(a.Err) {
		return // the site's outage (its login down) says nothing of its load
	}
	c.n++
	c.totalTime += a.Duration
	switch {
	case a.Err == nil:
		c.ok++
	case c.cfg.Overload(a.Err):
		c.overload++
		c.refusedBy[a.Worker] = true
	}
	now := c.now()
	switch {
	case c.overload > 2 && c.overload*4 > c.n:
		// Overload is decided at once when it is plain (429s come back
		// fast, and every one more is a request the site refused).
		c.decide(now)
	case c.n >= max(c.cfg.MinSamples, 4*c.level, 20) && now.Sub(c.since) >= c.cfg.MinWindow:
		c.decide(now)
	case !c.linear && c.overload == 0 && c.n%max(c.level, 4) == 0:
		c.ramp(now) // a round without pushback
	}
}

// goodput is the window's estimate by Little's law, in successes per
// second, and its mean attempt time in seconds.
func (c *controller) goodput() (goodput, meanSec float64) {
	meanSec = c.totalTime.Seconds() / float64(c.n)
	return float64(c.level) * float64(c.ok) / float64(c.n) / math.Max(meanSec, 1e-9), meanSec
}

// record keeps goodput as the measure of level L and returns what is kept.
func (c *controller) record(L int, goodput float64, now time.Time) float64 {
	if m, ok := c.measured[L]; ok && now.Sub(m.at) < c.cfg.Cooldown {
		goodput = (goodput + m.goodput) / 2 // smooth the noise of short windows
	}
	c.measured[L] = measure{goodput, now}
	return goodput
}

// ramp doubles the count in slow start after a round without overload,
// unless the round paid back less than three quarters of the extra
// workers: then the full window decides.
func (c *controller) ramp(now time.Time) {
	L := c.level
	next := min(2*L, c.ceiling(now))
	if next <= L || !c.backlog() {
		return
	}
	goodput, meanSec := c.goodput()
	if lower, m, ok := c.lastLower(L, now); ok {
		ideal := float64(L)/float64(lower) - 1
		if goodput < m.goodput*(1+ideal*3/4) {
			return
		}
	}
	goodput = c.record(L, goodput, now)
	c.from = L
	c.change(next, fmt.Sprintf("ramp: %.2f/s at %d workers after %d attempts, no overload (mean attempt %.2fs)", goodput, L, c.n, meanSec))
}

func (c *controller) decide(now time.Time) {
	L := c.level
	goodput, meanSec := c.goodput()
	goodput = c.record(L, goodput, now)

	if c.overload > max(2, int(c.cfg.Tolerance*float64(c.n))) {
		// Against a hard limit of requests at once, the workers refused
		// are the ones beyond it; the floor keeps overload spread over
		// many workers from emptying the pool at once.
		floor := L - max(1, L/4)
		if !c.linear {
			floor = cmp.Or(c.from, L-max(1, L/2)) // it just doubled
		}
		to := max(min(max(floor, L-len(c.refusedBy)), L-1), c.cfg.Min)
		c.linear = true
		c.offLimits[to+1] = now
		c.change(to, fmt.Sprintf("overload: %d of %d attempts failed with overload errors at %d workers, on %d of them", c.overload, c.n, L, len(c.refusedBy)))
		return
	}
	if lower, m, ok := c.lastLower(L, now); ok {
		ideal := float64(L)/float64(lower) - 1
		if goodput < m.goodput*(1+ideal/2) {
			c.linear = true
			c.offLimits[L] = now
			c.change(lower, fmt.Sprintf("no gain: %.2f/s at %d workers vs %.2f/s at %d (mean attempt %.2fs)", goodput, L, m.goodput, lower, meanSec))
			return
		}
	}
	next := L + 1
	if !c.linear {
		next = 2 * L
	}
	next = min(next, c.ceiling(now))
	if next > L && c.backlog() {
		if !c.linear {
			c.from = L
		}
		c.change(next, fmt.Sprintf("probe: %.2f/s at %d workers, no overload", goodput, L))
		return
	}
	c.reset(now) // stay: start a fresh window at the same count
}

// lastLower returns the highest count below L measured within Cooldown.
func (c *controller) lastLower(L int, now time.Time) (int, measure, bool) {
	for l := L - 1; l >= c.cfg.Min; l-- {
		if m, ok := c.measured[l]; ok && now.Sub(m.at) < c.cfg.Cooldown {
			return l, m, true
		}
	}
	return 0, measure{}, false
}

// ceiling is the highest count allowed now: below any count off-limits.
func (c *controller) ceiling(now time.Time) int {
	ceil := c.cfg.Max
	if l := c.limit(); l > 0 {
		ceil = min(ceil, l)
	}
	for l, at := range c.offLimits {
		if now.Sub(at) < c.cfg.Cooldown {
			ceil = min(ceil, l-1)
		} else {
			delete(c.offLimits, l)
		}
	}
	return max(ceil, c.cfg.Min)
}

func (c *controller) change(to int, reason string) {
	if to != c.level {
		c.log.Info("pool: adaptive concurrency", "from", c.level, "to", to, "reason", reason)
		c.set(to)
		c.shrinking = to < c.level
	}
	c.level = to
	c.reset(c.now())
}

func (c *controller) reset(now time.Time) {
	c.since = now
	c.n, c.ok, c.overload, c.totalTime = 0, 0, 0, 0
	clear(c.refusedBy)
}
