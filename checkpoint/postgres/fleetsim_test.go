package postgres_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/checkpoint/postgres"
	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/pool"
	"github.com/pagefleet/pagefleet/pool/pooltest"
)

// The fleet simulation: P processes of W workers each work through N items
// in one table, the way P copies of jdrun on P machines do — each its own
// process (this test binary, re-executed), with its own connection pool,
// Tracker and download.Tracked pool of fake pages (pooltest) whose work is
// scripted from a seed: about 50 ms an attempt, some errors, rare hangs
// that the pool's watchdog rescues, a few items that fail for good. Only
// the pages are fake: the store, the tracker, the pool and the server are
// the real ones.
//
// Processes, not goroutines: each has its own Go runtime, scheduler and
// garbage collector competing for the CPUs, its own connections, and can be
// SIGKILLed — which is what a crash is. Goroutine groups in one process
// would share one scheduler and one heap, and could not die mid-statement.
//
// BenchmarkFleet measures it (see the flags below); TestFleetInvariants
// runs it small, with a process killed, and checks the invariants.
//
//	go test -run '^$' -bench '^BenchmarkFleet$' -benchtime 1x ./checkpoint/postgres \
//		-fleet.items 100000 -fleet.procs 8 -fleet.workers 16
var (
	fleetItems   = flag.Int("fleet.items", 10_000, "BenchmarkFleet: items")
	fleetProcs   = flag.Int("fleet.procs", 4, "BenchmarkFleet: processes")
	fleetWorkers = flag.Int("fleet.workers", 16, "BenchmarkFleet: workers per process")
	fleetWork    = flag.Duration("fleet.work", 50*time.Millisecond, "BenchmarkFleet: mean simulated work per attempt")
	fleetTTL     = flag.Duration("fleet.ttl", 10*time.Second, "BenchmarkFleet: lease TTL")
	fleetKill    = flag.Float64("fleet.kill", 0, "BenchmarkFleet: SIGKILL one process once the others have finished this fraction of its share (0: none)")
	fleetStore   = flag.String("fleet.store", "postgres", "BenchmarkFleet: postgres, or memory (each process a Memory store and a fixed share: no coordination, the control)")
	fleetConns   = flag.Int("fleet.conns", 0, "BenchmarkFleet: connections per process (0: pgxpool's default)")
	fleetSeed    = flag.Uint64("fleet.seed", 1, "BenchmarkFleet: seed of the pages' script")
	fleetProfile = flag.String("fleet.cpuprofile", "", "BenchmarkFleet: write the CPU profile of process 1 to this file")
	fleetHold    = flag.Int("fleet.hold", 0, "BenchmarkFleet: the trackers' Hold (0: twice the workers)")
	fleetSpread  = flag.Bool("fleet.spread", true, "BenchmarkFleet: the trackers' Spread (each process starts at a place of its own in the list), as jdrun's on a shared store")
	fleetQuick   = flag.Bool("fleet.quickstart", true, "BenchmarkFleet: the trackers' QuickStart (an attempt does not wait for its Running record), as jdrun's on a shared store")
	fleetDelay   = flag.Duration("fleet.commitdelay", 10*time.Millisecond, "BenchmarkFleet: the trackers' CommitDelay, as jdrun's on a shared store")
)

const fleetEnv = "PAGEFLEET_FLEET_CHILD" // a child's fleetConfig, as JSON

// fleetConfig is one simulation, as the parent gives it to each child.
type fleetConfig struct {
	DSN, Schema     string
	Store           string // "postgres" or "memory"
	Items, Procs    int
	Workers, Conns  int
	Proc            int // this child's number
	Work, TTL       time.Duration
	Seed            uint64
	ErrRate         float64 // of attempts: a retryable error
	FailRate        float64 // of items: a permanent error at every attempt
	HangRate        float64 // of attempts: a hang the watchdog rescues
	AttemptTimeout  time.Duration
	StuckAfter      time.Duration
	Retry           time.Duration // the pool's backoff, constant
	Victim          bool          // this child is to be killed: it writes its events unbuffered
	VictimWork      time.Duration // the victim's work per attempt, if not 0: long, so it dies mid-attempt
	Audit           bool          // the parent audits Done writes with a trigger
	PollInterval    time.Duration
	TrackerLogLevel slog.Level
	CPUProfile      string        // a file for this child's CPU profile
	Hold            int           // the tracker's
	Spread          bool          // the tracker's
	QuickStart      bool          // the tracker's
	CommitDelay     time.Duration // the tracker's
}

func fleetKey(i int) string { return fmt.Sprintf("1FTFW1E5%09d", i) }

// script is the pages' behaviour: a pure function of the seed, the key and
// the call, so every process plays the same one.
func (c fleetConfig) script(key string, call int) pooltest.Step {
	u := func(salt string) float64 { return uniform(fmt.Sprintf("%d/%s/%s/%d", c.Seed, salt, key, call)) }
	lat := time.Duration(float64(c.Work) * (0.8 + 0.4*u("latency"))) // ±20 %
	itemFails := func() bool { return uniform(fmt.Sprintf("%d/fail/%s", c.Seed, key)) < c.FailRate }
	switch {
	case u("hang") < c.HangRate:
		return pooltest.Step{Hang: true}
	case itemFails():
		return pooltest.Step{Latency: lat, Err: errSimGone, Permanent: true}
	case u("error") < c.ErrRate:
		return pooltest.Step{Latency: lat, Err: errSimFlaky}
	}
	return pooltest.Step{Latency: lat}
}

// uniform maps s to [0, 1). FNV's high bits barely change with the last
// byte of its input, so they are mixed (SplitMix64's finalizer): unmixed,
// the attempts of a key, whose inputs differ in the last digit, drew
// nearly the same number, and a key that hung or failed once did so at
// every attempt.
func uniform(s string) float64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	x := h.Sum64()
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

var (
	errSimFlaky = errors.New("simulated HTTP 503")
	errSimGone  = errors.New("simulated HTTP 404")
)

