package dealer_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagefleet/pagefleet/examples/portal/dealer"
)

const softText = "Something went wrong"

// outcome classifies a page response as the client sees it.
func outcome(r *response) string {
	switch {
	case r.status == http.StatusInternalServerError:
		return "500"
	case r.status == http.StatusOK && strings.Contains(r.text(), softText):
		return "soft"
	case r.status == http.StatusOK:
		return "ok"
	}
	return fmt.Sprint(r.status)
}

func TestErrorRates(t *testing.T) {
	t.Parallel()
	const n = 300
	srv := start(t, dealer.Config{Vehicles: 50, Seed: 42, ErrorRate: 0.2, SoftErrorRate: 0.1})
	c := newClient(t, srv)
	c.login() // its inventory page is request 1 of the kind
	seen := map[string]int64{}
	for i := range n {
		r := c.get(fmt.Sprintf("/vehicle/%d", i%50+1))
		o := outcome(r)
		seen[o]++
		if o != "ok" && (!strings.Contains(r.text(), `id="error"`) || !strings.Contains(r.text(), `id="logout"`)) {
			t.Errorf("%s error page lacks h1#error or a#logout", o)
		}
		if o == "soft" && strings.Contains(r.text(), `id="vin"`) {
			t.Error("a soft error page shows the vehicle")
		}
	}
	st := c.httpStats()
	if seen["500"] != st.Errors500 || seen["soft"] != st.SoftErrors || seen["ok"]+seen["500"]+seen["soft"] != n {
		t.Errorf("client saw %v; stats: 500s %d, soft %d", seen, st.Errors500, st.SoftErrors)
	}
	// About 20 % and 8 % (0.1 of the remaining 80 %); fixed by the seed.
	if seen["500"] < n*12/100 || seen["500"] > n*28/100 || seen["soft"] < n*4/100 || seen["soft"] > n*14/100 {
		t.Errorf("rates far off: %v of %d", seen, n)
	}
	t.Logf("of %d vehicle pages: %v", n, seen)
	// The sticker is faulted like any page: the client must check what it got.
	soft := 0
	for i := range 60 {
		r := c.get(fmt.Sprintf("/vehicle/%d/sticker.pdf", i%50+1))
		if r.status == 200 && r.header.Get("Content-Type") != "application/pdf" {
			soft++
		}
	}
	if soft == 0 {
		t.Error("no soft errors among 60 stickers")
	}
}

