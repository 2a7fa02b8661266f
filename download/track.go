package download

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/cenkalti/backoff/v4"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/pool"
)

// Tracked is a [pool.PagePool] fed and recorded by a checkpoint tracker:
// the tracker claims the items ([checkpoint.Tracker.Feed]) and the pool
// works on them, and every attempt and outcome goes into the tracker's
// store — Running as an attempt starts (so a crash is on record; see
// [checkpoint.Tracker.Start] for when the attempt waits for it), Pending
// before a retry, Done with the [File] the task returned, Failed, or
// unfinished when the pool stops. Attempts add up across runs (a claim's
// attempts are the task's Prior), and an item the process died on before
// runs alone (pool.Task.Exclusive), so that a crash during it is its own.
//
// Outcomes are written as the pool reports them, many at once — not one
// after another on the pool's one callback goroutine, which would let the
// records of a busy pool fall behind its workers — so the tracker can send
// them to the store together (on a [checkpoint.LeaseBatcher]).
//
// The embedded pool is there for its Stats, SetWorkers and SetMaxWorkers;
// use Tracked.Run, not the pool's.
type Tracked[P any] struct {
	*pool.PagePool[P]
	tr       *checkpoint.Tracker
	rec      recorder
	onResult func(pool.Result) // the caller's

	mu       sync.Mutex
	stop     context.CancelCauseFunc // of the running Run
	suspects map[string]bool         // keys whose attempts Begin records before they start; true: submitted Exclusive
}

// NewTracked returns a pool made from cfg whose tasks tr feeds and
// records. The functions cfg has (OnStart, OnAttempt, OnResult) are still
// called after the tracker's: OnStart once the attempt's Running record is
// written (or on its way: Tracker.Start), OnAttempt and OnResult once the
// outcome is — in the order the pool reported them, one call at a time, as
// the pool promises.
// OnResult also hears of the items the tracker finished at their claim,
// with no attempt here (Worker 0): a file a dead run saved (Value: its
// File; see checkpoint.TrackerOptions.Adopt), or an item given up (Err
// wrapping checkpoint.ErrGivenUp or checkpoint.ErrPoison). So it sees
// every item of Run's keys but those other processes finished — unless
// the run stops first: keys not claimed by then get no Result.
// cfg.MaxAttempts is set to the tracker's.
func NewTracked[P any](cfg pool.Config[P], tr *checkpoint.Tracker) (*Tracked[P], error) {
	t := &Tracked[P]{tr: tr, suspects: map[string]bool{}}
	t.hook(&cfg)
	p, err := pool.New(cfg)
	if err != nil {
		return nil, err
	}
	t.PagePool = p
	return t, nil
}

// Run works on the items keys (usually checkpoint.Plan.Keys) until every
// one is finished — here, by another process sharing the store, or given
// up — or ctx ends. task does one attempt at one item on a page of the
// pool; a successful task returns the File it saved. A record that can't be
// written stops the run with that error: every later outcome would be
// lost. Run (or RunFrom) may be called once.
func (t *Tracked[P]) Run(ctx context.Context, keys []string, task func(ctx context.Context, page P, key string) (any, error)) error {
	in := make(chan []string, 1)
	in <- keys
	close(in)
	return t.RunFrom(ctx, in, task)
}

// RunFrom is Run for keys that arrive over time, a batch at a time on
// keys (see [checkpoint.Tracker.FeedFrom]): the pool starts on the first
// batch while the caller is still finding the next — the pages of an
// inventory, say. It returns once keys is closed and every item is
// finished, or ctx ends — or sooner, with ctx alive, when the pool aborts,
// a record can't be written or the tracker refuses a key — and then it
// reads keys no more: a sender must also watch a context its caller
// cancels once RunFrom has returned (see the example). Batches sent after
// the tracker's feed failed are read and dropped until RunFrom returns,
// so that the sender can go on to what the items under way wait for.
func (t *Tracked[P]) RunFrom(ctx context.Context, keys <-chan []string, task func(ctx context.Context, page P, key string) (any, error)) error {
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	t.mu.Lock()
	t.stop = stop
	t.mu.Unlock()
	fed := make(chan error, 1)
	go func() {
		defer func() {
			// A feed that failed reads keys no more; the sender may be
			// what the items under way wait for (the end of a listing):
			// its batches are read, and dropped, until RunFrom returns.
			for {
				select {
				case _, ok := <-keys:
					if ok {
						continue
					}
				case <-ctx.Done():
				}
				return
			}
		}()
		defer t.CloseQueue()
		fed <- t.tr.FeedFrom(ctx, keys, func(c checkpoint.Claim) error {
			if c.Finished != nil {
				t.settled(c)
				return nil
			}
			if c.Crashes > 0 || c.Suspect {
				t.mu.Lock()
				t.suspects[c.Key] = c.Crashes > 0
				t.mu.Unlock()
			}
			return t.Submit(pool.Task[P]{Key: c.Key, Prior: c.Attempts, Exclusive: c.Crashes > 0,
				Run: func(ctx context.Context, page P) (any, error) { return task(ctx, page, c.Key) }})
		})
	}()
	err := t.PagePool.Run(ctx)
	t.rec.drain(context.Background()) // every outcome the pool reported is written
	// The pool is done (finished, stopped or aborted): Feed, which may be
	// waiting on keys other owners hold, has nothing left to feed it.
	stop(nil)
	ferr := <-fed
	t.rec.drain(context.Background()) // and every item Feed finished at its claim is delivered
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return fmt.Errorf("download: the checkpoint could not be written: %w", cause)
	}
	if err == nil && ferr != nil && !errors.Is(ferr, context.Canceled) {
		err = ferr
	}
	return err
}

