package download

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/rc4"
	"encoding/ascii85"
	"errors"
	"fmt"
	"io"
)

// xrefEntry locates an object: at an offset of the file, or at an index of
// an object stream.
type xrefEntry struct {
	off   int64 // in the file; or, inStm, the object stream's number
	idx   int32 // inStm: the index in the object stream
	inStm bool
}

// doc is a PDF file open for reading: its cross-reference table and the
// objects loaded so far, and the budgets spent.
type doc struct {
	r       io.ReaderAt
	size    int64
	xref    map[uint32]xrefEntry
	trailer dict
	objs    map[uint32]object
	loading map[uint32]bool // objects being loaded: a cycle reads as null
	depth   int             // objects being loaded
	stms    map[uint32]*objStm
	crypt   *crypt
	encNum  uint32 // the /Encrypt dictionary, whose strings are not encrypted

	parsed  int64 // bytes parsed outside streams
	decoded int64 // bytes read into and out of stream filters
	values  int   // values of loaded objects
}

// objStm is a decoded object stream (PDF 1.5): objects packed in a stream.
type objStm struct {
	data []byte
	nums []uint32 // object numbers by index
	offs []int    // their offsets in data
}

func openDoc(r io.ReaderAt, size int64) *doc {
	d := &doc{
		r: r, size: size,
		xref:    make(map[uint32]xrefEntry),
		objs:    make(map[uint32]object),
		loading: make(map[uint32]bool),
		stms:    make(map[uint32]*objStm),
	}
	tail := make([]byte, min(size, 1024))
	if _, err := r.ReadAt(tail, size-int64(len(tail))); err != nil && err != io.EOF {
		malformed("reading: %v", err)
	}
	i := bytes.LastIndex(tail, []byte("startxref"))
	if i < 0 {
		malformed("no startxref at the end")
	}
	t := newLexer(bytes.NewReader(tail[i+len("startxref"):]), 64, 1024, "trailer").token()
	if t.kind != tokInt {
		malformed("startxref not followed by an offset")
	}
	d.readXrefs(t.i)
	if _, ok := d.trailer["Root"]; !ok {
		malformed("no /Root in the trailer")
	}
	if d.trailer["Encrypt"] != nil {
		d.crypt = d.newCrypt()
	}
	return d
}

// readXrefs reads the cross-reference sections from the newest, at off,
// back through /Prev. Entries of newer sections win.
func (d *doc) readXrefs(off int64) {
	seen := make(map[int64]bool)
	for n := 0; ; n++ {
		if seen[off] {
			return // a /Prev loop: every section of it is read
		}
		if n == maxXrefSections {
			tooComplex("more than %d cross-reference sections", maxXrefSections)
		}
		seen[off] = true
		trailer := d.readXrefSection(off)
		if d.trailer == nil {
			d.trailer = dict{}
		}
		for k, v := range trailer {
			if _, ok := d.trailer[k]; !ok {
				d.trailer[k] = v
			}
		}
		// A hybrid file's table leaves the objects of its object streams
		// to a cross-reference stream.
		if xs, ok := toInt(trailer["XRefStm"]); ok && !seen[xs] {
			seen[xs] = true
			d.readXrefSection(xs)
		}
		prev, ok := toInt(trailer["Prev"])
		if !ok {
			return
		}
		off = prev
	}
}

// lexAt returns a lexer of the file from off, for objects.
func (d *doc) lexAt(off int64) *lexer {
	if off < 0 || off >= d.size {
		malformed("offset %d outside the file", off)
	}
	return newLexer(io.NewSectionReader(d.r, off, d.size-off), 1024, maxParsed-d.parsed, "objects parsed")
}

func (d *doc) addXref(num int64, e xrefEntry) {
	if num < 0 || num > 1<<31 {
		malformed("object number %d", num)
	}
	if _, ok := d.xref[uint32(num)]; ok {
		return
	}
	if len(d.xref) == maxXrefEntries {
		tooComplex("more than %d objects", maxXrefEntries)
	}
	d.xref[uint32(num)] = e
}

