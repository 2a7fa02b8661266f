// Package checkpointtest is a conformance suite for implementations of
// [checkpoint.Store], in the manner of testing/fstest and testing/slogtest.
//
// # Usage
//
// A store that keeps nothing after Close runs it in one line:
//
//	func TestStore(t *testing.T) {
//		checkpointtest.Run(t, func(t *testing.T) checkpoint.Store { return mystore.New() })
//	}
//
// A store that persists also says how to open it again, which adds the
// persistence tests:
//
//	checkpointtest.Suite{
//		New:    func(t *testing.T) checkpoint.Store { return open(t, filepath.Join(t.TempDir(), "cp")) },
//		Reopen: func(t *testing.T, s checkpoint.Store) checkpoint.Store { return open(t, s.(*mystore.Store).Path()) },
//	}.Run(t)
//
// # What it checks
//
// Put, Get and overwrite with every field and state; ErrNotFound for a missing key;
// ErrInvalid for bad records; that a zero Updated is filled; that callers
// can't change stored records through Meta maps; All in key order, early
// break and Put during iteration; canceled contexts; Close and ErrClosed;
// concurrent writers and readers (run it with -race); large values and many
// records; PutBatch when the store is a [checkpoint.Batcher]; and, with
// Reopen, that everything survives a reopen.
//
// Subtests run in parallel, each on its own store from New. Times in the
// suite's records have microsecond precision, what PostgreSQL keeps.
//
// # Leases
//
// A store that is a [checkpoint.Leaser] also runs [LeaseSuite], which
// checks claims, renewals, releases and lost leases, and many goroutines
// claiming the same keys. Leases expire by a clock: a store that can take
// the suite's fake [Clock] lets the suite advance it instead of waiting,
//
//	checkpointtest.RunLeaser(t, func(t *testing.T, clock *checkpointtest.Clock) checkpoint.Store {
//		return &checkpoint.Memory{Now: clock.Now}
//	})
//
// and one that keeps its own (a database server's) sets [LeaseSuite].TTL to
// a short TTL that the suite waits out.
package checkpointtest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagefleet/pagefleet/checkpoint"
)

// Suite describes the store under test.
type Suite struct {
	// New returns a new, empty store. The suite closes it. Required.
	New func(t *testing.T) checkpoint.Store
	// Reopen returns a store over the data of s, which the suite has
	// closed. Nil for a store that keeps nothing after Close: the
	// persistence tests are then skipped.
	Reopen func(t *testing.T, s checkpoint.Store) checkpoint.Store
	// Many is how many records the Many test puts, in batches if the store
	// is a [checkpoint.Batcher] and one by one otherwise. Defaults to
	// 100,000 for a Batcher (10,000 with -short or -race) and 2,000 otherwise.
	Many int
}

// Run runs the suite against stores from newStore, without the persistence
// tests. It is Suite{New: newStore}.Run(t).
func Run(t *testing.T, newStore func(t *testing.T) checkpoint.Store) {
	Suite{New: newStore}.Run(t)
}

// Run runs the suite as subtests of t.
func (s Suite) Run(t *testing.T) {
	t.Helper()
	if s.New == nil {
		t.Fatal("checkpointtest: Suite.New is nil")
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, s Suite)
	}{
		{"PutGet", testPutGet},
		{"Overwrite", testOverwrite},
		{"NotFound", testNotFound},
		{"Invalid", testInvalid},
		{"UpdatedDefault", testUpdatedDefault},
		{"Isolation", testIsolation},
		{"All", testAll},
		{"Canceled", testCanceled},
		{"Close", testClose},
		{"Concurrent", testConcurrent},
		{"Large", testLarge},
		{"Many", testMany},
		{"Batch", testBatch},
		{"Reopen", testReopen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, s)
		})
	}
}

func (s Suite) open(t *testing.T) checkpoint.Store {
	t.Helper()
	st := s.New(t)
	t.Cleanup(func() { st.Close() })
	return st
}

// reopen closes st and opens its data again, or skips the test.
func (s Suite) reopen(t *testing.T, st checkpoint.Store) checkpoint.Store {
	t.Helper()
	if s.Reopen == nil {
		t.Skip("no Suite.Reopen: the store does not persist")
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close before reopen: %v", err)
	}
	st = s.Reopen(t, st)
	t.Cleanup(func() { st.Close() })
	return st
}

var (
	base = time.Date(2025, 3, 1, 12, 0, 0, 123456000, time.FixedZone("EST", -5*3600))
	ctx  = context.Background()
)

