package checkpoint

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"
)

// journalVersion is the format version in the journal's header line. Bump
// it for any change an older build would misread. Version 2 added the
// Pending state and Record.Crashes.
const journalVersion = 2

// oldestVersion is the oldest journal version Open reads. Open rewrites an
// older journal with the current header at once, so a build that knows only
// the older version refuses it with ErrVersion instead of misreading it.
const oldestVersion = 1

var header = fmt.Appendf(nil, `{"format":"pagefleet-checkpoint","version":%d}`+"\n", journalVersion)

// Options configure [Open]. The zero value is ready to use.
type Options struct {
	// GroupCommit, when positive, trades durability on power loss for
	// speed. Put then returns as soon as its record is written to the
	// operating system — it survives the process being killed — and the
	// journal is fsynced at most GroupCommit later, and by Close. A power
	// loss or kernel crash can lose records acknowledged in that window; if
	// that fsync fails, the store refuses further writes and Close reports it.
	// Defaults to 0: every Put returns only after its record is fsynced.
	GroupCommit time.Duration
	// CompactAfter is how many superseded records the journal may hold
	// before Open rewrites it without them; it does so only when they are
	// also at least a third of its lines (a run that puts Running and then
	// Done for each item leaves half), so a compaction is rare and pays for
	// itself. Negative never compacts. Defaults to 1000.
	CompactAfter int
	// Now is the clock leases expire by (see [Leaser]; tests set a fake
	// one). Defaults to time.Now.
	Now func() time.Time
	// Logger receives what Open repaired or failed to improve (a torn line,
	// a compaction) and group-commit failures. It never gets record
	// contents. Defaults to slog.Default().
	Logger *slog.Logger

	wrap func(journal) journal // tests: fail the journal's writes on purpose
}

// journal is the part of *os.File the store writes through.
type journal interface {
	io.WriterAt
	Sync() error
	Truncate(size int64) error
	Close() error
}

// Stats reports what [Open] found in the journal. It does not change afterwards.
type Stats struct {
	Records   int  // distinct keys
	Lines     int  // record lines replayed, superseded ones included
	TornLines int  // incomplete last lines dropped: a crash cut a write short (0 or 1)
	Compacted bool // Open rewrote the journal: without superseded records, or from an older format
}

// CorruptError reports a journal line that can't be read and is not the
// torn last line a crash leaves. [Open] returns it and leaves the file as it
// is, for a person to look at.
type CorruptError struct {
	Path string // the journal
	Line int    // 1-based
	Err  error  // what is wrong with the line
}

// Error says which line of which file, e.g. for the CLI to print as it is.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("checkpoint: %s line %d is corrupt: %v", e.Path, e.Line, e.Err)
}

// Unwrap returns Err.
func (e *CorruptError) Unwrap() error { return e.Err }

// File is the embedded default [Store]: an append-only journal of JSON
// lines, one record per line after a version header, replayed into memory
// by [Open]. Reads are served from memory; each Put appends and fsyncs.
// See the package documentation for its guarantees.
//
// A File is a [Leaser] for the goroutines of the one process that has it
// open. Its leases live in memory: they are not written to the journal,
// and a reopened File holds none. What a lease stores is journaled as by Put.
type File struct {
	table
	path  string
	opts  Options
	log   *slog.Logger
	lock  *flock.Flock
	stats Stats

	leases  leases // in memory only; ordered before wmu
	version int    // the version of the journal's header, as Open found it

	wmu   sync.Mutex  // serializes appends, so journal order is map order
	j     journal     // nil once closed
	size  int64       // end of the last whole line: where the next append goes
	timer *time.Timer // group commit: pending fsync; nil when all is synced
	err   error       // sticky: a failed group-commit fsync or undo; no more writes
}

var (
	_ Store        = (*File)(nil)
	_ Batcher      = (*File)(nil)
	_ LeaseBatcher = (*File)(nil)
	_ Surveyor     = (*File)(nil)
)

