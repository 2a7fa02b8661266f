// Package checkpoint records the outcome of each item of a bulk job, so that
// a rerun after any interruption — Ctrl-C, kill -9, power loss, a full disk —
// continues where the last run stopped: it never downloads a finished item
// again, and never silently starts from zero.
//
// # Stores
//
// [Store] is a small interface: Put a [Record] under its key, Get one back,
// iterate over All of them, Close. It has two implementations here:
//
//   - [File], the embedded default: a journal on disk, opened with [Open].
//   - [Memory], for tests and short runs.
//
// Further capabilities are separate interfaces that a store may implement
// and callers check with a type assertion — [Batcher] and [Leaser] — so that
// Store stays small. Every implementation passes the conformance suite in
// [github.com/pagefleet/pagefleet/checkpoint/checkpointtest]. Stores are
// safe for concurrent use; a missing key is [ErrNotFound]. A store shared
// by many machines, in PostgreSQL, is in
// [github.com/pagefleet/pagefleet/checkpoint/postgres].
//
// # Resuming
//
// A [Tracker] keeps each item's record through one cycle, the same on
// every store that is a [Leaser] (all of them here):
//
//	claim → Running → (Pending → Running)… → Done or Failed
//
// Running is written when an attempt starts, so that attempts survive a
// crash; Pending after a failed attempt that will be retried, or one that
// a shutdown stopped (a stopped attempt is not charged); Done or Failed at
// the end.
//
// The resume rule: a plain rerun works on every item that is neither Done
// nor given up. Given up means Failed: the item's attempts are used up
// (MaxAttempts, counted across runs), it failed for good, or it is a poison
// pill — the process died during MaxCrashes attempts at it ([ErrPoison]).
// With [TrackerOptions].RetryFailed, given-up items get a fresh budget and
// are tried again. [Tracker.Plan] applies the rule with one read of the
// store; it also checks that each Done item's file is still intact (and
// fetches it again if not), and adopts files a run saved but died before
// recording.
//
// A Running record that a new claim finds — the File store's after a
// restart, an expired lease's in a shared store — is an attempt during
// which its process died: the claim counts it in the record's Crashes. A
// run that dies while an item waits for its retry (Pending) costs no crash.
//
// # Sharing work
//
// Several processes can run one job over the same inventory, without a
// coordinator, through a store that is a [Leaser]: each offers all keys
// to ClaimBatch, gets a few that no one else holds and that are not Done,
// works on them while a heartbeat renews their leases, and releases each
// with its outcome. A process that dies stops renewing; its leases run out
// and the others take its keys over. Its late Release, if it was only
// stalled, fails with [ErrLeaseLost] and stores nothing:
//
//	for {
//		leases, err := l.ClaimBatch(ctx, pending, owner, 5, time.Minute)
//		// … none: every key is Done or leased; poll All until all are Done
//		for _, lease := range leases {
//			prev, _ := lease.Record() // prev.Attempts so far
//			err := lease.Release(ctx, run(lease.Key(), prev))
//			// errors.Is(err, checkpoint.ErrLeaseLost): another process took it
//		}
//	}
//
// [Memory] and [File] are Leasers for the goroutines of one process.
// [Tracker.Feed] runs this loop, with the heartbeat and the polling.
//
// # The journal
//
// A File keeps one JSON object per line. The first line is a header with
// the format's version; every further line is a [Record] in its JSON form,
// and the last line of a key wins:
//
//	{"format":"pagefleet-checkpoint","version":2}
//	{"key":"1FTFW1E5","state":"running","attempts":1,"started":"2025-03-01T12:00:00Z","updated":"2025-03-01T12:00:00Z"}
//	{"key":"1FTFW1E5","state":"pending","attempts":1,"err":"timeout after 3m0s","started":…}
//	{"key":"1FTFW1E5","state":"done","attempts":2,"path":"out/1FTFW1E5.pdf","size":51234,"sha256":"9f86…","started":…}
//
// Versions: Open reads the journals of this format's versions 1 and 2
// (version 2 added the pending state and the crashes field), and rewrites a
// version 1 journal as version 2 at once, so that an older build refuses it
// with [ErrVersion] rather than misreading it.
//
// Durability: Put appends its line and fsyncs the journal before it
// returns, so a record Put acknowledged survives kill -9 and power loss.
// [Options.GroupCommit] trades the power-loss part for speed.
//
// Crashes: a crash can cut the last line short. Open drops such a torn last
// line, logs it and counts it in [Stats].TornLines — a rerun goes on from
// every record before it. A damaged line anywhere else is not something a
// crash does: Open refuses the journal with a [*CorruptError] naming the file
// and line, and leaves it as it is for a person to look at.
//
// Failed writes: when an append fails — a full disk, a read-only file
// system, an I/O error — Put returns that error, naming the journal, and
// cuts the journal back to its last whole line. What was acknowledged stays;
// once the cause is gone, Puts work again.
//
// Compaction: Open rewrites a journal that holds many superseded lines (see
// [Options.CompactAfter]) into a temporary file, fsyncs it, renames it over
// the journal and fsyncs the directory, so a crash at any point leaves the
// old journal or the new one, both whole.
//
// Locking: Open takes a lock on the file path + ".lock" and writes its PID
// there; a second Open, from any process, fails with [ErrLocked] naming that
// PID. The operating system drops the lock when its process dies, so a
// killed run leaves nothing to clean up. [ReadFile] reads a journal without
// the lock, for a report beside the run that has it open.
//
// # Migrating from the old tool
//
// [Import] reads the old tool's tracking.json or checkpoint.json into a
// store, keeping every record the store already has.
//
// # Examples
//
// go doc prints no examples; they are in the example_test.go files (and on
// pkg.go.dev): Example (a journal and a resume), ExampleTracker (the record
// cycle and the resume rule), ExampleLeaser and ExampleLease_lost (sharing
// work between processes), ExampleImport (the old tool's progress). The
// complete downloader built on the Tracker is Example_stickers in package
// download.
package checkpoint
