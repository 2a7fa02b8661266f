package pool_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pagefleet/pagefleet/pool"
	"github.com/pagefleet/pagefleet/pool/pooltest"
)

// simSite is a modelled site and a job on it, for comparing the adaptive
// controller with fixed worker counts.
type simSite struct {
	name   string
	server func() *pooltest.Server
	reset  time.Duration // how long a page's Reset after a failed attempt takes
	items  int
	max    int // the most workers: the fixed counts tried and Adaptive.Max
}

// simRun is what one run of a job did.
type simRun struct {
	elapsed  time.Duration // fake time
	done     int
	attempts int // requeued ones too
	failed   int // attempts that ended with an error (refusals)
	peak     int // the most workers asked for
	log      string
}

func (r simRun) perSecond() float64 { return float64(r.done) / r.elapsed.Seconds() }

func (r simRun) errorShare() float64 { return float64(r.failed) / float64(max(r.attempts, 1)) }

// simulate runs site's job through a pool of fixed workers, or an adaptive
// one if a is not nil, on a fake clock: fast, and the same every time but
// for the order in which goroutines due at one fake instant run.
func simulate(t *testing.T, site simSite, workers int, a *pool.Adaptive) simRun {
	t.Helper()
	var r simRun
	synctest.Test(t, func(t *testing.T) {
		srv := site.server()
		f := &pooltest.Factory{ResetLatency: site.reset}
		var buf bytes.Buffer
		var mu sync.Mutex
		var p *pool.PagePool[*pooltest.Page]
		cfg := pool.Config[*pooltest.Page]{
			Factory: f, Workers: workers,
			Logger: slog.New(slog.NewTextHandler(&syncWriter{w: &buf, mu: &mu}, nil)),
			OnAttempt: func(at pool.Attempt) {
				r.attempts++
				if at.Err != nil {
					r.failed++
				}
				r.peak = max(r.peak, p.Stats().Target)
			},
			OnResult: func(res pool.Result) {
				if res.Err == nil {
					r.done++
				}
			},
		}
		if a != nil {
			ac := *a
			cfg.Adaptive = &ac
		}
		p, err := pool.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for i := range site.items {
			if err := p.Submit(srv.Task(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
		p.CloseQueue()
		start := time.Now()
		if err := p.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		r.elapsed = time.Since(start)
		f.Check(t)
		mu.Lock()
		r.log = buf.String()
		mu.Unlock()
	})
	return r
}

// bestFixed runs site's job at every fixed count up to site.max and
// returns the fastest run and its count.
func bestFixed(t *testing.T, site simSite) (best simRun, workers int) {
	t.Helper()
	for w := 1; w <= site.max; w++ {
		if r := simulate(t, site, w, nil); workers == 0 || r.perSecond() > best.perSecond() {
			best, workers = r, w
		}
	}
	return best, workers
}

// The two jobs the controller is measured by, with the production CLI's
// settings (jdrun starts at min(workers, 4)) and with Adaptive's defaults:
// a fast site that takes whatever it gets, where the controller must ramp
// up before the job is over; and a site with a hard limit of requests at
// once per session, answering the excess with an immediate 429 and
// "Retry-After: 1", where it must settle at the limit without many 429s.
// Run with -v for the numbers.
func TestAdaptiveSimulation(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs each job at every fixed count")
	}
	adaptive := map[string]pool.Adaptive{
		"jdrun":    {Min: 1, Max: 16, Start: 4},
		"defaults": {Max: 16},
	}
	for _, tc := range []struct {
		site      simSite
		minShare  float64 // of the best fixed count's throughput
		maxErrors float64 // share of attempts
	}{
		{
			site: simSite{name: "fast site", items: 600, max: 16,
				server: func() *pooltest.Server { return &pooltest.Server{Latency: 50 * time.Millisecond} }},
			minShare: 0.90, maxErrors: 0,
		},
		{
			// A refusal costs a round trip and the page's reset, as a 429
			// and the navigation to about:blank do in a browser.
			site: simSite{name: "limit 6", items: 600, max: 16, reset: 10 * time.Millisecond,
				server: func() *pooltest.Server {
					return &pooltest.Server{Latency: 300 * time.Millisecond, Limit: 6, RefuseLatency: 20 * time.Millisecond, RetryAfter: time.Second}
				}},
			// The step down retires the workers that were refused: the
			// pool retires the busy workers whose attempt began last.
			minShare: 0.95, maxErrors: 0.01,
		},
	} {
		t.Run(tc.site.name, func(t *testing.T) {
			t.Parallel()
			best, w := bestFixed(t, tc.site)
			t.Logf("best fixed: %d workers, %.1f/s in %v", w, best.perSecond(), best.elapsed)
			for _, name := range []string{"jdrun", "defaults"} {
				a := adaptive[name]
				r := simulate(t, tc.site, tc.site.max, &a)
				share := r.perSecond() / best.perSecond()
				t.Logf("adaptive (%s): %.1f/s in %v (%.0f %% of best), done %d/%d, errors %d of %d attempts (%.2f %%), peak %d workers",
					name, r.perSecond(), r.elapsed, 100*share, r.done, tc.site.items, r.failed, r.attempts, 100*r.errorShare(), r.peak)
				if share < tc.minShare || r.errorShare() > tc.maxErrors || r.done < tc.site.items {
					t.Errorf("adaptive (%s): %.0f %% of the best fixed count's throughput (want >= %.0f %%), %.2f %% errors (want <= %.1f %%), %d of %d done\n%s",
						name, 100*share, 100*tc.minShare, 100*r.errorShare(), 100*tc.maxErrors, r.done, tc.site.items, r.log)
				}
			}
		})
	}
}
