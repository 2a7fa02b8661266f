package dealer

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-pdf/fpdf"
)

// StickerFilename is the file name in the sticker's Content-Disposition.
// It is the same for every vehicle: the client must name the files.
const StickerFilename = "window-sticker.pdf"

// stickerSlot caches one vehicle's PDF; it is made on first request.
type stickerSlot struct {
	once sync.Once
	pdf  []byte
	err  error
}

// stickerPDF returns v's window sticker, generating it once.
func (s *Server) stickerPDF(v *Vehicle) ([]byte, error) {
	slot := &s.stickers[v.ID-1]
	slot.once.Do(func() { slot.pdf, slot.err = renderSticker(v, stickerText{VIN: s.shownVIN(v.VIN)}) })
	return slot.pdf, slot.err
}

// StickerPDF returns the window sticker of the vehicle with the given ID,
// exactly as the sticker URL serves it when no fault applies. With
// [Config.LowercaseVINs] its VIN is in lower case, as served. For a vehicle
// in one of the lists of Config (GoneVehicles, HugeVehicles,
// CraftedVehicles, PageBombVehicles) it is the sticker the vehicle would
// have without its fault.
func (s *Server) StickerPDF(id int) ([]byte, error) {
	v := s.vehicle(id)
	if v == nil {
		return nil, fmt.Errorf("dealer: no vehicle %d", id)
	}
	return s.stickerPDF(v)
}

// prepare serves POST /vehicle/{id}/sticker/prepare (StickerPrepare mode).
func (s *Server) prepare(w http.ResponseWriter, r *http.Request, sess *session, _ decision) {
	v := s.pathVehicle(r)
	if s.cfg.StickerMode != StickerPrepare || v == nil {
		s.errorPage(w, r, http.StatusNotFound, "Page not found", "There is no page at this address.")
		return
	}
	if s.isGone(w, r, v) {
		return
	}
	token := r.Header.Get("X-CSRF-Token")
	if token == "" {
		token = r.PostFormValue("csrf")
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(sess.csrf)) != 1 {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "missing or wrong CSRF token"})
		return
	}
	sess.mu.Lock()
	sess.prepared[v.ID] = true
	sess.mu.Unlock()
	s.count(&s.st.Prepared)
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "url": v.StickerPath()})
}

