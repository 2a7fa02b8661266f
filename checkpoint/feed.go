package checkpoint

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"time"
)

// claimWindow is how many keys Feed offers a claim at most: offering all
// of a long todo list each time would cost the store a scan of the list.
const claimWindow = 1024

// minWindow is how many keys Feed offers a claim at least. Between the two
// the window follows what claims pass over: it doubles after a claim that
// came back short, and halves after one that used less than a quarter of
// it. Every key offered costs both sides: the client checks and encodes
// it, the server decodes it. But a window that reaches keys never offered
// before reaches claimWindow keys ahead: a store prepares the keys it is
// offered (PostgreSQL adds their rows), and does that better for many at a
// time than for a few at every claim.
const minWindow = 64

// pruneAt is how many parked keys — passed over because other owners held
// them — Feed lets gather, on a store that is a [Surveyor], before it asks
// the store which of them are finished. Owners that share a store and
// walk the same todo list pass over most of each other's keys.
const pruneAt = 2 * claimWindow

// surveyChunk is how many keys Feed asks a Surveyor about at once; up to
// maxSurvey when it skips a long stretch other owners finished.
const (
	surveyChunk = 10_000
	maxSurvey   = 8 * surveyChunk
)

// Feed claims the keys of todo, in order (from a place of its own with
// [TrackerOptions].Spread), and calls submit for each claim, from Feed's
// goroutine, until every key is finished — by this tracker, by other
// owners, or given up — and then returns nil. It holds at most Hold
// keys at once, and claims more in batches: when a quarter of Hold or more
// has ended (Done, Fail, Stop), or when it holds none — one claim for many
// keys, not one per key. Set Hold to two to four times the workers — more
// when the store is slow to answer — so that the workers have keys to work
// on while Feed claims and their outcomes are written.
//
// At each claim it looks at the record the claim found:
//
//   - Running: the process of that attempt died (or stalled past its
//     lease). If Adopt finds its file saved, Feed records it Done.
//     Otherwise it counts a crash in the record; at MaxCrashes crashes it
//     gives the item up as a poison pill: a Failed record whose error wraps
//     [ErrPoison].
//   - Failed: given up meanwhile by another owner; Feed leaves it, unless
//     Plan planned it with RetryFailed and the record is the one Plan saw:
//     then it gets a fresh budget (Claim.Attempts 0, crashes 0).
//   - Attempts of MaxAttempts or more: the budget is used up; Feed gives
//     the item up (Failed, [ErrGivenUp]).
//
// An item Feed finishes at its claim (adopted or given up) is passed to
// submit with Claim.Finished set, not to be worked on: the caller can
// account for every item of todo that it does not hear of otherwise.
//
// When submit returns an error, Feed ends that claim (as Stop would; a
// finished item has none) and
// those it has not submitted, and returns the error: submit must not have
// started the work then.
//
// The keys it passes over because other owners hold them it asks the store
// about later, and drops those the others finished: when it can claim
// nothing else — it then waits for a held key to end or for a poll (see
// [TrackerOptions].PollInterval) — and, on a store that is a [Surveyor],
// whenever many have gathered. A Surveyor answers for just those keys, in
// one round trip; another store is read whole (All). A store failure Feed
// rides out, retrying every PollInterval, for up to LeaseTTL; after that
// it returns the error.
//
// When ctx ends Feed returns ctx.Err(); the keys it holds stay held until
// their Done, Fail or Stop, or Close. A Feed may not overlap another on the
// same tracker.
func (t *Tracker) Feed(ctx context.Context, todo []string, submit func(Claim) error) error {
	in := make(chan []string, 1)
	in <- todo
	close(in)
	return t.FeedFrom(ctx, in, submit)
}

