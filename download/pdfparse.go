package download

import (
	"errors"
	"fmt"
	"io"
)

// Limits of the PDF text extraction behind [PDFContains] and [PDFOf]. Every
// loop of the extractor is bounded by one of them, so that no file of up to
// Target.MaxSize bytes can make a validator run without end or exhaust
// memory. A file over a limit is rejected as [ErrNotPDF], "too complex to
// check". The limits are far above what a window sticker, an invoice or a
// report of a few hundred pages needs; BenchmarkValidateHostile measures
// the work they allow.
const (
	// maxPages is the most pages read. A sticker has one or two; each page
	// costs its content stream and fonts.
	maxPages = 1000
	// maxPageNodes is the most page tree nodes (pages and their parents)
	// visited: it bounds a wide tree of empty nodes.
	maxPageNodes = 4 * maxPages
	// maxTreeDepth is the deepest page tree or form XObject nesting
	// followed; real trees are 2–4 levels deep.
	maxTreeDepth = 32
	// maxObjects is the most indirect objects loaded.
	maxObjects = 200_000
	// maxLoadDepth is the longest chain of objects needed to load one
	// (a stream's /Length in an object stream whose /Length is in …).
	maxLoadDepth = 16
	// maxRefHops is the longest chain of references to references.
	maxRefHops = 16
	// maxXrefSections is the most cross-reference sections (one per
	// incremental update) followed through /Prev.
	maxXrefSections = 512
	// maxXrefEntries is the most cross-reference entries: one per object.
	maxXrefEntries = 1 << 20
	// maxParsed is the most bytes of the file parsed as objects and
	// cross-reference tables. Objects are parsed once each, but they may
	// overlap, so this is not bounded by the file size.
	maxParsed = 64 << 20
	// maxDecoded is the most bytes read into and out of stream filters
	// (content streams, fonts' ToUnicode maps, object and cross-reference
	// streams), counted again each time a stream is read, plus
	// streamOverhead per stream opened: it bounds Flate bombs, and a
	// content stream or form shown a million times.
	maxDecoded = 64 << 20
	// maxValues is the most values (numbers, names, array elements…) kept
	// from the file's objects: it bounds the memory they take, some 32 MB.
	maxValues = 1 << 20
	// maxOperandValues is the most values on the operand stack of a
	// content stream or CMap at once.
	maxOperandValues = 1 << 16
	// maxNesting is the deepest nesting of arrays and dictionaries.
	maxNesting = 64
	// maxToken is the longest string, name or number, in bytes.
	maxToken = 1 << 20
	// maxOperators is the most content stream operators run.
	maxOperators = 8 << 20
	// maxCMapEntries is the most ToUnicode mappings (single codes and
	// ranges) read, for all fonts together.
	maxCMapEntries = 1 << 18
	// maxText is the most text extracted, in bytes of UTF-8.
	maxText = 8 << 20
)

// pdfError is why the text of a PDF cannot be extracted: a malformed file,
// or one over a limit. The extractor panics with it, deep in its recursive
// descent, and extract recovers it; any other panic is a bug.
type pdfError struct {
	limit bool // over a limit, not malformed
	msg   string
}

func (e *pdfError) Error() string { return e.msg }

func malformed(format string, args ...any) {
	panic(&pdfError{msg: fmt.Sprintf(format, args...)})
}

func tooComplex(format string, args ...any) {
	panic(&pdfError{limit: true, msg: fmt.Sprintf(format, args...)})
}

// Kinds of tokens.
const (
	tokEOF = iota
	tokInt
	tokReal
	tokString
	tokName
	tokKeyword
	tokOpenArray
	tokCloseArray
	tokOpenDict
	tokCloseDict
)

type token struct {
	kind int
	i    int64
	f    float64
	s    string // string or name
	b    []byte // keyword, valid until the next token is read
}

// is reports whether t is the keyword kw.
func (t token) is(kw string) bool { return t.kind == tokKeyword && string(t.b) == kw }

// lexer reads tokens from r. Read errors other than io.EOF stop it with a
// panic: a *pdfError as is (a limit hit in a stream), others as malformed.
type lexer struct {
	r      io.Reader
	buf    []byte
	pos, n int
	read   int64 // bytes read from r so far
	limit  int64 // bytes r may yield; past it, tooComplex(limitMsg)
	what   string
	eof    bool
	back   [2]token
	nback  int
	tmp    []byte
}

func newLexer(r io.Reader, bufSize int, limit int64, what string) *lexer {
	return &lexer{r: r, buf: make([]byte, bufSize), limit: limit, what: what}
}

// consumed is the number of bytes the tokens read so far took.
func (l *lexer) consumed() int64 { return l.read - int64(l.n-l.pos) }