// sticker serves GET /vehicle/{id}/sticker.pdf.
func (s *Server) sticker(w http.ResponseWriter, r *http.Request, sess *session, d decision) {
	v := s.pathVehicle(r)
	if v == nil {
		s.errorPage(w, r, http.StatusNotFound, "Vehicle not found", "There is no vehicle with this ID in the inventory.")
		return
	}
	if s.isGone(w, r, v) {
		return
	}
	if s.cfg.StickerMode == StickerPrepare {
		sess.mu.Lock()
		ok := sess.prepared[v.ID]
		delete(sess.prepared, v.ID)
		sess.mu.Unlock()
		if !ok {
			s.count(&s.st.NotPrepared)
			http.Error(w, "409 Conflict: window sticker not prepared; POST "+v.PreparePath()+" first", http.StatusConflict)
			return
		}
	}
	if err := s.wait(r.Context(), d.sticker); err != nil {
		s.interrupted(w, err)
		return
	}
	served := v
	if s.cfg.Interference {
		sess.mu.Lock()
		cur := sess.current
		sess.mu.Unlock()
		if cur != 0 && cur != v.ID {
			served = s.vehicle(cur)
		}
	}
	// The served vehicle's own fault decides what its sticker is; only an
	// ordinary sticker may be swapped for a mention sticker or truncated.
	kind := s.special[served.ID-1]
	var mention *Vehicle
	if kind == ordinary && d.mention && served == v {
		mention = s.mentionOther(v, d.pick)
	}
	var pdf []byte
	var err error
	switch {
	case kind == huge: // streamed below
	case kind == crafted || kind == pageBomb:
		pdf = craftedSticker(s.shownVIN(served.VIN), kind == pageBomb)
	case mention != nil:
		served = mention
		pdf, err = renderSticker(mention, stickerText{VIN: s.shownVIN(mention.VIN),
			Footer: "Replaces window sticker of VIN " + s.shownVIN(v.VIN) + "."})
	default:
		pdf, err = s.stickerPDF(served)
	}
	if err != nil {
		s.log.Error("sticker", "vehicle", served.ID, "err", err)
		http.Error(w, "could not generate the window sticker", http.StatusInternalServerError)
		return
	}
	truncate := d.truncate && kind == ordinary
	body := pdf
	if truncate {
		body = pdf[:int(float64(len(pdf))*d.keep)]
	}

	s.mu.Lock()
	s.st.Stickers++
	s.st.StickersByVehicle[v.ID]++
	if s.st.StickersByVehicle[v.ID] > 1 {
		s.st.DuplicateStickers++
	}
	if served != v {
		s.st.WrongStickers++
	}
	if mention != nil {
		s.st.MentionStickers++
	}
	if truncate {
		s.st.TruncatedStickers++
	}
	switch kind {
	case huge:
		s.st.HugeStickers++
	case crafted, pageBomb:
		s.st.CraftedStickers++
	}
	s.mu.Unlock()
	switch {
	case mention != nil:
		s.log.Info("fault: mention sticker", "session", sess.n, "requested", v.ID, "served", served.ID)
	case served != v:
		s.log.Info("fault: wrong sticker", "session", sess.n, "requested", v.ID, "served", served.ID)
	}
	switch kind {
	case huge:
		s.log.Info("fault: huge sticker", "vehicle", served.ID, "bytes", hugeStickerSize)
	case crafted:
		s.log.Info("fault: crafted sticker", "vehicle", served.ID, "pdf", "page tree loop", "bytes", len(pdf))
	case pageBomb:
		s.log.Info("fault: crafted sticker", "vehicle", served.ID, "pdf", "page count bomb", "bytes", len(pdf))
	}
	if truncate {
		s.log.Info("fault: truncated sticker", "vehicle", v.ID, "sent", len(body), "of", len(pdf))
	}

	h := w.Header()
	h.Set("Content-Type", "application/pdf")
	disp := "attachment"
	if s.cfg.StickerMode == StickerInline {
		disp = "inline"
	}
	h.Set("Content-Disposition", disp+`; filename="`+StickerFilename+`"`)
	h.Set("Cache-Control", "private, no-store")
	if kind == huge {
		s.streamHuge(w, r, served)
		return
	}
	if !truncate || s.cfg.TruncateAbort {
		h.Set("Content-Length", strconv.Itoa(len(pdf)))
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	if truncate && s.cfg.TruncateAbort {
		// Flush through the wrapper of Debug logging too, then drop the
		// connection (net/http does not log it).
		_ = http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	}
}

// hugeStickerSize is the length of a huge sticker (Config.HugeVehicles).
const hugeStickerSize = 200 << 20

// hugeChunk is what a huge sticker is made of after its header: 64 KB of
// lines of hex digits, as in an ASCIIHexDecode image stream. It has no
// '%', so no "%%EOF".
var hugeChunk = sync.OnceValue(func() []byte {
	b := make([]byte, 64<<10)
	x := uint64(0x6875_6765) // "huge"
	for i := range b {
		if i%129 == 128 {
			b[i] = '\n'
			continue
		}
		x = splitmix(x)
		b[i] = "0123456789ABCDEF"[x&15]
	}
	return b
})

// streamHuge writes the huge sticker of v: hugeStickerSize bytes without a
// Content-Length, a PDF header and the start of an image stream that never
// ends (there is no %%EOF). It writes a chunk at a time and stops as soon
// as the client goes away (it returns) or the server closes (it drops the
// connection, so that the body does not end cleanly).
func (s *Server) streamHuge(w http.ResponseWriter, r *http.Request, v *Vehicle) {
	head := fmt.Appendf(nil, "%%PDF-1.7\n%%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Title (Window Sticker %s) >>\nendobj\n"+
		"2 0 obj\n<< /Type /XObject /Subtype /Image /Width 12000 /Height 5800 /ColorSpace /DeviceRGB"+
		" /BitsPerComponent 8 /Filter /ASCIIHexDecode /Length %d >>\nstream\n", s.shownVIN(v.VIN), hugeStickerSize)
	s.mu.Lock()
	s.hugeActive++
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		s.mu.Lock()
		s.hugeActive--
		s.mu.Unlock()
		return
	}
	sent, why := 0, ""
	for b := head; sent < hugeStickerSize; b = hugeChunk() {
		select {
		case <-r.Context().Done():
			why = "client gone"
		case <-s.closing:
			why = "server closing"
		default:
		}
		if why != "" {
			break
		}
		b = b[:min(len(b), hugeStickerSize-sent)]
		n, err := w.Write(b)
		sent += n
		s.mu.Lock()
		s.st.HugeBytes += int64(n)
		s.mu.Unlock()
		if err != nil {
			why = "client gone"
			select {
			case <-s.closing: // Close closed the connection
				why = "server closing"
			default:
			}
			break
		}
	}
	s.mu.Lock()
	s.hugeActive--
	s.mu.Unlock()
	if why == "" {
		s.log.Info("huge sticker sent", "vehicle", v.ID, "bytes", sent)
		return
	}
	s.log.Info("huge sticker stopped", "vehicle", v.ID, "bytes", sent, "of", hugeStickerSize, "reason", why)
	if why == "server closing" {
		panic(http.ErrAbortHandler) // drop the connection: the body must not look complete
	}
}