// FeedFrom is [Tracker.Feed] for keys that arrive over time, a batch at a
// time on todo — the pages of a listing, say — so that the work starts
// with the first batch, not after the last. It claims each batch's keys
// after those of the batches before, and returns once todo is closed and
// every key is finished. A key given twice, in one batch or two, ends it
// with an error. With Spread, each batch starts at a place of its own.
// Once FeedFrom returns it reads todo no more: a sender should also watch
// ctx, or whatever stops the work, so as not to wait for it forever.
func (t *Tracker) FeedFrom(ctx context.Context, todo <-chan []string, submit func(Claim) error) error {
	t.mu.Lock()
	switch {
	case t.closed:
		t.mu.Unlock()
		return ErrClosed
	case t.feeding:
		t.mu.Unlock()
		return errors.New("checkpoint: Feed: another Feed of this tracker is running")
	}
	t.feeding = true
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.feeding = false
		t.mu.Unlock()
	}()
	f := &feed{t: t, submit: submit, in: todo, order: map[string]int{}, parked: map[string]struct{}{}, mine: map[string]*item{},
		batch: max(1, t.opts.Hold/4), pruneAt: pruneAt, window: minWindow, reach: -1, survey: -1, chunk: surveyChunk,
		pollIn: t.opts.PollInterval / pollSoon}
	return f.run(ctx)
}

// add queues keys, a batch of FeedFrom's, after the keys given before.
func (f *feed) add(keys []string) error {
	if f.t.opts.Spread && len(keys) > 0 {
		keys = spread(keys, f.t.opts.Owner)
	}
	if len(f.order) == 0 {
		f.order = make(map[string]int, len(keys)) // a long list's map built once, not grown
	}
	for _, k := range keys {
		if _, dup := f.order[k]; dup {
			return fmt.Errorf("checkpoint: Feed: key %.80q is given twice", k)
		}
		f.order[k] = len(f.order)
	}
	f.queue = append(f.queue, keys...)
	return nil
}

// spread returns keys rotated to start at a place of owner's: a hash of it.
func spread(keys []string, owner string) []string {
	h := fnv.New64a()
	h.Write([]byte(owner))
	i := int(h.Sum64() % uint64(len(keys)))
	return slices.Concat(keys[i:], keys[:i])
}

// feed is the state of one Feed call.
type feed struct {
	t      *Tracker
	submit func(Claim) error
	in     <-chan []string     // FeedFrom's todo; nil once closed
	order  map[string]int      // key → its place in Feed's order: todo's, rotated if Spread
	queue  []string            // keys to offer, in Feed's order
	parked map[string]struct{} // offered, not claimable: finished or held by other owners
	mine   map[string]*item    // claimed here, until they end

	batch   int           // claim when at least this many keys are free to hold
	window  int           // keys to offer a claim: minWindow to claimWindow
	reach   int           // the furthest place in order offered so far
	survey  int           // the furthest place in order skip asked about
	chunk   int           // how many keys the next skip asks about
	pruneAt int           // prune the parked keys when this many gathered
	failing time.Time     // when the store started failing, zero if it works
	pollIn  time.Duration // the next poll's wait: see pollSoon
}

// pollSoon is the first wait of a poll, as a fraction of PollInterval.
// Other owners finishing the last keys — no more than this tracker may
// hold — is the sign of the job's end: polling from a sixteenth of the
// interval while polls find such keys finished, and doubling the wait
// while they find none, ends a Feed soon after the last key, at the cost
// of a few more polls at the very end. Before that, while a fleet works
// through its last thousands of keys, the wait doubles back to
// PollInterval: many idle processes polling fast would load the store.
const pollSoon = 16

func (f *feed) run(ctx context.Context) error {
	var poll *time.Timer
	defer func() {
		if poll != nil {
			poll.Stop()
		}
	}()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		f.reap()
		if err := f.claim(ctx); err != nil {
			return err
		}
		f.reap() // submit may have finished keys already
		if f.t.surveyor != nil && len(f.parked) >= f.pruneAt {
			if err := f.prune(ctx); err != nil {
				return err
			}
			// The keys left are held by others: ask again once as many
			// more have gathered.
			f.pruneAt = max(pruneAt, 2*len(f.parked))
		}
		if f.in == nil && len(f.queue) == 0 && len(f.parked) == 0 && len(f.mine) == 0 {
			return nil
		}
		// Poll when the store failed, or when all that is left to claim is
		// held by others and there is room to claim it.
		var pollC <-chan time.Time
		if !f.failing.IsZero() || len(f.queue) == 0 && len(f.parked) > 0 && f.t.free() > 0 {
			if poll == nil {
				wait := f.t.opts.PollInterval
				if f.failing.IsZero() {
					wait = f.pollIn
				}
				poll = time.NewTimer(wait)
			}
			pollC = poll.C
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-f.t.wake:
		case keys, ok := <-f.in:
			if !ok {
				f.in = nil
			} else if err := f.add(keys); err != nil {
				return err
			}
		case <-pollC:
			poll = nil
			left := len(f.queue) + len(f.parked)
			if err := f.check(ctx); err != nil {
				return err
			}
			if now := len(f.queue) + len(f.parked); now < left && now <= f.t.opts.Hold {
				f.pollIn = f.t.opts.PollInterval / pollSoon
			} else {
				f.pollIn = min(2*f.pollIn, f.t.opts.PollInterval)
			}
		}
	}
}

