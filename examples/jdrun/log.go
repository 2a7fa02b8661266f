package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
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
// secrets wherever they appear.
func newLogger(cfg *config, stderr io.Writer, getenv func(string) string, logFile io.Writer, secrets ...string) (*slog.Logger, *switchWriter) {
	level := slog.LevelInfo
	if cfg.Verbose {
		level = slog.LevelDebug
	}
	out := &switchWriter{w: stderr}
	redact := redactor(secrets)
	var h slog.Handler
	switch {
	case cfg.LogFormat == "json":
		h = slog.NewJSONHandler(out, &slog.HandlerOptions{Level: level, ReplaceAttr: redact})
	default:
		h = tint.NewHandler(out, &tint.Options{
			Level:       level,
			TimeFormat:  time.TimeOnly,
			NoColor:     !isTerminal(stderr) || getenv("NO_COLOR") != "",
			ReplaceAttr: redact,
		})
	}
	if logFile != nil {
		h = slog.NewMultiHandler(h, slog.NewJSONHandler(logFile, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: redact}))
	}
	return slog.New(h), out
}

// redactor returns a ReplaceAttr that blanks out secrets in any string or
// error, the message included. The library never logs a password; this is
// the CLI's second line of defence.
func redactor(secrets []string) func([]string, slog.Attr) slog.Attr {
	var live []string
	for _, s := range secrets {
		if len(s) >= 3 { // shorter "secrets" would blank out ordinary text
			live = append(live, s)
		}
	}
	clean := func(s string) (string, bool) {
		out := redact(s, live...)
		return out, out != s
	}
	return func(_ []string, a slog.Attr) slog.Attr {
		v := a.Value.Resolve()
		switch v.Kind() {
		case slog.KindString:
			if s, ok := clean(v.String()); ok {
				a.Value = slog.StringValue(s)
			}
		case slog.KindAny:
			var text string
			if err, ok := v.Any().(error); ok {
				text = err.Error()
			} else if s, ok := v.Any().(fmt.Stringer); ok {
				text = s.String()
			}
			if s, ok := clean(text); ok {
				a.Value = slog.StringValue(s)
			}
		}
		return a
	}
}

// redact replaces the secrets in s, and cookies and tokens (which the
// library scrubs already: a second line of defence).
func redact(s string, secrets ...string) string {
	for _, secret := range secrets {
		if len(secret) >= 3 { // shorter "secrets" would blank out ordinary text
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return session.ScrubString(s)
}

// redactError returns err with secrets replaced in its text, keeping it
// testable with errors.Is.
func redactError(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	if msg := redact(err.Error(), secrets...); msg != err.Error() {
		return &redactedError{msg: msg, err: err}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
