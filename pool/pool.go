package pool

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// PagePool runs tasks on a set of long-lived pages, one page per worker.
// Create it with [New], feed it with [PagePool.Submit], and call
// [PagePool.Run]. All methods are safe for concurrent use.
type PagePool[P any] struct {
	cfg Config[P]

	mu          sync.Mutex
	cond        *sync.Cond // idle workers wait here for ready tasks
	keys        map[string]struct{}
	ready       []*task[P] // FIFO of tasks that may start now
	waiting     map[*task[P]]struct{}
	workers     map[int]*worker[P]
	target      int
	asked       int // the last SetWorkers's n (or the configured count), before the cap
	maxWorkers  int // cap from SetMaxWorkers; 0: none
	nextID      int
	pending     int  // submitted tasks without a Result yet
	inflight    int  // attempts running now
	alone       bool // an Exclusive attempt is running
	queueClosed bool
	running     bool // Run has been called
	stopping    bool
	stopErr     error
	stopCh      chan struct{} // closed when stopping begins
	hurry       chan struct{} // closed by Hurry: the grace period ends
	hurried     bool
	finished    chan struct{} // closed when the queue is closed and drained
	started     time.Time
	counts      counts
	pace        time.Duration // smoothed duration of successful attempts; 0: none yet

	attemptCtx     context.Context // parent of attempts; outlives Run's ctx by the grace period
	cancelAttempts context.CancelFunc

	wg sync.WaitGroup // workers, page closers, retry timers
	// adrift counts the goroutines of abandoned attempts that have not
	// returned yet; Run waits for them only a while (see Run).
	adrift sync.WaitGroup
	events events
	ctl    *controller // nil without Config.Adaptive
}

type counts struct {
	done, failed, stopped, retries, requeued, recycled, rescued, adrift int
}

type task[P any] struct {
	Task[P]
	attempts, requeues int
	outages            int // of the requeues: those MaxRequeues does not count (see Requeue)
	backoff            backoff.BackOff
	first              time.Time
	worker             int
	timer              *time.Timer
	final              bool
	value              any // of the successful attempt
}

type worker[P any] struct {
	id        int
	page      P
	hasPage   bool
	state     WorkerState
	task      *task[P]
	since     time.Time
	tasks     int // tasks run on the current page
	retiring  bool
	abandoned bool            // rescued by the watchdog: its page and task are no longer its own
	ctx       context.Context // of the running attempt
	cancel    context.CancelFunc
}

// New returns a pool configured by cfg. It starts nothing until Run.
func New[P any](cfg Config[P]) (*PagePool[P], error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p := &PagePool[P]{
		cfg:      cfg,
		keys:     make(map[string]struct{}),
		waiting:  make(map[*task[P]]struct{}),
		workers:  make(map[int]*worker[P]),
		target:   cfg.Workers,
		asked:    cfg.Workers,
		stopCh:   make(chan struct{}),
		hurry:    make(chan struct{}),
		finished: make(chan struct{}),
	}
	p.cond = sync.NewCond(&p.mu)
	p.events.notify = make(chan struct{}, 1)
	p.events.drained = func() { // an Exclusive task may wait for the callbacks
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	}
	if cfg.Adaptive != nil {
		p.ctl = newController(*cfg.Adaptive, cfg.Workers, cfg.Logger, func(n int) { p.SetWorkers(n) }, p.hasBacklog, p.maxWorkersNow, p.settled)
		p.target, p.asked = p.ctl.cfg.Start, p.ctl.cfg.Start
	}
	return p, nil
}

