package main

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/pool"
)

// outcome is one vehicle's line in metrics.json.
type outcome struct {
	VIN       string    `json:"vin"`
	ID        string    `json:"id"`
	Stock     string    `json:"stock,omitempty"`
	State     string    `json:"state"` // done, failed, stopped
	Attempts  int       `json:"attempts"`
	Requeues  int       `json:"requeues,omitempty"` // attempts not charged (re-login)
	Seconds   float64   `json:"seconds"`
	Reason    string    `json:"reason,omitempty"`
	Error     string    `json:"error,omitempty"`
	File      string    `json:"file,omitempty"`
	Size      int64     `json:"size,omitempty"`
	Downloads int       `json:"downloads"` // sticker requests this run made
	WrongPDF  int       `json:"wrong_pdf,omitempty"`
	Worker    int       `json:"worker,omitempty"`
	Bundles   []string  `json:"bundles,omitempty"` // evidence of its failures, relative to the state dir
	Trace     string    `json:"trace,omitempty"`   // -trace failures: its replay's trace.zip, relative to the state dir
	Finished  time.Time `json:"finished"`
}

// summary is report.json, and the top of metrics.json.
type summary struct {
	Version      string                  `json:"version"`
	Settings     map[string]any          `json:"settings"` // without secrets
	Portal       string                  `json:"portal"`
	Demo         bool                    `json:"demo"`
	Started      time.Time               `json:"started"`
	Finished     time.Time               `json:"finished"`
	Seconds      float64                 `json:"seconds"`
	Inventory    int                     `json:"inventory"` // vehicles listed
	Selected     int                     `json:"selected"`  // after MAX_DOWNLOADS / -retry-failed
	Skipped      int                     `json:"skipped"`   // already done, file intact
	Queued       int                     `json:"queued"`
	Done         int                     `json:"done"`
	Failed       int                     `json:"failed"`
	Stopped      int                     `json:"stopped"`   // unfinished because of Ctrl-C
	Elsewhere    int                     `json:"elsewhere"` // finished by other processes of a shared checkpoint
	Retries      int                     `json:"retries"`
	Requeues     int                     `json:"requeues"`
	Relogins     int                     `json:"relogins"`
	Relaunches   int                     `json:"relaunches"`
	Rescued      int                     `json:"stuck_rescued"`
	Recycled     int                     `json:"pages_recycled"`
	WrongPDF     int                     `json:"wrong_pdf_caught"`
	Downloads    int                     `json:"downloads"` // sticker requests made
	PerHour      float64                 `json:"vehicles_per_hour"`
	PeakMemoryMB float64                 `json:"peak_memory_mb"` // PSS of jdrun + driver + browser
	Workers      int                     `json:"workers_final"`
	MaxWorkers   int                     `json:"workers_max"`
	Failures     []download.FailureGroup `json:"failures,omitempty"` // by kind
	FailedList   []outcome               `json:"failed_vehicles,omitempty"`
	Interrupted  bool                    `json:"interrupted,omitempty"`
}

// metrics is metrics.json.
type metrics struct {
	Run        summary       `json:"run"`
	Throughput []pool.Sample `json:"throughput"`
	Vehicles   []outcome     `json:"vehicles"`
}

// writeJSON writes v to path atomically (temp file + rename).
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'))
}

func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// writeReports writes metrics.json, report.json and report.html into
// dir/runs/<start time>/ — every run's evidence is kept — and the same into
// dir, the latest run's.
func writeReports(dir string, m *metrics) error {
	slices.SortFunc(m.Vehicles, func(a, b outcome) int { return a.Finished.Compare(b.Finished) })
	own := filepath.Join(dir, runDir(m.Run.Started))
	if err := os.MkdirAll(own, 0o700); err != nil {
		return err
	}
	past := history(dir, m.Run.Started)
	for d, up := range map[string]string{own: "../../", dir: ""} {
		for name, v := range map[string]any{"metrics.json": m, "report.json": m.Run} {
			if err := writeJSON(filepath.Join(d, name), v); err != nil {
				return fmt.Errorf("writing %s: %w", name, err)
			}
		}
		var html strings.Builder
		if err := reportHTML.Execute(&html, htmlData(m, past, dir, up)); err != nil {
			return fmt.Errorf("rendering report.html: %w", err)
		}
		if err := writeFileAtomic(filepath.Join(d, "report.html"), []byte(html.String())); err != nil {
			return fmt.Errorf("writing report.html: %w", err)
		}
	}
	return nil
}

