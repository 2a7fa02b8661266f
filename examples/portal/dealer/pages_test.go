package dealer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagefleet/pagefleet/examples/portal/dealer"
)

func TestZeroConfigInventory(t *testing.T) {
	t.Parallel()
	srv, err := dealer.New(dealer.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	vs := srv.Vehicles()
	if len(vs) != dealer.DefaultVehicles {
		t.Fatalf("got %d vehicles, want %d", len(vs), dealer.DefaultVehicles)
	}
	vins, stocks := map[string]bool{}, map[string]bool{}
	for i, v := range vs {
		if v.ID != i+1 {
			t.Fatalf("vehicle %d has ID %d", i, v.ID)
		}
		if !dealer.ValidVIN(v.VIN) || !checkDigitOK(v.VIN) {
			t.Errorf("vehicle %d: invalid VIN %q", v.ID, v.VIN)
		}
		if vins[v.VIN] || stocks[v.StockNumber] {
			t.Errorf("vehicle %d: duplicate VIN %s or stock number %s", v.ID, v.VIN, v.StockNumber)
		}
		vins[v.VIN], stocks[v.StockNumber] = true, true
		sum := v.BaseMSRP + v.Destination
		for _, o := range v.Options {
			sum += o.Price
		}
		if v.MSRP != sum || v.Price > v.MSRP || v.Price <= 0 || v.Year < 2024 || v.Make == "" || v.Model == "" || v.Trim == "" {
			t.Errorf("vehicle %d is inconsistent: %+v", v.ID, v)
		}
	}
}

// checkDigitOK is an independent implementation of the VIN check digit.
func checkDigitOK(vin string) bool {
	values := map[rune]int{}
	for _, c := range "0123456789" {
		values[c] = int(c - '0')
	}
	for i, c := range "ABCDEFGH" {
		values[c] = i + 1
	}
	for i, c := range "JKLMN" {
		values[c] = i + 1
	}
	values['P'], values['R'] = 7, 9
	for i, c := range "STUVWXYZ" {
		values[c] = i + 2
	}
	weights := []int{8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2}
	sum := 0
	for i, c := range vin {
		sum += values[c] * weights[i]
	}
	want := strconv.Itoa(sum % 11)
	if want == "10" {
		want = "X"
	}
	return vin[8:9] == want
}

func TestValidVIN(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		vin  string
		want bool
	}{
		{"1M8GDM9AXKP042788", true}, // the textbook example, check digit X
		{"11111111111111111", true},
		{"1HGCM82633A004352", true},
		{"1HGCM82633A004353", false}, // serial changed, check digit not
		{"1M8GDM9A1KP042788", false},
		{"1M8GDM9AXKP04278", false},   // 16 characters
		{"1M8GDM9AXKP0427881", false}, // 18
		{"IM8GDM9AXKP042788", false},  // I is not allowed
		{"1m8gdm9axkp042788", false},  // lower case
	} {
		if got := dealer.ValidVIN(tc.vin); got != tc.want {
			t.Errorf("ValidVIN(%q) = %v, want %v", tc.vin, got, tc.want)
		}
	}
}

func TestDeterministicSeed(t *testing.T) {
	t.Parallel()
	mk := func(seed int64) *dealer.Server {
		srv, err := dealer.New(dealer.Config{Seed: seed, Vehicles: 200})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Close)
		return srv
	}
	a, b, c := mk(7), mk(7), mk(8)
	va, vb, vc := a.Vehicles(), b.Vehicles(), c.Vehicles()
	if !slices.EqualFunc(va, vb, sameVehicle) {
		t.Fatal("same seed, different inventories")
	}
	if slices.EqualFunc(va, vc, sameVehicle) {
		t.Fatal("different seeds, same inventory")
	}
	for _, id := range []int{1, 100, 200} {
		pa, err := a.StickerPDF(id)
		if err != nil {
			t.Fatal(err)
		}
		pb, _ := b.StickerPDF(id)
		if sha256.Sum256(pa) != sha256.Sum256(pb) {
			t.Errorf("vehicle %d: same seed, different sticker bytes", id)
		}
	}
}

