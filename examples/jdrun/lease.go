package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/pool"
)

// leases splits the work among jdrun processes that share one checkpoint
// store (-store postgres://…): each process offers the same vehicles, claims
// a few at a time, keeps its claims alive while it works on them, and
// releases each with its outcome. A process that dies stops renewing; its
// claims run out after the TTL and the others take them over.
type leases struct {
	j       *job
	leaser  checkpoint.Leaser
	ttl     time.Duration
	wake    chan struct{} // a lease ended: there is room to claim more
	mu      sync.Mutex
	held    map[string]checkpoint.Lease
	prior   map[string]int // attempts made before this claim, by VIN
	lost    int
	byOther int // vehicles finished by other processes during this run
}

func newLeases(j *job, l checkpoint.Leaser) *leases {
	return &leases{j: j, leaser: l, ttl: j.cfg.LeaseTTL, wake: make(chan struct{}, 1),
		held: map[string]checkpoint.Lease{}, prior: map[string]int{}}
}

// feed claims vehicles and submits them to p until every vehicle of todo
// is done or given up, by this process or another, or ctx ends. It closes
// p's queue when there is nothing left.
func (ls *leases) feed(ctx context.Context, p *pool.PagePool[*slot], todo []vehicle) {
	defer p.CloseQueue()
	j := ls.j
	byVIN := map[string]vehicle{}
	pending := make([]string, 0, len(todo))
	for _, v := range todo {
		byVIN[v.VIN] = v
		pending = append(pending, v.VIN)
	}
	room := 2 * j.cfg.Workers // enough claimed to keep every worker busy
	heartbeat := time.NewTicker(ls.ttl / 3)
	defer heartbeat.Stop()
	poll := time.NewTicker(time.Second) // for claims that run out and vehicles done elsewhere
	defer poll.Stop()
	lastCheck := time.Time{}
	for ctx.Err() == nil {
		ls.mu.Lock()
		free := room - len(ls.held)
		ls.mu.Unlock()
		starved := false // some pending vehicles could not be claimed
		if free > 0 && len(pending) > 0 {
			got, err := ls.leaser.ClaimBatch(ctx, pending, j.cfg.WorkerID, free, ls.ttl)
			starved = err == nil && len(got) < free
			if err != nil && ctx.Err() == nil {
				j.log.Warn("claiming vehicles failed; trying again", "err", err)
			}
			claimed := map[string]bool{}
			for _, l := range got {
				claimed[l.Key()] = true
				ls.take(ctx, p, l, byVIN[l.Key()])
			}
			pending = remove(pending, claimed)
		}
		// Vehicles neither claimable nor ours: done elsewhere, or leased by
		// a process that may yet die. Look which are done, now and then.
		if starved && len(pending) > 0 && time.Since(lastCheck) >= time.Second {
			lastCheck = time.Now()
			finished := map[string]bool{}
			for _, k := range pending {
				if r, err := j.store.Get(ctx, k); err == nil && (r.State == checkpoint.Done || ls.givenUp(r)) {
					finished[k] = true
				}
			}
			ls.mu.Lock()
			ls.byOther += len(finished)
			ls.mu.Unlock()
			pending = remove(pending, finished)
		}
		ls.mu.Lock()
		idle := len(ls.held) == 0
		ls.mu.Unlock()
		if len(pending) == 0 && idle {
			return
		}
		select {
		case <-ctx.Done():
		case <-ls.wake:
		case <-poll.C:
		case <-heartbeat.C:
			ls.renew(ctx)
		}
	}
}

// take submits a claimed vehicle, unless it failed too often already.
func (ls *leases) take(ctx context.Context, p *pool.PagePool[*slot], l checkpoint.Lease, v vehicle) {
	rec, _ := l.Record()
	if ls.givenUp(rec) {
		_ = l.Abandon(ctx)
		return
	}
	ls.mu.Lock()
	ls.held[v.VIN] = l
	ls.prior[v.VIN] = rec.Attempts
	ls.mu.Unlock()
	if err := ls.j.submit(p, v); err != nil {
		ls.j.log.Error("submitting a claimed vehicle", "vin", v.VIN, "err", err)
		ls.end(ctx, v.VIN, nil)
	}
}

// givenUp: a vehicle that failed all its attempts in an earlier run is
// not tried again unless -retry-failed.
func (ls *leases) givenUp(r checkpoint.Record) bool {
	return r.State == checkpoint.Failed && r.Attempts >= ls.j.cfg.Retries+1 && !ls.j.cfg.RetryFailed
}

// renew extends every held lease.
func (ls *leases) renew(ctx context.Context) {
	ls.mu.Lock()
	held := make([]checkpoint.Lease, 0, len(ls.held))
	for _, l := range ls.held {
		held = append(held, l)
	}
	ls.mu.Unlock()
	for _, l := range held {
		if err := l.Renew(ctx, ls.ttl); err != nil && ctx.Err() == nil {
			ls.j.log.Warn("renewing a lease failed", "vin", l.Key(), "err", err)
		}
	}
}

// end releases vin's lease with rec as its outcome, or abandons it (rec
// nil: not finished, another process may take it at once). It reports
// whether the outcome was stored.
func (ls *leases) end(ctx context.Context, vin string, rec *checkpoint.Record) (stored bool, err error) {
	ls.mu.Lock()
	l := ls.held[vin]
	delete(ls.held, vin)
	ls.mu.Unlock()
	defer func() {
		select {
		case ls.wake <- struct{}{}:
		default:
		}
	}()
	if l == nil {
		return false, nil
	}
	if rec == nil {
		return false, l.Abandon(ctx)
	}
	err = l.Release(ctx, *rec)
	if errors.Is(err, checkpoint.ErrLeaseLost) {
		ls.mu.Lock()
		ls.lost++
		ls.mu.Unlock()
		ls.j.log.Warn("lost the lease of a vehicle to another process; its outcome there counts", "vin", vin, "err", err)
		return false, nil
	}
	return err == nil, err
}

// priorAttempts returns the attempts made on vin before this claim.
func (ls *leases) priorAttempts(vin string) int {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.prior[vin]
}

func remove(keys []string, drop map[string]bool) []string {
	if len(drop) == 0 {
		return keys
	}
	out := keys[:0]
	for _, k := range keys {
		if !drop[k] {
			out = append(out, k)
		}
	}
	return out
}
