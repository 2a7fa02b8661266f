package pool

import (
	"time"

	"github.com/cenkalti/backoff/v4"
)

// The default retry policy (Config.NewBackOff nil) is exponential backoff
// with ±50 % jitter that starts from how long the pool's successful attempts
// take: a one-off error on a site that answers in 50 ms is retried in a few
// hundred milliseconds, not a second — at the end of a run that second is
// the whole run waiting. Later waits grow faster instead, so that the last
// retry comes when it would with waits of 1 s doubling each time: a site
// that is down for a while is waited for just as long before an item is
// given up. Until an attempt has succeeded, and on a slow site, it is the
// classic 1 s doubling.
const (
	classicFirstWait = time.Second
	minFirstWait     = 100 * time.Millisecond
	maxWait          = time.Minute
	// firstWaitPerAttempt is the first wait in successful attempt durations.
	firstWaitPerAttempt = 4
)

// learnPaceLocked takes the duration of a successful attempt into the pool's
// smoothed attempt duration (weight ⅛, as TCP smooths its round trips).
func (p *PagePool[P]) learnPaceLocked(d time.Duration) {
	if p.pace == 0 {
		p.pace = d
		return
	}
	p.pace += (d - p.pace) / 8
}

// newBackOffLocked makes the retry policy of a task that has retries
// retries left (attempts of earlier runs, Task.Prior, are used up):
// Config.NewBackOff's, or the default above.
func (p *PagePool[P]) newBackOffLocked(retries int) backoff.BackOff {
	if p.cfg.NewBackOff != nil {
		return p.cfg.NewBackOff()
	}
	first := classicFirstWait
	if p.pace > 0 {
		first = min(max(firstWaitPerAttempt*p.pace, minFirstWait), classicFirstWait)
	}
	return retryBackOff(first, retries)
}

// retryBackOff waits first, then grows by the factor that makes the waits
// of retries retries add up to what waits from 1 s doubling add up to.
func retryBackOff(first time.Duration, retries int) backoff.BackOff {
	growth := 2.0
	if first < classicFirstWait && retries < 2 {
		first = classicFirstWait // one wait: only its length keeps the patience
	} else if first < classicFirstWait {
		growth = growthFor(first, retries)
	}
	return backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(first),
		backoff.WithMultiplier(growth),
		backoff.WithMaxInterval(maxWait),
		backoff.WithRandomizationFactor(0.5),
		backoff.WithMaxElapsedTime(0), // MaxAttempts bounds retries, not elapsed time
	)
}

// growthFor returns the growth factor (2 to 64) whose waits from first add
// up, over retries retries, to those from classicFirstWait doubling.
func growthFor(first time.Duration, retries int) float64 {
	// From about 20 retries on the waits reach maxWait and the factor stops
	// changing; the sums below must stay small (they run under the pool's
	// lock) and must not overflow for a MaxAttempts meant as "for ever".
	retries = min(retries, 64)
	want := totalWait(classicFirstWait, 2, retries)
	lo, hi := 2.0, 64.0
	for range 50 {
		mid := (lo + hi) / 2
		if totalWait(first, mid, retries) < want {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// totalWait adds up retries waits from first, growing by growth, each at
// most maxWait (as backoff.ExponentialBackOff caps them), without jitter.
func totalWait(first time.Duration, growth float64, retries int) time.Duration {
	var sum time.Duration
	for d := float64(first); retries > 0; retries-- {
		sum += time.Duration(min(d, float64(maxWait)))
		d *= growth
	}
	return sum
}
