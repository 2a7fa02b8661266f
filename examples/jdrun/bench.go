package main

import (
	"cmp"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/examples/portal/dealer"
	"github.com/pagefleet/pagefleet/session"
)

// benchRow is one measured configuration.
type benchRow struct {
	Mode          string  `json:"mode"`    // fixed or adaptive
	Workers       int     `json:"workers"` // the fixed count, or the adaptive ceiling
	FinalWorkers  int     `json:"final_workers"`
	Vehicles      int     `json:"vehicles"`
	Done          int     `json:"done"`
	Seconds       float64 `json:"seconds"`
	PerHour       float64 `json:"vehicles_per_hour"`
	SuccessPct    float64 `json:"success_pct"` // vehicles done
	Errors        int     `json:"errors"`      // failed attempts, retried or not
	P50s          float64 `json:"p50_seconds"`
	P95s          float64 `json:"p95_seconds"`
	PeakMemoryMB  float64 `json:"peak_memory_mb"`
	CPUPerVehicle float64 `json:"cpu_seconds_per_vehicle,omitempty"` // 0: not measured (the browser was relaunched)
	CPU           struct {
		Go, Driver, Browser float64
	} `json:"cpu_seconds_per_vehicle_by_part"`
	Server429    int     `json:"server_429,omitempty"`
	Server500    int     `json:"server_500,omitempty"`
	EfficiencyPc float64 `json:"efficiency_pct,omitempty"` // of workers ÷ server time per vehicle (demo, fixed only)
	// ServerSecondsPerVehicle is the latency one vehicle costs at the server.
	ServerSecondsPerVehicle float64 `json:"server_seconds_per_vehicle,omitempty"`
	// Timeouts is what the session learned of each kind of request, at the end.
	Timeouts string `json:"learned_timeouts,omitempty"`
}

type benchReport struct {
	Started  time.Time         `json:"started"`
	Portal   string            `json:"portal"`
	Settings map[string]string `json:"settings"`
	Rows     []benchRow        `json:"rows"`
}

