package download

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"unicode"
)

// IDs is a set of the item IDs of a job, such as the VINs of an
// inventory: what [PDFOf] looks for in a file besides its own item's ID.
// IDs are kept normalised: upper-case, without white space or invisible
// characters, as [PDFContains] compares them.
//
// IDs is safe for concurrent use, and may grow while validators use it (an
// inventory is often still being listed while the first files download):
// mark it [IDs.SetGrowing] meanwhile. The zero IDs is an empty set, complete,
// ready to use.
type IDs struct {
	mu      sync.RWMutex
	set     map[string]struct{}
	lens    []int         // the distinct lengths of the IDs in bytes, longest first
	nLen    map[int]int   // IDs by length
	growing chan struct{} // while the set grows; closed once it is complete
}

// SetGrowing says whether IDs are still being added (true), or the set is
// complete (false, as a new set is). While it grows, [PDFOf] can't tell
// whether a file naming an ID not listed yet is another item's. It returns
// an error wrapping [ErrUnlisted] for a file whose text has a word shaped
// like an ID that the set does not have (yet) — a heuristic that catches
// the plain cases early, not all: a file judged while the set grows should
// be judged again once it is complete.
func (s *IDs) SetGrowing(growing bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case growing && s.growing == nil:
		s.growing = make(chan struct{})
	case !growing && s.growing != nil:
		close(s.growing)
		s.growing = nil
	}
}

// Growing reports whether the set is still growing (see SetGrowing): a
// file judged now is judged against part of the IDs.
func (s *IDs) Growing() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.growing != nil
}

// Wait waits until the set is complete (see SetGrowing), or ctx ends.
func (s *IDs) Wait(ctx context.Context) error {
	s.mu.RLock()
	growing := s.growing
	s.mu.RUnlock()
	if growing == nil {
		return nil
	}
	select {
	case <-growing:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Await returns v made patient: when v fails with [ErrUnlisted], it waits
// for the set to be complete (Wait) and validates again. A wait that ctx
// ends — use the attempt's — returns v's error wrapped with ctx's, so that
// a run's shutdown is not taken for a bad file. Use it where the file can
// wait, as in a [Target] (its temporary file waits, unnamed), not where
// the listing itself would wait for it.
func (s *IDs) Await(ctx context.Context, v Validator) Validator {
	return func(r io.ReaderAt, size int64) error {
		err := v(r, size)
		if !errors.Is(err, ErrUnlisted) {
			return err
		}
		if werr := s.Wait(ctx); werr != nil {
			return fmt.Errorf("%w (%w while waiting for the listing)", err, werr)
		}
		return v(r, size)
	}
}

// NewIDs returns the set of ids.
func NewIDs(ids ...string) *IDs {
	s := new(IDs)
	s.Add(ids...)
	return s
}

// Add adds ids to the set. IDs that are empty once normalised are left out.
func (s *IDs) Add(ids ...string) {
	norm := make([]string, 0, len(ids))
	for _, id := range ids {
		if n := normalizeID(id); n != "" {
			norm = append(norm, n)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set == nil {
		s.set, s.nLen = make(map[string]struct{}), make(map[int]int)
	}
	for _, id := range norm {
		if _, ok := s.set[id]; ok {
			continue
		}
		s.set[id] = struct{}{}
		if s.nLen[len(id)]++; s.nLen[len(id)] == 1 {
			i, _ := slices.BinarySearchFunc(s.lens, len(id), func(a, b int) int { return b - a })
			s.lens = slices.Insert(s.lens, i, len(id))
		}
	}
}

// Len returns the number of IDs in the set.
func (s *IDs) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.set)
}

// Contains reports whether id, normalised, is in the set.
func (s *IDs) Contains(id string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.set[normalizeID(id)]
	return ok
}

// unlisted (s.mu held) returns a word of text shaped like an ID of s, or
// like want (normalised), that is neither want nor in s, while s is
// growing: maybe the ID of an item not listed yet. A word is a run of letters and digits
// (format characters such as zero-width spaces left out); it is shaped
// like an ID if it is as long as one and has a digit, as VINs, stock and
// order numbers do — words of the language don't. An ID split across two
// words is not seen: a file naming an item listed later that way passes
// while the set grows.
func (s *IDs) unlisted(text, want string) string {
	if s.growing == nil {
		return ""
	}
	words := strings.FieldsFunc(strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Cf, r) {
			return -1
		}
		return unicode.ToUpper(r)
	}, text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	for _, w := range words {
		if len(w) != len(want) && s.nLen[len(w)] == 0 || w == want || !strings.ContainsFunc(w, unicode.IsDigit) {
			continue
		}
		if _, known := s.set[w]; !known {
			return w
		}
	}
	return ""
}

// scan finds in the text raw the IDs of s and want, which is normalised.
// An occurrence inside an occurrence of a longer ID does not count: in the
// text of "ABC12", "ABC1" is not named. It reports whether want is named,
// the other IDs named, sorted, and — while s grows, if want alone is named
// — a word that may be an ID not listed yet (see unlisted).
func (s *IDs) scan(raw, want string) (named bool, others []string, unlisted string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if named, others = s.scanLocked(normalizeID(raw), want); named && len(others) == 0 {
		unlisted = s.unlisted(raw, want) // under the same lock: the set is as scanned
	}
	return named, others, unlisted
}

// scanLocked is scan's search, in the normalised text, with s.mu held.
func (s *IDs) scanLocked(text, want string) (named bool, others []string) {
	lens := s.lens
	if s.nLen[len(want)] == 0 {
		i, _ := slices.BinarySearchFunc(lens, len(want), func(a, b int) int { return b - a })
		lens = slices.Insert(slices.Clone(lens), i, len(want))
	}
	var seen map[string]bool
	cover := 0 // the end of the occurrences that start before i, the furthest
	for i := range len(text) {
		longest := 0 // of the occurrences at i
		for _, n := range lens {
			if i+n > len(text) {
				continue
			}
			w := text[i : i+n]
			isWant := w == want
			if _, ok := s.set[w]; !ok && !isWant {
				continue
			}
			if longest == 0 {
				longest = n
			}
			if n < longest || i+n <= cover {
				continue // inside a longer one
			}
			if isWant {
				named = true
				continue
			}
			if seen == nil {
				seen = make(map[string]bool)
			}
			if !seen[w] {
				seen[w] = true
				others = append(others, w)
			}
		}
		cover = max(cover, i+longest)
	}
	slices.Sort(others)
	return named, others
}
