package checkpoint_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pagefleet/pagefleet/checkpoint"
)

// counted is a Memory that counts the calls a tracker makes of it.
type counted struct {
	*checkpoint.Memory
	mu      sync.Mutex
	claims  []int      // n of each ClaimBatch
	offered [][]string // keys of each ClaimBatch
	batches []int      // writes in each WriteBatch
	renews  []int      // leases in each RenewBatch
	lefts   []int      // keys in each Left
	alls    int
	gate    chan struct{} // if not nil, WriteBatch waits for it to close
}

func newCounted() *counted { return &counted{Memory: checkpoint.NewMemory()} }

func (c *counted) ClaimBatch(ctx context.Context, keys []string, owner string, n int, ttl time.Duration) ([]checkpoint.Lease, error) {
	c.mu.Lock()
	c.claims = append(c.claims, n)
	c.offered = append(c.offered, slices.Clone(keys))
	c.mu.Unlock()
	return c.Memory.ClaimBatch(ctx, keys, owner, n, ttl)
}

func (c *counted) WriteBatch(ctx context.Context, ws []checkpoint.LeaseWrite) ([]error, error) {
	c.mu.Lock()
	c.batches = append(c.batches, len(ws))
	gate := c.gate
	c.mu.Unlock()
	if gate != nil {
		<-gate
	}
	return c.Memory.WriteBatch(ctx, ws)
}

func (c *counted) RenewBatch(ctx context.Context, ls []checkpoint.Lease, ttl time.Duration) ([]error, error) {
	c.mu.Lock()
	c.renews = append(c.renews, len(ls))
	c.mu.Unlock()
	return c.Memory.RenewBatch(ctx, ls, ttl)
}

func (c *counted) Left(ctx context.Context, keys []string) ([]checkpoint.Record, error) {
	c.mu.Lock()
	c.lefts = append(c.lefts, len(keys))
	c.mu.Unlock()
	return c.Memory.Left(ctx, keys)
}

func (c *counted) All(ctx context.Context) iter.Seq2[checkpoint.Record, error] {
	c.mu.Lock()
	c.alls++
	c.mu.Unlock()
	return c.Memory.All(ctx)
}

// keysN returns n keys.
func keysN(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("VIN%05d", i)
	}
	return keys
}

// claimAll has tr claim n keys through a Feed, and returns them and the
// Feed.
func claimAll(t *testing.T, tr *checkpoint.Tracker, n int) ([]string, *feeding) {
	t.Helper()
	keys := keysN(n)
	f := startFeed(tr, keys)
	for range keys {
		f.claim(t)
	}
	return keys, f
}

// TestTrackerBatchesWrites: a write goes at once while no batch is on its
// way; the writes that come while one is go together in the next, and each call returns once its record is stored. A call
// whose context ends while its write waits stores nothing.
func TestTrackerBatchesWrites(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		store := newCounted()
		defer store.Close()
		tr := newTracker(t, store, checkpoint.TrackerOptions{Owner: "a", Hold: 8})
		keys, f := claimAll(t, tr, 8)
		gate := func() chan struct{} {
			store.mu.Lock()
			defer store.mu.Unlock()
			store.gate = make(chan struct{})
			return store.gate
		}
		wantBatches := func(want ...int) {
			t.Helper()
			store.mu.Lock()
			defer store.mu.Unlock()
			if !slices.Equal(store.batches, want) {
				t.Errorf("batches %v, want %v", store.batches, want)
			}
		}
		t0 := time.Now()
		var wg sync.WaitGroup
		begin := func(k string) {
			wg.Go(func() {
				if err := tr.Begin(ctx, k, 1, t0); err != nil {
					t.Error(err)
				}
			})
			synctest.Wait()
		}
		g := gate()
		begin(keys[0]) // on its way, in a batch of its own
		begin(keys[1]) // waits
		for _, k := range keys[2:5] {
			wg.Go(func() {
				if err := tr.Done(ctx, k, 1, checkpoint.SavedFile{Path: "/out/" + k, SHA256: "00"}); err != nil {
					t.Error(err)
				}
				if r := getRecord(t, store, k); r.State != checkpoint.Done {
					t.Errorf("%s after Done returned: %s", k, r.State)
				}
			})
		}
		synctest.Wait() // the Dones wait too
		if st := tr.Stats(); st.Done != 0 {
			t.Errorf("Done before its batch was stored: %+v", st)
		}
		close(g)
		wg.Wait()
		wantBatches(1, 4)

		g = gate()
		begin(keys[5]) // on its way
		begin(keys[6]) // waits, and goes alone: the Done below gives up
		c, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		defer cancel()
		if err := tr.Done(c, keys[7], 1, checkpoint.SavedFile{Path: "/out/x", SHA256: "00"}); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Done whose context ended while it waited: %v", err)
		}
		close(g)
		wg.Wait()
		if _, err := store.Get(ctx, keys[7]); !errors.Is(err, checkpoint.ErrNotFound) {
			t.Errorf("%s after a Done that gave up: %v; want no record", keys[7], err)
		}
		wantBatches(1, 4, 1, 1)
		wantStats(t, tr, checkpoint.TrackerStats{Held: 5, Claimed: 8, Done: 3})
		f.stop(t)
	})
}

