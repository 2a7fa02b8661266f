package checkpoint_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/pagefleet/pagefleet/checkpoint"
)

// A run records each item's outcome; the next run resumes from them.
func Example() {
	dir, err := os.MkdirTemp("", "checkpoint-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "checkpoint.jsonl")
	ctx := context.Background()

	// The first run finishes one vehicle and fails another, then stops.
	store, err := checkpoint.Open(path, checkpoint.Options{})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range []checkpoint.Record{
		{Key: "VIN1", State: checkpoint.Running, Attempts: 1},
		{Key: "VIN1", State: checkpoint.Done, Attempts: 1, Path: "VIN1.pdf", Size: 51234, Meta: map[string]string{"stock": "A17"}},
		{Key: "VIN2", State: checkpoint.Failed, Attempts: 2, Err: "timeout after 3m0s"},
	} {
		if err := store.Put(ctx, r); err != nil {
			log.Fatal(err)
		}
	}
	if err := store.Close(); err != nil {
		log.Fatal(err)
	}

	// The next run skips what is done.
	store, err = checkpoint.Open(path, checkpoint.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	for r, err := range store.All(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s %s attempts=%d stock=%q\n", r.Key, r.State, r.Attempts, r.Meta["stock"])
	}
	if _, err := store.Get(ctx, "VIN3"); errors.Is(err, checkpoint.ErrNotFound) {
		fmt.Println("VIN3 not started")
	}
	// Output:
	// VIN1 done attempts=1 stock="A17"
	// VIN2 failed attempts=2 stock=""
	// VIN3 not started
}

// Users of the old tool keep their progress.
func ExampleImport() {
	dir, err := os.MkdirTemp("", "checkpoint-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	old := filepath.Join(dir, "tracking.json")
	os.WriteFile(old, []byte(`{"completed": ["VIN1", "VIN2"], "failed": ["VIN3"]}`), 0o644)

	store := checkpoint.NewMemory()
	defer store.Close()
	added, skipped, err := checkpoint.Import(context.Background(), store, old)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("imported %d done keys, %d already known\n", added, skipped)
	// Output: imported 2 done keys, 0 already known
}
