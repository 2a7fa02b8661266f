package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	playwright "github.com/mxschmitt/playwright-go"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/checkpoint/postgres"
	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/examples/portal/dealer"
	"github.com/pagefleet/pagefleet/pool"
	"github.com/pagefleet/pagefleet/session"
)

// vehicle is one inventory row. Its fields feed the file name template.
type vehicle struct {
	ID, URL, VIN, Stock, Year, Make, Model, Trim string
}

// job is one run: the session, the store, the pool and what they report.
type job struct {
	cfg   *config
	site  site
	log   *slog.Logger
	sess  *session.Session
	store checkpoint.Store
	pool  *pool.PagePool[*slot]

	// serialize is turned on when the portal serves a PDF of another
	// vehicle: it keeps a per-session "current vehicle", so each
	// view→download must run alone. viewMu is that critical section.
	serialize syncBool
	viewMu    chan struct{} // capacity 1
	// pageMode is turned on when the sticker URL does not work without
	// opening the vehicle's page first (-download auto).
	pageMode syncBool

	cancel context.CancelFunc // stops the pool when the checkpoint can't be written
	leases *leases            // work shared with other processes (-store postgres://…); nil otherwise

	byVIN   map[string]vehicle
	mu      sync.Mutex
	counts  map[string]*vehicleCounts // by VIN, from the tasks
	files   map[string]download.File  // saved files, by VIN
	samples []sample
	peakPSS int64

	// Written by record (the pool's one result goroutine) only.
	outcomes []outcome
	sum      summary
	putErr   error // the first checkpoint write that failed
}

type vehicleCounts struct{ downloads, wrongPDF int }

type syncBool struct {
	mu sync.Mutex
	v  bool
}

func (b *syncBool) get() bool { b.mu.Lock(); defer b.mu.Unlock(); return b.v }

// set sets b and reports whether it changed.
func (b *syncBool) set() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	changed := !b.v
	b.v = true
	return changed
}

func newJob(cfg *config, st site, log *slog.Logger) *job {
	return &job{cfg: cfg, site: st, log: log, viewMu: make(chan struct{}, 1),
		counts: map[string]*vehicleCounts{}, files: map[string]download.File{}}
}

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
	log, logOut := newLogger(cfg, stderr, os.Getenv, logFile, cfg.Password, storePassword(cfg.Store))
	defer func() { err = redactError(err, cfg.Password, storePassword(cfg.Store)) }()

	j := newJob(cfg, st, log)
	j.sum.Started = time.Now()

	if cfg.URL == "" {
		srv, err := startDemo(cfg)
		if err != nil {
			return err
		}
		defer srv.Close()
		log.Info("no portal configured (JD_URL): running the embedded demo portal",
			"url", srv.URL(), "vehicles", cfg.DemoVehicles, "latency", cfg.DemoLatency, "faults", cfg.DemoFaults)
		j.sum.Demo = true
	}
	j.sum.Portal = cfg.URL

	store, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	j.store = store
	if l, ok := store.(checkpoint.Leaser); ok && isPostgres(cfg.Store) {
		j.leases = newLeases(j, l)
		log.Info("shared checkpoint: splitting the work with other jdrun processes", "worker", cfg.WorkerID)
	}
	defer func() {
		if cerr := store.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing the checkpoint: %w", cerr)
		}
	}()
	if cfg.ImportFile != "" {
		added, skipped, err := checkpoint.Import(ctx, store, cfg.ImportFile)
		if err != nil {
			return fmt.Errorf("%w: importing %s: %w", errUsage, cfg.ImportFile, err)
		}
		log.Info("imported the old tool's progress", "file", cfg.ImportFile, "added", added, "already_known", skipped)
	}

	sess, err := j.openSession(ctx)
	if err != nil {
		return err
	}
	j.sess = sess
	defer func() {
		if cerr := sess.Close(); cerr != nil {
			log.Warn("closing the browser", "err", cerr)
		}
	}()

	vehicles, err := j.listInventory(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w while listing the inventory", errInterrupted)
		}
		return err
	}
	j.sum.Inventory = len(vehicles)
	todo, err := j.plan(ctx, vehicles)
	if err != nil {
		return err
	}
	j.sum.Queued = len(todo)
	log.Info("plan", "inventory", len(vehicles), "already_done", j.sum.Skipped, "to_download", len(todo))

	if err := j.preflight(todo); err != nil {
		return err
	}
	if cfg.DryRun {
		for _, v := range todo {
			fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\n", v.VIN, v.Stock, j.fileName(v), v.URL)
		}
		return nil
	}

	j.removeTemp()
	runErr := j.download(ctx, todo, stderr, logOut)
	j.finishSummary(ctx)
	m := &metrics{Run: j.sum, Vehicles: j.outcomes, Throughput: j.samples}
	if err := writeReports(cfg.StateDir, m); err != nil {
		log.Error("writing reports", "err", err)
	}
	printSummary(stdout, j.sum, cfg.StateDir)

	switch {
	case j.putErr != nil:
		return fmt.Errorf("the checkpoint could not be written (progress since then is not recorded): %w", j.putErr)
	case ctx.Err() != nil:
		return fmt.Errorf("%w: %d done, %d not finished; run again to resume", errInterrupted, j.sum.Done, j.sum.Stopped)
	case runErr != nil:
		if errors.Is(runErr, session.ErrBadCredentials) {
			return fmt.Errorf("%w: %w", errLogin, runErr)
		}
		return runErr
	case j.sum.Failed > 0:
		return fmt.Errorf("%w: %d of %d (see %s)", errFailures, j.sum.Failed, j.sum.Queued, filepath.Join(cfg.StateDir, "report.html"))
	}
	return nil
}