// fleetResult is what a child reports at its end.
type fleetResult struct {
	Proc        int
	Tracker     checkpoint.TrackerStats
	Pool        struct{ Done, Failed, Retries, Rescued int }
	Stmts       map[string]int // SQL statements sent, by kind
	Trips       int            // round trips: queries and batches
	WorkNanos   int64          // simulated work the pages were asked to do
	Attempts    int
	Lat         map[string][]int32 // latencies in µs, by operation
	Elapsed     time.Duration      // from "go" to the end of Run
	Busy        time.Duration      // the workers' attempts, Begin included
	Samples     int                // of the pool, every 5 ms
	Starved     int                // samples with an idle worker and no task queued
	StarvedHeld [8]int             // starved samples by the tracker's Held, in eighths of Hold
	Err         string
}

// TestFleetChild is a child process of the simulation; without its
// environment it does nothing.
func TestFleetChild(t *testing.T) {
	raw := os.Getenv(fleetEnv)
	if raw == "" {
		t.Skip("a child of the fleet simulation (BenchmarkFleet, TestFleetInvariants)")
	}
	var cfg fleetConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "fleet child:", err)
		os.Exit(2)
	}
	res := fleetChild(cfg)
	b, _ := json.Marshal(res)
	out.printf("S %s\n", b)
	out.flush()
	if res.Err != "" {
		os.Exit(3)
	}
	os.Exit(0)
}

// out is the child's event stream to the parent, on stdout.
var out = &eventLog{w: bufio.NewWriterSize(os.Stdout, 1<<16)}

type eventLog struct {
	mu   sync.Mutex
	w    *bufio.Writer
	sync bool // flush every line: the victim's last events must reach the parent
}

func (e *eventLog) printf(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	fmt.Fprintf(e.w, format, args...)
	if e.sync {
		e.w.Flush()
	}
}

func (e *eventLog) flush() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.w.Flush()
}

func fleetChild(cfg fleetConfig) (res fleetResult) {
	res.Proc = cfg.Proc
	out.sync = cfg.Victim
	fail := func(err error) fleetResult { res.Err = err.Error(); return res }
	ctx := context.Background()
	owner := fmt.Sprint("proc-", cfg.Proc)
	lat := newLatencies()
	count := &stmtCounter{n: map[string]int{}}

	keys := make([]string, 0, cfg.Items)
	for i := range cfg.Items {
		if cfg.Store == "memory" && i%cfg.Procs != cfg.Proc {
			continue // the control: a fixed share each, nothing shared
		}
		keys = append(keys, fleetKey(i))
	}
	var store checkpoint.Store
	if cfg.Store == "memory" {
		store = &timedStore{Store: checkpoint.NewMemory(), lat: lat}
	} else {
		pcfg, err := postgres.ParseConfig(cfg.DSN) // as Open's: jdrun's
		if err != nil {
			return fail(err)
		}
		pcfg.ConnConfig.Tracer = count
		if cfg.Conns > 0 {
			pcfg.MaxConns = int32(cfg.Conns)
		}
		pl, err := pgxpool.NewWithConfig(ctx, pcfg)
		if err != nil {
			return fail(err)
		}
		defer pl.Close()
		s, err := postgres.New(ctx, pl, postgres.Options{Schema: cfg.Schema, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return fail(err)
		}
		defer s.Close()
		store = &timedStore{Store: s, lat: lat}
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.TrackerLogLevel}))
	tr, err := checkpoint.NewTracker(store, checkpoint.TrackerOptions{
		Owner: owner, LeaseTTL: cfg.TTL, Hold: cfg.Hold, Spread: cfg.Spread, QuickStart: cfg.QuickStart, CommitDelay: cfg.CommitDelay, PollInterval: cfg.PollInterval,
		Verify: func(checkpoint.Record) error { return nil }, Logger: logger,
	})
	if err != nil {
		return fail(err)
	}
	defer tr.Close(context.WithoutCancel(ctx))

	var work, busy, attempts atomic.Int64
	var ends sync.Map // key → when its final attempt ended
	f := &pooltest.Factory{Script: func(key string, call int) pooltest.Step {
		s := cfg.script(key, call)
		if cfg.Victim && cfg.VictimWork > 0 && !s.Hang {
			s.Latency = cfg.VictimWork
		}
		attempts.Add(1)
		if s.Hang {
			work.Add(int64(cfg.StuckAfter))
		} else {
			work.Add(int64(s.Latency))
		}
		return s
	}}
	pcfg := pool.Config[*pooltest.Page]{
		Factory: f, Workers: cfg.Workers, AttemptTimeout: cfg.AttemptTimeout, StuckAfter: cfg.StuckAfter,
		NewBackOff:  func() backoff.BackOff { return backoff.NewConstantBackOff(cfg.Retry) },
		GracePeriod: time.Second, Logger: slog.New(slog.DiscardHandler),
		// The user's hooks run after the tracker's: OnStart once the
		// Running record is written, OnAttempt and OnResult once the
		// outcome is.
		OnStart: func(ctx context.Context, a pool.Attempt) error {
			lat.add("begin(pool)", time.Since(a.Started))
			if cfg.Victim {
				out.printf("B %s %d\n", a.Key, a.Started.UnixNano())
			}
			return nil
		},
		OnAttempt: func(a pool.Attempt) {
			busy.Add(int64(a.Duration))
			if a.Final {
				// When it ended, not now: OnAttempt comes once the
				// outcomes reported before it are written.
				ends.Store(a.Key, a.Started.Add(a.Duration))
			}
			out.printf("A %s %d %d\n", a.Key, a.Started.UnixNano(), a.Started.Add(a.Duration).UnixNano())
		},
		// From the end of an item's last attempt to its outcome written:
		// what the tracker's recording costs the pool's results.
		OnResult: func(r pool.Result) {
			if end, ok := ends.LoadAndDelete(r.Key); ok {
				lat.add("record(pool)", time.Since(end.(time.Time)))
			}
		},
	}
	tp, err := download.NewTracked(pcfg, tr)
	if err != nil {
		return fail(err)
	}

	out.printf("ready\n")
	out.flush()
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return fail(fmt.Errorf("waiting for go: %w", err))
	}
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			return fail(fmt.Errorf("CPU profile: %w", err))
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	start := time.Now()
	stopFlush := make(chan struct{})
	var flusher sync.WaitGroup
	flusher.Go(func() { // the parent watches the progress, to kill the victim
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopFlush:
				return
			case <-tick.C:
				out.flush()
			}
		}
	})
	defer func() { close(stopFlush); flusher.Wait() }()
	// Is the pool ever starved — a worker idle and nothing queued — and
	// what does the tracker hold then?
	var sampler sync.WaitGroup
	stopSample := make(chan struct{})
	var samples, starved atomic.Int64
	var starvedHeld [8]atomic.Int64
	sampler.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSample:
				return
			case <-tick.C:
			}
			st := tp.Stats()
			samples.Add(1)
			if st.Queued == 0 && st.Running < cfg.Workers {
				starved.Add(1)
				h := tr.Stats().Held * 8 / cfg.Hold
				starvedHeld[min(7, h)].Add(1)
			}
		}
	})
	defer func() {
		close(stopSample)
		sampler.Wait()
		res.Samples, res.Starved = int(samples.Load()), int(starved.Load())
		for i := range starvedHeld {
			res.StarvedHeld[i] = int(starvedHeld[i].Load())
		}
	}()
	plan, err := tr.Plan(ctx, keys)
	if err != nil {
		return fail(err)
	}
	err = tp.Run(ctx, plan.Keys(), func(ctx context.Context, page *pooltest.Page, key string) (any, error) {
		if err := page.Do(ctx, key); err != nil {
			return nil, err
		}
		return download.File{Path: "/sim/" + key + ".pdf", Size: 1, SHA256: "00"}, nil
	})
	res.Elapsed = time.Since(start)
	if err != nil {
		return fail(err)
	}
	if v := f.Violations(); len(v) > 0 {
		return fail(fmt.Errorf("pooltest: %v", v))
	}
	res.Tracker = tr.Stats()
	st := tp.Stats()
	res.Pool.Done, res.Pool.Failed, res.Pool.Retries, res.Pool.Rescued = st.Done, st.Failed, st.Retries, st.Rescued
	res.Stmts, res.Trips = count.snapshot()
	res.WorkNanos, res.Attempts, res.Busy = work.Load(), int(attempts.Load()), time.Duration(busy.Load())
	res.Lat = lat.snapshot()
	return res
}