// TestTrackerCommitDelay: with CommitDelay, a batch waits that long after
// its first write for more: writes that come a millisecond apart go in one
// batch, not in one each; a write whose context ends meanwhile is taken
// back.
func TestTrackerCommitDelay(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		store := newCounted()
		defer store.Close()
		tr := newTracker(t, store, checkpoint.TrackerOptions{Owner: "a", Hold: 8, CommitDelay: 10 * time.Millisecond})
		keys, f := claimAll(t, tr, 8)
		var wg sync.WaitGroup
		start := time.Now()
		for _, k := range keys[:6] {
			wg.Go(func() {
				if err := tr.Done(ctx, k, 1, checkpoint.SavedFile{Path: "/out/" + k, SHA256: "00"}); err != nil {
					t.Error(err)
				}
			})
			time.Sleep(time.Millisecond)
		}
		c, cancel := context.WithTimeout(ctx, 2*time.Millisecond)
		defer cancel()
		if err := tr.Done(c, keys[6], 1, checkpoint.SavedFile{Path: "/out/x", SHA256: "00"}); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Done whose context ended while its batch waited: %v", err)
		}
		wg.Wait()
		if d := time.Since(start); d != 10*time.Millisecond {
			t.Errorf("the batch was stored after %v, want CommitDelay (10ms)", d)
		}
		store.mu.Lock()
		if want := []int{6}; !slices.Equal(store.batches, want) {
			t.Errorf("batches %v, want %v", store.batches, want)
		}
		store.mu.Unlock()
		if _, err := store.Get(ctx, keys[6]); !errors.Is(err, checkpoint.ErrNotFound) {
			t.Errorf("%s after a Done that gave up: %v; want no record", keys[6], err)
		}
		wantStats(t, tr, checkpoint.TrackerStats{Held: 2, Claimed: 8, Done: 6})
		f.stop(t)
	})
}

// TestTrackerCommitDelaySendsNoEmptyBatch: a batch whose every write was
// taken back during the delay (their contexts ended) is not sent.
func TestTrackerCommitDelaySendsNoEmptyBatch(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		store := newCounted()
		defer store.Close()
		tr := newTracker(t, store, checkpoint.TrackerOptions{Owner: "a", Hold: 1, CommitDelay: 10 * time.Millisecond})
		f := startFeed(tr, keysN(1))
		k := f.claim(t).Key
		c, cancel := context.WithTimeout(ctx, 2*time.Millisecond)
		defer cancel()
		if err := tr.Done(c, k, 1, checkpoint.SavedFile{Path: "/out/x", SHA256: "00"}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Done: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
		store.mu.Lock()
		if len(store.batches) != 0 {
			t.Errorf("WriteBatch calls %v after the only write was taken back; want none", store.batches)
		}
		store.mu.Unlock()
		f.stop(t)
	})
}

