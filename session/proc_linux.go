//go:build linux

package session

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// Descendants returns the IDs of all processes descended from pid,
// children before grandchildren. Linux only; elsewhere it returns an error
// wrapping errors.ErrUnsupported.
func Descendants(pid int) ([]int, error) {
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return nil, err
	}
	kids := map[int][]int{}
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // exited meanwhile
		}
		// "pid (comm) state ppid …"; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		f := bytes.Fields(b[i+1:])
		if i < 0 || len(f) < 2 {
			continue
		}
		child, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		ppid, _ := strconv.Atoi(string(f[1]))
		kids[ppid] = append(kids[ppid], child)
	}
	var out []int
	for queue := kids[pid]; len(queue) > 0; queue = queue[1:] {
		out = append(out, queue[0])
		queue = append(queue, kids[queue[0]]...)
	}
	return out, nil
}

// TreePSS returns the proportional set size, in bytes, of process pid and
// all its descendants, summed from /proc/PID/smaps_rollup. PSS splits
// shared pages among the processes sharing them, so unlike RSS the sum
// does not count chromium's shared memory many times. Linux only; elsewhere
// it returns an error wrapping errors.ErrUnsupported.
func TreePSS(pid int) (int64, error) {
	kids, err := Descendants(pid)
	if err != nil {
		return 0, err
	}
	var total int64
	for i, p := range append([]int{pid}, kids...) {
		kb, err := pss(p)
		if err != nil && i == 0 { // a descendant may exit meanwhile
			return 0, fmt.Errorf("session: PSS of process %d: %w", p, err)
		}
		total += kb * 1024
	}
	return total, nil
}

func pss(pid int) (kb int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if f := bytes.Fields(sc.Bytes()); len(f) >= 2 && string(f[0]) == "Pss:" {
			return strconv.ParseInt(string(f[1]), 10, 64)
		}
	}
	return 0, sc.Err() // a zombie has no mappings: 0
}

// killTree SIGKILLs pid's descendants, then pid: the last resort when the
// driver does not stop.
func killTree(pid int) {
	kids, _ := Descendants(pid)
	killAll(append(kids, pid))
}

func killAll(pids []int) {
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
}

// killMatching SIGKILLs every process whose command line contains s. Close
// uses it for chromium's crash handlers, which re-parent themselves to PID 1
// and so are no descendants; their command line names the session's
// private config directory.
func killMatching(s string) {
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range cmdlines {
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(s)) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// browserPID finds, among the driver's children, the chromium started with
// XDG_CONFIG_HOME=dir: each session's browsers get their own dir.
func browserPID(driver int, dir string) int {
	kids, _ := Descendants(driver)
	for _, pid := range kids {
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err == nil && bytes.Contains(append([]byte{0}, env...), []byte("\x00XDG_CONFIG_HOME="+dir+"\x00")) {
			return pid
		}
	}
	return 0
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// CPU returns the CPU time (user + system) used so far by the three parts
// of a session's work: this process, the driver, and the browser (with the
// renderers it has reaped). A relaunch starts the driver's or the
// browser's count again. Linux only; elsewhere it returns an error
// wrapping errors.ErrUnsupported.
func (s *Session) CPU() (CPU, error) {
	var c CPU
	self, _, err := procCPU(os.Getpid())
	if err != nil {
		return c, err
	}
	c.Go = self
	driver := s.DriverPID()
	c.Driver, _, _ = procCPU(driver)
	kids, _ := Descendants(driver)
	for _, pid := range kids {
		if own, reaped, err := procCPU(pid); err == nil {
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
		return 0, 0, fmt.Errorf("session: short /proc/%d/stat", pid)
	}
	n := func(i int) float64 { v, _ := strconv.ParseFloat(string(f[i-3]), 64); return v / clockTicks }
	return n(14) + n(15), n(16) + n(17), nil
}

// AvailableMemory returns the memory available for new work, in bytes
// (Linux's MemAvailable): what more pages may use. Linux and Windows only;
// elsewhere it returns an error wrapping errors.ErrUnsupported.
func AvailableMemory() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("MemAvailable:")); ok {
			kb, err := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte(" kB"))), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("session: no MemAvailable in /proc/meminfo")
}
