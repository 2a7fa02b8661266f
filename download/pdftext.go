package download

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// pdfText returns the text of the PDF in r, in page order, or an
// [*InvalidError] with Reason [ErrNotPDF]. Its work and memory are bounded
// by the limits in pdfparse.go whatever the file holds.
func pdfText(r io.ReaderAt, size int64) (text string, err error) {
	defer func() {
		// extract only panics on a bug; a bug must not take the process
		// down with it, nor pass a file.
		if p := recover(); p != nil {
			err = &InvalidError{Reason: ErrNotPDF, Detail: fmt.Sprintf("unreadable: internal error: %v", p)}
		}
	}()
	text, err = extract(r, size)
	if e, ok := err.(*pdfError); ok {
		if e.limit {
			return "", &InvalidError{Reason: ErrNotPDF, Detail: "too complex to check: " + e.msg}
		}
		return "", &InvalidError{Reason: ErrNotPDF, Detail: "unreadable: " + e.msg}
	}
	return text, err
}

// extract returns the text of the PDF in r, or a *pdfError. It panics on
// a bug only, so that tests can tell the two apart.
func extract(r io.ReaderAt, size int64) (text string, err error) {
	defer func() {
		if p := recover(); p != nil {
			e, ok := p.(*pdfError)
			if !ok {
				panic(p)
			}
			err = e
		}
	}()
	x := &extractor{
		d:     openDoc(r, size),
		fonts: make(map[uint32]*font),
		cmaps: make(map[uint32]*cmap),
	}
	x.walk()
	return string(x.out), nil
}

type extractor struct {
	d     *doc
	out   []byte
	pages int
	nodes int
	ops   int
	cmapN int              // ToUnicode entries read
	fonts map[uint32]*font // by font dictionary object
	cmaps map[uint32]*cmap // by ToUnicode stream object
	forms []uint32         // the form XObjects being shown, innermost last
}

// walk reads the pages in order. It follows the page tree's /Kids alone:
// /Count may lie, and a node reached twice makes the tree a graph, maybe a
// cycle, which is malformed.
func (x *extractor) walk() {
	type node struct {
		o     object
		res   object // inherited /Resources
		depth int
	}
	root := x.d.resolveDict(x.d.trailer["Root"])
	stack := []node{{o: root["Pages"]}}
	seen := make(map[uint32]bool)
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if r, ok := n.o.(ref); ok {
			if seen[r.num] {
				malformed("the page tree reaches object %d twice", r.num)
			}
			seen[r.num] = true
		}
		nd := x.d.resolveDict(n.o)
		if nd == nil {
			continue
		}
		res := n.res
		if r, ok := nd["Resources"]; ok {
			res = r
		}
		if kids, ok := x.d.resolve(nd["Kids"]).(array); ok && nd.name("Type") != "Page" {
			if n.depth == maxTreeDepth {
				tooComplex("a page tree deeper than %d", maxTreeDepth)
			}
			if x.nodes += len(kids); x.nodes > maxPageNodes {
				tooComplex("more than %d page tree nodes", maxPageNodes)
			}
			for i := len(kids) - 1; i >= 0; i-- {
				stack = append(stack, node{kids[i], res, n.depth + 1})
			}
			continue
		}
		if x.pages++; x.pages > maxPages {
			tooComplex("more than %d pages", maxPages)
		}
		x.page(nd, x.d.resolveDict(res))
	}
}

func (x *extractor) page(p dict, res dict) {
	var streams []*stream
	switch c := x.d.resolve(p["Contents"]).(type) {
	case *stream:
		streams = append(streams, c)
	case array:
		for _, o := range c {
			if s, ok := x.d.resolve(o).(*stream); ok {
				streams = append(streams, s)
			}
		}
	}
	x.run(&contents{d: x.d, streams: streams}, res)
	x.sep('\n')
}

// contents reads the streams of a page one after the other, opening each
// only when it is reached, with a line break between them.
type contents struct {
	d       *doc
	streams []*stream
	cur     io.Reader
}