// TestTrackerCloseSkipsTheCommitDelay: Close's writes go at once, so that a
// Close whose context ends within CommitDelay still records its stops (the
// next run would count a crash for each key), and a Done that waits in a
// batch's delay as Close begins is sent then, not after it.
func TestTrackerCloseSkipsTheCommitDelay(t *testing.T) {
	t.Parallel()
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		synctest.Test(t, func(t *testing.T) {
			store := newCounted()
			defer store.Close()
			tr := newTracker(t, store, checkpoint.TrackerOptions{Owner: "a", Hold: 3, CommitDelay: time.Hour})
			keys, f := claimAll(t, tr, 3)
			f.stop(t)
			for _, k := range keys[:2] {
				go func() {
					if err := tr.Begin(ctx, k, 1, time.Now()); err != nil {
						t.Error(err)
					}
				}()
			}
			go tr.Done(ctx, keys[2], 1, checkpoint.SavedFile{Path: "/out/x", SHA256: "00"})
			synctest.Wait()
			c, cancel := context.WithTimeout(ctx, time.Millisecond)
			defer cancel()
			if err := tr.Close(c); err != nil {
				t.Errorf("Close: %v", err)
			}
			for k, want := range map[string]checkpoint.State{keys[0]: checkpoint.Pending, keys[1]: checkpoint.Pending, keys[2]: checkpoint.Done} {
				if r, err := store.Get(ctx, k); err != nil || r.State != want {
					t.Errorf("%s after Close: %v %v; want %s", k, r.State, err, want)
				}
			}
		})
	}()
	select {
	case <-finished:
	case <-time.After(time.Minute): // real time: a stopped fake clock hangs
		t.Fatal("Close waited for a batch's CommitDelay (an hour of fake time that never passes while a key's lock is contended)")
	}
}

// TestTrackerRenewsInOneCall: the leases the tracker holds are renewed in
// one call of a LeaseBatcher, not one each.
func TestTrackerRenewsInOneCall(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		store := newCounted()
		defer store.Close()
		tr := newTracker(t, store, checkpoint.TrackerOptions{Owner: "a", Hold: 8, LeaseTTL: 30 * time.Second})
		keys, f := claimAll(t, tr, 8)
		time.Sleep(31 * time.Second) // three renewals
		store.mu.Lock()
		if want := []int{8, 8, 8}; !slices.Equal(store.renews, want) {
			t.Errorf("RenewBatch calls of %v leases, want %v", store.renews, want)
		}
		store.mu.Unlock()
		if _, err := store.Claim(ctx, keys[0], "b", time.Minute); !errors.Is(err, checkpoint.ErrLeased) {
			t.Errorf("Claim of a renewed key: %v", err)
		}
		f.stop(t)
		tr.Close(ctx)
	})
}

// wrapped is a Memory behind a wrapper of its leases, as a user might
// write one: its leases are foreign to the Memory's LeaseBatcher methods,
// which the wrapper promotes. The tracker must notice, and use the leases'
// own methods.
type wrapped struct{ *checkpoint.Memory }

type wrappedLease struct{ checkpoint.Lease }

func (w wrapped) ClaimBatch(ctx context.Context, keys []string, owner string, n int, ttl time.Duration) ([]checkpoint.Lease, error) {
	ls, err := w.Memory.ClaimBatch(ctx, keys, owner, n, ttl)
	for i, l := range ls {
		ls[i] = wrappedLease{l}
	}
	return ls, err
}

func TestTrackerForeignLeases(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		store := wrapped{checkpoint.NewMemory()}
		defer store.Close()
		tr := newTracker(t, store, checkpoint.TrackerOptions{Owner: "a", LeaseTTL: 30 * time.Second})
		f := startFeed(tr, []string{"k", "slow"})
		f.claim(t)
		f.claim(t)
		if err := tr.Begin(ctx, "slow", 1, time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := tr.Done(ctx, "k", 1, checkpoint.SavedFile{Path: "/out/k", SHA256: "00"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Minute)
		if _, err := store.Claim(ctx, "slow", "b", time.Minute); !errors.Is(err, checkpoint.ErrLeased) {
			t.Errorf("Claim of a key held for twenty TTLs: %v, want ErrLeased", err)
		}
		if err := tr.Done(ctx, "slow", 1, checkpoint.SavedFile{Path: "/out/slow", SHA256: "00"}); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"k", "slow"} {
			if r := getRecord(t, store, k); r.State != checkpoint.Done {
				t.Errorf("%s: %s", k, r.State)
			}
		}
		if err := <-f.done; err != nil {
			t.Errorf("Feed: %v", err)
		}
	})
}

