package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/cenkalti/backoff/v4"
	playwright "github.com/mxschmitt/playwright-go"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/checkpoint/postgres"
	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/pool"
	"github.com/pagefleet/pagefleet/pool/poolmetrics"
	"github.com/pagefleet/pagefleet/session"
)

// vehicle is one inventory row and what this run learned of it: all of
// one vehicle's state is here.
type vehicle struct {
	ID, URL, VIN, Stock, Year, Make, Model, Trim string

	downloads, wrongPDF int // sticker requests made, wrong PDFs caught (under runner.mu)
	// partial: its file was last judged while the inventory was still
	// being listed, against the VINs listed by then (under runner.mu).
	partial bool
}

// runner is a job's machinery, built once and shared by the run, bench and
// doctor: the site adapter, the checkpoint and its tracker, the session.
type runner struct {
	cfg     *config
	site    site
	log     *slog.Logger
	store   checkpoint.Store
	tr      *checkpoint.Tracker
	sess    *session.Session
	ids     *download.IDs     // every VIN listed: a PDF naming another one is not this vehicle's
	shared  bool              // other processes use the store too
	bundles *download.Bundles // evidence of failures; nil: none kept

	// Site quirks, each adapted to only on evidence: a sticker URL that
	// works only after the page was opened, and a portal that serves the
	// sticker of the vehicle another worker views.
	fallback download.Fallback
	guard    *download.Interference // with pool

	mu       sync.Mutex
	vehicles map[string]*vehicle // by VIN
	pool     *download.Tracked[*session.Tab]
	live     *poolmetrics.Metrics // -listen's numbers (live.go); nil: not served
	rejected map[string]error     // by VIN: files judged again once listed, and found to be another vehicle's
}

// newRunner returns a runner over store, with no session yet.
func newRunner(cfg *config, st site, log *slog.Logger, store checkpoint.Store) (*runner, error) {
	r := &runner{cfg: cfg, site: st, log: log, store: store, ids: download.NewIDs(), shared: isPostgres(cfg.Store),
		vehicles: map[string]*vehicle{}, rejected: map[string]error{}, fallback: download.Fallback{Logger: log}}
	if cfg.Bundles > 0 {
		r.bundles = &download.Bundles{Dir: filepath.Join(cfg.StateDir, "bundles"), Max: cfg.Bundles}
	}
	opts := checkpoint.TrackerOptions{
		Owner: cfg.WorkerID, LeaseTTL: cfg.LeaseTTL, Hold: 2 * cfg.Workers, Spread: r.shared, QuickStart: r.shared, MaxAttempts: cfg.Retries + 1,
		RetryFailed: cfg.RetryFailed, Verify: r.verify, Adopt: r.adopt, Meta: r.meta, Class: download.ClassName, Logger: log,
	}
	if r.shared {
		opts.CommitDelay = sharedCommitDelay
	}
	var err error
	r.tr, err = checkpoint.NewTracker(store, opts)
	return r, err
}

// sharedCommitDelay is the tracker's CommitDelay on a shared store: a
// fleet's records in fewer, larger batches spare the server about half its
// statements (BenchmarkFleet).
const sharedCommitDelay = 10 * time.Millisecond

// openRunner returns a runner over store, logged in.
func openRunner(ctx context.Context, cfg *config, st site, log *slog.Logger, store checkpoint.Store) (*runner, error) {
	r, err := newRunner(cfg, st, log, store)
	if err == nil {
		r.sess, err = r.openSession(ctx)
	}
	return r, err
}

func (r *runner) close() {
	if err := r.tr.Close(context.Background()); err != nil {
		r.log.Warn("releasing the claims", "err", err)
	}
	if r.sess != nil {
		if err := r.sess.Close(); err != nil {
			r.log.Warn("closing the browser", "err", err)
		}
	}
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
		return nil, corruptCheckpoint(corrupt)
	case errors.Is(err, checkpoint.ErrLocked):
		return nil, fmt.Errorf("%w: %w (another jdrun uses this state dir)", errUsage, err)
	case err != nil:
		return nil, fmt.Errorf("opening the checkpoint: %w", err)
	}
	if f.Stats().TornLines > 0 {
		log.Warn("the checkpoint's last line was cut short by a crash; dropped it", "file", cfg.Store)
	}
	return f, nil
}

