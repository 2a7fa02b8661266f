package download_test

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/examples/portal/dealer"
	"github.com/pagefleet/pagefleet/session/sessiontest"
)

// FuzzPDFValidators runs the PDF validators on mutations of hostile and
// real PDFs. Each must come back with nil or an *InvalidError, the text
// extractor must not panic, and no validator may accept a file PDF
// rejects, nor PDFOf one PDFContains rejects. Run with:
//
//	go test -run '^$' -fuzz FuzzPDFValidators -fuzztime 60s ./download
func FuzzPDFValidators(f *testing.F) {
	for _, tt := range hostile() {
		if !tt.heavy {
			f.Add(tt.data)
		}
	}
	for _, b := range bombs() {
		f.Add(b)
	}
	good := onePage("WINDOW STICKER", "VIN: "+vinA)
	for n := 0; n < len(good); n += 23 {
		f.Add(good[:n])
	}
	f.Add(good)
	f.Add(sessiontest.PDF("Window sticker", "VIN: "+vinA))
	srv, err := dealer.New(dealer.Config{Vehicles: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(srv.Close)
	sticker, err := srv.StickerPDF(1)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sticker)
	for n := len(sticker) / 16; n < len(sticker); n += len(sticker) / 16 {
		f.Add(sticker[:n])
	}
	chromium, err := os.ReadFile("testdata/chromium-sticker.pdf")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(chromium)
	f.Add(prevLoop())
	f.Add(objStmInItself())

	ids := download.NewIDs(vinA, vinB)
	listing := download.NewIDs(vinA)
	listing.SetGrowing(true)
	pdf, contains, of, early := download.PDF(), download.PDFContains(vinA), download.PDFOf(vinA, ids), download.PDFOf(vinA, listing)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, n := bytes.NewReader(data), int64(len(data))
		_, _ = download.Extract(r, n) // panics on a bug, which the validators would hide
		base, c, o, e := pdf(r, n), contains(r, n), of(r, n), early(r, n)
		for _, err := range []error{base, c, o, e} {
			var inv *download.InvalidError
			if err != nil && !errors.As(err, &inv) {
				t.Fatalf("err = %v (%T); want an *InvalidError", err, err)
			}
		}
		switch {
		case base != nil && c == nil:
			t.Fatalf("PDFContains accepts a file PDF rejects: %v", base)
		case base != nil && o == nil:
			t.Fatalf("PDFOf accepts a file PDF rejects: %v", base)
		case c != nil && o == nil:
			t.Fatalf("PDFOf accepts a file PDFContains rejects: %v", c)
		case c != nil && e == nil:
			t.Fatalf("PDFOf, while listing, accepts a file PDFContains rejects: %v", c)
		}
	})
}
