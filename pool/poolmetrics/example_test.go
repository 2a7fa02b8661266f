package poolmetrics_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/cenkalti/backoff/v4"

	"github.com/pagefleet/pagefleet/pool"
	"github.com/pagefleet/pagefleet/pool/poolmetrics"
	"github.com/pagefleet/pagefleet/pool/pooltest"
)

// A pool run of three invoices on fake pages, one flaky and one missing,
// with its metrics scraped as Prometheus would. In a program, m.Listen
// serves them, with the status page, while the pool runs.
func Example() {
	f := &pooltest.Factory{Script: func(key string, call int) pooltest.Step {
		switch {
		case key == "invoice-2" && call == 1:
			return pooltest.Step{Err: errors.New("site hiccup")} // retried
		case key == "invoice-3":
			return pooltest.Step{Err: errors.New("no such invoice"), Permanent: true}
		}
		return pooltest.Step{}
	}}
	m, err := poolmetrics.New(poolmetrics.Config{Prefix: "invoicer", Noun: "invoices"})
	if err != nil {
		panic(err)
	}
	defer m.Close()

	pc := pool.Config[*pooltest.Page]{
		Factory:    f,
		Workers:    2,
		NewBackOff: func() backoff.BackOff { return &backoff.ZeroBackOff{} },
		Logger:     slog.New(slog.DiscardHandler),
	}
	poolmetrics.Hook(m, &pc) // counts attempts and results
	p, err := pool.New(pc)
	if err != nil {
		panic(err)
	}
	keys := []string{"invoice-1", "invoice-2", "invoice-3"}
	for _, k := range keys {
		p.Submit(f.Task(k))
	}
	p.CloseQueue()
	m.Follow(poolmetrics.Progress{Stats: p.Stats, Total: len(keys)}) // workers, progress, rate and ETA
	p.Run(context.Background())

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	for sc := bufio.NewScanner(resp.Body); sc.Scan(); {
		if line := sc.Text(); strings.HasPrefix(line, "invoicer_") && !strings.Contains(line, "_bucket") && !strings.Contains(line, "_sum") {
			fmt.Println(line)
		}
	}
	fmt.Println("phase:", m.Snapshot().Phase)
	// Output:
	// invoicer_attempt_duration_seconds_count{outcome="done"} 2
	// invoicer_attempt_duration_seconds_count{outcome="failed"} 1
	// invoicer_attempt_duration_seconds_count{outcome="retried"} 1
	// invoicer_attempts_retried_total{reason="error"} 1
	// invoicer_invoices_done_total 2
	// invoicer_invoices_failed_total{reason="error"} 1
	// invoicer_invoices_stopped_total 0
	// invoicer_job_invoices 3
	// invoicer_job_invoices_done 2
	// invoicer_workers_active 0
	// invoicer_workers_target 2
	// phase: finished
}
