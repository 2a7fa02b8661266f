package checkpointtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagefleet/pagefleet/checkpoint"
)

// Clock is a fake clock for the leases of stores under test. Its zero value
// reads a fixed instant; only Advance moves it. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	off time.Duration
}

// Now returns the clock's time. Pass it as the store's clock
// ([checkpoint.Memory].Now, [checkpoint.Options].Now).
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return base.UTC().Add(c.off)
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

// LeaseSuite describes a [checkpoint.Leaser] under test.
//
// It checks Claim and ClaimBatch against live, expired, released, abandoned
// and Done keys; that the errors name the holder; Renew, Put, Release and
// Abandon of a lease that holds its key and of one another claim took over
// (ErrLeaseLost, and the other owner's record left as it is); ClaimBatch
// order, limit and duplicates; invalid arguments, canceled contexts and a
// closed store; and, with many goroutines claiming the same keys, that no
// key is ever leased twice at once and each is finished exactly once. A
// store that is also a [checkpoint.LeaseBatcher] has RenewBatch and
// WriteBatch checked the same way — held, lost, released, foreign and
// invalid leases in one batch — and one that is a [checkpoint.Surveyor]
// has Left checked against every state.
type LeaseSuite struct {
	// New returns a new, empty store that implements [checkpoint.Leaser],
	// with leases that expire by clock, if it can. The suite closes it.
	// Required.
	New func(t *testing.T, clock *Clock) checkpoint.Store
	// TTL, when positive, says the store keeps its own clock — a database
	// server's — and ignores the suite's: the suite then gives the leases it
	// means to run out this TTL, and waits for them to, so keep it short.
	// The server must be on this machine: the suite compares its clock with
	// the local one. Defaults to 0: the store's leases expire by the suite's
	// clock, which the suite advances.
	TTL time.Duration
}

// RunLeaser runs the lease suite against stores from newStore, which
// expire leases by the clock they are given. It is
// LeaseSuite{New: newStore}.Run(t).
func RunLeaser(t *testing.T, newStore func(t *testing.T, clock *Clock) checkpoint.Store) {
	LeaseSuite{New: newStore}.Run(t)
}

// Run runs the lease suite as subtests of t.
func (s LeaseSuite) Run(t *testing.T) {
	t.Helper()
	if s.New == nil {
		t.Fatal("checkpointtest: LeaseSuite.New is nil")
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, s leaseEnv)
	}{
		{"Claim", testClaim},
		{"ClaimRecord", testClaimRecord},
		{"Expired", testExpired},
		{"ExpiredNotTaken", testExpiredNotTaken},
		{"Renew", testRenew},
		{"LeasePut", testLeasePut},
		{"ReleaseUnfinished", testReleaseUnfinished},
		{"Abandon", testAbandon},
		{"ClaimInvalid", testClaimInvalid},
		{"ClaimBatch", testClaimBatch},
		{"ClaimBatchExpired", testClaimBatchExpired},
		{"LeaseCanceled", testLeaseCanceled},
		{"LeaseClosed", testLeaseClosed},
		{"LeaseConcurrent", testLeaseConcurrent},
		{"RenewBatch", testRenewBatch},
		{"WriteBatch", testWriteBatch},
		{"WriteBatchInvalid", testWriteBatchInvalid},
		{"BatchClosed", testBatchClosed},
		{"Left", testLeft},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := leaseEnv{suite: s, clock: new(Clock)}
			st := s.New(t, env.clock)
			t.Cleanup(func() { st.Close() })
			l, ok := st.(checkpoint.Leaser)
			if !ok {
				t.Fatalf("%T is not a checkpoint.Leaser", st)
			}
			env.st, env.l = st, l
			tc.fn(t, env)
		})
	}
}

// leaseEnv is one subtest's store and clock.
type leaseEnv struct {
	suite LeaseSuite
	clock *Clock
	st    checkpoint.Store
	l     checkpoint.Leaser
}

// long is a TTL that never runs out during a test.
const long = time.Hour

// short is the TTL of leases a test lets run out.
func (e leaseEnv) short() time.Duration {
	if e.suite.TTL > 0 {
		return e.suite.TTL
	}
	return time.Minute
}

// expire makes every lease claimed so far with TTL short run out.
func (e leaseEnv) expire() {
	if e.suite.TTL <= 0 {
		e.clock.Advance(e.short())
		return
	}
	// The server's clock: a lease claimed before now expires before now + TTL.
	time.Sleep(e.suite.TTL + e.suite.TTL/4 + 20*time.Millisecond)
}

// now is the store's time, give or take a second for a server's clock.
func (e leaseEnv) now() time.Time {
	if e.suite.TTL > 0 {
		return time.Now()
	}
	return e.clock.Now()
}

