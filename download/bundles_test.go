package download_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pagefleet/pagefleet/download"
	"github.com/pagefleet/pagefleet/pool"
	"github.com/pagefleet/pagefleet/session"
)

// TestBundles: the first failure of each kind is written at once, another
// of the same kind only when its item is given up; at most Max bundles
// stay, the newest.
func TestBundles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := &download.Bundles{Dir: dir, Max: 3}
	ev := &session.Evidence{URL: "http://x/vehicle/1", Status: 500, HTML: "<h1>Oops</h1>", Screenshot: []byte{0xFF, 0xD8, 1}}
	status := func(vin string) error {
		return fmt.Errorf("task %q: %w", vin, &session.StatusError{Code: 503, URL: "http://x/" + vin})
	}
	if !b.Wants(status("A"), false) {
		t.Error("Wants the first failure of a kind: false")
	}
	b.Attempt("A", status("A"), ev) // first of its kind: written
	if b.Wants(status("B"), false) || !b.Wants(status("B"), true) || !b.Wants(errors.New("new kind"), false) {
		t.Error("Wants: want evidence of a kind seen only for a final attempt, and always of a new kind")
	}
	b.Attempt("B", status("B"), ev) // same kind: kept
	b.Result("B", nil)              // done after all: dropped
	b.Attempt("C", status("C"), nil)
	b.Result("C", status("C")) // given up: written
	b.Attempt("D", &download.InvalidError{Reason: download.ErrTruncated}, nil)
	b.Result("A", status("A")) // given up, but written already
	if err := b.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := [][]string{b.Bundles("A"), b.Bundles("B"), b.Bundles("C"), b.Bundles("D")}; len(got[0]) != 1 || len(got[1]) != 0 || len(got[2]) != 1 || len(got[3]) != 1 {
		t.Fatalf("bundles by key: %v", got)
	}
	var info download.BundleInfo
	raw, _ := os.ReadFile(filepath.Join(dir, b.Bundles("A")[0], "bundle.json"))
	if err := json.Unmarshal(raw, &info); err != nil || info.Class != "HTTP 503" || info.Why != "first of its kind" || len(info.Errors) != 2 ||
		info.Evidence == nil || info.Evidence.Status != 500 {
		t.Errorf("bundle.json %s", raw)
	}
	if html, _ := os.ReadFile(filepath.Join(dir, b.Bundles("A")[0], "page.html")); string(html) != ev.HTML {
		t.Errorf("page.html %q", html)
	}
	raw, _ = os.ReadFile(filepath.Join(dir, b.Bundles("C")[0], "bundle.json"))
	if json.Unmarshal(raw, &info) != nil || info.Why != "given up" {
		t.Errorf("C's bundle %s", raw)
	}
	time.Sleep(2 * time.Millisecond) // bundle names have milliseconds
	a := b.Bundles("A")[0]
	b.Attempt("E", errors.New("something else"), nil)
	b.Wait()
	if entries, _ := os.ReadDir(dir); len(entries) != 3 {
		t.Errorf("%d bundles, want the newest 3", len(entries))
	} else if _, err := os.Stat(filepath.Join(dir, a)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the oldest bundle (A's) was not dropped: %v", err)
	}
	if got := b.Bundles("A"); len(got) != 0 {
		t.Errorf("Bundles(A) = %v after A's bundle was dropped", got)
	}
}

// TestBundleKeepsRedactedSecrets: the layers of an error below a Redact
// still hold the secret it took out (a Playwright call log quoting
// fill("<password>") of a failed re-login); the bundle writes none of them.
func TestBundleKeepsRedactedSecrets(t *testing.T) {
	inner := fmt.Errorf("fill password: %w", errors.New("locator.fill: Timeout 30000ms exceeded.\nCall log:\n  - fill(\"hunter2secret\")"))
	err := pool.Abort(fmt.Errorf("%w (attempt 8): %w", session.ErrLoginFailed, session.Scrub(session.Redact(inner, "hunter2secret"))))
	dir := t.TempDir()
	b := &download.Bundles{Dir: dir}
	b.Attempt("K1", err, nil)
	if werr := b.Wait(); werr != nil {
		t.Fatal(werr)
	}
	files := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, _ error) error {
		if d.Type().IsRegular() {
			files++
			if data, _ := os.ReadFile(p); strings.Contains(string(data), "hunter2secret") {
				t.Errorf("%s holds the password:\n%s", p, data)
			}
		}
		return nil
	})
	if files == 0 {
		t.Fatal("no bundle written")
	}
}
