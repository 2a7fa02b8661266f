package checkpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Import copies the progress of the old tool (its tracking.json or
// checkpoint.json) into s, so that users who migrate keep it. Each key the
// file marks as done becomes a Done record with Meta["imported_from"] set to
// the file's base name — unless s already has a record of that key: Import
// never overwrites. It returns how many keys it added and how many it
// skipped because s had them. Stores that implement [Batcher] get all new
// records in one batch.
//
// The file is one JSON value of one of these shapes:
//
//	["K1", "K2"]                        a list of done keys
//	{"completed": ["K1", "K2"], ...}    likewise "downloaded" or "done"; other fields are ignored
//	{"K1": {"status": "done", "path": "K1.pdf"}, "K2": true, "K3": "failed"}
//
// Keys are strings or numbers (a number's key is its JSON text). In the
// last shape an entry is done when it, or its "status" field, is true or one
// of "done", "completed", "complete", "success", "downloaded", "ok" (in any
// case); other entries are left out. A "path", "file" or "filename" field
// fills Record.Path. Anything else is rejected with an error wrapping
// [ErrFormat], and then nothing is imported.
func Import(ctx context.Context, s Store, path string) (added, skipped int, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, fmt.Errorf("checkpoint: import: %w", err)
	}
	done, err := parseLegacy(data)
	if err != nil {
		return 0, 0, fmt.Errorf("%w %s: %v", ErrFormat, path, err)
	}
	var recs []Record
	now, from := time.Now(), filepath.Base(path)
	for _, d := range done {
		switch _, err := s.Get(ctx, d.key); {
		case err == nil:
			skipped++
		case errors.Is(err, ErrNotFound):
			recs = append(recs, Record{Key: d.key, State: Done, Path: d.path, Updated: now, Meta: map[string]string{"imported_from": from}})
		default:
			return 0, 0, err
		}
	}
	if b, ok := s.(Batcher); ok {
		err = b.PutBatch(ctx, recs)
	} else {
		for _, r := range recs {
			if err = s.Put(ctx, r); err != nil {
				break
			}
			added++
		}
	}
	if err != nil {
		return added, skipped, fmt.Errorf("checkpoint: import %s: %w", path, err)
	}
	return len(recs), skipped, nil
}

type legacyEntry struct{ key, path string }

func parseLegacy(data []byte) ([]legacyEntry, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("more than one JSON value")
	}
	var out []legacyEntry
	seen := map[string]bool{}
	add := func(key, path string) {
		if !seen[key] {
			seen[key] = true
			out = append(out, legacyEntry{key, path})
		}
	}
	addList := func(name string, list []any) error {
		for i, e := range list {
			key, ok := keyOf(e)
			if !ok {
				return fmt.Errorf("%s[%d] is %s, want a key (string or number)", name, i, describe(e))
			}
			add(key, "")
		}
		return nil
	}
	switch v := v.(type) {
	case []any:
		return out, addList("list", v)
	case map[string]any:
		lists := false
		for _, name := range []string{"completed", "downloaded", "done"} {
			switch l := v[name].(type) {
			case nil:
			case []any:
				lists = true
				if err := addList(name, l); err != nil {
					return nil, err
				}
			default:
				return nil, fmt.Errorf("%q is %s, want a list of keys", name, describe(l))
			}
		}
		if lists {
			return out, nil
		}
		for _, key := range slices.Sorted(maps.Keys(v)) {
			ok, path, err := entryDone(v[key])
			if err != nil {
				return nil, fmt.Errorf("entry %q %v", key, err)
			}
			if ok && key != "" {
				add(key, path)
			}
		}
		return out, nil
	default:
		return nil, fmt.Errorf("the file holds %s, want a list of keys or an object", describe(v))
	}
}

// entryDone reads one value of the map shape.
func entryDone(e any) (done bool, path string, err error) {
	switch e := e.(type) {
	case bool:
		return e, "", nil
	case string:
		return isDone(e), "", nil
	case map[string]any:
		for _, f := range []string{"path", "file", "filename"} {
			if p, ok := e[f].(string); ok && path == "" {
				path = p
			}
		}
		switch st := e["status"].(type) {
		case bool:
			return st, path, nil
		case string:
			return isDone(st), path, nil
		case nil:
			return false, "", errors.New("has no status")
		default:
			return false, "", fmt.Errorf("status is %s, want a string or true/false", describe(st))
		}
	default:
		return false, "", fmt.Errorf("is %s, want an object with a status, a status string, or true/false", describe(e))
	}
}

func isDone(status string) bool {
	switch strings.ToLower(strings.TrimSpace(status)) {
	case "done", "completed", "complete", "success", "downloaded", "ok":
		return true
	}
	return false
}

func keyOf(e any) (string, bool) {
	switch e := e.(type) {
	case string:
		return e, e != ""
	case json.Number:
		return e.String(), true
	}
	return "", false
}

func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("the string %.40q", v)
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	default:
		return "an object"
	}
}