func (e leaseEnv) claim(t *testing.T, key, owner string, ttl time.Duration) checkpoint.Lease {
	t.Helper()
	l, err := e.l.Claim(ctx, key, owner, ttl)
	if err != nil {
		t.Fatalf("Claim(%q, %q): %v", key, owner, err)
	}
	return l
}

func (e leaseEnv) batch(t *testing.T, keys []string, owner string, n int, ttl time.Duration) []checkpoint.Lease {
	t.Helper()
	ls, err := e.l.ClaimBatch(ctx, keys, owner, n, ttl)
	if err != nil {
		t.Fatalf("ClaimBatch(%d keys, %q, %d): %v", len(keys), owner, n, err)
	}
	return ls
}

func leaseKeys(ls []checkpoint.Lease) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Key())
	}
	return out
}

// wantErr checks that err wraps want and, if mention is not empty, that
// its message contains mention.
func wantErr(t *testing.T, what string, err, want error, mention string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: err = %v, want %v", what, err, want)
	} else if msg := err.Error(); !strings.Contains(msg, mention) { // the wording is checked after the class
		t.Errorf("%s: err = %q, want it to mention %q", what, err, mention)
	}
}

func wantNotFound(t *testing.T, st checkpoint.Store, key, why string) {
	t.Helper()
	if r, err := st.Get(ctx, key); !errors.Is(err, checkpoint.ErrNotFound) {
		t.Errorf("Get(%q) %s: %s, %v; want ErrNotFound", key, why, show(r), err)
	}
}

func done(key, owner string) checkpoint.Record {
	r := sample(key, 1)
	r.Owner = owner
	return r
}

func testClaim(t *testing.T, e leaseEnv) {
	before := e.now()
	a := e.claim(t, "k", "owner-a", long)
	if a.Key() != "k" || a.Owner() != "owner-a" {
		t.Errorf("lease: Key() = %q, Owner() = %q; want k, owner-a", a.Key(), a.Owner())
	}
	if r, ok := a.Record(); ok {
		t.Errorf("Record() of a new key = %s, true; want false", show(r))
	}
	slack := time.Duration(0)
	if e.suite.TTL > 0 {
		slack = 5 * time.Second
	}
	if exp := a.Expires(); exp.Before(before.Add(long-slack)) || exp.After(e.now().Add(long+slack)) {
		t.Errorf("Expires() = %v, want %v from now", exp, long)
	}
	_, err := e.l.Claim(ctx, "k", "owner-b", long)
	wantErr(t, "Claim of a leased key", err, checkpoint.ErrLeased, "owner-a")
	_, err = e.l.Claim(ctx, "k", "owner-a", long)
	wantErr(t, "Claim by the holder itself", err, checkpoint.ErrLeased, "owner-a")
	wantNotFound(t, e.st, "k", "while leased, before anything was stored")

	r := done("", "") // Key and Owner from the lease
	if err := a.Release(ctx, r); err != nil {
		t.Fatalf("Release: %v", err)
	}
	r.Key, r.Owner = "k", "owner-a"
	wantSame(t, "Get after Release", get(t, e.st, "k"), r)
	_, err = e.l.Claim(ctx, "k", "owner-b", long)
	wantErr(t, "Claim of a Done key", err, checkpoint.ErrDone, "")
	if ls := e.batch(t, []string{"k"}, "owner-b", 1, long); len(ls) != 0 {
		t.Errorf("ClaimBatch claimed Done keys %q", leaseKeys(ls))
	}
	wantErr(t, "Renew after Release", a.Renew(ctx, long), checkpoint.ErrLeaseLost, "")
	wantErr(t, "second Release", a.Release(ctx, done("k", "again")), checkpoint.ErrLeaseLost, "")
	wantSame(t, "Get after a second Release", get(t, e.st, "k"), r)
}

func testClaimRecord(t *testing.T, e leaseEnv) {
	failed := checkpoint.Record{Key: "f", State: checkpoint.Failed, Attempts: 2, Err: "timeout", Owner: "old", Started: base, Updated: base.Add(time.Minute), Meta: map[string]string{"x": "1"}}
	running := checkpoint.Record{Key: "r", State: checkpoint.Running, Attempts: 3, Owner: "dead", Started: base, Updated: base}
	pending := checkpoint.Record{Key: "p", State: checkpoint.Pending, Attempts: 2, Crashes: 1, Err: "timeout", Owner: "old", Started: base, Updated: base}
	put(t, e.st, failed, running, pending)
	for _, want := range []checkpoint.Record{failed, running, pending} {
		l := e.claim(t, want.Key, "owner-a", long)
		got, ok := l.Record()
		if !ok {
			t.Fatalf("Record() of %q: false, want its record", want.Key)
		}
		wantSame(t, "Record()", got, want)
		got.Meta = map[string]string{"x": "changed"}
		if got, _ := l.Record(); got.Meta != nil && got.Meta["x"] == "changed" {
			t.Errorf("the lease's record changed through a Meta map")
		}
		wantSame(t, "Get of a claimed key", get(t, e.st, want.Key), want)
	}
	ls := e.batch(t, []string{"f", "r", "p", "new"}, "owner-b", 5, long)
	if len(ls) != 1 || ls[0].Key() != "new" {
		t.Errorf("ClaimBatch of three leased keys and a new one: %q, want [new]", leaseKeys(ls))
	}
}

