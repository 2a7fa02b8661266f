package session_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/pagefleet/pagefleet/session"
)

// fakeDriver makes a driver directory holding playwright-core of version.
func fakeDriver(t *testing.T, dir, version string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "package"), 0o755); err != nil {
		t.Fatal(err)
	}
	touch(t, filepath.Join(dir, "package", "cli.js"), "")
	touch(t, filepath.Join(dir, "package", "package.json"), `{"name":"playwright-core","version":"`+version+`"}`)
	return dir
}

func touch(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLocate(t *testing.T) { // not parallel: it sets environment variables
	if runtime.GOOS != "linux" {
		t.Skip("paths below are Linux's")
	}
	ver := session.DriverVersion()
	tmp := t.TempDir()
	chromium := touch(t, filepath.Join(tmp, "bin", "chromium"), "")
	shell := filepath.Join(tmp, "bin", "chromium-headless-shell") // made by a case below
	defer session.SetDefaultBrowsers(shell, chromium)()
	node := touch(t, filepath.Join(tmp, "bin", "node"), "")
	good := fakeDriver(t, filepath.Join(tmp, "good"), ver)
	old := fakeDriver(t, filepath.Join(tmp, "old"), "1.0.0")
	cache := filepath.Join(tmp, "xdg")
	home := filepath.Join(tmp, "home")
	fakeDriver(t, filepath.Join(home, ".cache", "ms-playwright-go", ver), ver)

	tests := []struct {
		name      string
		want      session.Install
		env       map[string]string
		from      string // "" means an error is expected
		errHas    []string
		browser   string
		makeShell bool
	}{
		{name: "config", want: session.Install{DriverDir: good, Browser: chromium}, from: "config", browser: chromium},
		{name: "config beats env", want: session.Install{DriverDir: good}, env: map[string]string{"PAGEFLEET_DRIVER_DIR": old, "PAGEFLEET_CHROMIUM": chromium}, from: "config", browser: chromium},
		{name: "PAGEFLEET_DRIVER_DIR", env: map[string]string{"PAGEFLEET_DRIVER_DIR": good, "PLAYWRIGHT_DRIVER_PATH": old, "PAGEFLEET_CHROMIUM": chromium}, from: "env", browser: chromium},
		{name: "PLAYWRIGHT_DRIVER_PATH", env: map[string]string{"PLAYWRIGHT_DRIVER_PATH": good, "PAGEFLEET_CHROMIUM": chromium}, from: "env", browser: chromium},
		{name: "explicit dir missing", env: map[string]string{"PAGEFLEET_DRIVER_DIR": filepath.Join(tmp, "nope")}, errHas: []string{"nope", "scripts/setup"}},
		{name: "explicit dir of the wrong version", want: session.Install{DriverDir: old}, errHas: []string{"version 1.0.0, want " + ver, "scripts/setup"}},
		{name: "cache dir", env: map[string]string{"XDG_CACHE_HOME": fakeCache(t, cache, ver), "PAGEFLEET_CHROMIUM": chromium}, from: "cache", browser: chromium},
		{name: "playwright-go install, bundled browser", env: map[string]string{"XDG_CACHE_HOME": filepath.Join(tmp, "empty")}, from: "playwright-go", browser: ""},
		{name: "default: the full browser without the headless shell", want: session.Install{DriverDir: good}, from: "config", browser: chromium},
		{name: "default: the headless shell where it is installed", want: session.Install{DriverDir: good}, from: "config", browser: shell, makeShell: true},
		{name: "chromium missing", want: session.Install{DriverDir: good}, env: map[string]string{"PAGEFLEET_CHROMIUM": filepath.Join(tmp, "no-chromium")}, errHas: []string{"no-chromium", "scripts/setup"}},
		{name: "node on PATH", want: session.Install{DriverDir: good, Browser: chromium}, env: map[string]string{"PLAYWRIGHT_NODEJS_PATH": "", "PATH": filepath.Dir(node)}, from: "config", browser: chromium},
		{name: "node missing", want: session.Install{DriverDir: good, Browser: chromium}, env: map[string]string{"PLAYWRIGHT_NODEJS_PATH": "", "PATH": tmp}, errHas: []string{"Node.js", "scripts/setup"}},
		{name: "nothing anywhere", env: map[string]string{"XDG_CACHE_HOME": filepath.Join(tmp, "empty"), "HOME": filepath.Join(tmp, "empty")}, errHas: []string{"not found", "ms-playwright-go", "scripts/setup"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"PAGEFLEET_DRIVER_DIR", "PLAYWRIGHT_DRIVER_PATH", "PAGEFLEET_CHROMIUM", "XDG_CACHE_HOME"} {
				t.Setenv(k, "")
			}
			t.Setenv("HOME", home)
			t.Setenv("PLAYWRIGHT_NODEJS_PATH", node)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if tt.makeShell {
				touch(t, shell, "")
			}
			got, err := session.Locate(tt.want)
			if tt.from == "" {
				if !errors.Is(err, session.ErrNotInstalled) {
					t.Fatalf("Locate = %+v, %v; want ErrNotInstalled", got, err)
				}
				for _, s := range tt.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.From != tt.from || got.Browser != tt.browser || got.Node != node {
				t.Errorf("Locate = %+v; want From %q, Browser %q, Node %q", got, tt.from, tt.browser, node)
			}
		})
	}
}

func fakeCache(t *testing.T, cache, ver string) string {
	fakeDriver(t, filepath.Join(cache, "pagefleet", "driver-"+ver), ver)
	return cache
}

// TestHeadedWithoutTheFullBrowser: a headed session where only the
// headless shell is installed fails with ErrNotInstalled and says what to
// install — the shell has no window to show — instead of a launch error.
func TestHeadedWithoutTheFullBrowser(t *testing.T) { // not parallel: it swaps the default browsers
	tmp := t.TempDir()
	shell := touch(t, filepath.Join(tmp, "bin", "chromium-headless-shell"), "")
	missing := filepath.Join(tmp, "bin", "chromium")
	defer session.SetDefaultBrowsers(shell, missing)()
	s, err := session.Open(t.Context(), session.Config{Headed: true, Install: session.Install{Browser: shell}})
	if err == nil {
		s.Close()
		t.Fatal("a headed session opened with only the headless shell")
	}
	if !errors.Is(err, session.ErrNotInstalled) || !strings.Contains(err.Error(), missing) {
		t.Errorf("Open: %v; want ErrNotInstalled naming %s", err, missing)
	}
}
