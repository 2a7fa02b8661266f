package download_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	playwright "github.com/mxschmitt/playwright-go"

	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/session"
	"github.com/pagefleet/pagefleet/session/sessiontest"
)

// Run with: go test -run '^$' -bench . -benchtime 40x ./download/
// (BenchmarkMemory: -benchtime 1x). Extra chromium flags for all of them
// can be given in PAGEFLEET_BENCH_ARGS, separated by spaces.

func benchArgs() []string { return strings.Fields(os.Getenv("PAGEFLEET_BENCH_ARGS")) }

// onPages runs b.N downloads on n pages at once and reports, besides
// ns/op (wall time per file at that concurrency), the mean and p95 time of
// one download as seen by its page.
func onPages(b *testing.B, s *session.Session, n int, one func(ctx context.Context, page playwright.Page, i int) (time.Duration, error)) {
	ctx := context.Background()
	pages := make([]playwright.Page, n)
	for i := range pages {
		p, err := s.NewPage(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer s.ClosePage(p)
		pages[i] = p
	}
	var (
		next  atomic.Int64
		mu    sync.Mutex
		times []time.Duration
		wg    sync.WaitGroup
	)
	b.ResetTimer()
	for _, p := range pages {
		wg.Go(func() {
			for i := int(next.Add(1)); i <= b.N; i = int(next.Add(1)) {
				d, err := one(ctx, p, i)
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				times = append(times, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	slices.Sort(times)
	var sum time.Duration
	for _, d := range times {
		sum += d
	}
	if len(times) > 0 {
		b.ReportMetric(float64(sum.Milliseconds())/float64(len(times)), "ms/file")
		b.ReportMetric(float64(times[len(times)*95/100].Milliseconds()), "p95-ms")
	}
}

func benchSession(b *testing.B) (*sessiontest.Server, *session.Session) {
	srv := sessiontest.NewServer(b)
	cfg := srv.Config()
	cfg.Block, cfg.Args = true, benchArgs()
	return srv, sessiontest.Open(b, cfg)
}

// BenchmarkDownload compares a click (open the item's page, click, save)
// with a direct fetch, on 1 and 8 pages.
func BenchmarkDownload(b *testing.B) {
	srv, s := benchSession(b)
	dir := b.TempDir()
	click := func(ctx context.Context, page playwright.Page, i int) (time.Duration, error) {
		id := fmt.Sprintf("CLICK%06d", i)
		start := time.Now()
		if _, err := s.Goto(ctx, page, srv.ItemURL(id), session.Expect{}); err != nil {
			return 0, err
		}
		_, err := download.Click(ctx, s, page, download.Selector("#download"), sticker(dir, id))
		return time.Since(start), err
	}
	fetch := func(ctx context.Context, _ playwright.Page, i int) (time.Duration, error) {
		id := fmt.Sprintf("FETCH%06d", i)
		start := time.Now()
		_, err := download.Fetch(ctx, s, srv.PDFURL(id), sticker(dir, id))
		return time.Since(start), err
	}
	for _, n := range []int{1, 8} {
		b.Run(fmt.Sprintf("click/pages=%d", n), func(b *testing.B) { onPages(b, s, n, click) })
		b.Run(fmt.Sprintf("fetch/pages=%d", n), func(b *testing.B) { onPages(b, s, n, fetch) })
	}
}

// BenchmarkTrigger compares ways to click the download link; ms/file is
// the click and the download, without opening the page.
func BenchmarkTrigger(b *testing.B) {
	srv, s := benchSession(b)
	dir := b.TempDir()
	for _, tr := range []struct {
		name string
		t    func(sel string) download.Trigger
	}{
		{"Selector", download.Selector},
		{"MouseClick", download.MouseClick},
		{"LocatorEvaluate", func(sel string) download.Trigger {
			return func(ctx context.Context, page playwright.Page) error {
				_, err := page.Locator(sel).First().Evaluate("el => el.click()", nil)
				return err
			}
		}},
		{"DispatchEvent", func(sel string) download.Trigger {
			return func(ctx context.Context, page playwright.Page) error {
				return page.Locator(sel).First().DispatchEvent("click", nil)
			}
		}},
	} {
		for _, n := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/pages=%d", tr.name, n), func(b *testing.B) {
				onPages(b, s, n, func(ctx context.Context, page playwright.Page, i int) (time.Duration, error) {
					id := fmt.Sprintf("%s%d%06d", tr.name, n, i)
					if _, err := page.Goto(srv.ItemURL(id)); err != nil {
						return 0, err
					}
					start := time.Now()
					_, err := download.Click(ctx, s, page, tr.t("#download"), sticker(dir, id))
					return time.Since(start), err
				})
			})
		}
	}
}

// BenchmarkMemory reports the PSS of the whole process tree (this test
// process, the driver, chromium) after login and with 1, 4 and 8 pages
// that each opened an item's page (with a 1600×1200 image, a stylesheet
// and a font) and downloaded its PDF, with resource blocking off and on,
// for some chromium flag sets.
func BenchmarkMemory(b *testing.B) {
	if _, err := session.TreePSS(os.Getpid()); err != nil {
		b.Skip(err)
	}
	flags := []struct {
		name string
		args []string // replace session.DefaultArgs
	}{
		{"default", session.DefaultArgs},
		{"process-per-site", append(slices.Clone(session.DefaultArgs), "--process-per-site")}, // shares a busy page's hang: see DefaultArgs
		{"disable-gpu", append(slices.Clone(session.DefaultArgs), "--disable-gpu")},
		{"renderer-limit-1", append(slices.Clone(session.DefaultArgs), "--renderer-process-limit=1")},
		{"no-zygote", append(slices.Clone(session.DefaultArgs), "--no-zygote")},
	}
	if extra := benchArgs(); len(extra) > 0 {
		flags = flags[:1]
		flags[0].args = append(slices.Clone(session.DefaultArgs), extra...)
	}
	for _, fl := range flags {
		for _, block := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/block=%v", fl.name, block), func(b *testing.B) {
				defer func(saved []string) { session.DefaultArgs = saved }(session.DefaultArgs)
				session.DefaultArgs = fl.args // not parallel: nothing else runs
				for range b.N {
					memory(b, block)
				}
			})
		}
	}
}

func memory(b *testing.B, block bool) {
	srv := sessiontest.NewServer(b)
	cfg := srv.Config()
	cfg.Block = block
	cfg.Logger = slog.New(slog.DiscardHandler)
	s := sessiontest.Open(b, cfg)
	defer s.Close()
	ctx := context.Background()
	dir := b.TempDir()
	pss := func() float64 {
		runtime.GC()
		n, err := s.Memory()
		if err != nil {
			b.Fatal(err)
		}
		return float64(n) / 1e6
	}
	b.ReportMetric(pss(), "MB-login")
	var pages []playwright.Page
	for _, n := range []int{1, 4, 8} {
		var wg sync.WaitGroup
		for i := len(pages); i < n; i++ {
			p, err := s.NewPage(ctx)
			if err != nil {
				b.Fatal(err)
			}
			defer s.ClosePage(p)
			pages = append(pages, p)
			wg.Go(func() {
				id := fmt.Sprintf("MEM%03d", i)
				if _, err := p.Goto(srv.ItemURL(id)); err != nil {
					b.Error(err)
					return
				}
				if _, err := download.Click(ctx, s, p, download.Selector("#download"), sticker(dir, id)); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		b.ReportMetric(pss(), fmt.Sprintf("MB-%dpages", n))
	}
	if got := srv.Assets(); block && got != 0 {
		b.Errorf("%d asset requests reached the server with blocking on", got)
	}
}
