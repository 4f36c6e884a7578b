package output

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

type row struct {
	Name   string     `parquet:"name,dict"`
	Count  int64      `parquet:"count"`
	Seen   time.Time  `parquet:"seen,timestamp(millisecond:utc)"`
	MaybeT *time.Time `parquet:"maybe,optional,timestamp(millisecond:utc)"`
}

func TestWriteParquetRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "rows.parquet")
	now := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	in := []row{{"a", 3, now, &now}, {"b", 0, now.Add(time.Hour), nil}}
	if err := WriteParquet(path, in); err != nil {
		t.Fatal(err)
	}
	out, err := parquet.ReadFile[row](path)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].Name != "a" || out[0].Count != 3 || !out[0].Seen.Equal(now) || out[0].MaybeT == nil || out[1].MaybeT != nil {
		t.Errorf("read back %+v", out)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != FileMode {
		t.Errorf("mode %v", st.Mode().Perm())
	}
	if dst, _ := os.Stat(filepath.Dir(path)); dst.Mode().Perm() != DirMode {
		t.Errorf("dir mode %v", dst.Mode().Perm())
	}
}

func TestAtomicLeavesNothingOnError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.json")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Atomic(path, func(f *os.File) error {
		f.WriteString("partial")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("file changed to %q", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary file left: %v", entries)
	}
}

func TestDayParts(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	d := NewDayParts[row](dir, "part-00001")
	if err := d.Write("2026-11-01", []row{{"a", 1, now, nil}}); err != nil {
		t.Fatal(err)
	}
	if err := d.Write("2026-11-02", []row{{"b", 2, now, nil}}); err != nil {
		t.Fatal(err)
	}
	if err := d.Write("2026-11-01", []row{{"c", 3, now, nil}}); err != nil {
		t.Fatal(err)
	}
	// Nothing is visible under its final name before Close.
	if _, err := os.Stat(filepath.Join(dir, "day=2026-11-01", "part-00001.parquet")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file visible before Close: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	for day, want := range map[string][]string{"2026-11-01": {"a", "c"}, "2026-11-02": {"b"}} {
		rows, err := parquet.ReadFile[row](filepath.Join(dir, "day="+day, "part-00001.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rows {
			got = append(got, r.Name)
		}
		if len(got) != len(want) || got[0] != want[0] || got[len(got)-1] != want[len(want)-1] {
			t.Errorf("%s: rows %v, want %v", day, got, want)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "day=2026-11-01"))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}

	// Remove takes back what Close put in place, and the day folder it
	// empties, but no other producer's file.
	other := NewDayParts[row](dir, "part-00003")
	if err := other.Write("2026-11-02", []row{{"o", 1, now, nil}}); err != nil {
		t.Fatal(err)
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "day=2026-11-01")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("day folder left after Remove: %v", err)
	}
	entries, _ = os.ReadDir(filepath.Join(dir, "day=2026-11-02"))
	if len(entries) != 1 || entries[0].Name() != "part-00003.parquet" {
		t.Errorf("after Remove, day=2026-11-02 holds %v, want part-00003.parquet alone", entries)
	}

	aborted := NewDayParts[row](dir, "part-00002")
	if err := aborted.Write("2026-11-03", []row{{"x", 1, now, nil}}); err != nil {
		t.Fatal(err)
	}
	aborted.Abort()
	entries, _ = os.ReadDir(filepath.Join(dir, "day=2026-11-03"))
	if len(entries) != 0 {
		t.Errorf("an aborted part left %v", entries)
	}
}