// TestFaultDeterminism: the same seed gives the same faults in the same
// order; a concurrent client gets the same number of each.
func TestFaultDeterminism(t *testing.T) {
	t.Parallel()
	cfg := func(seed int64) dealer.Config {
		return dealer.Config{Vehicles: 30, Seed: seed, ErrorRate: 0.15, SoftErrorRate: 0.15, TruncateRate: 0.2}
	}
	sequence := func(seed int64) []string {
		srv := start(t, cfg(seed))
		c := newClient(t, srv)
		c.login()
		var seq []string
		for i := range 100 {
			seq = append(seq, outcome(c.get(fmt.Sprintf("/inventory?page=%d", i%2+1))))
			r := c.get(fmt.Sprintf("/vehicle/%d/sticker.pdf", i%30+1))
			full, _ := srv.StickerPDF(i%30 + 1)
			if r.status == 200 && r.header.Get("Content-Type") == "application/pdf" && len(r.body) < len(full) {
				seq = append(seq, "truncated")
			} else {
				seq = append(seq, outcome(r))
			}
		}
		return seq
	}
	a, b, other := sequence(9), sequence(9), sequence(10)
	if !slices.Equal(a, b) {
		t.Errorf("same seed, different faults:\n%v\n%v", a, b)
	}
	if slices.Equal(a, other) {
		t.Error("different seeds, same faults")
	}

	// Four workers share the same 200 requests: the totals match a
	// sequential run with the same seed.
	count := func(seq []string) map[string]int {
		m := map[string]int{}
		for _, o := range seq {
			m[o]++
		}
		return m
	}
	srv := start(t, cfg(9))
	c := newClient(t, srv)
	c.login()
	var mu sync.Mutex
	var par []string
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < 100; i += 4 {
				o1 := outcome(c.getAsync(fmt.Sprintf("/inventory?page=%d", i%2+1)))
				r := c.getAsync(fmt.Sprintf("/vehicle/%d/sticker.pdf", i%30+1))
				full, _ := srv.StickerPDF(i%30 + 1)
				o2 := outcome(r)
				if r.status == 200 && r.header.Get("Content-Type") == "application/pdf" && len(r.body) < len(full) {
					o2 = "truncated"
				}
				mu.Lock()
				par = append(par, o1, o2)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if got, want := count(par), count(a); !mapsEqual(got, want) {
		t.Errorf("concurrent client saw %v, sequential %v", got, want)
	}
	st := srv.Stats()
	if n := count(par); int64(n["500"]) != st.Errors500 || int64(n["soft"]) != st.SoftErrors || int64(n["truncated"]) != st.TruncatedStickers {
		t.Errorf("client saw %v; stats 500s %d soft %d truncated %d", n, st.Errors500, st.SoftErrors, st.TruncatedStickers)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// hangingGet starts a GET that is expected to hang; it returns a cancel
// func and a channel with the outcome.
func hangingGet(c *client, path string) (context.CancelFunc, <-chan error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		r, err := c.do(ctx, http.MethodGet, path, nil, nil)
		if err == nil {
			err = fmt.Errorf("answered %d: %w", r.status, errAnswered)
		}
		done <- err
	}()
	return cancel, done
}

var errAnswered = errors.New("answered")

func TestHangs(t *testing.T) {
	t.Parallel()
	sig, logger := newSignals()
	srv := start(t, dealer.Config{Vehicles: 5, HangRate: 1, Logger: logger})
	c := newClient(t, srv).noRedirects()
	if r := c.loginAs(dealer.DemoUser, dealer.DemoPassword); r.status != http.StatusSeeOther {
		t.Fatalf("login: %d", r.status) // logins never hang
	}
	cancel, done := hangingGet(c, "/vehicle/1")
	sig.waitFor(t, "fault: hang", "path=/vehicle/1")
	if st := srv.Stats(); st.Hangs != 1 || st.Sessions[0].InFlight != 1 {
		t.Errorf("hang: stats hangs %d, in flight %d", st.Hangs, st.Sessions[0].InFlight)
	}
	cancel() // the client gives up
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("hung request: %v", err)
	}
	sig.waitFor(t, "request", "path=/vehicle/1") // the handler has returned
	if st := srv.Stats(); st.Sessions[0].InFlight != 0 {
		t.Errorf("after the client gave up: in flight %d", st.Sessions[0].InFlight)
	}

	// Close releases a hung request and returns.
	cancel, done = hangingGet(c, "/vehicle/2/sticker.pdf")
	defer cancel()
	sig.waitFor(t, "fault: hang", "path=/vehicle/2/sticker.pdf")
	srv.Close()
	// Released: either the 503 got out before the connection closed, or not.
	if err := <-done; errors.Is(err, errAnswered) && !strings.Contains(err.Error(), "503") {
		t.Errorf("request hung at Close: %v, want a 503 or a transport error", err)
	}
	if st := srv.Stats(); st.Hangs != 2 || st.Requests[dealer.KindSticker] != 1 || st.Stickers != 0 {
		t.Errorf("stats: hangs %d, sticker requests %d, stickers %d", st.Hangs, st.Requests[dealer.KindSticker], st.Stickers)
	}
}

func TestShutdownReleasesHangs(t *testing.T) {
	t.Parallel()
	sig, logger := newSignals()
	srv := start(t, dealer.Config{Vehicles: 5, HangRate: 1, Logger: logger})
	c := newClient(t, srv).noRedirects()
	c.loginAs(dealer.DemoUser, dealer.DemoPassword)
	cancel, done := hangingGet(c, "/inventory")
	defer cancel()
	sig.waitFor(t, "fault: hang", "path=/inventory")
	ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-done; !errors.Is(err, errAnswered) || !strings.Contains(err.Error(), "503") {
		t.Errorf("hung request at Shutdown: %v, want a 503", err)
	}
	if _, err := c.do(context.Background(), http.MethodGet, "/login", nil, nil); err == nil {
		t.Error("the server still answers after Shutdown")
	}
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestSessionLifetime(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)}
	srv := start(t, dealer.Config{Vehicles: 5, SessionTTL: time.Hour, IdleTimeout: 10 * time.Minute, Now: clk.Now})
	c := newClient(t, srv)
	nr := c.noRedirects()
	c.login()
	get := func(path string) string { // "" for 200, else the redirect target
		r := nr.get(path)
		if r.status == http.StatusOK {
			return ""
		}
		return fmt.Sprint(r.status, " ", r.header.Get("Location"))
	}

	// Activity keeps the session alive past the idle timeout.
	for range 2 {
		clk.Add(9 * time.Minute)
		if got := get("/inventory"); got != "" {
			t.Fatalf("active session: %s", got)
		}
	}
	clk.Add(10 * time.Minute)
	if got, want := get("/vehicle/2"), "302 /login?next=%2Fvehicle%2F2"; got != want {
		t.Fatalf("idle session: %s, want %s", got, want)
	}
	if st := srv.Stats(); st.IdledOut != 1 || st.ForcedLogouts != 1 || st.ActiveSessions != 0 {
		t.Errorf("after idle timeout: idled out %d, forced %d, active %d", st.IdledOut, st.ForcedLogouts, st.ActiveSessions)
	}
	// The redirect shows the login form; logging in again works.
	if r := c.get("/vehicle/2"); r.url.Path != "/login" || !strings.Contains(r.text(), `id="login"`) {
		t.Fatalf("redirect ends on %s", r.url)
	}
	c.login()

	// However busy, a session ends after its TTL.
	for range 6 {
		clk.Add(9 * time.Minute)
		if got := get("/inventory?page=1"); got != "" {
			t.Fatalf("session within TTL: %s", got)
		}
	}
	clk.Add(6 * time.Minute)
	if got, want := get("/inventory?page=1"), "302 /login?next=%2Finventory%3Fpage%3D1"; got != want {
		t.Fatalf("expired session: %s, want %s", got, want)
	}
	st := srv.Stats()
	if st.Expired != 1 || st.IdledOut != 1 || st.ForcedLogouts != 2 || st.LoginsOK != 2 || st.LoginRedirects != 3 {
		t.Errorf("stats: expired %d, idled out %d, forced %d, logins %d, redirects %d, want 1 1 2 2 3",
			st.Expired, st.IdledOut, st.ForcedLogouts, st.LoginsOK, st.LoginRedirects)
	}

	// A session abandoned without logout is ended (and counted) by the
	// next login.
	c.login()
	clk.Add(11 * time.Minute)
	if st := srv.Stats(); st.ActiveSessions != 0 || st.IdledOut != 1 {
		t.Errorf("abandoned session: active %d, idled out %d", st.ActiveSessions, st.IdledOut)
	}
	newClient(t, srv).login()
	if st := srv.Stats(); st.ActiveSessions != 1 || st.IdledOut != 2 || st.ForcedLogouts != 3 || st.Sessions[0].N != 4 {
		t.Errorf("after another login: active %d, idled out %d, forced %d", st.ActiveSessions, st.IdledOut, st.ForcedLogouts)
	}
}