// reap drops the keys of mine that ended; a stopped one is offered again.
// A lost one is not: the pool it was submitted to may still run it, and
// takes no key twice; the owner that took it over finishes it.
func (f *feed) reap() {
	var again []string
	for k, it := range f.mine {
		switch end(it.ended.Load()) {
		case 0:
			continue
		case endStopped:
			again = append(again, k)
		}
		delete(f.mine, k)
	}
	f.requeue(again)
}

// requeue puts keys back in the queue, in Feed's order.
func (f *feed) requeue(keys []string) {
	if len(keys) == 0 {
		return
	}
	f.queue = append(f.queue, keys...)
	slices.SortFunc(f.queue, func(a, b string) int { return f.order[a] - f.order[b] })
}

// claim claims as many keys as the tracker may hold more, from the queue,
// a window at a time, and takes each claim. It claims only when a batch's
// worth of keys is free to hold, or none is held: one round trip for many
// keys, and another only if the window had too few free ones.
func (f *feed) claim(ctx context.Context) error {
	need := f.t.free()
	if need < f.batch && need < f.t.opts.Hold {
		return nil
	}
	for len(f.queue) > 0 && need > 0 {
		surveyed := f.surveyed()
		if f.t.surveyor != nil && f.chunk > surveyChunk && surveyed == 0 {
			// In a long stretch others finished: ask about the keys ahead
			// before claiming through them.
			if err := f.skip(ctx); err != nil || !f.failing.IsZero() {
				return err
			}
			continue
		}
		n := min(len(f.queue), max(f.window, need))
		long := f.order[f.queue[n-1]] > f.reach
		if long {
			n = min(len(f.queue), claimWindow)
		}
		if surveyed > 0 {
			// Keys a survey found open are followed by ones it has not
			// asked about, likely finished too: a claim would pass over
			// them and park them, to be asked about again; the next skip
			// drops them in one read.
			n = min(n, surveyed)
		}
		window := f.queue[:n]
		f.reach = max(f.reach, f.order[window[n-1]])
		ls, err := f.t.leaser.ClaimBatch(ctx, window, f.t.opts.Owner, need, f.t.opts.LeaseTTL)
		if err != nil {
			return f.storeFailed(ctx, fmt.Errorf("checkpoint: Feed: claim: %w", err))
		}
		f.failing = time.Time{}
		// The claim looked at every key of the window if it came back
		// short, else at those up to its last lease: the ones it passed
		// over are finished or held by others.
		seen := len(window)
		if len(ls) == need {
			seen = slices.Index(window, ls[len(ls)-1].Key()) + 1
		}
		switch {
		case len(ls) < need:
			f.window = min(claimWindow, 2*f.window)
		case 4*seen < len(window) && !long:
			f.window = max(minWindow, f.window/2)
		}
		got := make(map[string]bool, len(ls))
		for _, l := range ls {
			got[l.Key()] = true
		}
		for _, k := range window[:seen] {
			if !got[k] {
				f.parked[k] = struct{}{}
			}
		}
		f.queue = f.queue[seen:]
		if len(ls) == 0 && f.t.surveyor != nil {
			// Nothing free in the window: this is likely a stretch others
			// worked through (with Spread, at the end of a job, most of
			// the list). Ask about the keys ahead in one round trip,
			// rather than claim through them a window at a time.
			if err := f.skip(ctx); err != nil {
				return err
			}
		}
		for i, l := range ls {
			if err := f.take(ctx, l); err != nil {
				f.abandon(ctx, ls[i+1:])
				return err
			}
		}
		// Not need - len(ls): take gives some claims up at once (Failed
		// elsewhere, attempts used up), and submit may end some. After a
		// full claim, though, a few keys ended meanwhile are no reason to
		// claim them alone.
		short := len(ls) < need
		need = f.t.free()
		if !short && need < f.batch && need < f.t.opts.Hold {
			return nil
		}
	}
	return nil
}

