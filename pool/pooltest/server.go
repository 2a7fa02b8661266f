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
// RefuseRate of the excess requests is refused at once with ErrOverloaded.
// Decisions are drawn from a source seeded with Seed.
type Server struct {
	Capacity   int
	Latency    time.Duration
	RefuseRate float64
	Seed       uint64

	mu       sync.Mutex
	rng      *rand.Rand
	inFlight int
	served   int
	refused  int
}

// Do makes one request to the server.
func (s *Server) Do(ctx context.Context) error {
	s.mu.Lock()
	if s.rng == nil {
		s.rng = rand.New(rand.NewPCG(s.Seed, s.Seed))
	}
	s.inFlight++
	n := s.inFlight
	latency := s.Latency
	if n > s.Capacity {
		if s.rng.Float64() < s.RefuseRate*float64(n-s.Capacity)/float64(n) {
			s.inFlight--
			s.refused++
			s.mu.Unlock()
			return ErrOverloaded
		}
		latency = s.Latency * time.Duration(n) / time.Duration(s.Capacity)
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.served++
		s.mu.Unlock()
	}()
	t := time.NewTimer(latency)
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