func sameVehicle(a, b dealer.Vehicle) bool {
	return a.VIN == b.VIN && a.Title() == b.Title() && a.MSRP == b.MSRP && a.Price == b.Price &&
		a.StockNumber == b.StockNumber && slices.Equal(a.Options, b.Options)
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		field string
		cfg   dealer.Config
	}{
		{"Vehicles", dealer.Config{Vehicles: -1}},
		{"Vehicles", dealer.Config{Vehicles: dealer.MaxVehicles + 1}},
		{"PageSize", dealer.Config{PageSize: -5}},
		{"Photos", dealer.Config{Photos: 100}},
		{"StickerMode", dealer.Config{StickerMode: "popup"}},
		{"MaxInFlight", dealer.Config{MaxInFlight: -1}},
		{"Latency", dealer.Config{Latency: -1}},
		{"IdleTimeout", dealer.Config{IdleTimeout: -1}},
		{"ErrorRate", dealer.Config{ErrorRate: 1.5}},
		{"HangRate", dealer.Config{HangRate: -0.1}},
		{"TruncateRate", dealer.Config{TruncateRate: 2}},
		{"MentionRate", dealer.Config{MentionRate: 1.01}},
		{"CSRFRaceRate", dealer.Config{CSRFRaceRate: -1}},
		{"GoneVehicles", dealer.Config{GoneVehicles: []int{0}}},
		{"GoneVehicles", dealer.Config{Vehicles: 10, GoneVehicles: []int{3, 11}}},
		{"HugeVehicles", dealer.Config{Vehicles: 10, GoneVehicles: []int{3}, HugeVehicles: []int{4, 3}}},
		{"CraftedVehicles", dealer.Config{Vehicles: 10, CraftedVehicles: []int{-2}}},
		{"PageBombVehicles", dealer.Config{Vehicles: 10, CraftedVehicles: []int{5}, PageBombVehicles: []int{5}}},
	} {
		_, err := dealer.New(tc.cfg)
		if !errors.Is(err, dealer.ErrConfig) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("New(%+v) = %v, want ErrConfig naming %s", tc.cfg, err, tc.field)
		}
	}
	if _, err := dealer.Start(dealer.Config{Addr: "256.0.0.1:0"}); err == nil {
		t.Error("Start on a bad address: no error")
	}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	var logs logBuf
	srv := start(t, dealer.Config{Vehicles: 30, Logger: logs.logger()})
	c := newClient(t, srv)

	// Not logged in: the inventory redirects to the login form.
	r := c.noRedirects().get("/inventory?page=2")
	if r.status != http.StatusFound || r.header.Get("Location") != "/login?next=%2Finventory%3Fpage%3D2" {
		t.Fatalf("inventory without login: %d to %q", r.status, r.header.Get("Location"))
	}
	form := c.get("/login?next=%2Finventory%3Fpage%3D2")
	for _, sel := range []string{`<form id="login" method="post" action="/login"`, `name="username"`, `name="password"`,
		`type="hidden" name="csrf"`, `type="submit"`, `name="next" value="/inventory?page=2"`} {
		if !strings.Contains(form.text(), sel) {
			t.Errorf("login form lacks %s", sel)
		}
	}
	if loggedIn(form) {
		t.Error("login form shows a#logout")
	}

	// Wrong password: 200, the form again with an error, no session.
	r = c.loginAs(dealer.DemoUser, "hunter2-wrong")
	if r.status != http.StatusOK || r.url.Path != "/login" || loggedIn(r) || !strings.Contains(r.text(), `id="login-error"`) {
		t.Fatalf("wrong password: %d at %s, logged in %v", r.status, r.url, loggedIn(r))
	}
	if strings.Contains(r.text(), "hunter2-wrong") {
		t.Error("the login page echoes the password")
	}
	// No or wrong CSRF token: 403 and the form again.
	r = c.post("/login", url.Values{"username": {dealer.DemoUser}, "password": {dealer.DemoPassword}, "csrf": {"forged"}}, nil)
	if r.status != http.StatusForbidden || loggedIn(r) || !strings.Contains(r.text(), `id="login-error"`) {
		t.Fatalf("forged CSRF token: %d, logged in %v", r.status, loggedIn(r))
	}

	// Success: a session cookie (HttpOnly) and a redirect to next.
	form = c.get("/login?next=%2Finventory%3Fpage%3D2")
	token := csrfField.FindStringSubmatch(form.text())[1]
	r = c.noRedirects().post("/login", url.Values{"username": {dealer.DemoUser}, "password": {dealer.DemoPassword},
		"csrf": {token}, "next": {"/inventory?page=2"}}, nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/inventory?page=2" {
		t.Fatalf("login: %d to %q", r.status, r.header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, ck := range (&http.Response{Header: r.header}).Cookies() {
		if ck.Name == dealer.SessionCookie && ck.Value != "" {
			cookie = ck
		}
	}
	if cookie == nil || !cookie.HttpOnly {
		t.Fatalf("no HttpOnly session cookie: %v", r.header["Set-Cookie"])
	}
	r = c.get("/inventory?page=2")
	if !loggedIn(r) || r.url.Path != "/inventory" {
		t.Fatalf("after login: %s, logged in %v", r.url, loggedIn(r))
	}
	// A logged-in user who opens /login goes to the inventory.
	if r := c.get("/login"); r.url.Path != "/inventory" {
		t.Errorf("/login when logged in ends on %s", r.url)
	}
	// Offsite next is ignored.
	if r := c.noRedirects().get("/login?next=//evil.example/"); r.header.Get("Location") != "/inventory" {
		t.Errorf("offsite next: redirect to %q", r.header.Get("Location"))
	}

	st := c.httpStats()
	if st.LoginsOK != 1 || st.LoginsFailed != 1 || st.LoginsBadCSRF != 1 || st.ActiveSessions != 1 || st.LoginRedirects != 1 {
		t.Errorf("stats: ok %d failed %d bad csrf %d active %d redirects %d, want 1 1 1 1 1",
			st.LoginsOK, st.LoginsFailed, st.LoginsBadCSRF, st.ActiveSessions, st.LoginRedirects)
	}

	// Logout ends the session.
	r = c.get("/logout")
	if r.url.Path != "/login" || loggedIn(r) {
		t.Fatalf("logout ends on %s", r.url)
	}
	if r := c.get("/inventory"); r.url.Path != "/login" {
		t.Fatalf("inventory after logout ends on %s", r.url)
	}
	st = srv.Stats()
	if st.Logouts != 1 || st.ActiveSessions != 0 || st.ForcedLogouts != 0 || st.LoginRedirects != 2 {
		t.Errorf("stats after logout: logouts %d active %d forced %d redirects %d, want 1 0 0 2",
			st.Logouts, st.ActiveSessions, st.ForcedLogouts, st.LoginRedirects)
	}
	if strings.Contains(logs.String(), dealer.DemoPassword) || strings.Contains(logs.String(), "hunter2") {
		t.Errorf("a password was logged:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "login failed") {
		t.Errorf("logs lack the failed login:\n%s", logs.String())
	}
}

func TestInventoryPages(t *testing.T) {
	t.Parallel()
	srv := start(t, dealer.Config{Vehicles: 130, Seed: 3})
	c := newClient(t, srv)
	c.login()
	var vins, links []string
	pages := 0
	for path := "/inventory"; path != ""; pages++ {
		r := c.get(path)
		if r.status != http.StatusOK || !strings.Contains(r.text(), `<table id="inventory"`) {
			t.Fatalf("%s: %d", path, r.status)
		}
		rows := strings.Count(r.text(), "<tr data-id=")
		if want := 25; rows != want && pages < 5 {
			t.Errorf("%s: %d rows, want %d", path, rows, want)
		}
		for _, m := range vinCell.FindAllStringSubmatch(r.text(), -1) {
			vins = append(vins, m[1])
		}
		for _, m := range carLink.FindAllStringSubmatch(r.text(), -1) {
			links = append(links, m[1])
		}
		path = ""
		if m := nextLink.FindStringSubmatch(r.text()); m != nil {
			path = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	if pages != 6 {
		t.Errorf("walked %d pages, want 6", pages)
	}
	vs := srv.Vehicles()
	if len(vins) != len(vs) || len(links) != len(vs) {
		t.Fatalf("found %d VINs and %d links, want %d", len(vins), len(links), len(vs))
	}
	for i, v := range vs {
		if vins[i] != v.VIN || links[i] != v.Path() {
			t.Errorf("row %d: %s %s, want %s %s", i, vins[i], links[i], v.VIN, v.Path())
		}
	}
	for _, tc := range []struct {
		path   string
		status int
	}{{"/inventory?page=0", 400}, {"/inventory?page=x", 400}, {"/inventory?page=7", 404}, {"/nowhere", 404}, {"/vehicle/0", 404}, {"/vehicle/131", 404}} {
		if r := c.get(tc.path); r.status != tc.status || !strings.Contains(r.text(), `id="error"`) {
			t.Errorf("%s: %d, want %d with h1#error", tc.path, r.status, tc.status)
		}
	}
	if st := srv.Stats(); st.Requests[dealer.KindInventory] != 10 || st.Requests[dealer.KindOther] != 1 {
		t.Errorf("requests: %v", st.Requests)
	}
}

func TestVehiclePageWeight(t *testing.T) {
	t.Parallel()
	srv := start(t, dealer.Config{Vehicles: 10})
	c := newClient(t, srv)
	c.login()
	v := srv.Vehicles()[3]
	r := c.get(v.Path())
	if r.status != http.StatusOK {
		t.Fatalf("%s: %d", v.Path(), r.status)
	}
	for _, want := range []string{`<dd id="vin" class="vin">` + v.VIN + `</dd>`, `data-vin="` + v.VIN + `"`, `id="logout"`,
		`<a id="window-sticker" class="btn btn-primary" href="` + v.StickerPath() + `">`, `<meta name="csrf-token"`} {
		if !strings.Contains(r.text(), want) {
			t.Errorf("vehicle page lacks %s", want)
		}
	}
	// Every resource the page refers to, with its type and weight.
	refs := regexp.MustCompile(`(?:src|href)="(/(?:static|photos)/[^"]+)"`).FindAllStringSubmatch(r.text(), -1)
	total := len(r.body)
	seen := map[string]bool{}
	photos := 0
	for _, m := range refs {
		if seen[m[1]] {
			continue
		}
		seen[m[1]] = true
		a := c.get(m[1])
		ct := a.header.Get("Content-Type")
		if a.status != http.StatusOK || a.header.Get("Cache-Control") == "" {
			t.Errorf("%s: %d %q", m[1], a.status, a.header.Get("Cache-Control"))
		}
		n := len(a.body)
		total += n
		switch {
		case strings.HasPrefix(m[1], "/photos/"):
			photos++
			if ct != "image/jpeg" || n < 100<<10 || n > 300<<10 {
				t.Errorf("%s: %s, %d bytes", m[1], ct, n)
			}
		case strings.HasSuffix(m[1], ".woff2"):
			if ct != "font/woff2" || n < 40<<10 {
				t.Errorf("%s: %s, %d bytes", m[1], ct, n)
			}
		case strings.HasSuffix(m[1], "vendor.css"):
			if !strings.HasPrefix(ct, "text/css") || n < 20<<10 || n > 50<<10 {
				t.Errorf("%s: %s, %d bytes", m[1], ct, n)
			}
		case strings.HasSuffix(m[1], ".js"):
			if !strings.HasPrefix(ct, "text/javascript") || !strings.Contains(a.text(), "data-prepare-url") {
				t.Errorf("%s: %s", m[1], ct)
			}
		}
	}
	if photos != 6 {
		t.Errorf("%d photos, want 6", photos)
	}
	t.Logf("vehicle page with its resources: %d KB in %d requests", total>>10, len(seen)+1)
	if total < 1<<20 {
		t.Errorf("vehicle page weighs %d KB, want over 1 MB", total>>10)
	}
	// Photos and assets need no login; the thumbnail is small.
	anon := newClient(t, srv)
	if r := anon.get("/photos/4/thumb.jpg"); r.status != 200 || len(r.body) > 20<<10 {
		t.Errorf("thumbnail: %d, %d bytes", r.status, len(r.body))
	}
	for _, p := range []string{"/photos/4/7.jpg", "/photos/11/1.jpg", "/photos/4/x.jpg", "/static/nothing.css"} {
		if r := anon.get(p); r.status != 404 {
			t.Errorf("%s: %d, want 404", p, r.status)
		}
	}
	if got := srv.Stats().Requests[dealer.KindPhoto]; got != 6+4 {
		t.Errorf("photo requests: %d, want 10", got)
	}
}

// logBuf collects log output; safe for concurrent use.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// logger logs everything, Debug included, as text to l.
func (l *logBuf) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestLowercaseVINs(t *testing.T) {
	t.Parallel()
	srv := start(t, dealer.Config{Vehicles: 30, Seed: 4, LowercaseVINs: true})
	c := newClient(t, srv)
	c.login()
	vs := srv.Vehicles()
	for _, v := range vs {
		if !dealer.ValidVIN(v.VIN) {
			t.Fatalf("vehicle %d: Vehicle.VIN %q is not an upper-case VIN", v.ID, v.VIN)
		}
	}
	shown := regexp.MustCompile(`<td class="vin">([^<]*)</td>`).FindAllStringSubmatch(c.get("/inventory").text(), -1)
	if len(shown) != 25 {
		t.Fatalf("%d VIN cells on page 1, want 25", len(shown))
	}
	for i, m := range shown {
		if m[1] != strings.ToLower(vs[i].VIN) {
			t.Errorf("row %d: VIN cell %q, want %q", i, m[1], strings.ToLower(vs[i].VIN))
		}
	}
	v := vs[6]
	lower := strings.ToLower(v.VIN)
	page := c.get(v.Path()).text()
	for _, want := range []string{`<dd id="vin" class="vin">` + lower + `</dd>`, `data-vin="` + lower + `"`} {
		if !strings.Contains(page, want) {
			t.Errorf("vehicle page lacks %s", want)
		}
	}
	if strings.Contains(page, v.VIN) {
		t.Error("the vehicle page shows the VIN in capitals")
	}
	b := c.get(v.StickerPath()).body
	text := pdfText(t, b)
	if !strings.Contains(text, lower) || strings.Contains(text, v.VIN) {
		t.Errorf("sticker text: has lower-case VIN %v, capitals %v", strings.Contains(text, lower), strings.Contains(text, v.VIN))
	}
	if want, _ := srv.StickerPDF(v.ID); !bytes.Equal(b, want) {
		t.Error("served sticker differs from StickerPDF")
	}
}

func TestEndlessNext(t *testing.T) {
	t.Parallel()
	const bound = 10 // pages a client reads before it gives up
	for _, endless := range []bool{false, true} {
		srv := start(t, dealer.Config{Vehicles: 60, Seed: 5, EndlessNext: endless}) // pages of 25, 25, 10
		c := newClient(t, srv)
		c.login()
		vs := srv.Vehicles()
		var rows [][]string // VINs, by page
		path := "/inventory"
		for path != "" && len(rows) < bound {
			r := c.get(path)
			if r.status != http.StatusOK {
				t.Fatalf("endless %v: %s: %d", endless, path, r.status)
			}
			var vins []string
			for _, m := range vinCell.FindAllStringSubmatch(r.text(), -1) {
				vins = append(vins, m[1])
			}
			rows = append(rows, vins)
			path = ""
			if m := nextLink.FindStringSubmatch(r.text()); m != nil {
				path = m[1]
				if want := "/inventory?page=" + strconv.Itoa(len(rows)+1); path != want {
					t.Errorf("endless %v: page %d links to %s, want %s", endless, len(rows), path, want)
				}
			}
		}
		last := []string{}
		for _, v := range vs[50:] {
			last = append(last, v.VIN)
		}
		st := c.httpStats()
		if !endless {
			if len(rows) != 3 || !slices.Equal(rows[2], last) || st.EndlessPages != 0 {
				t.Errorf("not endless: read %d pages, endless pages %d", len(rows), st.EndlessPages)
			}
			if r := c.get("/inventory?page=4"); r.status != http.StatusNotFound || !strings.Contains(r.text(), `id="error"`) {
				t.Errorf("not endless: page 4: %d", r.status)
			}
			continue
		}
		if len(rows) != bound || st.EndlessPages != bound-3 {
			t.Errorf("endless: read %d pages, want the bound %d; endless pages %d, want %d", len(rows), bound, st.EndlessPages, bound-3)
		}
		for i := 2; i < len(rows); i++ {
			if !slices.Equal(rows[i], last) {
				t.Errorf("endless: page %d has %d rows, not the last page's", i+1, len(rows[i]))
			}
		}
		if r := c.get("/inventory?page=1000"); r.status != http.StatusOK || !strings.Contains(r.text(), `<a rel="next" href="/inventory?page=1001">`) {
			t.Errorf("endless: page 1000: %d", r.status)
		}
	}
}

// csrfValue matches the CSRF token in a login form, to compare two forms
// without their tokens.
var csrfValue = regexp.MustCompile(`name="csrf" value="[^"]+"`)

func TestCSRFRace(t *testing.T) {
	t.Parallel()
	var logs logBuf
	srv := start(t, dealer.Config{Vehicles: 5, CSRFRaceRate: 1, Logger: logs.logger()})
	c := newClient(t, srv)

	// A real bad token, for comparison.
	c.get("/login")
	bad := c.post("/login", url.Values{"username": {dealer.DemoUser}, "password": {dealer.DemoPassword}, "csrf": {"forged"}}, nil)
	// The right credentials and token, refused all the same.
	race := c.loginAs(dealer.DemoUser, dealer.DemoPassword)
	if race.status != http.StatusForbidden || loggedIn(race) || race.url.Path != "/login" ||
		!strings.Contains(race.text(), `<p class="alert alert-error" id="login-error" role="alert">Your sign-in form has expired. Please try again.</p>`) {
		t.Fatalf("CSRF race: %d at %s, logged in %v:\n%s", race.status, race.url, loggedIn(race), race.text())
	}
	if a, b := csrfValue.ReplaceAllString(bad.text(), ""), csrfValue.ReplaceAllString(race.text(), ""); bad.status != race.status || a != b {
		t.Errorf("a CSRF race (%d) can be told from a bad token (%d):\n%s\n---\n%s", race.status, bad.status, b, a)
	}
	// Wrong credentials are refused as wrong credentials.
	if r := c.loginAs(dealer.DemoUser, "wrong-pass"); r.status != http.StatusOK || !strings.Contains(r.text(), "Invalid username or password.") {
		t.Errorf("wrong password with CSRF races: %d", r.status)
	}
	st := c.httpStats()
	if st.LoginsBadCSRF != 2 || st.CSRFRaces != 1 || st.LoginsOK != 0 || st.LoginsFailed != 1 || st.ActiveSessions != 0 {
		t.Errorf("stats: bad csrf %d, races %d, ok %d, failed %d, active %d, want 2 1 0 1 0",
			st.LoginsBadCSRF, st.CSRFRaces, st.LoginsOK, st.LoginsFailed, st.ActiveSessions)
	}
	if !strings.Contains(logs.String(), "fault: CSRF race") || strings.Contains(logs.String(), dealer.DemoPassword) {
		t.Errorf("logs: no CSRF race, or a password:\n%s", logs.String())
	}
}

// TestLoginDown: from the LoginDownAfter-th login on, the login page
// answers 503 for LoginDownFor, form and post alike, and then works again;
// the rest of the site keeps serving the sessions already logged in.
func TestLoginDown(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := start(t, dealer.Config{Vehicles: 5, LoginDownAfter: 2, LoginDownFor: time.Minute, Now: clock})
	first := newClient(t, srv)
	first.login()
	if r := first.get("/login"); r.status != http.StatusOK {
		t.Fatalf("login page before the outage: %d", r.status)
	}
	newClient(t, srv).login() // the 2nd: the outage begins
	c := newClient(t, srv)
	if r := c.get("/login"); r.status != http.StatusServiceUnavailable {
		t.Errorf("login form during the outage: %d, want 503", r.status)
	}
	if r := c.post("/login", url.Values{"username": {dealer.DemoUser}, "password": {dealer.DemoPassword}}, nil); r.status != http.StatusServiceUnavailable {
		t.Errorf("login post during the outage: %d, want 503", r.status)
	}
	if r := first.get("/inventory"); r.status != http.StatusOK || !loggedIn(r) {
		t.Errorf("inventory of a live session during the outage: %d", r.status)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	c.login()
	if st := c.httpStats(); st.LoginsDown != 2 || st.LoginsOK != 3 {
		t.Errorf("stats: %d logins down, %d ok; want 2, 3", st.LoginsDown, st.LoginsOK)
	}
}

// TestCSRFRaceRate: with a share of races, a client that retries an
// expired form gets in, and the stats count what it saw.
func TestCSRFRaceRate(t *testing.T) {
	t.Parallel()
	srv := start(t, dealer.Config{Vehicles: 5, Seed: 3, CSRFRaceRate: 0.5})
	refused := 0
	for range 20 {
		c := newClient(t, srv)
		for {
			r := c.loginAs(dealer.DemoUser, dealer.DemoPassword)
			if loggedIn(r) {
				break
			}
			refused++
			if r.status != http.StatusForbidden || refused > 200 {
				t.Fatalf("login: %d, %d refused", r.status, refused)
			}
		}
	}
	st := srv.Stats()
	if refused == 0 || st.CSRFRaces != int64(refused) || st.LoginsBadCSRF != int64(refused) || st.LoginsOK != 20 {
		t.Errorf("client was refused %d times; stats races %d, bad csrf %d, ok %d", refused, st.CSRFRaces, st.LoginsBadCSRF, st.LoginsOK)
	}
}

// TestCSRFNaturalRace: every login form served replaces the CSRF cookie,
// so of two pages of one browser that open /login, only the last one's
// form can sign in.
func TestCSRFNaturalRace(t *testing.T) {
	t.Parallel()
	srv := start(t, dealer.Config{Vehicles: 5})
	c := newClient(t, srv)
	first := csrfField.FindStringSubmatch(c.get("/login").text())[1]
	second := csrfField.FindStringSubmatch(c.get("/login?next=%2Fvehicle%2F2").text())[1]
	if first == second {
		t.Fatal("two login forms with the same token")
	}
	creds := func(token string) url.Values {
		return url.Values{"username": {dealer.DemoUser}, "password": {dealer.DemoPassword}, "csrf": {token}}
	}
	if r := c.post("/login", creds(first), nil); r.status != http.StatusForbidden || loggedIn(r) {
		t.Fatalf("the first form after a second was served: %d, logged in %v", r.status, loggedIn(r))
	}
	// That refusal served a form too: the second token is stale now.
	if r := c.post("/login", creds(second), nil); r.status != http.StatusForbidden || loggedIn(r) {
		t.Fatalf("the second form after a refusal: %d, logged in %v", r.status, loggedIn(r))
	}
	c.login()
	if st := srv.Stats(); st.LoginsBadCSRF != 2 || st.CSRFRaces != 0 || st.LoginsOK != 1 {
		t.Errorf("stats: bad csrf %d, races %d, ok %d, want 2 0 1", st.LoginsBadCSRF, st.CSRFRaces, st.LoginsOK)
	}
}

func TestGoneVehicles(t *testing.T) {
	t.Parallel()
	for _, mode := range []dealer.StickerMode{dealer.StickerAttachment, dealer.StickerPrepare} {
		srv := start(t, dealer.Config{Vehicles: 30, GoneVehicles: []int{2, 27}, StickerMode: mode})
		c := newClient(t, srv)
		c.login()
		vs := srv.Vehicles()
		if len(vs) != 30 {
			t.Fatalf("Vehicles lists %d, want 30", len(vs))
		}
		if v, ok := srv.Vehicle(27); !ok || v.ID != 27 {
			t.Errorf("Vehicle(27): %v", ok)
		}
		// Still listed, with the link to their page.
		inv := c.get("/inventory").text() + c.get("/inventory?page=2").text()
		for _, id := range []int{2, 27} {
			v := vs[id-1]
			if !strings.Contains(inv, `<a class="vehicle" href="`+v.Path()+`">`) || !strings.Contains(inv, `<td class="vin">`+v.VIN+`</td>`) {
				t.Errorf("%s: gone vehicle %d is not listed", mode, id)
			}
			paths := []string{v.Path(), v.StickerPath()}
			if mode == dealer.StickerPrepare {
				paths = append(paths, v.PreparePath())
			}
			for _, p := range paths {
				var r *response
				if strings.HasSuffix(p, "/prepare") {
					r = c.post(p, nil, nil)
				} else {
					r = c.get(p)
				}
				if r.status != http.StatusNotFound || !strings.Contains(r.text(), `<h1 id="error">Vehicle not available</h1>`) || !loggedIn(r) {
					t.Errorf("%s: %s: %d, want 404 with h1#error", mode, p, r.status)
				}
			}
			if r := c.get("/photos/" + strconv.Itoa(id) + "/1.jpg"); r.status != http.StatusOK {
				t.Errorf("%s: photo of a gone vehicle: %d", mode, r.status)
			}
		}
		if r := c.get(vs[0].Path()); r.status != http.StatusOK {
			t.Errorf("%s: vehicle 1: %d", mode, r.status)
		}
		want := int64(4)
		if mode == dealer.StickerPrepare {
			want = 6
		}
		if st := c.httpStats(); st.Gone != want || st.Stickers != 0 || st.Sessions[0].CurrentVehicle != 1 {
			t.Errorf("%s: stats: gone %d, want %d; stickers %d, current vehicle %d", mode, st.Gone, want, st.Stickers, st.Sessions[0].CurrentVehicle)
		}
		// Config returns the lists, not the caller's nor the server's own slice.
		cfg := srv.Config()
		cfg.GoneVehicles[0] = 3
		if got := srv.Config().GoneVehicles; !slices.Equal(got, []int{2, 27}) {
			t.Errorf("Config().GoneVehicles = %v after changing a copy", got)
		}
	}
}

// TestBrowserOnlyStickers: a logged-in client's sticker request without a
// browser's Sec-Fetch-Mode header gets the login page; with it, the PDF.
func TestBrowserOnlyStickers(t *testing.T) {
	t.Parallel()
	srv := start(t, dealer.Config{Vehicles: 3, BrowserOnlyStickers: true})
	c := newClient(t, srv)
	c.login()
	v := srv.Vehicles()[1]
	if r := c.get(v.Path() + "/sticker.pdf"); !strings.Contains(r.text(), `type="password"`) || bytes.HasPrefix(r.body, []byte("%PDF-")) {
		t.Errorf("sticker for an HTTP client: %d %.200q, want the login form", r.status, r.body)
	}
	r, err := c.do(context.Background(), http.MethodGet, v.Path()+"/sticker.pdf", nil, http.Header{"Sec-Fetch-Mode": {"navigate"}})
	if err != nil || r.status != http.StatusOK || !bytes.HasPrefix(r.body, []byte("%PDF-")) {
		t.Errorf("sticker for a browser's page: %v, %d", err, r.status)
	}
	if r := c.get(v.Path()); r.status != http.StatusOK {
		t.Errorf("the vehicle page: %d; the session should still be logged in", r.status)
	}
}

func TestBusyVehicles(t *testing.T) {
	t.Parallel()
	srv := start(t, dealer.Config{Vehicles: 3, BusyVehicles: []int{2}})
	c := newClient(t, srv)
	c.login()
	const spin = "for (;;) {}"
	if r := c.get(srv.Vehicles()[1].Path()); r.status != http.StatusOK || !strings.Contains(r.text(), spin) {
		t.Errorf("busy vehicle page: %d, without the script that never yields", r.status)
	}
	if r := c.get(srv.Vehicles()[0].Path()); strings.Contains(r.text(), spin) {
		t.Error("an ordinary vehicle page carries the busy script")
	}
	if st := srv.Stats(); st.Busy != 1 {
		t.Errorf("Stats.Busy = %d, want 1", st.Busy)
	}
}
