package pipeline

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/replay-iam/replay/analysis"
	"github.com/replay-iam/replay/ingest"
	"github.com/replay-iam/replay/output"
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
// file, a day's rows fill several batches and files end between batches:
// in the shared files when the group's replay is final and it holds its
// rows to the end, in files of its own otherwise (its files are large, it
// has too many rows, or its replay may be discarded); and that the batches and
// held rows go back to their pools empty.
func TestDecisionWriterDays(t *testing.T) {
	const group = "111111111111_us-east-1_20260301"
	tests := []struct {
		name  string
		small int   // rows a group holds
		size  int64 // of the group's files
		final bool
		file  string // of each day's rows
	}{
		{"final, held", smallGroupRows, 0, true, "part-shared-0000?.parquet"},
		{"not final, held", smallGroupRows, 0, false, "part-" + group + ".parquet"},
		{"final, over the rows held", 1500, 0, true, "part-" + group + ".parquet"},
		{"final, large files", smallGroupRows, smallGroupBytes + 1, true, "part-" + group + ".parquet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			table := newDecisionTable(dir, 2)
			table.small = tt.small
			w := table.writer(group, tt.size)
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
			if err := w.close(tt.final); err != nil {
				t.Fatal(err)
			}
			if err := table.sinks.close(); err != nil {
				t.Fatal(err)
			}
			for day, ids := range want {
				files, _ := filepath.Glob(filepath.Join(dir, "day="+day, "*"))
				if len(files) != 1 || !matches(tt.file, filepath.Base(files[0])) {
					t.Fatalf("%s: files %v, want one %s", day, files, tt.file)
				}
				got, err := parquet.ReadFile[analysis.DecisionRow](files[0])
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
			if len(w.pending) != 0 || w.held != nil {
				t.Errorf("%d batches and held rows %v kept after close", len(w.pending), w.held != nil)
			}
			for range 3 {
				if b := table.batches.Get().(*[]analysis.DecisionRow); len(*b) != 0 || cap(*b) < decisionBatch {
					t.Errorf("a batch of the pool holds %d rows, room for %d", len(*b), cap(*b))
				}
			}
			if h := table.helds.get(); h.n != 0 || len(h.days) != 0 {
				t.Errorf("held rows of the pool hold %d rows of %d days", h.n, len(h.days))
			}
		})
	}
}

func matches(pattern, name string) bool {
	ok, err := filepath.Match(pattern, name)
	return ok && err == nil
}

// TestHeldRowsAreCopies checks that rows held keep their values when the
// batch they were given in is reused, as a file's batch is for the next.
// (Strings borrowed from a reader's buffer are checked by TestBorrowedStringsNotKept,
// which writes over the buffers between files.)
func TestHeldRowsAreCopies(t *testing.T) {
	batch := []analysis.DecisionRow{{EventID: "event-1", EventSource: "s3.amazonaws.com", Resource: "arn:aws:s3:::b/k",
		UnknownKeys: []string{"s3:ExistingObjectTag/team"}}}
	var h heldRows
	h.add("2026-03-01", batch)
	batch[0].UnknownKeys[0], batch[0].EventID = "changed", "changed"
	batch[0] = analysis.DecisionRow{EventID: "event-2", Region: "eu-west-1"}
	h.add("2026-03-01", batch)
	want := []analysis.DecisionRow{
		{EventID: "event-1", EventSource: "s3.amazonaws.com", Resource: "arn:aws:s3:::b/k", UnknownKeys: []string{"s3:ExistingObjectTag/team"}},
		{EventID: "event-2", Region: "eu-west-1"},
	}
	if len(h.days) != 1 || !reflect.DeepEqual(h.days[0].rows, want) {
		t.Errorf("held %+v, want %+v", h.days, want)
	}
	if h.n != 2 {
		t.Errorf("%d rows counted, want 2", h.n)
	}
}

