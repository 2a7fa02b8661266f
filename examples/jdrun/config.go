package main

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/pagefleet/pagefleet/session"
)

// config is everything a run needs, from flags over env over .env over defaults.
type config struct {
	URL, User    string
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
	FixedTimeout bool // no learned timeouts
	StuckAfter   time.Duration
	LoginOutage  time.Duration // session.Config.LoginOutage
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
	Bundles      int    // evidence bundles kept in <state>/bundles
	Trace        string // off, failures
	Listen       string // host:port of the live status page and metrics; "" serves none
	EnvFile      string `json:"-"` // the .env file read, if any

	// The embedded demo portal, run with -demo.
	Demo         bool
	DemoVehicles int
	DemoLatency  time.Duration
	DemoFaults   bool

	passwordStdin, version bool
	name                   *template.Template
}

// errUsage marks errors in the configuration (exit code 2).
var errUsage = errors.New("invalid configuration")

// boolValue accepts what .env files of the old tool contain: true/false,
// 1/0, yes/no, on/off, in any case.
type boolValue struct{ p *bool }

func (b boolValue) String() string   { return strconv.FormatBool(b.p != nil && *b.p) }
func (b boolValue) IsBoolFlag() bool { return true }

func (b boolValue) Set(s string) error {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "y", "yes", "on":
		*b.p = true
	case "0", "f", "false", "n", "no", "off", "":
		*b.p = false
	default:
		return errors.New("not a boolean: use true or false (yes/no, 1/0); on the command line -flag=false, with the =")
	}
	return nil
}

// durationValue is a time.Duration flag whose error says how to write one.
type durationValue struct{ p *time.Duration }

func (d durationValue) String() string {
	if d.p == nil {
		return "0s"
	}
	return d.p.String()
}

func (d durationValue) Set(s string) error {
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return errors.New("not a duration: a number with a unit, e.g. 90s, 5m, 1h30m")
	}
	*d.p = v
	return nil
}

