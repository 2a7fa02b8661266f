package sessiontest

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-pdf/fpdf"

	"github.com/pagefleet/pagefleet/session"
)

// Fault makes the server misbehave for one item: its PDF or its page.
type Fault int

// Faults for [Server.SetFault].
const (
	FaultNone        Fault = iota
	FaultHTML              // a download whose content is an HTML error page
	FaultErrorPage         // no download: a 500 HTML error page the browser shows
	FaultTruncated         // the PDF cut in half
	FaultWrongPDF          // another item's PDF
	FaultMention           // another item's PDF that mentions this item's ID in a footer
	FaultHang              // the PDF request is never answered (until the client gives up)
	FaultHuge              // a 200 MB PDF, streamed without a Content-Length
	FaultLoginPage         // the login page (HTTP 200) where the PDF should be
	FaultBrowserOnly       // the login page where the PDF should be, unless a browser's page asks (Sec-Fetch-Mode)
	FaultStall             // half the PDF, as an attachment, then nothing (until the client gives up)

	FaultPage500      // the item page answers HTTP 500 with an HTML body
	FaultPage404      // the item page answers HTTP 404
	FaultPageError    // the item page answers 200 with the site's error page (h1#error)
	FaultPageNoButton // the item page has no download link
)

// Server is a small site behind a login form: /login, /items,
// /item/{id} (a page with images, a stylesheet and a font, and links
// #download (attachment), #open (inline PDF in a new tab), #view (inline
// PDF in the same tab) and #late (#download, added by a script after
// 300ms)), /pdf/{id} (a PDF whose text holds the item ID) and
// /logout. Logged-out requests are redirected to /login. Counters and
// faults are safe for concurrent use.
type Server struct {
	URL            string // base URL, http://127.0.0.1:port
	User, Password string // the accepted credentials (see ChangePassword)

	// OnPDF, if set before the first request, is called after each PDF is
	// served with the item ID and the number of PDFs served so far.
	OnPDF func(id string, n int64)

	srv                   *httptest.Server
	mu                    sync.Mutex
	refuse                int           // login posts to refuse as an expired form
	loginDown             bool          // the login page answers 503
	loginRetryAfter       time.Duration // and says to come back after this, if not 0
	loginHang             chan struct{} // the login page answers when it is closed
	password              string
	sessions              map[string]bool
	faults                map[string]Fault
	loginPosts, logins    atomic.Int64
	loginHits             atomic.Int64
	pdfs, assets, fetches atomic.Int64
}

// NewServer starts a Server on 127.0.0.1 and closes it at test cleanup.
func NewServer(t testing.TB) *Server {
	s := StartServer()
	t.Cleanup(s.Close)
	return s
}

// StartServer starts a Server on 127.0.0.1; Close stops it.
func StartServer() *Server {
	s := &Server{User: "dealer", Password: "s3cret-Pa55word", sessions: map[string]bool{}, faults: map[string]Fault{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", s.up(func(w http.ResponseWriter, r *http.Request) {
		if s.loggedIn(r) { // as most sites do
			http.Redirect(w, r, "/items", http.StatusFound)
			return
		}
		s.loginForm(w, "")
	}))
	mux.HandleFunc("POST /login", s.up(s.login))
	mux.HandleFunc("GET /logout", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("sid"); err == nil {
			s.mu.Lock()
			delete(s.sessions, c.Value)
			s.mu.Unlock()
		}
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /items", s.auth(func(w http.ResponseWriter, r *http.Request) {
		page(w, "Items", `<ul><li><a href="/item/1">1</a></ul>`)
	}))
	mux.HandleFunc("GET /item/{id}", s.auth(s.item))
	mux.HandleFunc("GET /pdf/{id}", s.auth(s.pdf))
	mux.HandleFunc("GET /static/{name}", s.static)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	s.password = s.Password
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// ChangePassword makes the server accept only password from now on, as
// when someone changes it on the site mid-run.
func (s *Server) ChangePassword(password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.password = password
}

// Config returns a session config for this server: a FormLogin with the
// right credentials, LoginURL and HomeURL.
func (s *Server) Config() session.Config {
	return session.Config{
		Login:    s.Login(s.Password),
		LoginURL: s.URL + "/login",
		HomeURL:  s.URL + "/items",
	}
}

// Login returns a FormLogin for this server with the given password.
func (s *Server) Login(password string) session.LoginFunc {
	return session.FormLogin(session.Form{
		URL: s.URL + "/login", User: s.User, Password: password,
		Success: "#logout", Failure: "#error", BadCredentials: `#error:has-text("Invalid user name or password")`,
	})
}

// ItemURL returns the URL of an item's page.
func (s *Server) ItemURL(id string) string { return s.URL + "/item/" + id }

// PDFURL returns the URL of an item's PDF.
func (s *Server) PDFURL(id string) string { return s.URL + "/pdf/" + id }

