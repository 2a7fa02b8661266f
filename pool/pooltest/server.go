package pooltest

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/pagefleet/pagefleet/pool"
)

// ErrOverloaded is what a [Server] answers to a request it refuses, like
// an HTTP 429.
var ErrOverloaded = errors.New("pooltest: server overloaded (429)")

// Server models a site with a capacity, for testing concurrency control:
// up to Capacity requests at once are served in Latency each; beyond that
// they queue — latency grows in proportion to the load — and a share
// RefuseRate of the excess requests is refused with ErrOverloaded.
// A hard Limit refuses every request beyond it, as a portal's
// per-session limit does. Decisions are drawn from a source seeded with Seed.
type Server struct {
	// Capacity is how many requests are served at once in Latency each.
	// Zero: any number.
	Capacity int
	Latency  time.Duration
	// RefuseRate is the share of the requests beyond Capacity that is
	// refused: the more beyond, the more of them.
	RefuseRate float64
	// Limit, if above zero, refuses every request that would make more
	// than Limit in flight — like a portal that answers 429 to a session
	// going over its limit of requests at once.
	Limit int
	// RefuseLatency is how long a refusal takes to arrive: a round trip,
	// short next to Latency. Zero: at once.
	RefuseLatency time.Duration
	// RetryAfter, if above zero, is the wait a refusal asks for, as a
	// 429's Retry-After header does: the error has a method RetryAfter()
	// time.Duration and is wrapped with [pool.Requeue] — what package
	// session makes of a 429 — so a pool retries the task uncharged after
	// that wait.
	RetryAfter time.Duration
	Seed       uint64

	mu       sync.Mutex
	rng      *rand.Rand
	inFlight int
	served   int
	refused  int
}

// refusal is a refused request that asks to be retried after wait.
type refusal struct{ wait time.Duration }

func (r *refusal) Error() string             { return ErrOverloaded.Error() }
func (r *refusal) Unwrap() error             { return ErrOverloaded }
func (r *refusal) RetryAfter() time.Duration { return r.wait }

// Do makes one request to the server. A refused request returns an error
// that matches ErrOverloaded.
func (s *Server) Do(ctx context.Context) error {
	s.mu.Lock()
	if s.rng == nil {
		s.rng = rand.New(rand.NewPCG(s.Seed, s.Seed))
	}
	s.inFlight++
	n := s.inFlight
	latency := s.Latency
	refuse := s.Limit > 0 && n > s.Limit
	if !refuse && s.Capacity > 0 && n > s.Capacity {
		refuse = s.rng.Float64() < s.RefuseRate*float64(n-s.Capacity)/float64(n)
		latency = s.Latency * time.Duration(n) / time.Duration(s.Capacity)
	}
	if refuse {
		s.inFlight-- // a refusal takes no share of the server
		s.refused++
		s.mu.Unlock()
		if err := sleep(ctx, s.RefuseLatency); err != nil {
			return err
		}
		if s.RetryAfter > 0 {
			return pool.Requeue(&refusal{s.RetryAfter})
		}
		return ErrOverloaded
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.served++
		s.mu.Unlock()
	}()
	return sleep(ctx, latency)
}

// sleep waits d, or returns ctx.Err() if ctx ends first.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Task returns a task for key that makes one request to the server on a
// page (so the factory still checks exclusive page use).
func (s *Server) Task(key string) pool.Task[*Page] {
	return pool.Task[*Page]{Key: key, Run: func(ctx context.Context, p *Page) (any, error) {
		if err := p.Do(ctx, key); err != nil {
			return nil, err
		}
		return nil, s.Do(ctx)
	}}
}

// Counts returns how many requests were served and refused.
func (s *Server) Counts() (served, refused int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served, s.refused
}
