package benchmarks

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/replay-iam/replay/analysis"
	"github.com/replay-iam/replay/catalog"
	"github.com/replay-iam/replay/engine"
	"github.com/replay-iam/replay/ingest"
	"github.com/replay-iam/replay/output"
	"github.com/replay-iam/replay/pipeline"
)

// The go test benchmarks run on a small corpus generated once per process
// (about 36,000 events in 24 files). Those over whole files report
// events/s; those of one hot path take one event (or request, or row) per
// op, so that ns/op and allocs/op are per event.
var loadCorpus = sync.OnceValues(func() (*Corpus, error) {
	dir, err := os.MkdirTemp("", "replay-bench-")
	if err != nil {
		return nil, err
	}
	corpusDir = dir
	return OpenCorpus(dir, CorpusOptions(36_000, DefaultCorpusDays, DefaultCorpusAccounts))
})

// corpusDir is the corpus's folder once generated, removed when the
// benchmarks end.
var corpusDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if corpusDir != "" {
		os.RemoveAll(corpusDir)
	}
	os.Exit(code)
}

func mustCorpus(b *testing.B) *Corpus {
	b.Helper()
	c, err := loadCorpus()
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// reportRate reports events/s and allocations per event of a benchmark
// whose op is a pass over the whole corpus.
func reportRate(b *testing.B, c *Corpus, mallocs uint64) {
	events := float64(c.Events) * float64(b.N)
	b.ReportMetric(events/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(mallocs)/events, "allocs/event")
	b.ReportMetric(0, "ns/op")
}

func mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

// corpusPass benchmarks fn as one pass over the corpus per op.
func corpusPass(b *testing.B, fn func(c *Corpus) error) {
	c := mustCorpus(b)
	b.ResetTimer()
	before := mallocs()
	for i := 0; i < b.N; i++ {
		if err := fn(c); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportRate(b, c, mallocs()-before)
}

// BenchmarkFloor is the machine's floor: every file inflated into a reused
// buffer and decoded whole by goccy/go-json into the record type.
func BenchmarkFloor(b *testing.B) {
	corpusPass(b, func(c *Corpus) error { return Floor(c, runtime.GOMAXPROCS(0)) })
}

// BenchmarkFloorStdlib is the floor with encoding/json.
func BenchmarkFloorStdlib(b *testing.B) {
	corpusPass(b, func(c *Corpus) error {
		return eachFileBuffered(c.Files, runtime.GOMAXPROCS(0), func(data []byte) error {
			var doc struct{ Records []ingest.Record }
			return json.Unmarshal(data, &doc)
		})
	})
}

// BenchmarkDecode reads the files through ingest.Reader as a run does:
// format detection, then each file read whole and its records decoded in
// one call, their strings borrowed from the reader's buffer.
func BenchmarkDecode(b *testing.B) {
	corpusPass(b, func(c *Corpus) error { return RunStage(c, runtime.GOMAXPROCS(0), StageDecode, nil) })
}

// BenchmarkReplay takes every record through decoding, translation, cached
// evaluation and aggregation: a run without its reports.
func BenchmarkReplay(b *testing.B) {
	c := mustCorpus(b)
	sessions, err := Sessions(c)
	if err != nil {
		b.Fatal(err)
	}
	corpusPass(b, func(c *Corpus) error { return RunStage(c, runtime.GOMAXPROCS(0), StageAggregate, sessions) })
}

// workload holds the corpus's records in memory, and their translations.
type workload struct {
	records      []*ingest.Record
	translations []ingest.Translation
	requests     []*ingest.Request
	sessions     *ingest.Sessions
}

var loadWorkload = sync.OnceValues(func() (*workload, error) {
	c, err := loadCorpus()
	if err != nil {
		return nil, err
	}
	w := &workload{}
	if w.sessions, err = Sessions(c); err != nil {
		return nil, err
	}
	cat := catalog.Default()
	for _, path := range c.Files[:len(c.Files)/2] {
		// ReadFile reads each file with a reader of its own, so records of
		// different files do not share memory; neither do translations made
		// by translators of their own (a translator reuses its requests).
		err := ReadFile(path, func(rec *ingest.Record) {
			w.records = append(w.records, rec)
			x := ingest.NewTranslator(cat, c.Snapshot, w.sessions).Translate(rec)
			w.translations = append(w.translations, x)
		})
		if err != nil {
			return nil, err
		}
	}
	for i := range w.translations {
		for j := range w.translations[i].Requests {
			w.requests = append(w.requests, &w.translations[i].Requests[j])
		}
	}
	return w, nil
})

func mustWorkload(b *testing.B) *workload {
	b.Helper()
	w, err := loadWorkload()
	if err != nil {
		b.Fatal(err)
	}
	return w
}

// BenchmarkTranslate builds the requests of one record per op: action
// mapping, resource ARN, condition keys and the snapshot join.
func BenchmarkTranslate(b *testing.B) {
	w := mustWorkload(b)
	c := mustCorpus(b)
	tr := ingest.NewTranslator(catalog.Default(), c.Snapshot, w.sessions)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tr.Translate(w.records[i%len(w.records)])
	}
}

// BenchmarkEvaluate decides one request per op, through a cache as a run
// does (a new cache for every pass over the workload, so that the hit
// ratio is that of one pass over the logs), and without one.
func BenchmarkEvaluate(b *testing.B) {
	w := mustWorkload(b)
	b.Run("cached", func(b *testing.B) {
		var cache *engine.Cache
		var hits, lookups int
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			k := i % len(w.requests)
			if k == 0 {
				if cache != nil {
					st := cache.Stats()
					hits, lookups = hits+st.Hits, lookups+st.Hits+st.Misses
				}
				cache = engine.NewCache(0)
			}
			r := w.requests[k]
			cache.Authorize(&r.Request, r.Join.Policies)
		}
		st := cache.Stats()
		hits, lookups = hits+st.Hits, lookups+st.Hits+st.Misses
		b.ReportMetric(float64(hits)/float64(lookups), "hit-ratio")
	})
	b.Run("uncached", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			r := w.requests[i%len(w.requests)]
			engine.Authorize(&r.Request, r.Join.Policies)
		}
	})
}

