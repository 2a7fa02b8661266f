package download_test

import (
	"bytes"
	"context"
	"encoding/ascii85"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
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
	ids := download.NewIDs(vinA, vinB)
	for _, tt := range hostile() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check(t, download.PDF(), tt.data, nil, "")
			check(t, download.PDFContains(vinA), tt.data, tt.want, tt.detail)
			check(t, download.PDFOf(vinA, ids), tt.data, tt.want, tt.detail)
		})
	}
}

func TestPDFCaseAndSpace(t *testing.T) {
	t.Parallel()
	lower := strings.ToLower(vinA)
	ids := download.NewIDs(strings.ToLower(vinA), vinB)
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
			check(t, download.PDFOf(tt.want, ids), tt.data, nil, "")
		})
	}
}

// TestPDFOfFooter is another vehicle's sticker that mentions the asked VIN
// in its footer: PDFContains takes it, PDFOf does not.
func TestPDFOfFooter(t *testing.T) {
	t.Parallel()
	data := onePage("WINDOW STICKER", "VIN: "+vinB, "Replaces the sticker of VIN "+strings.ToLower(vinA)+".")
	ids := download.NewIDs(vinA, vinB, "5YJ3E1EA7KF317000")

	check(t, download.PDFContains(vinA), data, nil, "")
	check(t, download.PDFOf(vinA, ids), data, download.ErrWrongItem, fmt.Sprintf("contains %q but also the ID of another item: %s", vinA, vinB))
	check(t, download.PDFOf(vinA, ids), data, download.ErrContentMismatch, vinB)
	// B's own file names A too: PDFOf wants a file of one item only.
	check(t, download.PDFOf(vinB, ids), data, download.ErrWrongItem, vinA)
	// Without the known IDs, PDFOf is PDFContains.
	check(t, download.PDFOf(vinA, nil), data, nil, "")

	other := onePage("VIN: " + vinB)
	check(t, download.PDFOf(vinA, ids), other, download.ErrWrongItem, fmt.Sprintf("does not contain %q but the ID of another item: %s", vinA, vinB))
	check(t, download.PDFOf(vinA, download.NewIDs(vinA)), other, download.ErrContentMismatch, "does not contain")
	check(t, download.PDFOf(" ", ids), other, download.ErrContentMismatch, "no ID to look for")
	if !errors.Is(download.ErrWrongItem, download.ErrContentMismatch) {
		t.Error("ErrWrongItem does not wrap ErrContentMismatch")
	}
}

// TestPDFOfNested is IDs inside other IDs, and IDs of different lengths.
func TestPDFOfNested(t *testing.T) {
	t.Parallel()
	ids := download.NewIDs("ABC1", "ABC12", "C12X", "STK-77", vinA)
	for _, tt := range []struct {
		text   string
		id     string
		want   error
		detail string
	}{
		{"Stock ABC12", "ABC12", nil, ""},                                     // ABC1 is part of ABC12
		{"Stock ABC12", "ABC1", download.ErrWrongItem, "another item: ABC12"}, // and ABC1 is not named
		{"Stock ABC1 and ABC12", "ABC1", download.ErrWrongItem, "contains \"ABC1\" but also the ID of another item: ABC12"},
		{"Stock ABC12X", "ABC12", download.ErrWrongItem, "C12X"}, // overlapping, not inside: both named
		{"Stock ABC1", "ABC1", nil, ""},
		{"stk-77 VIN " + vinA, vinA, download.ErrWrongItem, "STK-77"},
		{"stk-77 VIN " + vinA, "stk-77", download.ErrWrongItem, vinA},
		{"VIN " + vinA + "ABC1", vinA, download.ErrWrongItem, "ABC1"},
		{"XYZ9", "XYZ9", nil, ""},                                       // not known: still found
		{"ABC12", "BC12", download.ErrWrongItem, "another item: ABC12"}, // an unknown ID inside a known one is not there
		{"", "ABC1", download.ErrContentMismatch, `it starts ""`},
	} {
		t.Run(tt.id+" in "+tt.text, func(t *testing.T) {
			t.Parallel()
			check(t, download.PDFOf(tt.id, ids), onePage(tt.text), tt.want, tt.detail)
		})
	}
}

// TestPDFOfManyOthers lists the first five other IDs found, sorted.
func TestPDFOfManyOthers(t *testing.T) {
	t.Parallel()
	var lines []string
	ids := download.NewIDs(vinA)
	for i := range 8 {
		id := fmt.Sprintf("STOCK-%04d", 9-i)
		ids.Add(id)
		lines = append(lines, id)
	}
	check(t, download.PDFOf(vinA, ids), onePage(lines...), download.ErrWrongItem,
		"the IDs of other items: STOCK-0002, STOCK-0003, STOCK-0004, STOCK-0005, STOCK-0006 and 3 more")
}