func (l *lexer) fill() bool {
	if l.eof {
		return false
	}
	l.pos, l.n = 0, 0
	for l.n == 0 {
		n, err := l.r.Read(l.buf)
		l.n = n
		l.read += int64(n)
		if l.read > l.limit {
			tooComplex("more than %d bytes of %s", l.limit, l.what)
		}
		if err != nil {
			var pe *pdfError
			switch {
			case errors.As(err, &pe):
				panic(pe)
			case err != io.EOF:
				malformed("reading: %v", err)
			}
			l.eof = true
			return l.n > 0
		}
	}
	return true
}

func (l *lexer) byte() (byte, bool) {
	if l.pos < l.n {
		c := l.buf[l.pos]
		l.pos++
		return c, true
	}
	return l.byteSlow()
}

func (l *lexer) byteSlow() (byte, bool) {
	if !l.fill() {
		return 0, false
	}
	c := l.buf[l.pos]
	l.pos++
	return c, true
}

// unbyte steps back over the byte just read.
func (l *lexer) unbyte() { l.pos-- }

func (l *lexer) unread(t token) {
	l.back[l.nback] = t
	l.nback++
}

func isSpace(c byte) bool {
	switch c {
	case 0, '\t', '\n', '\f', '\r', ' ':
		return true
	}
	return false
}

func isDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

// token reads the next token; at the end it returns tokEOF.
func (l *lexer) token() token {
	if l.nback > 0 {
		l.nback--
		return l.back[l.nback]
	}
	for {
		c, ok := l.byte()
		if !ok {
			return token{kind: tokEOF}
		}
		switch {
		case isSpace(c):
			continue
		case c == '%':
			for c != '\n' && c != '\r' && ok {
				c, ok = l.byte()
			}
			continue
		}
		switch c {
		case '[':
			return token{kind: tokOpenArray}
		case ']':
			return token{kind: tokCloseArray}
		case '(':
			return l.literal()
		case '/':
			return l.name()
		case '<':
			if c, ok := l.byte(); ok {
				if c == '<' {
					return token{kind: tokOpenDict}
				}
				l.unbyte()
			}
			return l.hex()
		case '>':
			if c, ok := l.byte(); ok {
				if c == '>' {
					return token{kind: tokCloseDict}
				}
				l.unbyte()
			}
			return token{kind: tokKeyword, b: []byte(">")} // stray: an operator nobody knows
		case ')', '{', '}':
			return token{kind: tokKeyword, b: []byte{c}}
		}
		l.unbyte()
		return l.regular()
	}
}

func (l *lexer) grow(c byte) {
	if len(l.tmp) >= maxToken {
		tooComplex("a token longer than %d bytes", maxToken)
	}
	l.tmp = append(l.tmp, c)
}

// regular reads a number or a keyword.
func (l *lexer) regular() token {
	start := l.pos
	for l.pos < l.n && !isSpace(l.buf[l.pos]) && !isDelim(l.buf[l.pos]) {
		l.pos++
	}
	b := l.buf[start:l.pos]
	if l.pos == l.n && !l.eof { // it may go on in the next buffer
		l.tmp = append(l.tmp[:0], b...)
		for {
			c, ok := l.byte()
			if !ok {
				break
			}
			if isSpace(c) || isDelim(c) {
				l.unbyte()
				break
			}
			l.grow(c)
		}
		b = l.tmp
	}
	if t, ok := number(b); ok {
		return t
	}
	return token{kind: tokKeyword, b: b}
}

// number parses b as a PDF number: an optional sign, digits and at most one
// period. Like readers do, it takes an integer too long for int64 as a real.
func number(b []byte) (token, bool) {
	i, neg := 0, false
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg = b[0] == '-'
		i = 1
	}
	if i == len(b) {
		return token{}, false
	}
	var (
		n       int64
		f, frac float64
		dot     bool
		big     bool
		digits  int
	)
	frac = 1
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '.' && !dot:
			dot = true
		case c >= '0' && c <= '9':
			digits++
			d := int64(c - '0')
			if dot {
				frac /= 10
				f += float64(d) * frac
				continue
			}
			if n > (1<<63-1-d)/10 {
				big = true
			}
			n = n*10 + d
			f = f*10 + float64(d)
		default:
			return token{}, false
		}
	}
	if digits == 0 {
		return token{}, false
	}
	if !dot && !big {
		if neg {
			n = -n
		}
		return token{kind: tokInt, i: n}, true
	}
	if neg {
		f = -f
	}
	return token{kind: tokReal, f: f}, true
}

