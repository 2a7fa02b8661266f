package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/pool"
	"github.com/pagefleet/pagefleet/session"
)

// errPreflight marks a machine that can't run the job (exit code 2).
var errPreflight = fmt.Errorf("%w: pre-flight check failed", errUsage)

// Sizes the pre-flight checks assume when nothing was measured yet.
const (
	defaultPDFSize = 64 << 10  // a window sticker is 20–50 KB
	baseMemory     = 500 << 20 // jdrun + driver + browser, measured at ~450 MB
	memoryPerPage  = 20 << 20  // a worker page with resource blocking, measured at ~8–15 MB
)

// check is one pre-flight check's outcome.
type check struct {
	name    string
	ok      bool
	warn    bool // a problem that does not block a run
	detail  string
	fix     string
	elapsed time.Duration
}

// runDoctor is `jdrun doctor`: the old tool's pre-flight checklist, done
// by the tool. Every check prints ok or the problem and its fix; the exit
// code is non-zero if anything blocks a run.
func runDoctor(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(args, getenv, stdin, stderr)
	if err != nil {
		return err
	}
	st, err := loadSite(cfg.SiteFile)
	if err != nil {
		return err
	}
	log, _ := newLogger(cfg, io.Discard, getenv, nil, cfg.secrets()...)
	var checks []check
	add := func(c check) {
		checks = append(checks, c)
		mark := "ok     "
		switch {
		case c.warn:
			mark = "warning"
		case !c.ok:
			mark = "PROBLEM"
		}
		fmt.Fprintf(stdout, "%s  %-22s %s\n", mark, c.name, redact(c.detail, cfg.Password))
		if !c.ok && c.fix != "" {
			fmt.Fprintf(stdout, "         %-22s fix: %s\n", "", c.fix)
		}
	}
	fmt.Fprintln(stdout, "jdrun doctor: checking this machine, the browser, the credentials and the site")

	inst, err := session.Locate(session.Install{})
	if err != nil {
		add(check{name: "browser and driver", detail: err.Error(), fix: installHint()})
	} else {
		add(check{name: "browser and driver", ok: true, detail: fmt.Sprintf("playwright %s driver in %s (%s); browser %s",
			session.DriverVersion(), inst.DriverDir, inst.From, orDefault(inst.Browser, "Playwright's bundled chromium"))})
	}
	for _, d := range []struct{ name, dir, setting string }{{"output dir", cfg.OutDir, "OUTPUT_DIR (-out)"}, {"state dir", cfg.StateDir, "STATE_DIR (-state)"}} {
		add(writable(d.name, d.dir, d.setting))
	}
	if cfg.URL == "" {
		add(check{name: "credentials", ok: true, detail: "none needed: no JD_URL, so jdrun runs the embedded demo portal"})
		srv, err := startDemo(cfg)
		if err != nil {
			return err
		}
		defer srv.Close()
	} else {
		add(check{name: "credentials", ok: cfg.User != "" && cfg.Password != "", detail: "JD_USER and JD_PASS are set (not shown)",
			fix: "set JD_USER and JD_PASS in .env or the environment, or use -password-stdin"})
	}
	add(reachable(ctx, cfg.URL+st.LoginPath))

	blocked := func() bool {
		for _, c := range checks {
			if !c.ok && !c.warn {
				return true
			}
		}
		return false
	}
	var vehicles []*vehicle
	avg := int64(defaultPDFSize)
	if !blocked() {
		start := time.Now()
		r, err := openRunner(ctx, cfg, st, log, checkpoint.NewMemory())
		switch {
		case errors.Is(err, errLogin):
			add(check{name: "login", detail: err.Error(), fix: "check JD_USER / JD_PASS, and that the user can log in by hand"})
		case err != nil:
			add(check{name: "headless launch", detail: err.Error(), fix: installHint()})
		default:
			defer r.close()
			add(check{name: "headless launch", ok: true, detail: "chromium started"})
			add(check{name: "login", ok: true, detail: fmt.Sprintf("logged in as %s in %v (one login)", cfg.User, time.Since(start).Round(time.Millisecond))})
			vehicles, avg = doctorSample(ctx, r, add)
		}
	}
	if len(vehicles) > 0 {
		add(diskCheck(cfg.OutDir, int64(len(vehicles)), avg))
	}
	add(memoryCheck(cfg.Workers))
	if blocked() {
		return fmt.Errorf("%w: see the problems above", errPreflight)
	}
	fmt.Fprintln(stdout, "all clear: jdrun can run here")
	return nil
}