// settled delivers the Result of an item the tracker finished at its
// claim, with no attempt here: adopted (its File) or given up (why).
func (t *Tracked[P]) settled(c checkpoint.Claim) {
	rec := c.Finished
	r := pool.Result{Key: c.Key, Attempts: rec.Attempts, Err: c.GaveUp}
	if rec.State == checkpoint.Done {
		r.Value = File{Path: rec.Path, Size: rec.Size, SHA256: rec.SHA256}
	}
	t.rec.add(nil, func(error) {
		if t.onResult != nil {
			t.onResult(r)
		}
	})
}

// failed stops the run after a write the store refused. A lease lost to
// another process is no such failure: that process's outcome counts.
func (t *Tracked[P]) failed(err error) {
	if err == nil || errors.Is(err, checkpoint.ErrLeaseLost) {
		return
	}
	t.mu.Lock()
	stop := t.stop
	t.mu.Unlock()
	if stop != nil {
		stop(err)
	}
}

func (t *Tracked[P]) hook(cfg *pool.Config[P]) {
	tr := t.tr
	cfg.MaxAttempts = tr.MaxAttempts()
	bg := context.Background() // outcomes are written even as the run stops: they are what a rerun needs
	onStart, onAttempt, onResult := cfg.OnStart, cfg.OnAttempt, cfg.OnResult
	t.onResult = onResult
	cfg.OnStart = func(ctx context.Context, a pool.Attempt) error {
		t.mu.Lock()
		alone, suspect := t.suspects[a.Key]
		t.mu.Unlock()
		if alone {
			// It runs alone, so that a crash during it is its own: the
			// outcomes of the others must be on record before it starts.
			if err := t.rec.drain(ctx); err != nil {
				return err
			}
		}
		// A suspect's attempt starts once its record is stored, so that a
		// crash during it is counted; others as soon as it is on its way.
		begin := tr.Start
		if suspect {
			begin = tr.Begin
		}
		if err := begin(ctx, a.Key, a.Number, a.Started); err != nil {
			switch {
			case errors.Is(err, checkpoint.ErrLeaseLost):
				return backoff.Permanent(err)
			case ctx.Err() != nil:
				// The attempt's own deadline, or the shutdown, came before
				// its record was written: the attempt failed, not the store.
				return err
			}
			t.failed(err)
			return err
		}
		if onStart != nil {
			return onStart(ctx, a)
		}
		return nil
	}
	cfg.OnAttempt = func(a pool.Attempt) {
		var write func() error
		if a.Err != nil && !a.Final {
			charged := a.Number
			if a.Requeued {
				charged--
			}
			write = func() error { return tr.Retry(bg, a.Key, a.Started, charged, a.Err) }
		}
		t.rec.add(write, func(err error) {
			t.failed(err)
			if onAttempt != nil {
				onAttempt(a)
			}
		})
	}
	cfg.OnResult = func(r pool.Result) {
		t.mu.Lock()
		delete(t.suspects, r.Key)
		t.mu.Unlock()
		if pf, ok := r.Value.(*File); ok && pf != nil {
			r.Value = *pf
		}
		if f, ok := r.Value.(File); r.Err == nil && (!ok || f.Path == "" || f.SHA256 == "") {
			// A Done record without a file would be trusted for good.
			r.Err = fmt.Errorf("%w: the task of %.80q returned %T without a path or SHA-256", ErrNoFile, r.Key, r.Value)
		}
		t.rec.add(func() error {
			switch f, _ := r.Value.(File); {
			case r.Err == nil:
				return tr.Done(bg, r.Key, r.Attempts, checkpoint.SavedFile{Path: f.Path, Size: f.Size, SHA256: f.SHA256})
			case errors.Is(r.Err, pool.ErrStopped):
				return tr.Stop(bg, r.Key, r.Attempts)
			default:
				return tr.Fail(bg, r.Key, r.Attempts, r.Err)
			}
		}, func(err error) {
			t.failed(err)
			if onResult != nil {
				onResult(r)
			}
		})
	}
}

// recorder writes outcomes concurrently and delivers them — calls what
// follows each write — in the order they were added, one at a time.
type recorder struct {
	mu    sync.Mutex
	queue []*recorded   // added, not delivered yet, in order
	idle  chan struct{} // closed once the queue is empty; nil while it is
}

type recorded struct {
	err  error
	done chan struct{} // closed once written
	then func(error)
}

// add starts write (nil: nothing to write) and queues then, to be called
// with write's error once it and every outcome added before it are done.
func (r *recorder) add(write func() error, then func(error)) {
	o := &recorded{done: make(chan struct{}), then: then}
	if write == nil {
		close(o.done)
	} else {
		go func() {
			o.err = write()
			close(o.done)
		}()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queue = append(r.queue, o)
	if r.idle == nil {
		r.idle = make(chan struct{})
		go r.deliver()
	}
}

// deliver calls the outcomes' thens in order, until the queue is empty.
func (r *recorder) deliver() {
	for {
		r.mu.Lock()
		if len(r.queue) == 0 {
			close(r.idle)
			r.idle = nil
			r.mu.Unlock()
			return
		}
		o := r.queue[0]
		r.mu.Unlock()
		<-o.done
		o.then(o.err)
		r.mu.Lock()
		r.queue[0] = nil
		r.queue = r.queue[1:]
		r.mu.Unlock()
	}
}

// drain waits until every outcome added so far is written and delivered,
// or ctx ends.
func (r *recorder) drain(ctx context.Context) error {
	r.mu.Lock()
	idle := r.idle
	r.mu.Unlock()
	if idle == nil {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
