package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/checkpoint/postgres"
)

// Each process of a job runs this over the same inventory; together they
// download every item once. (Not run: it needs a server.)
func Example() {
	ctx := context.Background()
	store, err := postgres.Open(ctx, os.Getenv("DATABASE_URL"), postgres.Options{Table: "stickers"})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	host, _ := os.Hostname()
	owner := fmt.Sprintf("%s/%d", host, os.Getpid())
	inventory := []string{"1FTFW1E50", "1FTFW1E51", "1FTFW1E52"}

	for {
		leases, err := store.ClaimBatch(ctx, inventory, owner, 5, time.Minute)
		if err != nil {
			log.Fatal(err)
		}
		if len(leases) == 0 {
			break // every item is Done or in another process's hands (a real run polls until all are Done)
		}
		for _, lease := range leases {
			prev, _ := lease.Record()
			rec := checkpoint.Record{State: checkpoint.Done, Attempts: prev.Attempts + 1, Path: lease.Key() + ".pdf"}
			// … download, renewing the lease every 20 s …
			if err := lease.Release(ctx, rec); errors.Is(err, checkpoint.ErrLeaseLost) {
				log.Printf("%s: taken over by another process: %v", lease.Key(), err)
			} else if err != nil {
				log.Fatal(err)
			}
		}
	}
}