// readXrefSection reads the table or stream at off and returns its trailer.
func (d *doc) readXrefSection(off int64) dict {
	lx := d.lexAt(off)
	t := lx.token()
	if !t.is("xref") {
		d.parsed += lx.consumed()
		if t.kind != tokInt {
			malformed("no cross-reference section at offset %d", off)
		}
		return d.readXrefStream(off)
	}
	defer func() { d.parsed += lx.consumed() }()
	for {
		t := lx.token()
		if t.is("trailer") {
			p := &parser{lx: lx, refs: true, max: maxValues - d.values, limit: maxValues}
			tr, ok := p.object(lx.token(), 0).(dict)
			d.values += p.values
			if !ok {
				malformed("no trailer dictionary after the cross-reference table at %d", off)
			}
			return tr
		}
		count := lx.token()
		if t.kind != tokInt || count.kind != tokInt || count.i < 0 {
			malformed("bad cross-reference table at %d", off)
		}
		for i := range count.i {
			o, g := lx.token(), lx.token()
			if o.kind != tokInt || g.kind != tokInt {
				malformed("bad cross-reference entry at %d", off)
			}
			if k := lx.token(); k.is("n") {
				d.addXref(t.i+i, xrefEntry{off: o.i})
			} else if !k.is("f") {
				malformed("bad cross-reference entry at %d", off)
			}
		}
	}
}

// readXrefStream reads the cross-reference stream at off (PDF 1.5) and
// returns its dictionary, which is its trailer.
func (d *doc) readXrefStream(off int64) dict {
	o, _ := d.parseAt(off)
	s, ok := o.(*stream)
	if !ok || s.dict.name("Type") != "XRef" {
		malformed("no cross-reference stream at offset %d", off)
	}
	var w [3]int
	wa, _ := s.dict["W"].(array)
	if len(wa) < 3 {
		malformed("cross-reference stream without /W")
	}
	row := 0
	for i := range w {
		n, ok := toInt(wa[i])
		if !ok || n < 0 || n > 8 {
			malformed("cross-reference stream /W %v", wa)
		}
		w[i] = int(n)
		row += w[i]
	}
	if row == 0 {
		malformed("cross-reference stream /W %v", wa)
	}
	index, _ := s.dict["Index"].(array)
	if index == nil {
		size, _ := toInt(s.dict["Size"])
		index = array{int64(0), size}
	}
	data := d.readAll(s)
	field := func(b []byte) int64 {
		var x int64
		for _, c := range b {
			x = x<<8 | int64(c)
		}
		return x
	}
	for i := 0; i+1 < len(index) && len(data) >= row; i += 2 {
		start, ok1 := toInt(index[i])
		count, ok2 := toInt(index[i+1])
		if !ok1 || !ok2 {
			malformed("cross-reference stream /Index %v", index)
		}
		for j := int64(0); j < count && len(data) >= row; j++ {
			typ := int64(1)
			if w[0] > 0 {
				typ = field(data[:w[0]])
			}
			f2, f3 := field(data[w[0]:w[0]+w[1]]), field(data[w[0]+w[1]:row])
			data = data[row:]
			switch typ {
			case 1:
				d.addXref(start+j, xrefEntry{off: f2})
			case 2:
				if f2 < 0 || f2 > 1<<31 || f3 > 1<<31 {
					malformed("cross-reference stream entry %d %d", f2, f3)
				}
				d.addXref(start+j, xrefEntry{off: f2, idx: int32(f3), inStm: true})
			}
		}
	}
	return s.dict
}

// parseAt parses the indirect object "n g obj … endobj" at off.
func (d *doc) parseAt(off int64) (object, ref) {
	lx := d.lexAt(off)
	defer func() { d.parsed += lx.consumed() }()
	n, g := lx.token(), lx.token()
	if obj := lx.token(); !obj.is("obj") || n.kind != tokInt || g.kind != tokInt || n.i < 0 || n.i > 1<<31 {
		malformed("no object at offset %d", off)
	}
	r := ref{uint32(n.i), uint16(g.i)}
	p := &parser{lx: lx, refs: true, max: maxValues - d.values, limit: maxValues}
	if d.crypt != nil && r.num != d.encNum {
		p.decrypt = d.crypt.stringDecrypter(r)
	}
	o := p.object(lx.token(), 0)
	d.values += p.values
	dc, ok := o.(dict)
	if !ok {
		return o, r
	}
	if t := lx.token(); !t.is("stream") {
		return o, r
	}
	// The data starts after the end of line that ends "stream".
	if c, ok := lx.byte(); ok && c == '\r' {
		if c, ok := lx.byte(); ok && c != '\n' {
			lx.unbyte()
		}
	} else if ok && c != '\n' {
		lx.unbyte()
	}
	return &stream{dict: dc, off: off + lx.consumed(), ref: r}, r
}

