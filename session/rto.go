package session

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"
)

// RTO learns how long one kind of request takes on a site and gives the
// timeout of the next one, as TCP does for retransmissions (RFC 6298):
// the smoothed latency plus four times its mean deviation, at least Floor
// and at most the ceiling the caller passes (its configured timeout). A
// request that timed out doubles the timeout until one succeeds again, so a
// site that slowed down is followed within a few requests. Until it has
// seen an answer it gives the ceiling: it never guesses, nor borrows from
// other kinds (a PDF made on demand takes longer than a page). The session
// keeps one per kind of request ([Session.RTO]). Safe for concurrent use.
type RTO struct {
	// Floor is the least timeout it gives. Defaults to [DefaultMinTimeout].
	Floor time.Duration
	// MinSamples is how many answers it needs before it gives less than
	// the ceiling. Defaults to 1; negative: never (fixed timeouts).
	MinSamples int

	kind string       // for the log
	log  *slog.Logger // set by Session.RTO: changes are logged

	mu       sync.Mutex
	srtt     float64 // seconds
	rttvar   float64
	samples  int
	backoff  int // timeouts since the last answer
	reported time.Duration
}

// DefaultMinTimeout is the least a learned timeout can be, by default:
// enough for a slow machine to answer, little next to a minute.
const DefaultMinTimeout = 2 * time.Second

// DefaultMinPageTimeout is the least a learned navigation timeout
// ([Session.Goto]) can be, by default: a page's own work (parsing, scripts,
// layout) runs on this machine's CPU, which a load spike slows far more than
// it slows the site's answers.
const DefaultMinPageTimeout = 5 * time.Second

// Observe takes the latency of a request that was answered.
func (r *RTO) Observe(took time.Duration) {
	x := took.Seconds()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.samples == 0 {
		r.srtt, r.rttvar = x, x/2
	} else {
		r.rttvar = 0.75*r.rttvar + 0.25*math.Abs(r.srtt-x)
		r.srtt = 0.875*r.srtt + 0.125*x
	}
	r.samples++
	r.backoff = 0
	if r.log != nil && r.MinSamples >= 0 {
		if st, ok := r.changedLocked(); ok {
			r.log.Info("session: timeout learned", "kind", r.kind, "timeout", st.Timeout, "latency", st.Latency.Round(time.Millisecond),
				"spread", st.Spread.Round(time.Millisecond), "answers", st.Samples)
		}
	}
}

// Expired notes a request that timed out: the next timeouts double until a
// request is answered.
func (r *RTO) Expired() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.backoff = min(r.backoff+1, 16)
}

// Timeout returns the timeout of the next request, at most ceiling.
func (r *RTO) Timeout(ceiling time.Duration) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.timeoutLocked(ceiling)
}

func (r *RTO) timeoutLocked(ceiling time.Duration) time.Duration {
	base, ok := r.estimateLocked()
	if !ok || ceiling <= 0 {
		return ceiling
	}
	d := max(time.Duration(base*float64(time.Second)), r.floor())
	return min(time.Duration(float64(d)*math.Pow(2, float64(r.backoff))), ceiling)
}

// estimateLocked is the learned timeout in seconds, before floor, backoff
// and ceiling; false until there are enough answers.
func (r *RTO) estimateLocked() (float64, bool) {
	if r.MinSamples < 0 || r.samples < cmp.Or(r.MinSamples, 1) {
		return 0, false
	}
	return r.srtt + 4*r.rttvar, true
}

func (r *RTO) floor() time.Duration {
	if r.Floor > 0 {
		return r.Floor
	}
	return DefaultMinTimeout
}

// TimeoutError is a request that got no answer, or whose answer stopped
// coming, within its learned timeout ([RTO]). It matches
// context.DeadlineExceeded with errors.Is.
type TimeoutError struct {
	Kind    string        // the kind of request
	After   time.Duration // the timeout
	Stalled bool          // the answer began, then stopped coming
}

func (e *TimeoutError) Error() string {
	if e.Stalled {
		return fmt.Sprintf("the answer stopped coming for %v (the learned timeout of %s requests)", e.After, e.Kind)
	}
	return fmt.Sprintf("no answer in %v (the learned timeout of %s requests)", e.After, e.Kind)
}

// Is makes a TimeoutError match context.DeadlineExceeded.
func (e *TimeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// RTOStats are what an RTO has learned.
type RTOStats struct {
	Samples int
	Latency time.Duration // smoothed
	Spread  time.Duration // mean deviation
	Timeout time.Duration // the next request's, for a ceiling of a minute
}

// Stats returns what r has learned.
func (r *RTO) Stats() RTOStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.statsLocked()
}

func (r *RTO) statsLocked() RTOStats {
	return RTOStats{Samples: r.samples, Latency: seconds(r.srtt), Spread: seconds(r.rttvar), Timeout: r.timeoutLocked(time.Minute)}
}

func (s RTOStats) String() string {
	return fmt.Sprintf("%v (latency %v ± %v over %d answers)", s.Timeout, s.Latency.Round(time.Millisecond), s.Spread.Round(time.Millisecond), s.Samples)
}

func seconds(x float64) time.Duration { return time.Duration(x * float64(time.Second)) }

// changedLocked reports whether the timeout moved by half or more since
// it was last reported (or was learned at all), and takes it as reported.
func (r *RTO) changedLocked() (RTOStats, bool) {
	st := r.statsLocked()
	last := r.reported
	if st.Timeout == time.Minute || last != 0 && st.Timeout < last*3/2 && st.Timeout > last*2/3 {
		return st, false
	}
	r.reported = st.Timeout
	return st, true
}
