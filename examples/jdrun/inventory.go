package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/cenkalti/backoff/v4"
	playwright "github.com/mxschmitt/playwright-go"

	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/pool"
	"github.com/pagefleet/pagefleet/session"
)

// inventoryPage is what one inventory page yields.
type inventoryPage struct {
	Rows  []map[string]string `json:"rows"`
	Next  string              `json:"next"`
	Links []string            `json:"-"` // other inventory pages it links to
	Error string              `json:"error"`
}

// extractJS reads the rows and the next link of an inventory page with the
// site adapter's selectors.
const extractJS = `([row, link, fields, next, errSel]) => {
	const rows = [];
	for (const tr of document.querySelectorAll(row)) {
		const a = tr.querySelector(link);
		const rec = {url: a ? a.href : ""};
		for (const [k, sel] of Object.entries(fields)) {
			const el = tr.querySelector(sel);
			rec[k] = el ? el.textContent.trim() : "";
		}
		rows.push(rec);
	}
	const n = document.querySelector(next), e = document.querySelector(errSel);
	return {rows, next: n ? n.href : "", error: e ? e.textContent.trim() : ""};
}`

// inventoryReaders is how many inventory pages are read at once: enough to
// hide the site's latency, few enough to be polite.
const inventoryReaders = 4

// listInventory returns the inventory's vehicles in its order, each VIN
// once. Pages are read without rendering (a GET with the session's
// cookies, parsed here) as long as that finds rows, and several at once:
// the pages a page links to (the site adapter's page_links) are read
// ahead, while the order comes from the next links. An inventory built by
// script is rendered in one browser page instead, page after page. A
// failing page is retried with backoff; a logout in between logs in again.
func (j *job) listInventory(ctx context.Context) ([]vehicle, error) {
	first := j.abs(j.site.InventoryPath)
	read, readers := j.inventoryHTML, min(j.cfg.Workers, inventoryReaders)
	ip, err := j.readInventory(ctx, first, read)
	if err == nil && len(ip.Rows) == 0 {
		j.log.Info("the inventory page has no rows without rendering; listing it in the browser", "url", first)
		page, perr := j.sess.NewPage(ctx)
		if perr != nil {
			return nil, fmt.Errorf("listing the inventory: %w", perr)
		}
		defer j.sess.ClosePage(page)
		read = func(ctx context.Context, u string) (inventoryPage, error) { return j.inventoryPage(ctx, page, u) }
		readers = 1
		ip, err = j.readInventory(ctx, first, read)
	}
	switch {
	case err != nil:
		return nil, fmt.Errorf("listing the inventory, page 1 (%s): %w", first, err)
	case len(ip.Rows) == 0:
		return nil, fmt.Errorf("the inventory at %s has no rows matching %q: check the site adapter (-site)", first, j.site.Row)
	}
	pages := crawlInventory(ctx, first, ip, readers, func(ctx context.Context, u string) (inventoryPage, error) {
		return j.readInventory(ctx, u, read)
	})
	vehicles, err := j.inventoryVehicles(first, pages)
	if err == nil {
		j.log.Info("inventory listed", "vehicles", len(vehicles))
	}
	return vehicles, err
}

// inventoryVehicles puts the pages read in order, from the first along the
// next links, and returns their vehicles, each VIN once.
func (j *job) inventoryVehicles(first string, pages map[string]readPage) ([]vehicle, error) {
	var vehicles []vehicle
	seen := map[string]bool{}
	for n, u := 1, first; u != ""; n++ {
		r, ok := pages[u]
		if !ok {
			break // a next link back to a page already listed
		}
		delete(pages, u)
		if r.err != nil {
			return nil, fmt.Errorf("listing the inventory, page %d (%s): %w", n, u, r.err)
		}
		for _, row := range r.Rows {
			v := vehicle{URL: row["url"], VIN: strings.ToUpper(strings.TrimSpace(row["vin"])), Stock: row["stock"],
				Year: row["year"], Make: row["make"], Model: row["model"], Trim: row["trim"], ID: path.Base(row["url"])}
			switch {
			case v.VIN == "" || v.URL == "":
				j.log.Warn("inventory row without a VIN or link; skipped", "page", n, "row", row)
				continue
			case seen[v.VIN]:
				j.log.Warn("VIN listed twice; keeping the first", "vin", v.VIN)
				continue
			}
			seen[v.VIN] = true
			vehicles = append(vehicles, v)
		}
		j.log.Debug("inventory page", "page", n, "rows", len(r.Rows))
		u = r.Next
	}
	return vehicles, nil
}

