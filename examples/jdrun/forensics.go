package main

import (
	"context"
	"os"
	"path/filepath"

	playwright "github.com/mxschmitt/playwright-go"
)

// maxTraces is how many failed vehicles -trace failures replays.
const maxTraces = 10

// traceFailures replays up to maxTraces failed vehicles once each, on
// their page with a click, in a browser context of their own with Playwright tracing
// on (tracing is serial per context, so the run itself is not traced),
// and keeps the trace in the vehicle's last bundle. The replay changes
// nothing: its sticker goes to a scratch dir that is removed, and the
// checkpoint is not touched — a replay that works says the failure
// passed; rerun with -retry-failed.
func (r *runner) traceFailures(ctx context.Context, outcomes []outcome) {
	if err := r.bundles.Wait(); err != nil {
		r.log.Warn("writing the evidence of failures", "err", err)
	}
	scratch, err := os.MkdirTemp(r.cfg.StateDir, "replay-")
	if err != nil {
		r.log.Warn("no replay of failures", "err", err)
		return
	}
	defer os.RemoveAll(scratch)
	traced := 0
	for i, o := range outcomes {
		bundles := r.bundles.Bundles(o.VIN)
		if o.State != "failed" || len(bundles) == 0 || traced >= maxTraces || ctx.Err() != nil {
			continue
		}
		traced++
		v, last := r.vehicle(o.VIN), bundles[len(bundles)-1]
		dst := r.target(v)
		dst.Dir = scratch
		tctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
		err := r.sess.Trace(tctx, filepath.Join(r.bundles.Dir, last, "trace.zip"), func(ctx context.Context, page playwright.Page) error {
			_, err := r.onPage(ctx, page, v, dst, false, false) // a click: the browser's request, in the trace
			return err
		})
		cancel()
		if _, serr := os.Stat(filepath.Join(r.bundles.Dir, last, "trace.zip")); serr != nil {
			r.log.Warn("replaying a failed vehicle with a trace: no trace", "vin", o.VIN, "err", err)
			continue
		}
		outcomes[i].Trace = "bundles/" + last + "/trace.zip"
		r.log.Info("replayed a failed vehicle with a trace", "vin", o.VIN, "trace", outcomes[i].Trace, "replay_ok", err == nil, "replay_err", err)
	}
}
