package dealer

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Server is a dealer portal. Make one with [New] (to mount its
// [Server.Handler] yourself) or [Start] (listening, like httptest.Server).
// Its methods are safe for concurrent use.
type Server struct {
	cfg      Config
	log      *slog.Logger
	vehicles []Vehicle
	pages    *pages
	stickers []stickerSlot // cached PDFs, by vehicle index
	special  []special     // a vehicle's own fault, by vehicle index
	counters faultCounters
	handler  http.Handler

	closing   chan struct{} // closed when the server starts shutting down
	closeOnce sync.Once

	mu       sync.Mutex
	idle     *sync.Cond // signaled when active drops to 0
	closed   bool       // no new requests are handled
	active   int        // handlers running
	sessions map[string]*session
	lastN    int       // number of the last session made
	downTill time.Time // the login page answers 503 until then (Config.LoginDownAfter)
	st       Stats
	// hugeActive is the number of huge stickers being written: a gauge
	// that ResetStats leaves alone.
	hugeActive int

	// Set by Start only.
	url       string
	hs        *http.Server
	serveDone chan struct{}
	conns     sync.WaitGroup
	bg        sync.WaitGroup // prewarm
}

// New makes a portal from cfg without listening; serve its
// [Server.Handler] and call [Server.Close] when done.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p, err := parsePages()
	if err != nil {
		return nil, fmt.Errorf("dealer: templates: %w", err)
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		vehicles: generateVehicles(cfg.Seed, cfg.Vehicles),
		pages:    p,
		stickers: make([]stickerSlot, cfg.Vehicles),
		counters: newFaultCounters(),
		closing:  make(chan struct{}),
		sessions: make(map[string]*session),
		st:       newStats(),
	}
	s.special = cfg.specials()
	s.idle = sync.NewCond(&s.mu)
	s.handler = s.routes()
	return s, nil
}

// Start makes a portal from cfg and serves it on cfg.Addr (by default a
// free port on 127.0.0.1) until [Server.Close].
func Start(cfg Config) (*Server, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("dealer: listen: %w", err)
	}
	s.url = "http://" + ln.Addr().String()
	s.hs = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		ConnState: func(_ net.Conn, state http.ConnState) {
			switch state {
			case http.StateNew:
				s.conns.Add(1) // runs in the Serve goroutine, before Serve returns
			case http.StateClosed, http.StateHijacked:
				s.conns.Done()
			}
		},
	}
	s.serveDone = make(chan struct{})
	go func() {
		defer close(s.serveDone)
		_ = s.hs.Serve(ln) // always ErrServerClosed after Close or Shutdown
	}()
	if s.cfg.Prewarm {
		s.bg.Go(s.prewarm)
	}
	s.log.Info("portal listening", "url", s.url, "vehicles", s.cfg.Vehicles, "sticker_mode", s.cfg.StickerMode)
	return s, nil
}

// URL is the base URL of a started server, e.g. "http://127.0.0.1:41234",
// without a trailing slash; "" for a server made with [New].
func (s *Server) URL() string { return s.url }

// Handler serves the portal.
func (s *Server) Handler() http.Handler { return s.handler }

// Config returns the configuration in use, defaults filled in.
func (s *Server) Config() Config { return s.cfg.withDefaults() }

// Vehicles returns the inventory, in inventory order (by ID). It lists
// every vehicle, [Config.GoneVehicles] too.
func (s *Server) Vehicles() []Vehicle {
	out := slices.Clone(s.vehicles)
	for i := range out {
		out[i].Options = slices.Clone(out[i].Options)
	}
	return out
}

// Vehicle returns the vehicle with the given ID.
func (s *Server) Vehicle(id int) (Vehicle, bool) {
	v := s.vehicle(id)
	if v == nil {
		return Vehicle{}, false
	}
	c := *v
	c.Options = slices.Clone(v.Options)
	return c, true
}

func (s *Server) vehicle(id int) *Vehicle {
	if id < 1 || id > len(s.vehicles) {
		return nil
	}
	return &s.vehicles[id-1]
}

// Close stops the server at once: it stops listening, closes every
// connection, releases hung and delayed requests, and returns after all
// handlers and connection goroutines have ended. It is safe to call more
// than once.
func (s *Server) Close() {
	s.beginClose()
	if s.hs != nil {
		_ = s.hs.Close()
	}
	s.waitIdle()
}

// Shutdown stops the server gracefully: it stops listening, answers hung
// and delayed requests with 503, and waits for the responses in progress
// to finish, or until ctx is done, in which case it closes like
// [Server.Close] and returns ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error {
	s.beginClose()
	var err error
	if s.hs != nil {
		if err = s.hs.Shutdown(ctx); err != nil {
			_ = s.hs.Close()
		}
	}
	s.waitIdle()
	return err
}

