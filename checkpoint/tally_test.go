package checkpoint_test

import (
	"testing"
	"time"

	"github.com/pagefleet/pagefleet/checkpoint"
)

func TestCount(t *testing.T) {
	t.Parallel()
	st := checkpoint.NewMemory()
	at := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	for _, r := range []checkpoint.Record{
		{Key: "a", State: checkpoint.Done, Owner: "w1", Size: 10, Started: at, Updated: at.Add(time.Minute)},
		{Key: "b", State: checkpoint.Done, Owner: "w1", Size: 20, Started: at.Add(time.Minute), Updated: at.Add(30 * time.Minute)},
		{Key: "c", State: checkpoint.Done, Owner: "w2", Size: 5, Started: at.Add(10 * time.Minute), Updated: at.Add(time.Hour)},
		{Key: "d", State: checkpoint.Failed, Owner: "w2", Err: "HTTP 404"},
		{Key: "e", State: checkpoint.Running, Owner: "w2"},
		{Key: "f", State: checkpoint.Pending},
	} {
		if err := st.Put(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	var failed []string
	tl, err := checkpoint.Count(t.Context(), st, func(r checkpoint.Record) { failed = append(failed, r.Key) })
	if err != nil {
		t.Fatal(err)
	}
	if tl.Records != 6 || tl.Done != 3 || tl.Failed != 1 || tl.Unfinished != 2 || len(failed) != 1 || tl.PerHour() != 3 {
		t.Errorf("tally %+v (per hour %v), failed %v", tl, tl.PerHour(), failed)
	}
	if len(tl.Owners) != 3 || tl.Owners[1].Owner != "w1" || tl.Owners[1].Done != 2 || tl.Owners[1].Bytes != 30 ||
		tl.Owners[1].PerHour() != 4 || tl.Owners[2].Unfinished != 1 || tl.Owners[0].Owner != "" {
		t.Errorf("owners %+v", tl.Owners)
	}
}
