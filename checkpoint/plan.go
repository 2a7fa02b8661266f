package checkpoint

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Reason says why [Tracker.Plan] planned an item.
type Reason string

// The reasons of a plan.
const (
	ReasonNew         Reason = "never tried"     // the store has no record of it
	ReasonUnfinished  Reason = "unfinished"      // Running or Pending: tried, not finished
	ReasonRetryFailed Reason = "failed, retried" // given up before; planned again with a fresh budget (RetryFailed)
	ReasonFileMissing Reason = "file missing"    // Done, but its file is gone
	ReasonFileChanged Reason = "file changed"    // Done, but its file is not as recorded (or Verify rejected it)
)

// Plan is what a run does, from [Tracker.Plan]. Every key given to Plan is
// in exactly one of Todo, Done and GivenUp.
type Plan struct {
	Todo    []Todo   // the items to work on, in the order given
	Done    []string // items finished and intact (adopted ones too), in the order given
	Adopted []string // items of Done whose file Adopt found and Plan recorded
	GivenUp []Record // Failed records left as they are (without RetryFailed)
}

// Todo is an item of a [Plan] to work on.
type Todo struct {
	Key    string // the item's key
	Reason Reason // why it is planned
	// Record is the key's record as it stands after Plan (a Done record
	// whose file failed Verify is Pending now, its Err saying why); its
	// Key is empty if there is none.
	Record Record
}

// Keys returns the keys of p.Todo, in order: what [Tracker.Feed] takes.
func (p Plan) Keys() []string {
	keys := make([]string, len(p.Todo))
	for i, td := range p.Todo {
		keys[i] = td.Key
	}
	return keys
}

// planWorkers is how many files Plan checks at once: checks are mostly
// waiting for the disk.
const planWorkers = 8

// Plan decides what a run does with keys, the job's items in the order to
// work on them. It reads the store once (All) and sorts each key:
//
//   - Done, and its file passes Verify: done, skipped.
//   - Done, but its file fails Verify: to fetch again (file missing or
//     changed). Plan writes it as Pending with no attempts, its Err saying
//     why, so that a shared store lets it be claimed.
//   - Failed: given up, left as it is — unless RetryFailed, which plans it
//     again with a fresh budget (its attempts and crashes reset at its claim).
//   - Running or Pending: unfinished, planned, with its attempts so far.
//     A Running record was left by a run that died during an attempt:
//     at its claim, Adopt (if set) may find its file saved and record it
//     Done; otherwise the death counts as a crash of the item.
//   - No record: Adopt, if set, may find its file and return its Done
//     record, which Plan stores (done, adopted); otherwise it is planned.
//
// Verify and Adopt run on several keys at once. Plan returns an error for a
// key given twice or an invalid key (wrapping [ErrInvalid]), and when the
// store fails; then it may have written some of its records.
func (t *Tracker) Plan(ctx context.Context, keys []string) (Plan, error) {
	index := make(map[string]int, len(keys))
	for i, k := range keys {
		if err := check(Record{Key: k, State: Done}); err != nil {
			return Plan{}, fmt.Errorf("checkpoint: plan: %w", err)
		}
		if _, dup := index[k]; dup {
			return Plan{}, fmt.Errorf("checkpoint: plan: key %.80q is given twice", k)
		}
		index[k] = i
	}
	var (
		recs records
		done int
	)
	for r, err := range t.store.All(ctx) {
		if err != nil {
			return Plan{}, fmt.Errorf("checkpoint: plan: read the records: %w", err)
		}
		if i, ok := index[r.Key]; ok {
			if recs == nil {
				recs = make(records, len(keys))
			}
			recs[i] = r
			if r.State == Done {
				done++
			}
		}
	}
	checked, err := t.checkFiles(ctx, keys, recs)
	if err != nil {
		return Plan{}, err
	}
	for _, c := range checked {
		if c.err != nil && !errors.Is(c.err, ErrFileMissing) && !errors.Is(c.err, ErrFileChanged) {
			return Plan{}, fmt.Errorf("checkpoint: plan: the file of %.80q could not be checked (no record changed): %w", keys[c.i], c.err)
		}
	}

	var (
		p     = Plan{Todo: make([]Todo, 0, len(keys)-done)}
		puts  []Record
		fresh = map[string]time.Time{}
		now   = t.opts.Now()
	)
	for i, k := range keys {
		r := recs.at(i)
		found := r.Key != ""
		var c fileCheck
		if len(checked) > 0 && checked[0].i == i {
			c, checked = checked[0], checked[1:]
		}
		switch {
		case !found && c.adopted:
			a := c.rec
			a.Key, a.State, a.Owner = k, Done, cmp.Or(a.Owner, t.opts.Owner)
			if a.Meta == nil && t.opts.Meta != nil {
				a.Meta = t.opts.Meta(k)
			}
			if a.Updated.IsZero() {
				a.Updated = now
			}
			puts = append(puts, a)
			p.Done, p.Adopted = append(p.Done, k), append(p.Adopted, k)
			t.log.Info("checkpoint: adopted an item saved by a run that died before recording it", "key", k, "path", a.Path)
		case !found:
			p.Todo = append(p.Todo, Todo{Key: k, Reason: ReasonNew})
		case r.State == Done && c.err == nil:
			p.Done = append(p.Done, k)
		case r.State == Done:
			reason := ReasonFileChanged
			if errors.Is(c.err, ErrFileMissing) {
				reason = ReasonFileMissing
			}
			pr := Record{Key: k, State: Pending, Err: c.err.Error(), Owner: t.opts.Owner, Meta: r.Meta, Updated: now}
			puts = append(puts, pr)
			p.Todo = append(p.Todo, Todo{Key: k, Reason: reason, Record: pr})
			t.log.Info("checkpoint: fetching an item again: its file is not intact", "key", k, "err", c.err)
		case r.State == Failed && t.opts.RetryFailed:
			p.Todo = append(p.Todo, Todo{Key: k, Reason: ReasonRetryFailed, Record: r})
			fresh[k] = r.Updated
		case r.State == Failed:
			p.GivenUp = append(p.GivenUp, r)
		default:
			p.Todo = append(p.Todo, Todo{Key: k, Reason: ReasonUnfinished, Record: r})
		}
	}
	if puts, err = t.unchanged(ctx, puts, recs, index); err != nil {
		return Plan{}, fmt.Errorf("checkpoint: plan: %w", err)
	}
	if err := t.putAll(ctx, puts); err != nil {
		return Plan{}, fmt.Errorf("checkpoint: plan: %w", err)
	}
	t.mu.Lock()
	if t.fresh == nil {
		t.fresh = map[string]time.Time{}
	}
	for k, r := range fresh {
		t.fresh[k] = r
	}
	t.mu.Unlock()
	return p, nil
}

