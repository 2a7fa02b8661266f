package download_test

import (
	"bytes"
	"encoding/ascii85"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/go-pdf/fpdf"

	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/examples/portal/dealer"
	"github.com/pagefleet/pagefleet/session/sessiontest"
)

// check runs v on data and compares the error with want (nil: valid) and
// its Detail with detail.
func check(t *testing.T, v download.Validator, data []byte, want error, detail string) {
	t.Helper()
	err := v(bytes.NewReader(data), int64(len(data)))
	if want == nil {
		if err != nil {
			t.Fatalf("rejected: %v", err)
		}
		return
	}
	var inv *download.InvalidError
	if !errors.Is(err, want) || !errors.As(err, &inv) {
		t.Fatalf("err = %v; want an *InvalidError wrapping %v", err, want)
	}
	if !strings.Contains(inv.Detail, detail) {
		t.Fatalf("detail %q does not mention %q", inv.Detail, detail)
	}
}

// TestPDFHostile runs the validators on files crafted to make a text
// extractor loop, recurse or allocate without end: each must come back,
// with the error the bound it hit gives.
func TestPDFHostile(t *testing.T) {
	t.Parallel()
	for _, tt := range hostile() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check(t, download.PDF(), tt.data, nil, "")
			check(t, download.PDFContains(vinA), tt.data, tt.want, tt.detail)
		})
	}
}

func TestPDFCaseAndSpace(t *testing.T) {
	t.Parallel()
	lower := strings.ToLower(vinA)
	for _, tt := range []struct {
		name string
		data []byte
		want string
	}{
		{"lower-case in the file", onePage("VIN: " + lower), vinA},
		{"lower-case asked", onePage("VIN: " + vinA), lower},
		{"split over runs", craft("", catalog, pages, page, helv, stream("", "BT /F1 12 Tf [(VIN 1FTEW)-120(1e53)] TJ (k) Tj 20 0 Td (FA1 2345) Tj ET")), vinA},
		{"split over lines", onePage("VIN 1FTEW1E53", "KFA12345"), vinA},
		{"split over content streams", craft("", catalog, pages,
			"<</Type /Page /Parent 2 0 R /Resources <</Font <</F1 4 0 R>>>> /Contents [5 0 R 6 0 R]>>", helv,
			stream("", "BT /F1 12 Tf (VIN 1FTEW1E5"), stream("", "3KFA12345) Tj ET")), vinA},
		{"asked with spaces", onePage("VIN: " + vinA), " 1ftew 1e53 kfa12345 "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check(t, download.PDFContains(tt.want), tt.data, nil, "")
		})
	}
}

func a85(s string) []byte {
	b := make([]byte, ascii85.MaxEncodedLen(len(s)))
	return append(b[:ascii85.Encode(b, []byte(s))], "~>"...)
}