// SetFault makes the server misbehave for id's PDF.
func (s *Server) SetFault(id string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[id] = f
}

// RefuseLogins makes the server refuse the next n logins, even with the
// right credentials, as an expired form: "This form has expired" in the
// same #error element as a wrong password — the race a re-login can lose
// when other pages hit the login page meanwhile.
func (s *Server) RefuseLogins(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = n
}

// SetLoginDown makes the login page (form and post) answer 503 Service
// Unavailable while down is true, as a site's login service in
// maintenance does.
func (s *Server) SetLoginDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loginDown = down
}

// SetLoginRetryAfter makes the login page's 503 (SetLoginDown) carry a
// Retry-After header of d, in whole seconds; 0 removes it.
func (s *Server) SetLoginRetryAfter(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loginRetryAfter = d
}

// SetLoginHang makes the login page (form and post) answer nothing while
// hang is true: the requests wait until it is false again or the client
// gives up.
func (s *Server) SetLoginHang(hang bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case hang && s.loginHang == nil:
		s.loginHang = make(chan struct{})
	case !hang && s.loginHang != nil:
		close(s.loginHang)
		s.loginHang = nil
	}
}

// Expire logs every session out, as a server-side session timeout does.
func (s *Server) Expire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.sessions)
}

// LoginPosts returns how many times the login form was submitted.
func (s *Server) LoginPosts() int64 { return s.loginPosts.Load() }

// LoginRequests returns how many requests the login page got, form and
// post, answered or not.
func (s *Server) LoginRequests() int64 { return s.loginHits.Load() }

// Logins returns how many logins succeeded.
func (s *Server) Logins() int64 { return s.logins.Load() }

// PDFs returns how many PDFs (faulty ones included) were served.
func (s *Server) PDFs() int64 { return s.pdfs.Load() }

// Assets returns how many image, stylesheet and font requests arrived.
func (s *Server) Assets() int64 { return s.assets.Load() }

func (s *Server) loginForm(w http.ResponseWriter, msg string) {
	if msg != "" {
		msg = `<p id="error">` + html.EscapeString(msg) + `</p>`
	}
	page(w, "Sign in", msg+`<form method="post" action="/login">
<input name="username"> <input type="password" name="password">
<button type="submit">Sign in</button></form>`)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	s.loginPosts.Add(1)
	s.mu.Lock()
	password := s.password
	s.mu.Unlock()
	if r.PostFormValue("username") != s.User || r.PostFormValue("password") != password {
		s.loginForm(w, "Invalid user name or password.")
		return
	}
	s.mu.Lock()
	expired := s.refuse > 0
	if expired {
		s.refuse--
	}
	s.mu.Unlock()
	if expired {
		s.loginForm(w, "This form has expired. Please try again.")
		return
	}
	sid := rand.Text()
	s.mu.Lock()
	s.sessions[sid] = true
	s.mu.Unlock()
	s.logins.Add(1)
	http.SetCookie(w, &http.Cookie{Name: "sid", Value: sid, Path: "/", HttpOnly: true, MaxAge: 3600})
	http.Redirect(w, r, "/items", http.StatusSeeOther)
}

// up serves h unless the login is down (SetLoginDown) or hangs
// (SetLoginHang).
func (s *Server) up(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.loginHits.Add(1)
		s.mu.Lock()
		down, hang, retryAfter := s.loginDown, s.loginHang, s.loginRetryAfter
		s.mu.Unlock()
		if hang != nil {
			select {
			case <-hang:
			case <-r.Context().Done():
				return
			}
		}
		if down {
			if retryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter.Seconds())))
			}
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, "<!doctype html><title>Maintenance</title><h1>Down for maintenance</h1>")
			return
		}
		h(w, r)
	}
}

func (s *Server) loggedIn(r *http.Request) bool {
	c, err := r.Cookie("sid")
	s.mu.Lock()
	defer s.mu.Unlock()
	return err == nil && s.sessions[c.Value]
}

func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.loggedIn(r) {
			http.Redirect(w, r, "/login", http.StatusFound)
			return
		}
		h(w, r)
	}
}

func (s *Server) item(w http.ResponseWriter, r *http.Request) {
	id := html.EscapeString(r.PathValue("id"))
	s.mu.Lock()
	fault := s.faults[r.PathValue("id")]
	s.mu.Unlock()
	switch fault {
	case FaultPage500:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `<!DOCTYPE html><html><head><title>Internal error</title></head><body>Oops.</body></html>`)
		return
	case FaultPage404:
		http.NotFound(w, r)
		return
	case FaultPageError:
		page(w, "Error", `<h1 id="error">Something went wrong. Please try again later.</h1>`)
		return
	case FaultPageNoButton:
		page(w, "Vehicle "+id, `<h1>Vehicle `+id+`</h1><p>No window sticker for this vehicle.</p>`)
		return
	}
	page(w, "Vehicle "+id, fmt.Sprintf(`<img src="/static/car.png" alt="">
<h1>Vehicle %[1]s</h1>
<p><a id="download" href="/pdf/%[1]s">Window sticker</a>
<a id="open" href="/pdf/%[1]s?inline=1" target="_blank">Open in a new tab</a>
<a id="view" href="/pdf/%[1]s?inline=1">View</a>
<span id="later"></span></p>
<script>setTimeout(() => { later.innerHTML = '<a id="late" href="/pdf/%[1]s">Sticker (late)</a>' }, 300)</script>`, id))
}

