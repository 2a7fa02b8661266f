package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// chart is an SVG chart with labelled axes, ready for the templates: lines
// (a series each, one of them perhaps on a second axis on the right), bars,
// and vertical marks (percentiles), all placed in pixels.
type chart struct {
	Title                   string
	W, H                    float64 // the picture
	L, T, R, B              float64 // the plot area: left, top, right, bottom
	XLabel, YLabel, Y2Label string
	XTicks, YTicks, Y2Ticks []tick
	Lines                   []line
	Bars                    []bar
	Marks                   []mark

	xMin, xMax, yMax, y2Max float64
}

type tick struct {
	Pos  float64
	Text string
}

type line struct{ Points, Color, Name, Dash string }

type bar struct {
	X, Y, W, H   float64
	Color, Title string
}

type mark struct {
	X, Y float64 // Y: where its label goes
	Text string
}

// newChart makes a chart of x in [xMin, xMax] and y in [0, yMax], the
// ranges rounded out to round ticks.
func newChart(title, xLabel, yLabel string, xMin, xMax, yMax float64) *chart {
	c := &chart{Title: title, W: 680, H: 250, L: 64, T: 24, R: 610, B: 204, XLabel: xLabel, YLabel: yLabel}
	var xs, ys []float64
	xs, c.xMin, c.xMax = niceTicks(xMin, math.Max(xMax, xMin+1e-9))
	ys, _, c.yMax = niceTicks(0, math.Max(yMax, 1e-9))
	for _, x := range xs {
		c.XTicks = append(c.XTicks, tick{c.xPos(x), format(x)})
	}
	for _, y := range ys {
		c.YTicks = append(c.YTicks, tick{c.yPos(y, c.yMax), format(y)})
	}
	return c
}

// niceTicks returns about five round values covering [lo, hi], and the
// range they span.
func niceTicks(lo, hi float64) (vals []float64, from, to float64) {
	raw := (hi - lo) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if step = m * mag; step >= raw {
			break
		}
	}
	from, to = math.Floor(lo/step)*step, math.Ceil(hi/step)*step
	for i := 0; from+float64(i)*step <= to+step/2; i++ {
		vals = append(vals, from+float64(i)*step)
	}
	return vals, from, to
}

