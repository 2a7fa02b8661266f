package dealer_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagefleet/pagefleet/examples/portal/dealer"
)

func TestStickerPDFContent(t *testing.T) {
	t.Parallel()
	srv := start(t, dealer.Config{Vehicles: 40, Seed: 11})
	c := newClient(t, srv)
	c.login()
	for _, v := range srv.Vehicles()[:5] {
		r := c.get(v.StickerPath())
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d", v.StickerPath(), r.status)
		}
		if ct, cd := r.header.Get("Content-Type"), r.header.Get("Content-Disposition"); ct != "application/pdf" ||
			cd != `attachment; filename="window-sticker.pdf"` {
			t.Errorf("headers: %q %q", ct, cd)
		}
		b := r.body
		if r.header.Get("Content-Length") != strconv.Itoa(len(b)) {
			t.Errorf("Content-Length %s, body %d", r.header.Get("Content-Length"), len(b))
		}
		if !bytes.HasPrefix(b, []byte("%PDF-")) || !bytes.Contains(b[len(b)-16:], []byte("%%EOF")) ||
			!bytes.Contains(b, []byte("/FlateDecode")) {
			t.Errorf("vehicle %d: not a complete, compressed PDF", v.ID)
		}
		if len(b) < 10<<10 || len(b) > 100<<10 {
			t.Errorf("vehicle %d: sticker is %d bytes, want tens of KB", v.ID, len(b))
		}
		text := pdfText(t, b)
		for _, want := range []string{v.VIN, strings.ToUpper(v.Title()), "TOTAL MSRP", "$" + comma(v.MSRP), "WINDOW STICKER"} {
			if !strings.Contains(text, want) {
				t.Errorf("vehicle %d: sticker text lacks %q", v.ID, want)
			}
		}
		for _, o := range v.Options {
			if !strings.Contains(text, o.Name) {
				t.Errorf("vehicle %d: sticker text lacks option %q", v.ID, o.Name)
			}
		}
		want, _ := srv.StickerPDF(v.ID)
		if !bytes.Equal(b, want) {
			t.Errorf("vehicle %d: served bytes differ from StickerPDF", v.ID)
		}
	}
	// The same vehicle again counts as a duplicate.
	v := srv.Vehicles()[2]
	c.get(v.StickerPath())
	st := c.httpStats()
	if st.Stickers != 6 || st.StickersByVehicle[v.ID] != 2 || st.StickersByVehicle[1] != 1 || st.DuplicateStickers != 1 || st.WrongStickers != 0 {
		t.Errorf("stats: stickers %d, by vehicle %v, duplicates %d, wrong %d", st.Stickers, st.StickersByVehicle, st.DuplicateStickers, st.WrongStickers)
	}
	// Without a session the sticker URL redirects to the login page.
	anon := newClient(t, srv)
	if r := anon.get(v.StickerPath()); r.url.Path != "/login" || r.header.Get("Content-Type") == "application/pdf" {
		t.Errorf("sticker without login: ended on %s", r.url)
	}
	if r := c.get("/vehicle/41/sticker.pdf"); r.status != http.StatusNotFound {
		t.Errorf("sticker of a vehicle not in the inventory: %d", r.status)
	}
}

