package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// SchemaVersion is the version of the tables this build writes: the number
// of migrations it knows.
const SchemaVersion = 2

// versionTable holds one row per records table in its schema: the
// migrations applied to it.
const versionTable = "pagefleet_schema_version"

// migrationLock is the key of the advisory lock every Open takes while it
// migrates, whatever the schema: "pageflee" as a big-endian int64, to be
// recognisable in pg_locks.
const migrationLock int64 = 0x70_61_67_65_66_6c_65_65

// migrations, in order: migration i brings a table from version i to i+1.
// Each runs in the transaction that records its version; %[1]s is the
// records table and %[2]s the name of the CHECK constraint on its state
// column (PostgreSQL named it when migration 1 made the table; "none" before
// that). Never edit one that has shipped: append another.
var migrations = [SchemaVersion]string{
	// 1: records and leases in one table. A row whose state is NULL holds
	// a lease and no record yet: Get and All skip it. Keys sort bytewise
	// (COLLATE "C"), as Go strings do. lease_gen counts the claims of the
	// key, lease_owner is the latest claim's, lease_expires is NULL once it
	// ended.
	`CREATE TABLE %[1]s (
		key           text COLLATE "C" PRIMARY KEY,
		state         text CHECK (state IN ('running', 'done', 'failed')),
		attempts      bigint NOT NULL DEFAULT 0,
		path          text NOT NULL DEFAULT '',
		size          bigint NOT NULL DEFAULT 0,
		sha256        text NOT NULL DEFAULT '',
		err           text NOT NULL DEFAULT '',
		owner         text NOT NULL DEFAULT '',
		meta          jsonb,
		started       timestamptz,
		updated       timestamptz,
		lease_owner   text,
		lease_gen     bigint NOT NULL DEFAULT 0,
		lease_expires timestamptz
	);
	COMMENT ON TABLE %[1]s IS 'pagefleet checkpoint records and leases (github.com/pagefleet/pagefleet/checkpoint/postgres)'`,
	// 2: the pending state, and crashes: how many runs died during an
	// attempt at the key. The new check has a name of our own, so a later
	// migration needs no lookup.
	`ALTER TABLE %[1]s
		DROP CONSTRAINT IF EXISTS %[2]s,
		ADD CONSTRAINT pagefleet_state CHECK (state IN ('running', 'pending', 'done', 'failed')),
		ADD COLUMN crashes bigint NOT NULL DEFAULT 0`,
}

// migrate brings the records table up to SchemaVersion. It holds an
// advisory lock for the transaction, so processes that migrate at once take
// turns, and the second finds the work done.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
		return err
	}
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)", s.opts.Schema).Scan(&exists); err != nil {
		return err
	}
	if !exists { // IF NOT EXISTS alone needs the CREATE privilege even when it exists
		if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{s.opts.Schema}.Sanitize()); err != nil {
			return err
		}
	}
	vt := pgx.Identifier{s.opts.Schema, versionTable}.Sanitize()
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+vt+` (
		table_name text PRIMARY KEY,
		version    int NOT NULL,
		migrated   timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return err
	}
	var version int
	err = tx.QueryRow(ctx, "SELECT version FROM "+vt+" WHERE table_name = $1", s.opts.Table).Scan(&version)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	switch {
	case version > SchemaVersion:
		return fmt.Errorf("%w: %s is at version %d, this build knows %d", ErrVersion, s.table, version, SchemaVersion)
	case version == SchemaVersion:
		return nil
	}
	for v := version; v < SchemaVersion; v++ {
		check := "none"
		if v > 0 {
			// Looked up, not guessed: PostgreSQL shortens the names it makes
			// for long table names.
			err := tx.QueryRow(ctx, `SELECT coalesce(min(quote_ident(conname)), 'none') FROM pg_constraint
				WHERE conrelid = $1::regclass AND contype = 'c' AND conkey = ARRAY[(
					SELECT attnum FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'state')]`, s.table).Scan(&check)
			if err != nil {
				return fmt.Errorf("migration %d: find the state check: %w", v+1, err)
			}
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf(migrations[v], s.table, check)); err != nil {
			return fmt.Errorf("migration %d: %w", v+1, err)
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+vt+` (table_name, version) VALUES ($1, $2)
		ON CONFLICT (table_name) DO UPDATE SET version = excluded.version, migrated = now()`, s.opts.Table, SchemaVersion); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	s.log.Info("checkpoint/postgres: migrated", "table", s.table, "from", version, "to", SchemaVersion)
	return nil
}