// TestPDFReal runs the validators on PDFs as producers make them.
func TestPDFReal(t *testing.T) {
	t.Parallel()
	srv, err := dealer.New(dealer.Config{Vehicles: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	var vins []string
	for _, v := range srv.Vehicles() {
		vins = append(vins, v.VIN)
	}
	sticker, err := srv.StickerPDF(1)
	if err != nil {
		t.Fatal(err)
	}

	chromium, err := os.ReadFile("testdata/chromium-sticker.pdf") // Skia: Type0 fonts with ToUnicode maps
	if err != nil {
		t.Fatal(err)
	}

	var encrypted bytes.Buffer // RC4, an owner password only
	doc := fpdf.New("P", "mm", "A4", "")
	doc.SetProtection(fpdf.CnProtectPrint, "", "owner")
	doc.AddPage()
	doc.SetFont("Helvetica", "", 14)
	doc.Cell(0, 10, "VIN: "+vinA)
	if err := doc.Output(&encrypted); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name   string
		data   []byte
		v      download.Validator
		want   error
		detail string
	}{
		{"demo sticker", sticker, download.PDFContains(vins[0]), nil, ""},
		{"demo sticker, lower-case VIN", sticker, download.PDFContains(strings.ToLower(vins[0])), nil, ""},
		{"demo sticker, its words", sticker, download.PDFContains("WINDOW STICKER"), nil, ""},
		{"sessiontest PDF", sessiontest.PDF("Window sticker", "VIN: "+vinA), download.PDFContains(vinA), nil, ""},
		{"chromium", chromium, download.PDFContains("VIN: " + vinA), nil, ""},
		{"chromium, accents", chromium, download.PDFContains("ärger ÜBER öl"), nil, ""},
		{"chromium, Greek and Cyrillic", chromium, download.PDFContains("Ελληνικά — Русский"), nil, ""},
		{"encrypted", encrypted.Bytes(), download.PDFContains(vinA), nil, ""},
		{"Differences", craft("", catalog, pages, page,
			"<</Type /Font /Subtype /Type1 /BaseFont /X /Encoding <</Type /Encoding /Differences [65 /V /I /N /afii10017 /Alpha /uni0041 /u1F600 /one.oldstyle]>>>>",
			stream("", "BT /F1 12 Tf (ABC DEFGH) Tj ET")), download.PDFContains("VIN А Α A 😀 1"), nil, ""},
		{"Type0 with ToUnicode", craft("", catalog, pages, page,
			"<</Type /Font /Subtype /Type0 /BaseFont /X /Encoding /Identity-H /ToUnicode 6 0 R>>",
			stream("", "BT /F1 12 Tf <0001000200030004> Tj [<0010>-300<00110012>] TJ <0020> Tj ET"),
			stream("", "/CIDInit /ProcSet findresource begin 12 dict begin begincmap 1 begincodespacerange <0000> <FFFF> endcodespacerange\n"+
				"2 beginbfchar <0001> <0056> <0002> <0049> endbfchar 2 beginbfrange <0003> <0004> <004E> <0010> <0012> [<0031> <0046> <0054>] endbfrange\n"+
				"1 beginbfchar <0020> <D83DDE00> endbfchar endcmap CMapName currentdict /CMap defineresource pop end end")),
			download.PDFContains("VINO 1FT 😀"), nil, ""},
		{"Type0 without ToUnicode", craft("", catalog, pages, page,
			"<</Type /Font /Subtype /Type0 /BaseFont /X /Encoding /Identity-H>>", stream("", "BT /F1 12 Tf <00410042> Tj ET")),
			download.PDFContains("AB"), download.ErrContentMismatch, "\ufffd\ufffd"},
		{"UCS-2 encoding", craft("", catalog, pages, page,
			"<</Type /Font /Subtype /Type0 /BaseFont /X /Encoding /UniGB-UCS2-H>>", stream("", "BT /F1 12 Tf <00560049004E> Tj ET")),
			download.PDFContains("VIN"), nil, ""},
		{"ASCIIHex and ASCII85 filters", craft("", catalog, pages, page, helv,
			stream("/Filter [/AHx /A85]", hex.EncodeToString(a85("BT /F1 12 Tf (VIN "+vinA+") Tj ET"))+">")),
			download.PDFContains(vinA), nil, ""},
		{"inline image", craft("", catalog, pages, page, helv,
			stream("", "BT /F1 12 Tf (VIN) Tj ET q BI /W 4 /H 1 /BPC 8 /CS /G ID \x00(EI)\xff EI Q BT /F1 12 Tf ("+vinA+") Tj ET")),
			download.PDFContains("VIN" + vinA), nil, ""},
		{"unsupported filter", craft("", catalog, pages, page, helv, stream("/Filter /LZWDecode", "\x80\x0b\x60\x50")),
			download.PDFContains(vinA), download.ErrNotPDF, "unreadable: unsupported stream filter /LZWDecode"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check(t, tt.v, tt.data, tt.want, tt.detail)
		})
	}
}
