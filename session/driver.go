package session

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	playwright "github.com/mxschmitt/playwright-go"
)

// driver is a Playwright driver process (Node.js). The sessions of a
// process share one per installation: starting it costs a second or more
// of CPU and it holds over 100 MB; each session has its own browser.
type driver struct {
	key  Install
	pw   *playwright.Playwright
	refs int // guarded by drivers.mu
}

var drivers = struct {
	mu sync.Mutex
	m  map[Install]*driver
}{m: map[Install]*driver{}}

// acquireDriver returns the running driver for in, starting one if needed.
func acquireDriver(in Install, log *slog.Logger) (*driver, error) {
	key := Install{DriverDir: in.DriverDir, Node: in.Node}
	drivers.mu.Lock()
	defer drivers.mu.Unlock()
	if d := drivers.m[key]; d != nil {
		d.refs++
		return d, nil
	}
	if os.Getenv("NODE_OPTIONS") == "" {
		// The driver's young generation: node's default (16 MB) holds the
		// driver at ~140 MB over 1,820 downloads, 1 MB grows it (bodies get
		// promoted), 4 MB stays flat at ~120 MB. The driver inherits the
		// environment: this is the one way to tell it.
		if err := os.Setenv("NODE_OPTIONS", "--max-semi-space-size=4"); err != nil {
			return nil, err
		}
	}
	if in.Node != "" && os.Getenv("PLAYWRIGHT_NODEJS_PATH") != in.Node {
		// playwright-go reads Node's path only from the environment.
		if err := os.Setenv("PLAYWRIGHT_NODEJS_PATH", in.Node); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	// What the binding and the driver say goes to our log at Debug level:
	// it is about their plumbing ("SendNoReply failed" after a crash, node's
	// stack traces when its pipe closes at exit), not about the job.
	quiet := slog.New(debugHandler{log.Handler()})
	pw, err := playwright.Run(&playwright.RunOptions{DriverDirectory: in.DriverDir, SkipInstallBrowsers: true,
		Logger: quiet, Stderr: lineLogger{quiet, "session: driver stderr"}})
	if err != nil {
		return nil, fmt.Errorf("session: start driver in %s: %w (%s)", in.DriverDir, err, setupHint())
	}
	log.Debug("session: driver started", "dir", in.DriverDir, "pid", pw.Pid(), "took", time.Since(start).Round(time.Millisecond))
	d := &driver{key: key, pw: pw, refs: 1}
	drivers.m[key] = d
	return d, nil
}

// forget makes the next acquireDriver start a new driver: this one died.
func (d *driver) forget() {
	drivers.mu.Lock()
	defer drivers.mu.Unlock()
	if drivers.m[d.key] == d {
		delete(drivers.m, d.key)
	}
}

// release drops a reference. The last one stops the driver, and kills it
// with what is left of its process tree if it does not stop in time.
func (d *driver) release(timeout time.Duration) error {
	drivers.mu.Lock()
	d.refs--
	last := d.refs == 0
	if last && drivers.m[d.key] == d {
		delete(drivers.m, d.key)
	}
	drivers.mu.Unlock()
	if !last {
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- d.pw.Stop() }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
		return nil // an exit status of a driver told to stop says nothing useful
	case <-t.C:
		killTree(d.pw.Pid())
		<-done
		return fmt.Errorf("session: driver did not stop within %v; killed it", timeout)
	}
}

// debugHandler logs every record at Debug level.
type debugHandler struct{ slog.Handler }

func (h debugHandler) Enabled(ctx context.Context, _ slog.Level) bool {
	return h.Handler.Enabled(ctx, slog.LevelDebug)
}

func (h debugHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Level = slog.LevelDebug
	return h.Handler.Handle(ctx, r)
}

func (h debugHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return debugHandler{h.Handler.WithAttrs(as)}
}
func (h debugHandler) WithGroup(g string) slog.Handler { return debugHandler{h.Handler.WithGroup(g)} }

// lineLogger logs what is written to it, line by line.
type lineLogger struct {
	log *slog.Logger
	msg string
}

func (w lineLogger) Write(b []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		w.log.Debug(w.msg, "line", line)
	}
	return len(b), nil
}
