package pipeline

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/replay-iam/replay/catalog"
	"github.com/replay-iam/replay/engine"
	"github.com/replay-iam/replay/ingest"
	"github.com/replay-iam/replay/internal/sample"
)

// sampleEstate generates the demo estate and loads its snapshot.
func sampleEstate(t testing.TB) (sample.Summary, *ingest.Snapshot) {
	t.Helper()
	sum, err := sample.Generate(t.TempDir(), sample.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	snap, err := ingest.LoadSnapshot(sum.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	return sum, snap
}

func TestRunAccountsForDamagedInput(t *testing.T) {
	sum, err := sample.Generate(t.TempDir(), sample.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(sum.Logs, "extra")
	if err := os.MkdirAll(bad, 0o700); err != nil {
		t.Fatal(err)
	}
	// A file that is not gzip although named so, a delivery file cut short
	// after one record, and a JSON-lines file with one broken line.
	os.WriteFile(filepath.Join(bad, "corrupt.json.gz"), []byte("\x1f\x8bnot really gzip"), 0o600)
	os.WriteFile(filepath.Join(bad, "truncated.json"), []byte(`{"Records":[{"eventSource":"s3.amazonaws.com","eventName":"ListBuckets","eventTime":"2026-11-01T00:00:00Z","userIdentity":{"type":"Root","arn":"arn:aws:iam::200000000001:root","accountId":"200000000001"}},{"eventSou`), 0o600)
	os.WriteFile(filepath.Join(bad, "lines.jsonl"), []byte("{\"eventSource\":\"s3.amazonaws.com\",\"eventName\":\"ListBuckets\",\"userIdentity\":{\"type\":\"Root\",\"arn\":\"arn:aws:iam::200000000001:root\",\"accountId\":\"200000000001\"}}\n{broken\n{\"no\":\"event\"}\n"), 0o600)

	snap, err := ingest.LoadSnapshot(sum.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	var final Progress // the last report, which counts every record read
	res, err := Run(context.Background(), Config{Logs: []string{sum.Logs}, Snapshot: snap, Workers: 3,
		Progress: func(p Progress) { final = p }, ProgressEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != int64(sum.Events)+1+3 {
		t.Errorf("records %d, want %d", res.Records, sum.Events+4)
	}
	if !final.Done || final.Records != res.Records || final.FilesDone != final.Files {
		t.Errorf("last progress %+v, run read %d records", final, res.Records)
	}
	if res.FileErrors != 2 || res.Unparseable != 1 || res.NotCloudTrail != 1 {
		t.Errorf("file errors %d, unparseable %d, not CloudTrail %d", res.FileErrors, res.Unparseable, res.NotCloudTrail)
	}
	accounted := res.Evaluated + res.Unparseable + res.NotCloudTrail + res.OutsideWindow + res.Duplicates + res.OtherPrincipals
	for _, n := range res.Skips {
		accounted += n
	}
	if accounted != res.Records {
		t.Errorf("accounted %d of %d", accounted, res.Records)
	}
	if res.Report.Events != res.Requests {
		t.Errorf("report holds %d events, %d requests evaluated", res.Report.Events, res.Requests)
	}
}

func TestRunStopsWhenCancelled(t *testing.T) {
	sum, snap := sampleEstate(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, Config{Logs: []string{sum.Logs}, Snapshot: snap}); !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
}

// runLogged runs cfg and returns the result and the file log.
func runLogged(t *testing.T, cfg Config) (*Result, []FileStats) {
	t.Helper()
	var files []FileStats
	cfg.FileLog = func(st *FileStats) error {
		files = append(files, *st)
		return nil
	}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res, files
}

// copyLogFile replays the sample estate, then copies the first file read
// whose path pick accepts to the path to gives it. It returns the estate,
// the replay without the copy, and the paths of the original and the copy.
func copyLogFile(t *testing.T, pick func(path string) bool, to func(original string) string) (sample.Summary, *ingest.Snapshot, *Result, string, string) {
	t.Helper()
	sum, snap := sampleEstate(t)
	base, files := runLogged(t, Config{Logs: []string{sum.Logs}, Snapshot: snap, Workers: 2})
	var original string
	for _, f := range files {
		if f.Skipped == "" && f.Records > 0 && pick(f.Path) {
			original = f.Path
			break
		}
	}
	if original == "" {
		t.Fatal("no file of the sample to copy")
	}
	data, err := os.ReadFile(original)
	if err != nil {
		t.Fatal(err)
	}
	dup := to(original)
	if err := os.WriteFile(dup, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return sum, snap, base, original, dup
}

// TestDuplicateDeliveryCountedOnce delivers one file twice in the same
// day folder: every record of the second copy is a duplicate, whatever the
// number of workers, also when each file is a slice of its own, and the
// replay's totals are those without the copy.
func TestDuplicateDeliveryCountedOnce(t *testing.T) {
	sum, snap, base, original, dup := copyLogFile(t, func(string) bool { return true },
		func(original string) string { return strings.TrimSuffix(original, ".json.gz") + "zz.json.gz" }) // sorts after the original
	var logs [][]FileStats
	for _, run := range []struct{ workers, sliceFiles int }{{1, 0}, {4, 0}, {4, 1}} {
		workers := run.workers
		res, files := runLogged(t, Config{Logs: []string{sum.Logs}, Snapshot: snap, Workers: workers, sliceFiles: run.sliceFiles})
		logs = append(logs, files)
		var origStats, dupStats FileStats
		for _, f := range files {
			switch f.Path {
			case original:
				origStats = f
			case dup:
				dupStats = f
			}
		}
		if origStats.Duplicates != 0 || dupStats.Duplicates != dupStats.Records || dupStats.Records == 0 || dupStats.Evaluated != 0 {
			t.Errorf("workers %d: original %+v, copy %+v", workers, origStats, dupStats)
		}
		if res.Evaluated != base.Evaluated || res.Requests != base.Requests || res.Duplicates != dupStats.Records {
			t.Errorf("workers %d: evaluated %d, requests %d, duplicates %d; without the copy %d, %d", workers,
				res.Evaluated, res.Requests, res.Duplicates, base.Evaluated, base.Requests)
		}
	}
	if !reflect.DeepEqual(logs[0], logs[1]) || !reflect.DeepEqual(logs[0], logs[2]) {
		t.Error("the file log differs between 1 and 4 workers, or with every file a group of its own")
	}
}

// TestDuplicateChainCountedOnce delivers one file three times, 50 and 100
// minutes apart, under a window of an hour: the third copy lies outside
// the window of the first but within that of the second, and is a
// duplicate like the second, whatever the number of workers, also when
// each file is a slice of its own (its lookback then holds the second copy
// but not the first).
func TestDuplicateChainCountedOnce(t *testing.T) {
	rename := func(original, at string) string {
		return strings.Replace(original, "_20261101T1805Z_", "_20261101T"+at+"Z_", 1)
	}
	sum, snap, base, original, second := copyLogFile(t,
		func(path string) bool { return strings.Contains(path, "_20261101T1805Z_") },
		func(original string) string { return rename(original, "1855") })
	third := rename(original, "1945")
	data, err := os.ReadFile(original)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(third, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var logs [][]FileStats
	for _, run := range []struct{ workers, sliceFiles int }{{1, 0}, {4, 0}, {4, 1}} {
		res, files := runLogged(t, Config{Logs: []string{sum.Logs}, Snapshot: snap, Workers: run.workers,
			DedupWindow: time.Hour, sliceFiles: run.sliceFiles})
		logs = append(logs, files)
		copies := map[string]FileStats{}
		for _, f := range files {
			if f.Path == original || f.Path == second || f.Path == third {
				copies[f.Path] = f
			}
		}
		first, dup2, dup3 := copies[original], copies[second], copies[third]
		if first.Records == 0 || first.Duplicates != 0 || dup2.Duplicates != dup2.Records || dup3.Duplicates != dup3.Records ||
			dup3.Records != first.Records {
			t.Errorf("%+v: copies %+v, %+v, %+v", run, first, dup2, dup3)
		}
		if res.Evaluated != base.Evaluated || res.Duplicates != 2*first.Records {
			t.Errorf("%+v: evaluated %d, duplicates %d; want %d, %d", run, res.Evaluated, res.Duplicates, base.Evaluated, 2*first.Records)
		}
	}
	if !reflect.DeepEqual(logs[0], logs[1]) || !reflect.DeepEqual(logs[0], logs[2]) {
		t.Error("the file log differs between 1 and 4 workers, or with every file a group of its own")
	}
}

func TestEventKey(t *testing.T) {
	a := keyOf("3f1c7a52-9b0e-4d55-a2f1-0c6f1f5b7e11")
	if a != keyOf("3F1C7A52-9B0E-4D55-A2F1-0C6F1F5B7E11") {
		t.Error("a UUID's key depends on its case")
	}
	if a == keyOf("3f1c7a52-9b0e-4d55-a2f1-0c6f1f5b7e12") || keyOf("id-1") == keyOf("id-2") {
		t.Error("distinct ids share a key")
	}
	want, _ := hex.DecodeString("3f1c7a529b0e4d55a2f10c6f1f5b7e11")
	if !bytes.Equal(a[:], want) {
		t.Errorf("key of a UUID = %x, want its 16 bytes %x", a, want)
	}
	// Shaped like a UUID but not hexadecimal: hashed, as any other id.
	odd := "3f1c7a52-9b0e-4d55-a2f1-0c6f1f5b7e1g"
	if k := keyOf(odd); k == keyOf("3f1c7a52-9b0e-4d55-a2f1-0c6f1f5b7e10") || k != keyOf(odd) {
		t.Error("an id shaped like a UUID with a non-hex digit must have a key of its own")
	}
}

// TestIDCounts checks the dedup window's table against a map, through
// growth and deletions that shift probe runs; a small key space makes
// counts above one and removals of absent keys common.
func TestIDCounts(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tab := newIDCounts()
	model := map[eventKey]int32{}
	keyN := func(n int) eventKey { return keyOf(fmt.Sprintf("id-%d", n)) }
	for step := 0; step < 200_000; step++ {
		k := keyN(rng.IntN(3000))
		if rng.IntN(2) == 0 {
			if got := tab.add(k); got != model[k] {
				t.Fatalf("step %d: add returned %d, want %d", step, got, model[k])
			}
			model[k]++
			continue
		}
		tab.remove(k)
		if model[k] > 0 {
			if model[k]--; model[k] == 0 {
				delete(model, k)
			}
		}
		if tab.Len() != len(model) {
			t.Fatalf("step %d: %d keys, want %d", step, tab.Len(), len(model))
		}
	}
	for k, n := range model {
		if got := tab.add(k); got != n {
			t.Fatalf("key %x counted %d, want %d", k, got, n)
		}
	}
}

// TestDedupWindow checks which copies of an id are firsts: a copy is a
// duplicate when a copy, counted or not, lies in a file delivered within
// the window before it (or earlier in its own file), so that what the
// window holds depends only on the files within it.
func TestDedupWindow(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	w := newDedupWindow(time.Hour)
	w.startFile(t0)
	if !w.firstTime("a") || w.firstTime("a") || !w.firstTime("") || !w.firstTime("") {
		t.Error("a repeated id must be reported once, an empty id never")
	}
	w.startFile(t0.Add(50 * time.Minute))
	if w.firstTime("a") || !w.firstTime("b") {
		t.Error("an id of a file delivered within the window is not a first")
	}
	w.startFile(t0.Add(61 * time.Minute)) // the first file leaves the window
	if w.firstTime("a") || w.firstTime("b") || !w.firstTime("c") {
		t.Error("a copy within the window of a duplicate must be a duplicate too")
	}
	w.startFile(t0.Add(111 * time.Minute)) // the second file leaves the window
	if w.firstTime("b") || !w.firstTime("d") {
		t.Error("the window must keep the ids of the files delivered within it")
	}
	w.startFile(t0.Add(170 * time.Minute)) // the third file leaves the window
	if !w.firstTime("a") || !w.firstTime("c") || w.firstTime("d") {
		t.Error("the window must forget the ids of files delivered before it, and only those")
	}
	if w.keys.Len() != 4 || len(w.files) != 2 {
		t.Errorf("window holds %d ids of %d files, want 4 of 2", w.keys.Len(), len(w.files))
	}
	// Emptied for another group, the window knows none of them.
	w.reset()
	w.startFile(t0.Add(171 * time.Minute))
	if !w.firstTime("a") || !w.firstTime("d") || w.firstTime("a") {
		t.Error("an emptied window must know no id but those recorded since")
	}
	if w.keys.Len() != 2 || len(w.files) != 1 {
		t.Errorf("emptied window holds %d ids of %d files, want 2 of 1", w.keys.Len(), len(w.files))
	}

	all := newDedupWindow(0)
	all.startFile(t0)
	all.firstTime("a")
	all.startFile(t0.Add(48 * time.Hour))
	if all.firstTime("a") {
		t.Error("without a window every id must be remembered")
	}
	unknown := newDedupWindow(time.Hour)
	unknown.startFile(time.Time{})
	unknown.firstTime("a")
	unknown.startFile(t0)
	if unknown.firstTime("a") {
		t.Error("a file delivered at an unknown time must be remembered")
	}
}

// TestCachedDecisionsEqualEvaluation decides every request of the sample
// estate's logs (two days, every principal, session and denial of the demo)
// through one cache, as a worker does, and evaluates each afresh: the
// decisions must be equal in every field.
func TestCachedDecisionsEqualEvaluation(t *testing.T) {
	sum, snap := sampleEstate(t)
	cfg := Config{Logs: []string{sum.Logs}, Snapshot: snap}
	found, err := ingest.Discover(cfg.Logs, cfg.Window)
	if err != nil {
		t.Fatal(err)
	}
	sessions := ingest.NewSessions()
	read := func(fn func(*ingest.Record)) {
		for _, f := range found {
			if f.Skip != "" {
				continue
			}
			if err := ReadFile(context.Background(), f.Path, nil, fn, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	read(func(rec *ingest.Record) { sessions.Observe(rec) })
	tr := ingest.NewTranslator(catalog.Default(), snap, sessions)
	cache := engine.NewCache(0)
	requests := 0
	read(func(rec *ingest.Record) {
		x := tr.Translate(rec)
		for j := range x.Requests {
			r := &x.Requests[j]
			requests++
			got := cache.Authorize(&r.Request, r.Join.Policies)
			if want := engine.Authorize(&r.Request, r.Join.Policies); !reflect.DeepEqual(got, want) {
				t.Fatalf("event %s, %s on %s: cached %+v, evaluated %+v", rec.EventID, r.Action, r.Request.Resource, got, want)
			}
		}
	})
	st := cache.Stats()
	if requests == 0 || st.Hits == 0 {
		t.Fatalf("%d requests, cache %+v: nothing was compared", requests, st)
	}
	t.Logf("%d requests, cache %+v", requests, st)
}

// TestDuplicateDeliveredNextDay copies the last file of a day into the next
// day's folder, delivered ten minutes after midnight: within the dedup
// window the copy's records are duplicates, outside it they are not. With
// every file a slice of its own, the copy's slice looks back across
// midnight as its day's first group does.
func TestDuplicateDeliveredNextDay(t *testing.T) {
	sum, snap, base, _, dup := copyLogFile(t,
		func(path string) bool {
			return strings.HasSuffix(filepath.Dir(path), "2026/11/01") && strings.Contains(path, "_20261101T1805Z_")
		},
		func(original string) string {
			name := strings.Replace(filepath.Base(original), "_20261101T1805Z_", "_20261102T0010Z_", 1)
			return filepath.Join(filepath.Dir(filepath.Dir(original)), "02", name)
		})
	for _, tc := range []struct {
		window time.Duration
		caught bool
	}{{7 * time.Hour, true}, {time.Hour, false}} {
		var runs []*Result
		var logs [][]FileStats
		for _, run := range []struct{ workers, sliceFiles int }{{1, 0}, {4, 0}, {4, 1}} {
			workers := run.workers
			res, files := runLogged(t, Config{Logs: []string{sum.Logs}, Snapshot: snap, Workers: workers, DedupWindow: tc.window, sliceFiles: run.sliceFiles})
			runs, logs = append(runs, res), append(logs, files)
			var dupStats FileStats
			for _, f := range files {
				if f.Path == dup {
					dupStats = f
				}
			}
			if dupStats.Records == 0 {
				t.Fatalf("the copy %s was not read", dup)
			}
			switch {
			case tc.caught && (dupStats.Duplicates != dupStats.Records || res.Evaluated != base.Evaluated || res.Duplicates != dupStats.Records):
				t.Errorf("window %s, workers %d: copy %+v; evaluated %d, want %d", tc.window, workers, dupStats, res.Evaluated, base.Evaluated)
			case !tc.caught && (dupStats.Duplicates != 0 || res.Duplicates != 0):
				t.Errorf("window %s, workers %d: copy delivered six hours after the original counted as duplicate: %+v", tc.window, workers, dupStats)
			}
		}
		for i := 1; i < len(runs); i++ {
			if !reflect.DeepEqual(logs[0], logs[i]) || reportDiff(runs[0].Report, runs[i].Report) != "" {
				t.Errorf("window %s: accounting or report differs between 1 and 4 workers, or with every file a group of its own", tc.window)
			}
		}
	}
}

// BenchmarkDedupWindow records the ids of delivery files of 1,500 random
// UUIDs, delivered five minutes apart, through a one-hour window, as a
// worker does for each record it reads: ns/op is per record.
func BenchmarkDedupWindow(b *testing.B) {
	const perFile = 1500
	rng := rand.New(rand.NewPCG(3, 4))
	ids := make([]string, 64*perFile)
	for i := range ids {
		h := fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64())
		ids[i] = h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	}
	w := newDedupWindow(time.Hour)
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%perFile == 0 {
			w.startFile(t0.Add(time.Duration(i/perFile) * 5 * time.Minute))
		}
		w.firstTime(ids[i%len(ids)])
	}
}
