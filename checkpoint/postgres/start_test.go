package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/checkpoint/postgres"
)

// TestTookOver: a batch claim knows whether it took its key from a lease
// that ran out (checkpoint.TakeoverLease) — not from one released or
// abandoned, nor a new key; a single Claim does not know.
func TestTookOver(t *testing.T) {
	t.Parallel()
	s := open(t, postgres.Options{})
	claim := func(key, owner string, ttl time.Duration) checkpoint.Lease {
		t.Helper()
		ls, err := s.ClaimBatch(ctx, []string{key}, owner, 1, ttl)
		if err != nil || len(ls) != 1 {
			t.Fatalf("claim %s: %v, %v", key, ls, err)
		}
		return ls[0]
	}
	want := func(l checkpoint.Lease, taken, known bool) {
		t.Helper()
		if gotTaken, gotKnown := l.(checkpoint.TakeoverLease).TookOver(); gotTaken != taken || gotKnown != known {
			t.Errorf("%s: TookOver() = %v, %v; want %v, %v", l.Key(), gotTaken, gotKnown, taken, known)
		}
	}
	want(claim("new", "a", time.Minute), false, true)
	if err := claim("released", "a", time.Minute).Release(ctx, checkpoint.Record{State: checkpoint.Pending}); err != nil {
		t.Fatal(err)
	}
	want(claim("released", "b", time.Minute), false, true)
	if err := claim("abandoned", "a", time.Minute).Abandon(ctx); err != nil {
		t.Fatal(err)
	}
	want(claim("abandoned", "b", time.Minute), false, true)
	claim("died", "a", time.Microsecond)
	time.Sleep(10 * time.Millisecond) // past the lease, by the server's clock too
	want(claim("died", "b", time.Minute), true, true)
	l, err := s.Claim(ctx, "single", "a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want(l, false, false)
}

// TestStartDoesNotWait: Tracker.Start with QuickStart returns while its
// Running record is still on its way (here held up by another
// transaction's lock on the key's row), and the key's next write waits for
// it, then is stored after it. Begin would have waited for the lock.
func TestStartDoesNotWait(t *testing.T) {
	t.Parallel()
	sch := schema(t)
	s := open(t, postgres.Options{Schema: sch})
	tr, err := checkpoint.NewTracker(s, checkpoint.TrackerOptions{Owner: "me", QuickStart: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close(context.Background())
	claims := make(chan checkpoint.Claim, 1)
	fed := make(chan error, 1)
	go func() { fed <- tr.Feed(ctx, []string{"k"}, func(c checkpoint.Claim) error { claims <- c; return nil }) }()
	if c := <-claims; c.Suspect || c.Crashes != 0 {
		t.Errorf("the claim of a new key: %+v; want no suspect", c)
	}
	tx, err := adminPool(t).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	table := pgx.Identifier{sch, "pagefleet_checkpoint"}.Sanitize()
	if _, err := tx.Exec(ctx, "SELECT 1 FROM "+table+" WHERE key = 'k' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	// If Start waits, this lets it go on — late, and the test fails — instead of hanging.
	unlock := time.AfterFunc(time.Minute, func() { tx.Rollback(context.Background()) })
	if err := tr.Start(ctx, "k", 1, time.Now()); err != nil {
		t.Fatal(err)
	}
	if !unlock.Stop() {
		t.Fatal("Start waited for its record to be stored")
	}
	done := make(chan error, 1)
	go func() {
		done <- tr.Done(ctx, "k", 1, checkpoint.SavedFile{Path: "/stickers/k.pdf", Size: 1, SHA256: strings.Repeat("ab", 32)})
	}()
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Done after Start: %v", err)
	}
	if rec, err := s.Get(ctx, "k"); err != nil || rec.State != checkpoint.Done || rec.Attempts != 1 {
		t.Errorf("record %+v, %v; want Done after 1 attempt", rec, err)
	}
	if err := <-fed; err != nil {
		t.Errorf("Feed: %v", err)
	}
}

// TestSuspectClaims: a claim that takes a key from a lease that ran out
// with no attempt on record — its holder died before the Running record of
// a Start was stored, or before it started — is a suspect; one that finds
// a Running record counts a crash instead; a released key is neither.
func TestSuspectClaims(t *testing.T) {
	t.Parallel()
	s := open(t, postgres.Options{})
	ls, err := s.ClaimBatch(ctx, []string{"died", "crashed", "released"}, "dead", 3, time.Microsecond)
	if err != nil || len(ls) != 3 {
		t.Fatalf("claims: %v, %v", ls, err)
	}
	if err := ls[2].Release(ctx, checkpoint.Record{State: checkpoint.Pending, Attempts: 1}); err != nil {
		t.Fatal(err)
	}
	if err := ls[1].Put(ctx, checkpoint.Record{State: checkpoint.Running, Attempts: 1}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // past the leases, by the server's clock too
	tr, err := checkpoint.NewTracker(s, checkpoint.TrackerOptions{Owner: "next", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close(context.Background())
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := map[string]checkpoint.Claim{}
	tr.Feed(fctx, []string{"died", "crashed", "released"}, func(c checkpoint.Claim) error {
		if got[c.Key] = c; len(got) == 3 {
			cancel()
		}
		return nil
	})
	for key, want := range map[string][2]int{"died": {1, 0}, "crashed": {0, 1}, "released": {0, 0}} {
		if c := got[key]; (want[0] == 1) != c.Suspect || c.Crashes != want[1] {
			t.Errorf("%s: Suspect %v, Crashes %d; want %v, %d", key, c.Suspect, c.Crashes, want[0] == 1, want[1])
		}
	}
}

// claimAndStop feeds key to a new tracker, returns the claim, and closes
// the tracker before any attempt: a shutdown, a fleet scaling down.
func claimAndStop(t *testing.T, s checkpoint.Store, owner, key string) checkpoint.Claim {
	t.Helper()
	tr, err := checkpoint.NewTracker(s, checkpoint.TrackerOptions{Owner: owner, QuickStart: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var got checkpoint.Claim
	tr.Feed(fctx, []string{key}, func(c checkpoint.Claim) error { got = c; cancel(); return nil })
	if err := tr.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestSuspectStaysSuspect: a suspect claim stopped before any attempt
// leaves the key a suspect for the next claim: its abandon cleared the
// lease, and with it the sign of the holder that died, so each such stop
// let one more run die at the item uncounted.
func TestSuspectStaysSuspect(t *testing.T) {
	t.Parallel()
	s := open(t, postgres.Options{})
	if _, err := s.ClaimBatch(ctx, []string{"k"}, "dead", 1, time.Microsecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // past the lease, by the server's clock too
	if c := claimAndStop(t, s, "second", "k"); !c.Suspect {
		t.Fatalf("the claim after the holder died: %+v; want a suspect", c)
	}
	if c := claimAndStop(t, s, "third", "k"); !c.Suspect {
		t.Errorf("the claim after a suspect claim stopped: %+v; want a suspect still", c)
	}
}

// wrapStore is a wrapper of a store whose leases are its own (a wrapper's
// LeaseBatcher methods then refuse them: ErrForeignLease), and pass
// TookOver through.
type wrapStore struct{ *postgres.Store }

type wrapLease struct{ checkpoint.Lease }

func (l wrapLease) TookOver() (bool, bool) { return l.Lease.(checkpoint.TakeoverLease).TookOver() }

func (w wrapStore) ClaimBatch(ctx context.Context, keys []string, owner string, n int, ttl time.Duration) ([]checkpoint.Lease, error) {
	ls, err := w.Store.ClaimBatch(ctx, keys, owner, n, ttl)
	for i := range ls {
		ls[i] = wrapLease{ls[i]}
	}
	return ls, err
}

// TestStartThroughAWrappersLease: a Start whose batch write the store
// refuses as a foreign lease's is made through the lease itself, as other
// writes are: the Running record was dropped, for the whole attempt.
func TestStartThroughAWrappersLease(t *testing.T) {
	t.Parallel()
	s := open(t, postgres.Options{})
	tr, err := checkpoint.NewTracker(wrapStore{s}, checkpoint.TrackerOptions{Owner: "me", QuickStart: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close(context.Background())
	claims := make(chan checkpoint.Claim, 1)
	go tr.Feed(ctx, []string{"k"}, func(c checkpoint.Claim) error { claims <- c; return nil })
	<-claims
	if err := tr.Start(ctx, "k", 1, time.Now()); err != nil {
		t.Fatal(err)
	}
	// The record is Running before the key's next write (Done here).
	deadline := time.Now().Add(time.Minute)
	for {
		rec, err := s.Get(ctx, "k")
		if err == nil && rec.State == checkpoint.Running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after Start: record %+v, %v; want Running", rec, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := tr.Done(ctx, "k", 1, checkpoint.SavedFile{Path: "/stickers/k.pdf", Size: 1, SHA256: strings.Repeat("ab", 32)}); err != nil {
		t.Fatal(err)
	}
}