// Submit adds a task to the queue. It may be called before or during Run.
// It returns an error wrapping [ErrDuplicateKey] for a key the pool has
// seen before, and [ErrClosed] after [PagePool.CloseQueue] or once the pool
// is stopping.
func (p *PagePool[P]) Submit(t Task[P]) error {
	if t.Key == "" || t.Run == nil || t.Prior < 0 {
		return errors.New("pool: Submit: task needs a Key, a Run func and Prior >= 0")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.queueClosed || p.stopping {
		return ErrClosed
	}
	if _, dup := p.keys[t.Key]; dup {
		return fmt.Errorf("%w: %q", ErrDuplicateKey, t.Key)
	}
	p.keys[t.Key] = struct{}{}
	p.pending++
	p.ready = append(p.ready, &task[P]{Task: t, attempts: t.Prior})
	p.cond.Signal()
	return nil
}

// CloseQueue declares that no more tasks will be submitted: Run returns
// once every submitted task has its Result.
func (p *PagePool[P]) CloseQueue() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queueClosed = true
	p.checkFinishedLocked()
}

// Run starts the workers and the watchdog and processes tasks until the
// queue is closed and drained (it returns nil), ctx ends (it returns
// ctx.Err()), or the pool aborts (it returns the cause: an [Abort] from a
// task, or a factory that could not make pages).
//
// On the way out no new attempt starts; running attempts get
// Config.GracePeriod to finish, then their contexts are cancelled, and
// half a grace period later the pages of attempts still running are closed.
// Tasks left unfinished get a Result wrapping [ErrStopped]. Run returns
// only after every goroutine it started has exited and every page is closed
// — with one exception, because Go cannot stop a goroutine: an attempt that
// was abandoned (by the watchdog, or by shutdown) and still has not
// returned a grace period after its page was closed is left running. It is
// a task that loops without looking at its context or its page, a bug;
// Run logs it and counts it in [Stats].Adrift. Whatever it returns later is
// ignored. (The validators of package download are bounded, so they never
// loop like that.) Run may be called once.
func (p *PagePool[P]) Run(ctx context.Context) error {
	p.mu.Lock()
	if p.running {
		p.mu.Unlock()
		return errors.New("pool: Run called twice")
	}
	p.running = true
	p.started = time.Now()
	p.attemptCtx, p.cancelAttempts = context.WithCancel(context.WithoutCancel(ctx))
	onAttempt := p.cfg.OnAttempt
	if p.ctl != nil {
		p.ctl.level = p.target
		p.ctl.reset(p.started)
		onAttempt = func(a Attempt) {
			p.ctl.observe(a)
			if p.cfg.OnAttempt != nil {
				p.cfg.OnAttempt(a)
			}
		}
	}
	for range p.target {
		p.startWorkerLocked()
	}
	p.checkFinishedLocked()
	p.mu.Unlock()

	delivered := make(chan struct{})
	go p.events.deliver(onAttempt, p.cfg.OnResult, delivered)
	stopWatchdog := make(chan struct{})
	watchdogDone := make(chan struct{})
	go p.watchdog(stopWatchdog, watchdogDone)

	select {
	case <-ctx.Done():
		p.stop(ctx.Err())
	case <-p.finished:
		p.stop(nil)
	case <-p.stopCh:
	}

	exited := make(chan struct{})
	go func() { p.wg.Wait(); close(exited) }()
	p.await(exited, p.cfg.GracePeriod, p.hurry, p.cancelAttempts)
	p.await(exited, p.cfg.GracePeriod/2, nil, p.closeRunning)
	<-exited
	p.waitAdrift()

	close(stopWatchdog)
	<-watchdogDone
	p.cancelAttempts()
	p.events.close()
	<-delivered

	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopErr
}

// waitAdrift waits a grace period for abandoned attempts to return, then
// leaves the rest running (see Run).
func (p *PagePool[P]) waitAdrift() {
	back := make(chan struct{})
	go func() { p.adrift.Wait(); close(back) }()
	t := time.NewTimer(max(p.cfg.GracePeriod, time.Second))
	defer t.Stop()
	select {
	case <-back:
	case <-t.C:
		p.mu.Lock()
		n := p.counts.adrift
		p.mu.Unlock()
		p.cfg.Logger.Error("pool: abandoned attempts did not return after their pages were closed; leaving them running",
			"attempts", n)
	}
}

