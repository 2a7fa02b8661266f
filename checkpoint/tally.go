package checkpoint

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"
)

// Tally is a store's records counted, in all and by owner: the progress of
// a job, also of one that several processes share.
type Tally struct {
	Records, Done, Failed, Unfinished int
	// Owners are the owners' counts, by owner name. Records without an
	// owner count under "".
	Owners []OwnerTally
	// First and Last span the work: the first Done record's first attempt
	// and the last Done record's end.
	First, Last time.Time
}

// OwnerTally is one owner's share of a [Tally].
type OwnerTally struct {
	Owner                    string
	Done, Failed, Unfinished int
	Bytes                    int64 // of the Done records' files
	First, Last              time.Time
}

// PerHour is the owner's rate of Done items between its first and last.
func (o OwnerTally) PerHour() float64 { return perHour(o.Done, o.First, o.Last) }

// PerHour is the rate of Done items between the first and the last.
func (t Tally) PerHour() float64 { return perHour(t.Done, t.First, t.Last) }

func perHour(n int, first, last time.Time) float64 {
	if d := last.Sub(first); d > 0 {
		return float64(n) / d.Hours()
	}
	return 0
}

// Count reads every record of store once and tallies them; failed, if not
// nil, sees each Failed record (to group the failures, say).
func Count(ctx context.Context, store Store, failed func(Record)) (Tally, error) {
	var t Tally
	by := map[string]*OwnerTally{}
	for r, err := range store.All(ctx) {
		if err != nil {
			return t, err
		}
		t.Records++
		o := by[r.Owner]
		if o == nil {
			o = &OwnerTally{Owner: r.Owner}
			by[r.Owner] = o
		}
		switch r.State {
		case Done:
			t.Done++
			o.Done++
			o.Bytes += r.Size
			start := cmp.Or(r.Started, r.Updated)
			for _, span := range []*[2]*time.Time{{&o.First, &o.Last}, {&t.First, &t.Last}} {
				if span[0].IsZero() || start.Before(*span[0]) {
					*span[0] = start
				}
				if r.Updated.After(*span[1]) {
					*span[1] = r.Updated
				}
			}
		case Failed:
			t.Failed++
			o.Failed++
			if failed != nil {
				failed(r)
			}
		default:
			t.Unfinished++
			o.Unfinished++
		}
	}
	for _, o := range by {
		t.Owners = append(t.Owners, *o)
	}
	slices.SortFunc(t.Owners, func(a, b OwnerTally) int { return strings.Compare(a.Owner, b.Owner) })
	return t, nil
}
