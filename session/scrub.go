package session

import (
	"regexp"
	"strings"
)

// Playwright's call logs quote request and response headers, and URLs may
// carry tokens: an error text can hold the session's cookie. These are the
// header lines and query parameters whose values Scrub blanks out.
var (
	secretHeader = regexp.MustCompile(`(?im)^([ \t\-\x60"'>]*(?:cookie|set-cookie|authorization|proxy-authorization|x-[a-z0-9-]*(?:token|key|auth|session)[a-z0-9-]*)["']?\s*[:=]\s*)(.+)$`)
	secretInline = regexp.MustCompile(`(?i)(\b(?:cookie|set-cookie|authorization|proxy-authorization)["']?\s*[:=]\s*)([^\r\n,}]+)`)
	secretQuery  = regexp.MustCompile(`(?i)([?&;](?:[a-z0-9_.-]*(?:token|secret|password|passwd|pwd|sessionid|session_id|sid|signature|sig|api[_-]?key|auth)[a-z0-9_.-]*)=)([^&#\s"'<>]+)`)
)

// Redacted is what Scrub puts in place of a secret.
const Redacted = "[redacted]"

// ScrubString returns s with the values of cookie, set-cookie,
// authorization and token headers, and of query parameters named like
// tokens, passwords or session IDs, replaced by [Redacted].
func ScrubString(s string) string {
	if !strings.ContainsAny(s, ":=") {
		return s
	}
	s = secretHeader.ReplaceAllString(s, "${1}"+Redacted)
	s = secretInline.ReplaceAllString(s, "${1}"+Redacted)
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
