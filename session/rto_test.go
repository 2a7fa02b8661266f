package session

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/pagefleet/pagefleet/pool"
)

// TestRTO: the ceiling until answers are seen; then smoothed latency plus
// four deviations, at least the floor; doubled per timeout until an
// answer; never above the ceiling.
func TestRTO(t *testing.T) {
	const ceiling = time.Minute
	r := &RTO{Floor: time.Second}
	if got := r.Timeout(ceiling); got != ceiling {
		t.Errorf("before any answer: %v, want the ceiling", got)
	}
	for range 20 {
		r.Observe(50 * time.Millisecond)
	}
	if got := r.Timeout(ceiling); got != time.Second {
		t.Errorf("a 50 ms site: %v, want the floor", got)
	}
	slow := &RTO{Floor: time.Second}
	for i := range 50 {
		slow.Observe(time.Duration(4000+1000*(i%2)) * time.Millisecond) // 4 s and 5 s by turns
	}
	if got := slow.Timeout(ceiling); got < 5*time.Second || got > 8*time.Second {
		t.Errorf("a site answering in 4–5 s: %v, want its latency and some spread", got)
	}
	r.Expired()
	r.Expired()
	if got := r.Timeout(ceiling); got != 4*time.Second {
		t.Errorf("after two timeouts: %v, want the floor ×4", got)
	}
	for range 10 {
		r.Expired()
	}
	if got := r.Timeout(ceiling); got != ceiling {
		t.Errorf("after many timeouts: %v, want the ceiling", got)
	}
	r.Observe(50 * time.Millisecond)
	if got := r.Timeout(ceiling); got != time.Second {
		t.Errorf("answered again: %v, want the floor", got)
	}
	if got := r.Timeout(500 * time.Millisecond); got != 500*time.Millisecond {
		t.Errorf("a ceiling under the floor: %v, want the ceiling", got)
	}

	fixed := &RTO{MinSamples: -1}
	fixed.Observe(time.Millisecond)
	if got := fixed.Timeout(ceiling); got != ceiling {
		t.Errorf("fixed timeouts: %v, want the ceiling", got)
	}

	if !errors.Is(&TimeoutError{Kind: "file", After: time.Second}, context.DeadlineExceeded) {
		t.Error("a TimeoutError is not a deadline exceeded")
	}
}

// TestStatusErr: what each status means to a pool — gone for good,
// retried, or (429) retried uncharged after what the site asked.
func TestStatusErr(t *testing.T) {
	var perm *backoff.PermanentError
	var st *StatusError
	for _, tc := range []struct {
		code       int
		retryAfter string
		requeue    bool
		permanent  bool
		wait       time.Duration
	}{
		{200, "", false, false, 0},
		{404, "", false, true, 0},
		{500, "", false, false, 0},
		{503, "7", false, false, 7 * time.Second},
		{429, "", true, false, time.Second},
		{429, "5", true, false, 5 * time.Second},
		{429, "86400", true, false, maxRetryAfter},
		{429, time.Now().Add(3 * time.Second).UTC().Format(http.TimeFormat), true, false, 3 * time.Second},
	} {
		err := StatusErr(tc.code, "http://x/1", tc.retryAfter)
		if tc.code < 400 {
			if err != nil {
				t.Errorf("%d: %v", tc.code, err)
			}
			continue
		}
		if !errors.As(err, &st) || pool.IsRequeue(err) != tc.requeue || errors.As(err, &perm) != tc.permanent ||
			st.Wait < tc.wait-time.Second || st.Wait > tc.wait {
			t.Errorf("%d %q: %v, requeue %v, permanent %v, wait %v", tc.code, tc.retryAfter, err, pool.IsRequeue(err), errors.As(err, &perm), st.Wait)
		}
	}
}

// TestAnswerWithin: a page may take as long to answer a script as a
// navigation of its kind may take, at least MinPageTimeout: on a machine
// so loaded that pages take seconds, a slow page is not a hung one.
func TestAnswerWithin(t *testing.T) {
	s := &Session{cfg: Config{}.withDefaults()}
	exp := Expect{Kind: "vehicle"}
	s.RTO("vehicle").Observe(50 * time.Millisecond)
	if got := s.answerWithin(exp); got != DefaultMinPageTimeout {
		t.Errorf("a fast site: %v, want MinPageTimeout %v", got, DefaultMinPageTimeout)
	}
	for range 5 {
		s.RTO("vehicle").Observe(8 * time.Second)
	}
	if got, nav := s.answerWithin(exp), s.RTO("vehicle").Timeout(s.cfg.Timeout); got != nav || got <= 8*time.Second {
		t.Errorf("navigations take 8 s: %v, want the navigation timeout %v", got, nav)
	}
	if got := s.answerWithin(Expect{Timeout: 3 * time.Second}); got != 3*time.Second {
		t.Errorf("a 3 s page: %v, want its timeout", got)
	}
	fixed := &Session{cfg: Config{FixedTimeouts: true}.withDefaults()}
	if got := fixed.answerWithin(Expect{Timeout: time.Minute}); got != time.Minute {
		t.Errorf("fixed timeouts: %v, want the page's timeout", got)
	}
}