func testExpired(t *testing.T, e leaseEnv) {
	a := e.claim(t, "k", "owner-a", e.short())
	e.expire()
	b := e.claim(t, "k", "owner-b", long)
	for name, err := range map[string]error{
		"Renew":   a.Renew(ctx, long),
		"Put":     a.Put(ctx, done("k", "owner-a")),
		"Release": a.Release(ctx, done("k", "owner-a")),
		"Abandon": a.Abandon(ctx),
	} {
		wantErr(t, name+" of a lease another owner took over", err, checkpoint.ErrLeaseLost, "owner-b")
	}
	wantNotFound(t, e.st, "k", "after the lost lease's Put and Release")
	_, err := e.l.Claim(ctx, "k", "owner-c", long)
	wantErr(t, "Claim after the lost lease's Abandon", err, checkpoint.ErrLeased, "owner-b")
	rb := done("k", "owner-b")
	if err := b.Release(ctx, rb); err != nil {
		t.Fatalf("Release by the new owner: %v", err)
	}
	wantErr(t, "Release of the lost lease after the new owner's", a.Release(ctx, done("k", "owner-a")), checkpoint.ErrLeaseLost, "")
	wantSame(t, "Get", get(t, e.st, "k"), rb)
}

func testExpiredNotTaken(t *testing.T, e leaseEnv) {
	a := e.claim(t, "renewed", "owner-a", e.short())
	b := e.claim(t, "released", "owner-a", e.short())
	e.expire()
	if err := a.Renew(ctx, long); err != nil {
		t.Fatalf("Renew of an expired lease no one took over: %v", err)
	}
	_, err := e.l.Claim(ctx, "renewed", "owner-b", long)
	wantErr(t, "Claim after the holder renewed its expired lease", err, checkpoint.ErrLeased, "owner-a")
	r := done("released", "owner-a")
	if err := b.Release(ctx, r); err != nil {
		t.Fatalf("Release of an expired lease no one took over: %v", err)
	}
	wantSame(t, "Get", get(t, e.st, "released"), r)
}

func testRenew(t *testing.T, e leaseEnv) {
	a := e.claim(t, "k", "owner-a", e.short())
	exp := a.Expires()
	if err := a.Renew(ctx, long); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	if !a.Expires().After(exp) {
		t.Errorf("Expires() after Renew = %v, want after %v", a.Expires(), exp)
	}
	e.expire() // past the first TTL, not the renewed one
	_, err := e.l.Claim(ctx, "k", "owner-b", long)
	wantErr(t, "Claim of a renewed lease", err, checkpoint.ErrLeased, "owner-a")
	if ls := e.batch(t, []string{"k"}, "owner-b", 1, long); len(ls) != 0 {
		t.Errorf("ClaimBatch claimed renewed keys %q", leaseKeys(ls))
	}
	if err := a.Renew(ctx, 0); err == nil {
		t.Errorf("Renew(0): nil error")
	}
	if err := a.Release(ctx, done("k", "owner-a")); err != nil {
		t.Errorf("Release after renewals: %v", err)
	}
}

func testLeasePut(t *testing.T, e leaseEnv) {
	a := e.claim(t, "k", "owner-a", long)
	running := checkpoint.Record{State: checkpoint.Running, Attempts: 1, Crashes: 1, Started: base, Updated: base}
	if err := a.Put(ctx, running); err != nil {
		t.Fatalf("Lease.Put: %v", err)
	}
	running.Key, running.Owner = "k", "owner-a"
	wantSame(t, "Get after Lease.Put", get(t, e.st, "k"), running)
	_, err := e.l.Claim(ctx, "k", "owner-b", long)
	wantErr(t, "Claim after Lease.Put", err, checkpoint.ErrLeased, "owner-a")
	other := running
	other.Key = "other"
	wantErr(t, "Lease.Put of another key", a.Put(ctx, other), checkpoint.ErrInvalid, "")
	wantErr(t, "Lease.Release of another key", a.Release(ctx, other), checkpoint.ErrInvalid, "")
	bad := running
	bad.State = "bogus"
	wantErr(t, "Lease.Release of an invalid record", a.Release(ctx, bad), checkpoint.ErrInvalid, "")
	wantNotFound(t, e.st, "other", "after a lease's Put of it")
	_, err = e.l.Claim(ctx, "k", "owner-b", long)
	wantErr(t, "Claim after a failed Release", err, checkpoint.ErrLeased, "owner-a")
	wantSame(t, "Get after failed Puts", get(t, e.st, "k"), running)
	if err := a.Release(ctx, done("k", "owner-a")); err != nil {
		t.Fatalf("Release: %v", err)
	}
}

