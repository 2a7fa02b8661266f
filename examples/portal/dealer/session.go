package dealer

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Cookie names.
const (
	SessionCookie = "pf_session" // HttpOnly; set by a successful login
	CSRFCookie    = "pf_csrf"    // HttpOnly; set by GET /login, must match the form's csrf field
)

// session is one login. The server's mu guards the bookkeeping fields; the
// session's own mu guards the state a page of it reads and writes.
type session struct {
	id   string // the cookie value; never logged
	n    int    // public number, 1 for the first session
	user string
	csrf string // for the prepare POST (meta[name=csrf-token])

	// Guarded by Server.mu.
	created, lastSeen     time.Time
	requests              int64
	inflight, maxInflight int

	mu       sync.Mutex
	current  int          // vehicle last viewed, 0 if none
	prepared map[int]bool // stickers prepared and not yet downloaded
}

// ended tells why sess is over at now ("" if it is not). Needs s.mu.
func (s *Server) ended(sess *session, now time.Time) string {
	switch {
	case s.cfg.SessionTTL > 0 && now.Sub(sess.created) >= s.cfg.SessionTTL:
		return "expired"
	case s.cfg.IdleTimeout > 0 && now.Sub(sess.lastSeen) >= s.cfg.IdleTimeout:
		return "idle"
	}
	return ""
}

// enter finds the request's session, checks its lifetime and its
// concurrency limit, and counts the request in flight. When it reports
// false it has already answered (302 to /login, or 429).
func (s *Server) enter(w http.ResponseWriter, r *http.Request) (*session, bool) {
	now := s.cfg.Now()
	var id string
	if c, err := r.Cookie(SessionCookie); err == nil {
		id = c.Value
	}
	s.mu.Lock()
	sess := s.sessions[id]
	why := "no session"
	if sess != nil {
		why = s.ended(sess, now)
		switch why {
		case "expired":
			s.st.Expired++
		case "idle":
			s.st.IdledOut++
		}
		if why != "" {
			s.st.ForcedLogouts++
			delete(s.sessions, id)
		}
	}
	if sess == nil || why != "" {
		s.st.LoginRedirects++
		s.mu.Unlock()
		if sess != nil {
			s.log.Info("session ended", "session", sess.n, "user", sess.user, "reason", why)
		}
		if id != "" {
			http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true})
		}
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
		return nil, false
	}
	sess.lastSeen = now
	sess.requests++
	sess.inflight++
	sess.maxInflight = max(sess.maxInflight, sess.inflight)
	s.st.MaxInFlight = max(s.st.MaxInFlight, sess.inflight)
	if limit := s.cfg.MaxInFlight; limit > 0 && sess.inflight > limit {
		sess.inflight--
		s.st.TooManyRequests++
		if s.cfg.KickOnLimit {
			delete(s.sessions, id)
			s.st.Kicked++
			s.st.ForcedLogouts++
		}
		s.mu.Unlock()
		s.log.Info("fault: too many requests", "session", sess.n, "limit", limit, "kicked", s.cfg.KickOnLimit)
		w.Header().Set("Retry-After", "1")
		http.Error(w, "429 Too Many Requests: slow down", http.StatusTooManyRequests)
		return nil, false
	}
	s.mu.Unlock()
	return sess, true
}

// pruneLocked forgets the sessions that have ended by now, counting them
// like enter does, so that abandoned sessions do not pile up. Needs s.mu.
func (s *Server) pruneLocked(now time.Time) {
	for id, sess := range s.sessions {
		switch s.ended(sess, now) {
		case "expired":
			s.st.Expired++
		case "idle":
			s.st.IdledOut++
		default:
			continue
		}
		s.st.ForcedLogouts++
		delete(s.sessions, id)
	}
}

// leave ends a request that enter let in.
func (s *Server) leave(sess *session) {
	s.mu.Lock()
	sess.inflight--
	s.mu.Unlock()
}

// current returns the live session of r, if any, without counting anything.
func (s *Server) current(r *http.Request) *session {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sessions[c.Value]
	if sess == nil || s.ended(sess, s.cfg.Now()) != "" {
		return nil
	}
	return sess
}

type loginData struct {
	CSRF, Next, Username, Error string
}

// loginForm serves GET /login: the form with a fresh CSRF token, or a
// redirect to the inventory for a live session.
func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	d := s.decide(KindLogin)
	if err := s.wait(r.Context(), d.latency); err != nil {
		s.interrupted(w, err)
		return
	}
	if s.loginDown(w) {
		return
	}
	next := safeNext(r.URL.Query().Get("next"))
	if s.current(r) != nil {
		http.Redirect(w, r, next, http.StatusFound)
		return
	}
	s.showLogin(w, r, http.StatusOK, loginData{Next: next})
}