// latencies keeps durations by operation, in µs.
type latencies struct {
	mu sync.Mutex
	m  map[string][]int32
}

func newLatencies() *latencies { return &latencies{m: map[string][]int32{}} }

func (l *latencies) add(op string, d time.Duration) {
	us := int32(min(d.Microseconds(), math.MaxInt32))
	l.mu.Lock()
	l.m[op] = append(l.m[op], us)
	l.mu.Unlock()
}

func (l *latencies) snapshot() map[string][]int32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m
}

// stmtCounter counts the SQL statements a process sends, by kind, and its
// round trips (a batch is one).
type stmtCounter struct {
	mu    sync.Mutex
	n     map[string]int
	trips int
}

var _ pgx.QueryTracer = (*stmtCounter)(nil)
var _ pgx.BatchTracer = (*stmtCounter)(nil)

func (c *stmtCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.mu.Lock()
	c.n[stmtKind(d.SQL)]++
	c.trips++
	c.mu.Unlock()
	return ctx
}

func (c *stmtCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *stmtCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.mu.Lock()
	c.trips++
	c.mu.Unlock()
	return ctx
}

func (c *stmtCounter) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	c.mu.Lock()
	c.n[stmtKind(d.SQL)]++
	c.mu.Unlock()
}

func (c *stmtCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

func (c *stmtCounter) snapshot() (map[string]int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n, c.trips
}

// stmtKind names one of the store's statements by its text: the bench's
// own bookkeeping of which statement is which.
func stmtKind(sql string) string {
	s := strings.Join(strings.Fields(sql), " ")
	switch {
	case strings.HasPrefix(s, "UPDATE") && strings.Contains(s, "FROM unnest") && strings.Contains(s, "SET state"):
		return "write-batch"
	case strings.HasPrefix(s, "UPDATE") && strings.Contains(s, "FROM unnest"):
		return "renew-batch"
	case strings.HasPrefix(s, "INSERT INTO") && strings.Contains(s, "(key) SELECT k FROM unnest"):
		return "insert-keys"
	case strings.HasPrefix(s, "WITH c AS"):
		return "claim"
	case strings.HasPrefix(s, "INSERT INTO") && strings.Contains(s, "lease_owner"):
		return "claim-one"
	case strings.HasPrefix(s, "UPDATE") && strings.Contains(s, "lease_expires = NULL") && strings.Contains(s, "SET state"):
		return "release"
	case strings.HasPrefix(s, "UPDATE") && strings.Contains(s, "SET state"):
		return "put"
	case strings.HasPrefix(s, "UPDATE") && strings.Contains(s, "lease_expires = NULL"):
		return "abandon"
	case strings.HasPrefix(s, "UPDATE") && strings.Contains(s, "lease_expires = now()"):
		return "renew"
	case strings.HasPrefix(s, "SELECT") && strings.Contains(s, "WHERE key > $1"):
		return "all-page"
	case strings.HasPrefix(s, "INSERT INTO") && strings.Contains(s, "unnest"):
		return "put-batch"
	case strings.HasPrefix(s, "SELECT lease_owner"), strings.HasPrefix(s, "SELECT key, lease_owner"):
		return "lost"
	case strings.HasPrefix(s, "SELECT u.k, r.state"):
		return "left"
	}
	return "other: " + s[:min(len(s), 40)]
}

// timedStore times the tracker's calls of the store and reports its
// claims and outcomes to the parent.
type timedStore struct {
	checkpoint.Store
	lat *latencies
}

func (s *timedStore) Claim(ctx context.Context, key, owner string, ttl time.Duration) (checkpoint.Lease, error) {
	l, err := s.Store.(checkpoint.Leaser).Claim(ctx, key, owner, ttl)
	if err != nil {
		return nil, err
	}
	return &timedLease{Lease: l, s: s}, nil
}

func (s *timedStore) ClaimBatch(ctx context.Context, keys []string, owner string, n int, ttl time.Duration) ([]checkpoint.Lease, error) {
	t := time.Now()
	ls, err := s.Store.(checkpoint.Leaser).ClaimBatch(ctx, keys, owner, n, ttl)
	s.lat.add("claim", time.Since(t))
	now := time.Now().UnixNano()
	for i, l := range ls {
		out.printf("C %s %d\n", l.Key(), now)
		ls[i] = &timedLease{Lease: l, s: s}
	}
	return ls, err
}

type timedLease struct {
	checkpoint.Lease
	s *timedStore
}

func (l *timedLease) TookOver() (taken, known bool) {
	if tl, ok := l.Lease.(checkpoint.TakeoverLease); ok {
		return tl.TookOver()
	}
	return false, false
}

func (l *timedLease) Renew(ctx context.Context, ttl time.Duration) error {
	t := time.Now()
	err := l.Lease.Renew(ctx, ttl)
	l.s.lat.add("renew", time.Since(t))
	if err == nil {
		out.printf("N %s %d\n", l.Key(), t.UnixNano())
	}
	return err
}

func (l *timedLease) Put(ctx context.Context, r checkpoint.Record) error {
	t := time.Now()
	err := l.Lease.Put(ctx, r)
	l.s.lat.add("put", time.Since(t))
	return err
}

func (l *timedLease) Release(ctx context.Context, r checkpoint.Record) error {
	t := time.Now()
	err := l.Lease.Release(ctx, r)
	l.s.lat.add("release", time.Since(t))
	released(l.Key(), r.State, err)
	return err
}

// released reports the end of a lease: R for a key finished (Done or
// Failed), X for one released unfinished, L for a lease lost.
func released(key string, s checkpoint.State, err error) {
	switch {
	case errors.Is(err, checkpoint.ErrLeaseLost):
		out.printf("L %s\n", key)
	case err == nil && (s == checkpoint.Done || s == checkpoint.Failed):
		out.printf("R %s %s %d\n", key, s, time.Now().UnixNano())
	case err == nil:
		out.printf("X %s\n", key)
	}
}

// unwrap returns the store's own leases of ls.
func unwrap(ls []checkpoint.Lease) []checkpoint.Lease {
	inner := make([]checkpoint.Lease, len(ls))
	for i, l := range ls {
		inner[i] = l.(*timedLease).Lease
	}
	return inner
}

func (s *timedStore) RenewBatch(ctx context.Context, ls []checkpoint.Lease, ttl time.Duration) ([]error, error) {
	t := time.Now()
	errs, err := s.Store.(checkpoint.LeaseBatcher).RenewBatch(ctx, unwrap(ls), ttl)
	s.lat.add("renew", time.Since(t))
	for i, l := range ls {
		if err == nil && errs[i] == nil {
			// When the call started: the lease runs TTL from a moment
			// after it.
			out.printf("N %s %d\n", l.Key(), t.UnixNano())
		}
	}
	return errs, err
}

func (s *timedStore) WriteBatch(ctx context.Context, ws []checkpoint.LeaseWrite) ([]error, error) {
	inner := slices.Clone(ws)
	for i := range inner {
		inner[i].Lease = ws[i].Lease.(*timedLease).Lease
	}
	t := time.Now()
	errs, err := s.Store.(checkpoint.LeaseBatcher).WriteBatch(ctx, inner)
	s.lat.add("write", time.Since(t))
	s.lat.add("writes/batch", time.Duration(len(ws))*time.Microsecond) // a count, kept as µs
	for i, w := range ws {
		if w.Release {
			e := err
			if e == nil {
				e = errs[i]
			}
			released(w.Lease.Key(), w.Record.State, e)
		}
	}
	return errs, err
}

func (s *timedStore) Left(ctx context.Context, keys []string) ([]checkpoint.Record, error) {
	t := time.Now()
	left, err := s.Store.(checkpoint.Surveyor).Left(ctx, keys)
	s.lat.add("left", time.Since(t))
	return left, err
}

func (l *timedLease) Abandon(ctx context.Context) error {
	t := time.Now()
	err := l.Lease.Abandon(ctx)
	l.s.lat.add("abandon", time.Since(t))
	released(l.Key(), "", err)
	return err
}

// fleetRun is one simulation, seen from the parent.
type fleetRun struct {
	cfg        fleetConfig
	kill       float64 // kill proc 0 once the others finished this fraction of their share; 0: none
	table      string
	results    []fleetResult
	wall       time.Duration // from "go" to the last process's exit
	start      time.Time     // "go"
	lastRecord time.Time     // the last outcome written

	// From the event streams.
	claims        map[string][]claimEvent
	attempts      map[string][]interval
	finals        map[string][]string // key → owners that finished it (R)
	lost          int
	killedAt      time.Time
	victimRenewed map[string]time.Time // the victim's last renewal of each key
	victimOpen    map[string]time.Time // attempts the victim began and never ended
	victimHeld    map[string]time.Time // keys the victim claimed and did not release, by claim time

	serverBefore, serverAfter tableStats
	cpuFleet                  time.Duration // the children's user and system time
	cpuBefore, cpuAfter       cpuTimes
}

type claimEvent struct {
	proc int
	at   time.Time
}

type interval struct {
	proc       int
	start, end time.Time
}

// run starts the children, lets them go at once, kills the victim if
// asked, and collects their events and results.
func (r *fleetRun) run(t testing.TB) {
	t.Helper()
	r.claims, r.attempts, r.finals = map[string][]claimEvent{}, map[string][]interval{}, map[string][]string{}
	r.victimRenewed, r.victimOpen, r.victimHeld = map[string]time.Time{}, map[string]time.Time{}, map[string]time.Time{}
	type child struct {
		cmd    *exec.Cmd
		stdin  io.WriteCloser
		stderr *strings.Builder
		ready  chan struct{}
		killed bool
	}
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		children = make([]*child, r.cfg.Procs)
		finished = make([]int, r.cfg.Procs) // R events by proc
		share    = r.cfg.Items / r.cfg.Procs
		start    time.Time
	)
	for p := range r.cfg.Procs {
		cfg := r.cfg
		cfg.Proc, cfg.Victim = p, r.kill > 0 && p == 0
		if p != 1 {
			cfg.CPUProfile = ""
		}
		raw, _ := json.Marshal(cfg)
		cmd := exec.Command(os.Args[0], "-test.run=^TestFleetChild$", "-test.v=false")
		cmd.Env = append(os.Environ(), fleetEnv+"="+string(raw))
		c := &child{cmd: cmd, stderr: new(strings.Builder), ready: make(chan struct{})}
		cmd.Stderr = c.stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if c.stdin, err = cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		children[p] = c
		wg.Go(func() {
			sc := bufio.NewScanner(stdout)
			sc.Buffer(make([]byte, 1<<20), 1<<28)
			for sc.Scan() {
				line := sc.Text()
				kind, rest, _ := strings.Cut(line, " ")
				f := strings.Fields(rest)
				mu.Lock()
				switch kind {
				case "ready":
					close(c.ready)
				case "C":
					r.claims[f[0]] = append(r.claims[f[0]], claimEvent{p, unixNano(f[1])})
					if cfg.Victim {
						r.victimHeld[f[0]] = unixNano(f[1])
					}
				case "X":
					if cfg.Victim {
						delete(r.victimHeld, f[0])
					}
				case "A":
					r.attempts[f[0]] = append(r.attempts[f[0]], interval{p, unixNano(f[1]), unixNano(f[2])})
					if cfg.Victim {
						delete(r.victimOpen, f[0])
					}
				case "B":
					r.victimOpen[f[0]] = unixNano(f[1])
				case "N":
					if cfg.Victim { // the others renew the keys they took over
						r.victimRenewed[f[0]] = unixNano(f[1])
					}
				case "R":
					r.finals[f[0]] = append(r.finals[f[0]], fmt.Sprint("proc-", p))
					if at := unixNano(f[2]); at.After(r.lastRecord) {
						r.lastRecord = at
					}
					finished[p]++
					if cfg.Victim {
						delete(r.victimHeld, f[0])
					}
				case "L":
					r.lost++
				case "S":
					var res fleetResult
					if err := json.Unmarshal([]byte(rest), &res); err != nil {
						t.Errorf("proc %d: result: %v", p, err)
					}
					if res.Err != "" {
						t.Errorf("proc %d: %s", p, res.Err)
					}
					r.results = append(r.results, res)
				}
				// The victim dies once the others are this far into their shares.
				if r.kill > 0 && !children[0].killed && p != 0 && kind == "R" {
					least := math.MaxInt
					for q := 1; q < r.cfg.Procs; q++ {
						least = min(least, finished[q])
					}
					if float64(least) >= r.kill*float64(share) {
						children[0].killed = true
						r.killedAt = time.Now()
						if err := children[0].cmd.Process.Kill(); err != nil {
							t.Errorf("kill: %v", err)
						}
					}
				}
				mu.Unlock()
			}
			if err := sc.Err(); err != nil {
				t.Errorf("proc %d: reading its events: %v", p, err)
			}
			err := cmd.Wait() // after the last read: Wait closes the pipe
			mu.Lock()
			defer mu.Unlock()
			if ps := cmd.ProcessState; ps != nil {
				r.cpuFleet += ps.UserTime() + ps.SystemTime()
			}
			if c.killed {
				return
			}
			if d := time.Since(start); d > r.wall {
				r.wall = d
			}
			if err != nil {
				t.Errorf("proc %d: %v\n%s", p, err, c.stderr)
			}
		})
	}
	timeout := time.NewTimer(30 * time.Minute)
	defer timeout.Stop()
	for p, c := range children {
		select {
		case <-c.ready:
		case <-timeout.C:
			t.Fatalf("proc %d never got ready:\n%s", p, c.stderr)
		}
	}
	r.serverBefore = readTableStats(t, r.table)
	r.cpuBefore = readCPU()
	mu.Lock()
	start = time.Now()
	r.start = start
	mu.Unlock()
	for _, c := range children {
		io.WriteString(c.stdin, "go\n")
	}
	wg.Wait()
	if r.kill > 0 && !children[0].killed {
		t.Errorf("the victim was never killed")
	}
	r.serverAfter = readTableStats(t, r.table)
	r.cpuAfter = readCPU()
	for p, c := range children {
		if s := c.stderr.String(); s != "" && testing.Verbose() {
			t.Logf("proc %d stderr:\n%s", p, s)
		}
	}
}