// mentionOther picks the vehicle whose sticker is served instead of v's
// for [Config.MentionRate]: the pick-th share of the other vehicles, from
// v on, or the next one after it that has no fault of its own; nil if
// there is none.
func (s *Server) mentionOther(v *Vehicle, pick float64) *Vehicle {
	n := len(s.vehicles)
	if n < 2 {
		return nil
	}
	skip := 1 + int(pick*float64(n-1)) // 1..n-1
	for k := range n - 1 {
		i := (v.ID - 1 + 1 + (skip-1+k)%(n-1)) % n // never v
		if s.special[i] == ordinary {
			return &s.vehicles[i]
		}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// cp1252 returns the function that translates UTF-8 text to the encoding
// of the PDF core fonts (Windows-1252). fpdf's own translator shares a
// buffer between calls, so it cannot serve concurrent renders, and building
// one per sticker is a good part of a sticker's cost.
func cp1252() func(string) string { return toCP1252 }

// cp1252High maps the runes Windows-1252 puts in 0x80–0x9F.
var cp1252High = map[rune]byte{
	'€': 0x80, '‚': 0x82, 'ƒ': 0x83, '„': 0x84, '…': 0x85, '†': 0x86, '‡': 0x87, 'ˆ': 0x88, '‰': 0x89,
	'Š': 0x8a, '‹': 0x8b, 'Œ': 0x8c, 'Ž': 0x8e, '‘': 0x91, '’': 0x92, '“': 0x93, '”': 0x94, '•': 0x95,
	'–': 0x96, '—': 0x97, '˜': 0x98, '™': 0x99, 'š': 0x9a, '›': 0x9b, 'œ': 0x9c, 'ž': 0x9e, 'Ÿ': 0x9f,
}

func toCP1252(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		switch c, ok := cp1252High[r]; {
		case r < 0x80 || (r >= 0xa0 && r <= 0xff):
			b = append(b, byte(r))
		case ok:
			b = append(b, c)
		default:
			b = append(b, '?')
		}
	}
	return string(b)
}

// prewarm generates every sticker in the background, one at a time, until
// done or the server closes.
func (s *Server) prewarm() {
	for i := range s.vehicles {
		select {
		case <-s.closing:
			return
		default:
		}
		if _, err := s.stickerPDF(&s.vehicles[i]); err != nil {
			s.log.Error("prewarm", "vehicle", s.vehicles[i].ID, "err", err)
		}
	}
	s.log.Debug("prewarm done", "stickers", len(s.vehicles))
}

// stickerEpoch is the creation date written into every sticker, so that a
// vehicle's PDF is byte-for-byte the same on every run.
var stickerEpoch = time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)

