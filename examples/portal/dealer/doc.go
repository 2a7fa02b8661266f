// Package dealer is a demo dealer portal — "Summit Motors DealerNet" — with
// fault injection: the safe target that examples/jdrun runs against by
// default and that the end-to-end tests use.
//
// It looks and weighs like a real dealer management system: a login form
// with a CSRF token and a cookie session, a paginated inventory, vehicle
// pages with a stylesheet, a web font, several large photos and a little
// JavaScript, and a "Window sticker" button that delivers a generated
// Monroney-style PDF containing the vehicle's VIN. Every fault the old tool
// met in production can be switched on through [Config], deterministically
// from [Config.Seed], and [Server.Stats] (or GET /__stats) counts what
// happened so tests can compare it with what the client saw.
//
// Start one in-process like an httptest.Server:
//
//	srv, err := dealer.Start(dealer.Config{}) // 127.0.0.1, a free port
//	if err != nil { … }
//	defer srv.Close()
//	fmt.Println(srv.URL(), dealer.DemoUser, dealer.DemoPassword)
//
// or run it for a person with `go run ./examples/portal` (see its -h).
//
// # URLs
//
//	GET  /login[?next=/path]            the login form; a live session is redirected to next (or /inventory)
//	POST /login                         username, password, csrf, next → 303 to next and the session cookie
//	GET  /logout, POST /logout          ends the session → 302 /login
//	GET  /inventory?page=K              the inventory, Config.PageSize (25) vehicles a page, K from 1
//	GET  /vehicle/{id}                  a vehicle page; id is 1..Config.Vehicles; sets the session's current vehicle
//	                                    (404 for Config.GoneVehicles, also the sticker and prepare URLs)
//	GET  /vehicle/{id}/sticker.pdf      the window sticker PDF
//	POST /vehicle/{id}/sticker/prepare  prepares a sticker (prepare mode only; 404 otherwise)
//	GET  /photos/{id}/{n}.jpg           photo n (1..Config.Photos) of a vehicle, 100–300 KB; /photos/{id}/thumb.jpg ~8 KB
//	GET  /static/…                      portal.css, vendor.css (~40 KB), portal.js, logo.svg, fonts/dealer-sans.woff2 (50 KB)
//	GET  /__stats                       Stats as JSON
//
// Login-only pages (inventory, vehicle, sticker, prepare) redirect with 302
// to /login?next=<the original path and query> when there is no live
// session — also for the sticker URL and the prepare POST, as real portals
// do; the client must notice it got a login page instead. Photos and static
// assets need no login, like a CDN.
//
// # Selectors
//
// These are stable; a site adapter can default to them.
//
//	form#login                      the login form (method post, action /login)
//	input[name=username]            username
//	input[name=password]            password (never echoed back)
//	input[name=csrf]                hidden CSRF token; must match the pf_csrf cookie, which each login form served replaces
//	button[type=submit]             submit (#sign-in)
//	#login-error                    present after a failed login: 200 for wrong credentials, like real sites;
//	                                403 "Your sign-in form has expired. Please try again." for the CSRF token
//	a#logout                        present only when logged in (href /logout)
//	table#inventory tbody tr        one row per vehicle, with data-id="{id}"
//	a.vehicle                       in each row: href="/vehicle/{id}"
//	td.vin                          in each row: the VIN (also td.year, td.make, td.model, td.trim, td.stock, td.price)
//	a[rel=next]                     the next inventory page; absent on the last page (but see EndlessNext)
//	article#vehicle                 the vehicle page, with data-id and data-vin attributes
//	#vin                            the VIN on a vehicle page
//	#window-sticker                 the sticker button: an <a href="/vehicle/{id}/sticker.pdf"> in the
//	                                attachment and inline modes, a <button> with data-prepare-url and
//	                                data-sticker-url in the prepare mode
//	meta[name=csrf-token]           the session's CSRF token for the prepare POST (X-CSRF-Token header)
//	h1#error                        an error page: "Something went wrong" (soft error), HTTP 500, 404
//
// # Window stickers
//
// The sticker is a US Letter PDF made with github.com/go-pdf/fpdf with
// compressed streams and an embedded photo, 20–30 KB: VIN (in text, in
// the document title and keywords, and as a Code 39 barcode), year, make,
// model and trim, equipment, options with prices, and the total MSRP. A
// vehicle's PDF is the same bytes on every run; it is generated on first
// request and cached, so serving one is just a write. The response has
// Content-Type application/pdf, Content-Length, and Content-Disposition
// `attachment; filename="window-sticker.pdf"` — the same name for every
// vehicle, so the client must name its files — or `inline` in
// [StickerInline] mode.
//
// [Config.StickerMode] chooses how the button works: [StickerAttachment]
// (the default) and [StickerInline] make it a plain link, so a client can
// also fetch the sticker URL directly with the session's cookies (the
// fastest path). [StickerPrepare] makes it a JavaScript click handler that
// POSTs to the prepare URL and then navigates to the sticker URL; a GET of
// the sticker URL without a pending preparation answers 409 Conflict, and
// each preparation is good for one download.
//
// # Faults
//
// All faults are off in the zero [Config]. Each one is a field:
//
//   - Latency, LatencyJitter: logins, logouts and login-only pages wait
//     Latency plus up to LatencyJitter (photos, static assets and /__stats
//     never wait).
//   - StickerLatency, StickerLatencyJitter: sticker downloads wait this on top.
//   - ErrorRate: HTTP 500 with an error page.
//   - SoftErrorRate: HTTP 200 with a page that says "Something went wrong".
//   - HangRate: no answer until the client gives up or the server closes.
//   - TruncateRate (and TruncateAbort): only 10–90 % of the sticker PDF is sent.
//   - CSRFRaceRate: a login with the right credentials and a valid CSRF
//     token is refused anyway as an expired form (403, #login-error), as
//     when another page of the browser opened /login meanwhile and so
//     replaced the CSRF cookie (which really happens too: every login
//     form served sets a new token).
//   - SessionTTL, IdleTimeout: the session ends; the next request is
//     redirected (302) to /login?next=…, and the client must log in again.
//   - MaxInFlight (and KickOnLimit): more requests of one session at once
//     than this are answered 429 Too Many Requests (and the session ends).
//   - Interference: the sticker URL serves the sticker of the vehicle the
//     session last viewed, not the one in the URL.
//   - MentionRate: the sticker URL serves another vehicle's sticker whose
//     foot says "Replaces window sticker of VIN <the requested VIN>.", so
//     "the VIN is somewhere in the text" accepts it wrongly.
//   - EndlessNext: the last inventory page has a rel=next link, and so has
//     every page past it, which shows the last page's rows again.
//   - GoneVehicles: these vehicles stay in the inventory, but their
//     vehicle page and sticker URL answer 404 (sold meanwhile).
//   - HugeVehicles: these vehicles' stickers are 200 MB streams without a
//     Content-Length that start like a PDF and never end like one.
//   - CraftedVehicles, PageBombVehicles: these vehicles' stickers are tiny
//     PDFs that look well formed but whose page tree contains itself, or
//     claims a billion pages: naive text extraction never ends.
//   - BusyVehicles: these vehicles' pages run a script that never yields
//     once their DOM is ready: a script evaluated in the page never returns.
//   - LowercaseVINs: every VIN the site shows (inventory, vehicle page,
//     sticker text) is in lower case; [Vehicle.VIN] is not.
//
// Hangs, 500s and soft errors apply to the login-only pages only (inventory,
// vehicle, prepare, sticker); logins fail by chance only through
// CSRFRaceRate. A request of a login-only page is checked in this order:
// session (302), concurrency limit (429), hang, latency, 500, soft error,
// then the page itself: an unknown or gone vehicle (404), an unprepared
// sticker (409), sticker latency, interference. What the sticker is then
// depends on the vehicle whose sticker is served: a huge or crafted one for
// a vehicle in HugeVehicles, CraftedVehicles or PageBombVehicles, else an
// ordinary one, which may be swapped for a mention sticker (only if
// interference left the requested vehicle) and may be truncated. Every
// fault injected is counted in [Stats] and logged (at Info, "fault: …").
//
// # Determinism
//
// The inventory (VINs, prices, options…) is a function of Seed and
// Config.Vehicles. Each fault decision is a function of (Seed, request kind,
// n), where n numbers the requests of that [Kind] that passed the session
// and concurrency checks, from 1. So a client that makes its requests one
// after the other sees the same faults on every run, and a concurrent one
// sees the same number of each fault for the same number of requests of a
// kind, whichever request gets it; so is the other vehicle whose sticker
// a mention sticker is. The vehicle lists (GoneVehicles,
// HugeVehicles…) and LowercaseVINs and EndlessNext apply to every request
// alike. Interference is deterministic given the
// order in which the server handles the requests of a session: a sticker
// request gets the sticker of the vehicle whose page was last served to
// that session before the sticker is served (after its latency). A careful
// client — one that keeps "view page, download sticker" as one critical
// section per session, or checks the VIN inside the PDF and retries — still
// gets every file right; [Stats.WrongStickers] counts the wrong ones served.
// A client that checks the VIN must check the sticker's own VIN (the VIN
// line, the title), not whether the VIN occurs anywhere: with
// [Config.MentionRate] a wrong sticker mentions the requested VIN too.
//
// # Concurrency and lifetime
//
// A [Server] is safe for concurrent use. Each session's state (current
// vehicle, prepared stickers) has its own mutex; counters are updated before
// the response they describe is written. [Server.Close] releases hung and
// delayed requests, stops huge stickers in the middle (the connection is
// dropped, so the body does not end cleanly), and returns only after every
// handler and connection goroutine has ended; [Server.Shutdown] does the
// same gracefully. The
// server logs nothing unless [Config.Logger] is set, and never logs a
// password.
package dealer