// Open opens the journal at path, creating it if it does not exist, and
// takes a lock (path + ".lock") that keeps every other File — in this
// process or another — from opening it until Close. It returns an error
// wrapping [ErrLocked] naming the holder's PID when that lock is taken, a
// [*CorruptError] for a damaged line that is not the last, and an error
// wrapping [ErrVersion] for a journal from a newer format. A journal of an
// older format is rewritten in the current one (as a compaction is).
//
// The files Open creates (the journal and the lock) are readable and
// writable by their owner only (mode 0600).
//
// A torn last line — a write cut short by a crash — is dropped, logged, and
// counted in [File.Stats]. Open compacts the journal when it holds many
// superseded records (see [Options.CompactAfter]).
func Open(path string, opts Options) (*File, error) {
	if opts.GroupCommit < 0 {
		return nil, fmt.Errorf("checkpoint: Options.GroupCommit is negative (%v)", opts.GroupCommit)
	}
	opts.CompactAfter = cmp.Or(opts.CompactAfter, 1000)
	f := &File{table: table{recs: map[string]Record{}}, path: path, opts: opts, log: cmp.Or(opts.Logger, slog.Default())}
	var err error
	if f.lock, err = lockFile(path); err != nil {
		return nil, err
	}
	if err = f.load(); err != nil {
		return nil, errors.Join(err, f.lock.Unlock())
	}
	f.stats.Records = len(f.recs)
	return f, nil
}

// Path returns the journal's path.
func (f *File) Path() string { return f.path }

// Stats reports what Open found.
func (f *File) Stats() Stats { return f.stats }

func (f *File) load() error {
	if err := os.Remove(f.path + ".tmp"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("checkpoint: remove a compaction's leftover: %w", err)
	}
	good, torn, err := f.replay()
	if errors.Is(err, fs.ErrNotExist) {
		good, torn, err = 0, false, f.create()
	}
	if err != nil {
		return err
	}
	if f.version != 0 && f.version < journalVersion {
		// Upgrading is a compaction: it writes the current header. Going on
		// without it would append lines an older build misreads, so a
		// failure stops Open.
		if err := f.compact(); err != nil {
			return fmt.Errorf("checkpoint: upgrade %s from version %d to %d: %w", f.path, f.version, journalVersion, err)
		}
		f.log.Info("checkpoint: upgraded journal", "path", f.path, "from", f.version, "to", journalVersion)
		torn, f.stats.Compacted = false, true
	} else if old := f.stats.Lines - len(f.recs); f.opts.CompactAfter >= 0 && old >= f.opts.CompactAfter && 3*old >= f.stats.Lines {
		if err := f.compact(); err != nil {
			f.log.Warn("checkpoint: compaction failed; going on with the journal as it is", "path", f.path, "err", err)
		} else {
			torn, f.stats.Compacted = false, true
		}
	}
	j, err := os.OpenFile(f.path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	f.j = j
	if f.opts.wrap != nil {
		f.j = f.opts.wrap(j)
	}
	if torn {
		// A record appended to a torn line would turn it into a corrupt line
		// in the middle, so it goes before anything is appended.
		err = f.j.Truncate(good)
	} else if st, serr := j.Stat(); serr != nil {
		err = serr
	} else {
		good = st.Size()
	}
	// Sync even when nothing changed: a process in group-commit mode may
	// have died with records only in the page cache, and records appended
	// now must not reach the disk before them.
	if err = cmp.Or(err, f.j.Sync()); err != nil {
		return errors.Join(fmt.Errorf("checkpoint: prepare %s for appending: %w", f.path, err), f.j.Close())
	}
	f.size = good
	return nil
}

// replay reads the journal into f.recs. It returns the offset just past the
// last whole line and whether a torn line follows it.
func (f *File) replay() (good int64, torn bool, err error) {
	r, err := os.Open(f.path)
	if err != nil {
		return 0, false, fmt.Errorf("checkpoint: %w", err)
	}
	defer r.Close()
	if st, err := r.Stat(); err == nil { // size the index once: growing it is half the replay
		f.recs = make(map[string]Record, min(st.Size()/256, 1<<24))
	}
	br := bufio.NewReaderSize(r, 1<<20)
	var rec Record // one for all lines: it escapes to the heap
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) { // a line over 1 MiB: rare, so copy
			line = slices.Clone(line)
			var rest []byte
			rest, err = br.ReadBytes('\n')
			line = append(line, rest...)
		}
		switch {
		case err == io.EOF && len(line) == 0 && n == 1:
			return 0, false, fs.ErrNotExist // an empty file: start afresh
		case err == io.EOF && len(line) == 0:
			return good, false, nil
		case err == io.EOF && n > 1:
			f.stats.TornLines++
			f.log.Warn("checkpoint: dropped the torn last line a crash left", "path", f.path, "line", n, "bytes", len(line))
			return good, true, nil
		case err != nil && err != io.EOF:
			return 0, false, fmt.Errorf("checkpoint: read %s: %w", f.path, err)
		case n == 1:
			if err := f.checkHeader(line); err != nil {
				return 0, false, err
			}
		default:
			rec = Record{}
			if err := json.Unmarshal(line, &rec); err != nil {
				return 0, false, &CorruptError{f.path, n, err}
			}
			if err := check(rec); err != nil {
				return 0, false, &CorruptError{f.path, n, err}
			}
			f.recs[rec.Key] = rec
			f.stats.Lines++
		}
		good += int64(len(line))
	}
}