// doctorSample lists the inventory and downloads one vehicle's sticker
// into a temporary directory, to prove the whole path works — with the
// run's retries, so that one passing fault is not called a problem.
func doctorSample(ctx context.Context, r *runner, add func(check)) ([]*vehicle, int64) {
	vehicles, err := r.list(ctx)
	if err != nil {
		add(check{name: "inventory", detail: err.Error(), fix: "check the site adapter (-site) against the inventory page"})
		return nil, 0
	}
	add(check{name: "inventory", ok: true, detail: fmt.Sprintf("%d vehicles listed", len(vehicles))})
	dir, err := os.MkdirTemp(r.cfg.OutDir, ".doctor-")
	if err != nil {
		add(check{name: "sample download", detail: err.Error()})
		return vehicles, defaultPDFSize
	}
	defer os.RemoveAll(dir)
	cfg := *r.cfg
	cfg.OutDir, cfg.Workers, cfg.Adaptive = dir, 1, false
	r.cfg = &cfg
	v := vehicles[0]
	var res pool.Result
	if err := r.download(ctx, []*vehicle{v}, func(got pool.Result) { res = got }); err != nil {
		res.Err = err
	}
	f, _ := res.Value.(download.File)
	if res.Err != nil {
		add(check{name: "sample download", detail: fmt.Sprintf("vehicle %s, after %d attempt(s): %v", v.VIN, res.Attempts, res.Err),
			fix: "check the sticker selectors and URL of the site adapter (-site); run with -v"})
		return vehicles, defaultPDFSize
	}
	add(check{name: "sample download", ok: true, detail: fmt.Sprintf("vehicle %s: a %d-byte PDF carrying its VIN (attempts: %d)", v.VIN, f.Size, res.Attempts)})
	return vehicles, max(f.Size, 1)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func installHint() string {
	if runtime.GOOS == "linux" {
		return "run scripts/setup"
	}
	return "go run github.com/mxschmitt/playwright-go/cmd/playwright@v0.6401.0 install --with-deps chromium"
}

// writable checks that dir exists (or can be made) and takes a file.
func writable(name, dir, setting string) check {
	c := check{name: name, fix: fmt.Sprintf("choose a directory you can write with %s, or fix its permissions", setting)}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.detail = err.Error()
		return c
	}
	f, err := os.CreateTemp(dir, ".doctor-*")
	if err != nil {
		c.detail = err.Error()
		return c
	}
	f.Close()
	os.Remove(f.Name())
	abs, _ := filepath.Abs(dir)
	c.ok, c.detail = true, abs+" is writable"
	return c
}

func reachable(ctx context.Context, url string) check {
	c := check{name: "site reachable", fix: "check JD_URL and the network (VPN, proxy, firewall)"}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		c.detail = err.Error()
		return c
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.detail = err.Error()
		return c
	}
	resp.Body.Close()
	c.detail = fmt.Sprintf("%s answered HTTP %d in %v", url, resp.StatusCode, time.Since(start).Round(time.Millisecond))
	c.ok = resp.StatusCode < 500
	return c
}

// diskCheck: room for n more PDFs of avg bytes, twice over.
func diskCheck(dir string, n, avg int64) check {
	need := 2*n*avg + 100<<20
	c := check{name: "free disk", fix: fmt.Sprintf("free %d MB in %s or choose another OUTPUT_DIR", need>>20, dir)}
	free, err := freeDisk(dir)
	if err != nil {
		c.ok, c.warn, c.detail = true, true, "unknown: "+err.Error()
		return c
	}
	c.ok = free >= need
	c.detail = fmt.Sprintf("%d MB free, %d vehicles × ~%d KB need %d MB with margin", free>>20, n, avg>>10, need>>20)
	return c
}

// memoryCheck: room for the browser with the chosen worker count. Too
// little memory slows a run down but does not stop it: a warning.
func memoryCheck(workers int) check {
	need := int64(baseMemory) + int64(workers)*memoryPerPage
	c := check{name: "free memory", ok: true}
	free, err := freeMemory()
	switch {
	case err != nil:
		c.warn, c.detail = true, "unknown: "+err.Error()
	case free < need:
		c.warn = true
		c.detail = fmt.Sprintf("%d MB available, %d workers want about %d MB", free>>20, workers, need>>20)
		c.fix = "close other programs or lower CONCURRENT_CONTEXTS"
	default:
		c.detail = fmt.Sprintf("%d MB available, %d workers want about %d MB", free>>20, workers, need>>20)
	}
	return c
}

// preflight is the cheap part of doctor that every run does before it
// starts downloading: it refuses to start a job the disk can't hold.
func preflight(j *runner, todo []*vehicle) error {
	if len(todo) == 0 {
		return nil
	}
	avg := int64(defaultPDFSize)
	var n, sum int64
	for r, err := range j.store.All(context.Background()) {
		if err == nil && r.State == checkpoint.Done && r.Size > 0 {
			n, sum = n+1, sum+r.Size
		}
	}
	if n > 0 {
		avg = sum / n
	}
	if c := diskCheck(j.cfg.OutDir, int64(len(todo)), avg); !c.ok {
		return fmt.Errorf("%w: not enough disk: %s; %s", errPreflight, c.detail, c.fix)
	}
	if c := memoryCheck(j.cfg.Workers); c.warn && c.fix != "" {
		j.log.Warn("little free memory", "detail", c.detail, "fix", c.fix)
	}
	return nil
}
