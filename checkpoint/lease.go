package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"
)

// Sentinel errors of leases. Test with errors.Is.
var (
	// ErrLeased is returned by [Leaser.Claim] for a key another claim holds
	// a live lease on. The message names its owner and when it expires.
	ErrLeased = errors.New("checkpoint: leased")
	// ErrDone is returned by [Leaser.Claim] for a key whose record is Done:
	// there is nothing left to do for it.
	ErrDone = errors.New("checkpoint: already done")
	// ErrLeaseLost is returned by the methods of a [Lease] that no longer
	// holds its key: another owner claimed the key after the lease expired,
	// or the lease was released or abandoned already. Nothing was stored.
	// The message names the owner of the claim that took the key over.
	ErrLeaseLost = errors.New("checkpoint: lease lost")
	// ErrForeignLease is the error of a [LeaseBatcher] for a lease it did
	// not hand out — one of another store, or one a wrapper of the store
	// made. [Tracker] then writes through each lease's own methods.
	ErrForeignLease = errors.New("checkpoint: a lease of another store")
)

// Leaser is implemented by stores that hand out work to several workers or
// processes that share them, without a coordinator: each worker offers the
// same keys, and each key goes to one of them at a time. Check for it with a
// type assertion:
//
//	l, ok := store.(checkpoint.Leaser)
//
// A lease lasts for a TTL that its holder extends with [Lease.Renew] while
// it works, and it ends with [Lease.Release], which stores the outcome.
// A lease whose holder died — killed, or cut off from the store — runs out,
// and then its key can be claimed again. A lease that has run out still
// holds its key until another claim takes it: until then its Renew and
// Release succeed, after that they fail with [ErrLeaseLost] and store
// nothing, so a slow worker can't overwrite the outcome of the one that took
// its key over.
//
// Keys whose record is [Done] are never claimed. Keys with a Running,
// Pending or Failed record, or none, can be; the lease carries that record,
// so its holder sees the attempts made so far and can give up after
// MaxAttempts — and a Running record it finds is an attempt whose process
// died (or stalled past its lease).
//
// Owners are names for people (such as "host/pid/worker"): they appear in
// records and error messages. A lease is one claim, not one owner: a second
// claim by the same owner of a key it holds fails with ErrLeased like
// anyone else's.
//
// Expiry goes by the store's clock: the process's for [Memory] and [File],
// the database server's for a shared store.
type Leaser interface {
	// Claim leases key to owner for ttl. It returns an error wrapping
	// ErrLeased if another lease of key is live, ErrDone if its record is
	// Done, or ErrInvalid for an invalid key.
	Claim(ctx context.Context, key, owner string, ttl time.Duration) (Lease, error)
	// ClaimBatch leases to owner, for ttl, up to n of keys that are neither
	// Done nor leased, taking them in the order of keys, and returns their
	// leases in that order. It returns fewer — none, with a nil error, if
	// there is nothing to claim — when fewer are free. It is one round trip
	// for a shared store: many concurrent callers offering the same keys
	// get disjoint ones, without waiting for each other.
	ClaimBatch(ctx context.Context, keys []string, owner string, n int, ttl time.Duration) ([]Lease, error)
}

// TakeoverLease is a [Lease] that knows whether its claim took the key from
// a lease that ran out — its holder died, or stalled past its TTL — rather
// than finding it free (new, released or abandoned). [Tracker.Start] counts
// on it; checkpoint/postgres's batch claims give such leases. Check for it
// with a type assertion.
type TakeoverLease interface {
	Lease
	// TookOver reports whether the claim took the key from a lease that
	// ran out (taken), and whether the lease knows it (known).
	TookOver() (taken, known bool)
}

// LeaseBatcher is implemented by Leasers that renew and write many leases
// together faster than one by one: in one statement and one transaction for
// a shared store, with one fsync for [File]. [Tracker] renews its leases and
// writes its records through it when the store has it. Check for it with a
// type assertion.
//
// The leases must be the store's own, from its Claim or ClaimBatch; others
// — another store's, or a wrapper's — get an error wrapping
// [ErrForeignLease], and nothing is done with them.
type LeaseBatcher interface {
	Leaser
	// RenewBatch extends each lease of ls to ttl from now, as Renew each
	// would. It returns one error per lease, in the order of ls: nil, or
	// one wrapping ErrLeaseLost for a lease that no longer holds its key.
	// When the call fails as a whole — a canceled ctx, a closed store, a
	// database error — it returns that error and no others, and renewed
	// none.
	RenewBatch(ctx context.Context, ls []Lease, ttl time.Duration) ([]error, error)
	// WriteBatch stores the record of each write through its lease, as Put
	// or Release each would (see [LeaseWrite]), in one transaction. It
	// returns one error per write, in the order of ws: nil once the write
	// is stored (durably, as Put's), or one wrapping ErrLeaseLost or
	// ErrInvalid for a write it did not store — the others are stored
	// still. Two writes of one key in a batch are ErrInvalid for the
	// second. When the call fails as a whole it returns that error and no
	// others, and stored nothing — or, for a failure during the commit,
	// maybe all of it, as Put may.
	WriteBatch(ctx context.Context, ws []LeaseWrite) ([]error, error)
}