func (l *lexer) literal() token {
	l.tmp = l.tmp[:0]
	depth := 1
	for {
		c, ok := l.byte()
		if !ok {
			break // unterminated: the rest of the stream is the string
		}
		switch c {
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return token{kind: tokString, s: string(l.tmp)}
			}
		case '\r': // an end of line in a string is a \n, whatever it is
			if c, ok := l.byte(); ok && c != '\n' {
				l.unbyte()
			}
			c = '\n'
		case '\\':
			c, ok = l.byte()
			if !ok {
				return token{kind: tokString, s: string(l.tmp)}
			}
			switch c {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r':
				if c, ok := l.byte(); ok && c != '\n' {
					l.unbyte()
				}
				continue
			case '\n':
				continue
			case '0', '1', '2', '3', '4', '5', '6', '7':
				x := int(c - '0')
				for range 2 {
					d, ok := l.byte()
					if !ok {
						break
					}
					if d < '0' || d > '7' {
						l.unbyte()
						break
					}
					x = x*8 + int(d-'0')
				}
				c = byte(x)
			}
		}
		l.grow(c)
	}
	return token{kind: tokString, s: string(l.tmp)}
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func (l *lexer) hex() token {
	l.tmp = l.tmp[:0]
	x, half := 0, false
	for {
		c, ok := l.byte()
		if !ok || c == '>' {
			break
		}
		d := unhex(c)
		if d < 0 {
			continue // white space, or garbage readers skip too
		}
		if half {
			l.grow(byte(x<<4 | d))
		} else {
			x = d
		}
		half = !half
	}
	if half {
		l.grow(byte(x << 4))
	}
	return token{kind: tokString, s: string(l.tmp)}
}

func (l *lexer) name() token {
	l.tmp = l.tmp[:0]
	for {
		c, ok := l.byte()
		if !ok {
			break
		}
		if isSpace(c) || isDelim(c) {
			l.unbyte()
			break
		}
		if c == '#' {
			h, ok1 := l.byte()
			lo, ok2 := l.byte()
			if ok1 && ok2 && unhex(h) >= 0 && unhex(lo) >= 0 {
				c = byte(unhex(h)<<4 | unhex(lo))
			} else if ok2 {
				l.unbyte()
			}
		}
		l.grow(c)
	}
	return token{kind: tokName, s: string(l.tmp)}
}

// Objects are nil (null), bool, int64, float64, string, name, keyword (in
// content streams only), array, dict, *stream and ref.
type (
	object  = any
	name    string
	keyword string
	array   []object
	dict    map[name]object
	ref     struct {
		num uint32
		gen uint16
	}
	// stream is a stream's dictionary, and where its data starts in the
	// file; ref is its object, for decryption.
	stream struct {
		dict dict
		off  int64
		ref  ref
	}
)

// parser reads objects from a lexer.
type parser struct {
	lx      *lexer
	refs    bool                // "n g R" is a reference (in the file's objects)
	decrypt func(string) string // for the strings of an encrypted object, or nil
	values  int                 // values read
	max     int                 // most values allowed
	limit   int                 // the limit max comes from, for the message
}

func (p *parser) count() {
	if p.values++; p.values > p.max {
		tooComplex("more than %d values", p.limit)
	}
}

// object reads the object that starts with t.
func (p *parser) object(t token, depth int) object {
	if depth > maxNesting {
		tooComplex("objects nested more than %d deep", maxNesting)
	}
	p.count()
	switch t.kind {
	case tokInt:
		if p.refs && t.i >= 0 && t.i <= 1<<31 {
			t2 := p.lx.token()
			if t2.kind == tokInt && t2.i >= 0 && t2.i <= 1<<16-1 {
				t3 := p.lx.token()
				if t3.is("R") {
					return ref{uint32(t.i), uint16(t2.i)}
				}
				p.lx.unread(t3)
			}
			p.lx.unread(t2)
		}
		return t.i
	case tokReal:
		return t.f
	case tokString:
		if p.decrypt != nil {
			return p.decrypt(t.s)
		}
		return t.s
	case tokName:
		return name(t.s)
	case tokOpenArray:
		var a array
		for {
			t := p.lx.token()
			switch t.kind {
			case tokCloseArray, tokEOF:
				return a
			case tokCloseDict:
				continue // stray, as readers skip it
			}
			if len(a) >= maxOperandValues {
				tooComplex("an array longer than %d", maxOperandValues)
			}
			a = append(a, p.object(t, depth+1))
		}
	case tokOpenDict:
		d := dict{}
		for {
			t := p.lx.token()
			switch t.kind {
			case tokCloseDict, tokEOF:
				return d
			case tokName:
			default:
				continue // not a key: skip it, as readers do
			}
			v := p.lx.token()
			if v.kind == tokCloseDict || v.kind == tokEOF {
				return d
			}
			if len(d) >= maxOperandValues {
				tooComplex("a dictionary longer than %d", maxOperandValues)
			}
			d[name(t.s)] = p.object(v, depth+1)
		}
	case tokKeyword:
		switch string(t.b) {
		case "true":
			return true
		case "false":
			return false
		case "null":
			return nil
		}
		return keyword(t.b)
	}
	return nil // tokEOF, or a stray close
}

// Accessors, which like the Value API of PDF libraries return a zero value
// for a value of another type.

func (d dict) name(k name) name {
	n, _ := d[k].(name)
	return n
}

func toInt(o object) (int64, bool) {
	switch x := o.(type) {
	case int64:
		return x, true
	case float64:
		if x >= -1<<53 && x <= 1<<53 {
			return int64(x), true
		}
	}
	return 0, false
}

func toFloat(o object) float64 {
	switch x := o.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	}
	return 0
}