func unixNano(s string) time.Time {
	n, _ := strconv.ParseInt(s, 10, 64)
	return time.Unix(0, n)
}

// tableStats are the server's counters of the records table.
type tableStats struct {
	SeqScan, SeqRead, IdxScan, Ins, Upd, HotUpd, Dead int64
	Commits                                           int64 // of the whole database
}

func readTableStats(t testing.TB, table string) tableStats {
	t.Helper()
	var s tableStats
	pl := adminPool(t)
	c, err := pl.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	c.Exec(ctx, "SELECT pg_stat_force_next_flush()")
	c.Exec(ctx, "SELECT pg_stat_clear_snapshot()")
	err = c.QueryRow(ctx, `SELECT coalesce(seq_scan, 0), coalesce(seq_tup_read, 0), coalesce(idx_scan, 0), n_tup_ins, n_tup_upd, n_tup_hot_upd, n_dead_tup,
		(SELECT xact_commit FROM pg_stat_database WHERE datname = current_database())
		FROM pg_stat_user_tables WHERE relid = $1::regclass`, table).Scan(&s.SeqScan, &s.SeqRead, &s.IdxScan, &s.Ins, &s.Upd, &s.HotUpd, &s.Dead, &s.Commits)
	if err != nil {
		t.Logf("table stats: %v", err)
	}
	return s
}

