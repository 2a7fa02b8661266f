package postgres_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/checkpoint/postgres"
)

// The multi-process test: three processes work through one inventory of
// keys in one table, the way three copies of a CLI would — no coordinator,
// each offering every key to ClaimBatch. One is killed while it holds
// leases; after their TTL the others finish its keys.
const (
	procEnv  = "PAGEFLEET_POSTGRES_PROC_CHILD" // the child's schema
	procKeys = 300
	procTTL  = time.Second
)

func procKey(i int) string { return fmt.Sprintf("VIN%05d", i) }

func TestProcesses(t *testing.T) {
	if sch := os.Getenv(procEnv); sch != "" {
		procChild(sch, os.Getenv("PROC_NAME"), os.Getenv("PROC_HANG") != "")
		return
	}
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	t.Parallel()
	s := open(t, postgres.Options{})
	sch := strings.Trim(strings.Split(s.Table(), ".")[0], `"`)
	// An audit trail the children can't skip: every write of a Done record,
	// by a trigger, in the writing transaction.
	audit := pgx.Identifier{sch, "audit"}.Sanitize()
	fn := pgx.Identifier{sch, "audit_done"}.Sanitize()
	for _, q := range []string{
		"CREATE TABLE " + audit + " (key text, owner text, gen bigint)",
		"CREATE FUNCTION " + fn + "() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO " + audit +
			" VALUES (NEW.key, NEW.owner, NEW.lease_gen); RETURN NEW; END $$",
		"CREATE TRIGGER audit AFTER INSERT OR UPDATE ON " + s.Table() + " FOR EACH ROW WHEN (NEW.state = 'done') EXECUTE FUNCTION " + fn + "()",
	} {
		if _, err := adminPool(t).Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	c, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	var (
		mu       sync.Mutex
		held     []string // what the victim held when it was killed
		released = map[string]int{}
		wg       sync.WaitGroup
	)
	for i, name := range []string{"victim", "proc-1", "proc-2"} {
		cmd := exec.CommandContext(c, os.Args[0], "-test.run=^TestProcesses$")
		cmd.Env = append(os.Environ(), procEnv+"="+sch, "PROC_NAME="+name)
		if i == 0 {
			cmd.Env = append(cmd.Env, "PROC_HANG=1")
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			killed := false
			for sc := bufio.NewScanner(out); sc.Scan(); {
				kind, rest, _ := strings.Cut(sc.Text(), " ")
				mu.Lock()
				switch kind {
				case "released":
					released[name]++
				case "holding": // the victim stalls holding leases: kill it
					held = strings.Fields(rest)
					killed = cmd.Process.Kill() == nil
				}
				mu.Unlock()
			}
			err := cmd.Wait()
			switch {
			case killed && c.Err() == nil:
				err = nil // as planned
			case name == "victim" && err == nil:
				err = errors.New("exited by itself, not killed")
			}
			if err != nil {
				t.Errorf("%s: %v\n%s", name, err, stderr.Bytes())
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("released: %v; the victim held %v when it was killed", released, held)
	if len(held) == 0 || released["victim"] < 20 || released["proc-1"] == 0 || released["proc-2"] == 0 {
		t.Fatalf("not the run planned: released %v, victim held %v", released, held)
	}

	// Every key Done exactly once: one audited write each, by the owner
	// its record names.
	rows, err := adminPool(t).Query(ctx, "SELECT key, owner, gen FROM "+audit)
	if err != nil {
		t.Fatal(err)
	}
	type write struct {
		owner string
		gen   int64
	}
	writes := map[string][]write{}
	for rows.Next() {
		var key string
		var w write
		if err := rows.Scan(&key, &w.owner, &w.gen); err != nil {
			t.Fatal(err)
		}
		writes[key] = append(writes[key], w)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	n := 0
	for r, err := range s.All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if w := writes[r.Key]; r.State != checkpoint.Done || len(w) != 1 || w[0].owner != r.Owner {
			t.Errorf("%s: %s by %s; Done written %v", r.Key, r.State, r.Owner, w)
		}
	}
	if n != procKeys || len(writes) != procKeys {
		t.Errorf("%d records, %d keys written Done; want %d", n, len(writes), procKeys)
	}
	for _, k := range held { // taken over after the TTL
		if w := writes[k]; len(w) != 1 || w[0].owner == "victim" || w[0].gen < 2 {
			t.Errorf("%s, held by the victim: written Done %v; want once, by another process, under a later lease", k, w)
		}
	}
}

// procChild works through the keys as one process of a job: claims five at
// a time, renews them while it works, releases each Done. With hang, after
// twenty keys it claims a batch, says which keys it holds, and stalls until
// it is killed.
func procChild(sch, name string, hang bool) {
	fail := func(err error) {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(3)
	}
	s, err := postgres.Open(ctx, os.Getenv(dsnEnv), postgres.Options{Schema: sch})
	if err != nil {
		fail(err)
	}
	keys := make([]string, procKeys)
	for i := range keys {
		keys[i] = procKey(i)
	}
	released := 0
	for {
		ls, err := s.ClaimBatch(ctx, keys, name, 5, procTTL)
		if err != nil {
			fail(err)
		}
		if len(ls) == 0 { // all Done, or leased by others: poll until all are Done
			n := 0
			for r, err := range s.All(ctx) {
				if err != nil {
					fail(err)
				}
				if r.State == checkpoint.Done {
					n++
				}
			}
			if n == procKeys {
				s.Close()
				os.Exit(0)
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if hang && released >= 20 {
			var held []string
			for _, l := range ls {
				held = append(held, l.Key())
			}
			fmt.Println("holding", strings.Join(held, " "))
			select {} // until SIGKILL
		}
		// The heartbeat: renew what is held, every third of the TTL.
		stop := make(chan struct{})
		var hb sync.WaitGroup
		hb.Go(func() {
			tick := time.NewTicker(procTTL / 3)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					for _, l := range ls {
						l.Renew(ctx, procTTL) // ErrLeaseLost once released: fine
					}
				}
			}
		})
		for _, l := range ls {
			prev, _ := l.Record()
			r := checkpoint.Record{State: checkpoint.Running, Attempts: prev.Attempts + 1, Started: time.Now()}
			if err := l.Put(ctx, r); err != nil && !errors.Is(err, checkpoint.ErrLeaseLost) {
				fail(err)
			}
			time.Sleep(5 * time.Millisecond) // the download
			r.State, r.Path = checkpoint.Done, l.Key()+".pdf"
			switch err := l.Release(ctx, r); {
			case errors.Is(err, checkpoint.ErrLeaseLost): // stalled past the TTL: another process has it
				fmt.Println("lost", l.Key())
			case err != nil:
				fail(err)
			default:
				released++
				fmt.Println("released", l.Key())
			}
		}
		close(stop)
		hb.Wait()
	}
}