// runDir is where a run's reports are kept, in the state dir.
func runDir(started time.Time) string { return "runs/" + started.Format("20060102-150405") }

// printSummary prints the final report for a person.
func printSummary(w io.Writer, s summary, stateDir string) {
	fmt.Fprintf(w, "\n%s\n", strings.Repeat("─", 60))
	title := "jdrun finished"
	if s.Interrupted {
		title = "jdrun interrupted"
	}
	fmt.Fprintf(w, "%s in %s — %s\n", title, time.Duration(s.Seconds*float64(time.Second)).Round(100*time.Millisecond), s.Portal)
	fmt.Fprintf(w, "  vehicles   %d listed, %d selected, %d already done, %d queued\n", s.Inventory, s.Selected, s.Skipped, s.Queued)
	fmt.Fprintf(w, "  result     %d done, %d failed, %d not finished", s.Done, s.Failed, s.Stopped)
	if s.Elsewhere > 0 {
		fmt.Fprintf(w, ", %d by other workers", s.Elsewhere)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  rate       %.0f vehicles/hour, workers %d (max %d)\n", s.PerHour, s.Workers, s.MaxWorkers)
	fmt.Fprintf(w, "  recovered  %d retries, %d re-logins, %d browser relaunches, %d stuck rescued, %d wrong PDFs caught\n",
		s.Retries, s.Relogins, s.Relaunches, s.Rescued, s.WrongPDF)
	fmt.Fprintf(w, "  memory     %.0f MB peak (jdrun + driver + browser)\n", s.PeakMemoryMB)
	printFailures(w, s.Failures)
	fmt.Fprintf(w, "  reports    %s\n", filepath.Join(stateDir, "report.html"))
}

//go:embed report.html.tmpl
var reportTemplate string

var reportHTML = template.Must(template.New("report").Funcs(chartFuncs).Parse(chartSVG + reportTemplate))

// htmlView is what report.html shows. Links are relative to the report.
type htmlView struct {
	S          summary
	Groups     []groupView
	Rerun      string
	Throughput *chart
	Times      *chart
	Failed     []vehicleView
	Recovered  []vehicleView // done after failures that left evidence
	History    []runView     // earlier runs of the state dir, newest first
	Settings   []setting
	Generated  string
}

type groupView struct {
	download.FailureGroup
	Keys []keyLink
}

type keyLink struct{ Key, Link string }

type vehicleView struct {
	outcome
	Links []link
}

type link struct{ Href, Text string }

type runView struct {
	S    summary
	Link string
}

type setting struct {
	Name  string
	Value any
}

// htmlData prepares report.html for the run m, with the earlier runs of
// the state dir; up leads from where the report is to the state dir.
func htmlData(m *metrics, past []summary, stateDir, up string) htmlView {
	v := htmlView{S: m.Run, Rerun: rerun(m.Run), Generated: time.Now().Format(time.RFC1123)}
	evidence := map[string][]link{}
	for _, o := range m.Vehicles {
		vv := vehicleView{outcome: o, Links: evidenceLinks(o, stateDir, up)}
		evidence[o.VIN] = vv.Links
		switch {
		case o.State == "failed":
			v.Failed = append(v.Failed, vv)
		case len(vv.Links) > 0:
			v.Recovered = append(v.Recovered, vv)
		}
	}
	for _, g := range m.Run.Failures {
		gv := groupView{FailureGroup: g}
		for _, k := range g.Keys {
			kl := keyLink{Key: k}
			if ls := evidence[k]; len(ls) > 0 {
				kl.Link = ls[0].Href
			}
			gv.Keys = append(gv.Keys, kl)
		}
		v.Groups = append(v.Groups, gv)
	}
	for _, s := range past {
		v.History = append(v.History, runView{S: s, Link: up + runDir(s.Started) + "/report.html"})
	}
	for _, k := range slices.Sorted(maps.Keys(m.Run.Settings)) {
		v.Settings = append(v.Settings, setting{k, m.Run.Settings[k]})
	}
	v.Throughput, v.Times = throughputChart(m.Throughput), timesChart(m.Vehicles)
	return v
}

// evidenceLinks are the files of o's bundles that exist, the most telling
// first, and its trace.
func evidenceLinks(o outcome, stateDir, up string) []link {
	var out []link
	for _, b := range slices.Backward(o.Bundles) {
		for _, f := range []struct{ name, text string }{{"screenshot.jpg", "screenshot"}, {"page.html", "page"}, {"bundle.json", "details"}} {
			if _, err := os.Stat(filepath.Join(stateDir, b, f.name)); err == nil {
				out = append(out, link{up + b + "/" + f.name, f.text})
			}
		}
	}
	if o.Trace != "" {
		out = append(out, link{up + o.Trace, "trace"})
	}
	return out
}

// rerun is the command that retries the run's failed vehicles.
func rerun(s summary) string {
	cmd := "jdrun -retry-failed"
	if s.Demo {
		cmd += " -demo"
	}
	if dir, _ := s.Settings["StateDir"].(string); dir != "" && dir != ".jdrun" {
		cmd += " -state " + dir
	}
	return cmd
}

func throughputChart(samples []pool.Sample) *chart {
	n := len(samples)
	if n < 2 {
		return nil
	}
	var ts, rate, workers []float64
	top, topW := 0.0, 0.0
	for _, s := range samples {
		ts, rate, workers = append(ts, s.T), append(rate, s.PerHour), append(workers, float64(s.Workers))
		top, topW = math.Max(top, s.PerHour), math.Max(topW, float64(s.Workers))
	}
	c := newChart("Throughput", "seconds since the downloads started", "vehicles per hour", 0, ts[n-1], top)
	c.addLine("per sample", "#9ec5f8", false, ts, rate)
	c.addLine("moving average (30 s)", "#1a5fb4", false, ts, movingAverage(rate, 15))
	c.addSecond("workers", "#c64600", ts, workers, topW)
	return c
}

func timesChart(vs []outcome) *chart {
	var secs []float64
	for _, o := range vs {
		if o.State == "done" && o.Worker != 0 { // worker 0: adopted, not downloaded
			secs = append(secs, o.Seconds)
		}
	}
	if len(secs) == 0 {
		return nil
	}
	slices.Sort(secs)
	p := func(q int) float64 { return secs[min(len(secs)-1, len(secs)*q/100)] }
	lo, hi := secs[0], math.Max(p(99)*1.05, secs[0]+0.01) // the slowest 1 % would squash the rest
	const bins = 24
	counts := make([]float64, bins)
	for _, s := range secs {
		counts[min(bins-1, max(0, int((s-lo)/(hi-lo)*bins)))]++
	}
	c := newChart("Time per vehicle", "seconds, first attempt to done (beyond the 99th percentile in the last bar)", "vehicles", lo, hi, slices.Max(counts))
	for i, n := range counts {
		x0, x1 := lo+(hi-lo)*float64(i)/bins, lo+(hi-lo)*float64(i+1)/bins
		c.addBar(x0, x1, n, "#2e7d32", fmt.Sprintf("%.2f–%.2f s: %.0f", x0, x1, n))
	}
	for _, q := range []int{50, 95, 99} {
		c.addMark(p(q), fmt.Sprintf("p%d %.2fs", q, p(q)))
	}
	return c
}

// history reads the summaries of the earlier runs of a state dir.
func history(dir string, now time.Time) []summary {
	paths, _ := filepath.Glob(filepath.Join(dir, "runs", "*", "report.json"))
	var out []summary
	for _, p := range paths {
		var s summary
		if b, err := os.ReadFile(p); err == nil && json.Unmarshal(b, &s) == nil && s.Started.Before(now) {
			out = append(out, s)
		}
	}
	slices.Reverse(out)
	return out
}
