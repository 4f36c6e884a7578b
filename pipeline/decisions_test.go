package pipeline

import (
	"testing"
	"time"
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