func TestMaxInFlight(t *testing.T) {
	t.Parallel()
	for _, kick := range []bool{false, true} {
		t.Run(fmt.Sprint("kick=", kick), func(t *testing.T) {
			t.Parallel()
			sig, logger := newSignals()
			srv := start(t, dealer.Config{Vehicles: 5, HangRate: 1, MaxInFlight: 2, KickOnLimit: kick, Logger: logger})
			c := newClient(t, srv).noRedirects()
			c.loginAs(dealer.DemoUser, dealer.DemoPassword)
			for _, p := range []string{"/vehicle/1", "/vehicle/2"} {
				cancel, _ := hangingGet(c, p)
				defer cancel()
				sig.waitFor(t, "fault: hang", "path="+p)
			}
			r := c.get("/inventory")
			if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
				t.Fatalf("third request in flight: %d", r.status)
			}
			st := srv.Stats()
			if st.TooManyRequests != 1 || st.MaxInFlight != 3 || st.Hangs != 2 {
				t.Errorf("stats: 429s %d, max in flight %d, hangs %d", st.TooManyRequests, st.MaxInFlight, st.Hangs)
			}
			r = c.get("/inventory")
			switch {
			case kick && (r.status != http.StatusFound || st.Kicked != 1 || st.ForcedLogouts != 1 || st.ActiveSessions != 0):
				t.Errorf("kicked: next request %d, kicked %d, forced %d, active %d", r.status, st.Kicked, st.ForcedLogouts, st.ActiveSessions)
			case !kick && (r.status != http.StatusTooManyRequests || st.Kicked != 0 || st.ActiveSessions != 1 || st.Sessions[0].MaxInFlight != 3):
				t.Errorf("not kicked: next request %d, kicked %d, active %d", r.status, st.Kicked, st.ActiveSessions)
			}
		})
	}
}