// cpuTimes are CPU times of this machine, read from /proc where there is
// one (zero elsewhere).
type cpuTimes struct {
	Postgres time.Duration // the server's processes, exited backends included: if it runs here
	Busy     time.Duration // all CPUs, not idle
}

// readCPU reads the CPU times of the machine and of its PostgreSQL
// processes: the postmaster's own and its reaped children's, and its live
// children's.
func readCPU() cpuTimes {
	var c cpuTimes
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
		for i, v := range f[1:] {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && i != 3 && i != 4 { // not idle, iowait
				c.Busy += time.Duration(n) * tick
			}
		}
	}
	procs, _ := os.ReadDir("/proc")
	type stat struct {
		ppid        int
		own, reaped time.Duration
	}
	pg := map[int]stat{}
	for _, d := range procs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		open, close := strings.IndexByte(string(b), '('), strings.LastIndexByte(string(b), ')')
		if open < 0 || close < 0 || string(b[open+1:close]) != "postgres" {
			continue
		}
		f := strings.Fields(string(b[close+2:])) // from the state, field 3
		n := func(i int) time.Duration { v, _ := strconv.ParseInt(f[i-3], 10, 64); return time.Duration(v) * tick }
		ppid, _ := strconv.Atoi(f[1])
		pg[pid] = stat{ppid, n(14) + n(15), n(16) + n(17)}
	}
	for _, s := range pg {
		c.Postgres += s.own
		if _, child := pg[s.ppid]; !child {
			c.Postgres += s.reaped // the postmaster: its exited backends
		}
	}
	return c
}

