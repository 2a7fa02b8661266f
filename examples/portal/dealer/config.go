package dealer

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// Demo credentials: the zero [Config] accepts exactly these.
const (
	DemoUser     = "demo"
	DemoPassword = "demo-pass"
)

// DefaultVehicles is the size of the inventory when [Config.Vehicles] is 0:
// as many vehicles as the real inventory the project was built for.
const DefaultVehicles = 1820

// MaxVehicles is the largest inventory [New] accepts.
const MaxVehicles = 20000

// StickerMode is how the "Window sticker" button on a vehicle page delivers
// the PDF.
type StickerMode string

const (
	// StickerAttachment: the button is a link (a#window-sticker with
	// href="/vehicle/{id}/sticker.pdf"); the answer has
	// Content-Disposition: attachment; filename="window-sticker.pdf".
	// This is the default.
	StickerAttachment StickerMode = "attachment"
	// StickerPrepare: the button is a <button> whose click handler first
	// POSTs to /vehicle/{id}/sticker/prepare (with the page's CSRF token in
	// the X-CSRF-Token header) and then navigates to the sticker URL. A GET
	// of the sticker URL that was not prepared answers 409 Conflict; one
	// preparation is good for one download.
	StickerPrepare StickerMode = "prepare"
	// StickerInline: the button is a link like in [StickerAttachment], but
	// the PDF is answered with Content-Disposition: inline, so a browser
	// shows it instead of downloading it.
	StickerInline StickerMode = "inline"
)

// ErrConfig is wrapped by the error [New] and [Start] return for an invalid
// [Config]; the message names the field.
var ErrConfig = errors.New("dealer: invalid config")

