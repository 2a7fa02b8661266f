package session

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	playwright "github.com/mxschmitt/playwright-go"
)

// Install says where the Playwright driver and the browser are.
// [Locate] fills in the fields a caller leaves empty.
type Install struct {
	// DriverDir is the Playwright driver directory: it holds package/cli.js
	// of the playwright-core version the Go binding expects.
	DriverDir string
	// Node is the Node.js executable that runs the driver; "" means the
	// driver's own DriverDir/node.
	Node string
	// Browser is the chromium executable; "" means Playwright's bundled
	// chromium (the playwright-go standard install).
	Browser string
	// From says where DriverDir was found: "config", "env", "cache" or
	// "playwright-go".
	From string
}

// DefaultChromium is where Debian's chromium package (and scripts/setup)
// puts the real browser binary; /usr/bin/chromium is a shell wrapper.
const DefaultChromium = "/usr/lib/chromium/chromium"

// DefaultHeadlessShell is where Debian's chromium-headless-shell package
// (and scripts/setup) puts chromium's headless-only build: the same engine
// without the browser's UI layers: opening pages and clicking costs about
// 40 % less CPU and 150 MB less memory with it (jdrun bench). [Locate]
// prefers it; a headed session uses [DefaultChromium] instead.
const DefaultHeadlessShell = "/usr/lib/chromium/chromium-headless-shell"

// defaultBrowsers are the browsers Locate looks for, best first; the
// last is the full chromium.
var defaultBrowsers = []string{DefaultHeadlessShell, DefaultChromium}

// fullChromium is the default browser that has a window.
func fullChromium() string { return defaultBrowsers[len(defaultBrowsers)-1] }

// DriverVersion returns the Playwright driver version the Go binding
// expects (and refuses to run without).
func DriverVersion() string { return driverVersionOnce() }

var driverVersionOnce = sync.OnceValue(func() string {
	d, err := playwright.NewDriver(&playwright.RunOptions{DriverDirectory: os.TempDir()})
	if err != nil { // only fails for contradictory options
		panic(err)
	}
	return d.Version
})

// CacheDriverDir is where scripts/setup installs the driver:
// ${XDG_CACHE_HOME:-$HOME/.cache}/pagefleet/driver-<version>.
func CacheDriverDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "pagefleet", "driver-"+DriverVersion()), nil
}

// playwrightGoDir is playwright-go's default DriverDirectory.
func playwrightGoDir() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	cache := filepath.Join(home, ".cache")
	switch runtime.GOOS {
	case "windows":
		cache = filepath.Join(home, "AppData", "Local")
	case "darwin":
		cache = filepath.Join(home, "Library", "Caches")
	}
	return filepath.Join(cache, "ms-playwright-go", DriverVersion()), nil
}

// Locate finds the driver, Node.js and the browser, keeping the fields of
// want that are set. The driver directory is, in order: want.DriverDir,
// $PAGEFLEET_DRIVER_DIR, $PLAYWRIGHT_DRIVER_PATH, [CacheDriverDir], and
// playwright-go's standard install. An explicit directory (config or env)
// must hold the driver; the two default places are tried in turn. Node.js
// is $PLAYWRIGHT_NODEJS_PATH, the driver's own, or node on PATH. The browser
// is want.Browser, $PAGEFLEET_CHROMIUM, or else [DefaultHeadlessShell] if
// it is installed and [DefaultChromium] if not — except
// with playwright-go's standard install, whose bundled chromium matches
// its driver.
//
// A missing piece is reported as an error wrapping [ErrNotInstalled] that
// says which command installs it.
func Locate(want Install) (Install, error) {
	in := want
	ver := DriverVersion()
	type place struct{ dir, from string }
	var places []place
	switch {
	case in.DriverDir != "":
		places = []place{{in.DriverDir, cmp.Or(in.From, "config")}}
	case os.Getenv("PAGEFLEET_DRIVER_DIR") != "":
		places = []place{{os.Getenv("PAGEFLEET_DRIVER_DIR"), "env"}}
	case os.Getenv("PLAYWRIGHT_DRIVER_PATH") != "":
		places = []place{{os.Getenv("PLAYWRIGHT_DRIVER_PATH"), "env"}}
	default:
		if d, err := CacheDriverDir(); err == nil {
			places = append(places, place{d, "cache"})
		}
		if d, err := playwrightGoDir(); err == nil {
			places = append(places, place{d, "playwright-go"})
		}
	}
	var tried []string
	var found bool
	for _, p := range places {
		got, err := driverVersion(p.dir)
		if err == nil && got == ver {
			in.DriverDir, in.From, found = p.dir, p.from, true
			break
		}
		if err == nil {
			err = fmt.Errorf("version %s, want %s", got, ver)
		}
		tried = append(tried, fmt.Sprintf("%s (%s): %v", p.dir, p.from, err))
		if p.from == "config" || p.from == "env" {
			break // explicit means explicit: don't fall back behind the caller's back
		}
	}
	if !found {
		return want, fmt.Errorf("%w: Playwright driver %s not found; tried %s; %s",
			ErrNotInstalled, ver, strings.Join(tried, "; "), setupHint())
	}

	if in.Node == "" {
		in.Node = os.Getenv("PLAYWRIGHT_NODEJS_PATH")
	}
	if in.Node == "" && !isFile(filepath.Join(in.DriverDir, nodeExe())) {
		p, err := exec.LookPath("node")
		if err != nil {
			return want, fmt.Errorf("%w: Node.js not found (no %s in the driver directory, none on PATH, PLAYWRIGHT_NODEJS_PATH unset); %s",
				ErrNotInstalled, nodeExe(), setupHint())
		}
		in.Node = p
	}

	if in.Browser == "" {
		in.Browser = os.Getenv("PAGEFLEET_CHROMIUM")
	}
	if in.Browser == "" && in.From != "playwright-go" { // the standard install has its own chromium, of the right version
		in.Browser = fullChromium() // named by the error if none is there
		for _, b := range defaultBrowsers {
			if isFile(b) {
				in.Browser = b
				break
			}
		}
	}
	if in.Browser != "" && !isFile(in.Browser) {
		return want, fmt.Errorf("%w: chromium not found at %s; %s", ErrNotInstalled, in.Browser, setupHint())
	}
	return in, nil
}

// driverVersion reads the playwright-core version of a driver directory
// without starting Node.js, so a miss costs nothing.
func driverVersion(dir string) (string, error) {
	if !isFile(filepath.Join(dir, "package", "cli.js")) {
		return "", errors.New("no package/cli.js")
	}
	b, err := os.ReadFile(filepath.Join(dir, "package", "package.json"))
	if err != nil {
		return "", err
	}
	var pkg struct{ Version string }
	if err := json.Unmarshal(b, &pkg); err != nil {
		return "", fmt.Errorf("package.json: %w", err)
	}
	return pkg.Version, nil
}

func setupHint() string {
	if runtime.GOOS == "linux" {
		return "run scripts/setup (or set PAGEFLEET_DRIVER_DIR and PAGEFLEET_CHROMIUM)"
	}
	return "run: go run github.com/mxschmitt/playwright-go/cmd/playwright@v0.6401.0 install --with-deps chromium"
}

func nodeExe() string {
	if runtime.GOOS == "windows" {
		return "node.exe"
	}
	return "node"
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}