// await waits for exited for at most d, or until cut is closed, then calls
// then.
func (p *PagePool[P]) await(exited <-chan struct{}, d time.Duration, cut <-chan struct{}, then func()) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-exited:
	case <-t.C:
		then()
	case <-cut:
		then()
	}
}

// Hurry ends the grace period of a stopping pool now: the contexts of the
// running attempts are cancelled, and their pages closed half a grace
// period later if they still run. For a user who asks twice to stop.
// Before Run's context ends it does nothing.
func (p *PagePool[P]) Hurry() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopping && !p.hurried {
		p.hurried = true
		close(p.hurry) // Run cancels the attempts, and closes pages half a grace period later
	}
}

// SetWorkers changes the number of workers while running (or before Run).
// Growing starts workers at once; shrinking retires idle workers at once
// and busy ones when their current attempt ends, so no task is lost.
func (p *PagePool[P]) SetWorkers(n int) error {
	if n < 0 {
		return fmt.Errorf("pool: SetWorkers(%d): want >= 0", n)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = n
	if p.maxWorkers > 0 {
		n = min(n, p.maxWorkers)
	}
	p.target = n
	if !p.running || p.stopping {
		return nil
	}
	live := p.liveLocked()
	for ; live < n; live++ {
		p.startWorkerLocked()
	}
	if live > n {
		// Retire idle workers first, then the busy ones whose attempt
		// began last: against a hard limit of requests at once, those are
		// the ones being refused, and their refusals end soonest.
		ws := make([]*worker[P], 0, len(p.workers))
		for _, w := range p.workers {
			if !w.retiring {
				ws = append(ws, w)
			}
		}
		slices.SortFunc(ws, func(a, b *worker[P]) int {
			if ab, bb := a.state == Running, b.state == Running; ab != bb {
				if ab {
					return 1
				}
				return -1
			}
			if c := b.since.Compare(a.since); c != 0 {
				return c
			}
			return b.id - a.id
		})
		for _, w := range ws[:live-n] {
			w.retiring = true
		}
		p.cond.Broadcast()
	}
	return nil
}

// SetMaxWorkers caps the number of workers at n from now on — also for
// the adaptive controller — and shrinks the pool to n if it is larger.
// Use it when the site turns out to take no more (say, it keeps per-session
// state that parallel pages would mix up). n = 0 removes the cap. Lifting
// or raising the cap gives back the workers it took: the pool grows to the
// count last asked for (SetWorkers, the controller, or Config.Workers), up
// to the new cap.
func (p *PagePool[P]) SetMaxWorkers(n int) error {
	if n < 0 {
		return fmt.Errorf("pool: SetMaxWorkers(%d): want >= 0", n)
	}
	p.mu.Lock()
	p.maxWorkers = n
	asked := p.asked
	p.mu.Unlock()
	return p.SetWorkers(asked)
}

func (p *PagePool[P]) maxWorkersNow() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.maxWorkers
}

// settled reports whether the pool runs exactly its target number of
// workers, none of them retiring.
func (p *PagePool[P]) settled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.workers) == p.target
}

func (p *PagePool[P]) hasBacklog() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ready) > 0
}

func (p *PagePool[P]) liveLocked() int {
	n := 0
	for _, w := range p.workers {
		if !w.retiring {
			n++
		}
	}
	return n
}

func (p *PagePool[P]) startWorkerLocked() {
	p.nextID++
	w := &worker[P]{id: p.nextID, state: Starting, since: time.Now()}
	p.workers[w.id] = w
	p.wg.Add(1)
	go p.work(w)
}

// stop begins shutdown with cause (nil: the queue is drained).
func (p *PagePool[P]) stop(cause error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopLocked(cause)
}

func (p *PagePool[P]) stopLocked(cause error) {
	if p.stopping {
		return
	}
	p.stopping = true
	p.stopErr = cause
	close(p.stopCh)
	p.cond.Broadcast()
	for _, t := range p.ready {
		p.finalizeLocked(t, stoppedError(cause, nil))
	}
	p.ready = nil
	for t := range p.waiting {
		if t.timer.Stop() {
			p.wg.Done()
		}
		p.finalizeLocked(t, stoppedError(cause, nil))
	}
	clear(p.waiting)
}

