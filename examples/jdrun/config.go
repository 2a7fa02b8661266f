package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/joho/godotenv"
)

// config is everything a run needs, from flags over env over .env over defaults.
type config struct {
	URL          string
	User         string
	Password     string `json:"-"` // never printed, logged or written
	MaxDownloads int
	Workers      int
	Adaptive     bool
	Headless     bool
	Block        bool
	OutDir       string
	StateDir     string
	Timeout      time.Duration
	ReqTimeout   time.Duration
	StuckAfter   time.Duration
	Retries      int
	Grace        time.Duration
	NameTemplate string
	Download     string // auto, direct, fetch, click
	SiteFile     string
	RetryFailed  bool
	DryRun       bool
	ImportFile   string
	Verbose      bool
	LogFormat    string
	Progress     string // auto, bar, log, off
	ProgressLog  time.Duration
	Browser      string // ws:// endpoint of a Playwright browser server
	Store        string // checkpoint store: a file path (default) or postgres://…
	WorkerID     string
	LeaseTTL     time.Duration
	StoreTable   string
	MaxPages     int

	// The embedded demo portal, used when URL is empty.
	DemoVehicles int
	DemoLatency  time.Duration
	DemoFaults   bool

	passwordStdin bool
	name          *template.Template
}

// errUsage marks errors in the configuration (exit code 2).
var errUsage = errors.New("invalid configuration")

// boolValue accepts what .env files of the old tool contain: true/false,
// 1/0, yes/no, on/off, in any case.
type boolValue struct{ p *bool }

func (b boolValue) String() string {
	if b.p == nil {
		return "false"
	}
	return strconv.FormatBool(*b.p)
}

func (b boolValue) Set(s string) error {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "y", "yes", "on":
		*b.p = true
	case "0", "f", "false", "n", "no", "off", "":
		*b.p = false
	default:
		return fmt.Errorf("%q is not a boolean (true/false, yes/no, 1/0)", s)
	}
	return nil
}

func (b boolValue) IsBoolFlag() bool { return true }

// setting ties a flag to its environment variable.
type setting struct {
	flag, env string
}

