package main

import (
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/lmittmann/tint"

	"github.com/pagefleet/pagefleet/session"
	"golang.org/x/term"
)

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// canDrawBar reports whether w is a terminal with a width to draw a
// progress bar in (a pty without a size shows nothing).
func canDrawBar(w io.Writer) bool {
	if !isTerminal(w) {
		return false
	}
	cols, _, err := term.GetSize(int(w.(*os.File).Fd()))
	return err == nil && cols > 0
}

// switchWriter lets the progress bar take over the terminal: while it runs,
// log lines go through it and appear above the bar.
type switchWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *switchWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

func (s *switchWriter) set(w io.Writer) {
	s.mu.Lock()
	s.w = w
	s.mu.Unlock()
}

// newLogger logs to stderr — colored on a terminal unless NO_COLOR is set,
// JSON with -log-format json — and, as JSON at debug level, to logFile if
// it is not nil. Every record passes through a redactor that replaces the
// secrets, cookies and tokens wherever they appear.
func newLogger(cfg *config, stderr io.Writer, getenv func(string) string, logFile io.Writer, secrets ...string) (*slog.Logger, *switchWriter) {
	level := slog.LevelInfo
	if cfg.Verbose {
		level = slog.LevelDebug
	}
	out := &switchWriter{w: stderr}
	redact := session.RedactAttr(secrets...)
	seconds := func(groups []string, a slog.Attr) slog.Attr { // JSON has durations in nanoseconds otherwise
		if a.Value.Kind() == slog.KindDuration {
			a.Value = slog.Float64Value(a.Value.Duration().Round(time.Millisecond).Seconds())
		}
		return redact(groups, a)
	}
	var h slog.Handler = tint.NewHandler(out, &tint.Options{Level: level, TimeFormat: time.TimeOnly,
		NoColor: !isTerminal(stderr) || getenv("NO_COLOR") != "" || !colors(stderr), ReplaceAttr: redact})
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(out, &slog.HandlerOptions{Level: level, ReplaceAttr: seconds})
	}
	if logFile != nil {
		h = slog.NewMultiHandler(h, slog.NewJSONHandler(logFile, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: seconds}))
	}
	return slog.New(h), out
}
