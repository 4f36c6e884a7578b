package pipeline

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/replay-iam/replay/analysis"
	"github.com/replay-iam/replay/ingest"
)

// TestDecisionDay checks the partition day of event times given in turn to
// one writer, which keeps the last day's name: days change back and forth,
// times in other zones fall on their UTC day, and a record without a time
// goes to "unknown".
func TestDecisionDay(t *testing.T) {
	est := time.FixedZone("EST", -5*3600)
	tests := []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), "2026-03-01"},
		{time.Date(2026, 3, 1, 23, 59, 59, 0, time.UTC), "2026-03-01"},
		{time.Time{}, "unknown"},
		{time.Date(2026, 3, 1, 20, 0, 0, 0, est), "2026-03-02"},
		{time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), "2026-03-01"},
		{time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC), "2027-03-01"},
		{time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC), "2026-04-01"},
		{time.Date(2026, 4, 2, 12, 0, 0, 0, time.UTC), "2026-04-02"},
	}
	var w decisionWriter
	for i, tt := range tests {
		if got := w.dayOf(tt.at); got != tt.want {
			t.Errorf("time %d (%v): day %q, want %q", i, tt.at, got, tt.want)
		}
	}
}

// TestDecisionWriterDays checks that a group's rows land in the file of
// their event day, in the order they came, when days alternate within a
// file, a day's rows fill several batches and files end between batches;
// and that the batches go back to the pool empty.
func TestDecisionWriterDays(t *testing.T) {
	dir := t.TempDir()
	batches := newDecisionBatches()
	w := newDecisionWriter(dir, "111111111111_us-east-1_20260301", DecisionWriterOptions(), batches)
	first := time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC)
	want := map[string][]string{}
	const rows = 2*decisionBatch + 500
	for i := range rows {
		at := first.Add(time.Duration(i) * time.Second)
		if i%3 == 0 {
			at = at.Add(24 * time.Hour)
		}
		id := fmt.Sprintf("event-%05d", i)
		x := &ingest.Translation{Record: &ingest.Record{EventID: id, EventTime: at}}
		w.add(x, &ingest.Request{}, &analysis.Event{Action: "s3:GetObject"})
		day := at.Format("2006-01-02")
		want[day] = append(want[day], id)
		if i%700 == 699 {
			w.flush() // the end of a file
		}
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	for day, ids := range want {
		got, err := parquet.ReadFile[analysis.DecisionRow](filepath.Join(dir, "day="+day, "part-111111111111_us-east-1_20260301.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		var gotIDs []string
		for _, r := range got {
			gotIDs = append(gotIDs, r.EventID)
		}
		if !slices.Equal(gotIDs, ids) {
			t.Errorf("%s: %d rows, want %d in the order they came", day, len(gotIDs), len(ids))
		}
	}
	if len(w.pending) != 0 {
		t.Errorf("%d batches kept after close", len(w.pending))
	}
	for range 3 {
		if b := batches.Get().(*[]analysis.DecisionRow); len(*b) != 0 || cap(*b) < decisionBatch {
			t.Errorf("a batch of the pool holds %d rows, room for %d", len(*b), cap(*b))
		}
	}
}
