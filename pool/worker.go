package pool

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// work is one worker's life: make a page, run tasks on it, reset or
// replace it after failures, close it on the way out.
func (p *PagePool[P]) work(w *worker[P]) {
	if p.ensurePage(w) { // the first page eagerly, so it is warm when work comes
		for {
			t := p.next(w)
			if t == nil {
				break
			}
			if !p.attempt(w, t) { // abandoned: the watchdog took the page and the task
				p.mu.Lock()
				p.counts.adrift--
				p.mu.Unlock()
				p.adrift.Done()
				return
			}
		}
	}
	defer p.wg.Done()
	p.mu.Lock()
	delete(p.workers, w.id)
	p.closePageLocked(w)
	p.mu.Unlock()
}

// exitingLocked reports whether w should stop taking work.
func (p *PagePool[P]) exitingLocked(w *worker[P]) bool { return p.stopping || w.retiring }

// ensurePage makes w a page if it has none, retrying failures with backoff.
// It reports false if the worker should exit instead.
func (p *PagePool[P]) ensurePage(w *worker[P]) bool {
	var b backoff.BackOff
	for failures := 1; ; failures++ {
		p.mu.Lock()
		if w.hasPage || p.exitingLocked(w) {
			defer p.mu.Unlock()
			return w.hasPage && !p.exitingLocked(w)
		}
		w.state, w.since = Starting, time.Now()
		p.mu.Unlock()

		ctx, cancel := context.WithTimeout(p.attemptCtx, p.cfg.PageTimeout)
		page, err := p.cfg.Factory.New(ctx)
		cancel()

		p.mu.Lock()
		if err == nil {
			w.page, w.hasPage, w.tasks = page, true, 0
			w.state, w.since = Idle, time.Now()
			p.mu.Unlock()
			continue
		}
		if p.stopping {
			p.mu.Unlock()
			return false
		}
		if b == nil && p.cfg.NewBackOff != nil {
			b = p.cfg.NewBackOff()
		} else if b == nil {
			b = retryBackOff(classicFirstWait, 0) // the classic 1 s doubling: a page's failure says nothing of the site's pace
		}
		wait := b.NextBackOff()
		if isOutage(err) { // the site's, bounded by whoever says so: not this page's failure
			failures--
			wait = max(wait, retryAfter(err))
		}
		var permanent *backoff.PermanentError
		if errors.As(err, &permanent) || IsAbort(err) || failures >= p.cfg.PageAttempts || wait == backoff.Stop {
			p.stopLocked(fmt.Errorf("pool: worker %d could not make a page (%d attempt(s)): %w", w.id, failures, err))
			p.mu.Unlock()
			return false
		}
		p.mu.Unlock()
		p.cfg.Logger.Warn("pool: making a page failed", "worker", w.id, "attempt", failures, "retry_in", wait, "err", err)
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-p.stopCh:
			timer.Stop()
		}
	}
}

// next blocks until a task is ready for w, or w should exit (nil). A
// worker whose page was replaced makes the new one only when there is work.
func (p *PagePool[P]) next(w *worker[P]) *task[P] {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		switch {
		case p.exitingLocked(w):
			return nil
		case len(p.ready) == 0:
			if w.state != Idle {
				w.state, w.since = Idle, time.Now()
			}
			p.cond.Wait()
		case !w.hasPage:
			p.cond.Signal() // let a worker with a page take this task meanwhile
			p.mu.Unlock()
			ok := p.ensurePage(w)
			p.mu.Lock()
			if !ok {
				return nil
			}
		case p.alone || p.ready[0].Exclusive && (p.inflight > 0 || p.events.busy()):
			// An attempt runs alone, or the next one must: after every
			// other attempt has ended and its callbacks (which record
			// outcomes) have returned, so a crash now is its own.
			p.cond.Wait()
		default:
			t := p.ready[0]
			p.ready[0] = nil
			p.ready = p.ready[1:]
			w.state, w.task, w.since = Running, t, time.Now()
			p.inflight++
			p.alone = t.Exclusive
			// The attempt's context is made here, under the lock, so the
			// watchdog can cancel it from the moment the worker is Running.
			a := Attempt{Key: t.Key, Number: t.attempts + 1, Requeues: t.requeues, Worker: w.id, Started: w.since}
			w.ctx, w.cancel = context.WithTimeout(context.WithValue(p.attemptCtx, attemptKey{}, a), p.cfg.AttemptTimeout)
			t.worker = w.id
			if t.first.IsZero() {
				t.first = w.since
			}
			return t
		}
	}
}

// attempt runs t once on w's page and settles the outcome. It reports
// false if the watchdog abandoned w meanwhile.
func (p *PagePool[P]) attempt(w *worker[P], t *task[P]) bool {
	p.mu.Lock()
	ctx, cancel, page, start := w.ctx, w.cancel, w.page, w.since
	p.mu.Unlock()

	v, err := p.call(ctx, t, page)
	cancel()

	p.mu.Lock()
	if w.abandoned {
		p.mu.Unlock()
		return false
	}
	p.endAttemptLocked(t)
	w.state, w.task = Idle, nil
	w.tasks++
	if err == nil {
		t.value = v
	}
	p.settleLocked(t, w, err, time.Since(start))
	// Reset after any failure, a requeued one too: it is cheap, and it is
	// how a page of a crashed browser is found out and replaced.
	reset := err != nil
	if !reset && p.cfg.RecycleAfter > 0 && w.tasks >= p.cfg.RecycleAfter {
		p.counts.recycled++
		p.closePageLocked(w)
	}
	if reset {
		w.state, w.since = Resetting, time.Now()
	}
	p.mu.Unlock()

	if reset {
		ctx, cancel := context.WithTimeout(p.attemptCtx, p.cfg.PageTimeout)
		rerr := p.cfg.Factory.Reset(ctx, page)
		cancel()
		if rerr != nil {
			p.cfg.Logger.Info("pool: reset failed; replacing the page", "worker", w.id, "err", rerr)
			p.mu.Lock()
			p.counts.recycled++
			p.closePageLocked(w)
			p.mu.Unlock()
		}
	}
	return true
}

// call runs OnStart and the task, turning a panic into a *PanicError.
func (p *PagePool[P]) call(ctx context.Context, t *task[P], page P) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, newPanicError(r)
		}
	}()
	if p.cfg.OnStart != nil {
		a, _ := AttemptFrom(ctx)
		if err := p.cfg.OnStart(ctx, a); err != nil {
			return nil, err
		}
		// An OnStart that outlasted the attempt's deadline: the watchdog
		// may close the page any moment now, so the task doesn't start.
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	return t.Run(ctx, page)
}

type attemptKey struct{}

// AttemptFrom returns the attempt that ctx belongs to — the context of
// Task.Run or of Config.OnStart — with its key, number, requeues, worker
// and start; false for any other context.
func AttemptFrom(ctx context.Context) (Attempt, bool) {
	a, ok := ctx.Value(attemptKey{}).(Attempt)
	return a, ok
}
