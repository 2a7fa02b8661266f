package download

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/pagefleet/pagefleet/session"
)

// Bundles keeps the evidence of failures in a directory, for a person to
// read after an unattended run: a bundle — a directory with bundle.json
// (the item, the kind of failure and what to do, the full error chain, the
// page's URL, status, last requests and console errors), page.html and
// screenshot.jpg — for the first failure of each kind ([Signature]) and
// for every item given up, at most Max of them, the oldest dropped.
// Failures cost nothing until they happen, and bundles are written off the
// caller's goroutine. Its methods are safe for concurrent use.
type Bundles struct {
	// Dir is where bundles go, one directory each. Required.
	Dir string
	// Max is the most bundles kept; older ones are removed. Defaults to 50.
	Max int

	mu      sync.Mutex
	seen    map[string]bool     // signatures with a bundle
	last    map[string]*bundle  // each key's last failed attempt, until its Result
	written map[string][]string // key → its bundles' directories, in order
	wg      sync.WaitGroup
	err     error // the first write that failed
}

// BundleInfo describes a written bundle, in bundle.json.
type BundleInfo struct {
	Key       string            `json:"key"`
	Class     string            `json:"class"`
	Hint      string            `json:"hint"`
	Signature string            `json:"signature"`
	Why       string            `json:"why"`    // "first of its kind" or "given up"
	Errors    []string          `json:"errors"` // the error chain, outermost first
	Evidence  *session.Evidence `json:"evidence,omitempty"`
	At        time.Time         `json:"at"`
}

type bundle struct {
	info BundleInfo
	ev   *session.Evidence
}

// Wants reports whether the evidence of an attempt that failed with err
// would be kept: it is the first of its kind, or final (its item's last
// attempt, or a failure that is not retried). Taking evidence costs a
// screenshot; an attempt it would not be kept for can pass nil to
// [Bundles.Attempt].
func (b *Bundles) Wants(err error, final bool) bool {
	if err == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return final || !b.seen[Signature(err)]
}

// Attempt takes the failure err of an attempt at key, with what its page
// showed (ev; nil if the attempt had no page). The first failure of its
// kind is written at once; any other is kept until [Bundles.Result] says
// whether key was given up.
func (b *Bundles) Attempt(key string, err error, ev *session.Evidence) {
	if err == nil {
		return
	}
	c := Classify(err)
	bd := &bundle{BundleInfo{Key: key, Class: c.Name, Hint: c.Hint, Signature: Signature(err), Errors: chain(err),
		Evidence: ev, At: time.Now()}, ev}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seen == nil {
		b.seen, b.last, b.written = map[string]bool{}, map[string]*bundle{}, map[string][]string{}
	}
	b.last[key] = bd
	if !b.seen[bd.info.Signature] {
		b.seen[bd.info.Signature] = true
		bd.info.Why = "first of its kind"
		b.writeLocked(bd)
	}
}

// Result ends key's run: if it was given up (err not nil), the bundle of
// its last failed attempt is written, unless that one was written already.
func (b *Bundles) Result(key string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bd := b.last[key]
	delete(b.last, key)
	if err == nil || bd == nil || bd.info.Why != "" {
		return
	}
	bd.info.Why = "given up"
	b.writeLocked(bd)
}

// Bundles returns the directories of key's bundles, relative to Dir, the
// oldest first; those removed to keep Max are left out.
func (b *Bundles) Bundles(key string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.written[key])
}

// Wait waits for the writes in flight and returns the first error of a
// write.
func (b *Bundles) Wait() error {
	b.wg.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

func (b *Bundles) writeLocked(bd *bundle) {
	name := fmt.Sprintf("%s-%s", bd.info.At.Format("20060102-150405.000"), SafeName(bd.info.Key))
	b.written[bd.info.Key] = append(b.written[bd.info.Key], name)
	b.wg.Go(func() {
		err := b.write(filepath.Join(b.Dir, name), bd)
		b.mu.Lock()
		b.err = cmp.Or(b.err, err)
		b.mu.Unlock()
	})
}

func (b *Bundles) write(dir string, bd *bundle) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("download: bundle: %w", err)
	}
	files := map[string][]byte{}
	if bd.ev != nil {
		files["page.html"], files["screenshot.jpg"] = []byte(bd.ev.HTML), bd.ev.Screenshot
	}
	j, err := json.MarshalIndent(bd.info, "", "  ")
	if err != nil {
		return err
	}
	files["bundle.json"] = j
	for name, data := range files {
		if len(data) == 0 {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return fmt.Errorf("download: bundle: %w", err)
		}
	}
	return b.prune()
}

// prune removes the oldest bundles past Max — of earlier runs too, so
// the directory stays bounded. Bundle names start with their time, so
// they sort oldest first.
func (b *Bundles) prune() error {
	entries, err := os.ReadDir(b.Dir)
	if err != nil {
		return fmt.Errorf("download: bundles: %w", err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	slices.Sort(dirs)
	old := dirs[:max(0, len(dirs)-cmp.Or(b.Max, 50))]
	var errs []error
	for _, d := range old {
		errs = append(errs, os.RemoveAll(filepath.Join(b.Dir, d)))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for key, names := range b.written {
		b.written[key] = slices.DeleteFunc(names, func(n string) bool { return slices.Contains(old, n) })
	}
	return errors.Join(errs...)
}

// chain is err's messages from the outside in, each layer once, scrubbed
// of secrets. It stops at a layer of session.Scrub or Redact: the texts
// below it hold what it took out (a password, say).
func chain(err error) []string {
	var out []string
	var walk func(error)
	walk = func(e error) {
		for e != nil {
			if msg := session.ScrubString(e.Error()); len(out) == 0 || out[len(out)-1] != msg {
				out = append(out, msg)
			}
			switch u := e.(type) {
			case interface{ Scrubbed() }:
				return
			case interface{ Unwrap() []error }:
				for _, x := range u.Unwrap() {
					walk(x)
				}
				return
			case interface{ Unwrap() error }:
				e = u.Unwrap()
			default:
				return
			}
		}
	}
	walk(err)
	return out
}