func corruptCheckpoint(c *checkpoint.CorruptError) error {
	return fmt.Errorf("%w: checkpoint %s line %d is corrupt (%v); the file was left untouched — fix or move it, then run again",
		errUsage, c.Path, c.Line, c.Err)
}

func isPostgres(store string) bool {
	return strings.HasPrefix(store, "postgres://") || strings.HasPrefix(store, "postgresql://")
}

func (r *runner) openSession(ctx context.Context) (*session.Session, error) {
	cfg, st, start := r.cfg, r.site, time.Now()
	sess, err := session.Open(ctx, session.Config{
		Login: session.FormLogin(session.Form{URL: r.abs(st.LoginPath), User: cfg.User, Password: cfg.Password,
			UserField: st.UserInput, PasswordField: st.PasswordInput, Submit: st.Submit,
			Success: st.LoggedIn, Failure: st.LoginError, BadCredentials: st.BadCredentials}),
		LoginURL: r.abs(st.LoginPath), Block: cfg.Block, Endpoint: cfg.Browser, Headed: !cfg.Headless, Logger: r.log,
		FixedTimeouts: cfg.FixedTimeout, LoginOutage: cfg.LoginOutage,
	})
	switch {
	case errors.Is(err, session.ErrBadCredentials):
		return nil, fmt.Errorf("%w: the portal refused the credentials of user %q: %w", errLogin, cfg.User, err)
	case errors.Is(err, session.ErrNotInstalled):
		return nil, err
	case err != nil && ctx.Err() != nil:
		return nil, fmt.Errorf("%w while logging in", errInterrupted)
	case errors.Is(err, session.ErrLoginFailed):
		return nil, fmt.Errorf("%w: could not log in at %s: %w", errLogin, r.abs(st.LoginPath), err)
	case err != nil:
		return nil, fmt.Errorf("starting the browser: %w", err)
	}
	r.log.Info("logged in", "user", cfg.User, "took", time.Since(start).Round(time.Millisecond))
	return sess, nil
}

func (r *runner) abs(p string) string { return r.cfg.URL + p }

// list reads the inventory without rendering as long as that finds rows,
// else in browser tabs. onPage (optional) gets each page's new vehicles,
// known to the runner by then, as soon as they are read: their downloads
// can start while the listing goes on.
func (r *runner) list(ctx context.Context, onPage func([]*vehicle)) ([]*vehicle, error) {
	first := r.abs(r.site.InventoryPath)
	read, closeTabs := session.ListReader(r.sess, session.Expect{ErrorPage: r.site.ErrorPage, Ready: r.site.Row, Timeout: r.cfg.ReqTimeout},
		r.parseInventory)
	defer closeTabs()
	listed := 0
	vs, err := session.List(ctx, session.Listing[*vehicle]{
		First: first, Read: read, Key: func(v *vehicle) string { return v.VIN },
		Readers: r.cfg.Workers, MaxPages: r.cfg.MaxPages, Logger: r.log,
		OnPage: func(n int, u string, vs []*vehicle) {
			r.know(vs)
			if listed += len(vs); n%10 == 0 { // a sign of life while listing takes its time
				r.log.Info("listing the inventory", "pages", n, "vehicles", listed)
			}
			if onPage != nil {
				onPage(vs)
			}
		},
	})
	switch {
	case err != nil:
		return nil, fmt.Errorf("listing the inventory: %w", err)
	case len(vs) == 0:
		return nil, fmt.Errorf("the inventory at %s has no rows matching %q: check the site adapter (-site)", first, r.site.Row)
	}
	r.log.Info("inventory listed", "vehicles", len(vs))
	return vs, nil
}

// know makes vs vehicles of this run.
func (r *runner) know(vs []*vehicle) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range vs {
		r.vehicles[v.VIN] = v
		r.ids.Add(v.VIN)
	}
}