// TestFeedClaimsInBatches: Feed claims when a quarter of Hold is free, not
// for every key that ends.
func TestFeedClaimsInBatches(t *testing.T) {
	t.Parallel()
	store := newCounted()
	defer store.Close()
	tr := newTracker(t, store, checkpoint.TrackerOptions{Owner: "a", Hold: 16})
	feedAllDone(t, ctx, tr, keysN(200))
	store.mu.Lock()
	defer store.mu.Unlock()
	for _, n := range store.claims {
		if n < 4 {
			t.Errorf("a claim of %d keys: want at least Hold/4 (4) at a time; claims %v", n, store.claims)
			break
		}
	}
	if len(store.claims) > 200/4+1 {
		t.Errorf("%d claims for 200 keys: %v", len(store.claims), store.claims)
	}
}

// TestFeedSurveys: on a Surveyor, Feed asks about the keys other owners
// hold — never reading the whole store — as they gather and when it waits.
func TestFeedSurveys(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		store := newCounted()
		defer store.Close()
		keys := keysN(6000)
		// Another owner holds every other key of the first 5000.
		other := newTracker(t, store, checkpoint.TrackerOptions{Owner: "other", Hold: 2500})
		var theirs []string
		for i := 0; i < 5000; i += 2 {
			theirs = append(theirs, keys[i])
		}
		fo := startFeed(other, theirs)
		for range theirs {
			fo.claim(t)
		}
		tr := newTracker(t, store, checkpoint.TrackerOptions{Owner: "a", Hold: 64})
		done := make(chan error)
		go func() {
			done <- tr.Feed(ctx, keys, func(c checkpoint.Claim) error {
				return tr.Done(ctx, c.Key, 1, checkpoint.SavedFile{Path: "/out/" + c.Key, SHA256: "00"})
			})
		}()
		synctest.Wait() // a has done all it can: 3500 keys; 2500 are the other's
		store.mu.Lock()
		lefts := slices.Clone(store.lefts)
		store.mu.Unlock()
		if len(lefts) == 0 || lefts[0] < 2048 {
			t.Errorf("Left calls of %v keys: want one as the parked keys gathered", lefts)
		}
		for _, k := range theirs {
			if err := other.Done(ctx, k, 1, checkpoint.SavedFile{Path: "/out/" + k, SHA256: "00"}); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(2 * time.Second) // a poll
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if err := <-fo.done; err != nil {
			t.Fatal(err)
		}
		store.mu.Lock()
		if store.alls != 0 {
			t.Errorf("Feed read the whole store %d times", store.alls)
		}
		store.mu.Unlock()
		wantStats(t, tr, checkpoint.TrackerStats{Claimed: 3500, Done: 3500, Elsewhere: 2500})
	})
}

// TestFeedPastFailedKeys: claims that Feed gives up at once — keys another
// owner gave up meanwhile — leave room to claim others in the same pass.
func TestFeedPastFailedKeys(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		store := newCounted()
		defer store.Close()
		keys := keysN(12)
		for _, k := range keys[:8] {
			if err := store.Put(ctx, checkpoint.Record{Key: k, State: checkpoint.Failed, Owner: "other"}); err != nil {
				t.Fatal(err)
			}
		}
		tr := newTracker(t, store, checkpoint.TrackerOptions{Owner: "a", Hold: 4})
		err := tr.Feed(ctx, keys, func(c checkpoint.Claim) error {
			return tr.Done(ctx, c.Key, 1, checkpoint.SavedFile{Path: "/out/" + c.Key, SHA256: "00"})
		})
		if err != nil {
			t.Fatal(err)
		}
		wantStats(t, tr, checkpoint.TrackerStats{Claimed: 4, Done: 4, Elsewhere: 8})
	})
}

