package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pagefleet/pagefleet/checkpoint"
)

// TestReportGroupsByKind: `jdrun report` groups failures by kind — 19
// vehicles failing with HTTP 500 at 19 URLs are one group, not 19 — and
// exits 4 when there are failures. Before: one group per error text, exit 0.
func TestReportGroupsByKind(t *testing.T) {
	dir := t.TempDir()
	st, err := checkpoint.Open(filepath.Join(dir, "checkpoint.jsonl"), checkpoint.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	at := time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)
	put := func(r checkpoint.Record) {
		r.Updated = at
		if err := st.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
		at = at.Add(time.Minute)
	}
	for i := range 19 {
		vin := fmt.Sprintf("1FTFW1E5%09d", i)
		put(checkpoint.Record{Key: vin, State: checkpoint.Failed, Attempts: 3, Meta: map[string]string{"class": "HTTP 500"},
			Err: fmt.Sprintf("task %q: giving up after 3 attempt(s): HTTP 500 Internal Server Error at http://dealer.example/vehicle/%d/sticker.pdf", vin, 100+i)})
	}
	put(checkpoint.Record{Key: "2T3127HL3T7100819", State: checkpoint.Failed, Attempts: 1, Meta: map[string]string{"class": "HTTP 404"},
		Err: `task "2T3127HL3T7100819": giving up after 1 attempt(s): HTTP 404 Not Found at http://dealer.example/vehicle/23`})
	put(checkpoint.Record{Key: "3TMYWWUS9SL100037", State: checkpoint.Done, Attempts: 1, Path: filepath.Join(dir, "x.pdf")})
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	var stdout bytes.Buffer
	err = run(t.Context(), []string{"report", "-state", dir}, env(nil), nil, &stdout, &bytes.Buffer{})
	if !errors.Is(err, errFailures) || exitCodeOf(err) != exitFailures {
		t.Errorf("jdrun report with failures: %v (exit %d), want exit %d", err, exitCodeOf(err), exitFailures)
	}
	out := stdout.String()
	t.Logf("jdrun report:\n%s", out)
	groups := strings.Count(out, "seen ")
	if groups != 2 || !strings.Contains(out, "  19  HTTP 500") || !strings.Contains(out, "   1  HTTP 404") ||
		!strings.Contains(out, "1 done, 20 failed") {
		t.Errorf("%d groups; want 19 × HTTP 500 and 1 × HTTP 404, 1 done and 20 failed", groups)
	}
}
