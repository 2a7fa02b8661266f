package checkpoint_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/pagefleet/pagefleet/checkpoint"
)

// Workers that share a store split the keys among themselves: each claims
// a few that no one holds and that are not done, and releases each with its
// outcome. The same loop works across processes with a shared store.
func ExampleLeaser() {
	ctx := context.Background()
	var store checkpoint.Store = checkpoint.NewMemory()
	defer store.Close()
	l, ok := store.(checkpoint.Leaser)
	if !ok {
		log.Fatal("this store can't share work")
	}
	keys := []string{"VIN1", "VIN2", "VIN3", "VIN4", "VIN5", "VIN6"}
	var wg sync.WaitGroup
	for w := range 3 {
		owner := fmt.Sprint("worker-", w)
		wg.Go(func() {
			for {
				leases, err := l.ClaimBatch(ctx, keys, owner, 2, time.Minute)
				if err != nil {
					log.Fatal(err)
				}
				if len(leases) == 0 {
					return // all done (with leases that run out, a real run polls until all are Done)
				}
				for _, lease := range leases {
					prev, _ := lease.Record()
					rec := checkpoint.Record{State: checkpoint.Done, Attempts: prev.Attempts + 1, Path: lease.Key() + ".pdf"}
					if err := lease.Release(ctx, rec); err != nil {
						log.Fatal(err)
					}
				}
			}
		})
	}
	wg.Wait()

	for r, err := range store.All(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(r.Key, r.State, r.Path)
	}
	_, err := l.Claim(ctx, "VIN1", "late-worker", time.Minute)
	fmt.Println(errors.Is(err, checkpoint.ErrDone))
	// Output:
	// VIN1 done VIN1.pdf
	// VIN2 done VIN2.pdf
	// VIN3 done VIN3.pdf
	// VIN4 done VIN4.pdf
	// VIN5 done VIN5.pdf
	// VIN6 done VIN6.pdf
	// true
}

// A lease that ran out and was claimed by another worker can't store its
// outcome over the new holder's.
func ExampleLease_lost() {
	ctx := context.Background()
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	store := &checkpoint.Memory{Now: func() time.Time { return now }}
	defer store.Close()

	slow, _ := store.Claim(ctx, "VIN1", "worker-a", time.Minute)
	now = now.Add(2 * time.Minute) // worker-a stalls past its TTL
	fast, _ := store.Claim(ctx, "VIN1", "worker-b", time.Minute)
	fmt.Println(fast.Release(ctx, checkpoint.Record{State: checkpoint.Done, Path: "b.pdf"}))

	err := slow.Release(ctx, checkpoint.Record{State: checkpoint.Done, Path: "a.pdf"})
	fmt.Println(errors.Is(err, checkpoint.ErrLeaseLost), err)
	r, _ := store.Get(ctx, "VIN1")
	fmt.Println(r.Owner, r.Path)
	// Output:
	// <nil>
	// true checkpoint: lease lost: "VIN1" was claimed by "worker-b" since
	// worker-b b.pdf
}
