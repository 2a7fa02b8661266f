package main

// cpuSplit is CPU seconds (user + system) of the three parts of a run:
// jdrun itself, the Playwright driver (Node.js), and the browser.
type cpuSplit struct {
	Go, Driver, Browser float64
}

func (c cpuSplit) sub(d cpuSplit) cpuSplit {
	return cpuSplit{c.Go - d.Go, c.Driver - d.Driver, c.Browser - d.Browser}
}

func (c cpuSplit) total() float64 { return c.Go + c.Driver + c.Browser }
