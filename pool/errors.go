package pool

import (
	"errors"
	"fmt"
	"runtime/debug"
	"time"
)

// Sentinel errors. Test with errors.Is.
var (
	// ErrClosed is returned by Submit once the queue is closed or the pool has stopped.
	ErrClosed = errors.New("pool: closed")
	// ErrDuplicateKey is returned by Submit for a key the pool has already seen.
	ErrDuplicateKey = errors.New("pool: duplicate key")
	// ErrStuck is the error of an attempt the watchdog rescued: it ran past
	// its deadline by more than the configured threshold, so its page was closed.
	ErrStuck = errors.New("pool: attempt stuck")
	// ErrStopped is the error of a task that could not finish because the
	// pool stopped (its context ended, or an [Abort]). It wraps the cause.
	ErrStopped = errors.New("pool: stopped")
)

// Requeue marks err as a failure outside the task's control that has been
// dealt with — the session was logged out and has logged in again — so the
// task runs again without being charged an attempt and without backoff.
// If err (or an error it wraps) has a method RetryAfter() time.Duration
// that returns more than zero — a site's "429 Too Many Requests, retry
// after 2 s" — the task waits that long first, without holding a worker.
// A pool limits how often one task may be requeued (Config.MaxRequeues);
// beyond that the failure is charged an attempt, still without backoff —
// unless err (or an error it wraps) has a method Outage() bool that
// returns true: a failure of the whole site whose length the caller
// bounds itself (a login page that is down for a while), which does not
// count toward the limit.
func Requeue(err error) error {
	if err == nil {
		return nil
	}
	return &requeueError{err}
}

type requeueError struct{ err error }

func (e *requeueError) Error() string { return e.err.Error() }
func (e *requeueError) Unwrap() error { return e.err }

// retryAfter is what err asks a requeue to wait, if anything.
func retryAfter(err error) time.Duration {
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) {
		return ra.RetryAfter()
	}
	return 0
}

// isOutage reports whether err says it is an outage of the whole site
// (see [Requeue]).
func isOutage(err error) bool {
	var o interface{ Outage() bool }
	return errors.As(err, &o) && o.Outage()
}

// IsRequeue reports whether err was marked with [Requeue].
func IsRequeue(err error) bool {
	var r *requeueError
	return errors.As(err, &r)
}

// Abort marks err as fatal for the whole pool — e.g. the credentials were
// refused on re-login, so every further task would fail the same way. The
// pool stops starting attempts, lets running ones finish within the grace
// period, and Run returns an error wrapping err.
func Abort(err error) error {
	if err == nil {
		return nil
	}
	return &abortError{err}
}

type abortError struct{ err error }

func (e *abortError) Error() string { return e.err.Error() }
func (e *abortError) Unwrap() error { return e.err }

// IsAbort reports whether err was marked with [Abort].
func IsAbort(err error) bool {
	var a *abortError
	return errors.As(err, &a)
}

// PanicError is the error of an attempt whose task panicked.
type PanicError struct {
	Value any    // what was passed to panic
	Stack []byte // the panicking goroutine's stack
}

func newPanicError(v any) *PanicError { return &PanicError{Value: v, Stack: debug.Stack()} }

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v\n%s", e.Value, e.Stack) }

// Unwrap returns the panic value if it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}
