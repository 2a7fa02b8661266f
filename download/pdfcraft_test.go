package download_test

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"strings"
	"sync"

	"github.com/pagefleet/pagefleet/download"
)

// craft builds a PDF whose object i+1 is objs[i], with a cross-reference
// table and a trailer with /Root 1 0 R and trailer's entries. In trailer,
// XREF stands for the offset of the table, for a /Prev that loops.
func craft(trailer string, objs ...string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	trailer = strings.ReplaceAll(trailer, "XREF", fmt.Sprint(xref))
	fmt.Fprintf(&b, "trailer\n<</Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, trailer, xref)
	return b.Bytes()
}

// stream is a stream object with data.
func stream(dict, data string) string {
	return fmt.Sprintf("<<%s /Length %d>>\nstream\n%s\nendstream", dict, len(data), data)
}

// flateStream is a compressed stream object with data.
func flateStream(dict string, data []byte) string {
	var b bytes.Buffer
	w, _ := zlib.NewWriterLevel(&b, zlib.BestCompression)
	_, _ = w.Write(data)
	_ = w.Close()
	return stream(dict+" /Filter /FlateDecode", b.String())
}

// Objects 1–4 of a one-page PDF: catalog, pages, page, font; object 5 is
// the page's content stream.
var (
	catalog  = "<</Type /Catalog /Pages 2 0 R>>"
	pages    = "<</Type /Pages /Kids [3 0 R] /Count 1>>"
	page     = "<</Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources <</Font <</F1 4 0 R>>>> /Contents 5 0 R>>"
	helv     = "<</Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding>>"
	showText = func(lines ...string) string {
		var b strings.Builder
		b.WriteString("BT /F1 12 Tf 72 720 Td 14 TL\n")
		for _, l := range lines {
			fmt.Fprintf(&b, "(%s) ' ", l)
		}
		b.WriteString("ET")
		return b.String()
	}
)

// onePage is a PDF of one page showing lines in Helvetica.
func onePage(lines ...string) []byte {
	return craft("", catalog, pages, page, helv, stream("", showText(lines...)))
}

const vinA, vinB = "1FTEW1E53KFA12345", "3GCUKREC0JG176543"

// hostileCase is a crafted PDF that once made text extraction run without
// end or in huge memory, and what the validators must make of it now.
type hostileCase struct {
	name   string
	data   []byte
	want   error  // nil: PDFContains(vinA) accepts it
	detail string // in the Detail of the error
	heavy  bool   // takes a limit's worth of work: no fuzz seed
}

// hostile returns the crafted PDFs, made once: some take a moment to
// compress.
var hostile = sync.OnceValue(func() []hostileCase {
	body := stream("", showText("VIN "+vinA))
	nested := func(depth int) string {
		return strings.Repeat("[", depth) + strings.Repeat("]", depth)
	}
	// A page tree whose nodes all have the next one twice as kids: 2^30
	// leaves out of 30 small objects, /Count a billion.
	bomb := []string{catalog}
	for i := range 30 {
		bomb = append(bomb, fmt.Sprintf("<</Type /Pages /Kids [%d 0 R %d 0 R] /Count %d>>", i+3, i+3, 1<<(30-i)))
	}
	bomb = append(bomb, "<</Type /Page /Resources <</Font <</F1 33 0 R>>>> /Contents 34 0 R>>", helv, body)
	// An honest page tree, as wide as it is long: more pages than checked.
	many := []string{catalog, ""}
	var kids strings.Builder
	for i := range 1001 {
		fmt.Fprintf(&kids, "%d 0 R ", i+3)
		many = append(many, "<</Type /Page /Parent 2 0 R>>")
	}
	many[1] = fmt.Sprintf("<</Type /Pages /Kids [%s] /Count 1001>>", kids.String())
	// Forms that show each other, and themselves.
	formPage := "<</Type /Page /Parent 2 0 R /Resources <</Font <</F1 4 0 R>> /XObject <</X 6 0 R /Y 7 0 R>>>> /Contents 5 0 R>>"
	formRes := "/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources <</Font <</F1 4 0 R>> /XObject <</X 6 0 R /Y 7 0 R>>>>"
	// A ToUnicode map with more entries than read.
	var bigCMap strings.Builder
	bigCMap.WriteString("begincmap 1 begincodespacerange <00> <FF> endcodespacerange\n")
	for i := range 300_000 {
		fmt.Fprintf(&bigCMap, "1 beginbfchar <%02X> <%04X> endbfchar\n", i%256, i%0xD000)
	}
	bigCMap.WriteString("endcmap")
	refChain := []string{catalog, pages, "<</Type /Page /Parent 2 0 R /Resources 6 0 R /Contents 5 0 R>>", helv, body}
	for i := range 20 {
		refChain = append(refChain, fmt.Sprintf("%d 0 R", i+7))
	}
	refChain = append(refChain, "<</Font <</F1 4 0 R>>>>")

	// Two pages of the same 60,000 empty content streams, each an object.
	var contents strings.Builder
	for i := range 60_000 {
		fmt.Fprintf(&contents, "%d 0 R ", i+6)
	}
	twoPages := "<</Type /Page /Parent 2 0 R /Resources <</Font <</F1 5 0 R>>>> /Contents [" + contents.String() + "]>>"
	streams := []string{catalog, "<</Type /Pages /Kids [3 0 R 4 0 R] /Count 2>>", twoPages, twoPages, helv}
	for range 60_000 {
		streams = append(streams, stream("", ""))
	}

	return []hostileCase{
		{"self-referencing page tree", craft("", catalog, "<</Type /Pages /Kids [2 0 R] /Count 1>>"),
			download.ErrNotPDF, "unreadable: the page tree reaches object 2 twice", false},
		{"page tree cycle through two nodes", craft("", catalog, "<</Type /Pages /Kids [3 0 R] /Count 2>>", "<</Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1>>"),
			download.ErrNotPDF, "unreadable: the page tree reaches object 2 twice", false},
		{"a billion pages from 30 objects", craft("", bomb...),
			download.ErrNotPDF, "unreadable: the page tree reaches object 32 twice", false},
		{"1001 pages", craft("", many...),
			download.ErrNotPDF, "too complex to check: more than 1000 pages", false},
		{"deeply nested arrays", craft("", catalog, pages, "<</Type /Page /Parent 2 0 R /MediaBox "+nested(100_000)+">>"),
			download.ErrNotPDF, "too complex to check: objects nested more than 64 deep", false},
		{"deeply nested dictionaries", craft("", catalog, pages, "<</Type /Page /Parent 2 0 R /A "+strings.Repeat("<</A ", 100_000)+strings.Repeat(">>", 100_000)+">>"),
			download.ErrNotPDF, "too complex to check: objects nested more than 64 deep", false},
		{"deeply nested arrays in content", craft("", catalog, pages, page, helv, stream("", "BT /F1 12 Tf "+nested(100_000)+" TJ ET")),
			download.ErrNotPDF, "too complex to check: objects nested more than 64 deep", false},
		{"xref /Prev to itself", craft("/Prev XREF", catalog, pages, page, helv, body), nil, "", false},
		{"xref /Prev loop of two sections", prevLoop(), nil, "", false},
		{"Flate bomb in content", craft("", catalog, pages, page, helv, flateStream("", make([]byte, 100<<20))),
			download.ErrNotPDF, "too complex to check: more than 67108864 bytes of streams", true},
		{"operator bomb", craft("", catalog, pages, page, helv, flateStream("", bytes.Repeat([]byte("q\n"), 9<<20))),
			download.ErrNotPDF, "too complex to check: more than 8388608 content operators", true},
		{"text bomb", craft("", catalog, pages, page, helv, flateStream("", bytes.Repeat([]byte("(AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA) Tj\n"), 200_000))),
			download.ErrNotPDF, "too complex to check: more than 8388608 bytes of text", true},
		{"huge literal string", craft("", catalog, pages, page, helv, stream("", "BT /F1 12 Tf ("+strings.Repeat("A", 2<<20)+") Tj ET")),
			download.ErrNotPDF, "too complex to check: a token longer than 1048576 bytes", true},
		{"huge xref subsection", []byte(strings.Replace(string(craft("", catalog, pages, page, helv, body)), "xref\n0 6\n", "xref\n0 1000000000\n", 1)),
			download.ErrNotPDF, "unreadable: bad cross-reference entry", false},
		{"forms that show each other", craft("", catalog, pages, formPage, helv, stream("", "/X Do"),
			stream(formRes, "/Y Do BT /F1 12 Tf (VIN "+vinA+") Tj ET /X Do"), stream(formRes, "/X Do /Y Do")), nil, "", false},
		{"resources that refer to themselves", craft("", catalog, pages, "<</Type /Page /Parent 2 0 R /Resources <</Font 6 0 R>> /Contents 5 0 R>>",
			"<</Type /Font /Subtype /Type1 /BaseFont /Helvetica /FontDescriptor 7 0 R>>", body, "<</F1 4 0 R /Again 6 0 R>>", "<</Font 4 0 R /Me 7 0 R>>"), nil, "", false},
		{"a cycle of references", craft("", catalog, pages, "<</Type /Page /Parent 2 0 R /Resources 6 0 R /Contents 5 0 R>>", helv, body, "7 0 R", "6 0 R"),
			download.ErrNotPDF, "unreadable: a chain of more than 16 references", false},
		{"a chain of 20 references", craft("", refChain...),
			download.ErrNotPDF, "unreadable: a chain of more than 16 references", false},
		{"stream /Length that refers to itself", craft("", catalog, pages, page, helv,
			"<</Length 5 0 R>>\nstream\nBT /F1 12 Tf (VIN "+vinA+") Tj ET\nendstream"), nil, "", false},
		{"ToUnicode map too big", craft("", catalog, pages, page,
			"<</Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R>>", body, flateStream("", []byte(bigCMap.String()))),
			download.ErrNotPDF, "too complex to check: more than 262144 ToUnicode entries", true},
		{"ToUnicode range of every 4-byte code", craft("", catalog, pages, page,
			"<</Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R>>", body,
			stream("", "1 begincodespacerange <00000000> <FFFFFFFF> endcodespacerange 1 beginbfrange <00000000> <FFFFFFFF> <0041> endbfrange")), nil, "", false},
		{"a million values", craft("", catalog, pages, "<</Type /Page /Parent 2 0 R /A ["+strings.Repeat("["+strings.Repeat("7 ", 60_000)+"] ", 18)+"]>>"),
			download.ErrNotPDF, "too complex to check: more than 1048576 values", true},
		{"120,000 content streams", craft("", streams...),
			download.ErrNotPDF, "too complex to check: more than 67108864 bytes of streams", true},
		{"object stream inside itself", objStmInItself(), download.ErrNotPDF, "unreadable: object stream 6 is itself in an object stream", false},
	}
})

// bombs are the heavy hostile cases scaled down to a fraction of their
// limit: the same shapes, cheap enough to fuzz. At full size each costs a
// limit's worth of work per execution (tenths of a second), and the
// mutator, which picks them as often as the others, would spend its time
// on them.
func bombs() [][]byte {
	var cmap strings.Builder
	cmap.WriteString("begincmap 1 begincodespacerange <00> <FF> endcodespacerange\n")
	for i := range 3000 {
		fmt.Fprintf(&cmap, "1 beginbfchar <%02X> <%04X> endbfchar\n", i%256, i)
	}
	cmap.WriteString("endcmap")
	return [][]byte{
		craft("", catalog, pages, page, helv, flateStream("", make([]byte, 4<<20))),
		craft("", catalog, pages, page, helv, flateStream("", bytes.Repeat([]byte("q\n"), 100_000))),
		craft("", catalog, pages, page, helv, flateStream("", bytes.Repeat([]byte("(AAAAAAAAAAAAAAAAAAAA) Tj\n"), 20_000))),
		craft("", catalog, pages, page, helv, stream("", "BT /F1 12 Tf ("+strings.Repeat("A", 64<<10)+") Tj ET")),
		craft("", catalog, pages, page, "<</Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R>>",
			stream("", showText("VIN "+vinA)), flateStream("", []byte(cmap.String()))),
	}
}

// prevLoop is a PDF with two cross-reference sections whose /Prev point
// at each other.
func prevLoop() []byte {
	b := craft("/Prev 0000000000", catalog, pages, page, helv, stream("", showText("VIN "+vinA)))
	first := bytes.LastIndex(b, []byte("\nxref\n")) + 1
	// A second section, an incremental update that changes nothing, and
	// the first's /Prev, of the same width, pointing at it.
	second := len(b)
	b = bytes.Replace(b, []byte("/Prev 0000000000"), fmt.Appendf(nil, "/Prev %010d", second), 1)
	return fmt.Appendf(b, "xref\n0 1\n0000000000 65535 f \ntrailer\n<</Size 6 /Root 1 0 R /Prev %d>>\nstartxref\n%d\n%%%%EOF\n", first, second)
}

// objStmInItself is a PDF whose cross-reference stream says object 6, the
// page's resources, is in object stream 6.
func objStmInItself() []byte {
	b := craft("", catalog, pages, "<</Type /Page /Parent 2 0 R /Resources 6 0 R /Contents 5 0 R>>", helv, stream("", showText("VIN "+vinA)))
	xref := bytes.LastIndex(b, []byte("\nxref\n")) + 1
	b = b[:xref]
	offs := make([]int, 6)
	for i := 1; i <= 5; i++ {
		offs[i] = bytes.Index(b, fmt.Appendf(nil, "\n%d 0 obj", i)) + 1
	}
	var rows []byte
	rows = append(rows, 0, 0, 0, 0)
	for _, off := range offs[1:] {
		rows = append(rows, 1, byte(off>>16), byte(off>>8), byte(off))
	}
	rows = append(rows, 2, 0, 0, 6, 1, 0, 0, 0) // 6: in stream 6, and 7: the xref stream itself
	start := len(b)
	rows[len(rows)-3], rows[len(rows)-2], rows[len(rows)-1] = byte(start>>16), byte(start>>8), byte(start)
	b = fmt.Appendf(b, "7 0 obj\n%s\nendobj\nstartxref\n%d\n%%%%EOF\n",
		stream("/Type /XRef /Size 8 /W [1 3 0] /Root 1 0 R", string(rows)), start)
	return b
}