// events decides every request of the workload once.
func (w *workload) events() ([]analysis.Event, []string) {
	cache := engine.NewCache(0)
	var evs []analysis.Event
	var ids []string
	for i := range w.translations {
		x := &w.translations[i]
		for j := range x.Requests {
			evs = append(evs, pipeline.Decide(x, &x.Requests[j], cache))
			ids = append(ids, x.Record.EventID)
		}
	}
	return evs, ids
}

// BenchmarkAggregate adds one decided request per op to a report.
func BenchmarkAggregate(b *testing.B) {
	w := mustWorkload(b)
	evs, ids := w.events()
	rep := analysis.NewReport()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % len(evs)
		rep.Add(&evs[k], ids[k])
	}
}

// decisionRows returns the decisions-table rows of the workload's requests.
func decisionRows(b *testing.B) []analysis.DecisionRow {
	w := mustWorkload(b)
	cache := engine.NewCache(0)
	var rows []analysis.DecisionRow
	for i := range w.translations {
		x := &w.translations[i]
		for j := range x.Requests {
			ev := pipeline.Decide(x, &x.Requests[j], cache)
			rows = append(rows, pipeline.DecisionRowOf(x, &x.Requests[j], &ev))
		}
	}
	return rows
}

// BenchmarkParquetDecisions writes one decision row per op as a run writes
// them, in batches of 1,000. The rows of the corpus come round again until
// b.N are written, each time with new event ids: in a run no id repeats,
// and a compressor that found the earlier ones would be faster than it is.
func BenchmarkParquetDecisions(b *testing.B) {
	rows := decisionRows(b)
	path := filepath.Join(b.TempDir(), "decisions.parquet")
	b.ReportAllocs()
	b.ResetTimer()
	rng := rand.New(rand.NewPCG(1, 2))
	err := output.StreamParquet(path, func(write func([]analysis.DecisionRow) error) error {
		for done := 0; done < b.N; {
			from := done % len(rows)
			if from == 0 && done > 0 {
				b.StopTimer()
				for i := range rows {
					rows[i].EventID = randomEventID(rng)
				}
				b.StartTimer()
			}
			n := min(1000, b.N-done, len(rows)-from)
			if err := write(rows[from : from+n]); err != nil {
				return err
			}
			done += n
		}
		return nil
	}, pipeline.DecisionWriterOptions()...)
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkParquetDecisionFiles writes the decisions of small groups, one
// file of 1,500 rows per op, as a run writes the decisions of an account
// and region that delivers one file a day: the cost of starting and
// finishing a file weighs as much as its rows.
func BenchmarkParquetDecisionFiles(b *testing.B) {
	rows := decisionRows(b)
	const perFile = 1500
	if len(rows) < perFile {
		b.Fatalf("%d rows in the workload, want %d at least", len(rows), perFile)
	}
	dir := b.TempDir()
	options := pipeline.DecisionWriterOptions()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		from := i * perFile % (len(rows) - perFile + 1)
		parts := output.NewDayParts[analysis.DecisionRow](dir, fmt.Sprint("part-", i), options...)
		for j := from; j < from+perFile; j += 1000 {
			if err := parts.Write("2026-11-01", rows[j:min(j+1000, from+perFile)]); err != nil {
				b.Fatal(err)
			}
		}
		if err := parts.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// randomEventID returns an id in the form of CloudTrail's event ids: a
// random UUID.
func randomEventID(rng *rand.Rand) string {
	h := fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64())
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// TestOpenCorpusStamp checks that a kept tree is reused only for the
// options and generator version that made it.
func TestOpenCorpusStamp(t *testing.T) {
	dir := t.TempDir()
	o := CorpusOptions(300, 1, DefaultCorpusAccounts)
	first, err := OpenCorpus(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	again, err := OpenCorpus(dir, o)
	if err != nil || again.Events != first.Events || len(again.Files) != len(first.Files) {
		t.Fatalf("reopened with the same options: %d events in %d files, %v; want %d in %d",
			again.Events, len(again.Files), err, first.Events, len(first.Files))
	}
	other := o
	other.Seed++
	if _, err := OpenCorpus(dir, other); err == nil {
		t.Errorf("a tree reopened with another seed was reused")
	}
	if err := os.Remove(filepath.Join(dir, corpusStamp)); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenCorpus(dir, o); err == nil {
		t.Errorf("a tree without its stamp was reused")
	}
}