// abandon ends claims Feed will not submit.
func (f *feed) abandon(ctx context.Context, ls []Lease) {
	for _, l := range ls {
		if err := l.Abandon(context.WithoutCancel(ctx)); err != nil && !errors.Is(err, ErrLeaseLost) {
			f.t.log.Warn("checkpoint: abandoning a claim failed; it runs out after its TTL", "key", l.Key(), "err", err)
		}
	}
}

// adopt asks Adopt whether the run that left rec Running saved its file
// before it died, and if so records the key Done through l: a file
// saved is not downloaded again, nor the death blamed on the key. It
// reports whether the key is finished, and returns the Done record if it
// was finished here (not by the owner of a lease it lost).
func (f *feed) adopt(ctx context.Context, l Lease, rec Record) (*Record, bool) {
	t := f.t
	a, ok := t.opts.Adopt(ctx, l.Key())
	if !ok {
		return nil, false
	}
	a.Key, a.State, a.Owner, a.Attempts, a.Crashes, a.Started = l.Key(), Done, t.opts.Owner, rec.Attempts, rec.Crashes, rec.Started
	if a.Meta == nil {
		a.Meta = rec.Meta
	}
	if a.Meta == nil && t.opts.Meta != nil {
		a.Meta = t.opts.Meta(a.Key)
	}
	a.Updated = t.opts.Now()
	switch err := l.Release(ctx, a); {
	case errors.Is(err, ErrLeaseLost):
		t.count(func(s *TrackerStats) { s.Lost++ })
		return nil, true
	case err != nil:
		t.log.Warn("checkpoint: could not record an adopted item; fetching it again", "key", a.Key, "err", err)
		return nil, false
	}
	t.count(func(s *TrackerStats) { s.Done++ })
	t.log.Info("checkpoint: adopted an item saved by a run that died before recording it", "key", a.Key, "path", a.Path)
	return &a, true
}

