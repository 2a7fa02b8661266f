package checkpoint

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// ErrPoison is the cause of a [Failed] record that a [Tracker] wrote for an
// item it gave up as a poison pill: the process died during
// [TrackerOptions].MaxCrashes attempts at it. The record's Err starts with
// this error's text, and its Crashes is at least MaxCrashes — that field,
// not the text, is what tells such a record from others.
var ErrPoison = errors.New("checkpoint: poison pill")

// ErrGivenUp is why [Tracker.Feed] gave up an item at its claim: its
// attempts, counted across runs, were used up.
var ErrGivenUp = errors.New("checkpoint: attempts used up")

// TrackerOptions configure [NewTracker]. The zero value is ready to use.
type TrackerOptions struct {
	// Owner names this process in the records the tracker writes and in
	// its leases, for people to read. Processes that share a store need
	// different owners. Defaults to "<hostname>-<pid>".
	Owner string
	// LeaseTTL is how long a claim lasts unless it is renewed. The tracker
	// renews every lease it holds every LeaseTTL/3, so the keys of a
	// process that dies go to the others at most LeaseTTL later. Defaults
	// to 2 minutes.
	LeaseTTL time.Duration
	// Hold is the most keys the tracker holds at once: claimed and not
	// finished, in flight or waiting for a retry. Feed claims up to this
	// many. Defaults to 32.
	Hold int
	// MaxAttempts is how many charged attempts an item gets, counted
	// across runs, before it is given up. Defaults to 5.
	MaxAttempts int
	// MaxCrashes is how many runs may die during an attempt at an item
	// before it is given up as a poison pill ([ErrPoison]), so that an item
	// that kills the process every time can't stop a job for good.
	// Defaults to 2.
	MaxCrashes int
	// QuickStart lets [Tracker.Start] return before the attempt's Running
	// record is stored, where the store's leases tell a takeover
	// ([TakeoverLease]: checkpoint/postgres): an attempt does not wait a
	// round trip to a shared store first, and a fleet of processes gets
	// that much more work done (BenchmarkFleet, 100k items, 8 processes ×
	// 16 workers: overhead 17–18 % → 8–10 %). The price: a process that
	// dies within that round trip of a start leaves no crash on record,
	// and an item that kills the process at once is given up after up to
	// one run more than MaxCrashes. Off: Start is Begin.
	QuickStart bool
	// CommitDelay is how long the tracker lets records gather before it
	// sends them to the store as one batch: fewer, larger batches — fewer
	// statements and commits on a shared store, which is what a fleet runs
	// out of first — for that much more latency per record (BenchmarkFleet,
	// 100k items, 8 processes × 16 workers: statements per item 0.8–1.0;
	// 5 ms: 0.37–0.46, PostgreSQL's CPU −30 %; 10 ms: 0.34, −45 %; 20 ms:
	// 0.24, no faster). An attempt waits for it where its start is stored
	// before it runs — Begin, and Start without QuickStart or on a store
	// whose leases can't tell a takeover (File, Memory): set it for a
	// shared store only. With QuickStart, it widens the window in which a
	// process that dies leaves no crash on record. Defaults to 0: a batch
	// goes at once, and the records that come meanwhile make the next one.
	CommitDelay time.Duration
	// RetryFailed makes Plan plan the items given up before (Failed) again,
	// each with a fresh budget of attempts and crashes. Defaults to false: a
	// plain rerun leaves them.
	RetryFailed bool
	// Verify checks the file of a Done record when Plan finds it: an item
	// whose file fails the check (an error wrapping [ErrFileMissing] or
	// [ErrFileChanged]) is fetched again; another error (the file could not
	// be read: a share not mounted, a permission) stops Plan, which then
	// changes no record. It is called from
	// several goroutines at once. In a store shared by machines that keep
	// their files apart, it should trust the records of the others (whose
	// files it can't see). Defaults to [VerifyFile].
	Verify func(Record) error
	// Adopt is asked by Plan about each item the store has no record of,
	// and by Feed about each claimed item left Running: if its file was
	// saved but never recorded — the process died between saving and
	// recording — it returns the item's Done record (Path, Size, SHA256)
	// and true, and the item is recorded done. It is called from several
	// goroutines at once. Defaults to nil: no adoption.
	Adopt func(ctx context.Context, key string) (Record, bool)
	// Meta returns the Meta of the records the tracker writes for key.
	// Defaults to nil: the records keep the Meta of the record a claim
	// found.
	Meta func(key string) map[string]string
	// Class names the kind of a failure ("logged out", "HTTP 503"): the
	// tracker keeps it in the Meta of the Pending and Failed records it
	// writes, under "class", so that reports can group failures by kind
	// rather than by text. Package download's ClassName is one. Defaults
	// to nil: no class.
	Class func(err error) string
	// Spread makes Feed start at a place of its own in its todo list,
	// chosen by a hash of Owner, and go round from there to the place
	// before it. Processes that share a store and are given the same list
	// then each start on keys no other is claiming, rather than all on
	// the same ones, passing over each other's claims and adding the same
	// rows: set it when processes share a store. Defaults to false: Feed
	// goes through todo in its order.
	Spread bool
	// PollInterval is how often Feed, when it can claim nothing while keys
	// remain, looks in the store for keys finished by other owners and for
	// leases that ran out. While these looks find keys finished — the end
	// of a shared job — Feed looks sooner, from a sixteenth of it, so that
	// it ends soon after the last key. Defaults to 1 second.
	PollInterval time.Duration
	// Logger receives crashes found, items given up, lost leases and store
	// failures Feed rides out. Defaults to slog.Default().
	Logger *slog.Logger
	// Now is the clock of the times in records, for tests. Leases expire
	// by the store's clock. Defaults to time.Now.
	Now func() time.Time
}

