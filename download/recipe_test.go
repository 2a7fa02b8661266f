package download_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/examples/portal/dealer"
	"github.com/pagefleet/pagefleet/session/sessiontest"
)

// faultySite is the job README's recipe must master: 5 % HTTP 500s on
// pages and stickers, 1 % requests that hang, sessions that end every 20 s,
// and logins refused now and then as an expired form.
func faultySite(vehicles int) dealer.Config {
	return dealer.Config{Vehicles: vehicles, Seed: 13, Photos: 2, Latency: 20 * time.Millisecond, LatencyJitter: 10 * time.Millisecond,
		ErrorRate: 0.05, HangRate: 0.01, SessionTTL: 20 * time.Second, CSRFRaceRate: 0.2}
}

// TestStickersOnAFaultySite runs README's program on a faulty portal:
// every vehicle right, none downloaded twice; a rerun downloads nothing.
func TestStickersOnAFaultySite(t *testing.T) {
	sessiontest.RequireBrowser(t)
	site, err := dealer.Start(faultySite(80))
	if err != nil {
		t.Fatal(err)
	}
	defer site.Close()
	dir := t.TempDir()
	go func() { // and every session logged out, twice during the run
		for _, at := range []int64{20, 50} {
			for site.Stats().Stickers < at {
				time.Sleep(10 * time.Millisecond)
			}
			site.LogoutAll()
		}
	}()
	done, failed, err := stickers(t.Context(), site.URL(), dealer.DemoUser, dealer.DemoPassword, dir)
	st := site.Stats()
	t.Logf("done %d, failed %d, err %v; portal: 500s %d, hangs %d, logins %d (refused forms %d), forced logouts %d",
		done, failed, err, st.Errors500, st.Hangs, st.LoginsOK, st.CSRFRaces, st.ForcedLogouts)
	if err != nil || done != 80 || failed != 0 {
		t.Fatalf("done %d, failed %d, err %v; want all 80", done, failed, err)
	}
	for _, v := range site.Vehicles() {
		path := filepath.Join(dir, v.VIN+".pdf")
		if _, err := download.Check(path, download.Target{Validate: []download.Validator{download.PDFOf(v.VIN, nil)}}); err != nil {
			t.Errorf("%s: %v", v.VIN, err)
		}
		if n := st.StickersByVehicle[v.ID]; n != 1 {
			t.Errorf("%s: the portal served its sticker %d times, want once", v.VIN, n)
		}
	}
	if st.Errors500 == 0 || st.Hangs == 0 || st.LoginsOK < 3 {
		t.Errorf("the faults did not happen: 500s %d, hangs %d, logins %d", st.Errors500, st.Hangs, st.LoginsOK)
	}
	site.ResetStats()
	if done, _, err := stickers(t.Context(), site.URL(), dealer.DemoUser, dealer.DemoPassword, dir); done != 0 || err != nil || site.Stats().Stickers != 0 {
		t.Errorf("rerun: %d saved, %v, %d stickers served; want nothing to do", done, err, site.Stats().Stickers)
	}
}

// TestREADMEShowsTheRecipe: README's library section is the program above,
// to the letter, so that it can't rot.
func TestREADMEShowsTheRecipe(t *testing.T) {
	src, err := os.ReadFile("recipe_example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := bytes.Cut(src, []byte("// recipe:begin\n"))
	recipe, _, _ := bytes.Cut(rest, []byte("\n// recipe:end"))
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if len(recipe) < 1000 || !bytes.Contains(readme, recipe) {
		t.Errorf("README.md does not show the program of recipe_example_test.go (between recipe:begin and recipe:end) verbatim")
	}
}

// BenchmarkStickersOnAFaultySite: the recipe's wall time on the faulty
// job, 200 vehicles at 4 workers, to compare with `jdrun` on the same
// portal (examples/portal with the same faults).
func BenchmarkStickersOnAFaultySite(b *testing.B) {
	sessiontest.RequireBrowser(b)
	for b.Loop() {
		site, err := dealer.Start(faultySite(200))
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		done, _, err := stickers(context.Background(), site.URL(), dealer.DemoUser, dealer.DemoPassword, b.TempDir())
		b.ReportMetric(time.Since(start).Seconds(), "s/job")
		site.Close()
		if err != nil || done != 200 {
			b.Fatalf("done %d: %v", done, err)
		}
	}
}