// sample is a record with every field set; i varies the values.
func sample(key string, i int) checkpoint.Record {
	return checkpoint.Record{
		Key: key, State: checkpoint.Done, Attempts: 1 + i%3, Crashes: i % 2,
		Path: "out/" + key + ".pdf", Size: int64(1000 + i), SHA256: fmt.Sprintf("%064x", i),
		Owner: fmt.Sprintf("host-a/%d", i%4), Meta: map[string]string{"stock": fmt.Sprint("S", i), "vin": "1FT" + key},
		Started: base.Add(time.Duration(i) * time.Second), Updated: base.Add(time.Duration(i)*time.Second + time.Minute),
	}
}

func put(t *testing.T, st checkpoint.Store, recs ...checkpoint.Record) {
	t.Helper()
	for _, r := range recs {
		if err := st.Put(ctx, r); err != nil {
			t.Fatalf("Put(%.40q): %v", r.Key, err)
		}
	}
}

func get(t *testing.T, st checkpoint.Store, key string) checkpoint.Record {
	t.Helper()
	r, err := st.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get(%.40q): %v", key, err)
	}
	return r
}

func all(t *testing.T, st checkpoint.Store) []checkpoint.Record {
	t.Helper()
	var out []checkpoint.Record
	for r, err := range st.All(ctx) {
		if err != nil {
			t.Fatalf("All: %v", err)
		}
		out = append(out, r)
	}
	return out
}