func (o *TrackerOptions) fill() error {
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"LeaseTTL", int64(o.LeaseTTL)}, {"Hold", int64(o.Hold)}, {"MaxAttempts", int64(o.MaxAttempts)},
		{"MaxCrashes", int64(o.MaxCrashes)}, {"PollInterval", int64(o.PollInterval)}, {"CommitDelay", int64(o.CommitDelay)},
	} {
		if f.v < 0 {
			return fmt.Errorf("checkpoint: TrackerOptions.%s is negative (%d)", f.name, f.v)
		}
	}
	if o.Owner == "" {
		host, _ := os.Hostname()
		o.Owner = fmt.Sprintf("%s-%d", cmp.Or(host, "localhost"), os.Getpid())
	}
	if len(o.Owner) > MaxKeyLen || !utf8.ValidString(o.Owner) {
		return fmt.Errorf("checkpoint: TrackerOptions.Owner %.80q must be valid UTF-8 of at most %d bytes", o.Owner, MaxKeyLen)
	}
	o.LeaseTTL = cmp.Or(o.LeaseTTL, 2*time.Minute)
	o.Hold = cmp.Or(o.Hold, 32)
	o.MaxAttempts = cmp.Or(o.MaxAttempts, 5)
	o.MaxCrashes = cmp.Or(o.MaxCrashes, 2)
	o.PollInterval = cmp.Or(o.PollInterval, time.Second)
	if o.Verify == nil {
		o.Verify = VerifyFile
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// Tracker keeps the record of each item of a job through one cycle, the
// same on every store that is a [Leaser]: [Tracker.Plan] decides what a run
// does; [Tracker.Feed] claims the items and hands them to the caller — a
// scheduler, which the tracker does not know — and for each attempt the
// caller reports [Tracker.Begin], then [Tracker.Retry] (failed, will be
// retried), [Tracker.Done], [Tracker.Fail] or [Tracker.Stop]:
//
//	claim → Running → (Pending → Running)… → Done or Failed
//
// Attempts and crashes add up across runs, so an item that fails in every
// run, or kills the process in every run, is given up in the end instead
// of holding the job up for ever.
//
// Make one with [NewTracker]. A Tracker is safe for concurrent use: the
// per-attempt methods come from many goroutines while Feed runs in another.
// Writes of one key are serialized. Close it when done: it releases what it
// still holds, and stops the goroutine that renews leases.
type Tracker struct {
	store    Store
	leaser   Leaser
	batcher  LeaseBatcher // nil if the store is none
	surveyor Surveyor     // nil if the store is none
	opts     TrackerOptions
	log      *slog.Logger

	bg     context.Context // renewals; canceled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the renewer
	wake   chan struct{}  // a held key ended: Feed may claim more

	commits committer // writes on their way to a LeaseBatcher

	mu       sync.Mutex
	held     map[string]*item
	fresh    map[string]time.Time // RetryFailed: Updated of the Failed records Plan planned, by key
	renewing bool
	feeding  bool
	closed   bool
	stats    TrackerStats
}

// TrackerStats counts what a [Tracker] did.
type TrackerStats struct {
	Held      int // keys held now: claimed, not finished
	Claimed   int // claims Feed handed to its caller to work on (not those it finished)
	Done      int // items finished here: Done
	Failed    int // items given up here: by Fail, or at a claim that found their attempts used up
	Poisoned  int // items given up here as poison pills (not in Failed)
	Stopped   int // claims ended unfinished: by Stop or Close, or a submit that failed
	Lost      int // leases lost to other owners after they ran out
	Elsewhere int // keys of Feed's todo that other owners finished or gave up
	Crashes   int // Running records claims found: attempts during which a process died
}

// Claim is an item [Tracker.Feed] claimed for its caller to work on — or,
// with Finished set, an item it finished at its claim, to account for.
type Claim struct {
	Key string // the claimed key, held until its Done, Fail or Stop (unless Finished)
	// Attempts is how many attempts were charged to the item so far,
	// across runs: the next is Attempts+1. It is 0 for an item given a
	// fresh budget (see [TrackerOptions].RetryFailed).
	Attempts int
	// Crashes is how many runs died during an attempt at the item, the
	// one this claim found included. An item with crashes is a suspect:
	// run its attempts alone (pool.Task.Exclusive), so that a crash during
	// one is its own, and the items that happened to be in flight next to
	// it when a run died are not blamed for it again.
	Crashes int
	// Record is the key's record as the claim found it; its Key is empty
	// if there was none.
	Record Record
	// Finished, if not nil, is the record Feed wrote when it finished the
	// item at its claim: Done for a file it adopted ([TrackerOptions].Adopt),
	// Failed for an item it gave up. Feed holds no claim on such an item
	// and submit must not work on it; it is passed so that the caller can
	// account for every item (it gets no outcome otherwise).
	Finished *Record
	// GaveUp is why Feed gave the item up at its claim: an error wrapping
	// [ErrPoison] or [ErrGivenUp]. Nil unless Finished is a Failed record.
	GaveUp error
	// Suspect is set for an item the claim took from a lease that ran out
	// with no attempt on record: its holder died or stalled — maybe early
	// in an attempt whose record [Tracker.Start] had not stored yet. Record
	// its attempts with Begin, so that a crash during one is counted.
	Suspect bool
}

// SavedFile describes the file of a finished item, for [Tracker.Done].
type SavedFile struct {
	Path   string // made absolute by Done
	Size   int64  // in bytes
	SHA256 string // hex, as [HashFile] returns it
}

// item is a key the tracker holds.
type item struct {
	key   string
	lease Lease
	ended atomic.Int32 // how the claim ended (an end); 0 while held

	mu       sync.Mutex // serializes the writes of the key
	attempts int        // charged so far
	crashes  int
	first    time.Time // the first attempt's start, kept across attempts and runs
	begun    time.Time // the latest Begin's started: that attempt's identity
	running  bool      // the latest write was Begin's Running
	lastErr  string
	meta     map[string]string
	// quick: its lease tells a takeover (TakeoverLease), so Start need not
	// wait for its record; pending is a Start's write on its way, which the
	// key's next write waits for.
	quick   bool
	pending *commit
}

// end is how a claim ended.
type end int32

const (
	endDone end = iota + 1
	endFailed
	endStopped
	endLost
)

// NewTracker returns a tracker of the items in store, which must be a
// [Leaser] (every store in this module is). It returns an error for a store
// that is not, or for options out of range, naming the field.
func NewTracker(store Store, opts TrackerOptions) (*Tracker, error) {
	l, ok := store.(Leaser)
	if !ok {
		return nil, fmt.Errorf("checkpoint: NewTracker: %T is not a Leaser", store)
	}
	if err := opts.fill(); err != nil {
		return nil, err
	}
	t := &Tracker{store: store, leaser: l, opts: opts, log: opts.Logger, wake: make(chan struct{}, 1), held: map[string]*item{}}
	t.batcher, _ = store.(LeaseBatcher)
	t.surveyor, _ = store.(Surveyor)
	t.commits.b, t.commits.ttl, t.commits.delay = t.batcher, t.opts.LeaseTTL, t.opts.CommitDelay
	t.commits.hurry = make(chan struct{})
	t.bg, t.cancel = context.WithCancel(context.Background())
	return t, nil
}

// Owner returns the owner the tracker claims keys and writes records as.
func (t *Tracker) Owner() string { return t.opts.Owner }

// MaxAttempts returns the attempts an item gets across runs
// ([TrackerOptions].MaxAttempts): a scheduler should give up at the same
// count.
func (t *Tracker) MaxAttempts() int { return t.opts.MaxAttempts }

// Stats returns the tracker's counts so far.
func (t *Tracker) Stats() TrackerStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.stats
	s.Held = len(t.held)
	return s
}

