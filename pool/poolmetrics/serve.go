package poolmetrics

import (
	"cmp"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

//go:embed status.html.tmpl
var statusTemplate string

var statusHTML = template.Must(template.New("status").Parse(statusTemplate))

// Handler serves the metrics for Prometheus at /metrics, the status page
// at / and its numbers at /status.json, which the page polls. The page
// loads nothing from elsewhere.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	if m == nil {
		return mux
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelWarn)}))
	mux.HandleFunc("GET /{$}", m.page)
	mux.HandleFunc("GET /status.json", m.statusJSON)
	return mux
}

// Listen serves [Metrics.Handler] on addr (host:port; port 0 picks one)
// until Close, and returns the URL of the status page: a listener on every
// interface is named by the host's name, for a browser elsewhere.
func (m *Metrics) Listen(addr string) (url string, err error) {
	if m == nil {
		return "", nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("poolmetrics: %w", err)
	}
	m.mu.Lock()
	if m.srv != nil || m.closed {
		m.mu.Unlock()
		ln.Close()
		return "", errors.New("poolmetrics: Listen called twice, or after Close")
	}
	m.srv = &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelDebug)}
	m.served = make(chan struct{})
	srv, served := m.srv, m.served
	m.mu.Unlock()
	go func() {
		defer close(served)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			m.log.Warn("poolmetrics: serving stopped", "err", err)
		}
	}()
	return "http://" + reachableAddr(ln.Addr()) + "/", nil
}

// reachableAddr is addr as a browser elsewhere can use it: a listener on
// every interface (":9300") is reached by the host's name.
func reachableAddr(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); err == nil && ip != nil && ip.IsUnspecified() {
		host, _ = os.Hostname()
		return net.JoinHostPort(cmp.Or(host, "localhost"), port)
	}
	return addr.String()
}

// Close ends the run's numbers: the phase becomes "finished" or
// "stopped", Config.TextFile gets the final values, and Listen's server
// stops. It returns the error of writing the file.
func (m *Metrics) Close() error {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	m.closed = true
	own, srv, served := m.ownMet, m.srv, m.served
	m.ownMet = nil
	m.mu.Unlock()
	if own != nil {
		own.Stop()
	}
	var err error
	if m.cfg.TextFile != "" {
		if werr := prometheus.WriteToTextfile(m.cfg.TextFile, m.reg); werr != nil {
			err = fmt.Errorf("poolmetrics: writing the final metrics: %w", werr)
		}
	}
	if srv != nil {
		srv.Close()
		<-served
	}
	return err
}

// pageData is what the status page's template gets.
type pageData struct {
	Status
	Name, Noun string // Noun with spaces for underscores
	Cards      []card // Config.Counters
	HasMemory  bool
}

type card struct{ Key, Title string }

// page is the status page: the numbers of a snapshot, and a small script
// that fetches /status.json every two seconds and puts its numbers in.
func (m *Metrics) page(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	d := pageData{Status: m.Snapshot(), Name: m.cfg.Name, Noun: strings.ReplaceAll(m.cfg.Noun, "_", " "), HasMemory: m.cfg.Memory != nil}
	for _, c := range m.cfg.Counters {
		d.Cards = append(d.Cards, card{"counter_" + c.Name, cmp.Or(c.Title, c.Name)})
	}
	if err := statusHTML.Execute(w, d); err != nil {
		m.log.Debug("poolmetrics: serving the status page", "err", err)
	}
}

func (m *Metrics) statusJSON(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := json.NewEncoder(w).Encode(m.Snapshot()); err != nil {
		m.log.Debug("poolmetrics: serving /status.json", "err", err)
	}
}