// newFlagSet declares every setting on fs, with c's fields as targets and
// the defaults. It returns the flag → environment variable mapping.
func newFlagSet(c *config, fs *flag.FlagSet) map[string]string {
	envOf := map[string]string{}
	str := func(p *string, name, env, def, usage string) { fs.StringVar(p, name, def, usage); envOf[name] = env }
	num := func(p *int, name, env string, def int, usage string) {
		fs.IntVar(p, name, def, usage)
		envOf[name] = env
	}
	dur := func(p *time.Duration, name, env string, def time.Duration, usage string) {
		*p = def
		fs.Var(durationValue{p}, name, usage)
		envOf[name] = env
	}
	boolean := func(p *bool, name, env string, def bool, usage string) {
		*p = def
		fs.Var(boolValue{p}, name, usage)
		envOf[name] = env
	}
	str(&c.URL, "url", "JD_URL", "", "base URL of the dealer portal (required, unless -demo)")
	str(&c.User, "user", "JD_USER", "", "portal user name")
	num(&c.MaxDownloads, "max", "MAX_DOWNLOADS", 0, "download at most this many vehicles (0: all)")
	num(&c.Workers, "workers", "CONCURRENT_CONTEXTS", 8, "worker pages: the ceiling when -adaptive, else the fixed count")
	boolean(&c.Adaptive, "adaptive", "ADAPTIVE", true, "find the best worker count automatically, up to -workers")
	boolean(&c.Headless, "headless", "HEADLESS", true, "run the browser without a window")
	boolean(&c.Block, "block", "BLOCK_RESOURCES", true, "block images, stylesheets, fonts and media")
	str(&c.OutDir, "out", "OUTPUT_DIR", "downloads", "directory for the PDFs")
	str(&c.StateDir, "state", "STATE_DIR", ".jdrun", "directory for the checkpoint, logs and reports")
	dur(&c.Timeout, "timeout", "TASK_TIMEOUT", 3*time.Minute, "time limit of one attempt at one vehicle")
	dur(&c.ReqTimeout, "request-timeout", "REQUEST_TIMEOUT", time.Minute, "the longest a page load or sticker request may wait for its answer; once the site's latency is learned, a hung request is given up after a few seconds (see -fixed-timeouts)")
	boolean(&c.FixedTimeout, "fixed-timeouts", "FIXED_TIMEOUTS", false, "wait the whole -request-timeout for every answer instead of a timeout learned from the site's latency")
	dur(&c.StuckAfter, "stuck-after", "STUCK_AFTER", 5*time.Minute, "an attempt running this long is rescued by the watchdog")
	dur(&c.LoginOutage, "login-outage", "LOGIN_OUTAGE", 30*time.Minute, "how long the site's login may stay down (a maintenance window) while vehicles wait, uncharged, before the run ends with exit 3")
	num(&c.Retries, "retries", "MAX_RETRIES", 4, "retries per vehicle after the first attempt, counted across runs")
	dur(&c.Grace, "grace", "GRACE_PERIOD", 10*time.Second, "on Ctrl-C, how long running downloads may finish")
	str(&c.NameTemplate, "name", "FILE_NAME", "{{.VIN}}.pdf", "file name template; fields: .VIN .Stock .Year .Make .Model .ID")
	str(&c.Download, "download", "DOWNLOAD_MODE", "auto", "how to get a sticker: direct (fetch its URL without opening the page), fetch (open the page, fetch the sticker link), click (open the page, click the button), auto (direct when the site allows it, else fetch or click)")
	str(&c.SiteFile, "site", "SITE_CONFIG", "", "JSON file overriding the site adapter's URLs and selectors")
	boolean(&c.RetryFailed, "retry-failed", "RETRY_FAILED", false, "also retry the vehicles given up before, each with fresh attempts")
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
	num(&c.Bundles, "bundles", "EVIDENCE_BUNDLES", 50, "keep the evidence of up to this many failures in <state>/bundles: screenshot, HTML, requests (0: none)")
	str(&c.Trace, "trace", "TRACE", "off", "failures: after the run, replay up to 10 failed vehicles with a Playwright trace each, in their bundle (costs a browser context and a few seconds per vehicle)")
	str(&c.Listen, "listen", "METRICS_LISTEN", "", "serve live metrics (Prometheus, /metrics) and a status page (/) on this host:port while running, e.g. 127.0.0.1:9300 (empty: none)")
	str(&c.EnvFile, "env-file", "ENV_FILE", "", "the .env file to read (default: .env in the working directory, else next to jdrun)")
	boolean(&c.Demo, "demo", "DEMO", false, "run against the embedded demo portal instead of JD_URL")
	num(&c.DemoVehicles, "demo-vehicles", "DEMO_VEHICLES", 60, "demo portal: number of vehicles")
	dur(&c.DemoLatency, "demo-latency", "DEMO_LATENCY", 150*time.Millisecond, "demo portal: latency per request")
	boolean(&c.DemoFaults, "demo-faults", "DEMO_FAULTS", false, "demo portal: turn on errors, hangs, logouts, 429s, refused logins, truncated and wrong stickers")
	fs.BoolVar(&c.passwordStdin, "password-stdin", false, "read the password from the first line of stdin (else JD_PASS)")
	fs.BoolVar(&c.version, "version", false, "print the version and exit")
	return envOf
}

