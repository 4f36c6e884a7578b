package output

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

// TestParallelWriterWritesTheSerialFile checks that a file whose row
// groups were encoded apart and copied in holds what a ParquetWriter
// writes: the same rows in the same order, in the same row groups, with
// the same bounds in the metadata and a page index. The rows come in
// batches that straddle the groups, as a report's producer hands them.
// Some files have their first groups written straight to the file, one
// all of them. (Pages may be cut elsewhere: a writer cuts them by the
// batches it is given.)
func TestParallelWriterWritesTheSerialFile(t *testing.T) {
	const perGroup = 1000
	now := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	var rows []row
	for i := range 7*perGroup + 321 {
		r := row{Name: []string{"alpha", "beta", "gamma"}[i%3], Count: int64(i * 7 % 1013), Seen: now.Add(time.Duration(i) * time.Second)}
		if i%5 == 0 {
			r.MaybeT = &now
		}
		rows = append(rows, r)
	}
	options := []parquet.WriterOption{parquet.MaxRowsPerRowGroup(perGroup)}
	dir := t.TempDir()
	serial := filepath.Join(dir, "serial.parquet")
	if err := StreamParquet(serial, func(write func([]row) error) error { return write(rows) }, options...); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ workers, direct int }{{1, 0}, {2, 0}, {5, 0}, {2, 3}, {2, 20}} {
		path := filepath.Join(dir, "parallel.parquet")
		w, err := newParallelParquetWriter[row](path, c.workers, perGroup, 128, c.direct, options...)
		if err != nil {
			t.Fatal(err)
		}
		for start := 0; start < len(rows); start += 333 {
			if err := w.Write(rows[start:min(start+333, len(rows))]); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		sameGroups(t, openParquet(t, path), openParquet(t, serial))
		back, err := parquet.ReadFile[row](path)
		if err != nil {
			t.Fatal(err)
		}
		if len(back) != len(rows) {
			t.Fatalf("%+v: read back %d rows, want %d", c, len(back), len(rows))
		}
		for i := range rows {
			if back[i].Name != rows[i].Name || back[i].Count != rows[i].Count || !back[i].Seen.Equal(rows[i].Seen) || (back[i].MaybeT == nil) != (rows[i].MaybeT == nil) {
				t.Fatalf("%+v: row %d is %+v, want %+v", c, i, back[i], rows[i])
			}
		}
		if n := len(openParquet(t, path).RowGroups()); n != 8 {
			t.Errorf("%+v: %d row groups, want 8", c, n)
		}
	}
}

// sameGroups checks that two files have row groups of the same sizes,
// with the same bounds and null counts in their metadata, and a page index
// for each column chunk.
func sameGroups(t *testing.T, got, want *parquet.File) {
	t.Helper()
	g, w := got.Metadata().RowGroups, want.Metadata().RowGroups
	if len(g) != len(w) {
		t.Fatalf("%d row groups, want %d", len(g), len(w))
	}
	for i := range g {
		if g[i].NumRows != w[i].NumRows || len(g[i].Columns) != len(w[i].Columns) {
			t.Fatalf("row group %d: %d rows in %d columns, want %d in %d", i, g[i].NumRows, len(g[i].Columns), w[i].NumRows, len(w[i].Columns))
		}
		for j := range g[i].Columns {
			gc, wc := &g[i].Columns[j], &w[i].Columns[j]
			gs, ws := gc.MetaData.Statistics, wc.MetaData.Statistics
			if !bytes.Equal(gs.MinValue, ws.MinValue) || !bytes.Equal(gs.MaxValue, ws.MaxValue) || gs.NullCount != ws.NullCount {
				t.Errorf("row group %d, column %v: bounds %q..%q (%d null), want %q..%q (%d null)", i, gc.MetaData.PathInSchema,
					gs.MinValue, gs.MaxValue, gs.NullCount, ws.MinValue, ws.MaxValue, ws.NullCount)
			}
			if gc.ColumnIndexOffset == 0 || gc.OffsetIndexOffset == 0 {
				t.Errorf("row group %d, column %v: no page index", i, gc.MetaData.PathInSchema)
			}
		}
	}
}

// TestParallelWriterAbort checks that an aborted file, and a file whose
// producer failed, leave nothing behind, and that the producer's error is
// returned as is.
func TestParallelWriterAbort(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.parquet")
	boom := errors.New("boom")
	rows := make([]row, 2500)
	err := StreamParallelParquet(path, 2, func(write func([]row) error) error {
		if err := write(rows); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want boom", err)
	}
	w, err := newParallelParquetWriter[row](path, 2, 1000, 128, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	if err := w.Write(rows); err == nil {
		t.Error("Write after Abort succeeded")
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

// reportRow is a row of a large report: a few strings, repeated.
type reportRow struct {
	Principal string `parquet:"principal,dict"`
	Account   string `parquet:"account,dict"`
	Action    string `parquet:"action,dict"`
	Level     string `parquet:"level,dict"`
	Statement string `parquet:"statement,dict"`
	Flag      bool   `parquet:"flag"`
}

// BenchmarkReportWriter writes a report of a million rows with one
// goroutine (serial) and with row groups encoded on GOMAXPROCS goroutines
// (parallel).
func BenchmarkReportWriter(b *testing.B) {
	const n = 1 << 20
	rows := make([]reportRow, n)
	for i := range rows {
		p := i / 20000
		rows[i] = reportRow{Principal: "arn:aws:iam::1234567890" + string(rune('0'+p%10)) + ":role/r" + string(rune('a'+p%26)),
			Account: "12345678901" + string(rune('0'+p%10)), Action: "svc" + string(rune('a'+i%26)) + ":Action" + string(rune('a'+i/26%26)),
			Level: []string{"Read", "Write", "List"}[i%3], Statement: "policy#" + string(rune('0'+i%7)), Flag: i%2 == 0}
	}
	write := func(b *testing.B, stream func(string, func(func([]reportRow) error) error) error) {
		dir := b.TempDir()
		b.ResetTimer()
		for range b.N {
			err := stream(filepath.Join(dir, "r.parquet"), func(write func([]reportRow) error) error {
				for start := 0; start < n; start += 4096 {
					if err := write(rows[start:min(start+4096, n)]); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	}
	b.Run("serial", func(b *testing.B) {
		write(b, func(path string, produce func(func([]reportRow) error) error) error {
			return StreamParquet(path, produce)
		})
	})
	b.Run("parallel", func(b *testing.B) {
		write(b, func(path string, produce func(func([]reportRow) error) error) error {
			return StreamParallelParquet(path, runtime.GOMAXPROCS(0), produce)
		})
	})
}
