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
// there are failures.
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
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn, ReplaceAttr: session.RedactAttr(cfg.secrets()...)}))
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return session.Redact(err, cfg.secrets()...)
	}
	defer st.Close()
	var failures download.Failures
	tally, err := checkpoint.Count(ctx, st, failures.AddRecord)
	if err != nil {
		return session.Redact(fmt.Errorf("reading the checkpoint: %w", err), cfg.secrets()...)
	}
	fmt.Fprintf(stdout, "checkpoint %s: %d vehicles — %d done, %d failed, %d unfinished; %.0f vehicles/hour overall\n\n",
		redactedStore(cfg.Store), tally.Records, tally.Done, tally.Failed, tally.Unfinished, tally.PerHour())
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "worker\tdone\tfailed\tunfinished\tMB\tvehicles/hour\tfirst\tlast")
	for _, o := range tally.Owners {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f\t%.0f\t%s\t%s\n", cmp.Or(o.Owner, "(unknown)"), o.Done, o.Failed, o.Unfinished,
			float64(o.Bytes)/(1<<20), o.PerHour(), o.First.Local().Format(time.TimeOnly), o.Last.Local().Format(time.TimeOnly))
	}
	tw.Flush()
	groups := failures.Groups()
	printFailures(stdout, groups)
	if err := os.MkdirAll(*state, 0o755); err != nil {
		return err
	}
	path := filepath.Join(*state, "combined-report.json")
	if err := writeJSON(path, map[string]any{"store": redactedStore(cfg.Store), "generated": time.Now(), "tally": tally, "failures": groups}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nwritten: %s\n", path)
	if tally.Failed > 0 {
		return fmt.Errorf("%w: %d vehicles (rerun with -retry-failed)", errFailures, tally.Failed)
	}
	return nil
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
