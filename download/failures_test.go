package download_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/pool"
	"github.com/pagefleet/pagefleet/session"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	wrap := func(err error) error {
		return fmt.Errorf("task %q: giving up after 3 attempt(s): %w", "1HGCM82633A004352", err)
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&download.InvalidError{Reason: download.ErrWrongItem, Others: []string{"X"}}, "another item's file"},
		{&download.InvalidError{Reason: download.ErrContentMismatch}, "file without the item's ID"},
		{&download.InvalidError{Reason: download.ErrTruncated}, "truncated file"},
		{pool.Requeue(fmt.Errorf("%w: %w", session.ErrLoggedOut, &download.InvalidError{Reason: download.ErrLoginPage})), "logged out"},
		{&download.InvalidError{Reason: download.ErrHTMLPage}, "HTML page instead of the file"},
		{fmt.Errorf("%w (attempt 5): %w", session.ErrLoginFailed, context.DeadlineExceeded), "login failed"},
		{fmt.Errorf("%w: %w", download.ErrLoginLoop, &download.InvalidError{Reason: download.ErrLoginPage}), "login page for direct requests"},
		{backoff.Permanent(&session.StatusError{Code: 404, URL: "http://x/1"}), "HTTP 404"},
		{&session.StatusError{Code: 503}, "HTTP 503"},
		{&session.ErrorPageError{URL: "http://x", Text: "Oops"}, "site error page"},
		{fmt.Errorf("%w: no #b", session.ErrNotReady), "no download on the page"},
		{fmt.Errorf("%w: %w", download.ErrDiskFull, errors.New("ENOSPC")), "disk full"},
		{fmt.Errorf("%w: ran 5m", pool.ErrStuck), "stuck"},
		{context.DeadlineExceeded, "timeout"},
		{pool.Requeue(session.ErrDisconnected), "browser crashed"},
		{fmt.Errorf("%w: the process died during 2 attempts", checkpoint.ErrPoison), "crashed the process"},
		{fmt.Errorf("%w: 5 attempt(s); the last: HTTP 500", checkpoint.ErrGivenUp), "attempts used up"},
		{fmt.Errorf("session: reading http://x/1: %w", session.ErrUnresponsive), "page hung"},
		{errors.New("something new"), "other"},
	} {
		c := download.Classify(wrap(tc.err))
		if c.Name != tc.want || c.Hint == "" {
			t.Errorf("Classify(%v) = %+v, want %q with a hint", tc.err, c, tc.want)
		}
	}
	// A hung page is the page's doing: the adaptive pool must not shed
	// workers for it, as it does for the site's timeouts.
	if session.Overload(session.ErrUnresponsive) || !session.Overload(context.DeadlineExceeded) {
		t.Error("Overload: a hung page counts as overload, or a timeout does not")
	}
}

// TestFailures: failures that differ only in the item (its ID, URL, the
// numbers in the message) fall into one group; other kinds into others.
func TestFailures(t *testing.T) {
	t.Parallel()
	var f download.Failures
	at := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	for i, vin := range []string{"1HGCM82633A004352", "JH4KA7561PC008269", "5YJSA1E26HF000001"} {
		err := fmt.Errorf("task %q: giving up after %d attempt(s): %w", vin, i+2,
			&session.StatusError{Code: 503, URL: "https://portal.example/vehicle/" + fmt.Sprint(100+i) + "/sticker.pdf?id=" + vin})
		f.Add(vin, err, at.Add(time.Duration(i)*time.Minute))
	}
	f.Add("A", &download.InvalidError{Reason: download.ErrTruncated, Detail: "no %%EOF at the end of 1234 bytes"}, at)
	f.Add("B", &download.InvalidError{Reason: download.ErrTruncated, Detail: "no %%EOF at the end of 99 bytes"}, at)
	f.AddRecord(checkpoint.Record{Key: "C", State: checkpoint.Failed, Err: "task \"C\": giving up: HTTP 404 Not Found at http://x/9",
		Meta: map[string]string{"class": "HTTP 404"}, Updated: at})
	f.Add("D", nil, at) // no failure: not counted, no panic
	g := f.Groups()
	if len(g) != 3 || f.Total() != 6 {
		t.Fatalf("%d groups, %d failures: %+v", len(g), f.Total(), g)
	}
	if g[0].Class != "HTTP 503" || g[0].Count != 3 || len(g[0].Keys) != 3 || !g[0].Last.Equal(at.Add(2*time.Minute)) || g[0].Hint == "" {
		t.Errorf("first group %+v", g[0])
	}
	if g[1].Class != "truncated file" || g[1].Count != 2 {
		t.Errorf("second group %+v", g[1])
	}
	if g[2].Class != "HTTP 404" || g[2].Hint == "" {
		t.Errorf("the record's group %+v", g[2])
	}
}
