package postgres_test

import (
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/checkpoint/postgres"
)

var (
	explain  = flag.Bool("explain", false, "TestExplain: print the plans of the store's statements")
	explainN = flag.Int("explain.rows", 100_000, "TestExplain: rows in the table")
)

// TestExplain prints EXPLAIN (ANALYZE, BUFFERS) of the statements a fleet
// runs most — claim, renew, write (the Running record, and the release with
// the outcome) and what is left — on a table of 100,000 rows in the middle
// of a run: half Done, 8 owners holding 32 leases each, the rest not
// started. Each runs in a transaction that is rolled back, with the plan the
// statement gets with its values (custom) and the one it gets as a prepared
// statement that PostgreSQL plans once for all values (generic). With
// -explain only.
func TestExplain(t *testing.T) {
	if !*explain {
		t.Skip("-explain prints the plans")
	}
	rows := *explainN
	s := open(t, postgres.Options{})
	keys := make([]string, rows)
	for i := range keys {
		keys[i] = fleetKey(i)
	}
	// Half Done, by a PutBatch per thousand.
	for i := 0; i < rows/2; i += 1000 {
		recs := make([]checkpoint.Record, 1000)
		for j := range recs {
			recs[j] = vehicle(i + j)
			recs[j].Key = keys[i+j]
		}
		if err := s.PutBatch(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	// Rows for the rest, and 8 owners holding 32 leases each, Running.
	var held []checkpoint.Lease
	for o := range 8 {
		ls, err := s.ClaimBatch(ctx, keys[rows/2:], fmt.Sprint("proc-", o), 32, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range ls {
			if err := l.Put(ctx, checkpoint.Record{State: checkpoint.Running, Attempts: 1, Started: time.Now()}); err != nil {
				t.Fatal(err)
			}
		}
		held = append(held, ls...)
	}
	for start := rows / 2; start < rows; start += 1000 { // rows for keys no claim reached
		if _, err := s.ClaimBatch(ctx, keys[start:start+1000], "nobody", 1, time.Nanosecond); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := adminPool(t).Exec(ctx, "VACUUM ANALYZE "+s.Table()); err != nil {
		t.Fatal(err)
	}
	sql := postgres.SQL(s)

	mine := held[:32] // proc-0's
	var leasedKeys []string
	for _, l := range mine {
		leasedKeys = append(leasedKeys, l.Key())
	}
	gens := func(ls []checkpoint.Lease) string { // the generation of each: read back
		var g []string
		for _, l := range ls {
			var gen int64
			if err := adminPool(t).QueryRow(ctx, "SELECT lease_gen FROM "+s.Table()+" WHERE key = $1", l.Key()).Scan(&gen); err != nil {
				t.Fatal(err)
			}
			g = append(g, fmt.Sprint(gen))
		}
		return "ARRAY[" + strings.Join(g, ",") + "]::bigint[]"
	}
	now := "'" + time.Now().UTC().Format(time.RFC3339Nano) + "'"
	n8 := func(v string) string { return "ARRAY[" + strings.Repeat(v+",", 7) + v + "]" }
	window := keys[rows/2+256 : rows/2+256+1024] // the next window of a process: its first quarter held by others
	for _, c := range []struct {
		name, sql string
		args      []string
	}{
		{"claim: 16 of a window of 1,024 keys", sql["claim"], []string{textArray(window), "16", "'proc-0'", "60000000"}},
		{"renew: the 32 leases of one owner", sql["renew-batch"], []string{textArray(leasedKeys), gens(mine), "60000000"}},
		{"write: 8 records, 4 Running (kept) and 4 Done (released)", sql["write-batch"], []string{
			textArray(leasedKeys[:8]), gens(mine[:8]), "ARRAY['running','running','running','running','done','done','done','done']",
			n8("1"), n8("'/out/x.pdf'"), n8("1000"), n8("'00'"), n8("''"), n8("'proc-0'"), n8("NULL::text"),
			n8(now + "::timestamptz"), n8(now + "::timestamptz"), n8("0"), "ARRAY[false,false,false,false,true,true,true,true]"}},
		{"what is left: 2,048 keys passed over", sql["left"], []string{textArray(keys[rows/2-1024 : rows/2+1024])}},
		{"insert keys: a window's 128 keys the process has not seen", sql["insert-keys"], []string{textArray(keys[rows-128:])}},
	} {
		for _, mode := range []string{"auto", "force_generic_plan"} {
			fmt.Printf("=== %s (plan_cache_mode %s)\n%s\n", c.name, mode, explainOne(t, mode, c.sql, c.args))
		}
	}
}

// explainOne explains sql, prepared, executed with args (SQL literals)
// under plan_cache_mode mode, in a transaction it rolls back.
func explainOne(t *testing.T, mode, sql string, args []string) string {
	conn, err := adminPool(t).Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		tx.Rollback(ctx)
		conn.Exec(ctx, "DEALLOCATE q") // PREPARE outlives the transaction
	}()
	for _, q := range []string{"SET LOCAL plan_cache_mode = " + mode, "PREPARE q AS " + sql} {
		if _, err := tx.Exec(ctx, q); err != nil {
			t.Fatalf("%.200s: %v", q, err)
		}
	}
	return explainRows(t, tx, "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE q("+strings.Join(args, ", ")+")")
}

func textArray(keys []string) string {
	return "ARRAY['" + strings.Join(keys, "','") + "']::text[]"
}

func explainRows(t *testing.T, tx pgx.Tx, q string) string {
	rows, err := tx.Query(ctx, q)
	if err != nil {
		t.Fatalf("%.200s: %v", q, err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		b.WriteString("    " + line + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%.200s: %v", q, err)
	}
	return b.String()
}
