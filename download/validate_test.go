package download_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/session/sessiontest"
)

func TestValidators(t *testing.T) {
	t.Parallel()
	good := sessiontest.PDF("Window sticker", "VIN: 1FTEW1E53KFA12345")
	login := `<!DOCTYPE html><html><head><title>Sign in</title></head><body><form><input type="password" name="p"></form></body></html>`
	pdf, vin := download.PDF(), download.PDFContains("VIN: 1FTEW1E53KFA12345")
	for _, tt := range []struct {
		name     string
		data     []byte
		v        download.Validator
		want     error  // nil: valid
		detailed string // in the error's Detail
	}{
		{"good PDF", good, pdf, nil, ""},
		{"right VIN", good, vin, nil, ""},
		{"VIN split by spaces", sessiontest.PDF("VIN: 1FTEW1E53 KFA12345"), vin, nil, ""},
		{"wrong VIN", sessiontest.PDF("VIN: 1FTEW1E53KFA99999"), vin, download.ErrContentMismatch, "1FTEW1E53KFA99999"},
		{"truncated", good[:len(good)/2], pdf, download.ErrTruncated, "%%EOF"},
		{"tiny", []byte("%PDF-1.4\n%%EOF"), pdf, download.ErrTruncated, "bytes"},
		{"empty", nil, pdf, download.ErrEmpty, ""},
		{"login page", []byte(login), pdf, download.ErrHTMLPage, `"Sign in" with a password field`},
		{"error page with BOM and blanks", []byte("\xef\xbb\xbf\n  <html><title>Error 500</title></html>"), pdf, download.ErrHTMLPage, `"Error 500"`},
		{"PNG", []byte("\x89PNG\r\n\x1a\n" + strings.Repeat("x", 100)), pdf, download.ErrNotPDF, "PNG"},
		{"garbage PDF", []byte("%PDF-1.4\n" + strings.Repeat("junk ", 30) + "\n%%EOF\n"), vin, download.ErrNotPDF, "unreadable"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.v(bytes.NewReader(tt.data), int64(len(tt.data)))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			var inv *download.InvalidError
			if !errors.Is(err, tt.want) || !errors.As(err, &inv) {
				t.Fatalf("err = %v; want an *InvalidError wrapping %v", err, tt.want)
			}
			if !strings.Contains(inv.Detail, tt.detailed) {
				t.Errorf("detail %q does not mention %q", inv.Detail, tt.detailed)
			}
		})
	}
}
