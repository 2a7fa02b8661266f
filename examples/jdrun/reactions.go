package main

import (
	"context"
	"errors"

	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/pool"
)

// reactions are the site quirks jdrun adapts to — each only on evidence,
// and undone when the evidence goes away, so that one odd vehicle changes
// nothing for the others.
type reactions struct {
	// A vehicle whose sticker URL fails is tried on its page in the same
	// attempt. Only when pageStreak distinct vehicles in a row needed that
	// (the site refuses direct URLs) do all vehicles go to their pages.
	pageOnly bool
	streak   map[string]bool

	// A portal that keeps a per-session "current vehicle" serves the PDF of
	// the vehicle another worker just viewed. A wrong PDF that names a
	// vehicle being viewed right now, or wrongRepeat of them among the last
	// wrongWindow page downloads, put the page path on one worker; after
	// release clean downloads it goes back to all of them, and the next
	// release waits twice as long.
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

// directFor reports whether the attempt of ctx fetches the sticker URL
// without opening the vehicle's page. In auto mode a vehicle's last
// attempt opens its page: another way in, and a page to show if it fails.
func (r *runner) directFor(ctx context.Context) bool {
	a, _ := pool.AttemptFrom(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.site.stickerURL == nil:
		return false
	case r.cfg.Download == "direct":
		return true
	}
	return r.cfg.Download == "auto" && !r.react.pageOnly && a.Number <= r.cfg.Retries
}

// directDone notes a direct fetch that needed no page: the streak ends.
func (r *runner) directDone(err error) {
	if err == nil {
		r.counted(func() { clear(r.react.streak) })
	}
}

// view counts v's page as open (+1) or closed (-1).
func (r *runner) view(v *vehicle, delta int) {
	r.counted(func() {
		if r.viewing[v.VIN] += delta; r.viewing[v.VIN] <= 0 {
			delete(r.viewing, v.VIN)
		}
	})
}

// pageDownloaded weighs a page download as evidence: of a site that wants
// its pages opened (afterDirect: the vehicle's sticker URL had failed), and
// of interference between parallel views (a wrong PDF).
func (r *runner) pageDownloaded(v *vehicle, err error, afterDirect bool) {
	var inv *download.InvalidError
	wrong := errors.Is(err, download.ErrWrongItem)
	r.mu.Lock()
	defer r.mu.Unlock()
	rc := &r.react
	if afterDirect && err == nil && !rc.pageOnly {
		if rc.streak[v.VIN] = true; len(rc.streak) >= pageStreak {
			rc.pageOnly = true
			r.log.Warn("the sticker URL does not work without opening the vehicle page; opening each page from now on",
				"vehicles", len(rc.streak))
		}
	}
	rc.recent = append(rc.recent, wrong)
	rc.recent = rc.recent[max(0, len(rc.recent)-wrongWindow):]
	correlated, n := false, 0
	if wrong && errors.As(err, &inv) {
		for _, other := range inv.Others {
			correlated = correlated || r.viewing[other] > 0
		}
	}
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
		r.counted(func() { v.wrongPDF++ })
	}
	return err
}
