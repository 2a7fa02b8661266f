package session

// CPU is CPU seconds (user + system) of the parts of a session's work:
// this process (Go), the Playwright driver (Node.js), and the browser.
type CPU struct {
	Go, Driver, Browser float64
}

// Sub returns c minus d: the CPU used between two readings.
func (c CPU) Sub(d CPU) CPU { return CPU{c.Go - d.Go, c.Driver - d.Driver, c.Browser - d.Browser} }

// Total returns the CPU seconds of all parts.
func (c CPU) Total() float64 { return c.Go + c.Driver + c.Browser }