// newFlagSet declares every setting on fs, with c's fields as targets and
// the defaults. It returns the flag→env mapping for -h and for env loading.
func newFlagSet(c *config, fs *flag.FlagSet) []setting {
	var s []setting
	str := func(p *string, name, env, def, usage string) {
		fs.StringVar(p, name, def, usage)
		s = append(s, setting{name, env})
	}
	num := func(p *int, name, env string, def int, usage string) {
		fs.IntVar(p, name, def, usage)
		s = append(s, setting{name, env})
	}
	dur := func(p *time.Duration, name, env string, def time.Duration, usage string) {
		fs.DurationVar(p, name, def, usage)
		s = append(s, setting{name, env})
	}
	boolean := func(p *bool, name, env string, def bool, usage string) {
		*p = def
		fs.Var(boolValue{p}, name, usage)
		s = append(s, setting{name, env})
	}
	str(&c.URL, "url", "JD_URL", "", "base URL of the dealer portal; empty runs the embedded demo portal")
	str(&c.User, "user", "JD_USER", "", "portal user name (the demo portal's by default)")
	num(&c.MaxDownloads, "max", "MAX_DOWNLOADS", 0, "download at most this many vehicles (0: all)")
	num(&c.Workers, "workers", "CONCURRENT_CONTEXTS", 8, "worker pages: the ceiling when -adaptive, else the fixed count")
	boolean(&c.Adaptive, "adaptive", "ADAPTIVE", true, "find the best worker count automatically, up to -workers")
	boolean(&c.Headless, "headless", "HEADLESS", true, "run the browser without a window")
	boolean(&c.Block, "block", "BLOCK_RESOURCES", true, "block images, stylesheets, fonts and media")
	str(&c.OutDir, "out", "OUTPUT_DIR", "downloads", "directory for the PDFs")
	str(&c.StateDir, "state", "STATE_DIR", ".jdrun", "directory for the checkpoint, logs and reports")
	dur(&c.Timeout, "timeout", "TASK_TIMEOUT", 3*time.Minute, "time limit of one attempt at one vehicle")
	dur(&c.ReqTimeout, "request-timeout", "REQUEST_TIMEOUT", time.Minute, "time limit of one page load or sticker request (a hung request is given up after it)")
	dur(&c.StuckAfter, "stuck-after", "STUCK_AFTER", 5*time.Minute, "an attempt running this long is rescued by the watchdog")
	num(&c.Retries, "retries", "MAX_RETRIES", 4, "retries per vehicle after the first attempt (the old tool had 2, and lost 5–10 % of vehicles to transient errors)")
	dur(&c.Grace, "grace", "GRACE_PERIOD", 10*time.Second, "on Ctrl-C, how long running downloads may finish")
	str(&c.NameTemplate, "name", "FILE_NAME", "{{.VIN}}.pdf", "file name template; fields: .VIN .Stock .Year .Make .Model .ID")
	str(&c.Download, "download", "DOWNLOAD_MODE", "auto", "how to get a sticker: direct (fetch its URL without opening the page), fetch (open the page, fetch the sticker link), click (open the page, click the button), auto (direct when the site allows it, else fetch or click)")
	str(&c.SiteFile, "site", "SITE_CONFIG", "", "JSON file overriding the site adapter's URLs and selectors")
	fs.BoolVar(&c.RetryFailed, "retry-failed", false, "run only the vehicles that failed last time")
	fs.BoolVar(&c.DryRun, "dry-run", false, "list what would be downloaded, download nothing")
	str(&c.ImportFile, "import", "IMPORT_TRACKING", "", "import the old tool's tracking.json/checkpoint.json into the checkpoint first")
	fs.BoolVar(&c.Verbose, "v", false, "debug logs")
	str(&c.LogFormat, "log-format", "LOG_FORMAT", "text", "text or json")
	str(&c.Progress, "progress", "PROGRESS", "auto", "auto (a bar on a terminal, else a log line), bar, log or off")
	dur(&c.ProgressLog, "progress-every", "PROGRESS_EVERY", time.Minute, "interval of progress log lines when not on a terminal")
	str(&c.Browser, "browser", "BROWSER_WS", "", "ws:// endpoint of a remote Playwright browser server instead of a local chromium")
	str(&c.Store, "store", "CHECKPOINT_STORE", "", "checkpoint store: a file (default <state>/checkpoint.jsonl) or postgres://…")
	str(&c.WorkerID, "worker-id", "WORKER_ID", "", "this process's name in a shared checkpoint (default host-pid)")
	str(&c.StoreTable, "store-table", "CHECKPOINT_TABLE", "pagefleet_checkpoint", "shared checkpoint: the table of this job (jobs sharing a database use different tables)")
	dur(&c.LeaseTTL, "lease-ttl", "LEASE_TTL", 2*time.Minute, "shared checkpoint: a vehicle claimed by a process that died is taken over after this")
	num(&c.MaxPages, "max-pages", "MAX_PAGES", 2000, "stop listing the inventory after this many pages (a \"next\" link that never ends)")
	num(&c.DemoVehicles, "demo-vehicles", "DEMO_VEHICLES", 60, "demo portal: number of vehicles")
	dur(&c.DemoLatency, "demo-latency", "DEMO_LATENCY", 150*time.Millisecond, "demo portal: latency per request")
	boolean(&c.DemoFaults, "demo-faults", "DEMO_FAULTS", false, "demo portal: turn on errors, hangs, logouts, 429s, truncated and wrong stickers (and a 5s -request-timeout)")
	fs.BoolVar(&c.passwordStdin, "password-stdin", false, "read the password from the first line of stdin (else JD_PASS)")
	return s
}

// loadConfig builds the configuration from args, the environment and the
// .env file in the working directory.
func loadConfig(args []string, getenv func(string) string, stdin io.Reader, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("jdrun", flag.ContinueOnError)
	fs.SetOutput(stderr)
	settings := newFlagSet(c, fs)
	fs.Usage = func() { usage(fs, settings, stderr) }

	env, err := readDotEnv(".env")
	if err != nil {
		return nil, fmt.Errorf("%w: .env: %w", errUsage, err)
	}
	lookup := func(name string) (string, bool) {
		if v := getenv(name); v != "" {
			return v, true
		}
		v, ok := env[name]
		return v, ok
	}
	for _, s := range settings {
		if v, ok := lookup(s.env); ok {
			if err := fs.Set(s.flag, v); err != nil {
				return nil, fmt.Errorf("%w: %s=%q: %w", errUsage, s.env, v, err)
			}
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	c.Password, _ = lookup("JD_PASS")
	if c.passwordStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			return nil, fmt.Errorf("%w: -password-stdin: no password on stdin", errUsage)
		}
		c.Password = strings.TrimRight(line, "\r\n")
	}
	return c, c.validate()
}

