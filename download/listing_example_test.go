package download_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/pool"
	"github.com/pagefleet/pagefleet/pool/pooltest"
	"github.com/pagefleet/pagefleet/session/sessiontest"
)

// Downloads that start with the first page of a listing: each page's
// items go to RunFrom as soon as they are read. Until the listing ends the
// set of IDs grows, and a file that names an ID not listed yet waits for
// it (Await) before it is judged. Here the sticker served for VIN2 is
// VIN4's, which mentions VIN2: it is caught once page 2 is listed.
func ExampleTracked_RunFrom() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "listing")
	defer os.RemoveAll(dir)
	pages := [][]string{{"1HGCM82633A000001", "1HGCM82633A000002"}, {"1HGCM82633A000003", "1HGCM82633A000004"}}
	var once sync.Once
	sticker := func(vin string) []byte {
		wrong := false
		if vin == pages[0][1] {
			once.Do(func() { wrong = true }) // the first try at VIN2 gets VIN4's sticker
		}
		if wrong {
			return sessiontest.PDF("WINDOW STICKER", "VIN: "+pages[1][1], "replaces "+vin)
		}
		return sessiontest.PDF("WINDOW STICKER", "VIN: "+vin)
	}

	tr, err := checkpoint.NewTracker(checkpoint.NewMemory(), checkpoint.TrackerOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer tr.Close(ctx)
	var (
		mu      sync.Mutex
		results []string
	)
	p, err := download.NewTracked(pool.Config[*pooltest.Page]{Factory: &pooltest.Factory{}, Workers: 2, Logger: slog.New(slog.DiscardHandler),
		OnResult: func(r pool.Result) {
			mu.Lock()
			results = append(results, fmt.Sprintf("%s: %d attempt(s), %v", r.Key, r.Attempts, r.Err))
			mu.Unlock()
		}}, tr)
	if err != nil {
		fmt.Println(err)
		return
	}

	ids := download.NewIDs()
	ids.SetGrowing(true)
	keys := make(chan []string)
	// RunFrom may return before the listing ends (a disk full aborts the
	// pool): then listed stops the listing, which would wait for it.
	listed, stop := context.WithCancel(ctx)
	go func() { // the listing
		defer close(keys)
		for i, page := range pages {
			ids.Add(page...)
			select {
			case keys <- page:
			case <-listed.Done():
				return
			}
			if i == len(pages)-1 {
				ids.SetGrowing(false)
			}
		}
	}()
	err = p.RunFrom(ctx, keys, func(ctx context.Context, _ *pooltest.Page, vin string) (any, error) {
		target := download.Target{Dir: dir, Name: vin + ".pdf",
			Validate: []download.Validator{ids.Await(ctx, download.PDFOf(vin, ids))}}
		return download.Save(bytes.NewReader(sticker(vin)), target)
	})
	stop()
	slices.Sort(results)
	for _, r := range results {
		fmt.Println(r)
	}
	saved, _ := filepath.Glob(filepath.Join(dir, "*.pdf"))
	fmt.Println(len(saved), "stickers saved;", err)
	// Output:
	// 1HGCM82633A000001: 1 attempt(s), <nil>
	// 1HGCM82633A000002: 2 attempt(s), <nil>
	// 1HGCM82633A000003: 1 attempt(s), <nil>
	// 1HGCM82633A000004: 1 attempt(s), <nil>
	// 4 stickers saved; <nil>
}
