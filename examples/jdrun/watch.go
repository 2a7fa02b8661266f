package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/pool"
)

// errNoJournal is the error of a file store that has no journal yet.
var errNoJournal = errors.New("no checkpoint yet")

// fleetStore is a checkpoint store as `jdrun report` reads it: a shared
// store through one connection, a file journal afresh at each read with
// checkpoint.ReadFile — without its lock, so beside the run that has it
// open, and without changing it.
type fleetStore struct {
	name   string           // to show: a store URL's password redacted
	path   string           // of a file journal
	shared checkpoint.Store // a shared store; nil for a file
}

func openFleet(ctx context.Context, cfg *config, log *slog.Logger) (*fleetStore, error) {
	f := &fleetStore{name: redactedStore(cfg.Store), path: cfg.Store}
	if isPostgres(cfg.Store) {
		st, err := openStore(ctx, cfg, log)
		if err != nil {
			return nil, err
		}
		f.shared = st
	}
	return f, nil
}

func (f *fleetStore) close() {
	if f.shared != nil {
		f.shared.Close()
	}
}

// count tallies the store's records and groups its failures.
func (f *fleetStore) count(ctx context.Context) (checkpoint.Tally, []download.FailureGroup, error) {
	st := f.shared
	if st == nil {
		m, err := checkpoint.ReadFile(f.path)
		var corrupt *checkpoint.CorruptError
		switch {
		case errors.As(err, &corrupt):
			return checkpoint.Tally{}, nil, fmt.Errorf("%w: %w", errUsage, err) // it names the file and the line
		case errors.Is(err, fs.ErrNotExist):
			return checkpoint.Tally{}, nil, fmt.Errorf("%w at %s (see -store and -state)", errNoJournal, f.path)
		case err != nil:
			return checkpoint.Tally{}, nil, fmt.Errorf("reading the checkpoint: %w", err)
		}
		st = m
	}
	var failures download.Failures
	tally, err := checkpoint.Count(ctx, st, failures.AddRecord)
	if err != nil {
		return tally, nil, fmt.Errorf("reading the checkpoint: %w", err)
	}
	return tally, failures.Groups(), nil
}

// watchFleet shows the progress of every process writing to st, read every
// interval: on a terminal a table redrawn in place, otherwise a line per
// change. It returns nil once every vehicle in the store is done or
// failed, and stays so over a refresh (a vehicle between two processes'
// claims may have no unfinished record for a moment); an error wrapping
// errInterrupted when ctx ends (Ctrl-C).
//
// The store knows the vehicles that have been offered or started, not the
// inventory: before the first record there is nothing to finish.
func watchFleet(ctx context.Context, st *fleetStore, w io.Writer, interval time.Duration) error {
	var scr screen
	if f, ok := w.(*os.File); ok && canDrawBar(w) && colors(w) {
		scr.tty = true
		scr.width = func() int { cols, _, _ := term.GetSize(int(f.Fd())); return cols }
	}
	// The fleet's pace over the last minutes, as a run's progress has it:
	// the meter samples the latest tally.
	var mu sync.Mutex
	var last pool.Stats
	meter := &pool.Meter{Every: interval, Stats: func() pool.Stats { mu.Lock(); defer mu.Unlock(); return last }}
	var prev *checkpoint.Tally
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		tally, groups, err := st.count(ctx)
		switch {
		case errors.Is(err, errNoJournal):
			scr.show(w, []string{fmt.Sprintf("%s %v; waiting for a run to write it", time.Now().Format(time.TimeOnly), err)})
		case err != nil:
			return err
		default:
			mu.Lock()
			last = pool.Stats{Done: tally.Done, Failed: tally.Failed}
			mu.Unlock()
			if prev == nil {
				meter.Start()
				defer meter.Stop()
			}
			rate := -1.0 // unknown until the meter has two samples
			if len(meter.Samples()) >= 2 {
				rate = meter.Rate()
			}
			scr.show(w, watchFrame(st.name, tally, groups, rate, interval, scr.tty))
			if tally.Records > 0 && tally.Unfinished == 0 && prev != nil && prev.Unfinished == 0 &&
				prev.Records == tally.Records && prev.Done == tally.Done && prev.Failed == tally.Failed {
				scr.clear(w) // the report follows
				return nil
			}
			prev = &tally
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: stopped watching", errInterrupted)
		case <-tick.C:
		}
	}
}

// watchFrame is what one refresh shows: on a terminal, a heading, the
// totals, a table of the processes and the kinds of failure; otherwise all
// of it on one line.
func watchFrame(name string, t checkpoint.Tally, groups []download.FailureGroup, rate float64, interval time.Duration, tty bool) []string {
	now, pace := time.Now().Format(time.TimeOnly), "?"
	if rate >= 0 {
		pace = fmt.Sprintf("%.0f", rate)
	}
	if !tty {
		var b strings.Builder
		fmt.Fprintf(&b, "%s %d vehicles: %d done, %d failed, %d unfinished; %s/h now", now, t.Records, t.Done, t.Failed, t.Unfinished, pace)
		for _, o := range t.Owners {
			fmt.Fprintf(&b, " | %s %d done, %d failed, %d unfinished", cmp.Or(o.Owner, "(unknown)"), o.Done, o.Failed, o.Unfinished)
		}
		return []string{b.String()}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "checkpoint %s at %s (every %v; Ctrl-C to stop watching)\n", name, now, interval)
	fmt.Fprintf(&b, "%d vehicles — %d done, %d failed, %d unfinished; %s vehicles/hour now, %.0f overall\n\n",
		t.Records, t.Done, t.Failed, t.Unfinished, pace, t.PerHour())
	printOwners(&b, t)
	for i, g := range groups {
		if i == 0 {
			fmt.Fprintln(&b, "\nfailures by kind:")
		}
		if i == 5 {
			fmt.Fprintf(&b, "  … and %d more kinds\n", len(groups)-i)
			break
		}
		fmt.Fprintf(&b, "  %4d  %s\n", g.Count, g.Class)
	}
	return strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
}

// screen draws frames: on a terminal each over the last, its lines cut to
// the terminal's width so that none wraps (a wrapped line would throw off
// how far up the next frame starts); elsewhere one after the other.
type screen struct {
	tty   bool
	width func() int // columns; 0: unknown
	drawn int        // lines of the last frame on a terminal
	last  string     // the last frame elsewhere, without its time
}

func (s *screen) show(w io.Writer, lines []string) {
	if !s.tty {
		// In a log, a refresh that changed nothing but the time is left out.
		_, frame, _ := strings.Cut(strings.Join(lines, "\n"), " ")
		if frame == s.last {
			return
		}
		s.last = frame
		for _, l := range lines {
			fmt.Fprintln(w, l)
		}
		return
	}
	var b strings.Builder
	s.erase(&b)
	cols := 0
	if s.width != nil {
		cols = s.width()
	}
	for _, l := range lines {
		if cols > 1 && utf8.RuneCountInString(l) >= cols {
			l = string([]rune(l)[:cols-1])
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	io.WriteString(w, b.String())
	s.drawn = len(lines)
}

// clear erases the last frame from a terminal.
func (s *screen) clear(w io.Writer) {
	var b strings.Builder
	s.erase(&b)
	io.WriteString(w, b.String())
	s.drawn = 0
}

// erase moves up to the last frame's first line and clears from there.
func (s *screen) erase(b *strings.Builder) {
	if s.tty && s.drawn > 0 {
		fmt.Fprintf(b, "\x1b[%dA\r\x1b[J", s.drawn)
	}
}