// TestFeedWindow: Feed offers a claim a few times the keys it needs, not a
// long stretch of its list: every key offered costs the client and the
// server. Only a window that reaches keys never offered reaches 1,024 keys
// ahead, so that a store adds their rows at once. (A claim that comes back
// short gets a longer window next: TestFeedSurveys passes over thousands of
// keys others hold.)
func TestFeedWindow(t *testing.T) {
	t.Parallel()
	store := newCounted()
	defer store.Close()
	tr := newTracker(t, store, checkpoint.TrackerOptions{Owner: "a", Hold: 16})
	feedAllDone(t, ctx, tr, keysN(3000))
	store.mu.Lock()
	defer store.mu.Unlock()
	long := 0
	for _, o := range store.offered {
		if len(o) > 64 {
			long++
		}
	}
	if want := 3000/(1024-64) + 1; long > want {
		t.Errorf("%d of %d claims offered more than 64 keys for at most 16: want at most one in 960 keys (%d)", long, len(store.offered), want)
	}
	if len(store.offered) == 0 || len(store.offered[0]) != 1024 {
		t.Errorf("the first claim offered %d keys: want 1,024, the keys ahead", len(store.offered[0]))
	}
	wantStats(t, tr, checkpoint.TrackerStats{Claimed: 3000, Done: 3000})
}

// TestFeedSpread: with Spread, Feed goes through its list from a place of
// its owner's, round to the place before it, each key once; owners start
// at different places.
func TestFeedSpread(t *testing.T) {
	t.Parallel()
	keys := keysN(1000)
	starts := map[string]string{}
	for _, owner := range []string{"proc-0", "proc-1"} {
		store := newCounted()
		tr := newTracker(t, store, checkpoint.TrackerOptions{Owner: owner, Hold: 8, Spread: true})
		var claimed []string
		err := tr.Feed(ctx, keys, func(c checkpoint.Claim) error {
			claimed = append(claimed, c.Key)
			return tr.Done(ctx, c.Key, 1, checkpoint.SavedFile{Path: "/out/" + c.Key, SHA256: "00"})
		})
		store.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(claimed) != len(keys) {
			t.Fatalf("%s: claimed %d keys, want %d", owner, len(claimed), len(keys))
		}
		i := slices.Index(keys, claimed[0])
		if want := slices.Concat(keys[i:], keys[:i]); !slices.Equal(claimed, want) {
			t.Errorf("%s: claimed %v…, want todo from %s round to the key before it", owner, claimed[:10], claimed[0])
		}
		starts[owner] = claimed[0]
	}
	if starts["proc-0"] == starts["proc-1"] || starts["proc-0"] == keys[0] && starts["proc-1"] == keys[0] {
		t.Errorf("proc-0 starts at %s, proc-1 at %s: want different places", starts["proc-0"], starts["proc-1"])
	}
}

// TestFeedSkipsFinishedStretches: a claim that finds nothing free makes
// Feed ask a Surveyor about the keys ahead at once, and drop those others
// finished, rather than claim through them a window at a time: with Spread,
// at the end of a job, most of a process's list is others' finished work.
func TestFeedSkipsFinishedStretches(t *testing.T) {
	t.Parallel()
	store := newCounted()
	defer store.Close()
	keys := keysN(6000)
	var done []checkpoint.Record
	for _, k := range keys[100:5100] {
		done = append(done, checkpoint.Record{Key: k, State: checkpoint.Done, Owner: "other", Path: "/out/" + k, SHA256: "00"})
	}
	if err := store.PutBatch(ctx, done); err != nil {
		t.Fatal(err)
	}
	tr := newTracker(t, store, checkpoint.TrackerOptions{Owner: "a", Hold: 16})
	err := tr.Feed(ctx, keys, func(c checkpoint.Claim) error {
		return tr.Done(ctx, c.Key, 1, checkpoint.SavedFile{Path: "/out/" + c.Key, SHA256: "00"})
	})
	if err != nil {
		t.Fatal(err)
	}
	wantStats(t, tr, checkpoint.TrackerStats{Claimed: 1000, Done: 1000, Elsewhere: 5000})
	store.mu.Lock()
	defer store.mu.Unlock()
	offered := 0
	for _, o := range store.offered {
		for _, k := range o {
			if slices.Contains(keys[100:5100], k) {
				offered++
			}
		}
	}
	if offered > 2048 {
		t.Errorf("claims offered keys others finished %d times: want Feed to ask about the 5,000 of them at once", offered)
	}
}