// TestDecisionSinks checks that groups of the same day share a file, that
// a file is finished once it is full or when too many wait open (the one
// left unused longest first), and that each row is written once.
func TestDecisionSinks(t *testing.T) {
	dir := t.TempDir()
	s := newDecisionSinks(dir, DecisionWriterOptions(), 2)
	s.maxRows = 5
	rows := func(day string, n int) []analysis.DecisionRow {
		out := make([]analysis.DecisionRow, n)
		for i := range out {
			out[i].EventID = fmt.Sprintf("%s-%d", day, i)
		}
		return out
	}
	// Day 1 fills a file (2 + 3 rows) and starts another; days 2 and 3
	// then start files, and day 1's, used longest ago, is finished for
	// them; day 2 then fills its file.
	for _, w := range []struct {
		day string
		n   int
	}{{"2026-03-01", 2}, {"2026-03-01", 3}, {"2026-03-01", 1}, {"2026-03-02", 4}, {"2026-03-03", 1}, {"2026-03-02", 1}} {
		if err := s.write(w.day, rows(w.day, w.n)); err != nil {
			t.Fatal(err)
		}
	}
	if got := sinkDays(s.idle); !slices.Equal(got, []string{"2026-03-03"}) {
		t.Errorf("files open: %v, want that of 2026-03-03", got)
	}
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{ // rows per file
		"day=2026-03-01/part-shared-00001.parquet": 5,
		"day=2026-03-01/part-shared-00002.parquet": 1,
		"day=2026-03-02/part-shared-00003.parquet": 5,
		"day=2026-03-03/part-shared-00004.parquet": 1,
	}
	files, _ := filepath.Glob(filepath.Join(dir, "day=*", "*"))
	if len(files) != len(want) {
		t.Fatalf("files %v, want %d", files, len(want))
	}
	for name, n := range want {
		got, err := parquet.ReadFile[analysis.DecisionRow](filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Errorf("%s: %d rows, want %d", name, len(got), n)
		}
	}
}

func sinkDays(sinks []*decisionSink) []string {
	var out []string
	for _, s := range sinks {
		out = append(out, s.day)
	}
	return out
}

// TestDecisionBounds checks which columns of a decisions file carry their
// bounds: the random event ids none, in the row group statistics or the
// page index, and the other columns their own least and greatest values,
// by which a reader skips what it does not look for.
func TestDecisionBounds(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	rows := []analysis.DecisionRow{
		{EventID: "9f0c", EventTime: t0.Add(time.Minute), PrincipalARN: "arn:aws:iam::111122223333:user/bob", Action: "s3:GetObject", Decision: "allow"},
		{EventID: "0a1b", EventTime: t0, PrincipalARN: "arn:aws:iam::111122223333:role/app", Action: "sqs:SendMessage", Decision: "deny"},
		{EventID: "55aa", EventTime: t0.Add(time.Hour), PrincipalARN: "arn:aws:iam::111122223333:user/ann", Action: "ec2:RunInstances", Decision: "allow"},
	}
	path := filepath.Join(t.TempDir(), "decisions.parquet")
	err := output.StreamParquet(path, func(write func([]analysis.DecisionRow) error) error { return write(rows) },
		DecisionWriterOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	le := func(v int64) string { return string(binary.LittleEndian.AppendUint64(nil, uint64(v))) }
	want := map[string][2]string{
		"event_id":      {"", ""},
		"event_time":    {le(t0.UnixMilli()), le(t0.Add(time.Hour).UnixMilli())},
		"principal_arn": {"arn:aws:iam::111122223333:role/app", "arn:aws:iam::111122223333:user/bob"},
		"action":        {"ec2:RunInstances", "sqs:SendMessage"},
		"decision":      {"allow", "deny"},
	}
	indexes := pf.ColumnIndexes()
	for i, c := range pf.Metadata().RowGroups[0].Columns {
		name := c.MetaData.PathInSchema[0]
		w, ok := want[name]
		if !ok {
			continue
		}
		delete(want, name)
		stats := c.MetaData.Statistics
		if string(stats.MinValue) != w[0] || string(stats.MaxValue) != w[1] {
			t.Errorf("column %s: row group bounds %q..%q, want %q..%q", name, stats.MinValue, stats.MaxValue, w[0], w[1])
		}
		// The page index holds bounds cut short: a prefix of the least
		// value, and a string no less than the greatest.
		pages := indexes[i]
		if len(pages.MinValues) != 1 || len(pages.MaxValues) != 1 {
			t.Errorf("column %s: %d pages in the index, want 1", name, len(pages.MinValues))
			continue
		}
		lo, hi := string(pages.MinValues[0]), string(pages.MaxValues[0])
		if (lo == "") != (w[0] == "") || !strings.HasPrefix(w[0], lo) || (hi == "") != (w[1] == "") || hi < w[1] {
			t.Errorf("column %s: page bounds %q..%q, want %q..%q or cut short", name, lo, hi, w[0], w[1])
		}
	}
	if len(want) > 0 {
		t.Errorf("columns not in the file: %v", want)
	}
}
