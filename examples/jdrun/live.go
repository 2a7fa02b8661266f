package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/pool/poolmetrics"
	"github.com/pagefleet/pagefleet/session"
)

// startLive starts serving cfg.Listen, if it is set: Prometheus metrics at
// /metrics and a status page at / while the run goes on, and the final
// values in <state>/metrics.prom at closeLive, under jdrun's metric names.
// sess returns the session once logged in, for its re-logins and
// relaunches. Without -listen it returns nil, which counts nothing.
func startLive(cfg *config, log *slog.Logger, sess func() *session.Session) (*poolmetrics.Metrics, error) {
	if cfg.Listen == "" {
		return nil, nil
	}
	sessStats := func() session.Stats {
		if s := sess(); s != nil {
			return s.Stats()
		}
		return session.Stats{}
	}
	m, err := poolmetrics.New(poolmetrics.Config{
		Prefix: "jdrun", Noun: "vehicles", ID: cfg.WorkerID, Version: version(),
		Target: session.RedactString(redactedStore(cfg.URL), cfg.secrets()...),
		// worker_id on every series, so that the processes of a fleet can be told apart.
		Labels: map[string]string{"worker_id": cfg.WorkerID},
		Reason: download.ClassName, // the reports' failure kinds
		Memory: func() (int64, error) { return session.TreePSS(os.Getpid()) },
		Counters: []poolmetrics.Counter{
			{Name: "relogins_total", Title: "re-logins", Help: "Logins after the first: a session that ended, or a relaunched browser.",
				Value: func() int64 { return max(sessStats().Logins-1, 0) }},
			{Name: "browser_relaunches_total", Title: "browser relaunches", Help: "Browser relaunches after a crash or disconnect.",
				Value: func() int64 { return sessStats().Relaunches }},
		},
		TextFile: filepath.Join(cfg.StateDir, "metrics.prom"),
		Logger:   log,
	})
	if err != nil {
		return nil, fmt.Errorf("live metrics: %w", err)
	}
	url, err := m.Listen(cfg.Listen) // on failure m needs no Close: it started nothing
	if err != nil {
		return nil, fmt.Errorf("%w: METRICS_LISTEN (-listen): %w", errUsage, err)
	}
	log.Info("live status page and metrics", "url", url, "metrics", url+"metrics")
	m.SetPhase("logging in")
	return m, nil
}

// closeLive stops serving and writes <state>/metrics.prom.
func closeLive(m *poolmetrics.Metrics, log *slog.Logger) {
	if err := m.Close(); err != nil {
		log.Warn("writing the final metrics", "err", err)
	}
}