// feedAllDone feeds keys to tr and finishes each claim as Done at once,
// from a goroutine of its own, as a pool's workers would.
func feedAllDone(t *testing.T, ctx context.Context, tr *checkpoint.Tracker, keys []string) {
	t.Helper()
	var wg sync.WaitGroup
	err := tr.Feed(ctx, keys, func(c checkpoint.Claim) error {
		wg.Go(func() {
			if err := tr.Done(ctx, c.Key, 1, checkpoint.SavedFile{Path: "/out/" + c.Key, SHA256: "00"}); err != nil {
				t.Error(err)
			}
		})
		return nil
	})
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
}

// TestFeedSurveysAKeyOnce: keys another owner holds stay in the queue after
// a survey (they are not finished); the empty claims through them ask the
// Surveyor only about keys beyond those asked about already, not about the
// same keys again at each one.
func TestFeedSurveysAKeyOnce(t *testing.T) {
	t.Parallel()
	store := newCounted()
	defer store.Close()
	keys := keysN(12000)
	held := keys[100:8100]
	for chunk := range slices.Chunk(held, 1000) {
		if ls, err := store.Memory.ClaimBatch(ctx, chunk, "other", len(chunk), time.Hour); err != nil || len(ls) != len(chunk) {
			t.Fatal(len(ls), err)
		}
	}
	tr := newTracker(t, store, checkpoint.TrackerOptions{Owner: "a", Hold: 16})
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	past := 0
	err := tr.Feed(fctx, keys, func(c checkpoint.Claim) error {
		if c.Key >= keys[8100] {
			if past++; past == 100 {
				cancel()
			}
		}
		return tr.Done(ctx, c.Key, 1, checkpoint.SavedFile{Path: "/out/" + c.Key, SHA256: "00"})
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Feed: %v, want it canceled past the held keys", err)
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	asked := 0
	for _, n := range store.lefts {
		asked += n
	}
	t.Logf("Left: %d calls, %d keys", len(store.lefts), asked)
	if asked > len(keys) {
		t.Errorf("Left asked about %d keys in %d calls to get past %d held ones: want each key at most once (≤ %d)", asked, len(store.lefts), len(held), len(keys))
	}
}

// TestFeedNoticesTheEndSoon: at the end of a shared job, what is left is
// held by other owners, who finish it one key after another. Feed polls
// often while they do — it ends soon after the last of them, not up to a
// whole PollInterval later — and less often while nothing ends, back to
// one poll per PollInterval.
func TestFeedNoticesTheEndSoon(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		store := newCounted()
		other := newTracker(t, store, checkpoint.TrackerOptions{Owner: "other", Hold: 8})
		theirs := keysN(8)
		fo := startFeed(other, theirs)
		for range theirs {
			fo.claim(t)
		}
		tr := newTracker(t, store, checkpoint.TrackerOptions{Owner: "a", PollInterval: time.Second})
		done := make(chan error, 1)
		go func() { done <- tr.Feed(ctx, theirs, func(checkpoint.Claim) error { return nil }) }()

		// Nothing ends for a minute: the polls back off to the interval.
		time.Sleep(time.Minute)
		synctest.Wait()
		store.mu.Lock()
		idle := len(store.lefts)
		store.mu.Unlock()
		if idle > 70 {
			t.Errorf("%d polls in a minute with nothing ending; want about one a second", idle)
		}
		// Then the other owner finishes a key every 130 ms.
		var last time.Time
		for _, k := range theirs {
			time.Sleep(130 * time.Millisecond)
			if err := other.Done(ctx, k, 1, checkpoint.SavedFile{Path: "/out/" + k, SHA256: "00"}); err != nil {
				t.Fatal(err)
			}
			last = time.Now()
		}
		wantEndSoon(t, done, last)
		if err := <-fo.done; err != nil {
			t.Fatal(err)
		}
	})
}