func startDemo(cfg *config) (*dealer.Server, error) {
	dc := dealer.Config{Vehicles: cfg.DemoVehicles, Latency: cfg.DemoLatency, LatencyJitter: cfg.DemoLatency / 3, Prewarm: true}
	if cfg.DemoFaults {
		cfg.ReqTimeout = min(cfg.ReqTimeout, 5*time.Second) // the demo's hangs should not cost a minute each
		dc.ErrorRate, dc.SoftErrorRate, dc.HangRate, dc.TruncateRate = 0.03, 0.02, 0.01, 0.02
		dc.SessionTTL, dc.MaxInFlight, dc.Interference = 20*time.Second, 6, true
	}
	srv, err := dealer.Start(dc)
	if err != nil {
		return nil, fmt.Errorf("starting the demo portal: %w", err)
	}
	cfg.URL, cfg.User, cfg.Password = srv.URL(), dealer.DemoUser, dealer.DemoPassword
	return srv, nil
}

func openStore(ctx context.Context, cfg *config, log *slog.Logger) (checkpoint.Store, error) {
	if isPostgres(cfg.Store) {
		st, err := postgres.Open(ctx, cfg.Store, postgres.Options{Table: cfg.StoreTable, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("opening the shared checkpoint: %w", err)
		}
		return st, nil
	}
	f, err := checkpoint.Open(cfg.Store, checkpoint.Options{Logger: log})
	var corrupt *checkpoint.CorruptError
	switch {
	case errors.As(err, &corrupt):
		return nil, fmt.Errorf("%w: checkpoint %s line %d is corrupt (%v); the file was left untouched — fix or move it, then run again",
			errUsage, corrupt.Path, corrupt.Line, corrupt.Err)
	case errors.Is(err, checkpoint.ErrLocked):
		return nil, fmt.Errorf("%w: %w (another jdrun uses this state dir)", errUsage, err)
	case err != nil:
		return nil, fmt.Errorf("opening the checkpoint: %w", err)
	}
	if st := f.Stats(); st.TornLines > 0 {
		log.Warn("the checkpoint's last line was cut short by a crash; dropped it", "file", cfg.Store)
	}
	return f, nil
}

func isPostgres(store string) bool {
	return strings.HasPrefix(store, "postgres://") || strings.HasPrefix(store, "postgresql://")
}

// redactedStore is a store URL fit to show: its password replaced.
func redactedStore(store string) string {
	if u, err := url.Parse(store); err == nil && u.User != nil {
		return u.Redacted()
	}
	return store
}

// storePassword is the password in a store URL: a secret like JD_PASS.
func storePassword(store string) string {
	if u, err := url.Parse(store); err == nil && u.User != nil {
		p, _ := u.User.Password()
		return p
	}
	return ""
}

func (j *job) abs(path string) string { return j.cfg.URL + path }

// leanArgs cut the browser's memory without changing what it does
// (measured at 7 workers: 489 → ~455 MB PSS in all): the GPU thread and the
// network service run inside the browser process instead of two more
// processes. The enable-features list repeats Playwright's own
// (CDPScreenshotNewSurface), which a second flag would replace.
var leanArgs = []string{"--disable-gpu", "--in-process-gpu", "--enable-features=CDPScreenshotNewSurface,NetworkServiceInProcess2"}

// leanDriver sizes the Playwright driver's young generation, unless the
// user set NODE_OPTIONS. Measured over 1,820 direct fetches at 7 workers:
// node's default (16 MB) holds the driver at ~140 MB; 1 MB promotes the
// short-lived response bodies into the old generation, which then grows
// (105 → 175 MB); 4 MB stays flat at ~120 MB.
func leanDriver() {
	if os.Getenv("NODE_OPTIONS") == "" {
		os.Setenv("NODE_OPTIONS", "--max-semi-space-size=4")
	}
}

func (j *job) openSession(ctx context.Context) (*session.Session, error) {
	leanDriver()
	cfg, st := j.cfg, j.site
	login := session.FormLogin(session.Form{
		URL: j.abs(st.LoginPath), User: cfg.User, Password: cfg.Password,
		UserField: st.UserInput, PasswordField: st.PasswordInput, Submit: st.Submit,
		Success: st.LoggedIn, Failure: st.LoginError,
	})
	start := time.Now()
	sess, err := session.Open(ctx, session.Config{
		Login:    login,
		LoginURL: j.abs(st.LoginPath),
		Block:    cfg.Block,
		Endpoint: cfg.Browser,
		Headed:   !cfg.Headless,
		Args:     leanArgs,
		Logger:   j.log,
	})
	switch {
	case errors.Is(err, session.ErrBadCredentials):
		return nil, fmt.Errorf("%w: the portal refused the credentials of user %q: %w", errLogin, cfg.User, err)
	case errors.Is(err, session.ErrNotInstalled):
		return nil, err
	case err != nil && ctx.Err() != nil:
		return nil, fmt.Errorf("%w while logging in", errInterrupted)
	case errors.Is(err, session.ErrLoginFailed):
		return nil, fmt.Errorf("%w: could not log in at %s: %w", errLogin, j.abs(st.LoginPath), err)
	case err != nil:
		return nil, fmt.Errorf("starting the browser: %w", err)
	}
	j.log.Info("logged in", "user", cfg.User, "took", time.Since(start).Round(time.Millisecond))
	return sess, nil
}

// fileName is the vehicle's file name: the template, made safe.
func (j *job) fileName(v vehicle) string {
	var b strings.Builder
	if err := j.cfg.name.Execute(&b, v); err != nil || strings.TrimSpace(b.String()) == "" {
		return download.SafeName(v.VIN + ".pdf")
	}
	return download.SafeName(b.String())
}

// plan decides what to download: vehicles without a Done record whose file
// is intact, in inventory order, at most MAX_DOWNLOADS of them.
func (j *job) plan(ctx context.Context, vehicles []vehicle) ([]vehicle, error) {
	records := map[string]checkpoint.Record{}
	for r, err := range j.store.All(ctx) {
		if err != nil {
			return nil, fmt.Errorf("reading the checkpoint: %w", err)
		}
		records[r.Key] = r
	}
	var todo []vehicle
	for _, v := range vehicles {
		r, known := records[v.VIN]
		if j.cfg.RetryFailed && (!known || r.State != checkpoint.Failed) {
			continue
		}
		if known && r.State == checkpoint.Done && j.leases != nil && r.Owner != j.cfg.WorkerID {
			j.sum.Skipped++ // done by another process, its file where that one keeps it
			continue
		}
		if known && r.State == checkpoint.Done {
			if reason := j.intact(r); reason == "" {
				j.sum.Skipped++
				continue
			} else {
				j.log.Warn("downloading again: the recorded file is not intact", "vin", v.VIN, "reason", reason)
				if j.leases != nil { // a shared store claims no Done key: mark it failed first
					r.State, r.Err = checkpoint.Failed, "file not intact: "+reason
					if err := j.store.Put(ctx, r); err != nil {
						return nil, fmt.Errorf("writing the checkpoint: %w", err)
					}
				}
			}
		} else if j.adopt(ctx, v) {
			j.sum.Skipped++
			continue
		}
		if j.cfg.MaxDownloads > 0 && len(todo) >= j.cfg.MaxDownloads {
			continue
		}
		todo = append(todo, v)
	}
	j.sum.Selected = len(todo) + j.sum.Skipped
	return todo, nil
}

// intact checks a Done record's file; it returns why it is not intact, or "".
func (j *job) intact(r checkpoint.Record) string {
	if r.SHA256 == "" { // imported from the old tool: trust it, as migrating users expect
		return ""
	}
	size, sum, err := hashFile(r.Path)
	switch {
	case err != nil:
		return err.Error()
	case size != r.Size:
		return fmt.Sprintf("size %d, recorded %d", size, r.Size)
	case sum != r.SHA256:
		return "content changed (SHA-256 differs)"
	}
	return ""
}

// adopt records as done a vehicle whose file is already in the output
// directory and valid — saved by a run that died before it could record it.
func (j *job) adopt(ctx context.Context, v vehicle) bool {
	path := filepath.Join(j.cfg.OutDir, j.fileName(v))
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	for _, check := range []download.Validator{download.PDF(), download.PDFContains(v.VIN)} {
		if check(f, fi.Size()) != nil {
			return false
		}
	}
	size, sum, err := hashFile(path)
	if err != nil {
		return false
	}
	abs, _ := filepath.Abs(path)
	now := time.Now()
	err = j.store.Put(ctx, checkpoint.Record{Key: v.VIN, State: checkpoint.Done, Path: abs, Size: size, SHA256: sum,
		Owner: j.cfg.WorkerID, Meta: map[string]string{"stock": v.Stock, "adopted": "true"}, Started: now, Updated: now})
	if err != nil {
		return false
	}
	j.log.Info("found a valid file from an interrupted run; recorded it", "vin", v.VIN, "file", path)
	return true
}

func hashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return n, hex.EncodeToString(h.Sum(nil)), err
}