// resolve follows references: it returns the object o refers to, or o.
func (d *doc) resolve(o object) object {
	for range maxRefHops {
		r, ok := o.(ref)
		if !ok {
			return o
		}
		o = d.load(r.num)
	}
	if _, ok := o.(ref); ok {
		malformed("a chain of more than %d references", maxRefHops)
	}
	return o
}

func (d *doc) resolveDict(o object) dict {
	switch x := d.resolve(o).(type) {
	case dict:
		return x
	case *stream:
		return x.dict
	}
	return nil
}

// load returns object num, loading it once. An object that does not exist,
// or that needs itself to be loaded, is null.
func (d *doc) load(num uint32) object {
	if o, ok := d.objs[num]; ok {
		return o
	}
	e, ok := d.xref[num]
	if !ok || d.loading[num] {
		return nil
	}
	if len(d.objs) == maxObjects {
		tooComplex("more than %d objects loaded", maxObjects)
	}
	if d.depth == maxLoadDepth {
		tooComplex("objects that need more than %d others to be loaded", maxLoadDepth)
	}
	d.depth++
	d.loading[num] = true
	var o object
	if e.inStm {
		o = d.loadCompressed(num, e)
	} else {
		var r ref
		o, r = d.parseAt(e.off)
		if r.num != num {
			malformed("object %d: object %d at offset %d", num, r.num, e.off)
		}
	}
	d.depth--
	delete(d.loading, num)
	d.objs[num] = o
	return o
}

func (d *doc) loadCompressed(num uint32, e xrefEntry) object {
	s := d.objStm(uint32(e.off))
	i := int(e.idx)
	if i < 0 || i >= len(s.nums) || s.nums[i] != num {
		i = -1
		for j, n := range s.nums {
			if n == num {
				i = j
				break
			}
		}
		if i < 0 {
			return nil
		}
	}
	lx := newLexer(bytes.NewReader(s.data[s.offs[i]:]), 512, maxParsed-d.parsed, "objects parsed")
	p := &parser{lx: lx, refs: true, max: maxValues - d.values, limit: maxValues}
	o := p.object(lx.token(), 0)
	d.values += p.values
	d.parsed += lx.consumed()
	return o
}

func (d *doc) objStm(num uint32) *objStm {
	if s, ok := d.stms[num]; ok {
		return s
	}
	if e, ok := d.xref[num]; ok && e.inStm {
		malformed("object stream %d is itself in an object stream", num)
	}
	strm, ok := d.load(num).(*stream)
	if !ok || strm.dict.name("Type") != "ObjStm" {
		malformed("object stream %d missing", num)
	}
	n, _ := toInt(strm.dict["N"])
	first, _ := toInt(strm.dict["First"])
	data := d.readAll(strm)
	if n < 0 || first < 0 || first > int64(len(data)) || n > first/4+1 {
		malformed("object stream %d: /N %d /First %d", num, n, first)
	}
	s := &objStm{data: data}
	lx := newLexer(bytes.NewReader(data[:first]), 512, first, "object stream header")
	for range n {
		t1, t2 := lx.token(), lx.token()
		if t1.kind != tokInt || t2.kind != tokInt || t1.i < 0 || t1.i > 1<<31 || t2.i < 0 || first+t2.i > int64(len(data)) {
			break
		}
		s.nums = append(s.nums, uint32(t1.i))
		s.offs = append(s.offs, int(first+t2.i))
	}
	d.stms[num] = s
	return s
}

// streamOverhead is charged to the stream budget for each stream opened,
// so that a form shown a million times, even an empty one, exhausts it.
const streamOverhead = 1024