func testReleaseUnfinished(t *testing.T, e leaseEnv) {
	for _, state := range []checkpoint.State{checkpoint.Failed, checkpoint.Pending} {
		key := string(state)
		a := e.claim(t, key, "owner-a", long)
		r := checkpoint.Record{Key: key, State: state, Attempts: 1, Crashes: 1, Err: "boom", Owner: "owner-a", Started: base, Updated: base}
		if err := a.Release(ctx, r); err != nil {
			t.Fatalf("Release %s: %v", state, err)
		}
		b := e.claim(t, key, "owner-b", long) // at once: no TTL to wait for
		got, ok := b.Record()
		if !ok {
			t.Fatalf("Record() after a %s release: none", state)
		}
		wantSame(t, "Record() after a "+key+" release", got, r)
		wantErr(t, "Release of the ended lease", a.Release(ctx, done(key, "owner-a")), checkpoint.ErrLeaseLost, "owner-b")
		wantSame(t, "Get", get(t, e.st, key), r)
	}
}

func testAbandon(t *testing.T, e leaseEnv) {
	a := e.claim(t, "k", "owner-a", long)
	if err := a.Abandon(ctx); err != nil {
		t.Fatalf("Abandon: %v", err)
	}
	wantNotFound(t, e.st, "k", "after Abandon")
	wantErr(t, "second Abandon", a.Abandon(ctx), checkpoint.ErrLeaseLost, "")
	wantErr(t, "Release after Abandon", a.Release(ctx, done("k", "owner-a")), checkpoint.ErrLeaseLost, "")
	wantNotFound(t, e.st, "k", "after Release of an abandoned lease")
	b := e.claim(t, "k", "owner-b", long)
	if _, ok := b.Record(); ok {
		t.Errorf("Record() after Abandon: found, want none")
	}
}

func testClaimInvalid(t *testing.T, e leaseEnv) {
	for _, tc := range []struct {
		name  string
		key   string
		owner string
		n     int
		ttl   time.Duration
		want  error
	}{
		{"empty key", "", "o", 1, long, checkpoint.ErrInvalid},
		{"long key", strings.Repeat("k", checkpoint.MaxKeyLen+1), "o", 1, long, checkpoint.ErrInvalid},
		{"non-UTF-8 key", "k\xff", "o", 1, long, checkpoint.ErrInvalid},
		{"empty owner", "k", "", 1, long, nil},
		{"zero ttl", "k", "o", 1, 0, nil},
		{"negative ttl", "k", "o", 1, -time.Second, nil},
		{"zero n", "k", "o", 0, long, nil},
	} {
		if tc.n == 1 {
			if _, err := e.l.Claim(ctx, tc.key, tc.owner, tc.ttl); err == nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Claim with %s: err = %v, want %v", tc.name, err, cmpErr(tc.want))
			}
		}
		if _, err := e.l.ClaimBatch(ctx, []string{"ok", tc.key}, tc.owner, tc.n, tc.ttl); err == nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("ClaimBatch with %s: err = %v, want %v", tc.name, err, cmpErr(tc.want))
		}
	}
	e.claim(t, "k", "o", long) // none of the above took it
	e.claim(t, "ok", "o", long)
}

func cmpErr(err error) any {
	if err == nil {
		return "an error"
	}
	return err
}