// stickerText is what a sticker says beyond the vehicle's own data.
type stickerText struct {
	VIN    string // the VIN as written: v.VIN, or in lower case (Config.LowercaseVINs)
	Footer string // an extra line at the foot of the page, "" for none
}

// renderSticker draws a Monroney-style window sticker for v: US Letter,
// compressed streams, the vehicle photo embedded. The VIN is written as
// t.VIN everywhere but in the barcode: Code 39 has no lower case, so the
// bars always encode v.VIN.
func renderSticker(v *Vehicle, t stickerText) ([]byte, error) {
	vin := t.VIN
	pdf := fpdf.New("P", "mm", "Letter", "")
	pdf.SetCompression(true)
	pdf.SetCreationDate(stickerEpoch)
	pdf.SetModificationDate(stickerEpoch)
	pdf.SetCatalogSort(true)
	pdf.SetTitle("Window Sticker "+vin, false)
	pdf.SetSubject(v.Title(), false)
	pdf.SetAuthor("Summit Motors DealerNet", false)
	pdf.SetCreator("pagefleet examples/portal", false)
	pdf.SetKeywords("VIN "+vin, false)
	pdf.SetMargins(10, 10, 10)
	pdf.SetAutoPageBreak(false, 0)
	pdf.AddPage()
	tr := cp1252()

	// Header band.
	pdf.SetFillColor(15, 27, 42)
	pdf.Rect(10, 10, 195.9, 18, "F")
	pdf.SetTextColor(255, 255, 255)
	pdf.SetFont("Helvetica", "B", 16)
	pdf.SetXY(14, 12)
	pdf.CellFormat(120, 8, "WINDOW STICKER", "", 0, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 8)
	pdf.SetXY(120, 12)
	pdf.MultiCell(82, 3.6, tr("THIS LABEL IS AFFIXED PURSUANT TO THE FEDERAL AUTOMOBILE INFORMATION DISCLOSURE ACT. LABEL TO BE REMOVED BY PURCHASER ONLY."), "", "R", false)
	pdf.SetTextColor(0, 0, 0)

	// Vehicle identification.
	pdf.SetXY(10, 31)
	pdf.SetFont("Helvetica", "B", 15)
	pdf.CellFormat(130, 7, tr(strings.ToUpper(v.Title())), "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 9.5)
	info := [][2]string{
		{"VIN", vin},
		{"Body", v.Body},
		{"Engine", v.Engine},
		{"Transmission", v.Transmission},
		{"Drivetrain", driveName(v.Drivetrain)},
		{"Exterior", v.ExteriorColor},
		{"Interior", v.InteriorColor},
		{"Stock", v.StockNumber},
	}
	for _, kv := range info {
		pdf.SetX(10)
		pdf.SetFont("Helvetica", "B", 9.5)
		pdf.CellFormat(28, 5, tr(kv[0]+":"), "", 0, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", 9.5)
		if kv[0] == "VIN" {
			pdf.SetFont("Courier", "B", 11)
		}
		pdf.CellFormat(100, 5, tr(kv[1]), "", 1, "L", false, 0, "")
	}
	pdf.RegisterImageOptionsReader("photo", fpdf.ImageOptions{ImageType: "JPG"}, bytes.NewReader(stickerPhoto()))
	pdf.ImageOptions("photo", 142, 31, 63.9, 42.6, false, fpdf.ImageOptions{ImageType: "JPG"}, 0, "")

	// Two columns: standard equipment | price information.
	top := 82.0
	pdf.SetDrawColor(15, 27, 42)
	pdf.SetLineWidth(0.4)
	pdf.Line(10, top-2, 205.9, top-2)
	pdf.SetXY(10, top)
	pdf.SetFont("Helvetica", "B", 10.5)
	pdf.CellFormat(95, 6, "STANDARD EQUIPMENT", "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 8.5)
	for _, e := range standardEquipment(v) {
		pdf.SetX(12)
		pdf.CellFormat(93, 4.4, tr("• "+e), "", 1, "L", false, 0, "")
	}
	pdf.SetXY(110, top)
	pdf.SetFont("Helvetica", "B", 10.5)
	pdf.CellFormat(95.9, 6, "PRICE INFORMATION", "", 1, "L", false, 0, "")
	line := func(label, amount string, bold bool) {
		pdf.SetX(110)
		style := ""
		if bold {
			style = "B"
		}
		pdf.SetFont("Helvetica", style, 9)
		pdf.CellFormat(66, 5, tr(label), "", 0, "L", false, 0, "")
		pdf.CellFormat(29.9, 5, amount, "", 1, "R", false, 0, "")
	}
	line("Base Price: "+v.Trim, money(v.BaseMSRP), true)
	pdf.SetX(110)
	pdf.SetFont("Helvetica", "B", 8.5)
	pdf.CellFormat(95.9, 5, "OPTIONAL EQUIPMENT", "", 1, "L", false, 0, "")
	if len(v.Options) == 0 {
		line("None", "", false)
	}
	for _, o := range v.Options {
		line("  "+o.Name, money(o.Price), false)
	}
	line("Destination Charge", money(v.Destination), false)
	y := pdf.GetY() + 2
	pdf.Line(110, y, 205.9, y)
	pdf.SetXY(110, y+2)
	pdf.SetFont("Helvetica", "B", 13)
	pdf.CellFormat(60, 8, "TOTAL MSRP", "", 0, "L", false, 0, "")
	pdf.CellFormat(35.9, 8, money(v.MSRP), "", 1, "R", false, 0, "")

	// Fuel economy box.
	fy := 180.0
	pdf.SetFillColor(232, 240, 248)
	pdf.Rect(10, fy, 195.9, 44, "FD")
	pdf.SetXY(13, fy+2)
	pdf.SetFont("Helvetica", "B", 11)
	pdf.CellFormat(120, 6, "Fuel Economy and Environment", "", 1, "L", false, 0, "")
	combined := (v.MPGCity*55 + v.MPGHighway*45) / 100
	pdf.SetXY(13, fy+10)
	pdf.SetFont("Helvetica", "B", 30)
	pdf.CellFormat(24, 14, strconv.Itoa(combined), "", 0, "C", false, 0, "")
	pdf.SetFont("Helvetica", "", 9)
	pdf.MultiCell(60, 4.5, tr(fmt.Sprintf("combined city/hwy MPG\n%d city · %d highway", v.MPGCity, v.MPGHighway)), "", "L", false)
	pdf.SetXY(13, fy+26)
	gallons := 100.0 / float64(combined)
	pdf.MultiCell(100, 4.2, tr(fmt.Sprintf("%.1f gallons per 100 miles. Annual fuel cost $%s, based on 15,000 miles a year at $3.40 per gallon. Actual results will vary for many reasons, including driving conditions and how you drive and maintain your vehicle.",
		gallons, comma(int(15000/float64(combined)*3.40)))), "", "L", false)
	// Safety stars.
	pdf.SetXY(125, fy+4)
	pdf.SetFont("Helvetica", "B", 9)
	pdf.CellFormat(78, 5, "Government 5-Star Safety Ratings", "", 1, "L", false, 0, "")
	stars := 4 + (v.ID % 2)
	for i, label := range []string{"Overall Vehicle Score", "Frontal Crash", "Side Crash", "Rollover"} {
		pdf.SetXY(125, fy+10+float64(i)*7)
		pdf.SetFont("Helvetica", "", 8.5)
		pdf.CellFormat(40, 5, label, "", 0, "L", false, 0, "")
		n := stars
		if i == 3 {
			n = 4
		}
		for j := 0; j < 5; j++ {
			style := "D"
			if j < n {
				style = "FD"
			}
			pdf.SetFillColor(15, 27, 42)
			drawStar(pdf, 168+float64(j)*6, fy+12.5+float64(i)*7, 2.4, style)
		}
	}

	// Barcode of the VIN and the dealer box.
	by := 232.0
	code39(pdf, 10, by, 0.3, 14, v.VIN)
	pdf.SetXY(10, by+15)
	pdf.SetFont("Courier", "", 9)
	pdf.CellFormat(100, 4, "*"+vin+"*", "", 0, "L", false, 0, "")
	pdf.SetXY(130, by)
	pdf.SetFont("Helvetica", "B", 9)
	pdf.MultiCell(75.9, 4.5, "SOLD TO: SUMMIT MOTORS\n4200 Mountain View Parkway\nDenver, CO 80216\nShip via: Rail / Truck", "1", "L", false)

	// Fine print, and the extra footer line.
	pdf.SetXY(10, 256)
	pdf.SetFont("Helvetica", "", 6.5)
	pdf.SetTextColor(80, 80, 80)
	pdf.MultiCell(195.9, 3, tr("Manufacturer's suggested retail price includes manufacturer's recommended dealer preparation and transportation charges. "+
		"State and local taxes, license and title fees, and dealer-installed options and accessories are not included. "+
		"Ratings are based on the U.S. Department of Transportation's New Car Assessment Program. "+
		"This window sticker was generated for demonstration purposes by the pagefleet demo dealer portal; the vehicle, its equipment and prices are fictional. "+
		"Vehicle identification number "+vin+"."), "", "L", false)
	if t.Footer != "" {
		pdf.SetXY(10, pdf.GetY()+1.5)
		pdf.SetFont("Helvetica", "B", 7.5)
		pdf.SetTextColor(0, 0, 0)
		pdf.CellFormat(195.9, 4, tr(t.Footer), "", 1, "L", false, 0, "")
	}

	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("dealer: sticker for vehicle %d: %w", v.ID, err)
	}
	return buf.Bytes(), nil
}

// drawStar draws a five-pointed star centred on (x, y).
func drawStar(pdf *fpdf.Fpdf, x, y, r float64, style string) {
	pts := make([]fpdf.PointType, 0, 10)
	for i := 0; i < 10; i++ {
		rr := r
		if i%2 == 1 {
			rr = r * 0.45
		}
		a := -90.0 + 36.0*float64(i)
		s, c := sincosDeg(a)
		pts = append(pts, fpdf.PointType{X: x + rr*c, Y: y + rr*s})
	}
	pdf.Polygon(pts, style)
}

// code39 draws text as a Code 39 barcode; narrow bars are unit wide, wide
// ones three units.
func code39(pdf *fpdf.Fpdf, x, y, unit, h float64, text string) {
	pdf.SetFillColor(0, 0, 0)
	for _, ch := range "*" + text + "*" {
		pat := code39Table[ch]
		for i, wide := range pat {
			wdt := unit
			if wide == '1' {
				wdt = 3 * unit
			}
			if i%2 == 0 {
				pdf.Rect(x, y, wdt, h, "F")
			}
			x += wdt
		}
		x += unit // gap between characters
	}
}

// code39Table gives each character's nine elements (bar, space, bar, …),
// 1 for wide.
var code39Table = map[rune]string{
	'0': "000110100", '1': "100100001", '2': "001100001", '3': "101100000", '4': "000110001",
	'5': "100110000", '6': "001110000", '7': "000100101", '8': "100100100", '9': "001100100",
	'A': "100001001", 'B': "001001001", 'C': "101001000", 'D': "000011001", 'E': "100011000",
	'F': "001011000", 'G': "000001101", 'H': "100001100", 'I': "001001100", 'J': "000011100",
	'K': "100000011", 'L': "001000011", 'M': "101000010", 'N': "000010011", 'O': "100010010",
	'P': "001010010", 'Q': "000000111", 'R': "100000110", 'S': "001000110", 'T': "000010110",
	'U': "110000001", 'V': "011000001", 'W': "111000000", 'X': "010010001", 'Y': "110010000",
	'Z': "011010000", '*': "010010100",
}
