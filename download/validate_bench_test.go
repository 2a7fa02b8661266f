package download_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/examples/portal/dealer"
)

// Run with: go test -run '^$' -bench Validate ./download/

// demoSticker is the demo portal's window sticker of vehicle 1, and the
// VINs of an inventory of 2,000.
func demoSticker(b *testing.B) ([]byte, string, *download.IDs) {
	srv, err := dealer.New(dealer.Config{Vehicles: 2000})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Close)
	pdf, err := srv.StickerPDF(1)
	if err != nil {
		b.Fatal(err)
	}
	ids := new(download.IDs)
	for _, v := range srv.Vehicles() {
		ids.Add(v.VIN)
	}
	v, _ := srv.Vehicle(1)
	return pdf, v.VIN, ids
}

func benchValidator(b *testing.B, v download.Validator, data []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := v(bytes.NewReader(data), int64(len(data))); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidatePDFContains(b *testing.B) {
	pdf, vin, _ := demoSticker(b)
	benchValidator(b, download.PDFContains(vin), pdf)
}

func BenchmarkValidatePDFOf(b *testing.B) {
	pdf, vin, ids := demoSticker(b)
	benchValidator(b, download.PDFOf(vin, ids), pdf)
}

// BenchmarkValidateHostile is the time a validator takes on each crafted
// file: the worst cases of the limits.
func BenchmarkValidateHostile(b *testing.B) {
	ids := download.NewIDs(vinA, vinB)
	for _, tt := range hostile() {
		b.Run(tt.name, func(b *testing.B) {
			v := download.PDFOf(vinA, ids)
			b.ReportAllocs()
			b.SetBytes(int64(len(tt.data)))
			for b.Loop() {
				if err := v(bytes.NewReader(tt.data), int64(len(tt.data))); (err == nil) != (tt.want == nil) {
					b.Fatal(fmt.Sprint("err = ", err))
				}
			}
		})
	}
}