func (s *Server) pdf(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	fault := s.faults[id]
	s.mu.Unlock()
	body := PDF("Window sticker", "VIN: "+id)
	ctype := "application/pdf"
	switch fault {
	case FaultHTML:
		body, ctype = []byte(`<!DOCTYPE html><html><head><title>Service unavailable</title></head><body>Try again later.</body></html>`), "text/html; charset=utf-8"
	case FaultErrorPage:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `<!DOCTYPE html><html><head><title>Internal error</title></head><body>Oops.</body></html>`)
		s.served(id)
		return
	case FaultTruncated:
		body = body[:len(body)/2]
	case FaultWrongPDF:
		body = PDF("Window sticker", "VIN: X"+id+"X")
	case FaultMention:
		body = PDF("Window sticker", "VIN: X"+id+"X", "Replaces the sticker of VIN: "+id)
	case FaultHang:
		s.served(id)
		<-r.Context().Done() // the client gave up (or the server closes)
		return
	case FaultBrowserOnly:
		if r.Header.Get("Sec-Fetch-Mode") != "" {
			break
		}
		fallthrough
	case FaultLoginPage:
		s.loginForm(w, "")
		s.served(id)
		return
	case FaultStall:
		w.Header().Set("Content-Type", "application/pdf")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="sticker-%s.pdf"`, id))
		_, _ = w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		s.served(id)
		<-r.Context().Done()
		return
	case FaultHuge:
		w.Header().Set("Content-Type", "application/pdf")
		s.served(id)
		chunk := bytes.Repeat([]byte("%PDF-1.7 filler\n"), 4096) // 64 KB
		for sent := 0; sent < 200<<20; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return // the client stopped reading
			}
		}
		return
	}
	w.Header().Set("Content-Type", ctype)
	if r.URL.Query().Get("inline") == "" {
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="sticker-%s.pdf"`, id))
	}
	_, _ = w.Write(body)
	s.served(id)
}

func (s *Server) served(id string) {
	n := s.pdfs.Add(1)
	if s.OnPDF != nil {
		s.OnPDF(id, n)
	}
}

func (s *Server) static(w http.ResponseWriter, r *http.Request) {
	s.assets.Add(1)
	switch name := r.PathValue("name"); {
	case strings.HasSuffix(name, ".css"):
		w.Header().Set("Content-Type", "text/css")
		fmt.Fprint(w, `@font-face{font-family:x;src:url(/static/x.woff2)} body{font-family:x}`)
	case strings.HasSuffix(name, ".png"):
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(carPNG())
	default:
		w.Header().Set("Content-Type", "font/woff2")
	}
}

// page writes an HTML page with the site's stylesheet and a logout link.
func page(w http.ResponseWriter, title, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	logout := `<a id="logout" href="/logout">Sign out</a>`
	if title == "Sign in" {
		logout = ""
	}
	fmt.Fprintf(w, `<!DOCTYPE html><html><head><title>%s</title><link rel="stylesheet" href="/static/site.css"></head>
<body>%s%s</body></html>`, html.EscapeString(title), logout, body)
}

// PDF returns a one-page PDF (content streams compressed, as real ones
// are) showing lines of text. The same lines give the same bytes.
func PDF(lines ...string) []byte {
	doc := fpdf.New("P", "mm", "A4", "")
	doc.SetCompression(true)
	doc.SetCatalogSort(true) // with fixed dates: the same lines make the same bytes
	doc.SetCreationDate(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	doc.SetModificationDate(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	doc.AddPage()
	doc.SetFont("Helvetica", "", 14)
	for _, l := range lines {
		doc.Cell(0, 10, l)
		doc.Ln(10)
	}
	var b bytes.Buffer
	if err := doc.Output(&b); err != nil {
		panic(err) // only fails on a programming error
	}
	return b.Bytes()
}

// carPNG is a 1600×1200 image: small on the wire, 7.7 MB decoded — what
// makes resource blocking show in memory.
var carPNG = sync.OnceValue(func() []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 1600, 1200))
	for y := range 1200 {
		for x := range 1600 {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), uint8(x ^ y), 255})
		}
	}
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	return b.Bytes()
})