func (s *Server) beginClose() {
	s.closeOnce.Do(func() { close(s.closing) })
}

// waitIdle returns once Serve, every connection and every handler have ended.
func (s *Server) waitIdle() {
	if s.serveDone != nil {
		<-s.serveDone
		s.conns.Wait()
	}
	s.bg.Wait()
	s.mu.Lock()
	s.closed = true
	for s.active > 0 {
		s.idle.Wait()
	}
	s.mu.Unlock()
}

// routes builds the handler. Login-only pages go through app; see the
// package documentation for the order of checks.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", s.plain(KindOther, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/inventory", http.StatusFound)
	}))
	mux.Handle("GET /login", s.plain(KindLogin, s.loginForm))
	mux.Handle("POST /login", s.plain(KindLogin, s.loginSubmit))
	mux.Handle("GET /logout", s.plain(KindLogout, s.logout))
	mux.Handle("POST /logout", s.plain(KindLogout, s.logout))
	mux.Handle("GET /inventory", s.app(KindInventory, s.inventory))
	mux.Handle("GET /vehicle/{id}", s.app(KindVehicle, s.vehiclePage))
	mux.Handle("POST /vehicle/{id}/sticker/prepare", s.app(KindPrepare, s.prepare))
	mux.Handle("GET /vehicle/{id}/sticker.pdf", s.app(KindSticker, s.sticker))
	mux.Handle("GET /photos/{id}/{file}", s.plain(KindPhoto, s.photo))
	mux.Handle("GET /static/{file...}", s.plain(KindAsset, s.static))
	mux.Handle("GET /__stats", s.plain(KindStats, s.statsJSON))
	mux.Handle("/", s.plain(KindOther, func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, http.StatusNotFound, "Page not found", "There is no page at this address.")
	}))
	return mux
}

// plain wraps every handler: it counts the request, tracks it for Close,
// and logs it at Debug level.
func (s *Server) plain(kind Kind, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.st.Requests[kind]++
		if s.closed {
			s.mu.Unlock()
			http.Error(w, "server shutting down", http.StatusServiceUnavailable)
			return
		}
		s.active++
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			if s.active--; s.active == 0 {
				s.idle.Broadcast()
			}
			s.mu.Unlock()
		}()
		if !s.log.Enabled(r.Context(), slog.LevelDebug) {
			h(w, r)
			return
		}
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h(rec, r)
		s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "kind", kind,
			"status", rec.status, "bytes", rec.bytes, "duration", time.Since(start))
	})
}

// appHandler serves a login-only page for a session whose request passed
// the fault stage.
type appHandler func(w http.ResponseWriter, r *http.Request, sess *session, d decision)

// app wraps a login-only page: session check (redirect to /login), the
// per-session concurrency limit (429), then the injected faults, then h.
func (s *Server) app(kind Kind, h appHandler) http.Handler {
	return s.plain(kind, func(w http.ResponseWriter, r *http.Request) {
		if kind == KindSticker && s.cfg.BrowserOnlyStickers && r.Header.Get("Sec-Fetch-Mode") == "" {
			s.showLogin(w, r, http.StatusOK, loginData{Next: r.URL.RequestURI()})
			return
		}
		sess, ok := s.enter(w, r)
		if !ok {
			return
		}
		defer s.leave(sess)
		d := s.decide(kind)
		if d.hang {
			s.count(&s.st.Hangs)
			s.log.Info("fault: hang", "kind", kind, "n", d.n, "path", r.URL.Path)
			s.hang(w, r)
			return
		}
		if err := s.wait(r.Context(), d.latency); err != nil {
			s.interrupted(w, err)
			return
		}
		switch {
		case d.fail:
			s.count(&s.st.Errors500)
			s.log.Info("fault: 500", "kind", kind, "n", d.n, "path", r.URL.Path)
			s.errorPage(w, r, http.StatusInternalServerError, "Internal Server Error",
				"The server encountered an internal error and was unable to complete your request.")
		case d.soft:
			s.count(&s.st.SoftErrors)
			s.log.Info("fault: soft error", "kind", kind, "n", d.n, "path", r.URL.Path)
			s.render(w, r, http.StatusOK, "error", page{Title: "Error", User: sess.user, CSRF: sess.csrf,
				Data: errorData{Heading: "Something went wrong", Message: "We could not load this page. Please try again later."}})
		default:
			h(w, r, sess, d)
		}
	})
}

// count adds one to a Stats counter under the lock.
func (s *Server) count(c *int64) {
	s.mu.Lock()
	*c++
	s.mu.Unlock()
}

type statusRecorder struct {
	http.ResponseWriter
	status, bytes int
	wrote         bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