// same compares records as stored values: the same instants whatever the
// time zone, and nil Meta equal to empty.
func same(a, b checkpoint.Record) bool {
	norm := func(r checkpoint.Record) checkpoint.Record {
		r.Started, r.Updated = r.Started.UTC(), r.Updated.UTC()
		if len(r.Meta) == 0 {
			r.Meta = nil
		}
		return r
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

func wantSame(t *testing.T, what string, got, want checkpoint.Record) {
	t.Helper()
	if !same(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", what, show(got), show(want))
	}
}

func show(r checkpoint.Record) string {
	s := fmt.Sprintf("%+v", r)
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

func wantAll(t *testing.T, st checkpoint.Store, want map[string]checkpoint.Record) {
	t.Helper()
	wantAllEvery(t, st, want, 1)
}

// wantAllEvery checks that All yields the keys of want in order, and the
// value of every n-th one.
func wantAllEvery(t *testing.T, st checkpoint.Store, want map[string]checkpoint.Record, n int) {
	t.Helper()
	got := all(t, st)
	if len(got) != len(want) {
		t.Fatalf("All yielded %d records, want %d", len(got), len(want))
	}
	for i, r := range got {
		if i > 0 && got[i-1].Key >= r.Key {
			t.Fatalf("All: %.40q came after %.40q: not in key order, or twice", r.Key, got[i-1].Key)
		}
		if w, ok := want[r.Key]; !ok || (i%n == 0 || i == len(got)-1) && !same(r, w) {
			t.Fatalf("All: record %d:\n got %s\nwant %s", i, show(r), show(w))
		}
	}
}

func testPutGet(t *testing.T, s Suite) {
	st := s.open(t)
	done := sample("VIN1", 1)
	failed := checkpoint.Record{
		Key: "ключ/ü 🚗 \"quoted\"", State: checkpoint.Failed, Attempts: 2, Owner: "w2",
		Err: "timeout: <html>&amp;\nline two\ttab \u2028 done", Updated: base,
	}
	running := checkpoint.Record{Key: "VIN3", State: checkpoint.Running, Attempts: 1, Started: base, Updated: base}
	pending := checkpoint.Record{Key: "VIN4", State: checkpoint.Pending, Attempts: 3, Crashes: 2, Err: "timeout", Started: base, Updated: base.Add(time.Hour)}
	put(t, st, done, failed, running, pending)
	for _, want := range []checkpoint.Record{done, failed, running, pending} {
		wantSame(t, "Get", get(t, st, want.Key), want)
	}
}

func testOverwrite(t *testing.T, s Suite) {
	st := s.open(t)
	r := checkpoint.Record{Key: "k", State: checkpoint.Running, Attempts: 1, Started: base, Updated: base}
	put(t, st, r)
	r.State, r.Err, r.Updated = checkpoint.Failed, "boom", base.Add(time.Second)
	put(t, st, r)
	r = sample("k", 7)
	put(t, st, r)
	wantSame(t, "Get after overwrites", get(t, st, "k"), r)
	wantAll(t, st, map[string]checkpoint.Record{"k": r})
}

func testNotFound(t *testing.T, s Suite) {
	st := s.open(t)
	if _, err := st.Get(ctx, "missing"); !errors.Is(err, checkpoint.ErrNotFound) {
		t.Errorf("Get on an empty store: err = %v, want ErrNotFound", err)
	}
	put(t, st, sample("present", 1))
	if _, err := st.Get(ctx, "missing"); !errors.Is(err, checkpoint.ErrNotFound) {
		t.Errorf("Get of a missing key: err = %v, want ErrNotFound", err)
	}
	if got := all(t, st); len(got) != 1 {
		t.Errorf("All yielded %d records, want 1", len(got))
	}
}

func testInvalid(t *testing.T, s Suite) {
	st := s.open(t)
	ok := sample("x", 1)
	for _, tc := range []struct {
		name string
		mod  func(r *checkpoint.Record)
	}{
		{"empty key", func(r *checkpoint.Record) { r.Key = "" }},
		{"long key", func(r *checkpoint.Record) { r.Key = strings.Repeat("k", checkpoint.MaxKeyLen+1) }},
		{"non-UTF-8 key", func(r *checkpoint.Record) { r.Key = "k\xff" }},
		{"no state", func(r *checkpoint.Record) { r.State = "" }},
		{"unknown state", func(r *checkpoint.Record) { r.State = "Done" }},
		{"negative attempts", func(r *checkpoint.Record) { r.Attempts = -1 }},
		{"negative crashes", func(r *checkpoint.Record) { r.Crashes = -1 }},
		{"negative size", func(r *checkpoint.Record) { r.Size = -1 }},
	} {
		r := ok
		tc.mod(&r)
		if err := st.Put(ctx, r); !errors.Is(err, checkpoint.ErrInvalid) {
			t.Errorf("Put with %s: err = %v, want ErrInvalid", tc.name, err)
		}
	}
	if got := all(t, st); len(got) != 0 {
		t.Errorf("invalid Puts stored %d records", len(got))
	}
}

func testUpdatedDefault(t *testing.T, s Suite) {
	st := s.open(t)
	before := time.Now().Add(-time.Second)
	put(t, st, checkpoint.Record{Key: "k", State: checkpoint.Done})
	after := time.Now().Add(time.Second)
	if u := get(t, st, "k").Updated; u.Before(before) || u.After(after) {
		t.Errorf("Updated = %v, want the time of Put (between %v and %v)", u, before, after)
	}
}

func testIsolation(t *testing.T, s Suite) {
	st := s.open(t)
	r := sample("k", 1)
	want := r
	want.Meta = maps.Clone(r.Meta)
	put(t, st, r)
	r.Meta["stock"] = "changed after Put"
	got := get(t, st, "k")
	got.Meta["stock"] = "changed after Get"
	for r, err := range st.All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		r.Meta["stock"] = "changed in All"
	}
	wantSame(t, "Get after callers changed Meta maps", get(t, st, "k"), want)
}

func testAll(t *testing.T, s Suite) {
	st := s.open(t)
	want := map[string]checkpoint.Record{}
	for _, i := range rand.Perm(300) {
		r := sample(fmt.Sprintf("key-%03d", i), i)
		want[r.Key] = r
		put(t, st, r)
	}
	wantAll(t, st, want)

	n := 0
	for _, err := range st.All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 10 {
			break
		}
	}
	for r, err := range st.All(ctx) { // a Put in the loop body must not deadlock
		if err != nil {
			t.Fatal(err)
		}
		put(t, st, sample("during-"+r.Key, 1))
		break
	}
	get(t, st, "during-key-000")
}

func testCanceled(t *testing.T, s Suite) {
	st := s.open(t)
	put(t, st, sample("present", 1))
	c, cancel := context.WithCancel(ctx)
	cancel()
	if err := st.Put(c, sample("k", 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a canceled context: err = %v, want context.Canceled", err)
	}
	if _, err := st.Get(c, "present"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a canceled context: err = %v, want context.Canceled", err)
	}
	for _, err := range st.All(c) {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("All with a canceled context: err = %v, want context.Canceled", err)
		}
	}
	if _, err := st.Get(ctx, "k"); !errors.Is(err, checkpoint.ErrNotFound) {
		t.Errorf("a Put with a canceled context stored its record (Get: %v)", err)
	}
}

func testClose(t *testing.T, s Suite) {
	st := s.open(t)
	put(t, st, sample("k", 1))
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
	if err := st.Put(ctx, sample("k2", 1)); !errors.Is(err, checkpoint.ErrClosed) {
		t.Errorf("Put after Close: err = %v, want ErrClosed", err)
	}
	if _, err := st.Get(ctx, "k"); !errors.Is(err, checkpoint.ErrClosed) {
		t.Errorf("Get after Close: err = %v, want ErrClosed", err)
	}
	for _, err := range st.All(ctx) {
		if !errors.Is(err, checkpoint.ErrClosed) {
			t.Errorf("All after Close: err = %v, want ErrClosed", err)
		}
	}
}

func testConcurrent(t *testing.T, s Suite) {
	st := s.open(t)
	const writers, each = 8, 40
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				r := sample(fmt.Sprintf("w%d-%03d", w, i), i)
				shared := sample("shared", w)
				for _, r := range []checkpoint.Record{r, shared} {
					if err := st.Put(ctx, r); err != nil {
						t.Errorf("Put: %v", err)
						return
					}
				}
				if _, err := st.Get(ctx, r.Key); err != nil {
					t.Errorf("Get of a key just put: %v", err)
				}
				if i%10 == 0 {
					for _, err := range st.All(ctx) {
						if err != nil {
							t.Errorf("All: %v", err)
						}
					}
				}
			}
		})
	}
	wg.Wait()
	want := map[string]checkpoint.Record{}
	for w := range writers {
		for i := range each {
			r := sample(fmt.Sprintf("w%d-%03d", w, i), i)
			want[r.Key] = r
		}
	}
	got := get(t, st, "shared")
	want["shared"] = got
	if !same(got, sample("shared", int(got.Size-1000))) {
		t.Errorf("shared key holds a value no writer wrote: %s", show(got))
	}
	wantAll(t, st, want)
	if s.Reopen != nil {
		wantAll(t, s.reopen(t, st), want)
	}
}

