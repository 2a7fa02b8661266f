package session_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/pagefleet/pagefleet/session"
)

func TestScrub(t *testing.T) {
	t.Parallel()
	const sid = "a1B2c3D4e5F6secretcookie"
	for _, tc := range []struct{ in, keep string }{
		{"Error: apiRequestContext.get: Timeout 2000ms exceeded.\nCall log:\n  - → GET http://127.0.0.1:5/v/1/sticker.pdf\n  -   user-agent: Mozilla/5.0\n  -   cookie: sid=" + sid + "; theme=dark\n", "user-agent: Mozilla/5.0"},
		{"  - ← 302 Found\n  -   set-cookie: sid=" + sid + "; Path=/; HttpOnly\n  -   location: /login", "location: /login"},
		{"Authorization: Bearer " + sid, "Authorization: "},
		{"    authorization: Basic " + sid, "authorization: "},
		{`{"headers":{"cookie":"sid=` + sid + `","accept":"*/*"}}`, `"accept":"*/*"`},
		{"GET https://portal.example/pdf?id=7&token=" + sid + "&page=2 failed", "id=7"},
		{"GET https://portal.example/pdf?access_token=" + sid, "access_token="},
		{"x-csrf-token: " + sid, "x-csrf-token: "},
		{"X-Api-Key: " + sid, "X-Api-Key: "},
	} {
		got := session.ScrubString(tc.in)
		if strings.Contains(got, sid) || !strings.Contains(got, tc.keep) || !strings.Contains(got, session.Redacted) {
			t.Errorf("ScrubString(%q) = %q", tc.in, got)
		}
	}
	plain := "download: HTTP 500 at http://127.0.0.1:5/vehicle/7 (page \"Error\")"
	if got := session.ScrubString(plain); got != plain {
		t.Errorf("ScrubString changed a text without secrets: %q", got)
	}
	base := errors.New("cookie: sid=" + sid)
	err := session.Scrub(base)
	if strings.Contains(err.Error(), sid) || !errors.Is(err, base) {
		t.Errorf("Scrub = %v: the secret stays or the chain is lost", err)
	}
	if session.Scrub(nil) != nil {
		t.Error("Scrub(nil) != nil")
	}
}

// TestScrubURLSecrets: a URL's user:password@ and a token in its fragment
// (an OAuth implicit grant) are secrets too.
func TestScrubURLSecrets(t *testing.T) {
	for in, want := range map[string]string{
		"session: GET https://bob:hunter2@portal.example/pdf/1: refused": "session: GET https://bob:[redacted]@portal.example/pdf/1: refused",
		"at https://bob:hunter2@portal.example/":                         "at https://bob:[redacted]@portal.example/",
		"https://x/y#access_token=abc123&state=z":                        "https://x/y#access_token=[redacted]&state=z",
		"https://bob@portal.example/a:b@c":                               "https://bob@portal.example/a:b@c",
		"time: 12:30 at host@example":                                    "time: 12:30 at host@example",
	} {
		if got := session.ScrubString(in); got != want {
			t.Errorf("ScrubString(%q) = %q, want %q", in, got, want)
		}
	}
	err := &session.StatusError{Code: 500, URL: "https://bob:hunter2@portal.example/pdf/1"}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("StatusError: %s", err)
	}
}
