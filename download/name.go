package download

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameLen is the longest name, in bytes, that [SafeName] returns: well
// under the 255-byte limit of common file systems, leaving room for
// temporary-file and collision suffixes.
const MaxNameLen = 150

// SafeName turns item data (say "2019 F-150 1FTEW1E53KFA12345.pdf") into
// a file name that is safe in any directory on Linux, macOS and Windows:
// no path separators or characters Windows forbids, no control or
// invisible format characters, no leading or trailing dots and spaces, not
// a reserved device name (CON, NUL, COM1…), at most MaxNameLen bytes. The
// extension (a short alphanumeric suffix) is kept.
//
// A name that needed no change is returned as is. Any other gets "~" and
// a hash of the original appended before the extension; as "~" is never
// kept from the input, two different inputs never get the same name
// (short of a 40-bit hash collision). Names that differ only in letter
// case or Unicode normalization are distinct here but may clash on
// case-insensitive file systems (Windows, macOS): keep keys in one form.
func SafeName(name string) string {
	stem, ext := splitExt(name)
	var b strings.Builder
	for _, r := range stem {
		switch {
		case r == utf8.RuneError, !unicode.IsPrint(r), strings.ContainsRune(`/\:*?"<>|~`, r):
			if !strings.HasSuffix(b.String(), "_") {
				b.WriteByte('_')
			}
		default:
			b.WriteRune(r)
		}
	}
	out := strings.Trim(b.String(), ". ")
	if reserved(out) {
		out = "_" + out
	}
	if out+ext == name && out != "" && len(name) <= MaxNameLen {
		return name
	}
	if out == "" {
		out = "_"
	}
	sum := sha256.Sum256([]byte(name))
	suffix := "~" + hex.EncodeToString(sum[:5]) + ext
	for len(out)+len(suffix) > MaxNameLen {
		_, n := utf8.DecodeLastRuneInString(out)
		out = out[:len(out)-n]
	}
	return strings.TrimRight(out, ". ") + suffix
}

// splitExt splits off a short alphanumeric extension such as ".pdf".
func splitExt(name string) (stem, ext string) {
	ext = filepath.Ext(name)
	if len(ext) < 2 || len(ext) > 8 || len(ext) == len(name) || strings.ContainsFunc(ext[1:], func(r rune) bool {
		return r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r))
	}) {
		return name, ""
	}
	return name[:len(name)-len(ext)], ext
}

// reserved reports a Windows device name, which is reserved with any
// extension and regardless of case.
func reserved(stem string) bool {
	base, _, _ := strings.Cut(strings.ToUpper(stem), ".")
	switch strings.TrimRight(base, " ") {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	r := []rune(base)
	return len(r) == 4 && (strings.HasPrefix(base, "COM") || strings.HasPrefix(base, "LPT")) &&
		strings.ContainsRune("123456789¹²³", r[3])
}