// notHeld is the error of a call for a key the tracker does not hold.
func notHeld(key string) error {
	return fmt.Errorf("%w: %.80q is not held by this tracker (never claimed, finished already, or lost)", ErrLeaseLost, key)
}

func (t *Tracker) get(key string) (*item, error) {
	t.mu.Lock()
	it := t.held[key]
	t.mu.Unlock()
	if it == nil {
		return nil, notHeld(key)
	}
	return it, nil
}

// Begin records that an attempt at key starts: a Running record with
// Attempts = attempt, the number of charged attempts including this one.
// started is when it started; it also identifies the attempt for Retry.
// The record keeps Started at the item's first attempt, across attempts
// and runs, and the crashes counted so far. If the process dies during the
// attempt, the next claim of the key finds this record and counts a crash.
//
// Begin, Retry, Done, Fail and Stop return an error wrapping [ErrLeaseLost],
// and store nothing, for a key the tracker does not hold: never claimed,
// finished already, or taken by another owner after its lease ran out.
func (t *Tracker) Begin(ctx context.Context, key string, attempt int, started time.Time) error {
	it, err := t.begin(key, attempt, started)
	if err != nil {
		return err
	}
	defer it.mu.Unlock()
	return t.write(ctx, it, t.record(it, Running, attempt), 0)
}

