package download

import (
	"slices"
	"sync"
)

// IDs is a set of the item IDs of a job, such as the VINs of an
// inventory: what [PDFOf] looks for in a file besides its own item's ID.
// IDs are kept normalised: upper-case, without white space or invisible
// characters, as [PDFContains] compares them.
//
// IDs is safe for concurrent use, and may grow while validators use it (an
// inventory is often still being listed while the first files download).
// The zero IDs is an empty set, ready to use.
type IDs struct {
	mu   sync.RWMutex
	set  map[string]struct{}
	lens []int       // the distinct lengths of the IDs in bytes, longest first
	nLen map[int]int // IDs by length
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

// scan finds in the normalised text the IDs of s and want, which is
// normalised too. An occurrence inside an occurrence of a longer ID does
// not count: in the text of "ABC12", "ABC1" is not named. It reports
// whether want is named, and the other IDs named, sorted.
func (s *IDs) scan(text, want string) (named bool, others []string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
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
