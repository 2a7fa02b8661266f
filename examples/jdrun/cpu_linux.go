//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"

	"github.com/pagefleet/pagefleet/session"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// cpuNow reads the CPU time used so far by this process (Go), the
// Playwright driver, and everything below the driver (the browser, with
// the renderers it has reaped).
func cpuNow(driverPID int) (cpuSplit, error) {
	var c cpuSplit
	self, _, err := procCPU(os.Getpid())
	if err != nil {
		return c, err
	}
	c.Go = self
	if driverPID <= 0 {
		return c, nil
	}
	c.Driver, _, _ = procCPU(driverPID)
	kids, _ := session.Descendants(driverPID)
	for _, pid := range kids {
		own, reaped, err := procCPU(pid)
		if err == nil {
			c.Browser += own + reaped
		}
	}
	return c, nil
}

// procCPU returns a process's own CPU seconds and those of its reaped children.
func procCPU(pid int) (own, reaped float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	f := bytes.Fields(b[bytes.LastIndexByte(b, ')')+1:])
	if len(f) < 15 { // f[0] is field 3 (state); utime is field 14
		return 0, 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	n := func(i int) float64 { v, _ := strconv.ParseFloat(string(f[i-3]), 64); return v / clockTicks }
	return n(14) + n(15), n(16) + n(17), nil
}