// Start records, as Begin does, that an attempt at key starts. With
// [TrackerOptions].QuickStart it returns once the Running record is on its
// way, not stored: the attempt need not wait a round trip to the store.
// The key's next write waits for that record. If the process dies before
// the record is stored — within the store's round trip after Start — no
// crash is on record; the next claim then takes the key from a lease that
// ran out, with no attempt on record: a [Claim].Suspect, whose attempts go
// through Begin. So an item that kills the process at once is given up
// after at most one run more than MaxCrashes. Without QuickStart, or where
// the store's leases can't tell a takeover ([TakeoverLease]) or it has no
// [LeaseBatcher], Start is Begin.
//
// A write that fails after Start returned is the next write's concern: a
// lease lost meanwhile makes it return [ErrLeaseLost]; another error is
// logged, and a store that still fails fails that write too.
func (t *Tracker) Start(ctx context.Context, key string, attempt int, started time.Time) error {
	it, err := t.begin(key, attempt, started)
	if err != nil {
		return err
	}
	defer it.mu.Unlock()
	r := t.record(it, Running, attempt)
	if !it.quick || t.batcher == nil || t.commits.off.Load() {
		return t.write(ctx, it, r, 0)
	}
	t.settle(it)
	if it.ended.Load() != 0 {
		return notHeld(it.key)
	}
	w := LeaseWrite{Lease: it.lease, Record: r}
	it.pending = t.commits.queue1(w, func(err error) {
		if errors.Is(err, ErrForeignLease) {
			// A wrapper's lease: as committer.write does, through the
			// lease itself — before the key's next write, which waits.
			t.commits.off.Store(true)
			ctx, cancel := context.WithTimeout(context.Background(), t.opts.LeaseTTL)
			err = direct(ctx, w)
			cancel()
		}
		switch {
		case errors.Is(err, ErrLeaseLost):
			t.lost(it, err)
		case err != nil:
			t.log.Warn("checkpoint: recording the start of an attempt", "key", it.key, "attempt", attempt, "err", err)
		}
	})
	return nil
}