// vehicle returns the vehicle of vin, nil if it is not listed (yet).
func (r *runner) vehicle(vin string) *vehicle {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.vehicles[vin]
}

// parseInventory reads one inventory page's rows and links with the site
// adapter's selectors.
func (r *runner) parseInventory(doc *session.Document) (p session.ListPage[*vehicle]) {
	resolve := func(href string) string {
		if u, err := doc.Url.Parse(href); err == nil && href != "" {
			u.Fragment = ""
			return u.String()
		}
		return ""
	}
	doc.Find(r.site.Row).Each(func(i int, tr *goquery.Selection) {
		cell := func(k string) string { return strings.TrimSpace(tr.Find(r.site.RowFields[k]).First().Text()) }
		href, _ := tr.Find(r.site.RowLink).First().Attr("href")
		v := &vehicle{URL: resolve(href), VIN: strings.ToUpper(strings.Join(strings.Fields(cell("vin")), "")), Stock: cell("stock"),
			Year: cell("year"), Make: cell("make"), Model: cell("model"), Trim: cell("trim")}
		if v.ID = path.Base(v.URL); !vinLike.MatchString(v.VIN) || v.URL == "" {
			// A placeholder ("N/A", "-") would be an ID every other sticker
			// "names", and fail them all as another vehicle's.
			r.log.Warn("inventory row without a VIN or link; skipped", "page", doc.URL, "row", i+1, "vin", fmt.Sprintf("%.40q", v.VIN))
			return
		}
		p.Items = append(p.Items, v)
	})
	if href, ok := doc.Find(r.site.NextPage).First().Attr("href"); ok {
		p.Next = resolve(href)
	}
	if r.site.PageLinks != "" {
		doc.Find(r.site.PageLinks).Each(func(_ int, a *goquery.Selection) {
			if href, _ := a.Attr("href"); resolve(href) != "" {
				p.Links = append(p.Links, resolve(href))
			}
		})
	}
	return p
}

// vinLike is what a VIN cell must hold: 17 letters and digits since 1981,
// 11 or more before.
var vinLike = regexp.MustCompile(`^[A-Z0-9]{11,17}$`)

// fileName is the vehicle's file name: the template, made safe.
func (r *runner) fileName(v *vehicle) string {
	var b strings.Builder
	if err := r.cfg.name.Execute(&b, v); err != nil || strings.TrimSpace(b.String()) == "" {
		return download.SafeName(v.VIN + ".pdf")
	}
	return download.SafeName(b.String())
}

// maxSticker is the largest sticker jdrun takes: they are 20–100 KB, and
// a bigger answer is cut off while it streams in.
const maxSticker = 20 << 20

// target is where v's sticker goes and what it must be: a whole PDF
// carrying v's VIN and no other VIN of the inventory.
func (r *runner) target(v *vehicle) download.Target {
	return download.Target{Dir: r.cfg.OutDir, Name: r.fileName(v), Timeout: r.cfg.ReqTimeout, MaxSize: maxSticker,
		Validate: []download.Validator{download.PDFOf(v.VIN, r.ids)}}
}

// verify checks a Done record's file. In a shared store the files of other
// processes are where those keep them: their records are trusted.
func (r *runner) verify(rec checkpoint.Record) error {
	switch {
	case r.shared && rec.Owner != r.cfg.WorkerID:
		return nil
	case rec.Meta[partialMark] != "":
		return fmt.Errorf("%w: saved while the inventory was still being listed, and the run ended before judging it against every VIN", checkpoint.ErrFileChanged)
	}
	return checkpoint.VerifyFile(rec)
}

// adopt finds a valid sticker saved by a run that died before recording it.
func (r *runner) adopt(_ context.Context, vin string) (checkpoint.Record, bool) {
	v := r.vehicle(vin)
	if v == nil {
		return checkpoint.Record{}, false
	}
	growing := r.ids.Growing() // before the check: the listing may end during it
	f, err := download.Check(filepath.Join(r.cfg.OutDir, r.fileName(v)), r.target(v))
	if err != nil {
		return checkpoint.Record{}, false
	}
	r.log.Info("found a valid file from an interrupted run; recorded it", "vin", vin, "file", f.Path)
	r.counted(func() { v.partial = growing })
	meta := r.meta(vin)
	meta["adopted"] = "true"
	return checkpoint.Record{Key: vin, State: checkpoint.Done, Path: f.Path, Size: f.Size, SHA256: f.SHA256, Meta: meta}, true
}