// take looks at the record a claim found, gives the item up or counts a
// crash if need be, and submits the claim.
func (f *feed) take(ctx context.Context, l Lease) error {
	t := f.t
	if err := ctx.Err(); err != nil {
		f.abandon(ctx, []Lease{l})
		return err
	}
	rec, found := l.Record()
	it := &item{key: l.Key(), lease: l}
	var tookOver bool
	if tl, ok := l.(TakeoverLease); ok {
		var known bool
		tookOver, known = tl.TookOver()
		it.quick = known && t.opts.QuickStart
	}
	if found {
		it.attempts, it.crashes, it.first, it.lastErr, it.meta = rec.Attempts, rec.Crashes, rec.Started, rec.Err, rec.Meta
	} else {
		rec = Record{}
	}
	wctx := context.WithoutCancel(ctx) // a claim's writes finish, or the record would lie
	if found && rec.State == Running && t.opts.Adopt != nil {
		if adopted, finished := f.adopt(wctx, l, rec); adopted != nil {
			return f.submit(Claim{Key: it.key, Attempts: rec.Attempts, Crashes: rec.Crashes, Record: rec, Finished: adopted})
		} else if finished {
			return nil
		}
	}
	crashed := false
	switch {
	case found && rec.State == Failed:
		if !t.takeFresh(rec) {
			f.abandon(ctx, []Lease{l})
			t.count(func(s *TrackerStats) { s.Elsewhere++ })
			return nil
		}
		it.attempts, it.crashes, it.first = 0, 0, time.Time{}
	case found && rec.State == Running:
		crashed = true
		it.crashes++
		it.lastErr = fmt.Sprintf("the process died during attempt %d", rec.Attempts)
		if rec.Owner != "" {
			it.lastErr += fmt.Sprintf(" (owner %.80s)", rec.Owner)
		}
		t.count(func(s *TrackerStats) { s.Crashes++ })
		t.log.Warn("checkpoint: a run died during an attempt at this key", "key", it.key, "attempt", rec.Attempts,
			"owner", rec.Owner, "crashes", it.crashes, "max_crashes", t.opts.MaxCrashes)
	}
	var gaveUp Record
	var why error
	switch {
	case it.crashes >= t.opts.MaxCrashes:
		why = fmt.Errorf("%w: the process died during %d attempts at this item", ErrPoison, it.crashes)
	case it.attempts >= t.opts.MaxAttempts:
		why = fmt.Errorf("%w: %d attempt(s); the last: %s", ErrGivenUp, it.attempts, cmp.Or(it.lastErr, "no error recorded"))
	}
	if why != nil {
		gaveUp = t.record(it, Failed, it.attempts)
		gaveUp.Err = why.Error()
	}
	if gaveUp.Key != "" {
		err := l.Release(wctx, gaveUp)
		switch {
		case errors.Is(err, ErrLeaseLost):
			t.count(func(s *TrackerStats) { s.Lost++ })
			return nil
		case err != nil:
			return fmt.Errorf("checkpoint: Feed: give %.80q up: %w", it.key, err)
		}
		poison := it.crashes >= t.opts.MaxCrashes
		t.count(func(s *TrackerStats) {
			if poison {
				s.Poisoned++
			} else {
				s.Failed++
			}
		})
		t.log.Warn("checkpoint: gave an item up", "key", it.key, "attempts", it.attempts, "crashes", it.crashes, "err", gaveUp.Err)
		return f.submit(Claim{Key: it.key, Attempts: it.attempts, Crashes: it.crashes, Record: rec, Finished: &gaveUp, GaveUp: why})
	}
	if crashed {
		err := l.Put(wctx, t.record(it, Pending, it.attempts))
		switch {
		case errors.Is(err, ErrLeaseLost):
			t.count(func(s *TrackerStats) { s.Lost++ })
			return nil
		case err != nil:
			f.abandon(ctx, []Lease{l})
			return fmt.Errorf("checkpoint: Feed: count a crash of %.80q: %w", it.key, err)
		}
	}
	if err := t.hold(it); err != nil {
		f.abandon(ctx, []Lease{l})
		return err
	}
	f.mine[it.key] = it
	t.count(func(s *TrackerStats) { s.Claimed++ })
	suspect := tookOver && !crashed // a Start's record may not have been stored: see Tracker.Start
	if err := f.submit(Claim{Key: it.key, Attempts: it.attempts, Crashes: it.crashes, Record: rec, Suspect: suspect}); err != nil {
		it.mu.Lock()
		attempts := it.attempts
		if it.running {
			attempts--
		}
		if serr := t.stop(wctx, it, attempts); serr != nil && !errors.Is(serr, ErrLeaseLost) {
			err = errors.Join(err, serr)
		}
		it.mu.Unlock()
		delete(f.mine, it.key)
		return err
	}
	return nil
}

// takeFresh reports whether a Failed record a claim found is the one Plan
// planned again with RetryFailed, and forgets it: its fresh budget is
// given once.
func (t *Tracker) takeFresh(r Record) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	updated, ok := t.fresh[r.Key]
	delete(t.fresh, r.Key)
	return ok && updated.Equal(r.Updated)
}

func (t *Tracker) count(fn func(s *TrackerStats)) {
	t.mu.Lock()
	fn(&t.stats)
	t.mu.Unlock()
}

// skip drops the keys near the head of the queue that other owners
// finished, asking a Surveyor about a chunk of them (surveyChunk keys, up
// to maxSurvey in a long finished stretch): the first ones it has not
// asked about. Those it asked about and found open (held by others) stay
// in the queue, and are not asked about again here when the claims
// through them come back empty.
func (f *feed) skip(ctx context.Context) error {
	from := f.surveyed()
	ahead := f.queue[from:min(len(f.queue), from+f.chunk)]
	if len(ahead) == 0 {
		return nil
	}
	open, err := f.open(ctx, ahead)
	if err != nil {
		return f.storeFailed(ctx, err)
	}
	f.failing = time.Time{}
	f.survey = f.order[ahead[len(ahead)-1]]
	n := from // the open keys of ahead move up, in place
	for _, k := range ahead {
		if open[k] {
			f.queue[n] = k
			n++
		}
	}
	finished := from + len(ahead) - n
	// A stretch others finished nearly whole is likely followed by more of
	// it (with Spread, at the job's end, most of the list): the next survey
	// asks about twice as many keys, in one round trip.
	if open := n - from; open*100 <= len(ahead) {
		f.chunk = min(2*f.chunk, maxSurvey)
	} else {
		f.chunk = surveyChunk
	}
	f.queue = append(f.queue[:n], f.queue[from+len(ahead):]...)
	f.t.count(func(s *TrackerStats) { s.Elsewhere += finished })
	return nil
}