// begin checks a Begin's or Start's arguments and notes the attempt in
// key's item, which it returns locked.
func (t *Tracker) begin(key string, attempt int, started time.Time) (*item, error) {
	if attempt < 1 || started.IsZero() {
		return nil, fmt.Errorf("checkpoint: Begin %.80q: attempt %d at %v: want an attempt of at least 1 and a start", key, attempt, started)
	}
	it, err := t.get(key)
	if err != nil {
		return nil, err
	}
	it.mu.Lock()
	// Before the write, so that even a failed write makes the attempt
	// before it stale for Retry.
	it.begun, it.attempts, it.running = started, attempt, true
	if it.first.IsZero() {
		it.first = started
	}
	return it, nil
}

// settle waits for a Start's write of it still on its way, with it.mu
// held: a key's writes are stored in order, and never two in one batch.
func (t *Tracker) settle(it *item) {
	if it.pending != nil {
		<-it.pending.done
		it.pending = nil
	}
}

// Retry records that the attempt at key begun at started failed with err
// and will be retried: a Pending record with err's text and attempts, the
// number of charged attempts. A late Retry — after a newer Begin of the
// key, or after the key ended here — does nothing and returns nil, so a
// callback that arrives late can never overwrite a newer attempt's record.
func (t *Tracker) Retry(ctx context.Context, key string, started time.Time, attempts int, err error) error {
	t.mu.Lock()
	it := t.held[key]
	t.mu.Unlock()
	if it == nil {
		return nil
	}
	it.mu.Lock()
	defer it.mu.Unlock()
	if !it.begun.Equal(started) || it.ended.Load() != 0 {
		return nil
	}
	it.attempts, it.running, it.lastErr = attempts, false, errText(err)
	return t.write(ctx, it, t.classed(t.record(it, Pending, attempts), err), 0)
}

// Done records that key is finished, its file saved as f (Path made
// absolute), after attempts charged attempts, and releases the key.
func (t *Tracker) Done(ctx context.Context, key string, attempts int, f SavedFile) error {
	if f.Path == "" || f.SHA256 == "" {
		// Such a record would be trusted by every later run.
		return fmt.Errorf("checkpoint: Done %.80q: %w: no file path or SHA-256", key, ErrInvalid)
	}
	path, err := filepath.Abs(f.Path)
	if err != nil {
		return fmt.Errorf("checkpoint: Done %.80q: %w", key, err)
	}
	it, err := t.get(key)
	if err != nil {
		return err
	}
	it.mu.Lock()
	defer it.mu.Unlock()
	it.lastErr = ""
	r := t.record(it, Done, attempts)
	r.Path, r.Size, r.SHA256 = path, f.Size, f.SHA256
	return t.write(ctx, it, r, endDone)
}

// Fail records that key is given up after attempts charged attempts, the
// last failing with err — its attempts used up, or an error that retrying
// can't cure — and releases the key: a Failed record.
func (t *Tracker) Fail(ctx context.Context, key string, attempts int, err error) error {
	it, gerr := t.get(key)
	if gerr != nil {
		return gerr
	}
	it.mu.Lock()
	defer it.mu.Unlock()
	it.lastErr = errText(err)
	return t.write(ctx, it, t.classed(t.record(it, Failed, attempts), err), endFailed)
}

// classed is r with err's class in its Meta, if TrackerOptions.Class is set.
func (t *Tracker) classed(r Record, err error) Record {
	if t.opts.Class == nil || err == nil {
		return r
	}
	m := maps.Clone(r.Meta)
	if m == nil {
		m = map[string]string{}
	}
	m["class"] = t.opts.Class(err)
	r.Meta = m
	return r
}