func testClaimBatch(t *testing.T, e leaseEnv) {
	var keys []string
	for i := range 10 {
		keys = append(keys, fmt.Sprintf("k%02d", i))
	}
	put(t, e.st, done("k01", "earlier"), checkpoint.Record{Key: "k05", State: checkpoint.Failed, Attempts: 2, Err: "x", Updated: base})
	e.claim(t, "k02", "owner-b", long)
	offer := append([]string{"k00"}, keys...) // a duplicate
	ls := e.batch(t, offer, "owner-a", 5, long)
	if got, want := leaseKeys(ls), []string{"k00", "k03", "k04", "k05", "k06"}; !slices.Equal(got, want) {
		t.Fatalf("ClaimBatch(n=5) = %q, want %q", got, want)
	}
	for _, l := range ls {
		r, ok := l.Record()
		if l.Owner() != "owner-a" || ok != (l.Key() == "k05") || ok && r.Attempts != 2 {
			t.Errorf("lease of %s: Owner() = %q, Record() = %s, %v", l.Key(), l.Owner(), show(r), ok)
		}
	}
	slices.Reverse(offer)
	if got, want := leaseKeys(e.batch(t, offer, "owner-c", 10, long)), []string{"k09", "k08", "k07"}; !slices.Equal(got, want) {
		t.Errorf("ClaimBatch of the rest, reversed = %q, want %q", got, want)
	}
	if got := e.batch(t, keys, "owner-c", 10, long); len(got) != 0 {
		t.Errorf("ClaimBatch with every key leased or done = %q, want none", leaseKeys(got))
	}
	if got := e.batch(t, nil, "owner-c", 10, long); len(got) != 0 {
		t.Errorf("ClaimBatch(nil) = %q, want none", leaseKeys(got))
	}
	for _, l := range ls {
		if err := l.Release(ctx, done(l.Key(), "")); err != nil {
			t.Errorf("Release(%s): %v", l.Key(), err)
		}
	}
	for _, k := range []string{"k00", "k03", "k04", "k05", "k06"} {
		wantSame(t, "Get after Release", get(t, e.st, k), done(k, "owner-a"))
	}
	wantNotFound(t, e.st, "k07", "while it is leased")
}

func testClaimBatchExpired(t *testing.T, e leaseEnv) {
	keys := []string{"a", "b", "c", "d"}
	as := e.batch(t, keys, "owner-a", 10, e.short())
	if len(as) != 4 {
		t.Fatalf("ClaimBatch of 4 new keys: %q", leaseKeys(as))
	}
	if err := as[1].Renew(ctx, long); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	if err := as[2].Release(ctx, done("", "")); err != nil {
		t.Fatalf("Release: %v", err)
	}
	e.expire()
	bs := e.batch(t, keys, "owner-b", 10, long)
	if got, want := leaseKeys(bs), []string{"a", "d"}; !slices.Equal(got, want) {
		t.Fatalf("ClaimBatch after expiry = %q, want %q", got, want)
	}
	wantErr(t, "Release of a lease taken over by a batch", as[0].Release(ctx, done("", "")), checkpoint.ErrLeaseLost, "owner-b")
	wantNotFound(t, e.st, "a", "after a lost lease's Release")
	if err := as[1].Release(ctx, done("", "")); err != nil {
		t.Errorf("Release of the renewed lease: %v", err)
	}
}

func testLeaseCanceled(t *testing.T, e leaseEnv) {
	a := e.claim(t, "held", "owner-a", long)
	c, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.l.Claim(c, "k", "owner-a", long); !errors.Is(err, context.Canceled) {
		t.Errorf("Claim with a canceled context: err = %v, want context.Canceled", err)
	}
	if _, err := e.l.ClaimBatch(c, []string{"k"}, "owner-a", 1, long); !errors.Is(err, context.Canceled) {
		t.Errorf("ClaimBatch with a canceled context: err = %v, want context.Canceled", err)
	}
	for name, err := range map[string]error{
		"Renew":   a.Renew(c, long),
		"Put":     a.Put(c, done("held", "owner-a")),
		"Release": a.Release(c, done("held", "owner-a")),
		"Abandon": a.Abandon(c),
	} {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: err = %v, want context.Canceled", name, err)
		}
	}
	e.claim(t, "k", "owner-b", long) // the canceled claims took nothing
	_, err := e.l.Claim(ctx, "held", "owner-b", long)
	wantErr(t, "Claim of a lease whose calls were canceled", err, checkpoint.ErrLeased, "owner-a")
	wantNotFound(t, e.st, "held", "after canceled Put and Release")
	if err := a.Release(ctx, done("held", "owner-a")); err != nil {
		t.Errorf("Release after canceled calls: %v", err)
	}
}

func testLeaseClosed(t *testing.T, e leaseEnv) {
	a := e.claim(t, "k", "owner-a", long)
	if err := e.st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_, err := e.l.Claim(ctx, "k2", "owner-a", long)
	wantErr(t, "Claim after Close", err, checkpoint.ErrClosed, "")
	_, err = e.l.ClaimBatch(ctx, []string{"k2"}, "owner-a", 1, long)
	wantErr(t, "ClaimBatch after Close", err, checkpoint.ErrClosed, "")
	wantErr(t, "Renew after Close", a.Renew(ctx, long), checkpoint.ErrClosed, "")
	wantErr(t, "Release after Close", a.Release(ctx, done("k", "owner-a")), checkpoint.ErrClosed, "")
	wantErr(t, "Abandon after Close", a.Abandon(ctx), checkpoint.ErrClosed, "")
}