// loadConfig builds the configuration from args, the environment and a
// .env file: -env-file (or ENV_FILE), else .env in the working directory,
// else .env next to the executable.
func loadConfig(args []string, getenv func(string) string, stdin io.Reader, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("jdrun", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors come back to run, with a hint; -h prints usage
	envOf := newFlagSet(c, fs)
	fs.Usage = func() {} // an error is returned with a hint; -h prints the usage
	if name := unknownFlag(fs, args); name != "" {
		return nil, fmt.Errorf("%w: %s", errUsage, suggest(fs, name))
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(fs, envOf, stderr)
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v (jdrun -h lists every flag)", errUsage, err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected argument %q (a boolean flag takes its value with =, e.g. -headless=false)", errUsage, fs.Arg(0))
	}
	if c.version {
		return c, nil
	}
	env, path, err := findDotEnv(cmp.Or(c.EnvFile, getenv("ENV_FILE")))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	lookup := func(name string) (string, bool) {
		if v := getenv(name); v != "" {
			return v, true
		}
		v, ok := env[name]
		return v, ok
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for name, envName := range envOf {
		if v, ok := lookup(envName); ok && !set[name] {
			if err := fs.Set(name, v); err != nil {
				return nil, fmt.Errorf("%w: %s (-%s): %w", errUsage, envName, name, err)
			}
		}
	}
	c.EnvFile = path
	c.Password, _ = lookup("JD_PASS")
	if c.passwordStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			return nil, fmt.Errorf("%w: -password-stdin: no password on stdin", errUsage)
		}
		c.Password = strings.TrimRight(line, "\r\n")
	}
	if err := c.validate(); err != nil {
		return c, err
	}
	pw, _ := lookup("PGPASSWORD")
	c.Store = withPGPassword(c.Store, pw)
	return c, nil
}

// withPGPassword puts PGPASSWORD into a postgres:// store URL without a
// password, where pgx finds it: main takes it out of the environment that
// the driver and the browser inherit.
func withPGPassword(store, pw string) string {
	if pw == "" || !isPostgres(store) || storePassword(store) != "" {
		return store
	}
	u, err := url.Parse(store)
	if err != nil {
		return store
	}
	u.User = url.UserPassword(u.User.Username(), pw)
	return u.String()
}

// unknownFlag returns the first flag of args that fs does not define,
// read as flag.Parse reads them ("" if none).
func unknownFlag(fs *flag.FlagSet, args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || len(a) < 2 || a[0] != '-' {
			return ""
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := fs.Lookup(name)
		switch {
		case name == "h" || name == "help":
		case f == nil:
			return name
		case !hasValue && !isBoolFlag(f):
			i++ // its value
		}
	}
	return ""
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// suggest says that name is unknown, and which flag it may have meant.
func suggest(fs *flag.FlagSet, name string) string {
	best, dist := "", 4
	fs.VisitAll(func(f *flag.Flag) {
		if d := editDistance(name, f.Name); d < dist {
			best, dist = f.Name, d
		}
	})
	if best != "" {
		return fmt.Sprintf("unknown flag -%s: did you mean -%s? (jdrun -h lists every flag)", name, best)
	}
	return fmt.Sprintf("unknown flag -%s (jdrun -h lists every flag)", name)
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := []int{i}
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur = append(cur, min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost))
		}
		prev = cur
	}
	return prev[len(b)]
}

// findDotEnv reads the .env file at path, or — when path is empty — the
// first of .env in the working directory and .env next to the executable;
// it returns no file, and no error, when there is none.
func findDotEnv(path string) (map[string]string, string, error) {
	candidates := []string{path}
	if path == "" {
		candidates = []string{".env"}
		if exe, err := os.Executable(); err == nil {
			candidates = append(candidates, filepath.Join(filepath.Dir(exe), ".env"))
		}
	}
	for _, p := range candidates {
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) && path == "" {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("ENV_FILE (-env-file): %w", err)
		}
		env, err := parseDotEnv(p, b)
		abs, _ := filepath.Abs(p)
		return env, abs, err
	}
	return nil, "", nil
}