func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, status int, d loginData) {
	d.CSRF = randomToken()
	http.SetCookie(w, &http.Cookie{Name: CSRFCookie, Value: d.CSRF, Path: "/login", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	s.render(w, r, status, "login", page{Title: "Sign in", Data: d})
}

// loginSubmit serves POST /login.
func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	d := s.decide(KindLogin)
	if err := s.wait(r.Context(), d.latency); err != nil {
		s.interrupted(w, err)
		return
	}
	if s.loginDown(w) {
		return
	}
	user := r.PostFormValue("username")
	pass := r.PostFormValue("password")
	next := safeNext(r.PostFormValue("next"))
	token := r.PostFormValue("csrf")
	c, err := r.Cookie(CSRFCookie)
	if err != nil || token == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(token)) != 1 {
		s.count(&s.st.LoginsBadCSRF)
		s.log.Info("login refused: bad CSRF token", "user", user)
		s.formExpired(w, r, next, user)
		return
	}
	okUser := subtle.ConstantTimeCompare([]byte(user), []byte(s.cfg.Username))
	okPass := subtle.ConstantTimeCompare([]byte(pass), []byte(s.cfg.Password))
	if okUser&okPass != 1 {
		s.count(&s.st.LoginsFailed)
		s.log.Info("login failed", "user", user)
		s.showLogin(w, r, http.StatusOK, loginData{Next: next, Username: user,
			Error: "Invalid username or password."})
		return
	}
	if d.csrfRace {
		s.mu.Lock()
		s.st.LoginsBadCSRF++
		s.st.CSRFRaces++
		s.mu.Unlock()
		s.log.Info("fault: CSRF race", "user", user, "n", d.n)
		s.formExpired(w, r, next, user)
		return
	}
	now := s.cfg.Now()
	sess := &session{id: randomToken(), user: user, csrf: randomToken(), created: now, lastSeen: now, prepared: map[int]bool{}}
	s.mu.Lock()
	s.pruneLocked(now)
	s.lastN++
	sess.n = s.lastN
	s.sessions[sess.id] = sess
	s.st.LoginsOK++
	if s.cfg.LoginDownAfter > 0 && s.st.LoginsOK == int64(s.cfg.LoginDownAfter) {
		s.downTill = now.Add(s.cfg.LoginDownFor)
	}
	s.mu.Unlock()
	s.log.Info("login", "user", user, "session", sess.n)
	http.SetCookie(w, &http.Cookie{Name: CSRFCookie, Value: "", Path: "/login", MaxAge: -1, HttpOnly: true})
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: sess.id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// loginDown answers 503 while the login page is down
// (Config.LoginDownAfter), and reports whether it did.
func (s *Server) loginDown(w http.ResponseWriter) bool {
	s.mu.Lock()
	down := s.cfg.Now().Before(s.downTill)
	if down {
		s.st.LoginsDown++
	}
	s.mu.Unlock()
	if down {
		w.Header().Set("Retry-After", "5")
		http.Error(w, "Sign-in is down for maintenance", http.StatusServiceUnavailable)
	}
	return down
}

// formExpired refuses a login POST for its CSRF token: 403 and the form
// again, with a new token. A real bad token and an injected CSRF race
// ([Config.CSRFRaceRate]) get the same answer.
func (s *Server) formExpired(w http.ResponseWriter, r *http.Request, next, user string) {
	s.showLogin(w, r, http.StatusForbidden, loginData{Next: next, Username: user,
		Error: "Your sign-in form has expired. Please try again."})
}

// logout serves GET and POST /logout.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	d := s.decide(KindLogout)
	if err := s.wait(r.Context(), d.latency); err != nil {
		s.interrupted(w, err)
		return
	}
	if c, err := r.Cookie(SessionCookie); err == nil {
		s.mu.Lock()
		sess := s.sessions[c.Value]
		if sess != nil {
			delete(s.sessions, c.Value)
			s.st.Logouts++
		}
		s.mu.Unlock()
		if sess != nil {
			s.log.Info("logout", "user", sess.user, "session", sess.n)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true})
	http.Redirect(w, r, "/login", http.StatusFound)
}

// safeNext keeps only local paths as redirect targets.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/inventory"
	}
	return next
}

func randomToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails
	return hex.EncodeToString(b[:])
}

// LogoutAll ends every session now, as a portal does that logs everybody
// out (a deploy, an admin): each counts in Stats.ForcedLogouts. Clients
// are redirected to /login at their next request.
func (s *Server) LogoutAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.sessions {
		delete(s.sessions, id)
		s.st.ForcedLogouts++
	}
	s.log.Info("fault: every session logged out")
}