func (r *runner) meta(vin string) map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v := r.vehicles[vin]; v != nil {
		m := map[string]string{"stock": v.Stock, "id": v.ID}
		if v.partial {
			m[partialMark] = "listing"
		}
		return m
	}
	return map[string]string{}
}

// partialMark is the Meta key of the records of a vehicle whose file was
// judged against part of the inventory (see vehicle.partial). A Done
// record keeps it until the file is judged again against every VIN
// (confirm): a rerun takes a file still marked for one not intact.
const partialMark = "judged_while"

// inventoryListed is called once every VIN is known: the files this run
// judged before — their Done records carry the mark — are judged again,
// against every VIN. Those recorded later are judged as their results come
// (confirmLate). An earlier run's marked records are not this run's to
// judge (a fixed -worker-id is the same in every run): planning takes
// them for files to fetch again (verify).
func (r *runner) inventoryListed(ctx context.Context) {
	r.ids.SetGrowing(false)
	for rec, err := range r.store.All(ctx) {
		if err != nil {
			r.log.Warn("reading the checkpoint to judge the files saved while listing; a rerun fetches them again", "err", err)
			return
		}
		if rec.State == checkpoint.Done && rec.Meta[partialMark] != "" {
			r.confirm(ctx, rec)
		}
	}
}

// confirmLate judges again the file of a result whose attempt began while
// the inventory was still being listed, if the listing has ended since
// (else inventoryListed will).
func (r *runner) confirmLate(ctx context.Context, res pool.Result) {
	v := r.vehicle(res.Key)
	r.mu.Lock()
	late := v != nil && v.partial && !r.ids.Growing() // else no store read: confirm checks again
	r.mu.Unlock()
	if !late {
		return
	}
	if rec, err := r.store.Get(ctx, res.Key); err == nil && rec.State == checkpoint.Done && rec.Meta[partialMark] != "" {
		r.confirm(ctx, rec)
	}
}

// confirm judges rec's file again, against every VIN, if this run judged
// it while listing and has not judged it again yet (inventoryListed and
// confirmLate may both find it). A file that names a vehicle listed after
// it was judged is that vehicle's: it is removed, and its vehicle recorded
// Pending with an attempt left (a rerun fetches it again) and counted
// failed. A file that passes loses its record's mark. One that can't be
// read keeps it: a rerun fetches it again.
func (r *runner) confirm(ctx context.Context, rec checkpoint.Record) {
	v := r.vehicle(rec.Key)
	if v == nil {
		return
	}
	r.mu.Lock()
	ours := v.partial
	v.partial = false
	r.mu.Unlock()
	if !ours {
		return
	}
	_, bad := download.Check(rec.Path, r.target(v))
	rec.Meta = maps.Clone(rec.Meta)
	delete(rec.Meta, partialMark)
	rec.Updated = time.Time{}
	switch {
	case errors.Is(bad, download.ErrWrongItem):
		bad = session.Redact(bad, r.cfg.secrets()...)
		if err := os.Remove(rec.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			r.log.Error("removing another vehicle's sticker", "vin", rec.Key, "file", rec.Path, "err", err)
		}
		r.log.Error("a sticker saved while the inventory was being listed is another vehicle's: removed it; a rerun fetches it again",
			"vin", rec.Key, "file", rec.Path, "err", bad)
		r.mu.Lock()
		r.rejected[rec.Key] = bad
		v.wrongPDF++
		r.mu.Unlock()
		// The attempt that saved it may have been the last one allowed: a
		// rerun would give the vehicle up without a try knowing every VIN.
		attempts := min(rec.Attempts, r.tr.MaxAttempts()-1)
		rec = checkpoint.Record{Key: rec.Key, State: checkpoint.Pending, Attempts: attempts, Err: bad.Error(), Owner: rec.Owner, Meta: rec.Meta}
	case bad != nil:
		r.log.Warn("judging a file saved while listing; a rerun fetches it again", "vin", rec.Key, "file", rec.Path, "err", bad)
		return
	}
	if err := r.store.Put(ctx, rec); err != nil {
		r.log.Error("recording the judgement of a file saved while listing; a rerun fetches it again", "vin", rec.Key, "err", err)
	}
}