// readInventory reads one inventory page, retrying with backoff what may
// pass (not a 404, not a stopped run).
func (j *job) readInventory(ctx context.Context, u string, read func(context.Context, string) (inventoryPage, error)) (inventoryPage, error) {
	var ip inventoryPage
	op := func() error {
		var err error
		ip, err = read(ctx, u)
		if err != nil && (pool.IsAbort(err) || ctx.Err() != nil || !retryable(err)) {
			return backoff.Permanent(err)
		}
		return err
	}
	b := backoff.WithContext(backoff.WithMaxRetries(backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(500*time.Millisecond), backoff.WithMaxInterval(10*time.Second)), 8), ctx)
	notify := func(err error, d time.Duration) {
		j.log.Warn("inventory page failed; retrying", "url", u, "in", d.Round(time.Millisecond), "err", err)
	}
	err := backoff.RetryNotify(op, b, notify)
	return ip, err
}

// readPage is one inventory page read, or why it could not be.
type readPage struct {
	inventoryPage
	err error
}

// crawlInventory reads every page reachable from the first (already read
// as ip) through next and page links, up to readers at a time, and returns
// them by URL. A page that fails is returned with its error: only a page
// on the next chain fails the listing.
func crawlInventory(ctx context.Context, first string, ip inventoryPage, readers int,
	read func(context.Context, string) (inventoryPage, error)) map[string]readPage {
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		sem    = make(chan struct{}, max(readers, 1))
		pages  = map[string]readPage{}
		queued = map[string]bool{first: true}
	)
	var found func(u string, r readPage)
	found = func(u string, r readPage) {
		mu.Lock()
		defer mu.Unlock()
		pages[u] = r
		for _, l := range append([]string{r.Next}, r.Links...) {
			if l == "" || queued[l] {
				continue
			}
			queued[l] = true
			wg.Go(func() {
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					found(l, readPage{err: ctx.Err()})
					return
				}
				ip, err := read(ctx, l)
				<-sem
				found(l, readPage{ip, err})
			})
		}
	}
	found(first, readPage{inventoryPage: ip})
	wg.Wait()
	return pages
}