func (f *File) checkHeader(line []byte) error {
	var h struct {
		Format  string
		Version int
	}
	if json.Unmarshal(line, &h) != nil || h.Format != "pagefleet-checkpoint" || line[len(line)-1] != '\n' {
		return &CorruptError{f.path, 1, errors.New("not a pagefleet checkpoint journal (no header)")}
	}
	if h.Version < oldestVersion || h.Version > journalVersion {
		return fmt.Errorf("%w %d in %s (this build reads %d to %d)", ErrVersion, h.Version, f.path, oldestVersion, journalVersion)
	}
	f.version = h.Version
	return nil
}

// create makes a journal holding only the header. It appears whole or not
// at all, so a crash can't leave a journal with a torn header.
func (f *File) create() error {
	if err := f.writeAtomic(header); err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(f.path)); err != nil {
		return fmt.Errorf("checkpoint: create %s: fsync directory: %w", f.path, err)
	}
	return nil
}

// compact rewrites the journal with one line per key, in key order.
func (f *File) compact() error {
	recs := slices.SortedFunc(maps.Values(f.recs), func(a, b Record) int { return strings.Compare(a.Key, b.Key) })
	body, err := encode(recs)
	if err != nil {
		return err
	}
	if err := f.writeAtomic(append(slices.Clip(header), body...)); err != nil {
		return err
	}
	// Old and new journal hold the same records, so if the rename is lost
	// to a crash nothing is: warn only.
	if err := syncDir(filepath.Dir(f.path)); err != nil {
		f.log.Warn("checkpoint: fsync directory after compaction", "path", f.path, "err", err)
	}
	f.log.Info("checkpoint: compacted journal", "path", f.path, "lines", f.stats.Lines, "records", len(recs))
	return nil
}

