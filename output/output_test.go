package output

import (
	"errors"
	"os"
	"path/filepath"
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