// Stop records that key is unfinished because a shutdown stopped it, and
// releases it, so that another process or the next run takes it at once:
// a Pending record with attempts, the charged attempts — the stopped
// attempt is not charged. A key with no Begin since its claim is released
// with its record as it was.
func (t *Tracker) Stop(ctx context.Context, key string, attempts int) error {
	it, err := t.get(key)
	if err != nil {
		return err
	}
	it.mu.Lock()
	defer it.mu.Unlock()
	return t.stop(ctx, it, attempts)
}

// stop is Stop, with it.mu held.
func (t *Tracker) stop(ctx context.Context, it *item, attempts int) error {
	if it.ended.Load() != 0 {
		return notHeld(it.key)
	}
	if it.begun.IsZero() {
		err := it.lease.Abandon(ctx)
		if err == nil || errors.Is(err, ErrLeaseLost) {
			t.finish(it, endStopped)
		}
		return err
	}
	it.attempts, it.running = attempts, false
	return t.write(ctx, it, t.record(it, Pending, attempts), endStopped)
}

// closeWrites is how long Close, given an ended context, still has for its
// writes.
const closeWrites = 10 * time.Second

// Close releases every key the tracker still holds, as Stop would (an
// attempt in flight is not charged), and stops renewing leases. Later
// calls of Feed return [ErrClosed]; the per-attempt methods find no key
// held. Close does not close the store. A second Close returns nil. A ctx
// that has ended already still gives the releases 10 s.
func (t *Tracker) Close(ctx context.Context) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	items := make([]*item, 0, len(t.held))
	for _, it := range t.held {
		items = append(items, it)
	}
	t.mu.Unlock()
	t.cancel()
	close(t.commits.hurry) // the stops go at once: Close's ctx may be short
	t.wg.Wait()
	if ctx.Err() != nil {
		// Cancelled already (a Ctrl-C's context, say): the stops are still
		// written, or the next run would count a crash for each key.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), closeWrites)
		defer cancel()
	}
	// All at once: a batching store takes them in one or two round
	// trips, and a store that stopped answering costs one lease TTL, not
	// one per key.
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Go(func() {
			it.mu.Lock()
			defer it.mu.Unlock()
			attempts := it.attempts
			if it.running {
				attempts--
			}
			if err := t.stop(ctx, it, attempts); err != nil && !errors.Is(err, ErrLeaseLost) {
				errs[i] = err
			}
		})
	}
	wg.Wait()
	t.commits.wg.Wait()
	return errors.Join(errs...)
}

// record returns the record of it in state s, with the item's fields.
func (t *Tracker) record(it *item, s State, attempts int) Record {
	r := Record{Key: it.key, State: s, Attempts: attempts, Crashes: it.crashes, Err: it.lastErr,
		Owner: t.opts.Owner, Meta: it.meta, Started: it.first, Updated: t.opts.Now()}
	if t.opts.Meta != nil {
		r.Meta = t.opts.Meta(it.key)
	}
	return r
}

// write stores r through it's lease — Put, or Release when e is not 0 —
// with it.mu held.
func (t *Tracker) write(ctx context.Context, it *item, r Record, e end) error {
	t.settle(it)
	if it.ended.Load() != 0 {
		return notHeld(it.key)
	}
	w := LeaseWrite{Lease: it.lease, Record: r, Release: e != 0}
	var err error
	if t.batcher != nil && !t.commits.off.Load() {
		err = t.commits.write(ctx, w)
	} else {
		err = direct(ctx, w)
	}
	switch {
	case errors.Is(err, ErrLeaseLost):
		t.lost(it, err)
		return err
	case err != nil:
		return fmt.Errorf("checkpoint: record %s of %.80q: %w", r.State, it.key, err)
	case e != 0:
		t.finish(it, e)
	}
	return nil
}

func (t *Tracker) lost(it *item, err error) {
	if t.finish(it, endLost) {
		t.log.Warn("checkpoint: lost the lease of a key to another owner; its outcome there counts", "key", it.key, "err", err)
	}
}

