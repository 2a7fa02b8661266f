package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pagefleet/pagefleet/checkpoint"
)

// workerTotals is one process's share of a (shared) checkpoint.
type workerTotals struct {
	Owner   string    `json:"owner"`
	Done    int       `json:"done"`
	Failed  int       `json:"failed"`
	Bytes   int64     `json:"bytes"`
	First   time.Time `json:"first"`
	Last    time.Time `json:"last"`
	PerHour float64   `json:"vehicles_per_hour"`
}

// combinedReport is what `jdrun report` prints and writes: every worker's
// outcomes in one checkpoint store.
type combinedReport struct {
	Store     string              `json:"store"`
	Generated time.Time           `json:"generated"`
	Records   int                 `json:"records"`
	Done      int                 `json:"done"`
	Failed    int                 `json:"failed"`
	Running   int                 `json:"running"`
	PerHour   float64             `json:"vehicles_per_hour"` // all workers, first to last outcome
	Workers   []workerTotals      `json:"workers"`
	Failures  map[string]int      `json:"failures,omitempty"` // last error → count
	FailedVIN []checkpoint.Record `json:"failed_vehicles,omitempty"`
	byOwner   map[string]*workerTotals
}

// runReport is `jdrun report`: the combined report of every worker that
// wrote to a checkpoint store.
func runReport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("jdrun report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	store := fs.String("store", getenv("CHECKPOINT_STORE"), "the checkpoint store: a file or postgres://… (env CHECKPOINT_STORE; default <state>/checkpoint.jsonl)")
	table := fs.String("store-table", cmp.Or(getenv("CHECKPOINT_TABLE"), "pagefleet_checkpoint"), "the table of a shared checkpoint (env CHECKPOINT_TABLE)")
	state := fs.String("state", cmp.Or(getenv("STATE_DIR"), ".jdrun"), "where to write combined-report.json (env STATE_DIR)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	cfg := &config{Store: cmp.Or(*store, filepath.Join(*state, "checkpoint.jsonl")), StoreTable: *table}
	secret := storePassword(cfg.Store)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn, ReplaceAttr: redactor([]string{secret})}))
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return redactError(err, secret)
	}
	defer st.Close()
	rep := combinedReport{Store: redactedStore(cfg.Store), Generated: time.Now(),
		Failures: map[string]int{}, byOwner: map[string]*workerTotals{}}
	for r, err := range st.All(ctx) {
		if err != nil {
			return redactError(fmt.Errorf("reading the checkpoint: %w", err), secret)
		}
		rep.add(r)
	}
	for _, w := range rep.byOwner {
		if d := w.Last.Sub(w.First); d > 0 {
			w.PerHour = float64(w.Done) / d.Hours()
		}
		rep.Workers = append(rep.Workers, *w)
	}
	slices.SortFunc(rep.Workers, func(a, b workerTotals) int { return strings.Compare(a.Owner, b.Owner) })
	var first, last time.Time
	for _, w := range rep.Workers {
		if first.IsZero() || w.First.Before(first) {
			first = w.First
		}
		if w.Last.After(last) {
			last = w.Last
		}
	}
	if d := last.Sub(first); d > 0 {
		rep.PerHour = float64(rep.Done) / d.Hours()
	}
	rep.print(stdout)
	if err := os.MkdirAll(*state, 0o755); err != nil {
		return err
	}
	path := filepath.Join(*state, "combined-report.json")
	if err := writeJSON(path, rep); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nwritten: %s\n", path)
	return nil
}

func (c *combinedReport) add(r checkpoint.Record) {
	c.Records++
	owner := cmp.Or(r.Owner, "(unknown)")
	w := c.byOwner[owner]
	if w == nil {
		w = &workerTotals{Owner: owner}
		c.byOwner[owner] = w
	}
	switch r.State {
	case checkpoint.Done:
		c.Done++
		w.Done++
		w.Bytes += r.Size
		start := r.Started
		if start.IsZero() {
			start = r.Updated
		}
		if w.First.IsZero() || start.Before(w.First) {
			w.First = start
		}
		if r.Updated.After(w.Last) {
			w.Last = r.Updated
		}
	case checkpoint.Failed:
		c.Failed++
		w.Failed++
		msg := r.Err
		if len(msg) > 120 {
			msg = msg[:120] + "…"
		}
		c.Failures[msg]++
		c.FailedVIN = append(c.FailedVIN, r)
	default:
		c.Running++
	}
}

func (c *combinedReport) print(w io.Writer) {
	fmt.Fprintf(w, "checkpoint %s: %d vehicles — %d done, %d failed, %d unfinished; %.0f vehicles/hour overall\n\n",
		c.Store, c.Records, c.Done, c.Failed, c.Running, c.PerHour)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "worker\tdone\tfailed\tMB\tvehicles/hour\tfirst\tlast")
	for _, t := range c.Workers {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.0f\t%s\t%s\n", t.Owner, t.Done, t.Failed, float64(t.Bytes)/(1<<20), t.PerHour,
			t.First.Local().Format(time.TimeOnly), t.Last.Local().Format(time.TimeOnly))
	}
	tw.Flush()
	if len(c.Failures) > 0 {
		fmt.Fprintln(w, "\nfailures by last error:")
		for _, r := range sortedReasons(c.Failures) {
			fmt.Fprintf(w, "  %4d  %s\n", c.Failures[r], r)
		}
	}
}