// stream returns a reader of s's data, decrypted and decoded. Everything
// read through it is charged to the budget of decoded bytes.
func (d *doc) stream(s *stream) io.Reader {
	if d.decoded += streamOverhead; d.decoded > maxDecoded {
		tooComplex("more than %d bytes of streams", maxDecoded)
	}
	n := d.streamLength(s)
	var r io.Reader = &budgetReader{r: io.NewSectionReader(d.r, s.off, n), d: d, raw: true}
	if d.crypt != nil && s.dict.name("Type") != "XRef" {
		r = d.crypt.streamReader(s.ref, r)
	}
	filters := d.resolve(s.dict["Filter"])
	params := d.resolve(s.dict["DecodeParms"])
	if f, ok := filters.(name); ok {
		filters, params = array{f}, array{params}
	}
	fa, _ := filters.(array)
	pa, _ := params.(array)
	if len(fa) > 8 {
		tooComplex("more than 8 filters")
	}
	for i, f := range fa {
		var p dict
		if i < len(pa) {
			p = d.resolveDict(pa[i])
		}
		r = d.decode(r, d.resolve(f), p)
	}
	return &budgetReader{r: r, d: d}
}

func (d *doc) readAll(s *stream) []byte {
	b, err := io.ReadAll(d.stream(s))
	var pe *pdfError
	if errors.As(err, &pe) {
		panic(pe)
	}
	return b
}

// streamLength is s's /Length or, when that is missing or wrong (no
// endstream after it), the distance to the next endstream.
func (d *doc) streamLength(s *stream) int64 {
	n, ok := toInt(d.resolve(s.dict["Length"]))
	if ok && n >= 0 && n <= d.size-s.off {
		end := make([]byte, 32)
		k, _ := d.r.ReadAt(end, s.off+n)
		if bytes.HasPrefix(bytes.TrimLeft(end[:k], "\x00\t\n\f\r "), []byte("endstream")) {
			return n
		}
	}
	const chunk = 64 << 10
	buf := make([]byte, chunk+16)
	for off := s.off; off < d.size; off += chunk {
		k, err := d.r.ReadAt(buf, off)
		if err != nil && err != io.EOF {
			malformed("reading: %v", err)
		}
		if d.parsed += int64(min(k, chunk)); d.parsed > maxParsed {
			tooComplex("more than %d bytes of objects parsed", maxParsed)
		}
		if i := bytes.Index(buf[:k], []byte("endstream")); i >= 0 {
			return off + int64(i) - s.off
		}
	}
	return d.size - s.off
}

// budgetReader charges what it reads to the budget of decoded bytes. Its
// errors are io.EOF or a *pdfError, which the filters pass on as is.
type budgetReader struct {
	r   io.Reader
	d   *doc
	raw bool // reads the file
}

func (b *budgetReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.d.decoded += int64(n)
	if b.d.decoded > maxDecoded {
		return n, &pdfError{limit: true, msg: fmt.Sprintf("more than %d bytes of streams", maxDecoded)}
	}
	var pe *pdfError
	switch {
	case err == nil || err == io.EOF || errors.As(err, &pe):
	case b.raw:
		err = &pdfError{msg: "reading: " + err.Error()}
	default:
		// A damaged stream ends where the damage starts, as in readers:
		// the text before it is still good.
		err = io.EOF
	}
	return n, err
}

func (d *doc) decode(r io.Reader, filter object, p dict) io.Reader {
	f, _ := filter.(name)
	switch f {
	case "FlateDecode", "Fl":
		return d.predict(inflate(r), p)
	case "ASCIIHexDecode", "AHx":
		return &hexReader{r: r}
	case "ASCII85Decode", "A85":
		return ascii85.NewDecoder(&a85Reader{r: r})
	case "RunLengthDecode", "RL":
		return &rlReader{r: r}
	case "Crypt":
		return r // the Identity filter: other crypt filters are not supported by readers either
	}
	if f != "" {
		malformed("unsupported stream filter /%s", f)
	}
	malformed("stream filter %v", filter)
	return nil
}