// download runs the todo list through the pool.
func (j *job) download(ctx context.Context, todo []vehicle, stderr io.Writer, logOut *switchWriter) error {
	if len(todo) == 0 {
		j.log.Info("nothing to download")
		return nil
	}
	cfg := j.cfg
	pc := pool.Config[*slot]{
		Factory:        slots{j.sess},
		Workers:        cfg.Workers,
		AttemptTimeout: cfg.Timeout,
		StuckAfter:     cfg.StuckAfter,
		MaxAttempts:    cfg.Retries + 1,
		GracePeriod:    cfg.Grace,
		Retryable:      retryable,
		RecycleAfter:   250, // keeps a long run's renderer memory flat
		OnResult:       j.record,
		Logger:         j.log,
	}
	if cfg.Adaptive {
		pc.Adaptive = &pool.Adaptive{Min: 1, Max: cfg.Workers, Start: min(cfg.Workers, 4), Overload: overloaded}
	}
	p, err := pool.New(pc)
	if err != nil {
		return err
	}
	j.pool = p
	ctx, j.cancel = context.WithCancel(ctx)
	defer j.cancel()
	j.byVIN = map[string]vehicle{}
	for _, v := range todo {
		j.byVIN[v.VIN] = v
		j.counts[v.VIN] = &vehicleCounts{}
	}
	fed := make(chan struct{})
	if j.leases != nil {
		go func() { defer close(fed); j.leases.feed(ctx, p, todo) }()
	} else {
		for _, v := range todo {
			if err := j.submit(p, v); err != nil {
				return err
			}
		}
		p.CloseQueue()
		close(fed)
	}
	defer func() { j.cancel(); <-fed }()

	mode := cfg.Progress
	if mode == "auto" {
		mode = "log"
		if canDrawBar(stderr) {
			mode = "bar"
		}
	}
	mon := startMonitor(mode, cfg.ProgressLog, stderr, logOut, j.log, func() progressSnapshot {
		s := p.Stats()
		return progressSnapshot{Done: s.Done, Failed: s.Failed, Retries: s.Retries, Running: s.Running,
			Workers: s.Target, Total: len(todo)}
	})
	j.log.Info("downloading", "vehicles", len(todo), "workers", cfg.Workers, "adaptive", cfg.Adaptive)
	runErr := p.Run(ctx)
	j.samples, j.peakPSS = mon.finish()
	if errors.Is(runErr, context.Canceled) {
		return nil // reported as interrupted, or as the checkpoint failure that stopped it
	}
	return runErr
}

