package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"strings"
	"time"
	"unicode/utf8"
)

// Sentinel errors. Test with errors.Is.
var (
	// ErrNotFound is returned by Get for a key the store has no record of.
	ErrNotFound = errors.New("checkpoint: not found")
	// ErrClosed is returned by every method of a closed store except Close.
	ErrClosed = errors.New("checkpoint: closed")
	// ErrInvalid is returned by Put (and [Normalize]) for a record that can't
	// be stored: empty or over-long key, unknown state, negative counts.
	ErrInvalid = errors.New("checkpoint: invalid record")
	// ErrLocked is returned by [Open] when another process (or another
	// [File] in this one) has the journal open. The message names its PID.
	ErrLocked = errors.New("checkpoint: in use")
	// ErrVersion is returned by [Open] for a journal written in a format
	// version this build does not read.
	ErrVersion = errors.New("checkpoint: unsupported journal version")
	// ErrFormat is returned by [Import] for a file whose shape it does not know.
	ErrFormat = errors.New("checkpoint: unrecognized progress file")
)

// MaxKeyLen is the longest key, in bytes, a store accepts. It keeps keys
// indexable everywhere (a PostgreSQL btree entry must stay under ~2.7 kB).
const MaxKeyLen = 1024

// State is where an item stands.
type State string

// The states of a record. A plain resume runs every item that is neither
// Done nor Failed (see the package documentation).
const (
	// Running: an attempt started and has no outcome yet. Recording it keeps
	// Attempts and Started across a crash. A Running record that a new claim
	// finds (see [Leaser]) is an attempt during which its process died, so
	// an item that kills the process every time can be given up (see
	// [Record].Crashes and [TrackerOptions].MaxCrashes).
	Running State = "running"
	// Pending: the item was tried and is neither finished nor in flight:
	// after a failed attempt that will be retried, after an attempt a
	// shutdown stopped, or a Done item whose file vanished or changed and
	// must be fetched again. Err says why, if there is a why.
	Pending State = "pending"
	// Done: the item's file is saved; Path, Size and SHA256 describe it.
	Done State = "done"
	// Failed: the item was given up — its attempts are used up, it failed
	// for good, or it killed the process too often; Err says why. A plain
	// resume leaves it; [TrackerOptions].RetryFailed tries it again.
	Failed State = "failed"
)

// Record is the outcome of one item, by key. The JSON tags are the File
// store's journal format: renaming one needs a new journal version.
type Record struct {
	Key      string            `json:"key"`               // the item's unique key; required
	State    State             `json:"state"`             // Running, Pending, Done or Failed; required
	Attempts int               `json:"attempts,omitzero"` // attempts made so far
	Crashes  int               `json:"crashes,omitzero"`  // runs that died during an attempt at this key
	Path     string            `json:"path,omitzero"`     // the saved file, for Done
	Size     int64             `json:"size,omitzero"`     // its size in bytes
	SHA256   string            `json:"sha256,omitzero"`   // its SHA-256, hex
	Err      string            `json:"err,omitzero"`      // the last error text, for Failed and Pending
	Owner    string            `json:"owner,omitzero"`    // which worker or process wrote the record
	Meta     map[string]string `json:"meta,omitzero"`     // free-form fields of the caller (e.g. a stock number)
	Started  time.Time         `json:"started,omitzero"`  // when the first attempt started
	Updated  time.Time         `json:"updated,omitzero"`  // when the record was written; Put fills a zero one
}

// Store records the outcome of items by key and reads them back for resume.
//
// Implementations are safe for concurrent use. Methods honour ctx: a call
// whose ctx is already done returns ctx.Err() and changes nothing. Optional
// capabilities ([Batcher], [Leaser]) are separate interfaces that a
// store may also implement; check for them with a type assertion.
type Store interface {
	// Put stores r under r.Key, replacing any earlier record of that key.
	// When it returns nil the record is durable to the extent the store
	// promises (see [Options.GroupCommit] for the File store). It returns an
	// error wrapping ErrInvalid for a record [Normalize] rejects; when it
	// returns another error the record may or may not have been stored.
	Put(ctx context.Context, r Record) error
	// Get returns the record of key, or an error wrapping ErrNotFound.
	Get(ctx context.Context, key string) (Record, error)
	// All yields every record once, in key order. On failure it yields a
	// zero Record with the error and stops. Records put while the iteration
	// runs may or may not be seen.
	All(ctx context.Context) iter.Seq2[Record, error]
	// Close releases the store, first making any pending writes durable.
	// Further calls return ErrClosed; Close itself may be called again and
	// then returns nil.
	Close() error
}

// Batcher is implemented by stores that put many records faster together
// than one by one — the File store writes and fsyncs them once. [Import]
// uses it.
type Batcher interface {
	// PutBatch stores recs in order, as if by Put each. If one is invalid
	// nothing is stored. After a crash a prefix of the batch may be stored.
	PutBatch(ctx context.Context, recs []Record) error
}

// Surveyor is implemented by stores that tell what is left of many keys
// without reading every record: [Tracker.Feed] asks it about the keys that
// other owners hold, rather than reading All. Check for it with a type
// assertion.
type Surveyor interface {
	// Left returns the record of each of keys that is not Done, in the
	// order of keys: a Running, Pending or Failed one, or a Record with only
	// its Key for a key the store has no record of. A key given twice comes
	// back once. It is one round trip for a shared store, and costs it an
	// index lookup per key, not a scan.
	Left(ctx context.Context, keys []string) ([]Record, error)
}

// Normalize checks r and returns it in the form stores keep, so every
// implementation reads back the same value: times in UTC without a
// monotonic reading, a zero Updated set to now, Meta copied (nil when
// empty), and invalid UTF-8 in text fields replaced by U+FFFD. It returns an
// error wrapping [ErrInvalid] for an empty, over-long or non-UTF-8 key, an
// unknown state, or a negative Attempts, Crashes or Size.
func Normalize(r Record) (Record, error) {
	if err := check(r); err != nil {
		return Record{}, err
	}
	fix := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
	r.Path, r.SHA256, r.Err, r.Owner = fix(r.Path), fix(r.SHA256), fix(r.Err), fix(r.Owner)
	if len(r.Meta) == 0 {
		r.Meta = nil
	} else {
		m := make(map[string]string, len(r.Meta))
		for k, v := range r.Meta {
			m[fix(k)] = fix(v)
		}
		r.Meta = m
	}
	if r.Updated.IsZero() {
		r.Updated = time.Now()
	}
	r.Started, r.Updated = r.Started.UTC(), r.Updated.UTC()
	return r, nil
}

func check(r Record) error {
	bad := func(why string, args ...any) error {
		return fmt.Errorf("%w %.80q: %s", ErrInvalid, r.Key, fmt.Sprintf(why, args...))
	}
	switch {
	case r.Key == "":
		return bad("empty key")
	case len(r.Key) > MaxKeyLen:
		return bad("key is %d bytes, longer than %d", len(r.Key), MaxKeyLen)
	case !utf8.ValidString(r.Key):
		return bad("key is not valid UTF-8")
	case r.State != Running && r.State != Pending && r.State != Done && r.State != Failed:
		return bad("unknown state %q", r.State)
	case r.Attempts < 0 || r.Crashes < 0 || r.Size < 0:
		return bad("negative attempts (%d), crashes (%d) or size (%d)", r.Attempts, r.Crashes, r.Size)
	}
	return nil
}

// clone returns r with its own copy of Meta, so callers can't change what a
// store holds.
func clone(r Record) Record {
	r.Meta = maps.Clone(r.Meta)
	return r
}
