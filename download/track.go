package download

import (
	"context"
	"errors"

	"github.com/cenkalti/backoff/v4"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/pool"
)

// Track makes a pool keep a checkpoint tracker's records: each attempt is
// recorded Running before it starts (cfg.OnStart), a failed attempt that
// will be retried Pending (cfg.OnAttempt), and each task's Result (cfg.OnResult)
// Done with the [File] its Run returned, Failed, or — for a task the pool
// stopped before it finished — unfinished. Functions cfg already has are
// still called, after the record is written. cfg.MaxAttempts is set to the
// tracker's, so attempts add up the same way in both.
//
// A record that can't be written stops the job: stop is called with the
// error (pass the cancel function of the context Run gets), because every
// further outcome would be lost. A lease lost to another process is not
// such an error: that process's outcome counts, and the attempt is given
// up here without a retry.
func Track[P any](cfg *pool.Config[P], t *checkpoint.Tracker, stop context.CancelCauseFunc) {
	cfg.MaxAttempts = t.MaxAttempts()
	ctx := context.Background() // records are written even while the job stops: they are what a rerun needs
	failed := func(err error) {
		if err != nil && !errors.Is(err, checkpoint.ErrLeaseLost) {
			stop(err)
		}
	}
	onStart, onAttempt, onResult := cfg.OnStart, cfg.OnAttempt, cfg.OnResult
	cfg.OnStart = func(actx context.Context, a pool.Attempt) error {
		if err := t.Begin(actx, a.Key, a.Number, a.Started); err != nil {
			if errors.Is(err, checkpoint.ErrLeaseLost) {
				return backoff.Permanent(err)
			}
			failed(err)
			return err
		}
		if onStart != nil {
			return onStart(actx, a)
		}
		return nil
	}
	cfg.OnAttempt = func(a pool.Attempt) {
		if a.Err != nil && !a.Final {
			charged := a.Number
			if a.Requeued {
				charged--
			}
			failed(t.Retry(ctx, a.Key, a.Started, charged, a.Err))
		}
		if onAttempt != nil {
			onAttempt(a)
		}
	}
	cfg.OnResult = func(r pool.Result) {
		var err error
		switch f, ok := r.Value.(File); {
		case r.Err == nil && ok:
			err = t.Done(ctx, r.Key, r.Attempts, checkpoint.SavedFile{Path: f.Path, Size: f.Size, SHA256: f.SHA256})
		case r.Err == nil:
			err = t.Done(ctx, r.Key, r.Attempts, checkpoint.SavedFile{})
		case errors.Is(r.Err, pool.ErrStopped):
			err = t.Stop(ctx, r.Key, r.Attempts)
		default:
			err = t.Fail(ctx, r.Key, r.Attempts, r.Err)
		}
		failed(err)
		if onResult != nil {
			onResult(r)
		}
	}
}