// inflate reads zlib data, or the raw deflate data some producers write.
func inflate(r io.Reader) io.Reader {
	var hdr [2]byte
	n, _ := io.ReadFull(r, hdr[:])
	r = io.MultiReader(bytes.NewReader(hdr[:n]), r)
	if n == 2 && hdr[0]&0x0f == 8 && (int(hdr[0])<<8|int(hdr[1]))%31 == 0 {
		zr, err := zlib.NewReader(r)
		if err != nil {
			var pe *pdfError
			if errors.As(err, &pe) {
				panic(pe)
			}
			return bytes.NewReader(nil)
		}
		return zr
	}
	return flate.NewReader(r)
}

// predict undoes the PNG (10–15) or TIFF (2) predictor of p, if any.
func (d *doc) predict(r io.Reader, p dict) io.Reader {
	pred, _ := toInt(d.resolve(p["Predictor"]))
	if pred < 2 {
		return r
	}
	colors, bpc, columns := int64(1), int64(8), int64(1)
	if n, ok := toInt(d.resolve(p["Colors"])); ok {
		colors = n
	}
	if n, ok := toInt(d.resolve(p["BitsPerComponent"])); ok {
		bpc = n
	}
	if n, ok := toInt(d.resolve(p["Columns"])); ok {
		columns = n
	}
	if colors < 1 || colors > 32 || bpc < 1 || bpc > 16 || columns < 1 || colors*bpc*columns > 8<<16 {
		malformed("predictor /Colors %d /BitsPerComponent %d /Columns %d", colors, bpc, columns) // rows over 64 KiB
	}
	bpp := int(max(1, colors*bpc/8))
	rowLen := int((colors*bpc*columns + 7) / 8)
	if pred == 2 {
		if bpc != 8 {
			malformed("TIFF predictor with %d bits per component", bpc)
		}
		return &predictor{r: r, bpp: bpp, prev: make([]byte, rowLen), cur: make([]byte, rowLen), tiff: true}
	}
	return &predictor{r: r, bpp: bpp, prev: make([]byte, rowLen), cur: make([]byte, rowLen+1)}
}

type predictor struct {
	r         io.Reader
	bpp       int
	prev, cur []byte
	pend      []byte
	tiff      bool
}

func (p *predictor) Read(b []byte) (int, error) {
	if len(p.pend) == 0 {
		if _, err := io.ReadFull(p.r, p.cur); err != nil {
			if err == io.ErrUnexpectedEOF {
				err = io.EOF // a short last row: dropped
			}
			return 0, err
		}
		if p.tiff {
			for i := p.bpp; i < len(p.cur); i++ {
				p.cur[i] += p.cur[i-p.bpp]
			}
			p.pend = p.cur
		} else {
			row := p.cur[1:]
			for i := range row {
				var left, upLeft byte
				if i >= p.bpp {
					left, upLeft = row[i-p.bpp], p.prev[i-p.bpp]
				}
				up := p.prev[i]
				switch p.cur[0] {
				case 1:
					row[i] += left
				case 2:
					row[i] += up
				case 3:
					row[i] += byte((int(left) + int(up)) / 2)
				case 4:
					row[i] += paeth(left, up, upLeft)
				}
			}
			copy(p.prev, row)
			p.pend = p.prev
		}
	}
	n := copy(b, p.pend)
	p.pend = p.pend[n:]
	return n, nil
}