func TestIDs(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		add  []string
		len  int
		has  []string // Contains
		hasn []string // !Contains
	}{
		{nil, 0, nil, []string{"", "A"}},
		{[]string{"1ftew1e53kfa12345"}, 1, []string{vinA, "1FTEW1E53KFA12345 ", "1ftew 1e53\tkfa\n12345"}, []string{"1FTEW1E53KFA1234"}},
		{[]string{vinA, strings.ToLower(vinA), " " + vinA + "\u00a0"}, 1, []string{vinA}, nil},
		{[]string{"", " ", "\t\n", "\u200b", "\u00ad"}, 0, nil, []string{""}},
		{[]string{"stk\u00ad-\u200b77"}, 1, []string{"STK-77"}, []string{"STK77"}},
		{[]string{"straße", "ÆØÅ-1"}, 2, []string{"STRAßE", "æøå-1"}, []string{"STRASSE"}},
		{[]string{"a", "b", "A"}, 2, []string{"a", "B"}, []string{"ab"}},
	} {
		t.Run(fmt.Sprint(tt.add), func(t *testing.T) {
			t.Parallel()
			s := download.NewIDs(tt.add...)
			if s.Len() != tt.len {
				t.Errorf("Len = %d; want %d", s.Len(), tt.len)
			}
			for _, id := range tt.has {
				if !s.Contains(id) {
					t.Errorf("does not contain %q", id)
				}
			}
			for _, id := range tt.hasn {
				if s.Contains(id) {
					t.Errorf("contains %q", id)
				}
			}
		})
	}
	var zero download.IDs
	if zero.Len() != 0 || zero.Contains("A") {
		t.Error("the zero IDs is not empty")
	}
	zero.Add("a")
	if !zero.Contains("A") {
		t.Error("the zero IDs takes no ID")
	}
}

// TestIDsGrow adds IDs while validators use the set, as a job does while
// the inventory is still being listed (run with -race).
func TestIDsGrow(t *testing.T) {
	t.Parallel()
	ids := download.NewIDs(vinA)
	data := onePage("VIN: "+vinA, "Also VIN "+vinB)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 2000 {
			ids.Add(fmt.Sprintf("1HGCM82633A%06d", i))
		}
		ids.Add(vinB)
	})
	v := download.PDFOf(vinA, ids)
	for range 20 {
		wg.Go(func() {
			if err := v(bytes.NewReader(data), int64(len(data))); err != nil && !errors.Is(err, download.ErrWrongItem) {
				t.Errorf("err = %v", err)
			}
		})
	}
	wg.Wait()
	if ids.Len() != 2002 {
		t.Errorf("Len = %d; want 2002", ids.Len())
	}
	check(t, v, data, download.ErrWrongItem, vinB)
}

// TestIDsWhileListing: while the IDs are still being listed, a file that
// names its item and what may be another item's ID not listed yet can't be
// judged: ErrUnlisted. Await waits for the listing, then judges: another
// item's file once that ID is listed, the item's own if it never is. A
// word without a digit, or of another length, is no ID.
func TestIDsWhileListing(t *testing.T) {
	t.Parallel()
	ids := download.NewIDs(vinA)
	ids.SetGrowing(true)
	v := download.PDFOf(vinA, ids)
	own := onePage("VIN: "+vinA, "INTERNATIONALIZED", "Part 12345678")
	check(t, v, own, nil, "")
	mention := onePage("VIN: "+vinB, "replaces the sticker of "+vinA)
	check(t, v, mention, download.ErrUnlisted, vinB)
	hidden := onePage("VIN: "+vinB[:5]+"\xad"+vinB[5:], "replaces "+vinA) // a soft hyphen (WinAnsi)
	check(t, v, hidden, download.ErrUnlisted, vinB)

	// The listing ends without vinB: an ID of no item of the job.
	ctx := t.Context()
	quiet := download.NewIDs(vinA)
	quiet.SetGrowing(true)
	go quiet.SetGrowing(false)
	check(t, quiet.Await(ctx, download.PDFOf(vinA, quiet)), mention, nil, "")

	// The listing finds vinB: another item's file.
	go func() {
		ids.Add(vinB)
		ids.SetGrowing(false)
	}()
	check(t, ids.Await(ctx, v), mention, download.ErrWrongItem, vinB)
	check(t, v, own, nil, "")

	// An attempt that ends first keeps ErrUnlisted.
	slow := download.NewIDs(vinA)
	slow.SetGrowing(true)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	check(t, slow.Await(cctx, download.PDFOf(vinA, slow)), mention, download.ErrUnlisted, vinB)
	if err := slow.Await(cctx, download.PDFOf(vinA, slow))(bytes.NewReader(mention), int64(len(mention))); !errors.Is(err, context.Canceled) {
		t.Errorf("a wait cut short: %v; want it to say so (context.Canceled): a shutdown is no bad file", err)
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
	ids := download.NewIDs(vins...)
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
		{"demo sticker", sticker, download.PDFOf(vins[0], ids), nil, ""},
		{"demo sticker, lower-case VIN", sticker, download.PDFContains(strings.ToLower(vins[0])), nil, ""},
		{"demo sticker of another vehicle", sticker, download.PDFOf(vins[1], ids), download.ErrWrongItem, vins[0]},
		{"demo sticker, its words", sticker, download.PDFContains("WINDOW STICKER"), nil, ""},
		{"sessiontest PDF", sessiontest.PDF("Window sticker", "VIN: "+vinA), download.PDFOf(vinA, ids), nil, ""},
		{"chromium", chromium, download.PDFContains("VIN: " + vinA), nil, ""},
		{"chromium, accents", chromium, download.PDFContains("ärger ÜBER öl"), nil, ""},
		{"chromium, Greek and Cyrillic", chromium, download.PDFContains("Ελληνικά — Русский"), nil, ""},
		{"chromium, the footer", chromium, download.PDFOf(vinA, download.NewIDs(vinA, vinB)), download.ErrWrongItem, vinB},
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