// planner decides what this run downloads: what is not done (and intact)
// nor given up, in inventory order — with -retry-failed also what was
// given up, with fresh attempts — at most -max vehicles. It plans the
// listed vehicles a batch at a time (see add).
type planner struct {
	r       *runner
	named   map[string]string // file name, folded as a case-insensitive disk would → VIN
	pending []*vehicle        // listed, not planned yet
	// Of the vehicles planned: how many, done before (and intact), given
	// up before, and to download.
	planned, done, givenUp, queued int
	todo                           func(ctx context.Context, todo []*vehicle) error // takes each batch's vehicles to download, maybe none
}

func newPlanner(r *runner, todo func(ctx context.Context, todo []*vehicle) error) *planner {
	return &planner{r: r, named: map[string]string{}, todo: todo}
}

// add plans the vehicles listed so far, vs the latest, and hands what is
// to download on to p.todo: the first page's at once, and later ones once
// as many more are listed as were planned before, or the listing ended
// (last). So the downloads start after the first page of the inventory,
// and the store is read a few times — once a doubling — not once a page.
func (p *planner) add(ctx context.Context, vs []*vehicle, last bool) error {
	p.pending = append(p.pending, vs...)
	if len(p.pending) == 0 || !last && len(p.pending) < p.planned {
		return nil
	}
	todo, err := p.plan(ctx, p.pending)
	p.pending = nil
	if err != nil {
		return err
	}
	return p.todo(ctx, todo) // even none: the totals have changed
}

// plan plans vs, listed after the vehicles planned before, and returns
// those to download.
func (p *planner) plan(ctx context.Context, vs []*vehicle) ([]*vehicle, error) {
	r := p.r
	for _, v := range vs {
		n := strings.ToLower(r.fileName(v))
		if other, clash := p.named[n]; clash {
			return nil, fmt.Errorf("%w: FILE_NAME (-name) gives %s and %s the same file name %q: add {{.VIN}} to it",
				errUsage, other, v.VIN, r.fileName(v))
		}
		p.named[n] = v.VIN
	}
	plan, err := r.tr.Plan(ctx, vins(vs))
	if err != nil {
		return nil, fmt.Errorf("reading the checkpoint: %w", err)
	}
	var todo []*vehicle
	for _, t := range plan.Todo {
		if t.Reason == checkpoint.ReasonFileMissing || t.Reason == checkpoint.ReasonFileChanged {
			r.log.Warn("downloading again: the recorded file is not intact", "vin", t.Key, "reason", t.Reason, "why", t.Record.Err)
		}
		if r.cfg.MaxDownloads > 0 && p.queued+len(todo) >= r.cfg.MaxDownloads {
			break
		}
		todo = append(todo, r.vehicle(t.Key))
	}
	p.planned += len(vs)
	p.done += len(plan.Done)
	p.givenUp += len(plan.GivenUp)
	p.queued += len(todo)
	return todo, nil
}

func vins(vs []*vehicle) []string {
	keys := make([]string, len(vs))
	for i, v := range vs {
		keys[i] = v.VIN
	}
	return keys
}

// download runs todo through a pool of worker pages, the tracker feeding
// it and keeping every outcome; onResult sees each vehicle's result.
func (r *runner) download(ctx context.Context, todo []*vehicle, onResult func(pool.Result)) error {
	if len(todo) == 0 {
		return nil
	}
	batches := make(chan []string, 1)
	batches <- vins(todo)
	close(batches)
	return r.downloadFrom(ctx, batches, onResult)
}

