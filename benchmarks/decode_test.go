// Package benchmarks measures replay's stages against the machine's floor:
// gunzip plus JSON decoding of the same CloudTrail files. Run with
//
//	go test ./benchmarks -run '^$' -bench . -cpu 1,2
//
// Every benchmark reports events/s; compare each with BenchmarkFloor at the
// same -cpu.
package benchmarks

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	gojson "github.com/goccy/go-json"
	"github.com/klauspost/compress/gzip"
	"golang.org/x/sync/errgroup"

	"github.com/replay-iam/replay/catalog"
	"github.com/replay-iam/replay/engine"
	"github.com/replay-iam/replay/ingest"
	"github.com/replay-iam/replay/internal/sample"
)

// corpus is a generated organization trail, made once per process.
type corpus struct {
	files  []string
	events int
	snap   *ingest.Snapshot
}

var loadCorpus = sync.OnceValues(func() (*corpus, error) {
	dir, err := os.MkdirTemp("", "replay-bench-")
	if err != nil {
		return nil, err
	}
	opts := sample.DefaultOptions()
	opts.Accounts, opts.Days, opts.FilesPerDay, opts.EventsPerFile = 4, 2, 8, 500
	sum, err := sample.Generate(dir, opts)
	if err != nil {
		return nil, err
	}
	found, err := ingest.Discover([]string{sum.Logs}, ingest.Window{})
	if err != nil {
		return nil, err
	}
	c := &corpus{events: sum.Events}
	for _, f := range found {
		if f.Skip == "" {
			c.files = append(c.files, f.Path)
		}
	}
	c.snap, err = ingest.LoadSnapshot(sum.Snapshot)
	return c, err
})

func mustCorpus(b *testing.B) *corpus {
	b.Helper()
	c, err := loadCorpus()
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// eachFile runs fn on every file, GOMAXPROCS files at a time.
func eachFile(c *corpus, fn func(path string) error) error {
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, p := range c.files {
		g.Go(func() error { return fn(p) })
	}
	return g.Wait()
}

func report(b *testing.B, events int) {
	b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkFloor is the floor: gunzip each file and decode it whole into
// the record type with encoding/json, nothing else.
// BenchmarkFloor is the machine's floor: each file inflated into a reused
// buffer and decoded whole by goccy/go-json (the fastest decoder measured)
// into the record type.
func BenchmarkFloor(b *testing.B) {
	c := mustCorpus(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		err := eachFileBuffered(c, func(data []byte) error {
			var doc struct{ Records []ingest.Record }
			return gojson.Unmarshal(data, &doc)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	report(b, c.events)
}

// BenchmarkFloorStdlib is the floor with encoding/json streaming the
// inflated file.
func BenchmarkFloorStdlib(b *testing.B) {
	c := mustCorpus(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		err := eachFile(c, func(path string) error {
			return inflate(path, func(zr io.Reader) error {
				var doc struct{ Records []ingest.Record }
				return json.NewDecoder(zr).Decode(&doc)
			})
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	report(b, c.events)
}

// eachFileBuffered inflates each file into a buffer reused by the worker
// and calls fn with its content.
func eachFileBuffered(c *corpus, fn func([]byte) error) error {
	var pool sync.Pool
	return eachFile(c, func(path string) error {
		buf, _ := pool.Get().(*bytes.Buffer)
		if buf == nil {
			buf = new(bytes.Buffer)
		}
		defer pool.Put(buf)
		buf.Reset()
		return inflate(path, func(zr io.Reader) error {
			if _, err := buf.ReadFrom(zr); err != nil {
				return err
			}
			return fn(buf.Bytes())
		})
	})
}

// inflate opens a gzip file and hands its inflated stream to fn.
func inflate(path string, fn func(io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	return fn(zr)
}

// readAll streams one file through ingest.Reader, calling fn per record.
func readAll(path string, fn func(*ingest.Record)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := ingest.NewReader(f, filepath.Base(path))
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		fn(rec)
	}
}

// BenchmarkDecode streams the files through ingest.Reader: format
// detection, record-by-record decoding, positions for error messages.
func BenchmarkDecode(b *testing.B) {
	c := mustCorpus(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := eachFile(c, func(path string) error { return readAll(path, func(*ingest.Record) {}) }); err != nil {
			b.Fatal(err)
		}
	}
	report(b, c.events)
}

// BenchmarkReplay adds translation and evaluation: mapping, resources,
// context, snapshot join and the decision of every request.
func BenchmarkReplay(b *testing.B) {
	c := mustCorpus(b)
	sessions := ingest.NewSessions()
	if err := eachFile(c, func(path string) error {
		return readAll(path, func(rec *ingest.Record) { sessions.Observe(rec) })
	}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		err := eachFile(c, func(path string) error {
			tr := ingest.NewTranslator(catalog.Default(), c.snap, sessions)
			return readAll(path, func(rec *ingest.Record) {
				x := tr.Translate(rec)
				for j := range x.Requests {
					engine.Authorize(&x.Requests[j].Request, x.Requests[j].Join.Policies)
				}
			})
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	report(b, c.events)
}
