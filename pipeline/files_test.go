package pipeline

import (
	"bytes"
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/replay-iam/replay/ingest"
)

// TestFileRowColumns checks that every skip reason has the column of its
// name in files.parquet and counts towards the accounted records.
func TestFileRowColumns(t *testing.T) {
	for k := ingest.Skip(1); int(k) < ingest.SkipKinds; k++ {
		var st FileStats
		st.Skips[k] = 1
		row := st.Row()
		v := reflect.ValueOf(row)
		found := false
		for i := 0; i < v.NumField(); i++ {
			name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("parquet"), ",")
			if name == k.String() {
				found = v.Field(i).Int() == 1
			}
		}
		if !found || row.Accounted() != 1 {
			t.Errorf("%s: no column of that name holds the count, or it is not accounted (%d)", k, row.Accounted())
		}
	}
}

// TestAccountingOrder finishes places out of order: the file log receives
// them in order, and the totals' messages follow it.
func TestAccountingOrder(t *testing.T) {
	var logged []string
	res := &Result{FilesSkipped: map[string]int{}, Skips: map[string]int64{}}
	a := &accounting{res: res, pending: map[int][]FileStats{}, log: func(st *FileStats) error {
		logged = append(logged, st.Path)
		return nil
	}}
	a.passedOver(-1, []ingest.LogFile{{Path: "digest", Skip: ingest.SkipDigest}})
	a.done(2, []FileStats{{Path: "c", Records: 1, Evaluated: 1}})
	a.done(1, []FileStats{{Path: "b", Error: "b: unexpected EOF"}})
	if !slices.Equal(logged, []string{"digest"}) {
		t.Fatalf("logged %q before place 0 was done", logged)
	}
	a.passedOver(0, []ingest.LogFile{{Path: "a", Skip: ingest.SkipNotLog}})
	if want := []string{"digest", "a", "b", "c"}; !slices.Equal(logged, want) {
		t.Errorf("logged %q, want %q", logged, want)
	}
	if res.Files != 4 || res.FilesSkipped["digest_file"] != 1 || res.FilesSkipped["not_a_log_file"] != 1 ||
		res.Records != 1 || res.FileErrors != 1 || !slices.Equal(res.Problems, []string{"b: unexpected EOF"}) {
		t.Errorf("totals %+v", res)
	}
}

// BenchmarkMentionsSTS filters records of the sample estate as the
// session pass does.
func BenchmarkMentionsSTS(b *testing.B) {
	sum, _ := sampleEstate(b)
	var raws [][]byte
	found, err := ingest.Discover([]string{sum.Logs}, ingest.Window{})
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range found {
		if f.Skip != "" {
			continue
		}
		ReadFile(context.Background(), f.Path, func(r *ingest.Reader) {
			r.SetFilter(func(raw []byte) bool { raws = append(raws, bytes.Clone(raw)); return false })
		}, func(*ingest.Record) {}, nil)
	}
	for _, filter := range []struct {
		name string
		fn   func([]byte) bool
	}{{"mentionsSTS", mentionsSTS}, {"bytes.Contains", func(raw []byte) bool { return bytes.Contains(raw, []byte("sts.amazonaws.com")) }}} {
		b.Run(filter.name, func(b *testing.B) {
			n := 0
			for i := 0; b.Loop(); i++ {
				if filter.fn(raws[i%len(raws)]) {
					n++
				}
			}
		})
	}
}