func (j *job) submit(p *pool.PagePool[*slot], v vehicle) error {
	return p.Submit(pool.Task[*slot]{Key: v.VIN, Run: func(ctx context.Context, sl *slot) (any, error) {
		return nil, j.fetchSticker(ctx, sl, v)
	}})
}

// retryable: a page that does not exist or a file the site will never
// serve is not worth retrying; everything else (timeouts, 5xx, 429,
// truncated or wrong PDFs, error pages) is.
func retryable(err error) bool {
	var st *session.StatusError
	if errors.As(err, &st) && (st.Code == 404 || st.Code == 410) {
		return false
	}
	return !diskFull(err)
}

// overloaded tells the adaptive controller which failures mean "the site
// has more than it can take": 429, 502–504, timeouts and stuck attempts.
// A plain 500 or a forced logout happens at any load and says nothing.
func overloaded(err error) bool {
	var st *session.StatusError
	switch {
	case errors.As(err, &st):
		return st.Code == 429 || st.Code >= 502 && st.Code <= 504
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, pool.ErrStuck), errors.Is(err, playwright.ErrTimeout):
		return true
	}
	return false
}

// errWrongPDF marks a PDF of another vehicle: retried, counted, never saved.
var errWrongPDF = errors.New("the portal served the PDF of another vehicle")

