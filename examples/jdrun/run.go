package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/examples/portal/dealer"
	"github.com/pagefleet/pagefleet/pool"
	"github.com/pagefleet/pagefleet/pool/poolmetrics"
	"github.com/pagefleet/pagefleet/session"
)

// runJob is the main job: log in, list, plan, download, report.
func runJob(ctx context.Context, cfg *config, stdout, stderr io.Writer) (err error) {
	st, err := loadSite(cfg.SiteFile)
	if err != nil {
		return err
	}
	for _, dir := range []string{cfg.OutDir, cfg.StateDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("%w: %w", errUsage, err)
		}
	}
	logFile, err := os.OpenFile(filepath.Join(cfg.StateDir, "jdrun.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	log, logOut := newLogger(cfg, stderr, os.Getenv, logFile, cfg.secrets()...)
	sum := summary{Started: time.Now(), Portal: cfg.URL, Version: version(), Settings: cfg.settings()}
	log.Info("jdrun start", "version", sum.Version, "env_file", cfg.EnvFile, "settings", sum.Settings)
	defer func() {
		if err != nil && ctx.Err() != nil && !errors.Is(err, errInterrupted) {
			err = fmt.Errorf("%w: %v", errInterrupted, err) // a Ctrl-C cut it short, whatever it was doing
		}
		err = session.Redact(err, cfg.secrets()...)
		log.Info("jdrun end", "exit_code", exitCodeOf(err), "reason", errText(err), "done", sum.Done, "failed", sum.Failed,
			"not_finished", sum.Stopped, "already_done", sum.Skipped, "seconds", time.Since(sum.Started).Seconds())
	}()

	if cfg.Demo {
		srv, err := startDemo(cfg)
		if err != nil {
			return err
		}
		defer srv.Close()
		log.Info("-demo: running the embedded demo portal",
			"url", srv.URL(), "vehicles", cfg.DemoVehicles, "latency", cfg.DemoLatency, "faults", cfg.DemoFaults)
		sum.Portal, sum.Demo = srv.URL(), true
	}
	var sess atomic.Pointer[session.Session]
	lv, err := startLive(cfg, log, sess.Load) // -listen: live metrics and status page (live.go)
	if err != nil {
		return err
	}
	defer closeLive(lv, log)

	open := openStore
	if cfg.DryRun && !isPostgres(cfg.Store) {
		open = readStore // the journal as it is: not repaired, compacted or upgraded
	}
	store, err := open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := store.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing the checkpoint: %w", cerr)
		}
	}()
	work := store
	if cfg.DryRun && isPostgres(cfg.Store) { // plan on a copy (readStore made one of a file): a dry run changes no record
		if work, err = inMemory(ctx, store); err != nil {
			return fmt.Errorf("reading the checkpoint: %w", err)
		}
	}
	if cfg.ImportFile != "" {
		added, skipped, err := checkpoint.Import(ctx, work, cfg.ImportFile)
		if err != nil {
			return fmt.Errorf("%w: importing %s: %w", errUsage, cfg.ImportFile, err)
		}
		log.Info("imported the old tool's progress", "file", cfg.ImportFile, "added", added, "already_known", skipped)
	}
	if isPostgres(cfg.Store) {
		log.Info("shared checkpoint: splitting the work with other jdrun processes", "worker", cfg.WorkerID)
	}
	if !cfg.Demo && cfg.Browser == "" { // a plain request first: a wrong URL or a closed port is said in a second, not after browser logins
		if c := reachable(ctx, cfg.URL+st.LoginPath); !c.ok {
			return fmt.Errorf("%w: %s (%s; check JD_URL, or run jdrun doctor)", errLogin, c.detail, c.fix)
		}
	}
	log.Info("logging in", "url", cfg.URL+st.LoginPath, "user", cfg.User)
	r, err := openRunner(ctx, cfg, st, log, work)
	if err != nil {
		return err
	}
	defer r.close()
	r.live = lv
	sess.Store(r.sess)
	lv.SetPhase("listing the inventory")

	if cfg.DryRun {
		var todo []*vehicle
		pl := newPlanner(r, func(_ context.Context, vs []*vehicle) error { todo = append(todo, vs...); return nil })
		vehicles, err := listPlanned(ctx, r, pl, false)
		if err != nil {
			return err
		}
		sum.Inventory, sum.Skipped, sum.Queued = len(vehicles), pl.done, pl.queued
		logPlan(log, pl)
		if err := preflight(r, len(todo)); err != nil {
			return err
		}
		for _, v := range todo {
			fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\n", v.VIN, v.Stock, r.fileName(v), v.URL)
		}
		return nil
	}
	removeTemp(r)

	// The downloads start with the first page of the inventory, while the
	// listing goes on (see listPlanned's overlap below); the totals shown
	// are the vehicles planned so far until it ends.
	rep := &reporter{r: r}
	mon := startMonitor(cfg, stderr, logOut, log, r.stats)
	lv.SetPhase("listing the inventory and downloading")
	dctx, stopDownloads := context.WithCancel(ctx)
	defer stopDownloads()
	batches := make(chan []string)
	var pl *planner
	totals := func(final bool) { // the bar's and the live page's
		mon.setTotal(pl.done, pl.queued, final)
		lv.Follow(poolmetrics.Progress{Meter: mon.meter, Before: pl.done, Total: pl.queued, Growing: !final})
	}
	// The listing comes first in a shared store — other processes trust
	// this one's records, which must not wait for a judgement — and with
	// the adaptive worker count, whose controller would take the listing's
	// load on the site for the site's limit, and keep it.
	overlap := !r.shared && !cfg.Adaptive
	pl = newPlanner(r, func(ctx context.Context, vs []*vehicle) error {
		totals(false)
		if len(vs) == 0 {
			return nil
		}
		if !overlap { // the whole plan at once: the disk is checked before the first download
			if err := preflight(r, len(vs)); err != nil {
				return err
			}
		}
		select {
		case batches <- vins(vs):
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	var vehicles []*vehicle
	listed := make(chan error, 1)
	go func() {
		defer close(batches)
		var err error
		if vehicles, err = listPlanned(dctx, r, pl, overlap); err == nil {
			logPlan(log, pl)
			lv.SetPhase("downloading")
			if overlap {
				s := r.stats()
				err = preflight(r, pl.queued-s.Done-s.Failed)
			}
		}
		totals(true)
		if err != nil {
			// The downloads stop too: a sticker waiting for the listing to
			// judge it (download.IDs.Await) would wait in vain.
			stopDownloads()
		}
		listed <- err
	}()
	finished := make(chan struct{})
	defer close(finished)
	go acknowledge(ctx, r, finished)
	runErr := r.downloadFrom(dctx, batches, rep.record)
	stopDownloads()
	listErr := <-listed
	sum.Inventory, sum.Skipped, sum.Queued = max(len(vehicles), pl.planned), pl.done, pl.queued
	sum.Selected = sum.Skipped + sum.Queued
	samples, peak := mon.finish()
	r.mu.Lock()
	tried := len(rep.outcomes) > 0 || len(r.rejected) > 0
	r.mu.Unlock()
	if listErr != nil && runErr == nil && !tried { // as if the listing came first
		return listErr
	}
	removeTemp(r) // and those of processes sharing the store that died meanwhile
	if cfg.Trace == "failures" && ctx.Err() == nil {
		r.traceFailures(ctx, rep.outcomes)
	}
	rep.finish(ctx, &sum, samples, peak)
	if sum.Queued > 0 || sum.Interrupted { // a run with nothing to do keeps the last run's reports
		if err := writeReports(cfg.StateDir, &metrics{Run: sum, Vehicles: rep.outcomes, Throughput: samples}); err != nil {
			log.Error("writing reports", "err", err)
		}
	}
	printSummary(stdout, sum, cfg.StateDir)

	switch {
	case errors.Is(runErr, session.ErrBadCredentials), errors.Is(runErr, session.ErrLoginFailed): // refused, or down past session.Config.LoginOutage
		return fmt.Errorf("%w: %w", errLogin, runErr)
	case runErr != nil:
		return runErr
	case ctx.Err() != nil:
		return fmt.Errorf("%w: %d done, %d not finished; run again to resume", errInterrupted, sum.Done, sum.Stopped)
	case listErr != nil:
		return listErr
	case sum.Failed > 0:
		return fmt.Errorf("%w: %d of %d (see %s)", errFailures, sum.Failed, sum.Queued, filepath.Join(cfg.StateDir, "report.html"))
	}
	return nil
}

// listPlanned lists the inventory and plans it: as it goes with overlap
// (see planner.add), the downloads starting meanwhile; else once it is
// listed. Its errors say what jdrun's exit code needs.
func listPlanned(ctx context.Context, r *runner, pl *planner, overlap bool) ([]*vehicle, error) {
	lctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var planErr error
	add := func(vs []*vehicle, last bool) {
		if planErr == nil {
			if planErr = pl.add(lctx, vs, last); planErr != nil {
				stop(planErr)
			}
		}
	}
	var onPage func([]*vehicle)
	if overlap {
		r.ids.SetGrowing(true) // see download.IDs.Await and runner.inventoryListed
		onPage = func(vs []*vehicle) { add(vs, false) }
	}
	vehicles, err := r.list(lctx, onPage)
	if err == nil {
		if overlap {
			r.inventoryListed(ctx)
			add(nil, true)
		} else {
			add(vehicles, true)
		}
	}
	switch {
	case (err != nil || planErr != nil) && ctx.Err() != nil:
		return nil, fmt.Errorf("%w while listing the inventory", errInterrupted)
	case planErr != nil:
		return nil, planErr
	case errors.Is(err, session.ErrLoginFailed): // the login went down while listing, past LoginOutage
		return nil, fmt.Errorf("%w: %w", errLogin, err)
	}
	return vehicles, err
}

// logPlan logs what the run does.
func logPlan(log *slog.Logger, pl *planner) {
	log.Info("plan", "inventory", pl.planned, "already_done", pl.done, "given_up_before", pl.givenUp, "to_download", pl.queued)
}

func startDemo(cfg *config) (*dealer.Server, error) {
	dc := dealer.Config{Vehicles: cfg.DemoVehicles, Latency: cfg.DemoLatency, LatencyJitter: cfg.DemoLatency / 3, Prewarm: true}
	if cfg.DemoFaults {
		dc.ErrorRate, dc.SoftErrorRate, dc.HangRate, dc.TruncateRate = 0.03, 0.02, 0.01, 0.02
		dc.SessionTTL, dc.MaxInFlight, dc.Interference, dc.CSRFRaceRate = 20*time.Second, 6, true, 0.2
	}
	srv, err := dealer.Start(dc)
	if err != nil {
		return nil, fmt.Errorf("starting the demo portal: %w", err)
	}
	cfg.URL, cfg.User, cfg.Password = srv.URL(), dealer.DemoUser, dealer.DemoPassword
	return srv, nil
}

// acknowledge tells the user what a Ctrl-C does, and hurries the pool at
// the second.
func acknowledge(ctx context.Context, r *runner, finished <-chan struct{}) {
	select {
	case <-finished:
		return
	case <-ctx.Done():
	}
	r.log.Warn(fmt.Sprintf("stopping: %d downloads in progress get up to %v to finish; Ctrl-C again to stop them now",
		r.stats().Running, r.cfg.Grace))
	select {
	case <-finished:
	case <-hurried(ctx):
		r.log.Warn("stopping now; the summary and the checkpoint are still written (Ctrl-C again to quit at once)")
		r.mu.Lock()
		if r.pool != nil {
			r.pool.Hurry()
		}
		r.mu.Unlock()
	}
}

// removeTemp removes the temporary files that killed runs left in the
// output dir (files other processes are writing are locked: spared).
func removeTemp(r *runner) {
	n, err := download.RemoveTemp(r.cfg.OutDir)
	if err != nil {
		r.log.Warn("removing temporary files of an interrupted run", "dir", r.cfg.OutDir, "err", err)
	}
	if n > 0 {
		r.log.Info("removed temporary files of an interrupted run", "dir", r.cfg.OutDir, "files", n)
	}
}

// reporter turns the pool's results into the report's lines.
type reporter struct {
	r        *runner
	outcomes []outcome // OnResult's goroutine only
	failures download.Failures
	done     int
	failed   int
}

func (rep *reporter) record(res pool.Result) {
	r := rep.r
	v := r.vehicle(res.Key)
	r.mu.Lock()
	o := outcome{VIN: v.VIN, ID: v.ID, Stock: v.Stock, Attempts: res.Attempts, Requeues: res.Requeues,
		Seconds: res.Duration.Seconds(), Downloads: v.downloads, WrongPDF: v.wrongPDF, Worker: res.Worker, Finished: time.Now()}
	r.mu.Unlock()
	switch f, _ := res.Value.(download.File); {
	case res.Err == nil:
		o.State, o.File, o.Size = "done", f.Path, f.Size
		rep.done++
	case errors.Is(res.Err, pool.ErrStopped):
		o.State = "stopped"
	default:
		o.State, o.Error, o.Reason = "failed", session.Redact(res.Err, r.cfg.secrets()...).Error(), download.ClassName(res.Err)
		rep.failures.Add(v.VIN, session.Redact(res.Err, r.cfg.secrets()...), o.Finished)
		rep.failed++
		if r.bundles != nil {
			r.bundles.Result(v.VIN, res.Err)
		}
		r.log.Warn("vehicle failed", "vin", v.VIN, "attempts", res.Attempts, "reason", o.Reason, "err", res.Err)
	}
	rep.outcomes = append(rep.outcomes, o)
}

// finish fills the run's totals.
func (rep *reporter) finish(ctx context.Context, s *summary, samples []pool.Sample, peak int64) {
	r := rep.r
	s.Finished = time.Now()
	s.Seconds = s.Finished.Sub(s.Started).Seconds()
	s.Interrupted = ctx.Err() != nil
	if r.bundles != nil {
		if err := r.bundles.Wait(); err != nil {
			r.log.Warn("writing the evidence of failures", "err", err)
		}
		for i, o := range rep.outcomes {
			for _, b := range r.bundles.Bundles(o.VIN) {
				rep.outcomes[i].Bundles = append(rep.outcomes[i].Bundles, "bundles/"+b)
			}
		}
	}
	if r.tr != nil {
		s.Elsewhere = r.tr.Stats().Elsewhere
	}
	defer func() { s.Stopped = s.Queued - s.Done - s.Failed - s.Elsewhere }() // stopped in flight, or never started
	rep.rejected(s)
	s.Failures = rep.failures.Groups()
	for _, o := range rep.outcomes {
		switch o.State {
		case "done":
			s.Done++
		case "failed":
			s.Failed++
			s.FailedList = append(s.FailedList, o)
		}
		s.WrongPDF += o.WrongPDF
		s.Downloads += o.Downloads
	}
	if r.pool != nil {
		ps := r.pool.Stats()
		s.Retries, s.Requeues, s.Rescued, s.Recycled, s.Workers = ps.Retries, ps.Requeued, ps.Rescued, ps.Recycled, ps.Target
		if ps.Elapsed > 0 {
			s.PerHour = float64(ps.Done) / ps.Elapsed.Hours() // downloaded: not the files adopted
		}
	}
	for _, smp := range samples {
		s.MaxWorkers = max(s.MaxWorkers, smp.Workers)
	}
	ss := r.sess.Stats()
	s.Relogins, s.Relaunches = int(max(ss.Logins-1, 0)), int(ss.Relaunches)
	s.PeakMemoryMB = float64(peak) / (1 << 20)
}

// rejected makes failures of the files found to be other vehicles' once
// the inventory was listed (runner.confirm): saved by this run, or by a
// run that died, and adopted while listing (counted done before then).
func (rep *reporter) rejected(s *summary) {
	r := rep.r
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	for i, o := range rep.outcomes {
		seen[o.VIN] = true
		if err := r.rejected[o.VIN]; err != nil && o.State == "done" {
			o.State, o.Error, o.Reason, o.File, o.Size = "failed", err.Error(), download.ClassName(err), "", 0
			o.WrongPDF = r.vehicles[o.VIN].wrongPDF
			rep.outcomes[i] = o
			rep.failures.Add(o.VIN, err, o.Finished)
		}
	}
	for vin, err := range r.rejected {
		if v := r.vehicles[vin]; !seen[vin] && v != nil {
			rep.outcomes = append(rep.outcomes, outcome{VIN: vin, ID: v.ID, Stock: v.Stock, State: "failed", Error: err.Error(),
				Reason: download.ClassName(err), WrongPDF: v.wrongPDF, Finished: time.Now()})
			rep.failures.Add(vin, err, time.Now())
			s.Skipped--
			s.Queued++
		}
	}
}

// readStore reads the checkpoint file into a Memory store, changing
// nothing on disk; a missing file is an empty store.
func readStore(_ context.Context, cfg *config, _ *slog.Logger) (checkpoint.Store, error) {
	mem, err := checkpoint.ReadFile(cfg.Store)
	var corrupt *checkpoint.CorruptError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return checkpoint.NewMemory(), nil
	case errors.As(err, &corrupt):
		return nil, corruptCheckpoint(corrupt)
	case err != nil:
		return nil, fmt.Errorf("reading the checkpoint: %w", err)
	}
	return mem, nil
}

// inMemory copies the records of store into a Memory store.
func inMemory(ctx context.Context, store checkpoint.Store) (checkpoint.Store, error) {
	mem := checkpoint.NewMemory()
	for r, err := range store.All(ctx) {
		if err == nil {
			err = mem.Put(ctx, r)
		}
		if err != nil {
			return nil, err
		}
	}
	return mem, nil
}
