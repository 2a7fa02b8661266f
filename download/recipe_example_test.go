package download_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/PuerkitoBio/goquery"
	playwright "github.com/mxschmitt/playwright-go"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/examples/portal/dealer"
	"github.com/pagefleet/pagefleet/pool"
	"github.com/pagefleet/pagefleet/session"
)

// The whole library at work, as README.md shows it: stickers downloads the
// window sticker of every vehicle of a dealer portal.
func Example_stickers() {
	site, _ := dealer.Start(dealer.Config{Vehicles: 30}) // stands in for the real portal
	defer site.Close()
	dir, _ := os.MkdirTemp("", "stickers")
	defer os.RemoveAll(dir)
	for range 2 { // the second run finds everything done
		done, failed, err := stickers(context.Background(), site.URL(), dealer.DemoUser, dealer.DemoPassword, dir)
		fmt.Println(done, "saved,", failed, "failed,", err)
	}
	// Output:
	// 30 saved, 0 failed, <nil>
	// 0 saved, 0 failed, <nil>
}

// recipe:begin
// stickers saves the window sticker of every vehicle of the portal at site
// into dir as <VIN>.pdf: one login, four pages at once, each PDF checked
// to be whole and to name its own vehicle and no other, every outcome in
// dir/checkpoint.jsonl. A rerun resumes: it skips what is done and intact.
func stickers(ctx context.Context, site, user, password, dir string) (done, failed int, err error) {
	sess, err := session.Open(ctx, session.Config{
		Login: session.FormLogin(session.Form{URL: site + "/login", User: user, Password: password,
			Success: "a#logout", Failure: "#login-error", BadCredentials: `#login-error:has-text("Invalid")`}),
		LoginURL: site + "/login",
		Block:    true, // no images, stylesheets, fonts or media
	})
	if err != nil {
		return 0, 0, err
	}
	defer sess.Close()

	// The inventory: every page, read without rendering.
	type vehicle struct{ VIN, URL string }
	vehicles, err := session.List(ctx, session.Listing[vehicle]{
		First: site + "/inventory",
		Key:   func(v vehicle) string { return v.VIN },
		Read: func(ctx context.Context, url string) (session.ListPage[vehicle], error) {
			var p session.ListPage[vehicle]
			doc, err := sess.Get(ctx, url, session.Expect{ErrorPage: "h1#error", Timeout: 15 * time.Second})
			if err != nil {
				return p, err
			}
			abs := func(href string) string { u, _ := doc.Url.Parse(href); return u.String() }
			doc.Find("table#inventory tbody tr").Each(func(_ int, tr *goquery.Selection) {
				href, _ := tr.Find("a.vehicle").Attr("href")
				vin := strings.ToUpper(strings.TrimSpace(tr.Find("td.vin").Text()))
				p.Items = append(p.Items, vehicle{vin, abs(href)})
			})
			if next, ok := doc.Find("a[rel=next]").Attr("href"); ok {
				p.Next = abs(next)
			}
			return p, nil
		},
	})
	if err != nil {
		return 0, 0, err
	}
	byVIN, vins, keys := map[string]vehicle{}, download.NewIDs(), []string{}
	for _, v := range vehicles {
		byVIN[v.VIN] = v
		vins.Add(v.VIN)
		keys = append(keys, v.VIN)
	}
	target := func(vin string) download.Target {
		return download.Target{Dir: dir, Name: download.SafeName(vin + ".pdf"), Timeout: 30 * time.Second,
			Validate: []download.Validator{download.PDFOf(vin, vins)}} // whole, and this vehicle's
	}

	// What earlier runs did.
	store, err := checkpoint.Open(filepath.Join(dir, "checkpoint.jsonl"), checkpoint.Options{})
	if err != nil {
		return 0, 0, err
	}
	defer store.Close()
	tracker, err := checkpoint.NewTracker(store, checkpoint.TrackerOptions{
		Adopt: func(ctx context.Context, vin string) (checkpoint.Record, bool) { // saved, never recorded
			f, err := download.Check(filepath.Join(dir, download.SafeName(vin+".pdf")), target(vin))
			return checkpoint.Record{Key: vin, State: checkpoint.Done, Path: f.Path, Size: f.Size, SHA256: f.SHA256}, err == nil
		},
	})
	if err != nil {
		return 0, 0, err
	}
	defer tracker.Close(context.Background())
	plan, err := tracker.Plan(ctx, keys)
	if err != nil {
		return 0, 0, err
	}

	// The work: four pages, an attempt at most a minute, retries with backoff.
	p, err := download.NewTracked(pool.Config[playwright.Page]{
		Factory: sess.Pages(), Workers: 4, AttemptTimeout: time.Minute,
		OnResult: func(r pool.Result) {
			switch {
			case r.Err == nil:
				done++
			case !errors.Is(r.Err, pool.ErrStopped):
				failed++
				fmt.Fprintln(os.Stderr, session.Scrub(r.Err))
			}
		},
	}, tracker)
	if err != nil {
		return 0, 0, err
	}
	err = p.Run(ctx, plan.Keys(), func(ctx context.Context, page playwright.Page, vin string) (any, error) {
		ready := session.Expect{ErrorPage: "h1#error", Ready: "#window-sticker", Timeout: 15 * time.Second}
		if _, err := sess.Goto(ctx, page, byVIN[vin].URL, ready); err != nil {
			return nil, err // a logout: logged in again, and the task runs again, uncharged
		}
		return download.Click(ctx, sess, page, download.Selector("#window-sticker"), target(vin))
	})
	return done, failed, err
}

// recipe:end