// finish ends it's claim once: drops it from the held keys, counts how it
// ended, and wakes Feed. It reports whether this call ended it.
func (t *Tracker) finish(it *item, e end) bool {
	if !it.ended.CompareAndSwap(0, int32(e)) {
		return false
	}
	t.mu.Lock()
	if t.held[it.key] == it {
		delete(t.held, it.key)
	}
	switch e {
	case endDone:
		t.stats.Done++
	case endFailed:
		t.stats.Failed++
	case endStopped:
		t.stats.Stopped++
	case endLost:
		t.stats.Lost++
	}
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
	return true
}

// hold makes it a held key, and starts the renewer if it is not running.
func (t *Tracker) hold(it *item) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	t.held[it.key] = it
	if !t.renewing {
		t.renewing = true
		t.wg.Add(1)
		go t.renew()
	}
	return nil
}

// free is how many more keys the tracker may hold.
func (t *Tracker) free() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.opts.Hold - len(t.held)
}

// renew extends every held lease every LeaseTTL/3, in one pass, while the
// tracker holds keys and is open.
func (t *Tracker) renew() {
	defer t.wg.Done()
	tick := time.NewTicker(t.opts.LeaseTTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-t.bg.Done():
			return
		case <-tick.C:
		}
		t.mu.Lock()
		if len(t.held) == 0 {
			t.renewing = false
			t.mu.Unlock()
			return
		}
		items := make([]*item, 0, len(t.held))
		for _, it := range t.held {
			items = append(items, it)
		}
		t.mu.Unlock()
		if t.batcher != nil && !t.commits.off.Load() {
			t.renewBatch(items)
			continue
		}
		for _, it := range items {
			// Under the key's lock: a Renew racing a Release would find the
			// lease released and look lost. A key whose lock is taken is
			// being written, and skipped: a write that hangs must not hold
			// up the renewal of every other key.
			if !it.mu.TryLock() {
				continue
			}
			if it.ended.Load() == 0 {
				t.renewed(it, it.lease.Renew(t.bg, t.opts.LeaseTTL))
			}
			it.mu.Unlock()
		}
	}
}

// renewBatch renews the leases of items in one call of the LeaseBatcher.
// It holds no key's lock meanwhile: a lease it finds ended is looked at
// again under the key's lock, and lost only if its key is still held —
// otherwise a Release got there first.
func (t *Tracker) renewBatch(items []*item) {
	ls := make([]Lease, len(items))
	for i, it := range items {
		ls[i] = it.lease
	}
	ctx, cancel := context.WithTimeout(t.bg, t.opts.LeaseTTL/3) // the next round's turn
	defer cancel()
	errs, err := t.batcher.RenewBatch(ctx, ls, t.opts.LeaseTTL)
	if err != nil {
		if t.bg.Err() == nil {
			t.log.Warn("checkpoint: renewing leases failed; trying again", "leases", len(ls), "err", err)
		}
		return
	}
	for i, it := range items {
		if errs[i] == nil {
			continue
		}
		it.mu.Lock()
		if it.ended.Load() == 0 {
			if errors.Is(errs[i], ErrForeignLease) {
				t.commits.off.Store(true)
				errs[i] = it.lease.Renew(t.bg, t.opts.LeaseTTL)
			}
			t.renewed(it, errs[i])
		}
		it.mu.Unlock()
	}
}

// renewed takes the outcome of renewing it's lease, with it.mu held.
func (t *Tracker) renewed(it *item, err error) {
	switch {
	case errors.Is(err, ErrLeaseLost):
		t.lost(it, err)
	case err != nil && t.bg.Err() == nil:
		t.log.Warn("checkpoint: renewing a lease failed; trying again", "key", it.key, "err", err)
	}
}

// committer sends the tracker's writes to a LeaseBatcher in batches: a
// write goes (after the delay, CommitDelay) if fewer than maxFlushers
// batches are on their way; otherwise it waits for one of them to end, and
// goes with every write that came meanwhile — batches grow with the load.
// Writes of one key never meet in a batch: each is made under its key's
// lock, and waits for its outcome.
type committer struct {
	b LeaseBatcher
	// ttl bounds a batch: a store that stops answering (a network
	// partition, a row lock held) fails the writes once their leases would
	// have run out anyway, instead of holding Done and Close for ever.
	ttl   time.Duration
	delay time.Duration  // CommitDelay
	hurry chan struct{}  // closed by Close: the delay is over
	wg    sync.WaitGroup // the flushers
	// off is set once the store refused a lease as foreign (a wrapper's):
	// from then on every write goes through its lease's own methods.
	off atomic.Bool

	mu       sync.Mutex
	queue    []*commit
	flushing int // flushers running
}