// downloadFrom is download for vehicles that come in batches while the
// inventory is being listed, until batches is closed.
func (r *runner) downloadFrom(ctx context.Context, batches <-chan []string, onResult func(pool.Result)) error {
	cfg := r.cfg
	pc := pool.Config[*session.Tab]{
		Factory: r.sess.Tabs(), Workers: cfg.Workers, AttemptTimeout: cfg.Timeout, StuckAfter: cfg.StuckAfter,
		GracePeriod:  max(cfg.Grace, time.Nanosecond), // 0 is "no grace", not the pool's default
		RecycleAfter: 250, Logger: r.log,
		OnResult: func(res pool.Result) {
			if res.Err == nil {
				r.confirmLate(context.WithoutCancel(ctx), res)
			}
			onResult(res)
		},
	}
	if cfg.Adaptive {
		pc.Adaptive = &pool.Adaptive{Min: 1, Max: cfg.Workers, Start: min(cfg.Workers, 4), Overload: session.Overload}
	}
	poolmetrics.Hook(r.live, &pc)
	p, err := download.NewTracked(pc, r.tr)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.pool, r.guard = p, &download.Interference{SetMaxWorkers: p.SetMaxWorkers, Logger: r.log}
	r.mu.Unlock()
	r.log.Info("downloading", "workers", cfg.Workers, "adaptive", cfg.Adaptive)
	err = p.RunFrom(ctx, batches, func(ctx context.Context, tab *session.Tab, vin string) (any, error) {
		return r.attempt(ctx, tab, r.vehicle(vin))
	})
	if errors.Is(err, context.Canceled) {
		return nil // the caller reports the interruption
	}
	return err
}

// attempt is one try at one vehicle. The fast way fetches the sticker URL
// straight away with the session's cookies (no page); the page way opens
// the vehicle's page and then fetches the sticker link or clicks the
// button. Either way the file is saved only if it is a whole PDF carrying
// the vehicle's VIN and no other. A failure leaves evidence (see keep).
func (r *runner) attempt(ctx context.Context, tab *session.Tab, v *vehicle) (any, error) {
	r.counted(func() { v.partial = r.ids.Growing() }) // judged against the VINs listed by now: see inventoryListed
	dst := r.target(v)
	// While the inventory is being listed, a sticker that names what may
	// be a VIN not listed yet waits for the listing before it is judged.
	dst.Validate = []download.Validator{r.ids.Await(ctx, dst.Validate[0])}
	direct := r.directFor(ctx)
	if direct {
		r.counted(func() { v.downloads++ })
		f, err := download.Fetch(ctx, r.sess, r.stickerURL(v), dst)
		if r.cfg.Download == "direct" || !download.NeedsPage(err) {
			r.fallback.Fetched(err)
			r.keep(ctx, v, nil, err)
			return f, r.wrongPDF(v, err)
		}
		r.log.Debug("the sticker URL did not work; opening the vehicle page", "vin", v.VIN, "err", err)
	}
	page, err := tab.Page(ctx)
	if err != nil {
		return nil, err
	}
	f, err := r.onPage(ctx, page, v, dst, direct, r.cfg.Download != "click")
	r.keep(ctx, v, page, err)
	return f, err
}

// pageAnswer is how long reading the vehicle page (two querySelector
// calls) may take: a page that does not answer that by then has a script
// that never yields.
const pageAnswer = 15 * time.Second