// runBench is `jdrun bench`: the old tool's worker count analysis, automated.
func runBench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("jdrun bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		n        = fs.Int("vehicles", 200, "vehicles per measured run")
		counts   = fs.String("workers", "1,2,4,7,10,12", "fixed worker counts to measure, comma-separated")
		adaptive = fs.Bool("adaptive", true, "also measure the adaptive mode, with the largest count as its ceiling")
		latency  = fs.Duration("latency", 300*time.Millisecond, "demo portal: latency per request")
		limit    = fs.Int("limit", 6, "demo portal: requests one session may have in flight (0: no limit)")
		errRate  = fs.Float64("error-rate", 0, "demo portal: share of requests answered HTTP 500")
		hangRate = fs.Float64("hang-rate", 0, "demo portal: share of requests that never answer")
		ttl      = fs.Duration("session-ttl", 0, "demo portal: how long a login lasts (0: forever)")
		photos   = fs.Int("photos", 6, "demo portal: photos per vehicle page")
		out      = fs.String("out", "bench", "directory for bench.json and bench.html")
		siteURL  = fs.String("url", "", "measure this portal instead of the demo (downloads go to a temporary directory; JD_USER/JD_PASS from the environment or .env; keep -vehicles small to be polite)")
		mode     = fs.String("download", "auto", "fetch, click or auto (see jdrun -h)")
		block    = fs.Bool("block", true, "block images, stylesheets, fonts and media")
		verbose  = fs.Bool("v", false, "log what each run does")
		evidence = fs.Bool("evidence", true, "keep the evidence of failures as a run does (off: measure without it)")
	)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "jdrun bench measures vehicles/hour, success, time per vehicle, memory and CPU for a sweep of worker counts\nand the adaptive mode, on a sample of vehicles. Against the embedded demo portal by default.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	var sweep []int
	for _, s := range strings.Split(*counts, ",") {
		w, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || w < 1 || w > 64 {
			return fmt.Errorf("%w: -workers: %q is not a count in 1..64", errUsage, s)
		}
		sweep = append(sweep, w)
	}
	if *n < 1 {
		return fmt.Errorf("%w: -vehicles must be positive", errUsage)
	}
	envArgs := []string{"-url", *siteURL, "-demo=" + strconv.FormatBool(*siteURL == ""), "-download", *mode, "-block=" + strconv.FormatBool(*block), "-progress", "off"}
	base, err := loadConfig(envArgs, getenv, strings.NewReader(""), stderr)
	if err != nil {
		return err
	}
	if !*evidence {
		base.Bundles = 0
	}
	level := slog.LevelError // failed vehicles are counted in the table
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level, ReplaceAttr: session.RedactAttr(base.secrets()...)}))

	var srv *dealer.Server
	if base.Demo {
		srv, err = dealer.Start(dealer.Config{Vehicles: *n, Latency: *latency, MaxInFlight: *limit, ErrorRate: *errRate, HangRate: *hangRate, SessionTTL: *ttl,
			Photos: *photos, Prewarm: true})
		if err != nil {
			return err
		}
		defer srv.Close()
		base.URL, base.User, base.Password = srv.URL(), dealer.DemoUser, dealer.DemoPassword
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	rep := benchReport{Started: time.Now(), Portal: base.URL, Settings: map[string]string{
		"vehicles": strconv.Itoa(*n), "latency": latency.String(), "limit": strconv.Itoa(*limit),
		"error_rate": fmt.Sprint(*errRate), "hang_rate": fmt.Sprint(*hangRate), "session_ttl": ttl.String(), "download": *mode, "block": strconv.FormatBool(*block), "evidence": strconv.FormatBool(*evidence),
	}}
	if srv == nil {
		rep.Settings = map[string]string{"vehicles": strconv.Itoa(*n), "download": *mode, "block": strconv.FormatBool(*block)}
	}
	fmt.Fprintf(stdout, "benchmarking %s: %d vehicles per run; latency %v, per-session limit %d\n", base.URL, *n, *latency, *limit)

	var vehicles []*vehicle
	runs := make([]func() (benchRow, error), 0, len(sweep)+1)
	measure := func(workers int, adapt bool) func() (benchRow, error) {
		return func() (benchRow, error) {
			cfg := *base
			cfg.Workers, cfg.Adaptive = workers, adapt
			return benchOnce(ctx, &cfg, log, srv, &vehicles, *n, *latency)
		}
	}
	for _, w := range sweep {
		runs = append(runs, measure(w, false))
	}
	if *adaptive {
		runs = append(runs, measure(slices.Max(sweep), true))
	}
	for _, run := range runs {
		row, err := run()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "  %-8s %2d workers: %6.0f vehicles/h, %5.1f%% done, p50 %.2fs; timeouts learned: %s\n", row.Mode, row.Workers, row.PerHour, row.SuccessPct, row.P50s, row.Timeouts)
		rep.Rows = append(rep.Rows, row)
		if ctx.Err() != nil {
			return fmt.Errorf("%w: bench stopped", errInterrupted)
		}
	}
	printBench(stdout, rep)
	fmt.Fprintf(stdout, "\n%s\n", recommend(rep.Rows))
	if err := writeJSON(filepath.Join(*out, "bench.json"), rep); err != nil {
		return err
	}
	var b strings.Builder
	if err := benchHTML.Execute(&b, benchView(rep)); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(*out, "bench.html"), []byte(b.String())); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nwritten: %s, %s\n", filepath.Join(*out, "bench.json"), filepath.Join(*out, "bench.html"))
	return nil
}

