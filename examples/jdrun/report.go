package main

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
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
	Stopped      int                     `json:"stopped"` // unfinished because of Ctrl-C
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
	var html strings.Builder
	if err := reportHTML.Execute(&html, htmlData(m)); err != nil {
		return fmt.Errorf("rendering report.html: %w", err)
	}
	runDir := filepath.Join(dir, "runs", m.Run.Started.Format("20060102-150405"))
	if err := os.MkdirAll(runDir, 0o700); err != nil {
		return err
	}
	for _, d := range []string{runDir, dir} {
		for name, v := range map[string]any{"metrics.json": m, "report.json": m.Run} {
			if err := writeJSON(filepath.Join(d, name), v); err != nil {
				return fmt.Errorf("writing %s: %w", name, err)
			}
		}
		if err := writeFileAtomic(filepath.Join(d, "report.html"), []byte(html.String())); err != nil {
			return fmt.Errorf("writing report.html: %w", err)
		}
	}
	return nil
}

// printSummary prints the final report for a person.
func printSummary(w io.Writer, s summary, stateDir string) {
	fmt.Fprintf(w, "\n%s\n", strings.Repeat("─", 60))
	title := "jdrun finished"
	if s.Interrupted {
		title = "jdrun interrupted"
	}
	fmt.Fprintf(w, "%s in %s — %s\n", title, time.Duration(s.Seconds*float64(time.Second)).Round(100*time.Millisecond), s.Portal)
	fmt.Fprintf(w, "  vehicles   %d listed, %d selected, %d already done, %d queued\n", s.Inventory, s.Selected, s.Skipped, s.Queued)
	fmt.Fprintf(w, "  result     %d done, %d failed, %d not finished\n", s.Done, s.Failed, s.Stopped)
	fmt.Fprintf(w, "  rate       %.0f vehicles/hour, workers %d (max %d)\n", s.PerHour, s.Workers, s.MaxWorkers)
	fmt.Fprintf(w, "  recovered  %d retries, %d re-logins, %d browser relaunches, %d stuck rescued, %d wrong PDFs caught\n",
		s.Retries, s.Relogins, s.Relaunches, s.Rescued, s.WrongPDF)
	fmt.Fprintf(w, "  memory     %.0f MB peak (jdrun + driver + browser)\n", s.PeakMemoryMB)
	printFailures(w, s.Failures)
	fmt.Fprintf(w, "  reports    %s\n", filepath.Join(stateDir, "report.html"))
}

//go:embed report.html.tmpl
var reportTemplate string

var reportHTML = template.Must(template.New("report").Parse(reportTemplate))

// chart is a prepared SVG line chart.
type chart struct {
	W, H   int
	Points string // polyline points
	Area   string // polygon points, the area under the line
	MaxY   float64
	MaxX   float64
	Label  string
}

type bar struct {
	X, Y, W, H float64
	Label      string
	Count      int
}

type htmlView struct {
	S          summary
	Throughput chart
	Workers    chart
	Bars       []bar
	BarsMaxX   float64
	Failed     []outcome
	Generated  string
}

func htmlData(m *metrics) htmlView {
	v := htmlView{S: m.Run, Failed: m.Run.FailedList,
		Generated: time.Now().Format(time.RFC1123)}
	const w, h = 640, 180
	v.Throughput = lineChart(m.Throughput, w, h, func(s pool.Sample) float64 { return s.PerHour }, "vehicles/hour")
	v.Workers = lineChart(m.Throughput, w, h/2, func(s pool.Sample) float64 { return float64(s.Workers) }, "workers")

	// Per-vehicle time distribution: 20 buckets up to the 99th percentile.
	var secs []float64
	for _, o := range m.Vehicles {
		if o.State == "done" {
			secs = append(secs, o.Seconds)
		}
	}
	if len(secs) > 0 {
		slices.Sort(secs)
		top := secs[min(len(secs)-1, len(secs)*99/100)]
		if top <= 0 {
			top = 1
		}
		const buckets = 20
		counts := make([]int, buckets)
		for _, s := range secs {
			counts[min(buckets-1, int(s/top*buckets))]++
		}
		peak := slices.Max(counts)
		for i, c := range counts {
			bh := float64(c) / float64(peak) * (h - 20)
			v.Bars = append(v.Bars, bar{
				X: float64(i) * w / buckets, Y: h - 20 - bh, W: w/buckets - 2, H: bh,
				Label: fmt.Sprintf("%.2f–%.2f s", top*float64(i)/buckets, top*float64(i+1)/buckets), Count: c,
			})
		}
		v.BarsMaxX = top
	}
	return v
}

func lineChart(ss []pool.Sample, w, h int, y func(pool.Sample) float64, label string) chart {
	c := chart{W: w, H: h, Label: label}
	if len(ss) == 0 {
		return c
	}
	c.MaxX = math.Max(ss[len(ss)-1].T, 1)
	for _, s := range ss {
		c.MaxY = math.Max(c.MaxY, y(s))
	}
	if c.MaxY == 0 {
		c.MaxY = 1
	}
	var pts []string
	for _, s := range ss {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", s.T/c.MaxX*float64(w), float64(h)-y(s)/c.MaxY*float64(h-10)))
	}
	c.Points = strings.Join(pts, " ")
	c.Area = fmt.Sprintf("0,%d %s %d,%d", h, c.Points, w, h)
	return c
}
