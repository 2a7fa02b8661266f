package dealer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/ledongthuc/pdf"
	"go.uber.org/goleak"

	"github.com/pagefleet/pagefleet/examples/portal/dealer"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// start starts a portal for one test and closes it at the end.
func start(t testing.TB, cfg dealer.Config) *dealer.Server {
	t.Helper()
	srv, err := dealer.Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// client is a browser-like HTTP client: a cookie jar, redirects followed,
// its own connections (closed at the end of the test).
type client struct {
	t    testing.TB
	base string
	hc   *http.Client
}

func newClient(t testing.TB, srv *dealer.Server) *client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &client{t: t, base: srv.URL(), hc: &http.Client{Jar: jar, Transport: tr}}
}

// noRedirects makes c report redirects instead of following them.
func (c *client) noRedirects() *client {
	cc := *c
	hc := *c.hc
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	cc.hc = &hc
	return &cc
}

type response struct {
	status int
	header http.Header
	body   []byte
	url    *url.URL // after redirects
	err    error    // from reading the body
}

func (r *response) text() string { return string(r.body) }

func (c *client) do(ctx context.Context, method, path string, form url.Values, header http.Header) (*response, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return &response{status: resp.StatusCode, header: resp.Header, body: b, url: resp.Request.URL, err: err}, nil
}

// get fetches path and fails the test on a transport error.
func (c *client) get(path string) *response {
	c.t.Helper()
	r, err := c.do(context.Background(), http.MethodGet, path, nil, nil)
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	return r
}

// getAsync is get for goroutines other than the test's: a transport
// error fails the test without stopping the goroutine, and gives an empty
// response.
func (c *client) getAsync(path string) *response {
	r, err := c.do(context.Background(), http.MethodGet, path, nil, nil)
	if err != nil {
		c.t.Errorf("GET %s: %v", path, err)
		return &response{}
	}
	return r
}

func (c *client) post(path string, form url.Values, header http.Header) *response {
	c.t.Helper()
	r, err := c.do(context.Background(), http.MethodPost, path, form, header)
	if err != nil {
		c.t.Fatalf("POST %s: %v", path, err)
	}
	return r
}

var (
	csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	csrfMeta  = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)
	vinCell   = regexp.MustCompile(`<td class="vin">([A-Z0-9]{17})</td>`)
	carLink   = regexp.MustCompile(`<a class="vehicle" href="(/vehicle/\d+)">`)
	nextLink  = regexp.MustCompile(`<a rel="next" href="([^"]+)">`)
)

// loginAs submits the login form as a browser would and returns the page
// it ends on.
func (c *client) loginAs(user, pass string) *response {
	c.t.Helper()
	form := c.get("/login")
	m := csrfField.FindStringSubmatch(form.text())
	if m == nil {
		c.t.Fatalf("no csrf field in login page:\n%s", form.text())
	}
	return c.post("/login", url.Values{"username": {user}, "password": {pass}, "csrf": {m[1]}}, nil)
}

// login logs in with the demo credentials and checks it worked.
func (c *client) login() {
	c.t.Helper()
	r := c.loginAs(dealer.DemoUser, dealer.DemoPassword)
	if r.status != http.StatusOK || r.url.Path != "/inventory" || !loggedIn(r) {
		c.t.Fatalf("login: ended on %s with %d", r.url, r.status)
	}
}

func loggedIn(r *response) bool { return strings.Contains(r.text(), `id="logout"`) }

// httpStats reads /__stats.
func (c *client) httpStats() dealer.Stats {
	c.t.Helper()
	r := c.get("/__stats")
	var st dealer.Stats
	if err := json.Unmarshal(r.body, &st); err != nil {
		c.t.Fatalf("decode /__stats: %v\n%s", err, r.body)
	}
	return st
}

// pdfText extracts the text of a PDF; it fails the test (without
// stopping it, so it may be used from any goroutine) if b is no PDF.
func pdfText(t testing.TB, b []byte) string {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Errorf("read PDF: %v", err)
		return ""
	}
	tr, err := r.GetPlainText()
	if err != nil {
		t.Errorf("PDF text: %v", err)
		return ""
	}
	s, err := io.ReadAll(tr)
	if err != nil {
		t.Errorf("PDF text: %v", err)
	}
	return string(s)
}

// pdfVIN returns which of the vehicles' VINs the PDF contains ("" if none).
func pdfVIN(t testing.TB, b []byte, vs []dealer.Vehicle) string {
	t.Helper()
	text := pdfText(t, b)
	for _, v := range vs {
		if strings.Contains(text, v.VIN) {
			return v.VIN
		}
	}
	return ""
}

// signals is a slog.Handler that passes every record on, so that a test
// can wait for the server to reach a state instead of sleeping.
type signals chan slog.Record

func newSignals() (signals, *slog.Logger) {
	s := make(signals, 1024)
	return s, slog.New(s)
}

func (s signals) Enabled(context.Context, slog.Level) bool { return true }
func (s signals) Handle(_ context.Context, r slog.Record) error {
	select {
	case s <- r:
	default: // nobody waits for that many
	}
	return nil
}
func (s signals) WithAttrs([]slog.Attr) slog.Handler { return s }
func (s signals) WithGroup(string) slog.Handler      { return s }

// waitFor waits for a record with the message msg and the given attributes
// ("key=value"), skipping others.
func (s signals) waitFor(t testing.TB, msg string, attrs ...string) {
	t.Helper()
	for r := range s {
		if r.Message != msg {
			continue
		}
		have := map[string]bool{}
		r.Attrs(func(a slog.Attr) bool {
			have[a.Key+"="+a.Value.String()] = true
			return true
		})
		ok := true
		for _, a := range attrs {
			ok = ok && have[a]
		}
		if ok {
			return
		}
	}
}
