package pool

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Task is one unit of work: Run is called with a page that no other task
// uses at the same time, under a context that ends at the attempt's deadline
// and carries the attempt's number ([AttemptFrom]).
//
// Run should return once ctx is done. If it does not (a browser call that
// ignores the context), the watchdog closes its page, which must make Run
// return; its late result is then ignored.
type Task[P any] struct {
	// Key identifies the task: unique within a pool, and the key of its Result.
	Key string
	// Run does the work. A nil error is success, and the value it returns
	// with it (say, the saved file) is the Result's Value; see
	// [Config.Retryable], [Requeue] and [Abort] for how errors are treated.
	Run func(ctx context.Context, page P) (any, error)
	// Exclusive runs each attempt alone: the pool starts it only when no
	// other attempt runs and the callbacks of those that ended (OnAttempt,
	// OnResult) have returned, and starts no other attempt until it ends. For
	// an item suspected of crashing the whole process (see
	// checkpoint.Claim.Crashes): whatever happens during its attempt is
	// its own doing. Defaults to false.
	Exclusive bool
	// Prior is the number of attempts charged to the task before this pool
	// (by earlier runs, as a checkpoint recorded them): the task gets
	// Config.MaxAttempts in all, and a task with no attempts left still
	// gets one. Defaults to 0.
	Prior int
}

// Result is the final outcome of a task. Every submitted task gets exactly one.
type Result struct {
	Key string
	// Err is nil on success; otherwise the last attempt's error. A task the
	// pool could not finish because it stopped has an error wrapping
	// [ErrStopped] (and the cause, e.g. context.Canceled); such a task was
	// not given up on, so a later run can try it again.
	Err error
	// Value is what the successful attempt's Run returned; nil on failure.
	Value any
	// Attempts is the number of attempts charged to the task, Task.Prior
	// included. An attempt a stopping pool cut short is not charged.
	Attempts int
	// Requeues counts attempts not charged (see [Requeue]).
	Requeues int
	// Worker is the ID of the worker that ran the last attempt (0 if none ran).
	Worker int
	// Duration runs from the start of the first attempt to the end of the
	// last one, including waits between retries.
	Duration time.Duration
}

// Attempt describes one attempt: to the task itself through its context
// ([AttemptFrom]) and to Config.OnStart as it starts, to Config.OnAttempt
// when it has ended.
type Attempt struct {
	Key string
	// Number counts the task's charged attempts, Task.Prior included, this
	// one too: 1 for the first attempt of a fresh task. An attempt that
	// ends requeued ([Requeue]) is not charged, so the next one carries the
	// same Number.
	Number int
	// Requeues is how many attempts of the task were requeued (not charged)
	// before this one.
	Requeues int
	Worker   int
	// Started is when the attempt began. It identifies the attempt among
	// the task's attempts.
	Started time.Time

	// The fields below are set once the attempt has ended (OnAttempt).

	Err error // nil on success; wraps [ErrStuck] for a rescued attempt
	// Duration is how long the attempt ran (for a rescued attempt: until the rescue).
	Duration time.Duration
	// Requeued reports that the attempt ended with a [Requeue] that was
	// honoured: it was not charged, and the task runs again at once.
	Requeued bool
	// Final reports whether the task's Result follows from this attempt.
	Final bool
}