// TestDayPartsBoundRowGroups checks that a day file is written in row
// groups of at most rowGroupRows rows, so that a writer's memory does
// not grow with the day's rows.
func TestDayPartsBoundRowGroups(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	d := NewDayParts[row](dir, "part-00001")
	batch := make([]row, 1000)
	for i := range batch {
		batch[i] = row{"r", int64(i), now, nil}
	}
	total := 2*rowGroupRows + 5000
	for n := 0; n < total; n += len(batch) {
		if err := d.Write("2026-11-01", batch[:min(len(batch), total-n)]); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	pf := openParquet(t, filepath.Join(dir, "day=2026-11-01", "part-00001.parquet"))
	groups := pf.RowGroups()
	if pf.NumRows() != int64(total) || len(groups) != 3 {
		t.Fatalf("%d rows in %d row groups, want %d in 3", pf.NumRows(), len(groups), total)
	}
	for _, g := range groups {
		if g.NumRows() > rowGroupRows {
			t.Errorf("row group of %d rows", g.NumRows())
		}
	}
}

// TestBounds checks that every column's minimum and maximum values are in
// the file's metadata and in its page index, and are the values' own: a
// reader skips the pages and row groups whose bounds exclude what it looks
// for.
func TestBounds(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Hour)
	rows := []row{{"b", 2, t1, nil}, {"a", 3, t0, &t1}, {"c", 1, t0.Add(time.Minute), nil}}
	path := filepath.Join(t.TempDir(), "bounds.parquet")
	if err := StreamParquet(path, func(write func([]row) error) error { return write(rows) }); err != nil {
		t.Fatal(err)
	}
	le := func(v int64) string { return string(binary.LittleEndian.AppendUint64(nil, uint64(v))) }
	want := map[string][2]string{
		"name":  {"a", "c"},
		"count": {le(1), le(3)},
		"seen":  {le(t0.UnixMilli()), le(t1.UnixMilli())},
		"maybe": {le(t1.UnixMilli()), le(t1.UnixMilli())},
	}
	pf := openParquet(t, path)
	indexes := pf.ColumnIndexes() // row group by row group, column by column
	if rgs := pf.Metadata().RowGroups; len(rgs) != 1 || len(indexes) != len(rgs[0].Columns) {
		t.Fatalf("%d row groups, %d column indexes", len(rgs), len(indexes))
	}
	for i, c := range pf.Metadata().RowGroups[0].Columns {
		name := c.MetaData.PathInSchema[0]
		w := want[name]
		stats := c.MetaData.Statistics
		if string(stats.MinValue) != w[0] || string(stats.MaxValue) != w[1] {
			t.Errorf("column %s: row group bounds %q..%q, want %q..%q", name, stats.MinValue, stats.MaxValue, w[0], w[1])
		}
		pages := indexes[i]
		if len(pages.MinValues) != 1 || string(pages.MinValues[0]) != w[0] || string(pages.MaxValues[0]) != w[1] {
			t.Errorf("column %s: page bounds %q..%q, want %q..%q", name, pages.MinValues, pages.MaxValues, w[0], w[1])
		}
	}
}

// openParquet opens a Parquet file for the rest of the test.
func openParquet(t *testing.T, path string) *parquet.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	return pf
}

// TestHuffmanOnly checks that HuffmanOnly compresses the named columns with
// GZIP, and compresses them, leaves the others to zstd, and keeps the
// schema and the rows as they are.
func TestHuffmanOnly(t *testing.T) {
	type idRow struct {
		ID    string   `parquet:"id"`
		Name  string   `parquet:"name,dict"`
		Count int64    `parquet:"count"`
		Keys  []string `parquet:"keys,list"`
	}
	var rows []idRow
	for i := range 5000 {
		// Hex digits in no order: what is left to compress is their coding.
		id := fmt.Sprintf("%016x%016x", uint64(i)*0x9e3779b97f4a7c15, uint64(i+7)*0xc2b2ae3d27d4eb4f)
		rows = append(rows, idRow{ID: id, Name: fmt.Sprint("n", i%3), Count: int64(i), Keys: []string{"k", id[:4]}})
	}
	path := filepath.Join(t.TempDir(), "ids.parquet")
	err := StreamParquet(path, func(write func([]idRow) error) error { return write(rows) },
		HuffmanOnly[idRow]("id"))
	if err != nil {
		t.Fatal(err)
	}
	pf := openParquet(t, path)
	if got, want := pf.Schema().String(), parquet.SchemaOf(new(idRow)).String(); got != want {
		t.Errorf("schema\n%s\nwant\n%s", got, want)
	}
	for _, c := range pf.Metadata().RowGroups[0].Columns {
		m := c.MetaData
		want := "ZSTD"
		if m.PathInSchema[0] == "id" {
			want = "GZIP"
			if ratio := float64(m.TotalCompressedSize) / float64(m.TotalUncompressedSize); ratio > 0.7 {
				t.Errorf("column id compressed to %.2f of its size", ratio)
			}
		}
		if got := m.Codec.String(); got != want {
			t.Errorf("column %v: codec %s, want %s", m.PathInSchema, got, want)
		}
	}
	got, err := parquet.ReadFile[idRow](path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(got, rows, func(a, b idRow) bool {
		return a.ID == b.ID && a.Name == b.Name && a.Count == b.Count && slices.Equal(a.Keys, b.Keys)
	}) {
		t.Errorf("rows differ after a round trip")
	}
}
