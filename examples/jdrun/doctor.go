package main

import (
	"cmp"
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
	name, detail, fix string
	ok, warn          bool // warn: a problem that does not block a run
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
	blocked := false
	add := func(c check) {
		mark := map[bool]string{true: "ok     ", false: "PROBLEM"}[c.ok]
		if c.warn {
			mark = "warning"
		}
		blocked = blocked || !c.ok && !c.warn
		fmt.Fprintf(stdout, "%s  %-22s %s\n", mark, c.name, session.RedactString(c.detail, cfg.secrets()...))
		if !c.ok && c.fix != "" {
			fmt.Fprintf(stdout, "         %-22s fix: %s\n", "", c.fix)
		}
	}
	fmt.Fprintln(stdout, "jdrun doctor: checking this machine, the browser, the credentials and the site")

	if inst, err := session.Locate(session.Install{}); err != nil {
		add(check{name: "browser and driver", detail: err.Error(), fix: installHint()})
	} else {
		add(check{name: "browser and driver", ok: true, detail: fmt.Sprintf("playwright %s driver in %s (%s); browser %s",
			session.DriverVersion(), inst.DriverDir, inst.From, cmp.Or(inst.Browser, "Playwright's bundled chromium"))})
	}
	add(writable("output dir", cfg.OutDir, "OUTPUT_DIR (-out)"))
	add(writable("state dir", cfg.StateDir, "STATE_DIR (-state)"))
	if cfg.Demo {
		add(check{name: "credentials", ok: true, detail: "none needed: -demo runs the embedded demo portal"})
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

	n, avg := 0, int64(defaultPDFSize)
	if !blocked {
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
			n, avg = doctorSample(ctx, r, add)
		}
	}
	if n > 0 {
		add(diskCheck(cfg.OutDir, int64(n), avg))
	}
	add(memoryCheck(cfg.Workers))
	if blocked {
		return fmt.Errorf("%w: see the problems above", errPreflight)
	}
	fmt.Fprintln(stdout, "all clear: jdrun can run here")
	return nil
}

// doctorSample lists the inventory and downloads one vehicle's sticker
// into a temporary directory, to prove the whole path works — with the
// run's retries, so that one passing fault is not called a problem. It
// returns the vehicles listed and the sticker's size.
func doctorSample(ctx context.Context, r *runner, add func(check)) (int, int64) {
	vehicles, err := r.list(ctx, nil)
	if err != nil {
		add(check{name: "inventory", detail: err.Error(), fix: "check the site adapter (-site) against the inventory page"})
		return 0, 0
	}
	add(check{name: "inventory", ok: true, detail: fmt.Sprintf("%d vehicles listed", len(vehicles))})
	dir, err := os.MkdirTemp(r.cfg.OutDir, ".doctor-")
	if err != nil {
		add(check{name: "sample download", detail: err.Error()})
		return len(vehicles), defaultPDFSize
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
		return len(vehicles), defaultPDFSize
	}
	add(check{name: "sample download", ok: true, detail: fmt.Sprintf("vehicle %s: a %d-byte PDF carrying its VIN (attempts: %d)", v.VIN, f.Size, res.Attempts)})
	return len(vehicles), max(f.Size, 1)
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
	f, err := os.CreateTemp(dir, ".doctor-*")
	if errors.Is(err, os.ErrNotExist) && os.MkdirAll(dir, 0o755) == nil {
		f, err = os.CreateTemp(dir, ".doctor-*")
	}
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

// reachable asks the site over plain HTTP, without a browser.
func reachable(ctx context.Context, url string) check {
	c := check{name: "site reachable", fix: "check JD_URL and the network (VPN, proxy, firewall)"}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	var resp *http.Response
	if err == nil {
		resp, err = http.DefaultClient.Do(req)
	}
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
	free, err := download.FreeSpace(dir)
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
	free, err := session.AvailableMemory()
	c := check{name: "free memory", ok: true, warn: err != nil || free < need,
		detail: fmt.Sprintf("%d MB available, %d workers want about %d MB", free>>20, workers, need>>20)}
	if err != nil {
		c.detail = "unknown: " + err.Error()
	} else if free < need {
		c.fix = "close other programs or lower CONCURRENT_CONTEXTS"
	}
	return c
}

// preflight is the cheap part of doctor that every run does before it
// starts downloading: it refuses to start a job the disk can't hold.
func preflight(r *runner, todo int) error {
	if todo == 0 {
		return nil
	}
	avg := int64(defaultPDFSize)
	if t, err := checkpoint.Count(context.Background(), r.store, nil); err == nil && t.Done > 0 {
		var bytes int64
		for _, o := range t.Owners {
			bytes += o.Bytes
		}
		avg = max(bytes/int64(t.Done), 1)
	}
	if c := diskCheck(r.cfg.OutDir, int64(todo), avg); !c.ok {
		return fmt.Errorf("%w: not enough disk: %s; %s", errPreflight, c.detail, c.fix)
	}
	if c := memoryCheck(r.cfg.Workers); c.warn && c.fix != "" {
		r.log.Warn("little free memory", "detail", c.detail, "fix", c.fix)
	}
	return nil
}