// LeaseWrite is one write of [LeaseBatcher.WriteBatch].
type LeaseWrite struct {
	Lease Lease
	// Record is what to store, as [Lease.Put] takes it: an empty Key or
	// Owner is the lease's.
	Record Record
	// Release ends the lease, as [Lease.Release]; otherwise it holds on, as
	// after [Lease.Put].
	Release bool
}

// Lease is one claim of one key, from [Leaser]. Its methods are safe for
// concurrent use (a heartbeat may Renew while a worker Releases); each
// returns an error wrapping [ErrLeaseLost] once the lease does not hold its
// key any more, and then changes nothing.
type Lease interface {
	// Key returns the leased key.
	Key() string
	// Owner returns the owner the key is leased to.
	Owner() string
	// Record returns the key's record as the claim found it, and false if
	// there was none.
	Record() (Record, bool)
	// Expires returns when the lease runs out unless renewed, by the
	// store's clock.
	Expires() time.Time
	// Renew extends the lease to ttl from now.
	Renew(ctx context.Context, ttl time.Duration) error
	// Put stores r, like [Store.Put], and keeps the lease: for the Running
	// record of an attempt that starts. An empty r.Key or r.Owner is set to
	// the lease's; another key is ErrInvalid.
	Put(ctx context.Context, r Record) error
	// Release stores r as Put does and ends the lease, both or neither.
	// Releasing a Done record finishes the key; after another state the key
	// can be claimed again at once.
	Release(ctx context.Context, r Record) error
	// Abandon ends the lease and stores nothing, so another claim can take
	// the key at once: for work a stopping worker did not start.
	Abandon(ctx context.Context) error
}

// CheckClaim checks the arguments of a claim the way every [Leaser] does:
// valid keys, a non-empty owner of valid UTF-8 no longer than [MaxKeyLen],
// a positive n and ttl. Errors about keys wrap [ErrInvalid].
func CheckClaim(keys []string, owner string, n int, ttl time.Duration) error {
	for _, k := range keys {
		if err := check(Record{Key: k, State: Done}); err != nil {
			return err
		}
	}
	switch {
	case owner == "" || len(owner) > MaxKeyLen || !utf8.ValidString(owner):
		return fmt.Errorf("checkpoint: claim: owner %.80q must be valid UTF-8 of 1 to %d bytes", owner, MaxKeyLen)
	case n <= 0:
		return fmt.Errorf("checkpoint: claim: n is %d, want at least 1", n)
	case ttl <= 0:
		return fmt.Errorf("checkpoint: claim: ttl is %v, want it positive", ttl)
	}
	return nil
}

// LeaseRecord returns r as a [Lease] stores it: with an empty Key or Owner
// set to key and owner. It returns an error wrapping [ErrInvalid] if r is for
// another key.
func LeaseRecord(r Record, key, owner string) (Record, error) {
	if r.Key == "" {
		r.Key = key
	}
	if r.Owner == "" {
		r.Owner = owner
	}
	if r.Key != key {
		return Record{}, fmt.Errorf("%w %.80q: the lease is for %.80q", ErrInvalid, r.Key, key)
	}
	return r, nil
}

// leases is the lease table of the stores that live in one process. It
// serializes lease operations; stores then order its lock before their own.
type leases struct {
	mu   sync.Mutex
	held map[string]hold // key → its latest claim
	gen  uint64          // claims so far: each lease's identity
}

type hold struct {
	owner   string
	gen     uint64
	expires time.Time
	ended   bool // released or abandoned
}

// leaseHost is a store that keeps its lease table in memory.
type leaseHost interface {
	lookup(key string) (Record, bool, error) // ErrClosed once closed
	PutBatch(ctx context.Context, recs []Record) error
	now() time.Time
}

