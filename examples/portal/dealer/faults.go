package dealer

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"time"
)

// Kind is the kind of a request, as counted in [Stats.Requests] and used to
// derive fault decisions.
type Kind string

// Request kinds.
const (
	KindLogin     Kind = "login"     // GET and POST /login
	KindLogout    Kind = "logout"    // GET and POST /logout
	KindInventory Kind = "inventory" // GET /inventory
	KindVehicle   Kind = "vehicle"   // GET /vehicle/{id}
	KindPrepare   Kind = "prepare"   // POST /vehicle/{id}/sticker/prepare
	KindSticker   Kind = "sticker"   // GET /vehicle/{id}/sticker.pdf
	KindPhoto     Kind = "photo"     // GET /photos/{id}/{n}.jpg
	KindAsset     Kind = "asset"     // GET /static/…
	KindStats     Kind = "stats"     // GET /__stats
	KindOther     Kind = "other"     // anything else (/, 404s)
)

var allKinds = []Kind{KindLogin, KindLogout, KindInventory, KindVehicle, KindPrepare, KindSticker, KindPhoto, KindAsset, KindStats, KindOther}

// decision is what happens to one request, fixed by (seed, kind, n).
type decision struct {
	n        uint64        // the request's number within its kind, from 1
	hang     bool          // never answer
	fail     bool          // HTTP 500
	soft     bool          // HTTP 200 "Something went wrong"
	latency  time.Duration // Latency + jitter
	sticker  time.Duration // StickerLatency + jitter (stickers only)
	truncate bool          // send only part of the PDF (stickers only)
	keep     float64       // share of the PDF sent when truncating, in [0.1, 0.9)
	mention  bool          // serve another vehicle's sticker that mentions this one (stickers only)
	pick     float64       // which other vehicle, in [0, 1)
	csrfRace bool          // refuse a right login as if its form had expired (logins only)
}

// faultCounters numbers the requests of each kind that reach the fault
// stage. The map is built once and only read afterwards.
type faultCounters map[Kind]*atomic.Uint64

func newFaultCounters() faultCounters {
	m := make(faultCounters, len(allKinds))
	for _, k := range allKinds {
		m[k] = new(atomic.Uint64)
	}
	return m
}

// Salts for the independent draws of one request.
const (
	drawHang uint64 = iota + 1
	drawFail
	drawSoft
	drawJitter
	drawStickerJitter
	drawTruncate
	drawKeep
	drawMention
	drawMentionPick
	drawCSRFRace
)

// decide numbers the next request of kind and draws its faults. Only the
// fault kinds (inventory, vehicle, prepare, sticker) get hangs and errors;
// login and logout get latency, and logins the CSRF race.
func (s *Server) decide(kind Kind) decision {
	c := &s.cfg
	d := decision{n: s.counters[kind].Add(1)}
	u := func(what uint64) float64 { return unit(c.Seed, kind, d.n, what) }
	d.latency = c.Latency + time.Duration(u(drawJitter)*float64(c.LatencyJitter))
	if kind == KindLogin {
		d.csrfRace = u(drawCSRFRace) < c.CSRFRaceRate
	}
	switch kind {
	case KindInventory, KindVehicle, KindPrepare, KindSticker:
	default:
		return d
	}
	d.hang = u(drawHang) < c.HangRate
	d.fail = !d.hang && u(drawFail) < c.ErrorRate
	d.soft = !d.hang && !d.fail && u(drawSoft) < c.SoftErrorRate
	if kind == KindSticker {
		d.sticker = c.StickerLatency + time.Duration(u(drawStickerJitter)*float64(c.StickerLatencyJitter))
		d.truncate = u(drawTruncate) < c.TruncateRate
		d.keep = 0.1 + 0.8*u(drawKeep)
		d.mention = u(drawMention) < c.MentionRate
		d.pick = u(drawMentionPick)
	}
	return d
}

// unit maps (seed, kind, n, what) to a number in [0, 1), the same on every
// run and platform.
func unit(seed int64, kind Kind, n, what uint64) float64 {
	k := uint64(14695981039346656037) // FNV-1a of the kind's name
	for i := 0; i < len(kind); i++ {
		k = (k ^ uint64(kind[i])) * 1099511628211
	}
	x := splitmix(uint64(seed) ^ splitmix(k) ^ splitmix(n<<8|what))
	return float64(x>>11) / (1 << 53)
}

// splitmix is the SplitMix64 finalizer: a cheap, well-mixing bijection.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// special is a vehicle's own fault, from the vehicle lists of [Config].
type special uint8

const (
	ordinary special = iota
	gone             // Config.GoneVehicles
	huge             // Config.HugeVehicles
	crafted          // Config.CraftedVehicles
	pageBomb         // Config.PageBombVehicles
	busy             // Config.BusyVehicles
)

// specials returns the fault of each vehicle, by vehicle index.
func (c Config) specials() []special {
	sp := make([]special, c.Vehicles)
	for _, id := range c.GoneVehicles {
		sp[id-1] = gone
	}
	for _, id := range c.HugeVehicles {
		sp[id-1] = huge
	}
	for _, id := range c.CraftedVehicles {
		sp[id-1] = crafted
	}
	for _, id := range c.PageBombVehicles {
		sp[id-1] = pageBomb
	}
	for _, id := range c.BusyVehicles {
		sp[id-1] = busy
	}
	return sp
}

// isGone answers 404 for a vehicle in Config.GoneVehicles and reports
// whether it did.
func (s *Server) isGone(w http.ResponseWriter, r *http.Request, v *Vehicle) bool {
	if s.special[v.ID-1] != gone {
		return false
	}
	s.count(&s.st.Gone)
	s.log.Info("fault: gone vehicle", "vehicle", v.ID, "path", r.URL.Path)
	s.errorPage(w, r, http.StatusNotFound, "Vehicle not available", "This vehicle is no longer available. It may have been sold.")
	return true
}

// errClosing is returned by wait when the server shuts down.
var errClosing = errors.New("dealer: server closing")

// wait blocks for d, or until ctx is done or the server closes.
func (s *Server) wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closing:
		return errClosing
	}
}

// hang blocks until the client gives up or the server closes; in the
// latter case it answers 503 so the connection ends in an orderly way.
func (s *Server) hang(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.closing:
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
	}
}

// interrupted answers a request whose wait ended early.
func (s *Server) interrupted(w http.ResponseWriter, err error) {
	if errors.Is(err, errClosing) {
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
	}
	// A client that went away gets nothing.
}