func format(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func (c *chart) xPos(x float64) float64 { return c.L + (x-c.xMin)/(c.xMax-c.xMin)*(c.R-c.L) }

func (c *chart) yPos(y, yMax float64) float64 { return c.B - y/yMax*(c.B-c.T) }

func (c *chart) points(xs, ys []float64, yMax float64) string {
	pts := make([]string, len(xs))
	for i := range xs {
		pts[i] = fmt.Sprintf("%.1f,%.1f", c.xPos(xs[i]), c.yPos(ys[i], yMax))
	}
	return strings.Join(pts, " ")
}

// addLine adds a series of points on the y axis; dash draws it dashed.
func (c *chart) addLine(name, color string, dash bool, xs, ys []float64) {
	c.Lines = append(c.Lines, line{Points: c.points(xs, ys, c.yMax), Color: color, Name: name, Dash: dashed(dash)})
}

// addSecond adds a series on an axis of its own, on the right.
func (c *chart) addSecond(name, color string, xs, ys []float64, yMax float64) {
	var vals []float64
	vals, _, c.y2Max = niceTicks(0, math.Max(yMax, 1))
	c.Y2Label = name
	for _, v := range vals {
		c.Y2Ticks = append(c.Y2Ticks, tick{c.yPos(v, c.y2Max), format(v)})
	}
	c.Lines = append(c.Lines, line{Points: c.points(xs, ys, c.y2Max), Color: color, Name: name, Dash: dashed(true)})
}

func dashed(d bool) string {
	if d {
		return "5,3"
	}
	return ""
}

// addBar adds a bar over [x0, x1] of height y.
func (c *chart) addBar(x0, x1, y float64, color, title string) {
	c.Bars = append(c.Bars, bar{X: c.xPos(x0) + 1, W: math.Max(c.xPos(x1)-c.xPos(x0)-2, 1), Y: c.yPos(y, c.yMax),
		H: c.B - c.yPos(y, c.yMax), Color: color, Title: title})
}

// addMark adds a vertical line at x, labelled; the labels of marks close
// to each other go on different heights.
func (c *chart) addMark(x float64, text string) {
	m := mark{X: c.xPos(x), Y: c.T - 6, Text: text}
	for _, o := range c.Marks {
		if math.Abs(o.X-m.X) < 60 && o.Y <= m.Y {
			m.Y = o.Y + 14
		}
	}
	c.Marks = append(c.Marks, m)
}

// movingAverage is the mean of each value and the n-1 before it.
func movingAverage(ys []float64, n int) []float64 {
	out := make([]float64, len(ys))
	sum := 0.0
	for i, y := range ys {
		sum += y
		if i >= n {
			sum -= ys[i-n]
		}
		out[i] = sum / float64(min(i+1, n))
	}
	return out
}

// chartSVG is the template of a chart, shared by report.html and bench.html.
const chartSVG = `{{define "chart"}}<figure class="chart">
<svg width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" role="img" aria-label="{{.Title}}">
<rect x="{{.L}}" y="{{.T}}" width="{{sub .R .L}}" height="{{sub .B .T}}" fill="#fafafa" stroke="#ddd"/>
{{range .YTicks}}<line x1="{{$.L}}" x2="{{$.R}}" y1="{{.Pos}}" y2="{{.Pos}}" stroke="#eee"/><text class="tick" x="{{sub $.L 6}}" y="{{.Pos}}" dy="4" text-anchor="end">{{.Text}}</text>
{{end}}{{range .XTicks}}<line x1="{{.Pos}}" x2="{{.Pos}}" y1="{{$.B}}" y2="{{add $.B 5}}" stroke="#999"/><text class="tick" x="{{.Pos}}" y="{{add $.B 18}}" text-anchor="middle">{{.Text}}</text>
{{end}}{{range .Y2Ticks}}<text class="tick" x="{{add $.R 6}}" y="{{.Pos}}" dy="4">{{.Text}}</text>
{{end}}{{range .Bars}}<rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" fill="{{.Color}}"><title>{{.Title}}</title></rect>
{{end}}{{range .Lines}}<polyline points="{{.Points}}" fill="none" stroke="{{.Color}}" stroke-width="2" stroke-dasharray="{{.Dash}}"><title>{{.Name}}</title></polyline>
{{end}}{{range .Marks}}<line x1="{{.X}}" x2="{{.X}}" y1="{{$.T}}" y2="{{$.B}}" stroke="#b3261e" stroke-dasharray="3,3"/><text class="tick mark" x="{{.X}}" y="{{.Y}}" dx="3" text-anchor="start">{{.Text}}</text>
{{end}}<text class="axis-label" x="{{div (add $.L $.R) 2}}" y="{{sub $.H 6}}" text-anchor="middle">{{.XLabel}}</text>
<text class="axis-label" transform="translate(14 {{div (add $.T $.B) 2}}) rotate(-90)" text-anchor="middle">{{.YLabel}}</text>
{{if .Y2Label}}<text class="axis-label" transform="translate({{sub $.W 8}} {{div (add $.T $.B) 2}}) rotate(90)" text-anchor="middle">{{.Y2Label}}</text>{{end}}
</svg>
{{if .Lines}}<figcaption>{{.Title}}{{range .Lines}} · <span style="color:{{.Color}}">{{if .Dash}}┅{{else}}━{{end}} {{.Name}}</span>{{end}}</figcaption>{{end}}
</figure>{{end}}`

// chartFuncs are what chartSVG computes with.
var chartFuncs = map[string]any{
	"add": func(a, b float64) float64 { return a + b },
	"sub": func(a, b float64) float64 { return a - b },
	"div": func(a, b float64) float64 { return a / b },
}