func readDotEnv(path string) (map[string]string, error) {
	env, err := godotenv.Read(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return env, err
}

func (c *config) validate() error {
	bad := func(setting, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", errUsage, setting, fmt.Sprintf(format, args...))
	}
	switch {
	case c.MaxDownloads < 0:
		return bad("MAX_DOWNLOADS (-max)", "%d is negative", c.MaxDownloads)
	case c.Workers < 1 || c.Workers > 64:
		return bad("CONCURRENT_CONTEXTS (-workers)", "%d is outside 1..64", c.Workers)
	case c.Timeout <= 0:
		return bad("TASK_TIMEOUT (-timeout)", "%v must be positive", c.Timeout)
	case c.ReqTimeout <= 0:
		return bad("REQUEST_TIMEOUT (-request-timeout)", "%v must be positive", c.ReqTimeout)
	case c.StuckAfter <= c.Timeout:
		return bad("STUCK_AFTER (-stuck-after)", "%v must exceed TASK_TIMEOUT %v", c.StuckAfter, c.Timeout)
	case c.Retries < 0 || c.Retries > 20:
		return bad("MAX_RETRIES (-retries)", "%d is outside 0..20", c.Retries)
	case c.Grace < 0:
		return bad("GRACE_PERIOD (-grace)", "%v is negative", c.Grace)
	case c.Download != "auto" && c.Download != "direct" && c.Download != "fetch" && c.Download != "click":
		return bad("DOWNLOAD_MODE (-download)", "%q is not auto, direct, fetch or click", c.Download)
	case c.LogFormat != "text" && c.LogFormat != "json":
		return bad("LOG_FORMAT (-log-format)", "%q is not text or json", c.LogFormat)
	case c.Progress != "auto" && c.Progress != "bar" && c.Progress != "log" && c.Progress != "off":
		return bad("PROGRESS (-progress)", "%q is not auto, bar, log or off", c.Progress)
	case c.LeaseTTL < time.Second:
		return bad("LEASE_TTL (-lease-ttl)", "%v is under a second", c.LeaseTTL)
	case c.ProgressLog <= 0:
		return bad("PROGRESS_EVERY (-progress-every)", "%v must be positive", c.ProgressLog)
	case c.MaxPages < 1:
		return bad("MAX_PAGES (-max-pages)", "%d must be positive", c.MaxPages)
	case c.DemoVehicles < 1:
		return bad("DEMO_VEHICLES (-demo-vehicles)", "%d must be positive", c.DemoVehicles)
	case c.OutDir == "":
		return bad("OUTPUT_DIR (-out)", "empty")
	case c.StateDir == "":
		return bad("STATE_DIR (-state)", "empty")
	}
	if c.URL != "" {
		if !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://") {
			return bad("JD_URL (-url)", "%q is not an http(s) URL", c.URL)
		}
		c.URL = strings.TrimRight(c.URL, "/")
		if c.User == "" || c.Password == "" {
			return bad("JD_USER/JD_PASS", "a portal URL needs a user and a password (JD_PASS in the environment or .env, or -password-stdin)")
		}
	}
	t, err := template.New("name").Option("missingkey=error").Parse(c.NameTemplate)
	if err != nil {
		return bad("FILE_NAME (-name)", "%v", err)
	}
	if err := t.Execute(io.Discard, vehicle{VIN: "1HGCM82633A004352", ID: "1"}); err != nil {
		return bad("FILE_NAME (-name)", "%v", err)
	}
	c.name = t
	if c.Store == "" {
		c.Store = filepath.Join(c.StateDir, "checkpoint.jsonl")
	}
	if c.WorkerID == "" {
		host, _ := os.Hostname()
		c.WorkerID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	return nil
}

// secrets are the values no output may show.
func (c *config) secrets() []string { return []string{c.Password, storePassword(c.Store)} }

// storePassword is the password in a store URL: a secret like JD_PASS.
func storePassword(store string) string {
	if u, err := url.Parse(store); err == nil && u.User != nil {
		p, _ := u.User.Password()
		return p
	}
	return ""
}

// redactedStore is a store URL fit to show: its password replaced.
func redactedStore(store string) string {
	if u, err := url.Parse(store); err == nil && u.User != nil {
		return u.Redacted()
	}
	return store
}

func usage(fs *flag.FlagSet, settings []setting, w io.Writer) {
	envOf := map[string]string{}
	for _, s := range settings {
		envOf[s.flag] = s.env
	}
	fmt.Fprint(w, `jdrun downloads the window sticker PDF of every vehicle in a dealer portal,
through a real browser, in parallel, resumably, checking each PDF carries its VIN.

Usage:
  jdrun [flags]          run the job (with no JD_URL: against the embedded demo portal)
  jdrun bench [flags]    measure throughput per worker count (see jdrun bench -h)
  jdrun doctor [flags]   check the machine, browser, credentials and site before a run
  jdrun report [flags]   the combined report of every worker in a checkpoint (see jdrun report -h)

Settings come from flags, then environment variables, then a .env file in the
working directory, then the defaults. The password is read from JD_PASS (env or
.env) or with -password-stdin, and is never printed, logged or written.

Flags:
`)
	fs.VisitAll(func(f *flag.Flag) {
		env := ""
		if e := envOf[f.Name]; e != "" {
			env = "env " + e + ", "
		}
		def := f.DefValue
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  -%-16s %s (%sdefault %s)\n", f.Name, f.Usage, env, def)
	})
	fmt.Fprint(w, `
Exit codes: 0 all done; 1 error; 2 invalid configuration; 3 login refused
(bad credentials) or the site unreachable; 4 finished, but some vehicles failed;
130 interrupted (Ctrl-C / SIGTERM; the checkpoint keeps everything finished).
`)
}
