package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagefleet/pagefleet/session"
	"github.com/pagefleet/pagefleet/session/sessiontest"
)

// fakeInventory is an inventory of pages 1..n, 25 vehicles each, each page
// linking to its neighbours within 3 like the demo portal, plus a link to
// a page that does not exist; the last page's next link leads back to the
// first. It counts reads and the most read at once.
type fakeInventory struct {
	n    int
	fail map[int]error // pages that fail

	mu                 sync.Mutex
	reads              map[string]int
	inFlight, maxFlown int
}

func pageURL(k int) string { return fmt.Sprintf("http://portal.test/inventory?page=%d", k) }

func (f *fakeInventory) read(ctx context.Context, u string) (inventoryPage, error) {
	if err := ctx.Err(); err != nil {
		return inventoryPage{}, err
	}
	f.mu.Lock()
	f.reads[u]++
	f.inFlight++
	f.maxFlown = max(f.maxFlown, f.inFlight)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	time.Sleep(time.Millisecond) // a site's latency, so that reads overlap
	var k int
	if _, err := fmt.Sscanf(u, "http://portal.test/inventory?page=%d", &k); err != nil || k < 1 || k > f.n {
		return inventoryPage{}, &session.StatusError{Code: 404, URL: u}
	}
	if err := f.fail[k]; err != nil {
		return inventoryPage{}, err
	}
	var ip inventoryPage
	for i := range 25 {
		id := (k-1)*25 + i
		ip.Rows = append(ip.Rows, map[string]string{"vin": fmt.Sprintf("VIN%014d", id), "url": fmt.Sprintf("http://portal.test/vehicle/%d", id)})
	}
	ip.Next = pageURL(k%f.n + 1)
	for l := max(1, k-3); l <= min(f.n, k+3); l++ {
		ip.Links = append(ip.Links, pageURL(l))
	}
	ip.Links = append(ip.Links, pageURL(f.n+50))
	return ip, nil
}

func (f *fakeInventory) list(t *testing.T, readers int) ([]vehicle, error) {
	t.Helper()
	first, err := f.read(t.Context(), pageURL(1))
	if err != nil {
		t.Fatal(err)
	}
	pages := crawlInventory(t.Context(), pageURL(1), first, readers, f.read)
	return (&job{log: sessiontest.Logger(t)}).inventoryVehicles(pageURL(1), pages)
}

// TestInventoryIsReadAheadInOrder: pages are read several at once, each
// once, at most readers at a time, and the vehicles come out in the
// inventory's order however the reads finished; a page linked but missing
// does not matter, a cycle of next links ends the listing.
func TestInventoryIsReadAheadInOrder(t *testing.T) {
	f := &fakeInventory{n: 40, reads: map[string]int{}}
	vehicles, err := f.list(t, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(vehicles) != 40*25 {
		t.Fatalf("%d vehicles, want %d", len(vehicles), 40*25)
	}
	for i, v := range vehicles {
		if want := fmt.Sprintf("VIN%014d", i); v.VIN != want {
			t.Fatalf("vehicle %d is %s, want %s", i, v.VIN, want)
		}
	}
	for u, n := range f.reads {
		if n != 1 {
			t.Errorf("%s read %d times", u, n)
		}
	}
	if f.maxFlown > 4 {
		t.Errorf("%d pages read at once, want at most 4", f.maxFlown)
	}
	if f.maxFlown < 2 {
		t.Errorf("pages were read one at a time (%d at most)", f.maxFlown)
	}
}

// TestInventoryPageOnTheChainFails: a page on the next chain that can't be
// read fails the listing, naming the page.
func TestInventoryPageOnTheChainFails(t *testing.T) {
	boom := errors.New("HTTP 500 for good")
	f := &fakeInventory{n: 30, reads: map[string]int{}, fail: map[int]error{17: boom}}
	_, err := f.list(t, 3)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "page 17") {
		t.Fatalf("err = %v, want the failure of page 17", err)
	}
}

// TestInventoryCrawlStopsWithTheRun: a cancelled run reads no more pages.
func TestInventoryCrawlStopsWithTheRun(t *testing.T) {
	f := &fakeInventory{n: 1000, reads: map[string]int{}}
	ctx, cancel := context.WithCancel(t.Context())
	first, _ := f.read(ctx, pageURL(1))
	cancel()
	pages := crawlInventory(ctx, pageURL(1), first, 2, f.read)
	_, err := (&job{log: sessiontest.Logger(t)}).inventoryVehicles(pageURL(1), pages)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if len(f.reads) != 1 {
		t.Errorf("%d pages read after the cancel", len(f.reads)-1)
	}
}
