package download_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/session"
)

func TestFallbackGoesToPagesOnlyOnAStreak(t *testing.T) {
	t.Parallel()
	var f download.Fallback
	if !f.Direct() {
		t.Fatal("a new Fallback does not try the direct URL")
	}
	f.Paged("A", nil)
	f.Paged("A", nil) // the same item again is no more evidence
	f.Paged("B", errors.New("page failed too"))
	f.Paged("B", nil)
	f.Fetched(nil) // a direct fetch that worked ends the streak
	f.Paged("C", nil)
	f.Paged("D", nil)
	if !f.Direct() {
		t.Fatal("gave up the direct URL without 3 distinct items in a row needing their page")
	}
	f.Fetched(errors.New("direct failed")) // a failure is no break in the streak
	f.Paged("E", nil)
	if f.Direct() {
		t.Fatal("still tries the direct URL after C, D and E in a row needed their page")
	}
	f.Fetched(nil)
	if f.Direct() {
		t.Fatal("went back to the direct URL: the switch is for the rest of the run")
	}
}

func TestNeedsPage(t *testing.T) {
	t.Parallel()
	invalid := func(reason error) error { return fmt.Errorf("fetch: %w", &download.InvalidError{Reason: reason}) }
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{&session.StatusError{Code: 403}, true},
		{&session.StatusError{Code: 404}, true},
		{&session.StatusError{Code: 429}, false},
		{&session.StatusError{Code: 500}, false},
		{invalid(download.ErrHTMLPage), true},
		{invalid(download.ErrNotPDF), true},
		{invalid(download.ErrLoginPage), false},
		{fmt.Errorf("%w: %w", download.ErrLoginLoop, invalid(download.ErrLoginPage)), true},
		{invalid(download.ErrWrongItem), false},
		{context.DeadlineExceeded, false},
	} {
		if got := download.NeedsPage(tc.err); got != tc.want {
			t.Errorf("NeedsPage(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestInterference(t *testing.T) {
	t.Parallel()
	wrong := func(others ...string) error {
		return fmt.Errorf("click: %w", &download.InvalidError{Reason: download.ErrWrongItem, Others: others})
	}
	var limits []int
	g := &download.Interference{SetMaxWorkers: func(n int) error { limits = append(limits, n); return nil }, Release: 3}
	expect := func(want ...int) {
		t.Helper()
		if !slices.Equal(limits, want) {
			t.Fatalf("SetMaxWorkers calls %v, want %v", limits, want)
		}
	}

	g.Downloaded(wrong("X")) // one wrong file naming an item nobody views: no evidence yet
	g.Downloaded(nil)
	expect()
	done := g.View("Y")
	g.Downloaded(wrong("Y")) // names the item another page shows right now
	expect(1)
	done()
	done() // twice is once

	g.Downloaded(nil)
	g.Downloaded(nil)
	g.Downloaded(wrong("Z")) // still wrong: the clean count starts again
	g.Downloaded(nil)
	g.Downloaded(nil)
	expect(1)
	g.Downloaded(nil)
	expect(1, 0)

	g.Downloaded(wrong("Q")) // after a release, two in the window are needed again
	expect(1, 0)
	g.Downloaded(wrong("R"))
	expect(1, 0, 1)
	for range 5 { // the next release waits twice as long: 6
		g.Downloaded(nil)
	}
	expect(1, 0, 1)
	g.Downloaded(nil)
	expect(1, 0, 1, 0)

	g.Downloaded(wrong("Y")) // Y's page is closed now: not correlated
	expect(1, 0, 1, 0)
}

// TestInterferenceCountsOnlySavedFilesClean: while one worker downloads
// alone, failed downloads — a timeout, an error page, a file naming an item
// not listed yet (possibly another item's) — do not count towards going back
// to all workers: only files saved right show the portal stopped mixing
// items up.
func TestInterferenceCountsOnlySavedFilesClean(t *testing.T) {
	t.Parallel()
	var limits []int
	g := &download.Interference{SetMaxWorkers: func(n int) error { limits = append(limits, n); return nil }, Release: 2}
	done := g.View("Y")
	g.Downloaded(&download.InvalidError{Reason: download.ErrWrongItem, Others: []string{"Y"}})
	done()
	for _, err := range []error{
		context.DeadlineExceeded,
		&download.InvalidError{Reason: download.ErrUnlisted},
		fmt.Errorf("click: %w", download.ErrHTMLPage),
	} {
		g.Downloaded(err)
	}
	if !slices.Equal(limits, []int{1}) {
		t.Fatalf("SetMaxWorkers calls %v after three failed downloads, want [1]: still one worker", limits)
	}
	g.Downloaded(nil)
	g.Downloaded(nil)
	if !slices.Equal(limits, []int{1, 0}) {
		t.Fatalf("SetMaxWorkers calls %v after two files saved right, want [1 0]", limits)
	}
}