func stoppedError(cause, last error) error {
	return fmt.Errorf("%w: %w", ErrStopped, firstErr(cause, last))
}

// firstErr returns the first non-nil error, or context.Canceled.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return context.Canceled
}

// closeRunning closes the pages of attempts that ignored their cancelled
// context past the grace period, so their driver calls return.
func (p *PagePool[P]) closeRunning() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, w := range p.workers {
		if w.state == Running {
			t, err := w.task, stoppedError(p.stopErr, nil) // cut short: not charged
			p.abandonLocked(w)
			p.pushAttemptLocked(Attempt{Key: t.Key, Number: t.attempts + 1, Requeues: t.requeues, Worker: w.id,
				Started: w.since, Err: err, Duration: time.Since(w.since), Final: true})
			p.finalizeLocked(t, err)
		}
	}
}

// abandonLocked takes a running attempt's page and task away from its
// worker, closes the page in the background, and forgets the worker; its
// goroutine exits when the attempt returns. From now on Run waits for it
// only as long as waitAdrift does.
func (p *PagePool[P]) abandonLocked(w *worker[P]) {
	p.endAttemptLocked(w.task)
	w.abandoned = true
	w.cancel()
	delete(p.workers, w.id)
	p.closePageLocked(w)
	p.counts.adrift++
	p.adrift.Add(1)
	p.wg.Done() // the worker's own: its goroutine signs off through adrift
}

// endAttemptLocked notes that an attempt of t ended (or was abandoned),
// letting an Exclusive task that waits for the others start.
func (p *PagePool[P]) endAttemptLocked(t *task[P]) {
	p.inflight--
	if t.Exclusive {
		p.alone = false
	}
	if p.inflight == 0 {
		p.cond.Broadcast()
	}
}

// closePageLocked takes the worker's page and closes it in the background
// (Close may block on a dead browser).
func (p *PagePool[P]) closePageLocked(w *worker[P]) {
	if !w.hasPage {
		return
	}
	page := w.page
	var zero P
	w.page, w.hasPage, w.tasks = zero, false, 0
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if err := p.cfg.Factory.Close(page); err != nil {
			p.cfg.Logger.Debug("pool: closing page", "worker", w.id, "err", err)
		}
	}()
}

func (p *PagePool[P]) checkFinishedLocked() {
	if p.running && p.queueClosed && p.pending == 0 {
		select {
		case <-p.finished:
		default:
			close(p.finished)
		}
	}
}

// finalizeLocked gives t its one Result.
func (p *PagePool[P]) finalizeLocked(t *task[P], err error) {
	if t.final {
		return
	}
	t.final = true
	p.pending--
	var d time.Duration
	if !t.first.IsZero() {
		d = time.Since(t.first)
	}
	switch {
	case err == nil:
		p.counts.done++
	case errors.Is(err, ErrStopped):
		p.counts.stopped++
	default:
		p.counts.failed++
	}
	var v any
	if err == nil {
		v = t.value
	}
	p.events.push(event{isResult: true, result: Result{
		Key: t.Key, Value: v, Err: err, Attempts: t.attempts, Requeues: t.requeues, Worker: t.worker, Duration: d,
	}})
	p.checkFinishedLocked()
}