// fetchSticker is one attempt at one vehicle. The fast way fetches the
// sticker's URL straight away with the session's cookies (no page at all);
// the page way opens the vehicle's page, checks it, and then fetches the
// sticker link or clicks the button. Either way the file is saved only if
// it is a whole PDF carrying the vehicle's VIN.
func (j *job) fetchSticker(ctx context.Context, sl *slot, v vehicle) error {
	dst := download.Target{Dir: j.cfg.OutDir, Name: j.fileName(v), Timeout: j.cfg.ReqTimeout,
		Validate: []download.Validator{download.PDF(), download.PDFContains(v.VIN)}}
	gen := j.sess.Generation()
	if j.direct() {
		j.countDownload(v.VIN)
		f, err := download.Fetch(ctx, j.sess, j.stickerURL(v), dst)
		if j.cfg.Download == "direct" || !needsPage(err) {
			return j.settle(ctx, v, f, err, gen)
		}
		if j.pageMode.set() {
			j.log.Warn("the sticker URL does not work without opening the vehicle page; opening each page from now on",
				"url", j.stickerURL(v), "err", err)
		}
	}
	page, err := sl.get(ctx, j.sess)
	if err != nil {
		return err
	}
	if j.serialize.get() {
		select {
		case j.viewMu <- struct{}{}:
			defer func() { <-j.viewMu }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	gen = j.sess.Generation()
	rctx, cancel := context.WithTimeout(ctx, j.cfg.ReqTimeout)
	defer cancel()
	resp, err := page.Goto(v.URL, playwright.PageGotoOptions{Timeout: session.Timeout(rctx, j.cfg.ReqTimeout)})
	if err != nil {
		return fmt.Errorf("opening the vehicle page: %w", err)
	}
	if err := j.sess.Check(ctx, page); err != nil {
		return err
	}
	if resp != nil && resp.Status() >= 400 {
		return &session.StatusError{Code: resp.Status(), URL: v.URL}
	}
	info, err := page.Evaluate(`([vinSel, errSel, btnSel]) => {
		const vin = document.querySelector(vinSel), err = document.querySelector(errSel), btn = document.querySelector(btnSel);
		return {vin: vin ? vin.textContent.trim() : "", error: err ? err.textContent.trim() : "",
			button: !!btn, href: btn && btn.tagName === "A" ? btn.href : ""};
	}`, []any{j.site.PageVIN, j.site.ErrorPage, j.site.StickerButton})
	if err != nil {
		return fmt.Errorf("reading the vehicle page: %w", err)
	}
	m, _ := info.(map[string]any)
	str := func(k string) string { s, _ := m[k].(string); return s }
	switch {
	case str("error") != "":
		return fmt.Errorf("the portal showed an error page: %q", str("error"))
	case str("vin") != "" && !strings.EqualFold(str("vin"), v.VIN):
		return fmt.Errorf("the vehicle page shows VIN %s", str("vin"))
	case m["button"] != true:
		return fmt.Errorf("no window sticker button (%s) on the vehicle page", j.site.StickerButton)
	}
	j.countDownload(v.VIN)
	var f download.File
	if href := str("href"); href != "" && j.cfg.Download != "click" {
		f, err = download.Fetch(ctx, j.sess, href, dst)
	} else {
		f, err = download.Click(ctx, j.sess, page, download.Selector(j.site.StickerButton), dst)
	}
	return j.settle(ctx, v, f, err, gen)
}

// removeTemp removes the temporary files a killed run left in the output
// dir. Other processes of a shared checkpoint may be saving into it: their
// files are spared until older than any attempt of ours can last.
func (j *job) removeTemp() {
	age := time.Duration(0)
	if j.leases != nil {
		age = 2 * max(j.cfg.Timeout, j.cfg.StuckAfter)
	}
	n, err := download.RemoveTemp(j.cfg.OutDir, age)
	if err != nil {
		j.log.Warn("removing temporary files of an interrupted run", "dir", j.cfg.OutDir, "err", err)
	}
	if n > 0 {
		j.log.Info("removed temporary files of an interrupted run", "dir", j.cfg.OutDir, "files", n)
	}
}

// direct reports whether to fetch sticker URLs without opening pages.
func (j *job) direct() bool {
	return j.site.stickerURL != nil && (j.cfg.Download == "direct" || j.cfg.Download == "auto" && !j.pageMode.get())
}

func (j *job) stickerURL(v vehicle) string {
	var b strings.Builder
	_ = j.site.stickerURL.Execute(&b, v) // checked by loadSite
	if u, err := url.Parse(v.URL); err == nil {
		if ref, err := u.Parse(b.String()); err == nil {
			return ref.String()
		}
	}
	return b.String()
}

// needsPage reports whether a direct fetch failed in a way that says the
// site wants its page opened first (a 4xx other than 429, or a page that
// is neither a PDF nor a login page).
func needsPage(err error) bool {
	var st *session.StatusError
	switch {
	case errors.As(err, &st):
		return st.Code >= 400 && st.Code < 500 && st.Code != 429
	case errors.Is(err, download.ErrHTMLPage):
		return !isLoginPage(err)
	case errors.Is(err, download.ErrNotPDF):
		return true
	}
	return false
}

func isLoginPage(err error) bool {
	return errors.Is(err, download.ErrHTMLPage) && strings.Contains(err.Error(), "password field")
}

// settle turns a download's outcome into the attempt's: a wrong PDF turns
// on serialization, a login page re-logs in (the attempt is not charged),
// a full disk stops the run.
func (j *job) settle(ctx context.Context, v vehicle, f download.File, err error, gen uint64) error {
	switch {
	case err == nil:
		j.mu.Lock()
		j.files[v.VIN] = f
		j.mu.Unlock()
		return nil
	case errors.Is(err, download.ErrContentMismatch):
		j.countWrongPDF(v.VIN)
		if j.serialize.set() {
			j.log.Warn("the portal served a PDF of another vehicle: it keeps a per-session \"current vehicle\"; " +
				"from now on one worker views and downloads one vehicle at a time")
			j.pool.SetMaxWorkers(1)
		}
		return fmt.Errorf("%w: %w", errWrongPDF, err)
	case isLoginPage(err):
		if rerr := j.sess.Relogin(ctx, gen); rerr != nil {
			return rerr
		}
		return pool.Requeue(fmt.Errorf("%w (the sticker URL answered with the login page)", session.ErrLoggedOut))
	case diskFull(err):
		return pool.Abort(fmt.Errorf("the disk is full: %w", err))
	}
	return err
}

func (j *job) countDownload(vin string) {
	j.mu.Lock()
	j.counts[vin].downloads++
	j.mu.Unlock()
}

func (j *job) countWrongPDF(vin string) {
	j.mu.Lock()
	j.counts[vin].wrongPDF++
	j.mu.Unlock()
}

// record is the pool's OnResult: it writes the checkpoint and the metrics.
func (j *job) record(r pool.Result) {
	v := j.byVIN[r.Key]
	j.mu.Lock()
	f, c := j.files[r.Key], *j.counts[r.Key]
	j.mu.Unlock()
	o := outcome{VIN: v.VIN, ID: v.ID, Stock: v.Stock, Attempts: r.Attempts, Requeues: r.Requeues,
		Seconds: r.Duration.Seconds(), Downloads: c.downloads, WrongPDF: c.wrongPDF, Worker: r.Worker, Finished: time.Now()}
	rec := checkpoint.Record{Key: v.VIN, Attempts: r.Attempts, Owner: j.cfg.WorkerID,
		Meta: map[string]string{"stock": v.Stock, "id": v.ID}, Started: time.Now().Add(-r.Duration)}
	switch {
	case r.Err == nil:
		o.State, o.File, o.Size = "done", f.Path, f.Size
		abs, _ := filepath.Abs(f.Path)
		rec.State, rec.Path, rec.Size, rec.SHA256 = checkpoint.Done, abs, f.Size, f.SHA256
	case errors.Is(r.Err, pool.ErrStopped):
		o.State = "stopped"
		j.outcomes = append(j.outcomes, o)
		if j.leases != nil {
			j.leases.end(context.Background(), v.VIN, nil) // another process may take it at once
		}
		return // not an outcome: the next run does it
	default:
		o.State, o.Error, o.Reason = "failed", redactError(r.Err, j.cfg.Password).Error(), reason(r.Err)
		rec.State, rec.Err = checkpoint.Failed, o.Error
		j.log.Warn("vehicle failed", "vin", v.VIN, "attempts", r.Attempts, "reason", o.Reason, "err", r.Err)
	}
	j.outcomes = append(j.outcomes, o)
	var err error
	if j.leases != nil {
		rec.Attempts += j.leases.priorAttempts(v.VIN)
		_, err = j.leases.end(context.Background(), v.VIN, &rec)
	} else {
		err = j.store.Put(context.Background(), rec)
	}
	if err != nil && j.putErr == nil {
		j.putErr = err
		j.log.Error("writing the checkpoint failed; stopping", "err", err)
		j.cancel()
	}
}

// slot is a worker's browser page, made on first use: fetching sticker
// URLs directly needs no page, and idle pages cost memory.
type slot struct {
	mu     sync.Mutex
	page   playwright.Page
	closed bool
}

// get returns the slot's page, making it if needed.
func (sl *slot) get(ctx context.Context, s *session.Session) (playwright.Page, error) {
	sl.mu.Lock()
	page, closed := sl.page, sl.closed
	sl.mu.Unlock()
	if page != nil || closed {
		if closed {
			return nil, fmt.Errorf("page: %w", playwright.ErrTargetClosed)
		}
		return page, nil
	}
	page, err := s.NewPage(ctx)
	if err != nil {
		return nil, err
	}
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.closed { // the watchdog gave up on this attempt meanwhile
		_ = s.ClosePage(page)
		return nil, fmt.Errorf("page: %w", playwright.ErrTargetClosed)
	}
	sl.page = page
	return page, nil
}

// slots is the pool's page factory: empty slots; the session makes pages.
type slots struct{ s *session.Session }

func (f slots) New(context.Context) (*slot, error) { return &slot{}, nil }

func (f slots) Reset(ctx context.Context, sl *slot) error {
	sl.mu.Lock()
	page := sl.page
	sl.mu.Unlock()
	if page == nil {
		return nil
	}
	return f.s.Pages().Reset(ctx, page)
}

func (f slots) Close(sl *slot) error {
	sl.mu.Lock()
	page := sl.page
	sl.closed = true
	sl.mu.Unlock()
	if page == nil {
		return nil
	}
	return f.s.ClosePage(page)
}