func paeth(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := abs(p-int(a)), abs(p-int(b)), abs(p-int(c))
	switch {
	case pa <= pb && pa <= pc:
		return a
	case pb <= pc:
		return b
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

type hexReader struct {
	r    io.Reader
	buf  [512]byte
	half int // a pending high nibble, with bit 8 set; 0: none
	done bool
}

func (h *hexReader) Read(b []byte) (int, error) {
	if h.done {
		return 0, io.EOF
	}
	n, err := h.r.Read(h.buf[:min(len(h.buf), len(b))])
	k := 0
	for _, c := range h.buf[:n] {
		if c == '>' {
			h.done = true
			break
		}
		d := unhex(c)
		if d < 0 {
			continue
		}
		if h.half == 0 {
			h.half = d<<4 | 0x100
		} else {
			b[k] = byte(h.half | d)
			k++
			h.half = 0
		}
	}
	if err == nil && h.done {
		err = io.EOF
	}
	return k, err
}

// a85Reader ends ASCII85 data at its "~>", which ascii85 does not know.
type a85Reader struct {
	r    io.Reader
	done bool
}

func (a *a85Reader) Read(b []byte) (int, error) {
	if a.done {
		return 0, io.EOF
	}
	n, err := a.r.Read(b)
	if i := bytes.IndexByte(b[:n], '~'); i >= 0 {
		a.done = true
		return i, io.EOF
	}
	return n, err
}

type rlReader struct {
	r    io.Reader
	pend []byte
	buf  [128]byte
	done bool
}

func (l *rlReader) Read(b []byte) (int, error) {
	for len(l.pend) == 0 {
		if l.done {
			return 0, io.EOF
		}
		var c [1]byte
		if _, err := io.ReadFull(l.r, c[:]); err != nil {
			return 0, err
		}
		switch n := int(c[0]); {
		case n == 128:
			l.done = true
		case n < 128:
			k, err := io.ReadFull(l.r, l.buf[:n+1])
			l.pend = l.buf[:k]
			if err != nil {
				l.done = true
			}
		default:
			if _, err := io.ReadFull(l.r, c[:]); err != nil {
				return 0, err
			}
			for i := range 257 - n {
				l.buf[i] = c[0]
			}
			l.pend = l.buf[:257-n]
		}
	}
	n := copy(b, l.pend)
	l.pend = l.pend[n:]
	return n, nil
}

// crypt decrypts the strings and streams of a file encrypted with the
// standard security handler (revisions 2–4, RC4 or AES-128) and an empty
// user password: the usual "protected" PDF that opens without a password.
type crypt struct {
	key              []byte
	strAES, stmAES   bool
	strNone, stmNone bool
}

var passwordPad = []byte("\x28\xbf\x4e\x5e\x4e\x75\x8a\x41\x64\x00\x4e\x56\xff\xfa\x01\x08\x2e\x2e\x00\xb6\xd0\x68\x3e\x80\x2f\x0c\xa9\xfe\x64\x53\x69\x7a")

func (d *doc) newCrypt() *crypt {
	if r, ok := d.trailer["Encrypt"].(ref); ok {
		d.encNum = r.num
	}
	e := d.resolveDict(d.trailer["Encrypt"])
	if e.name("Filter") != "Standard" {
		malformed("encrypted with the %q handler", e.name("Filter"))
	}
	v, _ := toInt(e["V"])
	rev, _ := toInt(e["R"])
	bits, ok := toInt(e["Length"])
	if !ok {
		bits = 40
	}
	o, _ := d.resolve(e["O"]).(string)
	u, _ := d.resolve(e["U"]).(string)
	p, _ := toInt(e["P"])
	ids, _ := d.resolve(d.trailer["ID"]).(array)
	var id string
	if len(ids) > 0 {
		id, _ = d.resolve(ids[0]).(string)
	}
	switch {
	case v < 1 || v > 4 || v == 3 || rev < 2 || rev > 4:
		malformed("encrypted with V %d R %d, not supported", v, rev)
	case len(o) < 32 || len(u) < 32:
		malformed("bad encryption dictionary")
	}
	n := 5
	if rev >= 3 {
		n = int(bits / 8)
		if n < 5 || n > 16 {
			malformed("encryption key of %d bits", bits)
		}
	}
	// Algorithm 2 of ISO 32000-1 7.6.3.3, with the empty password.
	h := md5.New()
	h.Write(passwordPad)
	h.Write([]byte(o[:32]))
	h.Write([]byte{byte(p), byte(p >> 8), byte(p >> 16), byte(p >> 24)})
	h.Write([]byte(id))
	if meta, ok := e["EncryptMetadata"].(bool); rev >= 4 && ok && !meta {
		h.Write([]byte{0xff, 0xff, 0xff, 0xff})
	}
	key := h.Sum(nil)
	if rev >= 3 {
		for range 50 {
			sum := md5.Sum(key[:n])
			key = sum[:]
		}
	}
	key = key[:n]
	// Algorithms 4 and 5: is the user password empty?
	var check []byte
	if rev == 2 {
		check = rc4xor(key, passwordPad)
	} else {
		sum := md5.Sum(append(append([]byte{}, passwordPad...), id...))
		check = sum[:]
		for i := range 20 {
			k := make([]byte, n)
			for j := range k {
				k[j] = key[j] ^ byte(i)
			}
			check = rc4xor(k, check)
		}
	}
	if !bytes.HasPrefix([]byte(u), check[:16]) {
		malformed("encrypted with a password")
	}
	c := &crypt{key: key}
	if v == 4 {
		cf := d.resolveDict(e["CF"])
		method := func(f name) (aes, none bool) {
			if f == "Identity" || f == "" {
				return false, true
			}
			switch d.resolveDict(cf[f]).name("CFM") {
			case "AESV2":
				return true, false
			case "V2":
				return false, false
			case "None":
				return false, true
			}
			malformed("crypt filter %q not supported", f)
			return false, false
		}
		c.strAES, c.strNone = method(e.name("StrF"))
		c.stmAES, c.stmNone = method(e.name("StmF"))
	}
	return c
}

func rc4xor(key, b []byte) []byte {
	c, err := rc4.NewCipher(key)
	if err != nil {
		malformed("encryption key: %v", err)
	}
	out := make([]byte, len(b))
	c.XORKeyStream(out, b)
	return out
}

// objKey is the key of one object (algorithm 1).
func (c *crypt) objKey(r ref, aes bool) []byte {
	h := md5.New()
	h.Write(c.key)
	h.Write([]byte{byte(r.num), byte(r.num >> 8), byte(r.num >> 16), byte(r.gen), byte(r.gen >> 8)})
	if aes {
		h.Write([]byte("sAlT"))
	}
	return h.Sum(nil)[:min(len(c.key)+5, 16)]
}

func (c *crypt) stringDecrypter(r ref) func(string) string {
	if c.strNone {
		return nil
	}
	key := c.objKey(r, c.strAES)
	if !c.strAES {
		return func(s string) string { return string(rc4xor(key, []byte(s))) }
	}
	return func(s string) string {
		b := []byte(s)
		if len(b) < 32 || len(b)%16 != 0 {
			return "" // too short for an IV and a block: not decryptable
		}
		block, _ := aes.NewCipher(key)
		cipher.NewCBCDecrypter(block, b[:16]).CryptBlocks(b[16:], b[16:])
		return string(unpad(b[16:]))
	}
}

func unpad(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] >= 1 && b[n-1] <= 16 && int(b[n-1]) <= n {
		return b[:n-int(b[n-1])]
	}
	return b
}

func (c *crypt) streamReader(r ref, rd io.Reader) io.Reader {
	if c.stmNone {
		return rd
	}
	key := c.objKey(r, c.stmAES)
	if !c.stmAES {
		s, _ := rc4.NewCipher(key)
		return &cipher.StreamReader{S: s, R: rd}
	}
	return &aesReader{r: rd, key: key}
}

// aesReader decrypts AES-CBC data that starts with its IV, holding back
// the last block until the end to strip its padding.
type aesReader struct {
	r    io.Reader
	key  []byte
	cbc  cipher.BlockMode
	buf  []byte // decrypted, not yet returned
	last []byte // the last decrypted block, maybe the padding
	done bool
}

func (a *aesReader) Read(b []byte) (int, error) {
	for len(a.buf) == 0 {
		if a.done {
			return 0, io.EOF
		}
		if a.cbc == nil {
			iv := make([]byte, 16)
			if _, err := io.ReadFull(a.r, iv); err != nil {
				return 0, io.EOF
			}
			block, _ := aes.NewCipher(a.key)
			a.cbc = cipher.NewCBCDecrypter(block, iv)
		}
		chunk := make([]byte, 4096)
		n, err := io.ReadFull(a.r, chunk)
		n -= n % 16
		chunk = chunk[:n]
		a.cbc.CryptBlocks(chunk, chunk)
		a.buf = append(a.last, chunk...)
		a.last = nil
		if err != nil {
			a.done = true
			var pe *pdfError
			if errors.As(err, &pe) {
				return 0, pe
			}
			a.buf = unpad(a.buf)
		} else if len(a.buf) >= 16 {
			a.last = append([]byte(nil), a.buf[len(a.buf)-16:]...)
			a.buf = a.buf[:len(a.buf)-16]
		}
	}
	n := copy(b, a.buf)
	a.buf = a.buf[n:]
	return n, nil
}
