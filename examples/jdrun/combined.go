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
	"text/tabwriter"
	"time"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/session"
)

// runReport is `jdrun report`: the combined report of every process that
// wrote to a checkpoint store, failures grouped by kind. It exits 4 when
// there are failures. With -watch it first shows the fleet's progress
// live (watch.go), until every vehicle is done or failed; Ctrl-C stops it
// with no report.
func runReport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("jdrun report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	store := fs.String("store", getenv("CHECKPOINT_STORE"), "the checkpoint store: a file or postgres://… (env CHECKPOINT_STORE; default <state>/checkpoint.jsonl)")
	table := fs.String("store-table", cmp.Or(getenv("CHECKPOINT_TABLE"), "pagefleet_checkpoint"), "the table of a shared checkpoint (env CHECKPOINT_TABLE)")
	state := fs.String("state", cmp.Or(getenv("STATE_DIR"), ".jdrun"), "where to write combined-report.json (env STATE_DIR)")
	watch := fs.Bool("watch", false, "show every process's progress live (redrawn on a terminal, a line per change otherwise); once all is done or failed, the report")
	every := 5 * time.Second
	fs.Var(durationValue{&every}, "interval", "-watch: time between refreshes")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if every <= 0 {
		return fmt.Errorf("%w: -interval: %v is not positive", errUsage, every)
	}
	cfg := &config{Store: withPGPassword(cmp.Or(*store, filepath.Join(*state, "checkpoint.jsonl")), getenv("PGPASSWORD")), StoreTable: *table}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn, ReplaceAttr: session.RedactAttr(cfg.secrets()...)}))
	st, err := openFleet(ctx, cfg, log)
	if err != nil {
		return session.Redact(err, cfg.secrets()...)
	}
	defer st.close()
	if *watch {
		if err := watchFleet(ctx, st, stdout, every); err != nil {
			return session.Redact(err, cfg.secrets()...)
		}
	}
	tally, groups, err := st.count(ctx)
	if errors.Is(err, errNoJournal) {
		err = fmt.Errorf("%w: %w", errUsage, err)
	}
	if err != nil {
		return session.Redact(err, cfg.secrets()...)
	}
	fmt.Fprintf(stdout, "checkpoint %s: %d vehicles — %d done, %d failed, %d unfinished; %.0f vehicles/hour overall\n\n",
		st.name, tally.Records, tally.Done, tally.Failed, tally.Unfinished, tally.PerHour())
	printOwners(stdout, tally)
	printFailures(stdout, groups)
	if err := os.MkdirAll(*state, 0o755); err != nil {
		return err
	}
	path := filepath.Join(*state, "combined-report.json")
	if err := writeJSON(path, map[string]any{"store": st.name, "generated": time.Now(), "tally": tally, "failures": groups}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nwritten: %s\n", path)
	if tally.Failed > 0 {
		return fmt.Errorf("%w: %d vehicles (rerun with -retry-failed)", errFailures, tally.Failed)
	}
	return nil
}

// printOwners prints each owner's (process's) tally.
func printOwners(w io.Writer, tally checkpoint.Tally) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "worker\tdone\tfailed\tunfinished\tMB\tvehicles/hour\tfirst\tlast")
	for _, o := range tally.Owners {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f\t%.0f\t%s\t%s\n", cmp.Or(o.Owner, "(unknown)"), o.Done, o.Failed, o.Unfinished,
			float64(o.Bytes)/(1<<20), o.PerHour(), o.First.Local().Format(time.TimeOnly), o.Last.Local().Format(time.TimeOnly))
	}
	tw.Flush()
}

// printFailures prints failure groups: count, kind, what to do, examples.
func printFailures(w io.Writer, groups []download.FailureGroup) {
	if len(groups) == 0 {
		return
	}
	fmt.Fprintln(w, "\nfailures by kind:")
	for _, g := range groups {
		seen := g.First.Format("15:04:05")
		if g.Last.Sub(g.First) >= time.Second {
			seen += "–" + g.Last.Format("15:04:05")
		}
		fmt.Fprintf(w, "  %4d  %s — %s\n        seen %s, e.g. %v: %.160s\n", g.Count, g.Class, g.Hint, seen, g.Keys, g.Example)
	}
}
