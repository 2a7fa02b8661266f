package download

import (
	"strconv"
	"strings"
	"sync"
)

// The encodings of simple fonts (ISO 32000-1, Annex D): code → rune, 0 for
// none. Fonts without an encoding use standardEncoding.
var (
	standardEncoding = encoding(map[byte]rune{
		'\'': '’', '`': '‘',
		0xa1: '¡', 0xa2: '¢', 0xa3: '£', 0xa4: '⁄', 0xa5: '¥', 0xa6: 'ƒ', 0xa7: '§', 0xa8: '¤',
		0xa9: '\'', 0xaa: '“', 0xab: '«', 0xac: '‹', 0xad: '›', 0xae: 'ﬁ', 0xaf: 'ﬂ',
		0xb1: '–', 0xb2: '†', 0xb3: '‡', 0xb4: '·', 0xb6: '¶', 0xb7: '•', 0xb8: '‚', 0xb9: '„',
		0xba: '”', 0xbb: '»', 0xbc: '…', 0xbd: '‰', 0xbf: '¿',
		0xc1: '`', 0xc2: '´', 0xc3: 'ˆ', 0xc4: '˜', 0xc5: '¯', 0xc6: '˘', 0xc7: '˙', 0xc8: '¨',
		0xca: '˚', 0xcb: '¸', 0xcd: '˝', 0xce: '˛', 0xcf: 'ˇ', 0xd0: '—',
		0xe1: 'Æ', 0xe3: 'ª', 0xe8: 'Ł', 0xe9: 'Ø', 0xea: 'Œ', 0xeb: 'º',
		0xf1: 'æ', 0xf5: 'ı', 0xf8: 'ł', 0xf9: 'ø', 0xfa: 'œ', 0xfb: 'ß',
	})
	winAnsiEncoding = encoding(latin1(map[byte]rune{
		0x80: '€', 0x82: '‚', 0x83: 'ƒ', 0x84: '„', 0x85: '…', 0x86: '†', 0x87: '‡', 0x88: 'ˆ',
		0x89: '‰', 0x8a: 'Š', 0x8b: '‹', 0x8c: 'Œ', 0x8e: 'Ž', 0x91: '‘', 0x92: '’', 0x93: '“',
		0x94: '”', 0x95: '•', 0x96: '–', 0x97: '—', 0x98: '˜', 0x99: '™', 0x9a: 'š', 0x9b: '›',
		0x9c: 'œ', 0x9e: 'ž', 0x9f: 'Ÿ',
	}))
	macRomanEncoding = encoding(high("" +
		"ÄÅÇÉÑÖÜáàâäãåçéè" + "êëíìîïñóòôöõúùûü" + "†°¢£§•¶ß®©™´¨≠ÆØ" + "∞±≤≥¥µ∂∑∏π∫ªºΩæø" +
		"¿¡¬√ƒ≈∆«»…\u00a0ÀÃÕŒœ" + "–—“”‘’÷◊ÿŸ⁄¤‹›ﬁﬂ" + "‡·‚„‰ÂÊÁËÈÍÎÏÌÓÔ" + "\x00ÒÚÛÙıˆ˜¯˘˙˚¸˝˛ˇ"))
)

// encoding returns the table with ASCII in 0x20–0x7e, and the other codes
// of m.
func encoding(m map[byte]rune) *[256]rune {
	var t [256]rune
	for c := 0x20; c < 0x7f; c++ {
		t[c] = rune(c)
	}
	for c, r := range m {
		t[c] = r
	}
	return &t
}

// latin1 adds 0xa0–0xff as in ISO 8859-1 to m.
func latin1(m map[byte]rune) map[byte]rune {
	for c := 0xa0; c <= 0xff; c++ {
		m[byte(c)] = rune(c)
	}
	return m
}

// high maps 0x80–0xff to the runes of s in order.
func high(s string) map[byte]rune {
	m := make(map[byte]rune)
	c := 0x80
	for _, r := range s {
		if r != 0 {
			m[byte(c)] = r
		}
		c++
	}
	return m
}

func encodingNamed(n name) *[256]rune {
	switch n {
	case "WinAnsiEncoding":
		return winAnsiEncoding
	case "MacRomanEncoding":
		return macRomanEncoding
	}
	return standardEncoding
}