// wantEndSoon waits for a Feed's end on done, which should come soon after
// the last key was finished, at last.
func wantEndSoon(t *testing.T, done <-chan error, last time.Time) {
	t.Helper()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if lag := time.Since(last); lag > 200*time.Millisecond {
		t.Errorf("Feed ended %v after the last key was finished; want it soon", lag)
	}
}

// TestFeedPollsGentlyInALongTail: while other owners work through many
// more keys than this tracker holds, Feed, which can claim none of them,
// polls about once per PollInterval, not as fast as at the very end.
func TestFeedPollsGentlyInALongTail(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		store := newCounted()
		theirs := keysN(300)
		other := newTracker(t, store, checkpoint.TrackerOptions{Owner: "other", Hold: len(theirs)})
		fo := startFeed(other, theirs)
		for range theirs {
			fo.claim(t)
		}
		tr := newTracker(t, store, checkpoint.TrackerOptions{Owner: "a", Hold: 8, PollInterval: time.Second})
		done := make(chan error, 1)
		go func() { done <- tr.Feed(ctx, theirs, func(checkpoint.Claim) error { return nil }) }()
		// The other owner finishes a key every 50 ms: 15 s for the 300.
		for i, k := range theirs {
			time.Sleep(50 * time.Millisecond)
			if err := other.Done(ctx, k, 1, checkpoint.SavedFile{Path: "/out/" + k, SHA256: "00"}); err != nil {
				t.Fatal(err)
			}
			if i == len(theirs)-9 { // the last 8 keys are left
				synctest.Wait()
				store.mu.Lock()
				if n := len(store.lefts); n > 25 {
					t.Errorf("%d polls in the 14.6 s while more keys were left than Feed holds; want about one a second", n)
				}
				store.mu.Unlock()
			}
		}
		wantEndSoon(t, done, time.Now())
		if err := <-fo.done; err != nil {
			t.Fatal(err)
		}
	})
}

// TestFeedFromTakesKeysAsTheyCome: FeedFrom claims a batch's keys as soon
// as it arrives, not once the last batch has, in the order they came; it
// ends once its channel is closed and every key is finished, and a key
// given again in a later batch is an error.
func TestFeedFromTakesKeysAsTheyCome(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tr := newTracker(t, checkpoint.NewMemory(), checkpoint.TrackerOptions{Owner: "a", Hold: 4})
		in := make(chan []string)
		claims := make(chan checkpoint.Claim, 100)
		done := make(chan error, 1)
		go func() { done <- tr.FeedFrom(ctx, in, func(c checkpoint.Claim) error { claims <- c; return nil }) }()
		finish := func(want ...string) {
			t.Helper()
			synctest.Wait()
			for _, k := range want {
				select {
				case c := <-claims:
					if c.Key != k {
						t.Fatalf("claimed %s; want %s", c.Key, k)
					}
					if err := tr.Done(ctx, k, 1, checkpoint.SavedFile{Path: "/out/" + k, SHA256: "00"}); err != nil {
						t.Fatal(err)
					}
				default:
					t.Fatalf("%s is not claimed before the next batch came", k)
				}
				synctest.Wait()
			}
			select {
			case err := <-done:
				t.Fatalf("FeedFrom returned %v while its channel is open", err)
			default:
			}
		}
		in <- []string{"k1", "k2"}
		finish("k1", "k2")
		time.Sleep(time.Hour) // a listing may pause: nothing to claim meanwhile
		in <- []string{"k3", "k4", "k5", "k6", "k7"}
		finish("k3", "k4", "k5", "k6", "k7")
		close(in)
		if err := <-done; err != nil {
			t.Fatalf("FeedFrom: %v", err)
		}

		in = make(chan []string, 2)
		in <- []string{"k8"}
		in <- []string{"k9", "k8"}
		close(in)
		err := tr.FeedFrom(ctx, in, func(c checkpoint.Claim) error { return tr.Stop(ctx, c.Key, 0) })
		if err == nil || !strings.Contains(err.Error(), "given twice") {
			t.Errorf("FeedFrom with a key in two batches: %v; want an error saying so", err)
		}
	})
}