// check verifies the invariants and returns the violations.
func (r *fleetRun) check(t testing.TB, s *postgres.Store) {
	t.Helper()
	// Every item recorded once, Done or Failed, and finished by one
	// process only: the one its record names.
	n := 0
	for rec, err := range s.All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		fin := r.finals[rec.Key]
		switch {
		case rec.State != checkpoint.Done && rec.State != checkpoint.Failed:
			t.Errorf("%s: %s, want Done or Failed", rec.Key, rec.State)
		case len(fin) > 1:
			t.Errorf("%s: finished %d times, by %v", rec.Key, len(fin), fin)
		case len(fin) == 1 && fin[0] != rec.Owner:
			t.Errorf("%s: finished by %s, recorded by %s", rec.Key, fin[0], rec.Owner)
		case len(fin) == 0 && !(r.kill > 0 && rec.Owner == "proc-0"):
			// Only the victim may have died between a write and its report.
			t.Errorf("%s: %s by %s, and no process reported finishing it", rec.Key, rec.State, rec.Owner)
		}
	}
	if n != r.cfg.Items {
		t.Errorf("%d records, want %d", n, r.cfg.Items)
	}
	// No item worked on by two processes at once: attempts of different
	// processes never overlap, the victim's unfinished ones lasting until
	// it was killed.
	overlaps := 0
	for key, ivs := range r.attempts {
		if st, ok := r.victimOpen[key]; ok {
			ivs = append(ivs, interval{0, st, r.killedAt})
		}
		slices.SortFunc(ivs, func(a, b interval) int { return a.start.Compare(b.start) })
		last := ivs[0] // the interval that ends last so far
		for _, iv := range ivs[1:] {
			if iv.proc != last.proc && iv.start.Before(last.end) {
				overlaps++
				if overlaps <= 10 {
					t.Errorf("%s: worked on by proc-%d from %v and by proc-%d from %v at once", key,
						last.proc, last.start.Format(time.StampMicro), iv.proc, iv.start.Format(time.StampMicro))
				}
			}
			if iv.end.After(last.end) {
				last = iv
			}
		}
	}
	if r.lost > 0 {
		t.Errorf("%d leases lost: a live process stalled past its TTL", r.lost)
	}
	if r.kill == 0 {
		return
	}
	// The victim's keys: those it held when it was killed are taken over
	// by others, each no sooner than a TTL after the victim's last renewal
	// of it (or its claim), and finished.
	taken := 0
	for key, claimed := range r.victimHeld {
		last := claimed
		if at, ok := r.victimRenewed[key]; ok && at.After(last) {
			last = at
		}
		var by *claimEvent
		for _, c := range r.claims[key] {
			if c.proc != 0 && c.at.After(claimed) {
				by = &c
				break
			}
		}
		switch {
		case by == nil && len(r.finals[key]) == 0:
			// Finished by the victim, killed before it could say so:
			// the records check above found its record.
		case by == nil:
			t.Errorf("%s: held by the victim since %v, never claimed by another; claims %v, finished by %v", key,
				claimed.Format(time.StampMicro), r.claims[key], r.finals[key])
		case by.at.Before(last.Add(r.cfg.TTL - 50*time.Millisecond)): // clocks: the server's and ours
			t.Errorf("%s: taken over %v after the victim's last renewal, before its TTL %v", key, by.at.Sub(last), r.cfg.TTL)
		case len(r.finals[key]) != 1:
			t.Errorf("%s: taken over, finished %v", key, r.finals[key])
		default:
			taken++
		}
	}
	t.Logf("victim: killed holding %d keys; %d taken over after the TTL and finished", len(r.victimHeld), taken)
	if taken == 0 {
		t.Errorf("the victim held no key when it was killed: not the run planned")
	}
}

