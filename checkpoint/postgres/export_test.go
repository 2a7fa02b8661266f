package postgres

import "github.com/jackc/pgx/v5/pgxpool"

// Pool returns the store's pool, for tests of its sessions.
func Pool(s *Store) *pgxpool.Pool { return s.pool }

// Migrations are the shipped migrations, for tests that build a table as
// an older build left it.
var Migrations = migrations

// SQL returns the store's statements by name, for tests that explain them.
func SQL(s *Store) map[string]string {
	q := s.sql
	return map[string]string{
		"claim": q.claimBatch, "insert-keys": q.insertKeys, "renew-batch": q.renewBatch,
		"write-batch": q.writeBatch, "left": q.left, "all-page": q.page, "release": q.leaseRelease,
		"put": q.leasePut, "renew": q.renew,
	}
}