// Config configures a [PagePool]. Only Factory is required.
type Config[P any] struct {
	// Factory makes, resets and closes pages. Required.
	Factory Factory[P]

	// Workers is the number of workers (and pages) to start with.
	// Defaults to 4. Change it while running with [PagePool.SetWorkers].
	Workers int

	// AttemptTimeout bounds each attempt through its context's deadline.
	// Set it to a few times what one item takes on a slow day: a hang costs
	// this much. Defaults to 1 minute.
	AttemptTimeout time.Duration

	// MaxAttempts is how many attempts a task gets in all, the first
	// included. Defaults to 3 (one try and two retries).
	MaxAttempts int

	// MaxRequeues bounds the attempts per task that [Requeue] leaves
	// uncharged; beyond it they are charged like any failure, so a site
	// that logs out on every request cannot loop forever (they are still
	// retried without backoff, after the RetryAfter the error asks for, if
	// any). The requeues of a site's outage (see [Requeue]) do not count.
	// Defaults to 5.
	MaxRequeues int

	// NewBackOff makes the retry policy of one task; each task gets a fresh
	// one. Its NextBackOff is asked after each failed attempt; backoff.Stop
	// gives up. Defaults to exponential backoff with ±50 % jitter, at most
	// 1 min per wait, whose first wait is 4 times the smoothed duration of
	// the pool's successful attempts (100 ms to 1 s; 1 s before the first
	// success) and whose waits grow so that they add up to those from 1 s
	// doubling per retry over the retries the task has left (Task.Prior
	// counts against them; with one left it waits 1 s): a one-off error on
	// a fast site costs little, a site that is down is waited for as long. An error with a RetryAfter()
	// time.Duration method (see [Requeue]) waits at least that long.
	NewBackOff func() backoff.BackOff

	// Retryable reports whether a failed attempt may be retried. Errors
	// wrapped with backoff.Permanent are never retried, whatever it says.
	// Defaults to retrying everything else.
	Retryable func(error) bool

	// StuckAfter is how long an attempt may run, counted from its start,
	// before the watchdog gives up on it: it closes the worker's page (which
	// unblocks a driver call that ignores its context), starts a replacement
	// worker, and counts the attempt as failed with [ErrStuck]. It must
	// exceed AttemptTimeout. Defaults to AttemptTimeout + 30 s.
	StuckAfter time.Duration

	// WatchdogInterval is how often the watchdog looks for stuck attempts.
	// Defaults to StuckAfter/10, at most 30 s.
	WatchdogInterval time.Duration

	// PageTimeout bounds each call of Factory.New and Factory.Reset.
	// Defaults to 1 minute.
	PageTimeout time.Duration

	// PageAttempts is how many times in a row one worker may fail to make a
	// page (with backoff in between) before Run gives up with an error.
	// Defaults to 5.
	PageAttempts int

	// RecycleAfter closes a page and makes a fresh one after that many
	// tasks, to keep long runs' memory flat. Defaults to 0: never.
	RecycleAfter int

	// GracePeriod is how long running attempts may go on after Run's
	// context ends (or the pool aborts) before they are cancelled and their
	// pages closed. Defaults to 10 s.
	GracePeriod time.Duration

	// OnResult receives each task's final Result. Calls come from one
	// goroutine, in completion order, so it needs no locking; a slow
	// OnResult delays later results but not the workers. Defaults to nothing.
	OnResult func(Result)

	// OnAttempt receives each finished attempt, before the Result it may
	// lead to, from the same goroutine as OnResult. Defaults to nothing.
	OnAttempt func(Attempt)

	// OnStart is called on the worker's goroutine as each attempt starts,
	// before Task.Run, with the attempt's context: to record the attempt
	// durably before it can crash the process, say. An error fails the
	// attempt (Run is not called), and it counts like an error of Run; so
	// does an OnStart that returns after the attempt's context ended.
	// Defaults to nothing.
	OnStart func(ctx context.Context, a Attempt) error

	// Adaptive, if set, turns on the concurrency controller: it moves the
	// number of workers between Adaptive.Min and Adaptive.Max (by default
	// Workers) to where the site does the most good work; see [Adaptive].
	// Defaults to nil: a fixed number of workers.
	Adaptive *Adaptive

	// Logger receives worker, watchdog and controller events. Defaults to slog.Default().
	Logger *slog.Logger
}

func (c *Config[P]) setDefaults() {
	c.Workers = cmp.Or(c.Workers, 4)
	c.AttemptTimeout = cmp.Or(c.AttemptTimeout, time.Minute)
	c.MaxAttempts = cmp.Or(c.MaxAttempts, 3)
	c.MaxRequeues = cmp.Or(c.MaxRequeues, 5)
	if c.Retryable == nil {
		c.Retryable = func(error) bool { return true }
	}
	c.StuckAfter = cmp.Or(c.StuckAfter, c.AttemptTimeout+30*time.Second)
	c.WatchdogInterval = cmp.Or(c.WatchdogInterval, min(c.StuckAfter/10, 30*time.Second))
	c.PageTimeout = cmp.Or(c.PageTimeout, time.Minute)
	c.PageAttempts = cmp.Or(c.PageAttempts, 5)
	c.GracePeriod = cmp.Or(c.GracePeriod, 10*time.Second)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func (c *Config[P]) validate() error {
	switch {
	case c.Factory == nil:
		return errors.New("pool: Config.Factory is required")
	case c.Workers < 0:
		return fmt.Errorf("pool: Config.Workers = %d, want >= 0", c.Workers)
	case c.AttemptTimeout < 0:
		return fmt.Errorf("pool: Config.AttemptTimeout = %v, want > 0", c.AttemptTimeout)
	case c.MaxAttempts < 0:
		return fmt.Errorf("pool: Config.MaxAttempts = %d, want >= 1", c.MaxAttempts)
	case c.MaxRequeues < 0:
		return fmt.Errorf("pool: Config.MaxRequeues = %d, want >= 0", c.MaxRequeues)
	case c.StuckAfter <= c.AttemptTimeout:
		return fmt.Errorf("pool: Config.StuckAfter = %v must exceed AttemptTimeout = %v", c.StuckAfter, c.AttemptTimeout)
	case c.WatchdogInterval < 0, c.PageTimeout < 0, c.GracePeriod < 0:
		return errors.New("pool: Config.WatchdogInterval, PageTimeout and GracePeriod must not be negative")
	case c.PageAttempts < 0, c.RecycleAfter < 0:
		return errors.New("pool: Config.PageAttempts and RecycleAfter must not be negative")
	}
	return nil
}