// benchOnce measures one configuration with a fresh browser and session.
func benchOnce(ctx context.Context, cfg *config, log *slog.Logger, srv *dealer.Server, vehicles *[]*vehicle, n int, latency time.Duration) (benchRow, error) {
	row := benchRow{Mode: "fixed", Workers: cfg.Workers}
	if cfg.Adaptive {
		row.Mode = "adaptive"
	}
	dir, err := os.MkdirTemp("", "jdrun-bench-")
	if err != nil {
		return row, err
	}
	defer os.RemoveAll(dir)
	cfg.OutDir, cfg.StateDir = dir, dir // failures' evidence is measured too, and thrown away
	st, err := loadSite(cfg.SiteFile)
	if err != nil {
		return row, err
	}
	r, err := openRunner(ctx, cfg, st, log, checkpoint.NewMemory())
	if err != nil {
		return row, err
	}
	defer r.close()
	if *vehicles == nil {
		if *vehicles, err = r.list(ctx, nil); err != nil {
			return row, err
		}
		*vehicles = (*vehicles)[:min(n, len(*vehicles))]
	}
	todo := make([]*vehicle, len(*vehicles))
	for i, v := range *vehicles {
		c := *v // this run's counts
		c.downloads, c.wrongPDF = 0, 0
		todo[i] = &c
	}
	r.know(todo)
	if srv != nil {
		srv.ResetStats()
	}
	sess := r.sess
	cpu0, _ := sess.CPU()
	start := time.Now()
	rep := &reporter{r: r}
	quiet := *cfg
	quiet.Progress = "off"
	mon := startMonitor(&quiet, io.Discard, &switchWriter{w: io.Discard}, log, r.stats)
	mon.setTotal(0, len(todo), true)
	err = r.download(ctx, todo, rep.record)
	samples, peak := mon.finish()
	if err != nil {
		return row, err
	}
	row.Seconds = time.Since(start).Seconds()
	cpu1, cpuErr := sess.CPU()

	s := summary{Queued: len(todo)}
	rep.finish(ctx, &s, samples, peak)
	row.Vehicles, row.Done = len(*vehicles), s.Done
	row.FinalWorkers = s.Workers
	row.PerHour = float64(s.Done) / row.Seconds * 3600
	row.SuccessPct = 100 * float64(s.Done) / float64(max(row.Vehicles, 1))
	row.PeakMemoryMB = s.PeakMemoryMB
	var secs []float64
	for _, o := range rep.outcomes {
		row.Errors += o.Attempts - 1 + o.Requeues
		if o.State == "done" {
			secs = append(secs, o.Seconds)
		} else {
			row.Errors++
		}
	}
	row.P50s, row.P95s = percentile(secs, 50), percentile(secs, 95)
	row.Timeouts = learnedTimeouts(sess.Timeouts())
	// A relaunch (of the browser, and of the driver if it died) takes the
	// dead processes' CPU time with it: no figure is better than a wrong one.
	if cpuErr == nil && s.Done > 0 && s.Relaunches == 0 {
		c := cpu1.Sub(cpu0)
		per := float64(s.Done)
		row.CPUPerVehicle = c.Total() / per
		row.CPU.Go, row.CPU.Driver, row.CPU.Browser = c.Go/per, c.Driver/per, c.Browser/per
	}
	if srv != nil {
		ps := srv.Stats()
		row.Server429, row.Server500 = int(ps.TooManyRequests), int(ps.Errors500)
		if !cfg.Adaptive && latency > 0 && s.Done > 0 {
			// The ideal: each worker always waiting on the server, for the
			// requests one vehicle needs (its page, its sticker…, counted
			// by the portal) at the portal's latency each.
			var reqs int64
			for _, k := range []dealer.Kind{dealer.KindVehicle, dealer.KindSticker, dealer.KindPrepare} {
				reqs += ps.Requests[k]
			}
			reqs -= ps.TooManyRequests // refused before any latency
			perVehicle := float64(reqs) / float64(s.Done) * latency.Seconds()
			row.ServerSecondsPerVehicle = perVehicle
			row.EfficiencyPc = 100 * row.PerHour / (float64(cfg.Workers) / perVehicle * 3600)
		}
	}
	return row, nil
}

// learnedTimeouts is one line of what a session learned, by kind of request.
func learnedTimeouts(ts map[string]session.RTOStats) string {
	var parts []string
	for _, kind := range slices.Sorted(maps.Keys(ts)) {
		parts = append(parts, kind+" "+ts[kind].String())
	}
	return cmp.Or(strings.Join(parts, ", "), "none")
}

func percentile(xs []float64, p int) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	return xs[min(len(xs)-1, len(xs)*p/100)]
}

func printBench(w io.Writer, rep benchReport) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tworkers\tvehicles/h\tsuccess %\terrors\tp50 s\tp95 s\tpeak MB\tCPU s/veh\t(go/driver/browser)\t429s\tefficiency %\t")
	for _, r := range rep.Rows {
		workers := strconv.Itoa(r.Workers)
		if r.Mode == "adaptive" {
			workers = fmt.Sprintf("≤%d→%d", r.Workers, r.FinalWorkers)
		}
		eff, cpu, split := "-", "-", "-"
		if r.EfficiencyPc > 0 {
			eff = fmt.Sprintf("%.0f", r.EfficiencyPc)
		}
		if r.CPUPerVehicle > 0 {
			cpu = fmt.Sprintf("%.3f", r.CPUPerVehicle)
			split = fmt.Sprintf("%.3f/%.3f/%.3f", r.CPU.Go, r.CPU.Driver, r.CPU.Browser)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.1f\t%d\t%.2f\t%.2f\t%.0f\t%s\t%s\t%d\t%s\t\n",
			r.Mode, workers, r.PerHour, r.SuccessPct, r.Errors, r.P50s, r.P95s, r.PeakMemoryMB,
			cpu, split, r.Server429, eff)
	}
	tw.Flush()
}