func TestLatency(t *testing.T) {
	t.Parallel()
	const base, jitter = 20 * time.Millisecond, 30 * time.Millisecond
	srv := start(t, dealer.Config{Vehicles: 5, Latency: base, LatencyJitter: jitter})
	c := newClient(t, srv)
	t0 := time.Now()
	c.login() // GET /login, POST /login, GET /inventory
	if d := time.Since(t0); d < 3*base {
		t.Errorf("login took %v, want ≥ %v", d, 3*base)
	}
	for i := range 5 {
		t0 := time.Now()
		c.get(fmt.Sprintf("/vehicle/%d", i+1))
		if d := time.Since(t0); d < base {
			t.Errorf("vehicle page took %v, want ≥ %v", d, base)
		}
	}
	// Assets and stats are never slowed down: with an hour of latency they
	// still answer (the deadline only turns a failure into a clear error).
	slow := newClient(t, start(t, dealer.Config{Vehicles: 5, Latency: time.Hour}))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for _, path := range []string{"/static/portal.css", "/__stats"} {
		if r, err := slow.do(ctx, http.MethodGet, path, nil, nil); err != nil || r.status != http.StatusOK {
			t.Errorf("GET %s with an hour of latency: %v", path, err)
		}
	}
}

func TestResetStats(t *testing.T) {
	t.Parallel()
	srv := start(t, dealer.Config{Vehicles: 5})
	c := newClient(t, srv)
	c.login()
	c.get("/vehicle/1/sticker.pdf")
	srv.ResetStats()
	st := srv.Stats()
	if st.LoginsOK != 0 || st.Stickers != 0 || len(st.StickersByVehicle) != 0 || st.Requests[dealer.KindLogin] != 0 || st.ActiveSessions != 1 {
		t.Errorf("after reset: %+v", st)
	}
	c.get("/vehicle/1/sticker.pdf")
	if st := srv.Stats(); st.StickersByVehicle[1] != 1 || st.DuplicateStickers != 0 {
		t.Errorf("after reset and one download: %v, duplicates %d", st.StickersByVehicle, st.DuplicateStickers)
	}
}