// inventoryHTML reads an inventory page from its HTML as served.
func (j *job) inventoryHTML(ctx context.Context, pageURL string) (inventoryPage, error) {
	var ip inventoryPage
	gen := j.sess.Generation()
	req, err := j.sess.Request(ctx)
	if err != nil {
		return ip, err
	}
	resp, err := req.Get(pageURL, playwright.APIRequestContextGetOptions{Timeout: session.Timeout(ctx, j.cfg.ReqTimeout)})
	if err != nil {
		return ip, err
	}
	defer resp.Dispose()
	if session.SamePage(resp.URL(), j.abs(j.site.LoginPath)) {
		if err := j.sess.Relogin(ctx, gen); err != nil {
			return ip, err
		}
		return ip, fmt.Errorf("%w while listing the inventory; logged in again", session.ErrLoggedOut)
	}
	if resp.Status() >= 400 {
		return ip, &session.StatusError{Code: resp.Status(), URL: pageURL}
	}
	body, err := resp.Body()
	if err != nil {
		return ip, err
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if err != nil {
		return ip, err
	}
	base, _ := url.Parse(resp.URL())
	resolve := func(href string) *url.URL {
		u, err := base.Parse(href)
		if err != nil || href == "" {
			return nil
		}
		u.Fragment = ""
		return u
	}
	abs := func(href string) string {
		if u := resolve(href); u != nil {
			return u.String()
		}
		return ""
	}
	if e := doc.Find(j.site.ErrorPage).First(); e.Length() > 0 {
		return ip, fmt.Errorf("the portal showed an error page: %q", strings.TrimSpace(e.Text()))
	}
	doc.Find(j.site.Row).Each(func(_ int, tr *goquery.Selection) {
		href, _ := tr.Find(j.site.RowLink).First().Attr("href")
		rec := map[string]string{"url": abs(href)}
		for k, sel := range j.site.RowFields {
			rec[k] = strings.TrimSpace(tr.Find(sel).First().Text())
		}
		ip.Rows = append(ip.Rows, rec)
	})
	if href, ok := doc.Find(j.site.NextPage).First().Attr("href"); ok {
		ip.Next = abs(href)
	}
	if j.site.PageLinks != "" {
		doc.Find(j.site.PageLinks).Each(func(_ int, a *goquery.Selection) {
			href, _ := a.Attr("href")
			if u := resolve(href); u != nil && u.Host == base.Host {
				ip.Links = append(ip.Links, u.String())
			}
		})
	}
	return ip, nil
}

func (j *job) inventoryPage(ctx context.Context, page playwright.Page, url string) (inventoryPage, error) {
	var ip inventoryPage
	// An inventory page is small: a hang should not cost a whole attempt timeout.
	ctx, cancel := context.WithTimeout(ctx, min(j.cfg.Timeout, 30*time.Second))
	defer cancel()
	resp, err := page.Goto(url, playwright.PageGotoOptions{Timeout: session.Timeout(ctx, j.cfg.Timeout)})
	if err != nil {
		return ip, err
	}
	if err := j.sess.Check(ctx, page); err != nil {
		return ip, err // after a re-login, the retry loads the page again
	}
	if resp != nil && resp.Status() >= 400 {
		return ip, &session.StatusError{Code: resp.Status(), URL: url}
	}
	fields := map[string]any{}
	for k, v := range j.site.RowFields {
		fields[k] = v
	}
	res, err := page.Evaluate(extractJS, []any{j.site.Row, j.site.RowLink, fields, j.site.NextPage, j.site.ErrorPage})
	if err != nil {
		return ip, err
	}
	b, _ := json.Marshal(res)
	if err := json.Unmarshal(b, &ip); err != nil {
		return ip, err
	}
	if ip.Error != "" {
		return ip, fmt.Errorf("the portal showed an error page: %q", ip.Error)
	}
	return ip, nil
}

// reason names a failure's kind for the report's grouping.
func reason(err error) string {
	var st *session.StatusError
	var pe *pool.PanicError
	switch {
	case errors.Is(err, errWrongPDF):
		return "wrong PDF (another vehicle's VIN)"
	case errors.Is(err, download.ErrTruncated):
		return "truncated PDF"
	case errors.Is(err, download.ErrHTMLPage):
		return "HTML page instead of the PDF"
	case errors.Is(err, download.ErrNotPDF), errors.Is(err, download.ErrEmpty):
		return "not a PDF"
	case errors.Is(err, download.ErrNoDownload):
		return "no download arrived"
	case errors.As(err, &st):
		return fmt.Sprintf("HTTP %d", st.Code)
	case errors.Is(err, pool.ErrStuck):
		return "stuck (rescued by the watchdog)"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, playwright.ErrTimeout):
		return "timeout"
	case errors.Is(err, session.ErrLoggedOut):
		return "logged out"
	case errors.Is(err, session.ErrDisconnected):
		return "browser disconnected"
	case errors.As(err, &pe):
		return "panic (a bug: please report it)"
	case strings.Contains(err.Error(), "error page"):
		return "site error page"
	}
	return "other"
}

// finishSummary fills the run totals from the pool and the session.
func (j *job) finishSummary(ctx context.Context) {
	s := &j.sum
	s.Finished = time.Now()
	s.Seconds = s.Finished.Sub(s.Started).Seconds()
	s.Interrupted = ctx.Err() != nil
	s.Failures = map[string]int{}
	for _, o := range j.outcomes {
		switch o.State {
		case "done":
			s.Done++
		case "failed":
			s.Failed++
			s.Failures[o.Reason]++
			s.FailedList = append(s.FailedList, o)
		case "stopped":
			s.Stopped++
		}
		s.WrongPDF += o.WrongPDF
		s.Downloads += o.Downloads
	}
	if j.pool != nil {
		ps := j.pool.Stats()
		s.Retries, s.Requeues, s.Rescued, s.Recycled, s.Workers = ps.Retries, ps.Requeued, ps.Rescued, ps.Recycled, ps.Target
		if ps.Elapsed > 0 {
			s.PerHour = float64(s.Done) / ps.Elapsed.Hours()
		}
	}
	for _, smp := range j.samples {
		s.MaxWorkers = max(s.MaxWorkers, smp.Workers)
	}
	if j.sess != nil {
		ss := j.sess.Stats()
		s.Relogins, s.Relaunches = int(max(ss.Logins-1, 0)), int(ss.Relaunches)
	}
	s.PeakMemoryMB = float64(j.peakPSS) / (1 << 20)
}