// TestFeedSkipsALongStretchInFewReads: with Spread, at the end of a job,
// most of a process's list is others' finished work. Feed gets through it
// with few surveys, each asking about more keys than the one before while
// they find nothing open, and without claims through keys not surveyed.
func TestFeedSkipsALongStretchInFewReads(t *testing.T) {
	t.Parallel()
	store := newCounted()
	defer store.Close()
	keys := keysN(100_000)
	finished := keys[100:95_100]
	var done []checkpoint.Record
	for _, k := range finished {
		done = append(done, checkpoint.Record{Key: k, State: checkpoint.Done, Owner: "other", Path: "/out/" + k, SHA256: "00"})
	}
	if err := store.PutBatch(ctx, done); err != nil {
		t.Fatal(err)
	}
	tr := newTracker(t, store, checkpoint.TrackerOptions{Owner: "a", Hold: 16})
	err := tr.Feed(ctx, keys, func(c checkpoint.Claim) error {
		return tr.Done(ctx, c.Key, 1, checkpoint.SavedFile{Path: "/out/" + c.Key, SHA256: "00"})
	})
	if err != nil {
		t.Fatal(err)
	}
	wantStats(t, tr, checkpoint.TrackerStats{Claimed: 5000, Done: 5000, Elsewhere: len(finished)})
	store.mu.Lock()
	defer store.mu.Unlock()
	isFinished := make(map[string]bool, len(finished))
	for _, k := range finished {
		isFinished[k] = true
	}
	offered := 0
	for _, o := range store.offered {
		for _, k := range o {
			if isFinished[k] {
				offered++
			}
		}
	}
	t.Logf("Left: %d calls %v; claims offered finished keys %d times", len(store.lefts), store.lefts, offered)
	if len(store.lefts) > 5 {
		t.Errorf("%d surveys to get past %d finished keys: want the chunks to grow (≤ 5)", len(store.lefts), len(finished))
	}
	if offered > 2*1024 { // the first claim's window reaches 1,024 keys ahead
		t.Errorf("claims offered keys others finished %d times: want them dropped by surveys, not passed over", offered)
	}
}

// flakyLeft fails the Left calls whose number (from 1) is in fail.
type flakyLeft struct {
	*counted
	mu    sync.Mutex
	calls int
	fail  map[int]bool
}

func (s *flakyLeft) Left(ctx context.Context, keys []string) ([]checkpoint.Record, error) {
	s.mu.Lock()
	s.calls++
	n := s.calls
	s.mu.Unlock()
	if s.fail[n] {
		return nil, errors.New("flaky: connection reset")
	}
	return s.counted.Left(ctx, keys)
}

// TestFeedSurveysPastAFailure: a survey that fails is retried after a poll;
// one that succeeds ends the failure. In a long stretch others finished,
// Feed surveys back to back again (not one survey per PollInterval), and a
// later single failure is ridden out, not counted from the first one.
func TestFeedSurveysPastAFailure(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		store := &flakyLeft{counted: newCounted(), fail: map[int]bool{2: true, 3: true, 5: true, 8: true}}
		defer store.Close()
		keys := keysN(100_000)
		var done []checkpoint.Record
		for _, k := range keys[:95_000] {
			done = append(done, checkpoint.Record{Key: k, State: checkpoint.Done, Owner: "other", Path: "/out/" + k, SHA256: "00"})
		}
		if err := store.PutBatch(ctx, done); err != nil {
			t.Fatal(err)
		}
		tr := newTracker(t, store, checkpoint.TrackerOptions{Owner: "a", Hold: 16, PollInterval: time.Second, LeaseTTL: 2 * time.Second})
		start := time.Now()
		err := tr.Feed(ctx, keys, func(c checkpoint.Claim) error {
			return tr.Done(ctx, c.Key, 1, checkpoint.SavedFile{Path: "/out/" + c.Key, SHA256: "00"})
		})
		if err != nil {
			t.Fatalf("Feed: %v; want it to ride out failures the store recovered from", err)
		}
		if took := time.Since(start); took > 3500*time.Millisecond {
			t.Errorf("Feed took %v past 4 failed surveys: the ones that succeeded waited a PollInterval each", took)
		}
		wantStats(t, tr, checkpoint.TrackerStats{Claimed: 5000, Done: 5000, Elsewhere: 95_000})
	})
}