//go:embed bench.html.tmpl
var benchTemplate string

var benchHTML = template.Must(template.New("bench").Funcs(chartFuncs).Parse(chartSVG + benchTemplate))

// benchView is what bench.html shows.
func benchView(rep benchReport) map[string]any {
	var ws, rates, mem []float64
	top, topMem, lo, hi := 0.0, 0.0, math.Inf(1), 0.0
	var adaptive *benchRow
	for i, r := range rep.Rows {
		top, topMem = math.Max(top, r.PerHour), math.Max(topMem, r.PeakMemoryMB)
		lo, hi = math.Min(lo, float64(r.Workers)), math.Max(hi, float64(r.Workers))
		if r.Mode == "adaptive" {
			adaptive = &rep.Rows[i]
			continue
		}
		ws, rates, mem = append(ws, float64(r.Workers)), append(rates, r.PerHour), append(mem, r.PeakMemoryMB)
	}
	var c *chart
	if len(rep.Rows) > 0 {
		c = newChart("Vehicles per hour by worker count", "workers", "vehicles per hour", math.Min(lo, 1), hi, top)
		c.addLine("fixed worker count", "#1a5fb4", false, ws, rates)
		if adaptive != nil {
			c.addLine(fmt.Sprintf("adaptive (up to %d, ended at %d)", adaptive.Workers, adaptive.FinalWorkers), "#2e7d32", true,
				[]float64{math.Min(lo, 1), hi}, []float64{adaptive.PerHour, adaptive.PerHour})
		}
		c.addSecond("peak memory, MB", "#c64600", ws, mem, topMem)
	}
	return map[string]any{"R": rep, "Chart": c, "Advice": recommend(rep.Rows)}
}

// recommend says which setting to use after a bench, and why: the fewest
// fixed workers within 5 % of the fastest (more add memory, not speed), or
// adaptive when it comes within 10 % of that without a count to choose.
// A configuration that finished fewer vehicles is not recommended for its
// speed.
func recommend(rows []benchRow) string {
	var best, adaptive *benchRow
	topSuccess := 0.0
	for _, r := range rows {
		topSuccess = math.Max(topSuccess, r.SuccessPct)
	}
	for i, r := range rows {
		switch {
		case r.SuccessPct < topSuccess-1:
		case r.Mode == "adaptive":
			adaptive = &rows[i]
		case best == nil || r.PerHour > best.PerHour:
			best = &rows[i]
		}
	}
	if best == nil {
		if adaptive != nil {
			return fmt.Sprintf("Use adaptive (the default): %.0f vehicles/hour, and it finished the most vehicles.", adaptive.PerHour)
		}
		return "Nothing measured."
	}
	pick := best
	for i, r := range rows {
		if r.Mode == "fixed" && r.SuccessPct >= topSuccess-1 && r.PerHour >= 0.95*best.PerHour && r.Workers < pick.Workers {
			pick = &rows[i]
		}
	}
	why := ""
	if pick != best {
		why = fmt.Sprintf(" (%d workers reach %.0f; more workers add memory, not speed)", best.Workers, best.PerHour)
	}
	if adaptive != nil && adaptive.PerHour >= 0.9*pick.PerHour {
		return fmt.Sprintf("Use adaptive (the default): %.0f vehicles/hour, within %.0f %% of the best fixed count — %d workers at %.0f%s — "+
			"without choosing a count, and it backs off when the site slows down.",
			adaptive.PerHour, 100*math.Abs(1-adaptive.PerHour/pick.PerHour), pick.Workers, pick.PerHour, why)
	}
	advice := fmt.Sprintf("Use %d workers (-adaptive=false -workers %d): %.0f vehicles/hour%s", pick.Workers, pick.Workers, pick.PerHour, why)
	if adaptive != nil {
		advice += fmt.Sprintf("; adaptive reached %.0f", adaptive.PerHour)
	}
	return advice + "."
}