// surveyed returns how many keys at the head of the queue skip asked
// about (and found open).
func (f *feed) surveyed() int {
	// The queue is in Feed's order.
	n, _ := slices.BinarySearchFunc(f.queue, f.survey+1, func(k string, place int) int { return f.order[k] - place })
	return n
}

// check drops the parked keys other owners finished; the others go back in
// the queue, to be offered again (their leases may have run out).
func (f *feed) check(ctx context.Context) error {
	if len(f.parked) == 0 {
		return nil
	}
	if err := f.prune(ctx); err != nil || !f.failing.IsZero() {
		return err
	}
	again := make([]string, 0, len(f.parked))
	for k := range f.parked {
		again = append(again, k)
	}
	clear(f.parked)
	f.requeue(again)
	return nil
}

// prune asks the store about the parked keys — a Surveyor about just them,
// another store by reading it whole — and drops those other owners
// finished: Done, or Failed (unless Plan planned that record again).
func (f *feed) prune(ctx context.Context) error {
	finished := 0
	defer func() { f.t.count(func(s *TrackerStats) { s.Elsewhere += finished }) }()
	if f.t.surveyor == nil {
		for r, err := range f.t.store.All(ctx) {
			if err != nil {
				return f.storeFailed(ctx, fmt.Errorf("checkpoint: Feed: read the records: %w", err))
			}
			if _, ok := f.parked[r.Key]; ok && f.finished(r) {
				delete(f.parked, r.Key)
				finished++
			}
		}
		f.failing = time.Time{}
		return nil
	}
	keys := slices.Collect(maps.Keys(f.parked))
	slices.SortFunc(keys, func(a, b string) int { return f.order[a] - f.order[b] })
	for chunk := range slices.Chunk(keys, surveyChunk) {
		open, err := f.open(ctx, chunk)
		if err != nil {
			return f.storeFailed(ctx, err)
		}
		for _, k := range chunk {
			if !open[k] {
				delete(f.parked, k)
				finished++
			}
		}
	}
	f.failing = time.Time{}
	return nil
}

// open asks the Surveyor which of keys are not finished (see finished).
func (f *feed) open(ctx context.Context, keys []string) (map[string]bool, error) {
	left, err := f.t.surveyor.Left(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: Feed: ask what is left: %w", err)
	}
	open := make(map[string]bool, len(left))
	for _, r := range left {
		open[r.Key] = !f.finished(r)
	}
	return open, nil
}

// finished reports whether r, a record Feed found, finishes its key here.
func (f *feed) finished(r Record) bool {
	return r.State == Done || r.State == Failed && !f.t.isFresh(r)
}

// isFresh reports whether r is a Failed record Plan planned again.
func (t *Tracker) isFresh(r Record) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	updated, ok := t.fresh[r.Key]
	return ok && updated.Equal(r.Updated)
}

// storeFailed decides what a failed claim or read means for Feed: the end
// of ctx, a store that is closed or refuses the keys, or a store failing
// for longer than LeaseTTL end it; a shorter failure is logged and ridden
// out (Feed polls again).
func (f *feed) storeFailed(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, ErrClosed) || errors.Is(err, ErrInvalid):
		return err
	case f.failing.IsZero():
		f.failing = time.Now()
	case time.Since(f.failing) > f.t.opts.LeaseTTL:
		return fmt.Errorf("%w (failing for %v, longer than the lease TTL)", err, time.Since(f.failing).Round(time.Millisecond))
	}
	f.t.log.Warn("checkpoint: the store failed; trying again", "err", err, "every", f.t.opts.PollInterval)
	return nil
}