// report sums the children's results up, and prints them with logf.
func (r *fleetRun) report(logf func(format string, args ...any)) map[string]float64 {
	var (
		stmts       = map[string]int{}
		trips       int
		work        int64
		tr          checkpoint.TrackerStats
		lat         = map[string][]int32{}
		attempt     int
		retries     int
		rescued     int
		busy        time.Duration
		span        time.Duration
		samples     int
		starved     int
		starvedHeld [8]int
	)
	for _, res := range r.results {
		for k, n := range res.Stmts {
			stmts[k] += n
		}
		trips += res.Trips
		work += res.WorkNanos
		attempt += res.Attempts
		retries += res.Pool.Retries
		rescued += res.Pool.Rescued
		busy += res.Busy
		span += res.Elapsed * time.Duration(r.cfg.Workers)
		samples += res.Samples
		starved += res.Starved
		for i, n := range res.StarvedHeld {
			starvedHeld[i] += n
		}
		for k, v := range res.Lat {
			lat[k] = append(lat[k], v...)
		}
		tr.Claimed += res.Tracker.Claimed
		tr.Done += res.Tracker.Done
		tr.Failed += res.Tracker.Failed
		tr.Crashes += res.Tracker.Crashes
		tr.Lost += res.Tracker.Lost
		tr.Elsewhere += res.Tracker.Elsewhere
		tr.Poisoned += res.Tracker.Poisoned
	}
	total := 0
	var kinds []string
	for k, n := range stmts {
		total += n
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	workers := float64(r.cfg.Procs * r.cfg.Workers)
	ideal := time.Duration(float64(r.cfg.Items) * float64(r.cfg.Work) / workers)
	adjusted := time.Duration(float64(work) / workers)
	items := float64(r.cfg.Items)
	m := map[string]float64{
		"items/s":    items / r.wall.Seconds(),
		"stmts/item": float64(total) / items,
		"trips/item": float64(trips) / items,
		"overhead-%": (r.wall.Seconds()/adjusted.Seconds() - 1) * 100,
		"vs-ideal-%": (r.wall.Seconds()/ideal.Seconds() - 1) * 100,
		"takeovers":  float64(tr.Crashes),
		"wall-s":     r.wall.Seconds(),
		"attempts":   float64(attempt),
	}
	logf("%d items, %d processes × %d workers, work %v (±20%%), TTL %v, store %s, hold %d, spread %t, quickstart %t, commit delay %v", r.cfg.Items, r.cfg.Procs, r.cfg.Workers, r.cfg.Work, r.cfg.TTL, r.cfg.Store, r.cfg.Hold, r.cfg.Spread, r.cfg.QuickStart, r.cfg.CommitDelay)
	logf("wall %.2fs; ideal (items × work ÷ workers) %.2fs; ideal of the attempts made (%d, %d retried, %d hangs rescued) %.2fs",
		r.wall.Seconds(), ideal.Seconds(), attempt, retries, rescued, adjusted.Seconds())
	first, last := time.Duration(math.MaxInt64), time.Duration(0)
	for _, res := range r.results {
		first, last = min(first, res.Elapsed), max(last, res.Elapsed)
	}
	if !r.lastRecord.IsZero() {
		m["last-record-s"] = r.lastRecord.Sub(r.start).Seconds()
	}
	logf("the last outcome written after %.2fs; the processes' runs took %.2fs to %.2fs", m["last-record-s"], first.Seconds(), last.Seconds())
	logf("items/s %.0f; overhead over the attempts' ideal %.1f%%, over items × work ÷ workers %.1f%%", m["items/s"], m["overhead-%"], m["vs-ideal-%"])
	logf("statements %d = %.3f per item; round trips %.3f per item", total, m["stmts/item"], m["trips/item"])
	for _, k := range kinds {
		logf("  %-14s %8d  %.4f/item", k, stmts[k], float64(stmts[k])/items)
	}
	var ops []string
	for k := range lat {
		ops = append(ops, k)
	}
	slices.Sort(ops)
	for _, k := range ops {
		v := lat[k]
		slices.Sort(v)
		q := func(p float64) float64 { return float64(v[min(len(v)-1, int(p*float64(len(v))))]) / 1000 }
		if k == "writes/batch" { // a count, not a latency
			sum := 0.0
			for _, x := range v {
				sum += float64(x)
			}
			logf("  %-20s n=%7d  mean %.2f  p50 %.0f  p99 %.0f  max %.0f", k, len(v), sum/float64(len(v)), q(0.5)*1000, q(0.99)*1000, q(1)*1000)
			m["writes/batch"] = sum / float64(len(v))
			continue
		}
		logf("  latency %-12s n=%7d  p50 %7.2fms  p99 %7.2fms  max %8.2fms", k, len(v), q(0.5), q(0.99), q(1))
		m[k+"-p50-ms"], m[k+"-p99-ms"] = q(0.5), q(0.99)
	}
	logf("tracker: claimed %d, done %d, failed %d, crashes found (takeovers of Running keys) %d, lost %d, elsewhere %d",
		tr.Claimed, tr.Done, tr.Failed, tr.Crashes, tr.Lost, tr.Elsewhere)
	d := func(f func(tableStats) int64) int64 { return f(r.serverAfter) - f(r.serverBefore) }
	logf("server: commits %d (%.2f/item), rows inserted %d, updated %d (HOT %d), seq scans %d (rows read %d), index scans %d, dead rows %d",
		d(func(s tableStats) int64 { return s.Commits }), float64(d(func(s tableStats) int64 { return s.Commits }))/items,
		d(func(s tableStats) int64 { return s.Ins }), d(func(s tableStats) int64 { return s.Upd }), d(func(s tableStats) int64 { return s.HotUpd }),
		d(func(s tableStats) int64 { return s.SeqScan }), d(func(s tableStats) int64 { return s.SeqRead }), d(func(s tableStats) int64 { return s.IdxScan }), r.serverAfter.Dead)
	if span > 0 {
		m["workers-busy-%"] = 100 * busy.Seconds() / span.Seconds()
		logf("workers busy %.1f%% of their time (attempts and their Begin)", m["workers-busy-%"])
	}
	if r.wall > 0 {
		// Where the idle time is: the workers' busy share in each tenth
		// of the run, and when each process's first attempt began (its
		// Plan and first claim came before).
		var (
			tenths [10]time.Duration
			step   = r.wall / 10
			first  = make([]time.Duration, r.cfg.Procs)
		)
		for i := range first {
			first[i] = r.wall
		}
		for _, ivs := range r.attempts {
			for _, iv := range ivs {
				a, b := iv.start.Sub(r.start), iv.end.Sub(r.start)
				first[iv.proc] = min(first[iv.proc], a)
				for i := range tenths {
					if lo, hi := step*time.Duration(i), step*time.Duration(i+1); b > lo && a < hi {
						tenths[i] += min(b, hi) - max(a, lo)
					}
				}
			}
		}
		var s []string
		for _, d := range tenths {
			s = append(s, fmt.Sprintf("%.1f", 100*d.Seconds()/(step.Seconds()*workers)))
		}
		logf("workers busy by tenth of the run, %%: %s", strings.Join(s, " "))
		m["first-attempt-s"] = slices.Max(first).Seconds()
		logf("the processes' first attempts began after %.2fs to %.2fs", slices.Min(first).Seconds(), m["first-attempt-s"])
	}
	if samples > 0 {
		logf("pool starved (a worker idle, no task queued) in %.1f%% of samples; then the tracker held (by eighths of Hold) %v", 100*float64(starved)/float64(samples), starvedHeld)
	}
	pgCPU := r.cpuAfter.Postgres - r.cpuBefore.Postgres
	all := r.cpuAfter.Busy - r.cpuBefore.Busy
	logf("CPU: the %d processes %.1fs, PostgreSQL %.1fs, the whole machine %.1fs of %.1fs (%d CPUs × wall)",
		r.cfg.Procs, r.cpuFleet.Seconds(), pgCPU.Seconds(), all.Seconds(), r.wall.Seconds()*float64(runtime.NumCPU()), runtime.NumCPU())
	m["cpu-fleet-s"], m["cpu-pg-s"], m["cpu-all-s"] = r.cpuFleet.Seconds(), pgCPU.Seconds(), all.Seconds()
	return m
}

// newFleet makes the table and the config of a simulation.
func newFleet(t testing.TB, items, procs, workers int) *fleetRun {
	s := open(t, postgres.Options{})
	sch := strings.Trim(strings.Split(s.Table(), ".")[0], `"`)
	cfg := fleetConfig{
		DSN: dsn(t), Schema: sch, Store: "postgres", Items: items, Procs: procs, Workers: workers,
		Work: 50 * time.Millisecond, TTL: 10 * time.Second, Seed: 1, Hold: 2 * workers, Spread: true, QuickStart: true, CommitDelay: 10 * time.Millisecond,
		ErrRate: 0.01, FailRate: 0.001, HangRate: 0.0001,
		AttemptTimeout: 300 * time.Millisecond, StuckAfter: 500 * time.Millisecond, Retry: 100 * time.Millisecond,
		TrackerLogLevel: slog.LevelError,
	}
	return &fleetRun{cfg: cfg, table: s.Table()}
}

// TestFleetScript: the script's faults are what its rates say, and a
// key's attempts draw them independently — a flaky error at one attempt
// makes one at the next no likelier.
func TestFleetScript(t *testing.T) {
	c := fleetConfig{Seed: 1, Work: 50 * time.Millisecond, ErrRate: 0.05}
	const n = 100_000
	first, both := 0, 0
	for i := range n {
		k := fleetKey(i)
		if c.script(k, 1).Err != nil {
			first++
			if c.script(k, 2).Err != nil {
				both++
			}
		}
	}
	if r := float64(first) / n; r < 0.045 || r > 0.055 {
		t.Errorf("%.4f of first attempts failed; want about %.2f", r, c.ErrRate)
	}
	if r := float64(both) / float64(first); r < 0.03 || r > 0.07 {
		t.Errorf("%.4f of the keys that failed once failed again; want about %.2f", r, c.ErrRate)
	}
}

// TestFleetInvariants runs the simulation small — 3 processes of 4
// workers, 600 items of 5 ms, a 1 s TTL — kills one process midway, and
// checks the invariants: every item recorded once, Done or Failed, by the
// process that finished it; no item worked on by two processes at once; the
// killed process's keys taken over after their TTL and finished.
func TestFleetInvariants(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	t.Parallel()
	r := newFleet(t, 600, 3, 4)
	r.cfg.Work, r.cfg.TTL, r.kill = 5*time.Millisecond, time.Second, 0.3
	r.cfg.VictimWork = 80 * time.Millisecond // killed mid-attempt, whenever it is killed
	r.cfg.ErrRate, r.cfg.FailRate, r.cfg.HangRate = 0.05, 0.01, 0.002
	r.cfg.AttemptTimeout, r.cfg.StuckAfter, r.cfg.Retry = 200*time.Millisecond, 300*time.Millisecond, 10*time.Millisecond
	r.cfg.PollInterval = 100 * time.Millisecond
	s := open(t, postgres.Options{Schema: r.cfg.Schema})
	r.run(t)
	if t.Failed() {
		return
	}
	r.check(t, s)
	if testing.Verbose() {
		r.report(t.Logf)
	}
}

// BenchmarkFleet runs the simulation the flags describe, once per
// iteration (use -benchtime 1x), and reports items/s, statements per item,
// the overhead over the ideal time, and the latencies of the store's calls.
// It checks the invariants too.
func BenchmarkFleet(b *testing.B) {
	for b.Loop() {
		r := newFleet(b, *fleetItems, *fleetProcs, *fleetWorkers)
		r.cfg.Work, r.cfg.TTL, r.cfg.Seed, r.kill = *fleetWork, *fleetTTL, *fleetSeed, *fleetKill
		r.cfg.Store, r.cfg.Conns, r.cfg.CPUProfile = *fleetStore, *fleetConns, *fleetProfile
		if *fleetHold > 0 {
			r.cfg.Hold = *fleetHold
		}
		r.cfg.Spread, r.cfg.QuickStart, r.cfg.CommitDelay = *fleetSpread, *fleetQuick, *fleetDelay
		if r.cfg.Store == "memory" {
			// As jdrun's on a local store: Memory's leases can't tell a
			// takeover, so each Start waits for its record, and a delay
			// would be the attempts'.
			r.cfg.CommitDelay = 0
		}
		s := open(b, postgres.Options{Schema: r.cfg.Schema})
		r.run(b)
		if r.cfg.Store == "postgres" {
			r.check(b, s)
		}
		// Printed, not logged: a benchmark's log is cut at ten lines.
		logf := func(format string, args ...any) { fmt.Printf("    "+format+"\n", args...) }
		for k, v := range r.report(logf) {
			b.ReportMetric(v, k)
		}
		b.ReportMetric(0, "ns/op")
	}
}