// writeAtomic replaces the journal with data: temp file, fsync, rename.
// The file is the owner's only: the journal is a job's state, and the error
// texts in it may carry details of the site.
func (f *File) writeAtomic(data []byte) error {
	tmp := f.path + ".tmp"
	t, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err == nil {
		_, err = t.Write(data)
		err = errors.Join(err, t.Sync(), t.Close())
	}
	if err == nil {
		err = os.Rename(tmp, f.path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("checkpoint: write %s: %w", f.path, err)
	}
	return nil
}

// Claim leases key to owner for ttl. See [Leaser].
func (f *File) Claim(ctx context.Context, key, owner string, ttl time.Duration) (Lease, error) {
	ls, err := f.leases.claim(ctx, f, []string{key}, owner, 1, ttl, true)
	if err != nil {
		return nil, err
	}
	return ls[0], nil
}

// ClaimBatch leases up to n of keys to owner for ttl. See [Leaser].
func (f *File) ClaimBatch(ctx context.Context, keys []string, owner string, n int, ttl time.Duration) ([]Lease, error) {
	return f.leases.claim(ctx, f, keys, owner, n, ttl, false)
}

// RenewBatch renews leases of f. See [LeaseBatcher].
func (f *File) RenewBatch(ctx context.Context, ls []Lease, ttl time.Duration) ([]error, error) {
	return f.leases.renewBatch(ctx, f, ls, ttl)
}

// WriteBatch writes through leases of f, with one append and one fsync.
// See [LeaseBatcher].
func (f *File) WriteBatch(ctx context.Context, ws []LeaseWrite) ([]error, error) {
	return f.leases.writeBatch(ctx, f, ws)
}

func (f *File) now() time.Time {
	if f.opts.Now != nil {
		return f.opts.Now()
	}
	return time.Now()
}

// Put stores r and returns once it is durable. See [Store] and
// [Options.GroupCommit].
func (f *File) Put(ctx context.Context, r Record) error {
	return f.PutBatch(ctx, []Record{r})
}

// PutBatch stores recs with one write and one fsync. See [Batcher].
func (f *File) PutBatch(ctx context.Context, recs []Record) error {
	recs, err := normalizeAll(ctx, recs)
	if err != nil {
		return err
	}
	buf, err := encode(recs)
	if err != nil {
		return err
	}
	f.wmu.Lock()
	defer f.wmu.Unlock()
	switch {
	case f.j == nil:
		return ErrClosed
	case f.err != nil:
		return f.err
	case len(buf) == 0:
		return nil
	}
	if _, err := f.j.WriteAt(buf, f.size); err != nil {
		return f.undo(fmt.Errorf("checkpoint: append to %s: %w", f.path, bare(err)))
	}
	if f.opts.GroupCommit == 0 {
		if err := f.j.Sync(); err != nil {
			return f.undo(fmt.Errorf("checkpoint: fsync %s: %w", f.path, bare(err)))
		}
	} else if f.timer == nil {
		f.timer = time.AfterFunc(f.opts.GroupCommit, f.flush)
	}
	f.size += int64(len(buf))
	f.mu.Lock()
	f.setLocked(recs)
	f.mu.Unlock()
	return nil
}

// undo cuts the journal back to its last whole line after a failed append,
// so the next append can't glue onto a partial one. What was acknowledged
// lies before that point and stays. Only if the cut fails too is the store
// unusable; a reopen then drops the partial line as torn.
func (f *File) undo(err error) error {
	if terr := f.j.Truncate(f.size); terr != nil {
		f.err = fmt.Errorf("%w; undoing the partial write failed too, reopen the store: %v", err, terr)
		f.log.Error("checkpoint: journal unusable until reopened", "path", f.path, "err", f.err)
		return f.err
	}
	return err
}

// flush is the group-commit fsync.
func (f *File) flush() {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	if f.timer == nil { // Close got here first
		return
	}
	f.timer = nil
	if err := f.j.Sync(); err != nil {
		f.err = fmt.Errorf("checkpoint: group commit: fsync %s: %w; records acknowledged since the last fsync may be lost", f.path, bare(err))
		f.log.Error("checkpoint: group commit failed; no more writes", "path", f.path, "err", err)
	}
}

// Close fsyncs pending group-commit writes, closes the journal and releases
// the lock. It reports a failed group-commit fsync, if there was one.
func (f *File) Close() error {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	if f.j == nil {
		return nil
	}
	err := f.err
	if f.timer != nil {
		f.timer.Stop()
		f.timer = nil
		if serr := f.j.Sync(); serr != nil {
			err = errors.Join(err, fmt.Errorf("checkpoint: fsync %s: %w", f.path, bare(serr)))
		}
	}
	err = errors.Join(err, f.j.Close(), f.lock.Unlock())
	f.j = nil
	f.mu.Lock()
	f.closed, f.recs = true, nil
	f.mu.Unlock()
	return err
}

// encode renders recs as journal lines.
func encode(recs []Record) ([]byte, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	for _, r := range recs {
		if err := e.Encode(r); err != nil {
			return nil, fmt.Errorf("checkpoint: encode %.80q: %w", r.Key, err)
		}
	}
	return b.Bytes(), nil
}

// bare drops the *fs.PathError around err: the messages above name the path.
func bare(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}
