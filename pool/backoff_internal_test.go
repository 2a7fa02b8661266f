package pool

import (
	"testing"
	"time"
)

func TestFasterFirstWaitKeepsThePatience(t *testing.T) {
	for _, retries := range []int{2, 3, 4, 10, 20} {
		want := totalWait(classicFirstWait, 2, retries)
		for _, first := range []time.Duration{minFirstWait, 250 * time.Millisecond, 999 * time.Millisecond} {
			got := totalWait(first, growthFor(first, retries), retries)
			if diff := got - want; diff < -want/100 || diff > want/100 {
				t.Errorf("retries %d from %v: waits add up to %v, want %v", retries, first, got, want)
			}
		}
	}
	// "For ever": the solver stays cheap and finite.
	if g := growthFor(minFirstWait, 1<<30); g < 2 || g > 64 {
		t.Errorf("growth for 2^30 retries: %v", g)
	}
	// One retry: its wait is the whole patience, so it stays a second.
	if d := retryBackOff(minFirstWait, 1).NextBackOff(); d < classicFirstWait/2 {
		t.Errorf("the only retry waits %v, want 1 s ± 50 %%", d)
	}
}
