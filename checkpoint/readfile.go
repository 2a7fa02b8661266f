package checkpoint

import (
	"log/slog"
)

// ReadFile reads the journal at path, as it is at that moment, into a
// Memory store: a snapshot of what the process that has the journal open
// (see [Open]) has recorded so far, for a report or a progress display
// beside the run. It takes no lock and changes nothing — no repair, no
// compaction, no file created — so it never stands in a run's way, and a
// run never stands in its way.
//
// A last line without its newline is left out without a word: a record
// being appended as ReadFile reads, or one a crash cut short (which the
// next Open drops). A damaged line before the last is a [*CorruptError], a
// journal of a newer format an error wrapping [ErrVersion], and a journal
// that does not exist, or is empty, an error wrapping fs.ErrNotExist.
//
// A journal rewritten meanwhile (compacted by an Open) is read whole, as
// it was before or after: the rewrite replaces the file by a rename.
func ReadFile(path string) (*Memory, error) {
	f := &File{table: table{recs: map[string]Record{}}, path: path, log: slog.New(slog.DiscardHandler)}
	if _, _, err := f.replay(); err != nil {
		return nil, err
	}
	m := NewMemory()
	m.recs = f.recs
	return m, nil
}