func (c *contents) Read(b []byte) (int, error) {
	for {
		if c.cur == nil {
			if len(c.streams) == 0 {
				return 0, io.EOF
			}
			c.cur = io.MultiReader(c.d.stream(c.streams[0]), strings.NewReader("\n"))
			c.streams = c.streams[1:]
		}
		n, err := c.cur.Read(b)
		if err == io.EOF {
			c.cur = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

// operand is an operand of a content stream operator: a token, or the
// array or dictionary it starts. Numbers stay tokens: most operands are,
// and boxing each in an interface would allocate.
type operand struct {
	t token
	o object
}

// run interprets a content stream with its resources, for its text.
func (x *extractor) run(r io.Reader, res dict) {
	lx := newLexer(r, 4096, math.MaxInt64, "content") // bounded by the stream budget
	p := &parser{lx: lx, max: maxOperandValues, limit: maxOperandValues}
	var (
		stack []operand
		f     *font
		fonts map[name]*font
	)
	for {
		t := lx.token()
		switch {
		case t.kind == tokEOF:
			return
		case t.kind == tokOpenArray || t.kind == tokOpenDict:
			stack = append(stack, operand{o: p.object(t, 0)})
			continue
		case t.kind != tokKeyword || t.is("true") || t.is("false") || t.is("null"):
			p.count()
			t.b = nil // not to be kept
			stack = append(stack, operand{t: t})
			continue
		}
		if x.ops++; x.ops > maxOperators {
			tooComplex("more than %d content operators", maxOperators)
		}
		var last operand
		if len(stack) > 0 {
			last = stack[len(stack)-1]
		}
		switch string(t.b) {
		case "Tf":
			if len(stack) >= 2 && stack[len(stack)-2].t.kind == tokName {
				n := name(stack[len(stack)-2].t.s)
				if fonts == nil {
					fonts = make(map[name]*font)
				}
				if f = fonts[n]; f == nil {
					f = x.font(res, n)
					fonts[n] = f
				}
			}
		case "Tj":
			x.show(f, last.t)
		case "'", `"`:
			x.sep('\n')
			x.show(f, last.t)
		case "TJ":
			a, _ := last.o.(array)
			for _, o := range a {
				if s, ok := o.(string); ok {
					x.show(f, token{kind: tokString, s: s})
				} else if toFloat(o) < -250 { // a gap of a quarter em or more: a space
					x.sep(' ')
				}
			}
		case "BT", "T*":
			x.sep('\n')
		case "Do":
			if last.t.kind == tokName {
				x.form(res, name(last.t.s))
			}
		case "BI":
			x.skipImage(lx)
		}
		stack = stack[:0]
		p.values = 0
	}
}

// form shows the form XObject n of res, unless it is showing already.
func (x *extractor) form(res dict, n name) {
	r, ok := x.d.resolveDict(res["XObject"])[n].(ref)
	if !ok || slices.Contains(x.forms, r.num) {
		return
	}
	s, ok := x.d.resolve(r).(*stream)
	if !ok || s.dict.name("Subtype") != "Form" {
		return
	}
	if len(x.forms) == maxTreeDepth {
		tooComplex("forms nested more than %d deep", maxTreeDepth)
	}
	formRes := res
	if d := x.d.resolveDict(s.dict["Resources"]); d != nil {
		formRes = d
	}
	x.forms = append(x.forms, r.num)
	x.run(x.d.stream(s), formRes)
	x.forms = x.forms[:len(x.forms)-1]
}

// skipImage skips an inline image: its dictionary up to ID, then its data
// up to an EI between white space.
func (x *extractor) skipImage(lx *lexer) {
	for {
		t := lx.token()
		if t.kind == tokEOF || t.is("ID") {
			break
		}
	}
	lx.byte() // the white space after ID
	var prev [2]byte
	for {
		c, ok := lx.byte()
		if !ok {
			return
		}
		if isSpace(prev[0]) && prev[1] == 'E' && c == 'I' {
			if c, ok := lx.byte(); !ok || isSpace(c) || isDelim(c) {
				return
			}
			lx.unbyte()
		}
		prev[0], prev[1] = prev[1], c
	}
}

// sep writes a space or line break, unless the text ends in one.
func (x *extractor) sep(c byte) {
	if n := len(x.out); n > 0 && x.out[n-1] != ' ' && x.out[n-1] != '\n' {
		x.out = append(x.out, c)
	}
}

func (x *extractor) writeRune(r rune) {
	if len(x.out)+utf8.UTFMax > maxText {
		tooComplex("more than %d bytes of text", maxText)
	}
	switch r {
	case 0:
		return
	case 'ﬀ':
		x.out = append(x.out, "ff"...)
	case 'ﬁ':
		x.out = append(x.out, "fi"...)
	case 'ﬂ':
		x.out = append(x.out, "fl"...)
	case 'ﬃ':
		x.out = append(x.out, "ffi"...)
	case 'ﬄ':
		x.out = append(x.out, "ffl"...)
	default:
		x.out = utf8.AppendRune(x.out, r)
	}
}

func (x *extractor) writeString(s string) {
	for _, r := range s {
		x.writeRune(r)
	}
}

// font is how to turn a font's codes into text.
type font struct {
	cid   bool        // codes of one to four bytes (a Type0 font), not one
	utf16 bool        // a Type0 font whose codes are UTF-16
	space []codespace // a Type0 font's code lengths; none: two bytes
	table *[256]rune  // a simple font's encoding
	uni   *cmap       // its ToUnicode map, which comes first
}

var defaultFont = &font{table: standardEncoding}

func (x *extractor) font(res dict, n name) *font {
	o := x.d.resolveDict(res["Font"])[n]
	if r, ok := o.(ref); ok {
		if f := x.fonts[r.num]; f != nil {
			return f
		}
		f := x.newFont(x.d.resolveDict(r))
		x.fonts[r.num] = f
		return f
	}
	return x.newFont(x.d.resolveDict(o))
}

func (x *extractor) newFont(fd dict) *font {
	if fd == nil {
		return defaultFont
	}
	f := &font{}
	if r, ok := fd["ToUnicode"].(ref); ok {
		f.uni = x.cmap(r)
	}
	enc := x.d.resolve(fd["Encoding"])
	if fd.name("Subtype") == "Type0" {
		f.cid = true
		n, _ := enc.(name)
		switch {
		case strings.HasSuffix(string(n), "-UCS2-H"), strings.HasSuffix(string(n), "-UCS2-V"),
			strings.HasSuffix(string(n), "-UTF16-H"), strings.HasSuffix(string(n), "-UTF16-V"):
			f.utf16 = f.uni == nil
		case n == "Identity-H", n == "Identity-V":
		case f.uni != nil:
			f.space = f.uni.space
		}
		return f
	}
	f.table = standardEncoding
	var diffs array
	switch e := enc.(type) {
	case name:
		f.table = encodingNamed(e)
	case dict:
		f.table = encodingNamed(e.name("BaseEncoding"))
		diffs, _ = x.d.resolve(e["Differences"]).(array)
	}
	if len(diffs) > 0 {
		t := *f.table
		code := int64(-1)
		for _, o := range diffs {
			switch v := x.d.resolve(o).(type) {
			case int64:
				code = v
			case name:
				if code >= 0 && code < 256 {
					if r := glyphRune(string(v)); r != 0 {
						t[code] = r
					}
				}
				code++
			}
		}
		f.table = &t
	}
	return f
}

// show writes the text of the string t shown in font f.
func (x *extractor) show(f *font, t token) {
	if t.kind != tokString {
		return
	}
	s := t.s
	if f == nil {
		f = defaultFont
	}
	switch {
	case f.utf16:
		for i := 0; i+1 < len(s); i += 2 {
			r := rune(s[i])<<8 | rune(s[i+1])
			if utf16.IsSurrogate(r) && i+3 < len(s) {
				r = utf16.DecodeRune(r, rune(s[i+2])<<8|rune(s[i+3]))
				i += 2
			}
			x.writeRune(r)
		}
	case f.cid:
		for len(s) > 0 {
			n := f.codeLen(s)
			if f.uni == nil || !f.uni.write(x, s[:n]) {
				x.writeRune('\uFFFD') // unknown, and not to be joined over
			}
			s = s[n:]
		}
	default:
		for i := range len(s) {
			if f.uni == nil || !f.uni.write(x, s[i:i+1]) {
				x.writeRune(f.table[s[i]])
			}
		}
	}
}

// codespace is a range of codes of n bytes, each byte in [lo[i], hi[i]].
type codespace struct {
	n      int
	lo, hi [4]byte
}

// codeLen is the length of the code s starts with.
func (f *font) codeLen(s string) int {
	if len(f.space) == 0 {
		return min(2, len(s))
	}
	shortest := 4
Ranges:
	for _, c := range f.space {
		shortest = min(shortest, c.n)
		if c.n > len(s) {
			continue
		}
		for i := range c.n {
			if s[i] < c.lo[i] || s[i] > c.hi[i] {
				continue Ranges
			}
		}
		return c.n
	}
	return min(shortest, len(s))
}

// cmap is a ToUnicode map: codes of one to four bytes to text.
type cmap struct {
	space  []codespace
	single map[uint64]string // by key(n, code)
	ranges []cmapRange       // sorted by lo
}

type cmapRange struct {
	lo, hi uint64 // key(n, code)
	prefix string // lo maps to prefix + last, lo+1 to prefix + last+1…
	last   rune
	each   []string // or lo+i maps to each[i]
}

// key is a code of one to four bytes as a number: its length, then its
// bytes, so that codes of different lengths differ and those of a length
// sort as numbers.
func key(code string) uint64 {
	var k uint64
	for i := range len(code) {
		k = k<<8 | uint64(code[i])
	}
	return uint64(len(code))<<32 | k
}

// write writes the text of code and reports whether it has one.
func (m *cmap) write(x *extractor, code string) bool {
	k := key(code)
	if s, ok := m.single[k]; ok {
		x.writeString(s)
		return true
	}
	i, _ := slices.BinarySearchFunc(m.ranges, k, func(r cmapRange, k uint64) int {
		switch {
		case r.lo > k:
			return 1
		case r.lo < k:
			return -1
		}
		return 0
	})
	if i < len(m.ranges) && m.ranges[i].lo == k {
		i++
	}
	if i == 0 {
		return false
	}
	r := &m.ranges[i-1]
	if k > r.hi {
		return false
	}
	d := k - r.lo
	if r.each != nil {
		if d >= uint64(len(r.each)) {
			return false
		}
		x.writeString(r.each[d])
		return true
	}
	x.writeString(r.prefix)
	x.writeRune(r.last + rune(d))
	return true
}

// cmap reads the ToUnicode stream r once.
func (x *extractor) cmap(r ref) *cmap {
	if m, ok := x.cmaps[r.num]; ok {
		return m
	}
	x.cmaps[r.num] = nil // a ToUnicode map needs not itself to be read
	s, ok := x.d.resolve(r).(*stream)
	if !ok {
		return nil
	}
	m := &cmap{single: make(map[uint64]string)}
	lx := newLexer(x.d.stream(s), 4096, math.MaxInt64, "ToUnicode") // bounded by the stream budget
	p := &parser{lx: lx, max: maxOperandValues, limit: maxOperandValues}
	var args []object
	entry := func() {
		if x.cmapN++; x.cmapN > maxCMapEntries {
			tooComplex("more than %d ToUnicode entries", maxCMapEntries)
		}
	}
	for {
		t := lx.token()
		if t.kind == tokEOF {
			break
		}
		if t.kind != tokKeyword || t.is("true") || t.is("false") || t.is("null") {
			args = append(args, p.object(t, 0))
			continue
		}
		switch string(t.b) {
		case "endcodespacerange":
			for i := 0; i+1 < len(args); i += 2 {
				lo, _ := args[i].(string)
				hi, _ := args[i+1].(string)
				if len(lo) >= 1 && len(lo) <= 4 && len(hi) == len(lo) {
					entry()
					c := codespace{n: len(lo)}
					copy(c.lo[:], lo)
					copy(c.hi[:], hi)
					m.space = append(m.space, c)
				}
			}
		case "endbfchar":
			for i := 0; i+1 < len(args); i += 2 {
				src, _ := args[i].(string)
				if len(src) >= 1 && len(src) <= 4 {
					entry()
					m.single[key(src)] = unicodeText(args[i+1])
				}
			}
		case "endbfrange":
			for i := 0; i+2 < len(args); i += 3 {
				lo, _ := args[i].(string)
				hi, _ := args[i+1].(string)
				if len(lo) < 1 || len(lo) > 4 || len(hi) != len(lo) || hi < lo {
					continue
				}
				entry()
				cr := cmapRange{lo: key(lo), hi: key(hi)}
				if a, ok := args[i+2].(array); ok {
					cr.each = make([]string, len(a))
					for j, o := range a {
						cr.each[j] = unicodeText(o)
					}
				} else {
					t := unicodeText(args[i+2])
					r, n := utf8.DecodeLastRuneInString(t)
					if n == 0 {
						continue
					}
					cr.prefix, cr.last = t[:len(t)-n], r
				}
				m.ranges = append(m.ranges, cr)
			}
		}
		args = args[:0]
		p.values = 0
	}
	slices.SortFunc(m.ranges, func(a, b cmapRange) int {
		switch {
		case a.lo < b.lo:
			return -1
		case a.lo > b.lo:
			return 1
		}
		return 0
	})
	x.cmaps[r.num] = m
	return m
}

// unicodeText is the text of a ToUnicode destination: UTF-16BE bytes, or
// a glyph name.
func unicodeText(o object) string {
	switch v := o.(type) {
	case string:
		if len(v)%2 != 0 {
			return v
		}
		u := make([]uint16, len(v)/2)
		for i := range u {
			u[i] = uint16(v[2*i])<<8 | uint16(v[2*i+1])
		}
		return string(utf16.Decode(u))
	case name:
		if r := glyphRune(string(v)); r != 0 {
			return string(r)
		}
	}
	return ""
}