// testLeaseConcurrent: goroutines claim the same keys, one by one and in
// batches, with a heartbeat renewing what they hold. The first lease of
// each key releases it Failed, so keys are claimed again; the second
// finishes it. No key may be held by two leases at once, and each must be
// finished exactly once, by the owner its record names.
func testLeaseConcurrent(t *testing.T, e leaseEnv) {
	const workers, nkeys = 6, 120
	var keys []string
	for i := range nkeys {
		keys = append(keys, fmt.Sprintf("key-%03d", i))
	}
	var (
		holders  = map[string]*atomic.Int32{} // leases of the key that are working now
		releases = map[string]*atomic.Int32{} // leases that released it
		finished = map[string]*atomic.Value{} // who released it Done
		left     atomic.Int32
		allDone  = make(chan struct{}) // closed when every key is done
	)
	for _, k := range keys {
		holders[k], releases[k], finished[k] = new(atomic.Int32), new(atomic.Int32), new(atomic.Value)
	}
	left.Store(nkeys)
	work := func(owner string, l checkpoint.Lease) {
		key := l.Key()
		if n := holders[key].Add(1); n != 1 {
			t.Errorf("%s: %d leases hold it at once", key, n)
		}
		prev, _ := l.Record()
		r := checkpoint.Record{Key: key, State: checkpoint.Done, Attempts: prev.Attempts + 1, Owner: owner, Updated: base}
		if prev.Attempts == 0 {
			r.State, r.Err = checkpoint.Failed, "first attempt fails"
		}
		holders[key].Add(-1)
		if err := l.Release(ctx, r); err != nil {
			t.Errorf("%s: Release by %s: %v", key, owner, err)
			return
		}
		releases[key].Add(1)
		if r.State == checkpoint.Done {
			if !finished[key].CompareAndSwap(nil, owner) {
				t.Errorf("%s: finished by %s and by %v", key, owner, finished[key].Load())
			}
			if left.Add(-1) == 0 {
				close(allDone)
			}
		}
	}
	var wg sync.WaitGroup
	for w := range workers {
		owner := fmt.Sprint("worker-", w)
		wg.Go(func() {
			for {
				select {
				case <-allDone:
					return
				default:
				}
				var ls []checkpoint.Lease
				if w%2 == 0 {
					var err error
					if ls, err = e.l.ClaimBatch(ctx, keys, owner, 1+w, long); err != nil {
						t.Errorf("ClaimBatch: %v", err)
						return
					}
				} else {
					k := keys[rand.IntN(nkeys)]
					l, err := e.l.Claim(ctx, k, owner, long)
					switch {
					case err == nil:
						ls = []checkpoint.Lease{l}
					case !errors.Is(err, checkpoint.ErrLeased) && !errors.Is(err, checkpoint.ErrDone):
						t.Errorf("Claim: %v", err)
						return
					}
				}
				for i, l := range ls {
					if i == len(ls)/2 { // a heartbeat while holding the rest
						for _, l := range ls[i:] {
							if err := l.Renew(ctx, long); err != nil {
								t.Errorf("%s: Renew: %v", l.Key(), err)
							}
						}
					}
					work(owner, l)
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for r, err := range e.st.All(ctx) {
		if err != nil {
			t.Fatalf("All: %v", err)
		}
		if r.State != checkpoint.Done || r.Attempts != 2 || r.Owner != finished[r.Key].Load() || releases[r.Key].Load() != 2 {
			t.Errorf("%s: %s after %d releases; finished by %v", r.Key, show(r), releases[r.Key].Load(), finished[r.Key].Load())
		}
	}
	if got := len(all(t, e.st)); got != nkeys {
		t.Errorf("All yielded %d records, want %d", got, nkeys)
	}
}

// batcher returns the store as a LeaseBatcher, or skips the test.
func (e leaseEnv) batcher(t *testing.T) checkpoint.LeaseBatcher {
	t.Helper()
	b, ok := e.st.(checkpoint.LeaseBatcher)
	if !ok {
		t.Skipf("%T is not a checkpoint.LeaseBatcher", e.st)
	}
	return b
}

// foreignLease is a lease no store handed out.
type foreignLease struct{ checkpoint.Lease }

func testRenewBatch(t *testing.T, e leaseEnv) {
	b := e.batcher(t)
	held := e.claim(t, "held", "owner-a", e.short())
	lost := e.claim(t, "lost", "owner-a", e.short())
	released := e.claim(t, "released", "owner-a", long)
	if err := released.Release(ctx, done("", "")); err != nil {
		t.Fatal(err)
	}
	e.expire()
	e.claim(t, "lost", "owner-b", long)
	exp := held.Expires()
	ls := []checkpoint.Lease{held, lost, released, foreignLease{held}}
	errs, err := b.RenewBatch(ctx, ls, long)
	if err != nil || len(errs) != len(ls) {
		t.Fatalf("RenewBatch: %v, %v; want one error per lease", errs, err)
	}
	if errs[0] != nil {
		t.Errorf("RenewBatch of a held (expired, not taken) lease: %v", errs[0])
	}
	wantErr(t, "RenewBatch of a lease taken over", errs[1], checkpoint.ErrLeaseLost, "owner-b")
	wantErr(t, "RenewBatch of a released lease", errs[2], checkpoint.ErrLeaseLost, "")
	wantErr(t, "RenewBatch of a foreign lease", errs[3], checkpoint.ErrForeignLease, "")
	if !held.Expires().After(exp) {
		t.Errorf("Expires() after RenewBatch = %v, want after %v", held.Expires(), exp)
	}
	e.expire() // past the first TTL, not the renewed one
	_, err = e.l.Claim(ctx, "held", "owner-b", long)
	wantErr(t, "Claim of a key RenewBatch renewed", err, checkpoint.ErrLeased, "owner-a")
	if errs, err := b.RenewBatch(ctx, nil, long); err != nil || len(errs) != 0 {
		t.Errorf("RenewBatch(nil) = %v, %v", errs, err)
	}
	if _, err := b.RenewBatch(ctx, []checkpoint.Lease{held}, 0); err == nil {
		t.Errorf("RenewBatch with ttl 0: nil error")
	}
}

func testWriteBatch(t *testing.T, e leaseEnv) {
	b := e.batcher(t)
	keep := e.claim(t, "keep", "owner-a", long)
	finish := e.claim(t, "finish", "owner-a", long)
	retry := e.claim(t, "retry", "owner-a", long)
	lost := e.claim(t, "lost", "owner-a", e.short())
	e.expire()
	e.claim(t, "lost", "owner-b", long)
	running := checkpoint.Record{State: checkpoint.Running, Attempts: 1, Started: base, Updated: base}
	pending := checkpoint.Record{State: checkpoint.Pending, Attempts: 1, Err: "timeout", Started: base, Updated: base}
	ws := []checkpoint.LeaseWrite{
		{Lease: keep, Record: running},
		{Lease: finish, Record: done("", ""), Release: true},
		{Lease: retry, Record: pending, Release: true},
		{Lease: lost, Record: done("", ""), Release: true},
		{Lease: foreignLease{keep}, Record: running},
	}
	errs, err := b.WriteBatch(ctx, ws)
	if err != nil || len(errs) != len(ws) {
		t.Fatalf("WriteBatch: %v, %v; want one error per write", errs, err)
	}
	for i, name := range []string{"Put", "Release Done", "Release Pending"} {
		if errs[i] != nil {
			t.Errorf("WriteBatch: %s: %v", name, errs[i])
		}
	}
	wantErr(t, "WriteBatch through a lease taken over", errs[3], checkpoint.ErrLeaseLost, "owner-b")
	wantErr(t, "WriteBatch through a foreign lease", errs[4], checkpoint.ErrForeignLease, "")
	running.Key, running.Owner = "keep", "owner-a"
	wantSame(t, "Get after a batch Put", get(t, e.st, "keep"), running)
	fin := done("", "")
	fin.Key, fin.Owner = "finish", "owner-a"
	wantSame(t, "Get after a batch Release", get(t, e.st, "finish"), fin)
	wantNotFound(t, e.st, "lost", "after a batch write through a lost lease")
	// The Put kept its lease; the Releases ended theirs.
	_, err = e.l.Claim(ctx, "keep", "owner-b", long)
	wantErr(t, "Claim after a batch Put", err, checkpoint.ErrLeased, "owner-a")
	_, err = e.l.Claim(ctx, "finish", "owner-b", long)
	wantErr(t, "Claim after a batch Release Done", err, checkpoint.ErrDone, "")
	again := e.claim(t, "retry", "owner-b", long) // at once
	if r, _ := again.Record(); r.State != checkpoint.Pending || r.Owner != "owner-a" {
		t.Errorf("Record() after a batch Release Pending: %s", show(r))
	}
	errs, err = b.WriteBatch(ctx, []checkpoint.LeaseWrite{{Lease: finish, Record: done("", "again"), Release: true}})
	if err != nil || len(errs) != 1 {
		t.Fatalf("WriteBatch: %v, %v", errs, err)
	}
	wantErr(t, "WriteBatch through a released lease", errs[0], checkpoint.ErrLeaseLost, "")
	if err := keep.Release(ctx, done("", "")); err != nil {
		t.Errorf("Release of a lease a batch Put kept: %v", err)
	}
	if errs, err := b.WriteBatch(ctx, nil); err != nil || len(errs) != 0 {
		t.Errorf("WriteBatch(nil) = %v, %v", errs, err)
	}
}

func testWriteBatchInvalid(t *testing.T, e leaseEnv) {
	b := e.batcher(t)
	a := e.claim(t, "a", "owner-a", long)
	c := e.claim(t, "c", "owner-a", long)
	bad := done("", "")
	bad.State = "bogus"
	other := done("other", "")
	running := checkpoint.Record{State: checkpoint.Running, Attempts: 1, Updated: base}
	ws := []checkpoint.LeaseWrite{
		{Lease: a, Record: bad, Release: true},
		{Lease: a, Record: other},
		{Lease: c, Record: running},
		{Lease: c, Record: done("", ""), Release: true}, // c twice
	}
	errs, err := b.WriteBatch(ctx, ws)
	if err != nil || len(errs) != len(ws) {
		t.Fatalf("WriteBatch: %v, %v; want one error per write", errs, err)
	}
	wantErr(t, "WriteBatch of an invalid record", errs[0], checkpoint.ErrInvalid, "")
	wantErr(t, "WriteBatch of another key's record", errs[1], checkpoint.ErrInvalid, "")
	if errs[2] != nil {
		t.Errorf("WriteBatch: the first write of c: %v", errs[2])
	}
	wantErr(t, "WriteBatch: the second write of c", errs[3], checkpoint.ErrInvalid, "")
	wantNotFound(t, e.st, "a", "after invalid batch writes")
	wantNotFound(t, e.st, "other", "after a batch write of another key")
	_, err = e.l.Claim(ctx, "c", "owner-b", long)
	wantErr(t, "Claim of c: its Release was refused", err, checkpoint.ErrLeased, "owner-a")
	if err := a.Release(ctx, done("", "")); err != nil {
		t.Errorf("Release after refused batch writes: %v", err)
	}
}

func testBatchClosed(t *testing.T, e leaseEnv) {
	b := e.batcher(t)
	a := e.claim(t, "k", "owner-a", long)
	c, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := b.RenewBatch(c, []checkpoint.Lease{a}, long); !errors.Is(err, context.Canceled) {
		t.Errorf("RenewBatch with a canceled context: %v", err)
	}
	if _, err := b.WriteBatch(c, []checkpoint.LeaseWrite{{Lease: a, Record: done("", ""), Release: true}}); !errors.Is(err, context.Canceled) {
		t.Errorf("WriteBatch with a canceled context: %v", err)
	}
	wantNotFound(t, e.st, "k", "after a canceled WriteBatch")
	if err := e.st.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := b.RenewBatch(ctx, []checkpoint.Lease{a}, long)
	wantErr(t, "RenewBatch after Close", err, checkpoint.ErrClosed, "")
	_, err = b.WriteBatch(ctx, []checkpoint.LeaseWrite{{Lease: a, Record: done("", ""), Release: true}})
	wantErr(t, "WriteBatch after Close", err, checkpoint.ErrClosed, "")
}

func testLeft(t *testing.T, e leaseEnv) {
	sv, ok := e.st.(checkpoint.Surveyor)
	if !ok {
		t.Skipf("%T is not a checkpoint.Surveyor", e.st)
	}
	failed := checkpoint.Record{Key: "failed", State: checkpoint.Failed, Attempts: 2, Err: "x", Owner: "o", Updated: base}
	pending := checkpoint.Record{Key: "pending", State: checkpoint.Pending, Attempts: 1, Owner: "o", Updated: base}
	running := checkpoint.Record{Key: "running", State: checkpoint.Running, Attempts: 1, Owner: "o", Updated: base}
	put(t, e.st, done("done", "o"), failed, pending, running)
	e.claim(t, "leased", "owner-a", long) // a lease, no record
	keys := []string{"running", "done", "none", "failed", "leased", "pending", "none", "done"}
	left, err := sv.Left(ctx, keys)
	if err != nil {
		t.Fatalf("Left: %v", err)
	}
	want := []checkpoint.Record{running, {Key: "none"}, failed, {Key: "leased"}, pending}
	if len(left) != len(want) {
		t.Fatalf("Left(%q) = %d records %v, want %d", keys, len(left), left, len(want))
	}
	for i := range want {
		wantSame(t, fmt.Sprintf("Left: record %d", i), left[i], want[i])
	}
	if left, err := sv.Left(ctx, nil); err != nil || len(left) != 0 {
		t.Errorf("Left(nil) = %v, %v", left, err)
	}
	c, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := sv.Left(c, keys); !errors.Is(err, context.Canceled) {
		t.Errorf("Left with a canceled context: %v", err)
	}
	e.st.Close()
	_, err = sv.Left(ctx, keys)
	wantErr(t, "Left after Close", err, checkpoint.ErrClosed, "")
}
