// Package postgres provides a [checkpoint.Store] in a PostgreSQL table, shared
// by every process of a job on any number of machines. It is also a
// [checkpoint.Batcher] and a [checkpoint.Leaser]: the processes of a job can
// split its items among themselves without a coordinator.
//
// # Opening
//
// [Open] connects (through github.com/jackc/pgx/v5's pgxpool) and creates or
// migrates the table; [New] does the same on a pool the caller has. The zero
// [Options] use the table public.pagefleet_checkpoint; jobs that share a
// database pick their own [Options.Table] or [Options.Schema].
//
//	store, err := postgres.Open(ctx, "postgres://user:pass@db:5432/jobs", postgres.Options{Table: "stickers"})
//
// # Records
//
// A Store keeps what the [checkpoint.File] store keeps, and reads back the
// same values ([checkpoint.Normalize]), with two limits of PostgreSQL: times
// have microseconds, so Put cuts them to that; and text can't hold a NUL
// character, so Put replaces one with U+FFFD, and rejects a key with one as
// [checkpoint.ErrInvalid]. Meta is a jsonb column; keys sort bytewise
// (COLLATE "C"), as Go strings do. Put is one statement, durable when it
// returns (as the server's synchronous_commit promises); PutBatch is one
// statement for the whole batch: all of it or none.
//
// # Leases
//
// A lease lives in the row of its key: a generation (lease_gen) that every
// claim of the key increments, the owner of the latest claim (lease_owner),
// and when its lease runs out (lease_expires, by the server's clock; NULL
// once it is released or abandoned). A claim takes a key that is not Done
// and whose lease has ended or run out:
//
//   - [Store.Claim] is one INSERT … ON CONFLICT DO UPDATE … WHERE free: a
//     concurrent claim of the same key waits for its row lock and then finds
//     the key leased.
//   - [Store.ClaimBatch] is one round trip: it adds rows for offered keys
//     the table has not seen, then takes up to n free rows in the offered
//     order with SELECT … FOR UPDATE SKIP LOCKED and sets their lease, so
//     processes that offer the same keys at the same moment get disjoint
//     ones, without waiting for each other.
//
// Every statement of a [checkpoint.Lease] — Renew, Put, Release, Abandon —
// is an UPDATE conditional on the key's generation being the lease's and the
// lease not having ended. Once another process has claimed the key, the
// condition fails: the statement changes nothing, and returns
// [checkpoint.ErrLeaseLost] naming the owner that claimed it. So a process that was
// stalled past its TTL can never overwrite the outcome of the process that
// took its key over. A killed process leaves its leases in the table; they
// run out after their TTL and the keys go to the others.
//
// # Schema versions
//
// Open brings the table to [SchemaVersion] in one transaction, under a
// PostgreSQL advisory lock, so processes that start at once take turns and
// the later ones find the work done. The version of each table is a row of
// pagefleet_schema_version in its schema. A table that a newer build has
// migrated further is refused with [ErrVersion].
//
// # Testing
//
// The tests of this package need a PostgreSQL server: scripts/postgres
// starts one on 127.0.0.1 and prints the PAGEFLEET_TEST_POSTGRES variable
// that points the tests to it. Without that variable the tests fail, unless
// PAGEFLEET_SKIP_POSTGRES_TESTS=1.
package postgres
