package checkpoint_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"time"

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

// A run of a job: Plan decides what to do, Feed hands the claims to a
// scheduler, and the scheduler reports each attempt.
func ExampleTracker() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "tracker-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	save := func(key string) checkpoint.SavedFile {
		path := filepath.Join(dir, key+".pdf")
		if err := os.WriteFile(path, []byte("%PDF-1.7 "+key), 0o600); err != nil {
			log.Fatal(err)
		}
		size, sum, err := checkpoint.HashFile(path)
		if err != nil {
			log.Fatal(err)
		}
		return checkpoint.SavedFile{Path: path, Size: size, SHA256: sum}
	}
	store := checkpoint.NewMemory()
	defer store.Close()

	// An earlier run finished VIN1, and died during an attempt at VIN2.
	f := save("VIN1")
	store.Put(ctx, checkpoint.Record{Key: "VIN1", State: checkpoint.Done, Attempts: 1, Path: f.Path, Size: f.Size, SHA256: f.SHA256})
	store.Put(ctx, checkpoint.Record{Key: "VIN2", State: checkpoint.Running, Attempts: 1})

	tr, err := checkpoint.NewTracker(store, checkpoint.TrackerOptions{Owner: "example", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	defer tr.Close(ctx)
	plan, err := tr.Plan(ctx, []string{"VIN1", "VIN2", "VIN3"})
	if err != nil {
		log.Fatal(err)
	}
	for _, td := range plan.Todo {
		fmt.Printf("to do: %s (%s)\n", td.Key, td.Reason)
	}
	fmt.Println("done:", plan.Done)

	// The scheduler: one attempt after another. VIN3 fails once.
	err = tr.Feed(ctx, plan.Keys(), func(c checkpoint.Claim) error {
		if c.Finished != nil {
			return nil // adopted or given up at the claim: nothing to do
		}
		for attempt := c.Attempts + 1; ; attempt++ {
			started := time.Now()
			if err := tr.Begin(ctx, c.Key, attempt, started); err != nil {
				return err
			}
			if c.Key == "VIN3" && attempt == 1 {
				if err := tr.Retry(ctx, c.Key, started, attempt, errors.New("timeout")); err != nil {
					return err
				}
				continue
			}
			return tr.Done(ctx, c.Key, attempt, save(c.Key))
		}
	})
	if err != nil {
		log.Fatal(err)
	}
	for r, err := range store.All(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s %s attempts=%d crashes=%d\n", r.Key, r.State, r.Attempts, r.Crashes)
	}
	st := tr.Stats()
	fmt.Printf("claimed %d, done %d, crashes found %d\n", st.Claimed, st.Done, st.Crashes)
	// Output:
	// to do: VIN2 (unfinished)
	// to do: VIN3 (never tried)
	// done: [VIN1]
	// VIN1 done attempts=1 crashes=0
	// VIN2 done attempts=2 crashes=1
	// VIN3 done attempts=2 crashes=0
	// claimed 2, done 2, crashes found 1
}
