package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/session/sessiontest"

	"github.com/pagefleet/pagefleet/session"
)

// inDir runs the test in a fresh working directory (for .env files).
func inDir(t *testing.T) string {
	dir := t.TempDir()
	t.Chdir(dir)
	return dir
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigPrecedence(t *testing.T) {
	dir := inDir(t)
	os.WriteFile(filepath.Join(dir, ".env"), []byte(
		"JD_URL=https://dealer.example\nJD_USER=fromdotenv\nJD_PASS=dotenv-secret\nCONCURRENT_CONTEXTS=5\nHEADLESS=False\nMAX_DOWNLOADS=30\n"), 0o600)
	c, err := loadConfig([]string{"-workers", "9"}, env(map[string]string{"JD_USER": "fromenv", "BLOCK_RESOURCES": "no"}), nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case c.URL != "https://dealer.example":
		t.Errorf("URL %q: .env not read", c.URL)
	case c.User != "fromenv":
		t.Errorf("User %q: env must override .env", c.User)
	case c.Password != "dotenv-secret":
		t.Errorf("password not read from .env")
	case c.Workers != 9:
		t.Errorf("Workers %d: a flag must override .env", c.Workers)
	case c.Headless || c.Block:
		t.Errorf("HEADLESS=False / BLOCK_RESOURCES=no not understood: headless=%v block=%v", c.Headless, c.Block)
	case c.MaxDownloads != 30:
		t.Errorf("MAX_DOWNLOADS: %d", c.MaxDownloads)
	}
}

func TestConfigDefaultsNeedOnlyDemo(t *testing.T) {
	inDir(t)
	c, err := loadConfig([]string{"-demo"}, env(nil), nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.URL != "" || c.Workers != 8 || !c.Adaptive || !c.Headless || !c.Block || c.Timeout != 3*time.Minute || c.Retries != 4 {
		t.Errorf("defaults: %+v", c)
	}
	if c.Store != filepath.Join(".jdrun", "checkpoint.jsonl") {
		t.Errorf("store %q", c.Store)
	}
}

func TestConfigRejectsBadValuesNamingTheSetting(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, map[string]string{"CONCURRENT_CONTEXTS": "many"}, "CONCURRENT_CONTEXTS"},
		{nil, map[string]string{"CONCURRENT_CONTEXTS": "0"}, "CONCURRENT_CONTEXTS"},
		{nil, map[string]string{"HEADLESS": "maybe"}, "HEADLESS"},
		{nil, map[string]string{"MAX_DOWNLOADS": "-1"}, "MAX_DOWNLOADS"},
		{[]string{"-timeout", "10m"}, nil, "STUCK_AFTER"},
		{[]string{"-download", "teleport"}, nil, "DOWNLOAD_MODE"},
		{[]string{"-name", "{{.Nope}}.pdf"}, nil, "FILE_NAME"},
		{nil, map[string]string{"JD_URL": "dealer.example"}, "JD_URL"},
		{nil, map[string]string{"JD_URL": "https://dealer.example"}, "JD_USER/JD_PASS"},
		{[]string{"stray"}, nil, "unexpected argument"},
	} {
		inDir(t)
		_, err := loadConfig(tc.args, env(tc.env), nil, &bytes.Buffer{})
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("args %v env %v: got %v, want a usage error naming %s", tc.args, tc.env, err, tc.want)
		}
	}
}

func TestPasswordFromStdin(t *testing.T) {
	inDir(t)
	c, err := loadConfig([]string{"-password-stdin", "-url", "https://x.example", "-user", "u"}, env(nil),
		strings.NewReader("pa ss\n"), &bytes.Buffer{})
	if err != nil || c.Password != "pa ss" {
		t.Fatalf("password %q, err %v", c.Password, err)
	}
	if _, err := loadConfig([]string{"-password-stdin"}, env(nil), strings.NewReader(""), &bytes.Buffer{}); !errors.Is(err, errUsage) {
		t.Errorf("empty stdin: %v", err)
	}
}

func TestHelpListsEverySettingWithItsEnvName(t *testing.T) {
	inDir(t)
	var out bytes.Buffer
	_, err := loadConfig([]string{"-h"}, env(nil), nil, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err %v", err)
	}
	for _, want := range []string{"JD_USER", "JD_PASS", "MAX_DOWNLOADS", "CONCURRENT_CONTEXTS", "HEADLESS", "BLOCK_RESOURCES",
		"JD_URL", "OUTPUT_DIR", "STATE_DIR", "TASK_TIMEOUT", "MAX_RETRIES", "-retry-failed", "-dry-run", "-password-stdin",
		"default 8", "Exit codes"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-h lacks %q", want)
		}
	}
}