// latin1Names are the glyph names of U+00A1–U+00FF.
var latin1Names = strings.Fields(`exclamdown cent sterling currency yen brokenbar section dieresis
	copyright ordfeminine guillemotleft logicalnot hyphen registered macron degree plusminus
	twosuperior threesuperior acute mu paragraph periodcentered cedilla onesuperior ordmasculine
	guillemotright onequarter onehalf threequarters questiondown Agrave Aacute Acircumflex Atilde
	Adieresis Aring AE Ccedilla Egrave Eacute Ecircumflex Edieresis Igrave Iacute Icircumflex
	Idieresis Eth Ntilde Ograve Oacute Ocircumflex Otilde Odieresis multiply Oslash Ugrave Uacute
	Ucircumflex Udieresis Yacute Thorn germandbls agrave aacute acircumflex atilde adieresis aring
	ae ccedilla egrave eacute ecircumflex edieresis igrave iacute icircumflex idieresis eth ntilde
	ograve oacute ocircumflex otilde odieresis divide oslash ugrave uacute ucircumflex udieresis
	yacute thorn ydieresis`)

// asciiNames are the glyph names of U+0020–U+007E but letters.
var asciiNames = strings.Fields(`space exclam quotedbl numbersign dollar percent ampersand
	quotesingle parenleft parenright asterisk plus comma hyphen period slash zero one two three
	four five six seven eight nine colon semicolon less equal greater question at bracketleft
	backslash bracketright asciicircum underscore grave braceleft bar braceright asciitilde`)

// glyphs maps glyph names to runes: those of the Latin encodings and
// moreGlyphs. glyphRune reads uniXXXX and uXXXX names too. It is made on
// first use, by the first font with /Differences.
var glyphs = sync.OnceValue(func() map[string]rune {
	m := map[string]rune{
		"Euro": '€', "quotesinglbase": '‚', "florin": 'ƒ', "quotedblbase": '„', "ellipsis": '…',
		"dagger": '†', "daggerdbl": '‡', "circumflex": 'ˆ', "perthousand": '‰', "Scaron": 'Š',
		"guilsinglleft": '‹', "OE": 'Œ', "Zcaron": 'Ž', "quoteleft": '‘', "quoteright": '’',
		"quotedblleft": '“', "quotedblright": '”', "bullet": '•', "endash": '–', "emdash": '—',
		"tilde": '˜', "trademark": '™', "scaron": 'š', "guilsinglright": '›', "oe": 'œ',
		"zcaron": 'ž', "Ydieresis": 'Ÿ', "fraction": '⁄', "fi": 'ﬁ', "fl": 'ﬂ', "ff": 'ﬀ',
		"ffi": 'ﬃ', "ffl": 'ﬄ', "dotlessi": 'ı', "Lslash": 'Ł', "lslash": 'ł', "breve": '˘',
		"dotaccent": '˙', "ring": '˚', "hungarumlaut": '˝', "ogonek": '˛', "caron": 'ˇ',
		"notequal": '≠', "infinity": '∞', "lessequal": '≤', "greaterequal": '≥', "partialdiff": '∂',
		"summation": '∑', "product": '∏', "pi": 'π', "integral": '∫', "Omega": 'Ω', "radical": '√',
		"approxequal": '≈', "Delta": '∆', "lozenge": '◊', "minus": '−', "nbspace": '\u00a0',
		"sfthyphen": '\u00ad', "nonbreakingspace": '\u00a0',
	}
	// asciiNames skips the letters: the 26 after "at", the 26 after "grave".
	c := rune(' ')
	for _, n := range asciiNames {
		m[n] = c
		switch c++; c {
		case 'A':
			c = '['
		case 'a':
			c = '{'
		}
	}
	for i, n := range latin1Names {
		if _, ok := m[n]; !ok { // "hyphen" is U+002D
			m[n] = rune(0xa1 + i)
		}
	}
	f := strings.Fields(moreGlyphs)
	for i := 0; i+1 < len(f); i += 2 {
		if r, err := strconv.ParseUint(f[i+1], 16, 32); err == nil {
			m[f[i]] = rune(r)
		}
	}
	return m
})

// glyphRune returns the rune of a glyph name, or 0.
func glyphRune(n string) rune {
	if i := strings.IndexByte(n, '.'); i > 0 { // "a.sc", "one.oldstyle"
		n = n[:i]
	}
	if len(n) == 1 && (n[0] >= 'A' && n[0] <= 'Z' || n[0] >= 'a' && n[0] <= 'z') {
		return rune(n[0])
	}
	if r, ok := glyphs()[n]; ok {
		return r
	}
	hex := ""
	switch {
	case len(n) == 7 && strings.HasPrefix(n, "uni"):
		hex = n[3:]
	case len(n) >= 5 && len(n) <= 7 && n[0] == 'u':
		hex = n[1:]
	}
	if hex != "" {
		if x, err := strconv.ParseUint(hex, 16, 32); err == nil && x <= 0x10ffff && (x < 0xd800 || x > 0xdfff) {
			return rune(x)
		}
	}
	return 0
}