func (ls *leases) claim(ctx context.Context, h leaseHost, keys []string, owner string, n int, ttl time.Duration, one bool) ([]Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := CheckClaim(keys, owner, n, ttl); err != nil {
		return nil, err
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.held == nil {
		ls.held = map[string]hold{}
	}
	now := h.now()
	var out []Lease
	for _, key := range keys {
		rec, found, err := h.lookup(key)
		if err != nil {
			return nil, err
		}
		cur, leased := ls.held[key]
		switch {
		case found && rec.State == Done:
			if one {
				return nil, fmt.Errorf("%w: %.80q", ErrDone, key)
			}
			continue
		case leased && !cur.ended && cur.expires.After(now):
			if one {
				return nil, fmt.Errorf("%w: %.80q is leased to %.80q until %s", ErrLeased, key, cur.owner, cur.expires.Format(time.RFC3339Nano))
			}
			continue
		}
		ls.gen++
		ls.held[key] = hold{owner: owner, gen: ls.gen, expires: now.Add(ttl)}
		out = append(out, &localLease{ls: ls, h: h, key: key, owner: owner, gen: ls.gen, rec: rec, found: found, expires: now.Add(ttl)})
		if len(out) == n {
			break
		}
	}
	return out, nil
}

// localLease is a [Lease] of a store with a [leases] table.
type localLease struct {
	ls         *leases
	h          leaseHost
	key, owner string
	gen        uint64
	rec        Record
	found      bool
	expires    time.Time // under ls.mu
}

func (l *localLease) Key() string            { return l.key }
func (l *localLease) Owner() string          { return l.owner }
func (l *localLease) Record() (Record, bool) { return clone(l.rec), l.found }

func (l *localLease) Expires() time.Time {
	l.ls.mu.Lock()
	defer l.ls.mu.Unlock()
	return l.expires
}

// holdsLocked returns nil if l still holds its key.
func (l *localLease) holdsLocked() error {
	if _, _, err := l.h.lookup(l.key); errors.Is(err, ErrClosed) {
		return err
	}
	switch cur := l.ls.held[l.key]; {
	case cur.gen != l.gen:
		return fmt.Errorf("%w: %.80q was claimed by %.80q since", ErrLeaseLost, l.key, cur.owner)
	case cur.ended:
		return fmt.Errorf("%w: the lease of %.80q was released or abandoned", ErrLeaseLost, l.key)
	}
	return nil
}

func (l *localLease) Renew(ctx context.Context, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ttl <= 0 {
		return fmt.Errorf("checkpoint: renew: ttl is %v, want it positive", ttl)
	}
	l.ls.mu.Lock()
	defer l.ls.mu.Unlock()
	if err := l.holdsLocked(); err != nil {
		return err
	}
	l.expires = l.h.now().Add(ttl)
	l.ls.held[l.key] = hold{owner: l.owner, gen: l.gen, expires: l.expires}
	return nil
}

func (l *localLease) Put(ctx context.Context, r Record) error { return l.put(ctx, r, false) }

func (l *localLease) Release(ctx context.Context, r Record) error { return l.put(ctx, r, true) }

func (l *localLease) put(ctx context.Context, r Record, end bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r, err := LeaseRecord(r, l.key, l.owner)
	if err != nil {
		return err
	}
	l.ls.mu.Lock()
	defer l.ls.mu.Unlock()
	if err := l.holdsLocked(); err != nil {
		return err
	}
	if err := l.h.PutBatch(ctx, []Record{r}); err != nil {
		return err
	}
	if end {
		l.ls.held[l.key] = hold{owner: l.owner, gen: l.gen, ended: true}
	}
	return nil
}

// renewBatch renews ls, leases of h. See [LeaseBatcher].
func (ls *leases) renewBatch(ctx context.Context, h leaseHost, batch []Lease, ttl time.Duration) ([]error, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("checkpoint: renew: ttl is %v, want it positive", ttl)
	}
	if _, _, err := h.lookup(""); errors.Is(err, ErrClosed) {
		return nil, err
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	errs := make([]error, len(batch))
	expires := h.now().Add(ttl)
	for i, bl := range batch {
		l, ok := bl.(*localLease)
		switch {
		case !ok || l.ls != ls:
			errs[i] = foreign(bl)
		default:
			if errs[i] = l.holdsLocked(); errs[i] == nil {
				l.expires = expires
				ls.held[l.key] = hold{owner: l.owner, gen: l.gen, expires: expires}
			}
		}
	}
	return errs, nil
}

// writeBatch applies ws, writes of leases of h, with one PutBatch. See
// [LeaseBatcher].
func (ls *leases) writeBatch(ctx context.Context, h leaseHost, ws []LeaseWrite) ([]error, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, _, err := h.lookup(""); errors.Is(err, ErrClosed) {
		return nil, err
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	errs := make([]error, len(ws))
	var (
		recs []Record
		ends []*localLease
		seen = make(map[string]bool, len(ws))
	)
	for i, w := range ws {
		l, ok := w.Lease.(*localLease)
		if !ok || l.ls != ls {
			errs[i] = foreign(w.Lease)
			continue
		}
		r, err := LeaseRecord(w.Record, l.key, l.owner)
		if err == nil {
			r, err = Normalize(r)
		}
		switch {
		case err != nil:
			errs[i] = err
		case seen[l.key]:
			errs[i] = fmt.Errorf("%w %.80q: written twice in one batch", ErrInvalid, l.key)
		default:
			if errs[i] = l.holdsLocked(); errs[i] == nil {
				seen[l.key] = true
				recs = append(recs, r)
				if w.Release {
					ends = append(ends, l)
				}
			}
		}
	}
	if err := h.PutBatch(ctx, recs); err != nil {
		return nil, err
	}
	for _, l := range ends {
		ls.held[l.key] = hold{owner: l.owner, gen: l.gen, ended: true}
	}
	return errs, nil
}

// foreign is the error of a lease a store did not hand out.
func foreign(l Lease) error {
	return fmt.Errorf("%w: %T of %.80q", ErrForeignLease, l, l.Key())
}

func (l *localLease) Abandon(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.ls.mu.Lock()
	defer l.ls.mu.Unlock()
	if err := l.holdsLocked(); err != nil {
		return err
	}
	l.ls.held[l.key] = hold{owner: l.owner, gen: l.gen, ended: true}
	return nil
}
