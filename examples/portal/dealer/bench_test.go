package dealer_test

import (
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/pagefleet/pagefleet/examples/portal/dealer"
)

// BenchmarkSticker measures serving cached sticker PDFs over HTTP with
// keep-alive connections, faults off: client and server share the machine.
func BenchmarkSticker(b *testing.B) {
	const vehicles = 500
	srv := start(b, dealer.Config{Vehicles: vehicles})
	size := 0
	for id := 1; id <= vehicles; id++ { // generate every PDF before timing
		pdf, err := srv.StickerPDF(id)
		if err != nil {
			b.Fatal(err)
		}
		size += len(pdf)
	}
	c := newClient(b, srv)
	c.login()
	b.SetBytes(int64(size / vehicles))
	b.SetParallelism(4) // 4 × GOMAXPROCS clients
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := next.Add(1)%vehicles + 1
			resp, err := c.hc.Get(srv.URL() + "/vehicle/" + strconv.FormatInt(id, 10) + "/sticker.pdf")
			if err != nil {
				b.Error(err)
				return
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK || n < 10<<10 {
				b.Errorf("vehicle %d: %d, %d bytes, %v", id, resp.StatusCode, n, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pdfs/s")
	if st := srv.Stats(); st.Stickers != int64(b.N) {
		b.Errorf("stats: %d stickers for b.N %d", st.Stickers, b.N)
	}
}

// BenchmarkStickerGenerate measures making one sticker PDF (done once per
// vehicle, then cached).
func BenchmarkStickerGenerate(b *testing.B) {
	var srv *dealer.Server
	for i := range b.N {
		id := i%dealer.MaxVehicles + 1
		if id == 1 {
			b.StopTimer()
			if srv != nil {
				srv.Close()
			}
			var err error
			if srv, err = dealer.New(dealer.Config{Vehicles: dealer.MaxVehicles}); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		if _, err := srv.StickerPDF(id); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	srv.Close()
}

// BenchmarkVehiclePage measures rendering a vehicle page over HTTP.
func BenchmarkVehiclePage(b *testing.B) {
	srv := start(b, dealer.Config{})
	c := newClient(b, srv)
	c.login()
	b.SetParallelism(4)
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := next.Add(1)%dealer.DefaultVehicles + 1
			resp, err := c.hc.Get(srv.URL() + "/vehicle/" + strconv.FormatInt(id, 10))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
}