// parseDotEnv reads KEY=VALUE lines as editors write them: a UTF-8 byte
// order mark (PowerShell's), CRLF line ends, comments, "export ", quoted
// values. An error names the file, the line and the key — never a value,
// which may be a password.
func parseDotEnv(path string, b []byte) (map[string]string, error) {
	env := map[string]string{}
	b = bytes.TrimPrefix(b, []byte("\uFEFF"))
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" || line[0] == '#' {
			continue
		}
		key, val, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		key = strings.TrimSpace(key)
		bad := func(why string) error { return fmt.Errorf("%s line %d: %s", path, n+1, why) }
		switch {
		case !ok:
			return nil, bad("not KEY=VALUE")
		case key == "" || strings.ContainsAny(key, " \t\"'"):
			return nil, bad("not a variable name before the =")
		}
		val = strings.TrimSpace(val)
		if q := val[:min(1, len(val))]; q == `"` || q == "'" {
			end := strings.LastIndex(val, q)
			if end == 0 {
				return nil, bad("the value of " + key + " opens a quote that does not close")
			}
			val = val[1:end]
			if q == `"` {
				val = strings.NewReplacer(`\n`, "\n", `\"`, `"`, `\\`, `\`).Replace(val)
			}
		} else if i := strings.Index(val, " #"); i >= 0 {
			val = strings.TrimSpace(val[:i])
		}
		env[key] = val
	}
	return env, nil
}

func (c *config) validate() error {
	bad := func(setting, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", errUsage, setting, fmt.Sprintf(format, args...))
	}
	oneOf := func(v string, allowed ...string) bool {
		for _, a := range allowed {
			if v == a {
				return true
			}
		}
		return false
	}
	switch {
	case c.MaxDownloads < 0:
		return bad("MAX_DOWNLOADS (-max)", "%d is negative", c.MaxDownloads)
	case c.Workers < 1 || c.Workers > 64:
		return bad("CONCURRENT_CONTEXTS (-workers)", "%d is outside 1..64", c.Workers)
	case c.Timeout <= 0 || c.ReqTimeout <= 0 || c.ProgressLog <= 0:
		return bad("TASK_TIMEOUT, REQUEST_TIMEOUT, PROGRESS_EVERY", "must be positive")
	case c.StuckAfter <= c.Timeout:
		return bad("STUCK_AFTER (-stuck-after)", "%v must exceed TASK_TIMEOUT %v", c.StuckAfter, c.Timeout)
	case c.Retries < 0 || c.Retries > 20:
		return bad("MAX_RETRIES (-retries)", "%d is outside 0..20", c.Retries)
	case c.LoginOutage <= 0:
		return bad("LOGIN_OUTAGE (-login-outage)", "must be positive")
	case c.Grace < 0:
		return bad("GRACE_PERIOD (-grace)", "%v is negative", c.Grace)
	case !oneOf(c.Download, "auto", "direct", "fetch", "click"):
		return bad("DOWNLOAD_MODE (-download)", "%q is not auto, direct, fetch or click", c.Download)
	case !oneOf(c.LogFormat, "text", "json"):
		return bad("LOG_FORMAT (-log-format)", "%q is not text or json", c.LogFormat)
	case !oneOf(c.Progress, "auto", "bar", "log", "off"):
		return bad("PROGRESS (-progress)", "%q is not auto, bar, log or off", c.Progress)
	case !oneOf(c.Trace, "off", "failures"):
		return bad("TRACE (-trace)", "%q is not off or failures", c.Trace)
	case c.Trace == "failures" && c.Bundles == 0:
		return bad("TRACE (-trace)", "failures keeps its traces in the evidence bundles: -bundles must be above 0")
	case c.Bundles < 0:
		return bad("EVIDENCE_BUNDLES (-bundles)", "%d is negative", c.Bundles)
	case c.LeaseTTL < time.Second:
		return bad("LEASE_TTL (-lease-ttl)", "%v is under a second", c.LeaseTTL)
	case c.MaxPages < 1 || c.DemoVehicles < 1:
		return bad("MAX_PAGES, DEMO_VEHICLES", "must be positive")
	case c.OutDir == "" || c.StateDir == "":
		return bad("OUTPUT_DIR (-out), STATE_DIR (-state)", "empty")
	}
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			return bad("METRICS_LISTEN (-listen)", "%q is not host:port, e.g. 127.0.0.1:9300 (:9300 listens on every interface)", c.Listen)
		}
	}
	t, err := template.New("name").Option("missingkey=error").Parse(c.NameTemplate)
	if err == nil {
		err = t.Execute(io.Discard, vehicle{VIN: "1HGCM82633A004352", ID: "1"})
	}
	if err != nil {
		return bad("FILE_NAME (-name)", "%v", err)
	}
	c.name = t
	if c.URL == "" && !c.Demo {
		where := "no .env file was found in the working directory or next to jdrun"
		if c.EnvFile != "" {
			where = c.EnvFile + " has no JD_URL"
		}
		return bad("JD_URL (-url)", "no portal configured (%s): set JD_URL in .env, the environment or -url, point -env-file at your .env, or run the demo with -demo", where)
	}
	if c.URL != "" && !c.Demo {
		if !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://") {
			return bad("JD_URL (-url)", "%q is not an http(s) URL", c.URL)
		}
		c.URL = strings.TrimRight(c.URL, "/")
		if c.User == "" || c.Password == "" {
			return bad("JD_USER/JD_PASS", "a portal URL needs a user and a password (JD_PASS in the environment or .env, or -password-stdin)")
		}
	}
	if c.Store == "" {
		c.Store = filepath.Join(c.StateDir, "checkpoint.jsonl")
	}
	if c.WorkerID == "" {
		host, _ := os.Hostname()
		c.WorkerID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	return nil
}

// settings are the configuration as the logs and reports show it: no
// password, the store's redacted.
func (c *config) settings() map[string]any {
	m := map[string]any{}
	v, t := reflect.ValueOf(*c), reflect.TypeFor[config]()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || f.Tag.Get("json") == "-" {
			continue
		}
		switch x := v.Field(i).Interface().(type) {
		case time.Duration:
			m[f.Name] = x.String()
		case string: // a -browser ws://…?token=, a store's ?password=
			m[f.Name] = session.ScrubString(x)
		default:
			m[f.Name] = x
		}
	}
	m["Store"] = redactedStore(c.Store)
	return m
}

// secrets are the values no output may show.
func (c *config) secrets() []string { return []string{c.Password, storePassword(c.Store)} }

// storePassword is the password in a store URL (user:password@, or
// ?password=): a secret like JD_PASS.
func storePassword(store string) string {
	u, err := url.Parse(store)
	if err != nil {
		return ""
	}
	if p, ok := u.User.Password(); ok {
		return p
	}
	return u.Query().Get("password")
}

// redactedStore is a store URL fit to show: its password replaced.
func redactedStore(store string) string { return session.ScrubString(store) }

func usage(fs *flag.FlagSet, envOf map[string]string, w io.Writer) {
	fmt.Fprint(w, `jdrun downloads the window sticker PDF of every vehicle in a dealer portal,
through a real browser, in parallel, resumably, checking each PDF carries its VIN.

Usage:
  jdrun [flags]          run the job against JD_URL (or, with -demo, the embedded demo portal)
  jdrun bench [flags]    measure throughput per worker count (see jdrun bench -h)
  jdrun doctor [flags]   check the machine, browser, credentials and site before a run
  jdrun report [flags]   the combined report of every worker in a checkpoint (see jdrun report -h)

Settings come from flags, then environment variables, then a .env file (-env-file,
else .env in the working directory, else next to jdrun), then the defaults. The
password is read from JD_PASS (env or .env) or with -password-stdin, and is never
printed, logged or written. Booleans take their value with =: -headless=false.
Durations have a unit: 90s, 5m, 1h30m.

Flags:
`)
	fs.VisitAll(func(f *flag.Flag) {
		env := ""
		if e := envOf[f.Name]; e != "" {
			env = "env " + e + ", "
		}
		fmt.Fprintf(w, "  -%-16s %s (%sdefault %s)\n", f.Name, f.Usage, env, cmp.Or(f.DefValue, `""`))
	})
	fmt.Fprint(w, `
Exit codes: 0 all done; 1 error; 2 invalid configuration; 3 login refused
(bad credentials), down longer than -login-outage, or the site unreachable;
4 finished, but some vehicles failed;
130 interrupted (Ctrl-C / SIGTERM; the checkpoint keeps everything finished).
`)
}
