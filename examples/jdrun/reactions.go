package main

import (
	"context"
	"errors"

	"github.com/pagefleet/pagefleet/download"
)

// reactions are the site quirks jdrun adapts to — each only on evidence,
// and undone when the evidence goes away, so one odd vehicle changes
// nothing for the others.
type reactions struct {
	// Direct sticker URLs that the site refuses: a vehicle whose direct
	// fetch fails is tried on its page in the same attempt. Only when
	// pageStreak distinct vehicles in a row needed that does every vehicle
	// go to its page first.
	pageOnly bool
	streak   map[string]bool

	// Wrong PDFs: a portal that keeps a per-session "current vehicle"
	// serves the PDF of the vehicle another worker just viewed. A wrong
	// PDF that names a vehicle being viewed right now, or wrongRepeat of
	// them among the last wrongWindow page downloads, put the page path on
	// one worker; after release clean downloads it goes back to all of
	// them, and the next release waits twice as long.
	serial  bool
	recent  []bool // the last page downloads: wrong or not
	clean   int
	release int
}

const (
	pageStreak  = 3
	wrongRepeat = 2
	wrongWindow = 50
)

func newReactions() reactions { return reactions{streak: map[string]bool{}, release: 100} }

// directFor reports whether to fetch v's sticker URL without its page.
func (r *runner) directFor(v *vehicle) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.site.stickerURL != nil && (r.cfg.Download == "direct" || r.cfg.Download == "auto" && !r.react.pageOnly)
}

// directDone notes a direct fetch that needed no page: the streak ends.
func (r *runner) directDone(v *vehicle, err error) {
	if err == nil {
		r.mu.Lock()
		clear(r.react.streak)
		r.mu.Unlock()
	}
}

// pageRescue notes a vehicle whose direct URL failed and that went to its
// page; after pageStreak of them in a row, pages come first for all.
func (r *runner) pageRescue(v *vehicle) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.react.streak[v.VIN] = true
	if len(r.react.streak) >= pageStreak && !r.react.pageOnly {
		r.react.pageOnly = true
		r.log.Warn("the sticker URL does not work without opening the vehicle page; opening each page from now on",
			"vehicles", len(r.react.streak))
	}
}

// enterView marks v's page as open (while serialised: waits for its turn,
// which the pool's cap of one worker gives).
func (r *runner) enterView(ctx context.Context, v *vehicle) error {
	r.mu.Lock()
	r.viewing[v.VIN]++
	r.mu.Unlock()
	return ctx.Err()
}

func (r *runner) leaveView(v *vehicle) {
	r.mu.Lock()
	if r.viewing[v.VIN]--; r.viewing[v.VIN] <= 0 {
		delete(r.viewing, v.VIN)
	}
	r.mu.Unlock()
}

// pageDownloaded weighs a page download's outcome as evidence of
// interference between parallel views.
func (r *runner) pageDownloaded(v *vehicle, err error) {
	var inv *download.InvalidError
	wrong := errors.Is(err, download.ErrWrongItem)
	r.mu.Lock()
	defer r.mu.Unlock()
	rc := &r.react
	rc.recent = append(rc.recent, wrong)
	if len(rc.recent) > wrongWindow {
		rc.recent = rc.recent[1:]
	}
	correlated := false
	if wrong && errors.As(err, &inv) {
		for _, other := range inv.Others {
			correlated = correlated || r.viewing[other] > 0
		}
	}
	n := 0
	for _, w := range rc.recent {
		if w {
			n++
		}
	}
	switch {
	case wrong && !rc.serial && (correlated || n >= wrongRepeat):
		rc.serial, rc.clean = true, 0
		r.log.Warn("the portal served PDFs of other vehicles (it keeps a per-session \"current vehicle\"): "+
			"one worker views and downloads at a time until that stops", "wrong", n, "of", len(rc.recent), "while_viewed", correlated)
		r.pool.SetMaxWorkers(1)
	case rc.serial && wrong:
		rc.clean = 0
	case rc.serial:
		if rc.clean++; rc.clean >= rc.release {
			rc.serial, rc.recent = false, nil
			r.log.Info("no wrong PDF for a while: back to all workers", "downloads", rc.clean)
			rc.release *= 2
			r.pool.SetMaxWorkers(0)
		}
	}
}

// wrongPDF counts v's wrong PDFs and returns err.
func (r *runner) wrongPDF(v *vehicle, err error) error {
	if errors.Is(err, download.ErrContentMismatch) {
		r.count(v, func() { v.wrongPDF++ })
	}
	return err
}