func TestRedaction(t *testing.T) {
	var buf bytes.Buffer
	c := &config{LogFormat: "json"}
	log, _ := newLogger(c, &buf, env(nil), nil, "hunter2-secret")
	log.Info("login with hunter2-secret", "password", "hunter2-secret", "err", errors.New("bad: hunter2-secret"))
	log.Info("ok", slog.Group("g", "p", "x hunter2-secret"))
	if strings.Contains(buf.String(), "hunter2") || strings.Count(buf.String(), "[redacted]") < 4 {
		t.Errorf("log not redacted:\n%s", buf.String())
	}
	err := session.Redact(errFailures, "hunter2-secret")
	if err != errFailures {
		t.Errorf("redactError changed an error without the secret")
	}
	err = session.Redact(errors.Join(errLogin, errors.New("hunter2-secret")), "hunter2-secret")
	if strings.Contains(err.Error(), "hunter2") || !errors.Is(err, errLogin) {
		t.Errorf("redactError: %v", err)
	}
}

func TestSiteFile(t *testing.T) {
	dir := inDir(t)
	p := filepath.Join(dir, "site.json")
	os.WriteFile(p, []byte(`{"login_path": "/signin", "row_fields": {"stock": "td.stk"}}`), 0o600)
	s, err := loadSite(p)
	if err != nil {
		t.Fatal(err)
	}
	if s.LoginPath != "/signin" || s.RowFields["stock"] != "td.stk" || s.RowFields["vin"] != "td.vin" || s.Row != defaultSite().Row {
		t.Errorf("site %+v", s)
	}
	os.WriteFile(p, []byte(`{"login_pth": "/x"}`), 0o600)
	if _, err := loadSite(p); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "login_pth") {
		t.Errorf("unknown field: %v", err)
	}
	os.WriteFile(p, []byte(`{"row": ""}`), 0o600)
	if _, err := loadSite(p); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "row is empty") {
		t.Errorf("empty row: %v", err)
	}
}

