package dealer

import (
	"maps"
	"slices"
	"time"
)

// Stats is what the server has seen since it started (or since
// [Server.ResetStats]). /__stats serves the same as JSON.
//
// Every counter is updated before the response it describes is written, so
// a client that has read a response and then reads Stats sees it counted.
type Stats struct {
	// Requests counts every request by kind, whatever its outcome.
	Requests map[Kind]int64 `json:"requests"`

	LoginsOK      int64 `json:"logins_ok"`       // successful logins
	LoginsFailed  int64 `json:"logins_failed"`   // wrong username or password
	LoginsBadCSRF int64 `json:"logins_bad_csrf"` // login POSTs refused for their CSRF token: missing, wrong, or a CSRF race
	CSRFRaces     int64 `json:"csrf_races"`      // right login POSTs refused as if their token were wrong (Config.CSRFRaceRate)
	Logouts       int64 `json:"logouts"`         // GET or POST /logout of a live session
	LoginsDown    int64 `json:"logins_down"`     // login requests answered 503 (Config.LoginDownAfter)

	// Forced logouts: sessions the server ended, counted once per session
	// when a request of it notices, or else at the next successful login
	// (which forgets ended sessions).
	Expired       int64 `json:"expired"`        // older than Config.SessionTTL
	IdledOut      int64 `json:"idled_out"`      // idle longer than Config.IdleTimeout
	Kicked        int64 `json:"kicked"`         // went over Config.MaxInFlight with Config.KickOnLimit
	ForcedLogouts int64 `json:"forced_logouts"` // Expired + IdledOut + Kicked
	// LoginRedirects counts requests for a login-only page redirected to
	// /login: no session cookie, an unknown or ended session.
	LoginRedirects int64 `json:"login_redirects"`

	// Stickers counts sticker PDFs served: whole, truncated, mention,
	// huge (counted when it begins) or crafted.
	Stickers int64 `json:"stickers"`
	// StickersByVehicle counts sticker PDFs served per vehicle ID in the
	// URL, so a vehicle downloaded twice shows 2.
	StickersByVehicle map[int]int64 `json:"stickers_by_vehicle"`
	// DuplicateStickers counts stickers served for a vehicle that had been
	// served one before.
	DuplicateStickers int64 `json:"duplicate_stickers"`
	// WrongStickers counts stickers of another vehicle than the one in the
	// URL (Config.Interference, Config.MentionRate).
	WrongStickers int64 `json:"wrong_stickers"`
	// MentionStickers counts wrong stickers whose text mentions the VIN of
	// the vehicle in the URL (Config.MentionRate).
	MentionStickers int64 `json:"mention_stickers"`
	// TruncatedStickers counts stickers cut short (Config.TruncateRate).
	TruncatedStickers int64 `json:"truncated_stickers"`
	// HugeStickers counts huge stickers begun (Config.HugeVehicles);
	// HugeBytes counts the bytes of them written so far, as they are
	// written, so a client that stopped reading early sees it stay far
	// below 200 MB a sticker; HugeStreaming is the number being written
	// now (0 once every such handler has ended).
	HugeStickers  int64 `json:"huge_stickers"`
	HugeBytes     int64 `json:"huge_bytes"`
	HugeStreaming int   `json:"huge_streaming"`
	// CraftedStickers counts crafted stickers served: page-tree loops
	// (Config.CraftedVehicles) and page-count bombs
	// (Config.PageBombVehicles).
	CraftedStickers int64 `json:"crafted_stickers"`
	// Prepared counts successful POSTs to the prepare URL; NotPrepared
	// counts sticker GETs answered 409 because none was pending.
	Prepared    int64 `json:"prepared"`
	NotPrepared int64 `json:"not_prepared"`

	// Gone counts requests for the vehicle page, sticker or prepare URL of
	// a vehicle in Config.GoneVehicles, answered 404.
	Gone int64 `json:"gone"`
	// Busy counts vehicle pages served with a script that never yields
	// (Config.BusyVehicles).
	Busy int64 `json:"busy"`
	// EndlessPages counts inventory pages past the last one answered with
	// the last page's rows (Config.EndlessNext).
	EndlessPages int64 `json:"endless_pages"`

	Errors500       int64 `json:"errors_500"`        // injected HTTP 500s
	SoftErrors      int64 `json:"soft_errors"`       // injected "Something went wrong" pages
	TooManyRequests int64 `json:"too_many_requests"` // HTTP 429s (Config.MaxInFlight)
	Hangs           int64 `json:"hangs"`             // requests that were made to hang

	// ActiveSessions is the number of sessions alive now.
	ActiveSessions int `json:"active_sessions"`
	// MaxInFlight is the most requests one session ever had in progress at
	// once, counting a request refused with 429.
	MaxInFlight int `json:"max_in_flight"`
	// Sessions lists the live sessions, oldest first.
	Sessions []SessionStats `json:"sessions"`
}

// SessionStats describes one live session.
type SessionStats struct {
	N              int       `json:"n"`               // 1 for the first login, 2 for the next…
	User           string    `json:"user"`            // who logged in
	Created        time.Time `json:"created"`         // login time
	LastSeen       time.Time `json:"last_seen"`       // last request
	Requests       int64     `json:"requests"`        // login-only requests made
	InFlight       int       `json:"in_flight"`       // requests in progress now
	MaxInFlight    int       `json:"max_in_flight"`   // most in progress at once, counting refused ones
	CurrentVehicle int       `json:"current_vehicle"` // last vehicle page viewed, 0 if none
}

// clone copies st deeply (maps included, Sessions left out).
func (st *Stats) clone() Stats {
	c := *st
	c.Requests = maps.Clone(st.Requests)
	c.StickersByVehicle = maps.Clone(st.StickersByVehicle)
	c.Sessions = nil
	return c
}

func newStats() Stats {
	st := Stats{Requests: make(map[Kind]int64, len(allKinds)), StickersByVehicle: make(map[int]int64)}
	for _, k := range allKinds {
		st.Requests[k] = 0
	}
	return st
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	now := s.cfg.Now()
	var cur []int
	s.mu.Lock()
	st := s.st.clone()
	live := make([]*session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		if s.ended(sess, now) == "" {
			live = append(live, sess)
		}
	}
	slices.SortFunc(live, func(a, b *session) int { return a.n - b.n })
	for _, sess := range live {
		st.Sessions = append(st.Sessions, SessionStats{
			N: sess.n, User: sess.user, Created: sess.created, LastSeen: sess.lastSeen,
			Requests: sess.requests, InFlight: sess.inflight, MaxInFlight: sess.maxInflight,
		})
	}
	s.mu.Unlock()
	for _, sess := range live {
		sess.mu.Lock()
		cur = append(cur, sess.current)
		sess.mu.Unlock()
	}
	for i := range st.Sessions {
		st.Sessions[i].CurrentVehicle = cur[i]
	}
	st.ActiveSessions = len(st.Sessions)
	s.mu.Lock()
	st.HugeStreaming = s.hugeActive
	s.mu.Unlock()
	return st
}

// ResetStats sets every counter back to zero. Sessions, vehicles, the
// sequence of fault decisions and the gauges (ActiveSessions,
// HugeStreaming) are not affected.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st = newStats()
	for _, sess := range s.sessions {
		sess.maxInflight = sess.inflight
		sess.requests = 0
	}
}