// settleLocked decides what follows an attempt of t that ended with err
// after running for d: a Result, a retry after backoff, or a requeue.
func (p *PagePool[P]) settleLocked(t *task[P], w *worker[P], err error, d time.Duration) {
	att := Attempt{Key: t.Key, Number: t.attempts + 1, Requeues: t.requeues, Worker: w.id, Err: err, Started: w.since, Duration: d}
	outage := isOutage(err)
	if err != nil && IsRequeue(err) && !IsAbort(err) && (outage || t.requeues-t.outages < p.cfg.MaxRequeues) && !p.stopping {
		t.requeues++
		if outage {
			t.outages++
		}
		p.counts.requeued++
		att.Requeued = true
		p.pushAttemptLocked(att)
		if d := retryAfter(err); d > 0 {
			p.waitLocked(t, d)
			return
		}
		p.ready = append(p.ready, t)
		p.cond.Signal()
		return
	}
	if IsAbort(err) {
		// The run's end, not the item's failure: stopped, not charged.
		p.stopLocked(fmt.Errorf("pool: aborted by task %q: %w", t.Key, err))
	}
	if p.stopping && (isContextErr(err) || IsRequeue(err) || IsAbort(err)) {
		// Cut short by the shutdown (or a requeue that can't be run any
		// more): not the task's failure, not charged.
		att.Final = true
		p.pushAttemptLocked(att)
		p.finalizeLocked(t, stoppedError(p.stopErr, err))
		return
	}
	t.attempts++
	att.Final = true
	var permanent *backoff.PermanentError
	var next time.Duration
	switch {
	case err == nil:
		p.learnPaceLocked(d)
	case errors.As(err, &permanent) || !p.cfg.Retryable(err):
	case p.stopping && t.attempts < p.cfg.MaxAttempts:
		err = stoppedError(p.stopErr, err)
	case t.attempts >= p.cfg.MaxAttempts:
	case IsRequeue(err):
		// Charged, as MaxRequeues says, but retried without backoff: its
		// cause has been dealt with, and waiting would only let it come
		// back (a session that expires while the task sleeps) — unless the
		// site said how long to wait.
		att.Final = false
		next = retryAfter(err)
	default:
		if t.backoff == nil {
			t.backoff = p.newBackOffLocked(p.cfg.MaxAttempts - t.attempts)
		}
		if next = t.backoff.NextBackOff(); next != backoff.Stop {
			att.Final = false
			next = max(next, retryAfter(err)) // the site said how long
		}
	}
	p.pushAttemptLocked(att)
	if att.Final {
		if err != nil && !errors.Is(err, ErrStopped) {
			err = fmt.Errorf("task %q: giving up after %d attempt(s): %w", t.Key, t.attempts, err)
		}
		p.finalizeLocked(t, err)
		return
	}
	p.counts.retries++
	p.cfg.Logger.Debug("pool: attempt failed, will retry", "key", t.Key, "attempt", t.attempts, "in", next, "err", err)
	p.waitLocked(t, next)
}

// waitLocked makes t ready again after d, without holding a worker.
func (p *PagePool[P]) waitLocked(t *task[P], d time.Duration) {
	p.waiting[t] = struct{}{}
	p.wg.Add(1)
	t.timer = time.AfterFunc(d, func() {
		defer p.wg.Done()
		p.mu.Lock()
		defer p.mu.Unlock()
		if _, ok := p.waiting[t]; ok {
			delete(p.waiting, t)
			p.ready = append(p.ready, t)
			p.cond.Signal()
		}
	})
}

func (p *PagePool[P]) pushAttemptLocked(a Attempt) {
	if p.cfg.OnAttempt != nil || p.ctl != nil {
		p.events.push(event{attempt: a})
	}
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// watchdog rescues attempts that ran past StuckAfter.
func (p *PagePool[P]) watchdog(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(p.cfg.WatchdogInterval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			p.rescueStuck(now)
		}
	}
}

func (p *PagePool[P]) rescueStuck(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, w := range p.workers {
		if w.state != Running || now.Sub(w.since) < p.cfg.StuckAfter {
			continue
		}
		t, ran := w.task, now.Sub(w.since)
		p.cfg.Logger.Warn("pool: attempt stuck; closing its page and starting a new worker",
			"key", t.Key, "worker", w.id, "ran", ran.Round(time.Millisecond))
		p.counts.rescued++
		p.counts.recycled++
		p.abandonLocked(w)
		if !w.retiring && !p.stopping && p.liveLocked() < p.target {
			p.startWorkerLocked()
		}
		p.settleLocked(t, w, fmt.Errorf("%w: ran %v, limit %v", ErrStuck, ran.Round(time.Millisecond), p.cfg.StuckAfter), ran)
	}
}