// Config configures a [Server]. The zero Config is a well-behaved portal:
// the demo credentials, 1,820 vehicles, stickers as attachments, no faults.
//
// All rates are probabilities in [0, 1] applied per request; see the
// package documentation for which requests each fault applies to and how
// the decisions are derived from Seed.
type Config struct {
	// Addr is the address [Start] listens on. Defaults to "127.0.0.1:0"
	// (a free port on the loopback interface).
	Addr string

	// Seed makes the inventory and every fault decision reproducible.
	// Defaults to 0, which is a seed like any other.
	Seed int64
	// Vehicles is the size of the inventory, at most [MaxVehicles].
	// Defaults to [DefaultVehicles] (1,820).
	Vehicles int
	// PageSize is the number of vehicles per inventory page.
	// Defaults to 25.
	PageSize int
	// Photos is the number of photos on a vehicle page (each 100–300 KB).
	// Defaults to 6; at most 24.
	Photos int

	// Username and Password are the only credentials accepted.
	// Default to [DemoUser] and [DemoPassword].
	Username string
	Password string

	// StickerMode is how the window sticker button works.
	// Defaults to [StickerAttachment].
	StickerMode StickerMode

	// Latency is added to every login, logout and login-only page request
	// (not to photos, static assets and /__stats), plus a uniformly random
	// extra of up to LatencyJitter. Default to 0.
	Latency       time.Duration
	LatencyJitter time.Duration
	// StickerLatency (plus up to StickerLatencyJitter) is added on top of
	// Latency to each sticker download, as if the PDF were generated.
	// Default to 0.
	StickerLatency       time.Duration
	StickerLatencyJitter time.Duration

	// ErrorRate is the share of page requests answered with HTTP 500.
	// Defaults to 0.
	ErrorRate float64
	// SoftErrorRate is the share of page requests answered with HTTP 200
	// and an HTML page that says "Something went wrong" (h1#error).
	// Defaults to 0.
	SoftErrorRate float64
	// HangRate is the share of page requests that never answer: they block
	// until the client gives up or the server closes. Defaults to 0.
	HangRate float64
	// TruncateRate is the share of sticker downloads cut short: only part of
	// the PDF is sent. Defaults to 0.
	TruncateRate float64
	// TruncateAbort makes a truncated download announce the full
	// Content-Length and then drop the connection (the client sees an
	// unexpected EOF). By default a truncated download has no
	// Content-Length and ends cleanly, so only checking the PDF catches it.
	TruncateAbort bool

	// CSRFRaceRate is the share of login POSTs with the right credentials
	// and a valid CSRF token that are refused anyway as if the token were
	// wrong: 403 and the login form again with #login-error "Your sign-in
	// form has expired. Please try again.", the very answer to a bad token.
	// It stands for the race in which another page of the same browser
	// opens /login during a re-login and so replaces the pf_csrf cookie
	// (which every login form served does, for real). Counted in
	// [Stats.LoginsBadCSRF] and [Stats.CSRFRaces]. Defaults to 0.
	CSRFRaceRate float64

	// LoginDownAfter and LoginDownFor take the login page down — 503 for
	// the form and its post — for LoginDownFor from the LoginDownAfter-th
	// successful login on, as a login service in maintenance does while
	// the rest of the site runs. Counted in [Stats.LoginsDown]. Default to
	// 0: never.
	LoginDownAfter int
	LoginDownFor   time.Duration

	// SessionTTL is how long a login lasts; after it, requests of that
	// session are redirected (302) to /login?next=…. Defaults to 0: forever.
	SessionTTL time.Duration
	// IdleTimeout ends a session that made no request for that long.
	// Defaults to 0: never.
	IdleTimeout time.Duration
	// MaxInFlight is the number of requests of login-only pages one
	// session may have in progress at once; one more is answered 429 Too
	// Many Requests (with Retry-After: 1). Photos and static assets do not
	// count. Defaults to 0: no limit.
	MaxInFlight int
	// KickOnLimit also ends the session (logs it out) when it goes over
	// MaxInFlight, as portals do that suspect a bot. Defaults to false.
	KickOnLimit bool

	// Interference turns on server-side "current vehicle" state: the
	// sticker URL serves the sticker of the vehicle the session last viewed
	// (GET /vehicle/{id}), not the one in the URL. Clients that view and
	// download in parallel in one session get wrong PDFs. Defaults to false.
	Interference bool

	// MentionRate is the share of sticker downloads answered with the
	// sticker of another vehicle (picked from Seed) whose foot says
	// "Replaces window sticker of VIN <the requested VIN>.": the requested
	// VIN is somewhere in the text, but the sticker is not its own. The
	// other vehicle's own VIN is where a sticker's VIN always is (title,
	// keywords, the VIN line, barcode and fine print). Ordinary stickers
	// never mention another vehicle's VIN. Counted in
	// [Stats.WrongStickers] and [Stats.MentionStickers]. Defaults to 0.
	MentionRate float64

	// EndlessNext makes the inventory's "next" link never end: the last
	// page links to the page after it, and every page past the last one
	// (page=N+1, N+2, …) answers 200 with the last page's rows and a
	// rel=next link to the following page. Defaults to false: the last
	// page has no rel=next link and pages past it answer 404.
	EndlessNext bool

	// LowercaseVINs shows every VIN in lower case wherever the site shows
	// one: the inventory rows (td.vin), the vehicle page (#vin and
	// data-vin) and the text of the sticker PDF (its title, keywords, VIN
	// line and fine print; the barcode's bars still encode the VIN in
	// capitals, which Code 39 needs). [Vehicle.VIN] stays in capitals, so
	// a test compares VINs case-insensitively. Defaults to false.
	LowercaseVINs bool

	// BrowserOnlyStickers serves stickers only to a browser's pages: a
	// sticker request without the Sec-Fetch-Mode header browsers send (one
	// of an HTTP client, with the session's cookie all the same) gets the
	// login form as if logged out, and a login changes nothing.
	// Defaults to false.
	BrowserOnlyStickers bool

	// GoneVehicles lists vehicle IDs that stay in the inventory but whose
	// vehicle page, sticker URL and prepare URL answer 404 "Vehicle not
	// available" (h1#error): the vehicle was sold meanwhile. [Server.Vehicles]
	// still lists them. Each ID is in 1..Vehicles and in at most one of the
	// vehicle lists. Defaults to none.
	GoneVehicles []int

	// HugeVehicles lists vehicle IDs whose sticker is a 200 MB body
	// streamed without a Content-Length: it starts like a PDF (%PDF-, an
	// image stream) and never ends like one (no %%EOF). It is written a
	// chunk at a time, so a client that stops reading stops the server
	// too, and it stops when the client goes away or the server closes.
	// Same rules for the IDs as GoneVehicles. Defaults to none.
	HugeVehicles []int

	// CraftedVehicles lists vehicle IDs whose sticker is a crafted PDF of
	// under 1 KB that looks well formed (header, objects, a correct xref
	// table, trailer, %%EOF) and has the vehicle's VIN in a content stream,
	// but whose page tree contains itself: the /Kids of its Pages node
	// list the Pages node. Naive text extraction loops forever on it.
	// Same rules for the IDs as GoneVehicles. Defaults to none.
	CraftedVehicles []int
	// PageBombVehicles lists vehicle IDs whose sticker is a crafted PDF
	// like CraftedVehicles', but with a sane tree of one page whose Pages
	// node claims /Count 1000000000. Same rules for the IDs as
	// GoneVehicles. Defaults to none.
	PageBombVehicles []int
	// BusyVehicles lists vehicle IDs whose vehicle page, once its DOM is
	// ready, runs a script that never yields: the page stops answering
	// its browser's calls (a script evaluated in it never returns) until
	// it is closed. Same rules for the IDs as GoneVehicles. Defaults to
	// none.
	BusyVehicles []int

	// Prewarm makes [Start] generate every vehicle's sticker PDF in the
	// background (about 1 ms of one core each), so that even the first
	// download of each is just a write. Defaults to false: each is made on
	// its first request.
	Prewarm bool

	// Now is the clock for session lifetimes. Defaults to time.Now.
	Now func() time.Time
	// Logger receives logins, logouts, injected faults and, at Debug level,
	// every request. Passwords are never logged. Defaults to nil: no logs.
	Logger *slog.Logger
}

