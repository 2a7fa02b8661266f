package dealer

import (
	"bytes"
	"embed"
	"encoding/json"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"strconv"
	"strings"
)

//go:embed templates static
var embedded embed.FS

// pages holds one template set per page, each with the shared layout.
type pages struct {
	byName map[string]*template.Template
}

var funcs = template.FuncMap{
	"money": money,
	"comma": comma,
}

func parsePages() (*pages, error) {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(embedded, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, name := range []string{"login", "inventory", "vehicle", "error"} {
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if p.byName[name], err = t.ParseFS(embedded, "templates/"+name+".html"); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// page is what the layout gets.
type page struct {
	Title string
	User  string // shows the nav and a#logout when set
	CSRF  string // meta[name=csrf-token] when set
	Data  any    // the page's own data
}

type errorData struct{ Heading, Message string }

// render writes a page with the given status.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	var buf bytes.Buffer
	if err := s.pages.byName[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		s.log.Error("render", "page", name, "err", err)
		http.Error(w, "template error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// errorPage writes an error page (h1#error) with the given status.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, heading, msg string) {
	p := page{Title: heading, Data: errorData{Heading: heading, Message: msg}}
	if sess := s.current(r); sess != nil {
		p.User, p.CSRF = sess.user, sess.csrf
	}
	s.render(w, r, status, "error", p)
}

// shownVehicle is a vehicle as the pages show it: its VIN as the site
// shows VINs ([Config.LowercaseVINs]).
type shownVehicle struct {
	*Vehicle
	VIN string
}

// show returns v as the pages show it.
func (s *Server) show(v *Vehicle) shownVehicle {
	return shownVehicle{Vehicle: v, VIN: s.shownVIN(v.VIN)}
}

// shownVIN is vin as the site shows it: in lower case with
// [Config.LowercaseVINs], else unchanged.
func (s *Server) shownVIN(vin string) string {
	if s.cfg.LowercaseVINs {
		return strings.ToLower(vin)
	}
	return vin
}

type inventoryData struct {
	Rows               []shownVehicle
	Page, Pages, Total int
	From, To           int
	Prev, Next         int // 0 if none
	Links              []int
}

// inventory serves GET /inventory?page=K.
func (s *Server) inventory(w http.ResponseWriter, r *http.Request, sess *session, _ decision) {
	n := 1
	if q := r.URL.Query().Get("page"); q != "" {
		var err error
		if n, err = strconv.Atoi(q); err != nil || n < 1 {
			s.errorPage(w, r, http.StatusBadRequest, "Bad request", "The page number must be a positive whole number.")
			return
		}
	}
	size := s.cfg.PageSize
	pages := (len(s.vehicles) + size - 1) / size
	past := n > pages
	if past && !s.cfg.EndlessNext {
		s.errorPage(w, r, http.StatusNotFound, "Page not found", "The inventory has "+strconv.Itoa(pages)+" pages.")
		return
	}
	rows := min(n, pages) // past the end (EndlessNext): the last page's rows
	d := inventoryData{Page: n, Pages: pages, Total: len(s.vehicles), From: (rows-1)*size + 1, To: min(rows*size, len(s.vehicles))}
	for i := d.From - 1; i < d.To; i++ {
		d.Rows = append(d.Rows, s.show(&s.vehicles[i]))
	}
	if n > 1 {
		d.Prev = n - 1
	}
	if n < pages || s.cfg.EndlessNext && n < math.MaxInt {
		d.Next = n + 1
	}
	if past {
		s.count(&s.st.EndlessPages)
		s.log.Info("fault: endless next", "page", n, "pages", pages)
	}
	for k := max(1, n-3); k <= min(pages, n+3); k++ {
		d.Links = append(d.Links, k)
	}
	s.render(w, r, http.StatusOK, "inventory", page{Title: "Inventory", User: sess.user, CSRF: sess.csrf, Data: d})
}

type vehicleData struct {
	V           shownVehicle
	Photos      []string
	Mode        string
	Standard    []string
	SavingsText string
	Busy        bool // Config.BusyVehicles
}

// vehiclePage serves GET /vehicle/{id} and makes it the session's current
// vehicle.
func (s *Server) vehiclePage(w http.ResponseWriter, r *http.Request, sess *session, _ decision) {
	v := s.pathVehicle(r)
	if v == nil {
		s.errorPage(w, r, http.StatusNotFound, "Vehicle not found", "There is no vehicle with this ID in the inventory.")
		return
	}
	if s.isGone(w, r, v) {
		return
	}
	sess.mu.Lock()
	sess.current = v.ID
	sess.mu.Unlock()
	d := vehicleData{V: s.show(v), Mode: string(s.cfg.StickerMode), Standard: standardEquipment(v), Busy: s.special[v.ID-1] == busy}
	if d.Busy {
		s.count(&s.st.Busy)
		s.log.Info("fault: busy vehicle page", "vehicle", v.ID)
	}
	for i := 1; i <= s.cfg.Photos; i++ {
		d.Photos = append(d.Photos, "/photos/"+strconv.Itoa(v.ID)+"/"+strconv.Itoa(i)+".jpg")
	}
	if v.Price < v.MSRP {
		d.SavingsText = "You save " + money(v.MSRP-v.Price)
	}
	s.render(w, r, http.StatusOK, "vehicle", page{Title: v.Title(), User: sess.user, CSRF: sess.csrf, Data: d})
}

func (s *Server) pathVehicle(r *http.Request) *Vehicle {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil {
		return nil
	}
	return s.vehicle(id)
}

// statsJSON serves GET /__stats.
func (s *Server) statsJSON(w http.ResponseWriter, r *http.Request) {
	b, err := json.MarshalIndent(s.Stats(), "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(append(b, '\n'))
}

// static serves GET /static/{file...}: embedded files and the generated
// vendor stylesheet and web font.
func (s *Server) static(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	var body []byte
	switch name {
	case "vendor.css":
		body = vendorCSS()
	case "fonts/dealer-sans.woff2":
		body = webFont()
	default:
		b, err := fs.ReadFile(embedded, "static/"+name)
		if err != nil || strings.Contains(name, "..") {
			s.errorPage(w, r, http.StatusNotFound, "Page not found", "There is no file at this address.")
			return
		}
		body = b
	}
	serveBytes(w, r, contentType(name), body)
}

// photo serves GET /photos/{id}/{n}.jpg and /photos/{id}/thumb.jpg.
func (s *Server) photo(w http.ResponseWriter, r *http.Request) {
	v := s.pathVehicle(r)
	file := r.PathValue("file")
	if v == nil {
		s.errorPage(w, r, http.StatusNotFound, "Page not found", "There is no photo at this address.")
		return
	}
	if file == "thumb.jpg" {
		serveBytes(w, r, "image/jpeg", thumbnail(v.ID))
		return
	}
	n, err := strconv.Atoi(strings.TrimSuffix(file, ".jpg"))
	if err != nil || !strings.HasSuffix(file, ".jpg") || n < 1 || n > s.cfg.Photos {
		s.errorPage(w, r, http.StatusNotFound, "Page not found", "There is no photo at this address.")
		return
	}
	serveBytes(w, r, "image/jpeg", photo(v.ID, n))
}

func serveBytes(w http.ResponseWriter, r *http.Request, ctype string, b []byte) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Cache-Control", "public, max-age=86400")
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

func contentType(name string) string {
	switch {
	case strings.HasSuffix(name, ".css"):
		return "text/css; charset=utf-8"
	case strings.HasSuffix(name, ".js"):
		return "text/javascript; charset=utf-8"
	case strings.HasSuffix(name, ".woff2"):
		return "font/woff2"
	case strings.HasSuffix(name, ".svg"):
		return "image/svg+xml"
	}
	return "application/octet-stream"
}

// money formats whole dollars: 45995 → "$45,995".
func money(d int) string { return "$" + comma(d) }

// comma formats an integer with thousands separators.
func comma(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// standardEquipment is the list on the vehicle page and the sticker.
func standardEquipment(v *Vehicle) []string {
	eq := []string{
		v.Engine, v.Transmission, driveName(v.Drivetrain),
		"Pre-Collision Assist with Automatic Emergency Braking",
		"Lane-Keeping System", "Blind Spot Information System", "Rear View Camera",
		"Adaptive Cruise Control", "Apple CarPlay and Android Auto",
		"Keyless Entry with Push-Button Start", "Dual-Zone Automatic Climate Control",
		"LED Headlamps with Auto High Beams", "Tire Pressure Monitoring System",
	}
	switch {
	case strings.Contains(v.Body, "Pickup"):
		eq = append(eq, "Trailer Sway Control", "Hill Start Assist", "Class IV Trailer Hitch Receiver", "Locking Tailgate")
	case strings.Contains(v.Body, "Sport Utility"), v.Body == "Wagon":
		eq = append(eq, "Power Liftgate", "Roof Rails", "60/40 Split-Fold Rear Seat", "Hill Descent Control")
	default:
		eq = append(eq, "Sport-Tuned Suspension", "Rear Spoiler", "Power Driver's Seat", "Rain-Sensing Wipers")
	}
	return eq
}

func driveName(d string) string {
	switch d {
	case "4WD":
		return "Four-Wheel Drive"
	case "AWD":
		return "All-Wheel Drive"
	case "RWD":
		return "Rear-Wheel Drive"
	}
	return "Front-Wheel Drive"
}
