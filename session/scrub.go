package session

import (
	"fmt"
	"log/slog"
	"regexp"
	"strings"
)

// Playwright's call logs quote request and response headers, and URLs may
// carry tokens: an error text can hold the session's cookie. These are the
// header lines and query parameters whose values Scrub blanks out.
var (
	secretHeader = regexp.MustCompile(`(?im)^([ \t\-\x60"'>]*(?:cookie|set-cookie|authorization|proxy-authorization|x-[a-z0-9-]*(?:token|key|auth|session)[a-z0-9-]*)["']?\s*[:=]\s*)(.+)$`)
	secretInline = regexp.MustCompile(`(?i)(\b(?:cookie|set-cookie|authorization|proxy-authorization)["']?\s*[:=]\s*)([^\r\n,}]+)`)
	secretQuery  = regexp.MustCompile(`(?i)([?&;#](?:[a-z0-9_.-]*(?:token|secret|password|passwd|pwd|sessionid|session_id|sid|signature|sig|api[_-]?key|auth)[a-z0-9_.-]*)=)([^&#\s"'<>]+)`)
)

// secretUserinfo is the password of a URL's user:password@.
var secretUserinfo = regexp.MustCompile(`(?i)(\b[a-z][a-z0-9+.-]*://[^/?#@\s:"'<>]*:)([^/?#@\s"'<>]+)(@)`)

// Redacted is what Scrub puts in place of a secret.
const Redacted = "[redacted]"

// ScrubString returns s with the values of cookie, set-cookie,
// authorization and token headers, of query (and fragment) parameters
// named like tokens, passwords or session IDs, and the passwords of URLs
// (user:password@host) replaced by [Redacted].
func ScrubString(s string) string {
	if !strings.ContainsAny(s, ":=") {
		return s
	}
	s = secretHeader.ReplaceAllString(s, "${1}"+Redacted)
	s = secretInline.ReplaceAllString(s, "${1}"+Redacted)
	s = secretUserinfo.ReplaceAllString(s, "${1}"+Redacted+"${3}")
	return secretQuery.ReplaceAllString(s, "${1}"+Redacted)
}

// Scrub returns err with its text scrubbed by [ScrubString]; errors.Is and
// errors.As still see the original chain (whose own texts are not
// scrubbed: print the scrubbed error, not what errors.As finds). It returns
// err itself when there is nothing to scrub. Every error of this package
// and of package download that can quote a request is scrubbed already.
func Scrub(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if clean := ScrubString(msg); clean != msg {
		return &scrubbed{clean, err}
	}
	return err
}

type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// Scrubbed marks the layer below which texts hold what it took out:
// whoever prints an error's layers (download's bundles) stops here.
func (e *scrubbed) Scrubbed() {}

// Redact returns err with secrets (passwords, say; values shorter than 3
// bytes are left alone, as they would blank out ordinary text) replaced by
// [Redacted] in its text, and scrubbed as by [Scrub]. errors.Is and
// errors.As still see the original chain.
func Redact(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if clean := RedactString(msg, secrets...); clean != msg {
		return &scrubbed{clean, err}
	}
	return err
}

// RedactString is [Redact] for a string.
func RedactString(s string, secrets ...string) string {
	for _, secret := range secrets {
		if len(secret) >= 3 {
			s = strings.ReplaceAll(s, secret, Redacted)
		}
	}
	return ScrubString(s)
}

// RedactAttr returns a slog ReplaceAttr function that redacts secrets, and
// scrubs cookies and tokens, in every string, error and Stringer a log
// record carries: a logger's last line of defence.
func RedactAttr(secrets ...string) func(groups []string, a slog.Attr) slog.Attr {
	return func(_ []string, a slog.Attr) slog.Attr {
		var text string
		switch v := a.Value.Resolve(); v.Kind() {
		case slog.KindString:
			text = v.String()
		case slog.KindAny:
			switch x := v.Any().(type) {
			case error:
				text = x.Error()
			case fmt.Stringer:
				text = x.String()
			default:
				return a
			}
		default:
			return a
		}
		if clean := RedactString(text, secrets...); clean != text || a.Value.Kind() == slog.KindAny {
			a.Value = slog.StringValue(clean)
		}
		return a
	}
}