// onPage gets v's sticker from its page: it fetches the sticker link
// (fetchLink), or clicks the button.
func (r *runner) onPage(ctx context.Context, page playwright.Page, v *vehicle, dst download.Target, afterDirect, fetchLink bool) (download.File, error) {
	r.mu.Lock()
	guard := r.guard
	r.mu.Unlock()
	defer guard.View(v.VIN)()
	// Deferred scripts (a button's handler) have run at DOMContentLoaded;
	// waiting for "load" would only wait for what the click doesn't need.
	exp := session.Expect{ErrorPage: r.site.ErrorPage, Ready: r.site.StickerButton, Timeout: r.cfg.ReqTimeout,
		WaitUntil: playwright.WaitUntilStateDomcontentloaded}
	if _, err := r.sess.Goto(ctx, page, v.URL, exp); err != nil {
		return download.File{}, err
	}
	info, err := r.sess.Evaluate(ctx, page, pageAnswer, `([vinSel, btnSel]) => {
		const vin = vinSel && document.querySelector(vinSel), btn = document.querySelector(btnSel);
		return [vin ? vin.textContent.trim() : "", btn && btn.tagName === "A" ? btn.href : ""];
	}`, []any{r.site.PageVIN, r.site.StickerButton})
	if err != nil {
		return download.File{}, fmt.Errorf("reading the vehicle page: %w", err)
	}
	var pageVIN, href string
	if vals, _ := info.([]any); len(vals) == 2 { // a page's scripts can change what the expression returns
		pageVIN, _ = vals[0].(string)
		href, _ = vals[1].(string)
	}
	if pageVIN != "" && !strings.EqualFold(pageVIN, v.VIN) {
		return download.File{}, fmt.Errorf("%w: the page of %s shows VIN %s", download.ErrWrongItem, v.VIN, pageVIN)
	}
	r.counted(func() { v.downloads++ })
	var f download.File
	if href != "" && fetchLink && r.sess.LoginLoops() == 0 { // a looping login does not reach fetches: click
		f, err = download.Fetch(ctx, r.sess, href, dst)
	} else {
		f, err = download.Click(ctx, r.sess, page, download.Selector(r.site.StickerButton), dst)
	}
	if guard.Downloaded(err); afterDirect {
		r.fallback.Paged(v.VIN, err)
	}
	return f, r.wrongPDF(v, err)
}

// keep hands a failed attempt's evidence to the bundles: what its page
// shows (nil page: a direct fetch, no page to show), if they keep it. A
// requeued attempt (logged out, browser gone) is no failure, and one the
// run stopped is not the site's doing.
func (r *runner) keep(ctx context.Context, v *vehicle, page playwright.Page, err error) {
	if err == nil || r.bundles == nil || pool.IsRequeue(err) || errors.Is(ctx.Err(), context.Canceled) {
		return
	}
	err = session.Redact(err, r.cfg.secrets()...)
	a, _ := pool.AttemptFrom(ctx)
	var perm *backoff.PermanentError
	var ev *session.Evidence
	if page != nil && r.bundles.Wants(err, a.Number > r.cfg.Retries || errors.As(err, &perm)) {
		ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		ev, _ = r.sess.Evidence(ectx, page)
		cancel()
	}
	r.bundles.Attempt(v.VIN, err, ev)
}

func (r *runner) stickerURL(v *vehicle) string {
	var b strings.Builder
	_ = r.site.stickerURL.Execute(&b, v) // checked by loadSite
	if base, err := url.Parse(v.URL); err == nil {
		if ref, err := base.Parse(b.String()); err == nil {
			return ref.String()
		}
	}
	return b.String()
}

// stats are the pool's, once there is one.
func (r *runner) stats() pool.Stats {
	r.mu.Lock()
	p := r.pool
	r.mu.Unlock()
	if p == nil {
		return pool.Stats{}
	}
	return p.Stats()
}

// counted runs f, which changes a vehicle's counts, under the lock.
func (r *runner) counted(f func()) {
	r.mu.Lock()
	f()
	r.mu.Unlock()
}

// directFor reports whether the attempt of ctx fetches the sticker URL
// without opening the vehicle's page. In auto mode a vehicle's last
// attempt opens its page: another way in, and a page to show if it fails.
func (r *runner) directFor(ctx context.Context) bool {
	a, _ := pool.AttemptFrom(ctx)
	switch {
	case r.site.stickerURL == nil:
		return false
	case r.cfg.Download == "direct":
		return true
	}
	return r.cfg.Download == "auto" && r.fallback.Direct() && a.Number <= r.cfg.Retries
}

// wrongPDF counts v's wrong PDFs and returns err.
func (r *runner) wrongPDF(v *vehicle, err error) error {
	if errors.Is(err, download.ErrContentMismatch) {
		r.counted(func() { v.wrongPDF++ })
	}
	return err
}