// withDefaults returns c with the zero fields filled in, and its own copy
// of the lists.
func (c Config) withDefaults() Config {
	c.GoneVehicles = slices.Clone(c.GoneVehicles)
	c.HugeVehicles = slices.Clone(c.HugeVehicles)
	c.CraftedVehicles = slices.Clone(c.CraftedVehicles)
	c.PageBombVehicles = slices.Clone(c.PageBombVehicles)
	c.BusyVehicles = slices.Clone(c.BusyVehicles)
	c.Addr = cmp.Or(c.Addr, "127.0.0.1:0")
	c.Vehicles = cmp.Or(c.Vehicles, DefaultVehicles)
	c.PageSize = cmp.Or(c.PageSize, 25)
	c.Photos = cmp.Or(c.Photos, 6)
	c.Username = cmp.Or(c.Username, DemoUser)
	c.Password = cmp.Or(c.Password, DemoPassword)
	c.StickerMode = cmp.Or(c.StickerMode, StickerAttachment)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// validate checks a Config after withDefaults.
func (c Config) validate() error {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("%w: %s is %v, want %s", ErrConfig, field, v, want)
	}
	switch {
	case c.Vehicles < 1 || c.Vehicles > MaxVehicles:
		return bad("Vehicles", c.Vehicles, fmt.Sprintf("1..%d", MaxVehicles))
	case c.PageSize < 1 || c.PageSize > 1000:
		return bad("PageSize", c.PageSize, "1..1000")
	case c.Photos < 1 || c.Photos > 24:
		return bad("Photos", c.Photos, "1..24")
	case c.StickerMode != StickerAttachment && c.StickerMode != StickerPrepare && c.StickerMode != StickerInline:
		return bad("StickerMode", fmt.Sprintf("%q", c.StickerMode), `"attachment", "prepare" or "inline"`)
	case c.MaxInFlight < 0:
		return bad("MaxInFlight", c.MaxInFlight, ">= 0")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"Latency", c.Latency}, {"LatencyJitter", c.LatencyJitter}, {"StickerLatency", c.StickerLatency},
		{"StickerLatencyJitter", c.StickerLatencyJitter}, {"SessionTTL", c.SessionTTL}, {"IdleTimeout", c.IdleTimeout}} {
		if d.v < 0 {
			return bad(d.name, d.v, ">= 0")
		}
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"ErrorRate", c.ErrorRate}, {"SoftErrorRate", c.SoftErrorRate}, {"HangRate", c.HangRate}, {"TruncateRate", c.TruncateRate},
		{"MentionRate", c.MentionRate}, {"CSRFRaceRate", c.CSRFRaceRate}} {
		if !(r.v >= 0 && r.v <= 1) { // also catches NaN
			return bad(r.name, r.v, "0..1")
		}
	}
	seen := map[int]string{}
	for _, l := range c.vehicleLists() {
		for _, id := range l.ids {
			if id < 1 || id > c.Vehicles {
				return bad(l.name, id, fmt.Sprintf("vehicle IDs in 1..%d", c.Vehicles))
			}
			if other := seen[id]; other != "" && other != l.name {
				return bad(l.name, id, "IDs that are in no other list, but it is in "+other)
			}
			seen[id] = l.name
		}
	}
	return nil
}

// vehicleLists are the lists of vehicle IDs with a fault of their own; an
// ID may be in one of them only.
func (c Config) vehicleLists() []struct {
	name string
	ids  []int
} {
	return []struct {
		name string
		ids  []int
	}{{"GoneVehicles", c.GoneVehicles}, {"HugeVehicles", c.HugeVehicles},
		{"CraftedVehicles", c.CraftedVehicles}, {"PageBombVehicles", c.PageBombVehicles}, {"BusyVehicles", c.BusyVehicles}}
}
