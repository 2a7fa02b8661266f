package postgres_test

import (
	"sync"
	"testing"
	"time"

	"github.com/pagefleet/pagefleet/checkpoint"
	"github.com/pagefleet/pagefleet/checkpoint/checkpointtest"
	"github.com/pagefleet/pagefleet/checkpoint/postgres"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	var opened sync.Map // *postgres.Store → its Options, for Reopen
	checkpointtest.Suite{
		Many: 10_000, // ten pages of All; 100k only measure the server
		New: func(t *testing.T) checkpoint.Store {
			opts := postgres.Options{Schema: schema(t), Table: "records"}
			s := open(t, opts)
			opened.Store(s, opts)
			return s
		},
		Reopen: func(t *testing.T, s checkpoint.Store) checkpoint.Store {
			opts, _ := opened.Load(s)
			s = open(t, opts.(postgres.Options))
			opened.Store(s, opts)
			return s
		},
	}.Run(t)
}

func TestLeaser(t *testing.T) {
	t.Parallel()
	checkpointtest.LeaseSuite{
		New: func(t *testing.T, _ *checkpointtest.Clock) checkpoint.Store { return open(t, postgres.Options{}) },
		TTL: 200 * time.Millisecond, // the server's clock: the suite waits this out a few times
	}.Run(t)
}