func testLarge(t *testing.T, s Suite) {
	st := s.open(t)
	meta := map[string]string{"big": strings.Repeat("é0123456789", 100_000)}
	for i := range 100 {
		meta[fmt.Sprint("field-", i)] = strings.Repeat("v", i)
	}
	big := sample(strings.Repeat("ü", checkpoint.MaxKeyLen/2), 1)
	big.Meta, big.Err = meta, strings.Repeat("error text\n", 25_000)
	small := sample("after-big", 2)
	put(t, st, big, small)
	wantSame(t, "Get of a large record", get(t, st, big.Key), big)
	wantSame(t, "Get of the record after it", get(t, st, small.Key), small)
	if s.Reopen != nil {
		st = s.reopen(t, st)
		wantSame(t, "Get of a large record after reopen", get(t, st, big.Key), big)
		wantSame(t, "Get of the record after it, after reopen", get(t, st, small.Key), small)
	}
}

func testMany(t *testing.T, s Suite) {
	st := s.open(t)
	b, ok := st.(checkpoint.Batcher)
	n := 2_000 // one Put at a time: keep it quick
	if ok {
		n = 100_000
		if testing.Short() || raceEnabled {
			n = 10_000
		}
	}
	n = cmp.Or(s.Many, n)
	want := make(map[string]checkpoint.Record, n)
	batch := make([]checkpoint.Record, 0, 10_000)
	for i := range n {
		r := sample(fmt.Sprintf("many-%06d", i), i)
		want[r.Key] = r
		if !ok {
			put(t, st, r)
			continue
		}
		if batch = append(batch, r); len(batch) == cap(batch) || i == n-1 {
			if err := b.PutBatch(ctx, batch); err != nil {
				t.Fatalf("PutBatch: %v", err)
			}
			batch = batch[:0]
		}
	}
	wantAllEvery(t, st, want, 97) // all values would take long under -race
	if s.Reopen != nil {
		wantAllEvery(t, s.reopen(t, st), want, 89)
	}
}

func testBatch(t *testing.T, s Suite) {
	st := s.open(t)
	b, ok := st.(checkpoint.Batcher)
	if !ok {
		t.Skip("not a checkpoint.Batcher")
	}
	if err := b.PutBatch(ctx, nil); err != nil {
		t.Errorf("PutBatch(nil): %v", err)
	}
	a1, a2, c := sample("a", 1), sample("a", 2), sample("c", 3)
	if err := b.PutBatch(ctx, []checkpoint.Record{a1, c, a2}); err != nil {
		t.Fatalf("PutBatch: %v", err)
	}
	bad := checkpoint.Record{Key: "", State: checkpoint.Done}
	if err := b.PutBatch(ctx, []checkpoint.Record{sample("d", 4), bad}); !errors.Is(err, checkpoint.ErrInvalid) {
		t.Errorf("PutBatch with an invalid record: err = %v, want ErrInvalid", err)
	}
	want := map[string]checkpoint.Record{"a": a2, "c": c}
	wantAll(t, st, want)
	if s.Reopen != nil {
		wantAll(t, s.reopen(t, st), want)
	}
}

func testReopen(t *testing.T, s Suite) {
	st := s.open(t)
	want := map[string]checkpoint.Record{}
	for i := range 50 {
		r := sample(fmt.Sprint("k", i%20), i) // 30 overwrites
		want[r.Key] = r
		put(t, st, r)
	}
	auto := checkpoint.Record{Key: "auto-updated", State: checkpoint.Failed, Err: "x"}
	put(t, st, auto)
	want[auto.Key] = get(t, st, auto.Key)
	st = s.reopen(t, st)
	wantAll(t, st, want)

	more := sample("after-reopen", 99)
	want[more.Key] = more
	put(t, st, more)
	st = s.reopen(t, st)
	wantAll(t, st, want)
	if err := st.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}