func TestFileNames(t *testing.T) {
	inDir(t)
	c, err := loadConfig([]string{"-demo", "-name", "{{.Year}} {{.Make}}/{{.Stock}}-{{.VIN}}.pdf"}, env(nil), nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	j := &runner{cfg: c}
	name := j.fileName(&vehicle{VIN: "1HGCM82633A004352", Stock: "../../etc", Year: "2024", Make: "Ford"})
	if strings.ContainsAny(name, `/\`) || !strings.HasSuffix(name, ".pdf") || !strings.Contains(name, "1HGCM82633A004352") {
		t.Errorf("unsafe or wrong name %q", name)
	}
}

func TestExitCodes(t *testing.T) {
	for err, want := range map[error]int{
		nil: 0, flag.ErrHelp: 0, errUsage: 2, errLogin: 3, errFailures: 4, errInterrupted: 130, errors.New("x"): 1,
	} {
		if got := exitCode(err, &bytes.Buffer{}); got != want {
			t.Errorf("exitCode(%v) = %d, want %d", err, got, want)
		}
	}
}

// TestNoDemoByAccident: without a portal and without -demo, jdrun says
// where it looked for .env and exits 2. Before: it ran the demo, exit 0.
func TestNoDemoByAccident(t *testing.T) {
	inDir(t)
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), nil, env(nil), nil, &stdout, &stderr)
	if !errors.Is(err, errUsage) || exitCode(err, &bytes.Buffer{}) != exitUsage ||
		!strings.Contains(err.Error(), "no .env file was found in the working directory or next to jdrun") || !strings.Contains(err.Error(), "-demo") {
		t.Errorf("run without JD_URL: %v", err)
	}
	os.WriteFile(".env", []byte("JD_USER=jane\n"), 0o600)
	if err := run(t.Context(), nil, env(nil), nil, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), ".env has no JD_URL") {
		t.Errorf("run with a .env without JD_URL: %v", err)
	}
}

// TestDotEnvAsEditorsWriteIt: a byte order mark (PowerShell 5) and CRLF
// line ends are fine; a broken line is named by file, line and key, never
// by its value. Before: the BOM was "unexpected character", and the error
// quoted the password.
func TestDotEnvAsEditorsWriteIt(t *testing.T) {
	dir := inDir(t)
	const pw = "Zq8#distinctive-pw"
	os.WriteFile(".env", []byte("\uFEFFJD_URL=https://dealer.example\r\nJD_USER=\"jane\"\r\n# a comment\r\nexport JD_PASS='"+pw+"'\r\nHEADLESS=no # inline\r\n"), 0o600)
	c, err := loadConfig(nil, env(nil), nil, &bytes.Buffer{})
	if err != nil || c.URL != "https://dealer.example" || c.User != "jane" || c.Password != pw || c.Headless || c.EnvFile != filepath.Join(dir, ".env") {
		t.Fatalf("config %+v, %v", c, err)
	}
	for _, broken := range []string{"JD_URL=https://x\nJD_PASS=\"" + pw + "\n", "JD_URL=https://x\n" + pw + "\n"} {
		os.WriteFile("broken.env", []byte(broken), 0o600)
		var stderr bytes.Buffer
		_, err := loadConfig([]string{"-env-file", "broken.env"}, env(nil), nil, &stderr)
		if err == nil || !strings.Contains(err.Error(), "broken.env line 2") || strings.Contains(err.Error()+stderr.String(), pw) {
			t.Errorf("broken .env: %v (must name the file and line, and not hold the password)", err)
		}
	}
	if _, err := loadConfig([]string{"-env-file", "missing.env"}, env(nil), nil, &bytes.Buffer{}); !errors.Is(err, errUsage) {
		t.Errorf("-env-file of a missing file: %v", err)
	}
}

// TestFlagErrorsSayWhatToDo: a typo gets the nearest flag, a boolean and a
// duration their syntax, and no 51 lines of help. Before: "unexpected
// argument", "parse error", and the help between two copies of the error.
func TestFlagErrorsSayWhatToDo(t *testing.T) {
	inDir(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-wokers", "4"}, "did you mean -workers?"},
		{[]string{"-headless", "false"}, "-headless=false"},
		{[]string{"-timeout", "abc"}, "90s, 5m, 1h30m"},
		{[]string{"-adaptive=maybe"}, "true or false"},
	} {
		var stderr bytes.Buffer
		_, err := loadConfig(append(tc.args, "-demo"), env(nil), nil, &stderr)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) || stderr.Len() > 0 {
			t.Errorf("%v: %v (stderr %d bytes); want a hint %q and nothing else", tc.args, err, stderr.Len(), tc.want)
		}
	}
	var stdout bytes.Buffer
	if err := run(t.Context(), []string{"-version"}, env(nil), nil, &stdout, &bytes.Buffer{}); err != nil || !strings.HasPrefix(stdout.String(), "jdrun ") {
		t.Errorf("-version: %v, %q", err, stdout.String())
	}
}

// TestSiteFileErrors: a JSON error names the line; an unknown key lists
// the valid ones; an unknown row field is refused. Before: no line, no
// list, and unknown row fields were accepted silently.
func TestSiteFileErrors(t *testing.T) {
	dir := inDir(t)
	p := filepath.Join(dir, "site.json")
	for _, tc := range []struct{ json, want string }{
		{"{\n  \"row\": \"tr\",\n  \"login_pth\": \"/x\"\n}", "line 3: unknown key \"login_pth\"; the keys are: login_path,"},
		{"{\n  \"row\": \"tr\"\n  \"next_page\": \"a\"\n}", "line 3"},
		{"{\"row_fields\": {\"vinn\": \"td.v\"}}", "row_fields: unknown field \"vinn\""},
		{"{\n\"row\": 5}", "line 2: row"},
	} {
		os.WriteFile(p, []byte(tc.json), 0o600)
		if _, err := loadSite(p); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.json, err, tc.want)
		}
	}
}

// testRunner is a runner of jdrun's args over an empty Memory store, not
// logged in, closed at the test's end.
func testRunner(t *testing.T, args ...string) *runner {
	t.Helper()
	inDir(t)
	c, err := loadConfig(args, env(nil), nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := newRunner(c, defaultSite(), slog.New(slog.DiscardHandler), checkpoint.NewMemory())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.close)
	return r
}

// TestInventoryRowsWithoutAVIN: a row whose VIN cell holds a placeholder
// ("N/A", "-", "0") is skipped, and its text never becomes an ID that
// every other sticker would "name" — which failed them all as another
// vehicle's file. A VIN in lower case or with spaces is still read.
func TestInventoryRowsWithoutAVIN(t *testing.T) {
	r := testRunner(t, "-demo")
	html := `<table id="inventory"><tbody>
<tr><td class="vin">1hgcm82633a004352</td><td><a class="vehicle" href="/vehicle/1">1</a></td></tr>
<tr><td class="vin">N/A</td><td><a class="vehicle" href="/vehicle/2">2</a></td></tr>
<tr><td class="vin">-</td><td><a class="vehicle" href="/vehicle/3">3</a></td></tr>
<tr><td class="vin">JH4KA 7561PC 008269</td><td><a class="vehicle" href="/vehicle/4">4</a></td></tr>
</tbody></table>`
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(html))
	if err != nil {
		t.Fatal(err)
	}
	doc.Url, _ = url.Parse("http://portal.test/inventory")
	p := r.parseInventory(&session.Document{Document: doc, URL: doc.Url.String()})
	var got []string
	for _, v := range p.Items {
		got = append(got, v.VIN)
	}
	if strings.Join(got, " ") != "1HGCM82633A004352 JH4KA7561PC008269" {
		t.Errorf("vehicles %v, want the two with a VIN", got)
	}
	r.know(p.Items)
	sticker := sessiontest.PDF("WINDOW STICKER", "VIN: 1HGCM82633A004352", "Highway MPG: N/A", "Options: -")
	if err := download.PDFOf("1HGCM82633A004352", r.ids)(bytes.NewReader(sticker), int64(len(sticker))); err != nil {
		t.Errorf("the right sticker, mentioning N/A: %v", err)
	}
}

// TestFileNameClash: a -name template that gives two vehicles one file
// name is refused before anything is downloaded; else the second sticker
// overwrote the first, both recorded done.
func TestFileNameClash(t *testing.T) {
	r := testRunner(t, "-demo", "-name", "{{.Stock}}.pdf")
	vs := []*vehicle{{VIN: "1HGCM82633A004352", Stock: "A1"}, {VIN: "JH4KA7561PC008269", Stock: "a1"}}
	r.know(vs)
	if _, err := newPlanner(r, nil).plan(t.Context(), vs); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "JH4KA7561PC008269") {
		t.Errorf("plan with a clash = %v, want errUsage naming both vehicles", err)
	}
	vs[1].Stock = "B2"
	if _, err := newPlanner(r, nil).plan(t.Context(), vs); err != nil {
		t.Errorf("plan without a clash: %v", err)
	}
}

// TestSettingsShowNoSecret: the settings written to the log and the
// reports hide a store's password in either form and a browser's token.
func TestSettingsShowNoSecret(t *testing.T) {
	inDir(t)
	c, err := loadConfig([]string{"-demo", "-browser", "ws://127.0.0.1:9/pw?token=tok-SECRET-1"}, env(nil), nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	for _, store := range []string{"postgres://u:pw-SECRET-2@127.0.0.1/db", "postgres://u@127.0.0.1/db?password=pw-SECRET-2&sslmode=disable"} {
		c.Store = store
		b, _ := json.Marshal(c.settings())
		if strings.Contains(string(b), "SECRET") {
			t.Errorf("settings show a secret: %s", b)
		}
		if !slices.Contains(c.secrets(), "pw-SECRET-2") {
			t.Errorf("secrets() misses the password of %s", store)
		}
	}
}

// TestPGPasswordStaysOut: PGPASSWORD, which libpq tools use, reaches the
// store through its URL and leaves the environment that the driver and the
// browser inherit; the logs and reports never show it.
func TestPGPasswordStaysOut(t *testing.T) {
	inDir(t)
	t.Setenv("PGPASSWORD", "pg-SECRET-3")
	getenv := secretEnv()
	if os.Getenv("PGPASSWORD") != "" || getenv("PGPASSWORD") != "pg-SECRET-3" {
		t.Fatalf("secretEnv: PGPASSWORD %q in the environment, %q to jdrun", os.Getenv("PGPASSWORD"), getenv("PGPASSWORD"))
	}
	c, err := loadConfig([]string{"-demo", "-store", "postgres://u@127.0.0.1/db"}, getenv, nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if storePassword(c.Store) != "pg-SECRET-3" || !slices.Contains(c.secrets(), "pg-SECRET-3") {
		t.Errorf("store %s: want PGPASSWORD in it, as a secret", redactedStore(c.Store))
	}
	if b, _ := json.Marshal(c.settings()); strings.Contains(string(b), "SECRET") {
		t.Errorf("settings show PGPASSWORD: %s", b)
	}
}
