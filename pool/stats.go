package pool

import (
	"slices"
	"sync"
	"time"
)

// WorkerState is what a worker is doing.
type WorkerState int

// Worker states.
const (
	Starting  WorkerState = iota // making its page
	Idle                         // waiting for a task
	Running                      // running an attempt
	Resetting                    // resetting its page after a failed attempt
)

func (s WorkerState) String() string {
	switch s {
	case Starting:
		return "starting"
	case Idle:
		return "idle"
	case Running:
		return "running"
	case Resetting:
		return "resetting"
	}
	return "unknown"
}

// WorkerStats describes one live worker.
type WorkerStats struct {
	ID    int
	State WorkerState
	Key   string    // the task it runs, if Running
	Since time.Time // when it entered State
	// Retiring reports that the worker exits after its current attempt
	// ([PagePool.SetWorkers] shrank the pool).
	Retiring bool
}

// Stats is a snapshot of a pool's progress.
type Stats struct {
	Queued   int // ready to start
	Waiting  int // waiting out a retry backoff
	Running  int // attempts running now
	Done     int // tasks finished successfully
	Failed   int // tasks given up on
	Stopped  int // tasks left unfinished because the pool stopped
	Retries  int // failed attempts that were retried
	Requeued int // attempts not charged (see Requeue)
	Recycled int // pages closed and replaced after a failure, a rescue or RecycleAfter
	Rescued  int // stuck attempts rescued by the watchdog
	// Adrift counts abandoned attempts whose goroutine has not returned
	// yet (see [PagePool.Run]).
	Adrift int

	Target  int           // workers wanted (see SetWorkers)
	Workers []WorkerStats // live workers, by ID
	Elapsed time.Duration // since Run started
}

// Throughput is finished tasks (done or failed) per second since Run started.
func (s Stats) Throughput() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Done+s.Failed) / s.Elapsed.Seconds()
}

// Stats returns a snapshot of the pool's state. It is cheap enough to poll
// for progress reports.
func (p *PagePool[P]) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Stats{
		Queued:   len(p.ready),
		Waiting:  len(p.waiting),
		Done:     p.counts.done,
		Failed:   p.counts.failed,
		Stopped:  p.counts.stopped,
		Retries:  p.counts.retries,
		Requeued: p.counts.requeued,
		Recycled: p.counts.recycled,
		Rescued:  p.counts.rescued,
		Adrift:   p.counts.adrift,
		Target:   p.target,
		Workers:  make([]WorkerStats, 0, len(p.workers)),
	}
	if p.running {
		s.Elapsed = time.Since(p.started)
	}
	for _, w := range p.workers {
		ws := WorkerStats{ID: w.id, State: w.state, Since: w.since, Retiring: w.retiring}
		if w.state == Running {
			s.Running++
			ws.Key = w.task.Key
		}
		s.Workers = append(s.Workers, ws)
	}
	slices.SortFunc(s.Workers, func(a, b WorkerStats) int { return a.ID - b.ID })
	return s
}

// event is an Attempt or a Result on its way to the callbacks.
type event struct {
	isResult bool
	attempt  Attempt
	result   Result
}

// events is an unbounded queue from the workers to the one goroutine that
// calls OnAttempt and OnResult, so a slow callback never blocks a worker.
type events struct {
	mu      sync.Mutex
	items   []event
	pending int // pushed, and not delivered yet
	closed  bool
	notify  chan struct{} // capacity 1
	drained func()        // called when pending drops to 0
}

func (q *events) push(e event) {
	q.mu.Lock()
	q.items = append(q.items, e)
	q.pending++
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// busy reports whether events wait to be delivered, or are being.
func (q *events) busy() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pending > 0
}

func (q *events) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

func (q *events) deliver(onAttempt func(Attempt), onResult func(Result), done chan<- struct{}) {
	defer close(done)
	var batch []event
	for {
		q.mu.Lock()
		batch, q.items = q.items, batch[:0]
		closed := q.closed
		q.mu.Unlock()
		for i, e := range batch {
			switch {
			case e.isResult && onResult != nil:
				onResult(e.result)
			case !e.isResult && onAttempt != nil:
				onAttempt(e.attempt)
			}
			batch[i] = event{}
		}
		if len(batch) > 0 {
			q.mu.Lock()
			q.pending -= len(batch)
			idle := q.pending == 0
			q.mu.Unlock()
			if idle && q.drained != nil {
				q.drained()
			}
		}
		if closed && len(batch) == 0 {
			return
		}
		if len(batch) == 0 {
			<-q.notify
		}
	}
}