// commit is one write waiting in a committer.
type commit struct {
	w    LeaseWrite
	err  error         // its outcome
	done chan struct{} // closed once err is set
	then func(error)   // if set, called with err first (a Start's)
}

// maxFlushers is how many batches a committer has on their way at once.
// One: the writes that come while it is on its way make the next batch
// bigger. Against two, in the fleet bench (100,000 items, 8 processes × 16
// workers): statements per item 1.24 → 0.93, PostgreSQL's CPU −14 %, the
// shared store being what a fleet runs out of first; wall time the same.
const maxFlushers = 1

// maxBatch is the most writes a committer sends in one call.
const maxBatch = 1000

// direct makes w through its lease's own methods.
func direct(ctx context.Context, w LeaseWrite) error {
	if w.Release {
		return w.Lease.Release(ctx, w.Record)
	}
	return w.Lease.Put(ctx, w.Record)
}

// write queues w, and returns its outcome once the batch it went with is
// stored. If ctx ends while w waits, write takes it back and returns
// ctx.Err(); once w is on its way, write waits for its outcome.
func (c *committer) write(ctx context.Context, w LeaseWrite) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cm := c.queue1(w, nil)
	select {
	case <-cm.done:
	case <-ctx.Done():
		c.mu.Lock()
		if i := slices.Index(c.queue, cm); i >= 0 {
			c.queue = slices.Delete(c.queue, i, i+1)
			c.mu.Unlock()
			return ctx.Err()
		}
		c.mu.Unlock()
		<-cm.done
	}
	err := cm.err
	if errors.Is(err, ErrForeignLease) {
		// A wrapper's lease: from now on, and for this write, the lease's
		// own methods, under the caller's context.
		c.off.Store(true)
		return direct(ctx, w)
	}
	return err
}

// queue1 queues w, to be sent with the next batch, and returns it; then
// (if not nil) is called with its outcome, on the flusher's goroutine.
func (c *committer) queue1(w LeaseWrite, then func(error)) *commit {
	cm := &commit{w: w, done: make(chan struct{}), then: then}
	c.mu.Lock()
	c.queue = append(c.queue, cm)
	if c.flushing < maxFlushers {
		c.flushing++
		c.wg.Add(1)
		go c.flush()
	}
	c.mu.Unlock()
	return cm
}

// flush sends the queue, a batch at a time, until it is empty.
func (c *committer) flush() {
	defer c.wg.Done()
	c.mu.Lock()
	for len(c.queue) > 0 {
		if c.delay > 0 && len(c.queue) < maxBatch {
			c.mu.Unlock()
			wait := time.NewTimer(c.delay)
			select {
			case <-wait.C:
			case <-c.hurry:
				wait.Stop()
			}
			c.mu.Lock()
			if len(c.queue) == 0 { // taken back meanwhile
				break
			}
		}
		n := min(len(c.queue), maxBatch)
		batch := slices.Clone(c.queue[:n])
		c.queue = slices.Delete(c.queue, 0, n)
		c.mu.Unlock()
		c.send(batch)
		c.mu.Lock()
	}
	c.flushing--
	c.mu.Unlock()
}

// send writes a batch and hands each write its outcome.
func (c *committer) send(batch []*commit) {
	ws := make([]LeaseWrite, len(batch))
	for i, cm := range batch {
		ws[i] = cm.w
	}
	// Not a caller's context: the batch is everyone's, and a write that is
	// on its way finishes (see write).
	ctx, cancel := context.WithTimeout(context.Background(), c.ttl)
	defer cancel()
	errs, err := c.b.WriteBatch(ctx, ws)
	for i, cm := range batch {
		cm.err = err
		if err == nil {
			cm.err = errs[i] // ErrForeignLease: write makes it itself
		}
		if cm.then != nil {
			cm.then(cm.err)
		}
		close(cm.done)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