// records are the records Plan found, by the keys' index; nil while it
// found none: a first run of a long list allocates nothing per key but its
// Todo (a fleet's every process plans the whole list before its first claim).
type records []Record

// at returns the record of the key of index i; its Key is "" if none.
func (rs records) at(i int) Record {
	if rs == nil {
		return Record{}
	}
	return rs[i]
}

// fileCheck is what Verify or Adopt said of the key of index i.
type fileCheck struct {
	i       int
	err     error  // Verify's, for a Done record
	rec     Record // Adopt's, for a key without a record
	adopted bool
}

// checkFiles runs Verify on the Done records and Adopt on the keys without
// one, planWorkers at a time. It returns what they said, in the keys'
// order.
func (t *Tracker) checkFiles(ctx context.Context, keys []string, recs records) ([]fileCheck, error) {
	if recs == nil && t.opts.Adopt == nil {
		return nil, ctx.Err() // nothing to check: a first run without Adopt
	}
	check := func(i int) bool {
		r := recs.at(i)
		return r.State == Done || r.Key == "" && t.opts.Adopt != nil
	}
	n := 0
	for i := range keys {
		if check(i) {
			n++
		}
	}
	out := make([]fileCheck, 0, n)
	for i := range keys {
		if check(i) {
			out = append(out, fileCheck{i: i})
		}
	}
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range min(planWorkers, len(out)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				n := int(next.Add(1)) - 1
				if n >= len(out) {
					return
				}
				c := &out[n]
				if r := recs.at(c.i); r.Key != "" {
					c.err = t.opts.Verify(r)
				} else {
					c.rec, c.adopted = t.opts.Adopt(ctx, keys[c.i])
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// putBatch is how many records putAll writes at once.
const putBatch = 1000

// unchanged keeps the puts whose key's record is still the one Plan read
// (none: Key ""). Checking every file takes a while, and another
// process may have fetched and recorded a key meanwhile: its fresh Done
// must not be overwritten with a Pending (and fetched again), nor an
// adopted file's record put over its own. A key skipped here stays in the
// plan; its claim finds it finished.
func (t *Tracker) unchanged(ctx context.Context, puts []Record, recs records, index map[string]int) ([]Record, error) {
	kept := puts[:0]
	for _, p := range puts {
		cur, err := t.store.Get(ctx, p.Key)
		if errors.Is(err, ErrNotFound) {
			cur, err = Record{}, nil
		}
		if err != nil {
			return nil, err
		}
		if was := recs.at(index[p.Key]); cur.Key != was.Key || cur.State != was.State || !cur.Updated.Equal(was.Updated) {
			t.log.Info("checkpoint: plan: another process recorded this item meanwhile; its record stays", "key", p.Key, "state", cur.State)
			continue
		}
		kept = append(kept, p)
	}
	return kept, nil
}

// putAll stores recs, in batches if the store is a [Batcher].
func (t *Tracker) putAll(ctx context.Context, recs []Record) error {
	b, ok := t.store.(Batcher)
	for len(recs) > 0 {
		n := min(len(recs), putBatch)
		var err error
		if ok {
			err = b.PutBatch(ctx, recs[:n])
		} else {
			for _, r := range recs[:n] {
				if err = t.store.Put(ctx, r); err != nil {
					break
				}
			}
		}
		if err != nil {
			return err
		}
		recs = recs[n:]
	}
	return nil
}
