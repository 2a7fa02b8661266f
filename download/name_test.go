package download_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pagefleet/pagefleet/download"
)

func TestSafeName(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("ä", 150) + ".pdf" // 300 bytes
	for _, tt := range []struct{ in, want string }{
		{"1FTEW1E53KFA12345.pdf", "1FTEW1E53KFA12345.pdf"},
		{"2019 Ford F-150 (blue).pdf", "2019 Ford F-150 (blue).pdf"},
		{"Fahrzeug Übersicht 日本.pdf", "Fahrzeug Übersicht 日本.pdf"},
		{"../../x", "_.._x~"},
		{"CON", "_CON~"},
		{"con.pdf", "_con~"},
		{"LPT9.txt", "_LPT9~"},
		{"COM¹.pdf", "_COM¹~"},
		{"a/b.pdf", "a_b~"},
		{`a\b:c*d?e"f<g>h|i.pdf`, "a_b_c_d_e_f_g_h_i~"},
		{"tab\there\x00.pdf", "tab_here_~"},
		{"evil\u202egnp.pdf", "evil_gnp~"}, // right-to-left override
		{"dots...", "dots~"},
		{" spaced .pdf", "spaced~"},
		{".hidden", "hidden~"},
		{"", "_~"},
		{"..", "_~"},
		{"x~y.pdf", "x_y~"},
		{"bad\xffutf8.pdf", "bad_utf8~"},
		{long, strings.Repeat("ä", 67) + "~"},
	} {
		got := download.SafeName(tt.in)
		if !strings.HasPrefix(got, tt.want) {
			t.Errorf("SafeName(%q) = %q; want it to start with %q", tt.in, got, tt.want)
		}
		if strings.HasSuffix(tt.in, ".pdf") && !strings.HasSuffix(got, ".pdf") {
			t.Errorf("SafeName(%q) = %q lost the extension", tt.in, got)
		}
		if len(got) > download.MaxNameLen || !utf8.ValidString(got) || filepath.Base(got) != got || got == "." || got == ".." {
			t.Errorf("SafeName(%q) = %q is not a safe base name", tt.in, got)
		}
	}
}

// TestSafeNameDistinct: keys that sanitize alike still get their own names.
func TestSafeNameDistinct(t *testing.T) {
	t.Parallel()
	keys := []string{"a/b", "a_b", "a:b", "a\\b", "a~b", "a b", "a_b~", "A_B", "a/b/", "", ".", "..", "...",
		"CON", "_CON", "con", strings.Repeat("x", 400), strings.Repeat("x", 401), strings.Repeat("x", 150), strings.Repeat("x", 151)}
	seen := map[string]string{}
	for _, k := range keys {
		n := download.SafeName(k)
		if prev, ok := seen[n]; ok {
			t.Errorf("SafeName(%q) = SafeName(%q) = %q", k, prev, n)
		}
		seen[n] = k
	}
}

// TestSafeNameOnDisk writes hostile names: every file lands in the directory.
func TestSafeNameOnDisk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	names := []string{"../../x", "CON", strings.Repeat("long-", 60) + ".pdf", "ünï cödé.pdf", "/etc/passwd", "a\x00b"}
	for _, n := range names {
		f, err := download.Save(strings.NewReader("data"), download.Target{Dir: dir, Name: download.SafeName(n)})
		if err != nil {
			t.Fatalf("Save(%q): %v", n, err)
		}
		if filepath.Dir(f.Path) != dir {
			t.Errorf("%q saved as %s, outside %s", n, f.Path, dir)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != len(names) {
		t.Errorf("%d files in the directory, want %d", len(entries), len(names))
	}
}