func comma(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func TestStickerModes(t *testing.T) {
	t.Parallel()
	t.Run("inline", func(t *testing.T) {
		t.Parallel()
		srv := start(t, dealer.Config{Vehicles: 5, StickerMode: dealer.StickerInline})
		c := newClient(t, srv)
		c.login()
		v := srv.Vehicles()[1]
		if page := c.get(v.Path()); !strings.Contains(page.text(), `<a id="window-sticker" class="btn btn-primary" href="`+v.StickerPath()+`">`) {
			t.Error("inline mode: no sticker link")
		}
		r := c.get(v.StickerPath())
		if r.status != 200 || r.header.Get("Content-Disposition") != `inline; filename="window-sticker.pdf"` {
			t.Errorf("inline: %d %q", r.status, r.header.Get("Content-Disposition"))
		}
		if r := c.post(v.PreparePath(), nil, nil); r.status != http.StatusNotFound {
			t.Errorf("prepare in inline mode: %d, want 404", r.status)
		}
	})
	t.Run("prepare", func(t *testing.T) {
		t.Parallel()
		srv := start(t, dealer.Config{Vehicles: 5, StickerMode: dealer.StickerPrepare})
		c := newClient(t, srv)
		c.login()
		v := srv.Vehicles()[3]
		page := c.get(v.Path())
		want := `<button id="window-sticker" type="button" class="btn btn-primary" data-prepare-url="` + v.PreparePath() +
			`" data-sticker-url="` + v.StickerPath() + `">`
		if !strings.Contains(page.text(), want) {
			t.Fatalf("prepare mode: no sticker button %s", want)
		}
		token := csrfMeta.FindStringSubmatch(page.text())[1]
		// Not prepared: 409.
		if r := c.get(v.StickerPath()); r.status != http.StatusConflict {
			t.Errorf("unprepared sticker: %d, want 409", r.status)
		}
		// Prepare needs the CSRF token.
		if r := c.post(v.PreparePath(), nil, http.Header{"X-Csrf-Token": {"forged"}}); r.status != http.StatusForbidden {
			t.Errorf("prepare with a forged token: %d, want 403", r.status)
		}
		r := c.post(v.PreparePath(), nil, http.Header{"X-Csrf-Token": {token}})
		if r.status != 200 || !strings.Contains(r.text(), `"url":"`+v.StickerPath()+`"`) {
			t.Fatalf("prepare: %d %s", r.status, r.text())
		}
		r = c.get(v.StickerPath())
		if r.status != 200 || r.header.Get("Content-Disposition") != `attachment; filename="window-sticker.pdf"` ||
			!strings.Contains(pdfText(t, r.body), v.VIN) {
			t.Errorf("prepared sticker: %d %q", r.status, r.header.Get("Content-Disposition"))
		}
		// One preparation, one download.
		if r := c.get(v.StickerPath()); r.status != http.StatusConflict {
			t.Errorf("second download of one preparation: %d, want 409", r.status)
		}
		st := srv.Stats()
		if st.Prepared != 1 || st.NotPrepared != 2 || st.Stickers != 1 || st.Requests[dealer.KindPrepare] != 2 {
			t.Errorf("stats: prepared %d, not prepared %d, stickers %d, prepare requests %d", st.Prepared, st.NotPrepared, st.Stickers, st.Requests[dealer.KindPrepare])
		}
	})
}

func TestInterferenceSequential(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{false, true} {
		srv := start(t, dealer.Config{Vehicles: 10, Interference: on})
		c := newClient(t, srv)
		c.login()
		vs := srv.Vehicles()
		// Downloading before viewing anything gets the right sticker.
		if got := pdfVIN(t, c.get(vs[4].StickerPath()).body, vs); got != vs[4].VIN {
			t.Errorf("interference %v, no vehicle viewed: got %s", on, got)
		}
		c.get(vs[0].Path())
		c.get(vs[1].Path()) // another page of the same session, in between
		got := pdfVIN(t, c.get(vs[0].StickerPath()).body, vs)
		want, wrong := vs[0].VIN, int64(0)
		if on {
			want, wrong = vs[1].VIN, 1
		}
		if got != want {
			t.Errorf("interference %v: sticker of vehicle 1 has VIN %s, want %s", on, got, want)
		}
		if st := srv.Stats(); st.WrongStickers != wrong || st.StickersByVehicle[1] != 1 || st.Sessions[0].CurrentVehicle != 2 {
			t.Errorf("interference %v: stats wrong %d, by vehicle %v, current %d", on, st.WrongStickers, st.StickersByVehicle, st.Sessions[0].CurrentVehicle)
		}
	}
}

// TestInterferenceRacingClient: eight workers share one session; all view
// their vehicle, then all download. Exactly one of them (the last to view)
// gets its own sticker.
func TestInterferenceRacingClient(t *testing.T) {
	t.Parallel()
	const workers = 8
	srv := start(t, dealer.Config{Vehicles: 20, Interference: true})
	c := newClient(t, srv)
	c.login()
	vs := srv.Vehicles()
	var viewed, wg sync.WaitGroup
	viewed.Add(workers)
	var mu sync.Mutex
	wrong := 0
	for i := range workers {
		wg.Go(func() {
			v := vs[i]
			c.getAsync(v.Path())
			viewed.Done()
			viewed.Wait() // every worker has viewed its page
			if got := pdfVIN(t, c.getAsync(v.StickerPath()).body, vs); got != v.VIN {
				mu.Lock()
				wrong++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	st := srv.Stats()
	if wrong != workers-1 || st.WrongStickers != int64(wrong) {
		t.Errorf("client saw %d wrong stickers, stats say %d, want %d", wrong, st.WrongStickers, workers-1)
	}
}

// TestInterferenceCarefulClients: the same parallel workload with sticker
// latency, done by a client that keeps view→download as one critical
// section, and by one that checks the VIN and retries. Both get every
// file right; the stats count what the careless order cost.
func TestInterferenceCarefulClients(t *testing.T) {
	t.Parallel()
	const workers, n = 4, 24
	run := func(t *testing.T, fetch func(c *client, v dealer.Vehicle, vs []dealer.Vehicle) []byte) (*dealer.Server, int) {
		srv := start(t, dealer.Config{Vehicles: n, Interference: true, StickerLatency: 2 * time.Millisecond, Seed: 5})
		c := newClient(t, srv)
		c.login()
		vs := srv.Vehicles()
		jobs := make(chan dealer.Vehicle)
		var wg sync.WaitGroup
		var mu sync.Mutex
		wrong := 0
		for range workers {
			wg.Go(func() {
				for v := range jobs {
					if got := pdfVIN(t, fetch(c, v, vs), vs); got != v.VIN {
						mu.Lock()
						wrong++
						mu.Unlock()
					}
				}
			})
		}
		for _, v := range vs {
			jobs <- v
		}
		close(jobs)
		wg.Wait()
		return srv, wrong
	}
	t.Run("critical section", func(t *testing.T) {
		t.Parallel()
		var mu sync.Mutex
		srv, wrong := run(t, func(c *client, v dealer.Vehicle, _ []dealer.Vehicle) []byte {
			mu.Lock()
			defer mu.Unlock()
			c.getAsync(v.Path())
			return c.getAsync(v.StickerPath()).body
		})
		st := srv.Stats()
		if wrong != 0 || st.WrongStickers != 0 || st.Stickers != n {
			t.Errorf("wrong files %d, stats: wrong %d, stickers %d", wrong, st.WrongStickers, st.Stickers)
		}
	})
	t.Run("verify and retry", func(t *testing.T) {
		t.Parallel()
		srv, wrong := run(t, func(c *client, v dealer.Vehicle, vs []dealer.Vehicle) []byte {
			for range 100 {
				c.getAsync(v.Path())
				b := c.getAsync(v.StickerPath()).body
				if pdfVIN(t, b, vs) == v.VIN {
					return b
				}
			}
			return nil
		})
		st := srv.Stats()
		if wrong != 0 || st.Stickers != n+st.WrongStickers || st.DuplicateStickers != st.WrongStickers {
			t.Errorf("wrong files %d, stats: wrong %d, stickers %d, duplicates %d", wrong, st.WrongStickers, st.Stickers, st.DuplicateStickers)
		}
		t.Logf("the server served %d wrong stickers; the client retried and kept none", st.WrongStickers)
	})
}

func TestTruncatedStickers(t *testing.T) {
	t.Parallel()
	t.Run("clean end", func(t *testing.T) {
		t.Parallel()
		srv := start(t, dealer.Config{Vehicles: 10, TruncateRate: 0.5, Seed: 1})
		c := newClient(t, srv)
		c.login()
		truncated := 0
		for i := range 40 {
			v := srv.Vehicles()[i%10]
			r := c.get(v.StickerPath())
			full, _ := srv.StickerPDF(v.ID)
			if r.err != nil || r.status != 200 {
				t.Fatalf("truncated sticker: %d %v", r.status, r.err)
			}
			if len(r.body) < len(full) {
				truncated++
				if r.header.Get("Content-Length") != "" || !bytes.HasPrefix(full, r.body) || bytes.Contains(r.body, []byte("%%EOF")) {
					t.Errorf("a truncated sticker should be a clean prefix without Content-Length")
				}
			} else if !bytes.Equal(r.body, full) {
				t.Errorf("vehicle %d: wrong bytes", v.ID)
			}
		}
		st := srv.Stats()
		if truncated == 0 || truncated == 40 || st.TruncatedStickers != int64(truncated) || st.Stickers != 40 {
			t.Errorf("client saw %d truncated of 40, stats %d of %d", truncated, st.TruncatedStickers, st.Stickers)
		}
	})
	t.Run("abort", func(t *testing.T) {
		t.Parallel()
		srv := start(t, dealer.Config{Vehicles: 10, TruncateRate: 1, TruncateAbort: true})
		c := newClient(t, srv)
		c.login()
		v := srv.Vehicles()[0]
		r := c.get(v.StickerPath())
		full, _ := srv.StickerPDF(v.ID)
		if !errors.Is(r.err, io.ErrUnexpectedEOF) || r.header.Get("Content-Length") != strconv.Itoa(len(full)) || len(r.body) >= len(full) {
			t.Errorf("aborted sticker: err %v, Content-Length %s, %d of %d bytes", r.err, r.header.Get("Content-Length"), len(r.body), len(full))
		}
		if st := srv.Stats(); st.TruncatedStickers != 1 {
			t.Errorf("stats: %d truncated", st.TruncatedStickers)
		}
		// The connection is gone, the next request works on a new one.
		if r := c.get("/inventory"); r.status != 200 {
			t.Errorf("after abort: %d", r.status)
		}
	})
}

func TestStickerLatency(t *testing.T) {
	t.Parallel()
	const base, sticker = 30 * time.Millisecond, 40 * time.Millisecond
	srv := start(t, dealer.Config{Vehicles: 3, Latency: base, StickerLatency: sticker})
	c := newClient(t, srv)
	c.login()
	v := srv.Vehicles()[0]
	t0 := time.Now()
	c.get(v.Path())
	page := time.Since(t0)
	t0 = time.Now()
	c.get(v.StickerPath())
	pdf := time.Since(t0)
	if page < base || pdf < base+sticker {
		t.Errorf("page took %v (want ≥ %v), sticker %v (want ≥ %v)", page, base, pdf, base+sticker)
	}
	// A client that gives up does not wait for the latency.
	srv2 := start(t, dealer.Config{Vehicles: 3, StickerLatency: time.Hour})
	c2 := newClient(t, srv2)
	c2.login()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c2.do(ctx, http.MethodGet, v.StickerPath(), nil, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hour-long sticker latency: %v", err)
	}
}

func TestPrewarm(t *testing.T) {
	t.Parallel()
	srv := start(t, dealer.Config{Vehicles: 40, Prewarm: true})
	c := newClient(t, srv)
	c.login()
	v := srv.Vehicles()[39]
	if r := c.get(v.StickerPath()); r.status != 200 || !strings.Contains(pdfText(t, r.body), v.VIN) {
		t.Errorf("sticker with prewarm: %d", r.status)
	}
	// Close stops the prewarm goroutine (goleak checks it at the end).
	srv2 := start(t, dealer.Config{Prewarm: true})
	srv2.Close()
}

func TestMentionStickers(t *testing.T) {
	t.Parallel()
	srv := start(t, dealer.Config{Vehicles: 12, Seed: 8, MentionRate: 1})
	c := newClient(t, srv)
	c.login()
	vs := srv.Vehicles()
	others := map[string]bool{}
	for _, v := range vs[:6] {
		r := c.get(v.StickerPath())
		if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/pdf" {
			t.Fatalf("%s: %d %s", v.StickerPath(), r.status, r.header.Get("Content-Type"))
		}
		text := pdfText(t, r.body)
		// The requested VIN is in the footer, and only there.
		footer := "Replaces window sticker of VIN " + v.VIN + "."
		if !strings.Contains(text, footer) || strings.Count(text, v.VIN) != 1 {
			t.Errorf("vehicle %d: footer %q present %v, VIN %d times", v.ID, footer, strings.Contains(text, footer), strings.Count(text, v.VIN))
		}
		// The sticker is another vehicle's: its VIN is on the VIN line, the
		// barcode caption and in the fine print.
		own := ""
		for _, o := range vs {
			if o.ID != v.ID && strings.Contains(text, o.VIN) {
				if own != "" {
					t.Errorf("vehicle %d: the sticker has the VINs of %s and %s", v.ID, own, o.VIN)
				}
				own = o.VIN
			}
		}
		if own == "" || !strings.Contains(text, "*"+own+"*") || !strings.Contains(text, "Vehicle identification number "+own+".") {
			t.Errorf("vehicle %d: the sticker's own VIN %q is not where a sticker's VIN is", v.ID, own)
		}
		others[own] = true
	}
	if len(others) < 2 {
		t.Errorf("every mention sticker is of the same vehicle: %v", others)
	}
	st := c.httpStats()
	if st.Stickers != 6 || st.MentionStickers != 6 || st.WrongStickers != 6 {
		t.Errorf("stats: stickers %d, mention %d, wrong %d, want 6 6 6", st.Stickers, st.MentionStickers, st.WrongStickers)
	}

	// Without the fault no sticker has another vehicle's VIN anywhere.
	plain := start(t, dealer.Config{Vehicles: 12, Seed: 8})
	for _, v := range plain.Vehicles() {
		b, err := plain.StickerPDF(v.ID)
		if err != nil {
			t.Fatal(err)
		}
		text := pdfText(t, b)
		for _, o := range vs {
			if o.ID != v.ID && strings.Contains(text, o.VIN) || bytes.Contains(b, []byte(o.VIN)) != (o.ID == v.ID) {
				t.Errorf("the sticker of vehicle %d has the VIN of vehicle %d in its text or bytes", v.ID, o.ID)
			}
		}
	}
}

func TestMentionRate(t *testing.T) {
	t.Parallel()
	const n = 80
	srv := start(t, dealer.Config{Vehicles: 20, Seed: 2, MentionRate: 0.25})
	c := newClient(t, srv)
	c.login()
	vs := srv.Vehicles()
	mentions := 0
	for i := range n {
		v := vs[i%len(vs)]
		text := pdfText(t, c.get(v.StickerPath()).body)
		if strings.Contains(text, "Replaces window sticker of VIN "+v.VIN) {
			mentions++
		} else if !strings.Contains(text, "*"+v.VIN+"*") {
			t.Errorf("vehicle %d: neither its own sticker nor a mention sticker", v.ID)
		}
	}
	st := srv.Stats()
	if st.MentionStickers != int64(mentions) || st.WrongStickers != int64(mentions) || mentions < n/10 || mentions > n*4/10 {
		t.Errorf("client saw %d mention stickers of %d; stats mention %d, wrong %d", mentions, n, st.MentionStickers, st.WrongStickers)
	}
}

// eofScanner counts what is written to it and notes a "%%EOF" anywhere in
// it, across writes.
type eofScanner struct {
	n     int64
	tail  []byte
	found bool
}

func (e *eofScanner) Write(p []byte) (int, error) {
	e.n += int64(len(p))
	buf := append(e.tail, p[:min(len(p), 8)]...)
	e.found = e.found || bytes.Contains(buf, []byte("%%EOF")) || bytes.Contains(p, []byte("%%EOF"))
	e.tail = append(e.tail[:0], p[max(0, len(p)-4):]...)
	return len(p), nil
}

// openSticker starts a GET of a sticker and returns the response with its
// body unread.
func openSticker(t *testing.T, c *client, v dealer.Vehicle) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, c.base+v.StickerPath(), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/pdf" ||
		resp.ContentLength != -1 || resp.Header.Get("Content-Length") != "" {
		t.Fatalf("huge sticker: %d %s, Content-Length %d", resp.StatusCode, resp.Header.Get("Content-Type"), resp.ContentLength)
	}
	return resp
}

func TestHugeStickers(t *testing.T) {
	t.Parallel()
	const huge = 200 << 20
	t.Run("client stops reading", func(t *testing.T) {
		t.Parallel()
		sig, logger := newSignals()
		srv := start(t, dealer.Config{Vehicles: 10, HugeVehicles: []int{3, 4}, Logger: logger})
		c := newClient(t, srv)
		c.login()
		v := srv.Vehicles()[2]
		resp := openSticker(t, c, v)
		head := make([]byte, 5)
		if _, err := io.ReadFull(resp.Body, head); err != nil || string(head) != "%PDF-" {
			t.Fatalf("huge sticker starts with %q: %v", head, err)
		}
		var scan eofScanner
		if _, err := io.CopyN(&scan, resp.Body, 101<<20); err != nil {
			t.Fatalf("read 101 MB: %v", err)
		}
		if scan.found {
			t.Errorf("%s in a huge sticker", "%%EOF")
		}
		if st := srv.Stats(); st.HugeStreaming != 1 || st.HugeStickers != 1 || st.Stickers != 1 || st.StickersByVehicle[3] != 1 {
			t.Errorf("while streaming: streaming %d, huge %d, stickers %d", st.HugeStreaming, st.HugeStickers, st.Stickers)
		}
		resp.Body.Close() // the client stops reading: the handler ends
		sig.waitFor(t, "huge sticker stopped", "vehicle=3", "reason=client gone")
		sig.waitFor(t, "request", "path="+v.StickerPath())
		st := srv.Stats()
		if st.HugeStreaming != 0 || st.HugeBytes < 101<<20 || st.HugeBytes >= huge || st.Sessions[0].InFlight != 0 {
			t.Errorf("after the client stopped: streaming %d, %d bytes written, in flight %d", st.HugeStreaming, st.HugeBytes, st.Sessions[0].InFlight)
		}
		t.Logf("the client read %d MB; the server wrote %d MB", (5+scan.n)>>20, st.HugeBytes>>20)
		// Other stickers are ordinary.
		if r := c.get(srv.Vehicles()[4].StickerPath()); r.status != 200 || !strings.Contains(pdfText(t, r.body), srv.Vehicles()[4].VIN) {
			t.Errorf("sticker of vehicle 5: %d", r.status)
		}
	})
	t.Run("whole", func(t *testing.T) {
		t.Parallel()
		srv := start(t, dealer.Config{Vehicles: 10, HugeVehicles: []int{3}})
		c := newClient(t, srv)
		c.login()
		resp := openSticker(t, c, srv.Vehicles()[2])
		var scan eofScanner
		if _, err := io.Copy(&scan, resp.Body); err != nil || scan.n != huge || scan.found {
			t.Errorf("huge sticker: %d bytes, %%%%EOF %v, %v; want %d bytes, no %%%%EOF", scan.n, scan.found, err, huge)
		}
		if st := c.httpStats(); st.HugeBytes != huge || st.HugeStickers != 1 || st.HugeStreaming != 0 {
			t.Errorf("stats: huge bytes %d, huge stickers %d", st.HugeBytes, st.HugeStickers)
		}
	})
	t.Run("server closes", func(t *testing.T) {
		t.Parallel()
		sig, logger := newSignals()
		srv := start(t, dealer.Config{Vehicles: 10, HugeVehicles: []int{3}, Logger: logger})
		c := newClient(t, srv)
		c.login()
		resp := openSticker(t, c, srv.Vehicles()[2])
		sig.waitFor(t, "fault: huge sticker", "vehicle=3")
		srv.Close() // returns once the handler has ended
		sig.waitFor(t, "huge sticker stopped", "vehicle=3", "reason=server closing")
		if _, err := io.Copy(io.Discard, resp.Body); err == nil {
			t.Error("the huge sticker ended cleanly at Close")
		}
		if st := srv.Stats(); st.HugeStreaming != 0 || st.HugeBytes >= huge {
			t.Errorf("after Close: streaming %d, %d bytes", st.HugeStreaming, st.HugeBytes)
		}
	})
}

// pdfObjects checks the frame of a small uncompressed PDF — header,
// startxref pointing at an xref table whose every entry points at its
// object, %%EOF at the end — and returns its objects' text by number.
// It does not walk the page tree, which is what a crafted PDF is about.
func pdfObjects(t *testing.T, b []byte) map[int]string {
	t.Helper()
	s := string(b)
	m := regexp.MustCompile(`startxref\n(\d+)\n%%EOF\n$`).FindStringSubmatch(s)
	if !strings.HasPrefix(s, "%PDF-1.") || m == nil {
		t.Fatalf("no PDF header, or no startxref and %%%%EOF at the end:\n%s", s)
	}
	xref, _ := strconv.Atoi(m[1])
	if xref >= len(s) || !strings.HasPrefix(s[xref:], "xref\n0 ") {
		t.Fatalf("startxref %d does not point at an xref table", xref)
	}
	entries := regexp.MustCompile(`(\d{10}) 00000 n `).FindAllStringSubmatch(s[xref:], -1)
	objs := map[int]string{}
	for i, e := range entries {
		off, _ := strconv.Atoi(e[1])
		head := strconv.Itoa(i+1) + " 0 obj\n"
		end := strings.Index(s[off:], "endobj")
		if !strings.HasPrefix(s[off:], head) || end < 0 {
			t.Fatalf("xref entry %d (offset %d) does not point at object %d", i+1, off, i+1)
		}
		objs[i+1] = s[off+len(head) : off+end]
	}
	if !strings.Contains(s[xref:], "/Size "+strconv.Itoa(len(entries)+1)+" /Root 1 0 R") {
		t.Errorf("trailer does not match %d objects", len(entries))
	}
	return objs
}

func TestCraftedStickers(t *testing.T) {
	t.Parallel()
	srv := start(t, dealer.Config{Vehicles: 10, CraftedVehicles: []int{2}, PageBombVehicles: []int{7}, LowercaseVINs: true})
	c := newClient(t, srv)
	c.login()
	for _, tc := range []struct {
		id    int
		pages string // the Pages node
	}{
		{2, "<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>"}, // object 2 is its own kid
		{7, "<< /Type /Pages /Kids [3 0 R] /Count 1000000000 >>"},
	} {
		v, _ := srv.Vehicle(tc.id)
		r := c.get(v.StickerPath())
		if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/pdf" || r.header.Get("Content-Length") != strconv.Itoa(len(r.body)) {
			t.Fatalf("vehicle %d: %d %s, Content-Length %s", tc.id, r.status, r.header.Get("Content-Type"), r.header.Get("Content-Length"))
		}
		if len(r.body) >= 1<<10 {
			t.Errorf("vehicle %d: crafted sticker of %d bytes, want < 1 KB", tc.id, len(r.body))
		}
		// Never give it to a PDF library here: walking its tree is the trap.
		objs := pdfObjects(t, r.body)
		if objs[1] != "<< /Type /Catalog /Pages 2 0 R >>\n" || objs[2] != tc.pages+"\n" || !strings.Contains(objs[3], "/Parent 2 0 R") {
			t.Errorf("vehicle %d: catalog %q, pages %q, page %q", tc.id, objs[1], objs[2], objs[3])
		}
		if want := "(VIN " + strings.ToLower(v.VIN) + ") Tj"; !strings.Contains(objs[4], "stream\n") || !strings.Contains(objs[4], want) {
			t.Errorf("vehicle %d: content stream lacks %q: %q", tc.id, want, objs[4])
		}
	}
	if r := c.get(srv.Vehicles()[0].StickerPath()); len(r.body) < 10<<10 {
		t.Errorf("vehicle 1: sticker of %d bytes, want an ordinary one", len(r.body))
	}
	if st := c.httpStats(); st.CraftedStickers != 2 || st.Stickers != 3 {
		t.Errorf("stats: crafted %d, stickers %d, want 2 3", st.CraftedStickers, st.Stickers)
	}
}
