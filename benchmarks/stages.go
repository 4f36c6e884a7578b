// Package benchmarks measures replay against the machine's floor: inflating
// and decoding the same CloudTrail files, nothing else. The go test
// benchmarks cover the hot paths one at a time; the replaybench command
// (cmd/replaybench) measures a whole run next to the floor.
package benchmarks

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/klauspost/compress/gzip"
	"golang.org/x/sync/errgroup"

	"github.com/replay-iam/replay/analysis"
	"github.com/replay-iam/replay/catalog"
	"github.com/replay-iam/replay/engine"
	"github.com/replay-iam/replay/ingest"
	"github.com/replay-iam/replay/internal/sample"
	"github.com/replay-iam/replay/pipeline"
)

// Corpus is a generated delivery tree: its files and the snapshot of the
// estate that produced them.
type Corpus struct {
	Dir      string
	Logs     string
	Files    []string
	Events   int
	Snapshot *ingest.Snapshot
	SnapDir  string
}

// CorpusOptions returns generator options for about events events in
// delivery files of 1,500 events (the size CloudTrail writes for a busy
// account), over six member accounts and four days.
func CorpusOptions(events int) sample.Options {
	const perFile, accounts, days = 1500, 6, 4
	files := (events + perFile - 1) / perFile
	o := sample.DefaultOptions()
	o.Accounts, o.Days, o.EventsPerFile = accounts, days, perFile
	o.FilesPerDay = max(1, (files+accounts*days-1)/(accounts*days))
	return o
}

// OpenCorpus generates a tree under dir with the options, unless dir holds
// one already, and loads it.
func OpenCorpus(dir string, o sample.Options) (*Corpus, error) {
	c := &Corpus{Dir: dir, Logs: filepath.Join(dir, "logs"), SnapDir: filepath.Join(dir, "snapshot")}
	if _, err := os.Stat(c.Logs); errors.Is(err, os.ErrNotExist) {
		if _, err := sample.Generate(dir, o); err != nil {
			return nil, err
		}
	}
	found, err := ingest.Discover([]string{c.Logs}, ingest.Window{})
	if err != nil {
		return nil, err
	}
	for _, f := range found {
		if f.Skip == "" {
			c.Files = append(c.Files, f.Path)
		}
	}
	if c.Snapshot, err = ingest.LoadSnapshot(c.SnapDir); err != nil {
		return nil, err
	}
	// Count the events with the floor's own decoder.
	var mu sync.Mutex
	err = eachFileBuffered(c.Files, 1, func(data []byte) error {
		var doc struct{ Records []gojson.RawMessage }
		if err := gojson.Unmarshal(data, &doc); err != nil {
			return err
		}
		mu.Lock()
		c.Events += len(doc.Records)
		mu.Unlock()
		return nil
	})
	return c, err
}

// Floor inflates every file into a buffer reused by its worker and decodes
// it whole with goccy/go-json (the fastest decoder measured) into the
// record type: the least any tool must do to read the logs.
func Floor(c *Corpus, workers int) error {
	return eachFileBuffered(c.Files, workers, func(data []byte) error {
		var doc struct{ Records []ingest.Record }
		return gojson.Unmarshal(data, &doc)
	})
}

// Stage is how far a measurement takes each record.
type Stage int

// Stages, each including those before it.
const (
	StageDecode    Stage = iota // ingest.Reader: records with file positions
	StageTranslate              // + action, resource, context and snapshot join
	StageEvaluate               // + the decision of every request (cached, as a run does)
	StageAggregate              // + the analysis report
)

var stageNames = [...]string{"decode", "translate", "evaluate", "aggregate"}

func (s Stage) String() string { return stageNames[s] }

// Stages lists every stage in order.
func Stages() []Stage { return []Stage{StageDecode, StageTranslate, StageEvaluate, StageAggregate} }

// RunStage takes every record of the corpus through the stages up to s,
// with workers goroutines each reading whole files, as a run does. The
// sessions come from a pass over the STS records done beforehand.
func RunStage(c *Corpus, workers int, s Stage, sessions *ingest.Sessions) error {
	cat := catalog.Default()
	var mu sync.Mutex
	total := analysis.NewReport()
	err := forEachShare(c.Files, workers, func(files []string) error {
		tr := ingest.NewTranslator(cat, c.Snapshot, sessions)
		cache := engine.NewCache(0)
		rep := analysis.NewReport()
		for _, path := range files {
			err := ReadFile(path, func(rec *ingest.Record) {
				if s < StageTranslate {
					return
				}
				x := tr.Translate(rec)
				if s < StageEvaluate || x.Skip != ingest.NotSkipped {
					return
				}
				for j := range x.Requests {
					r := &x.Requests[j]
					ev := pipeline.Decide(&x, r, cache)
					if s >= StageAggregate {
						rep.Add(&ev, rec.EventID)
					}
				}
			})
			if err != nil {
				return err
			}
		}
		mu.Lock()
		total.Merge(rep)
		mu.Unlock()
		return nil
	})
	return err
}

// Sessions reads the STS records of the corpus.
func Sessions(c *Corpus) (*ingest.Sessions, error) {
	sessions := ingest.NewSessions()
	err := forEachShare(c.Files, 1, func(files []string) error {
		for _, path := range files {
			if err := ReadFile(path, func(rec *ingest.Record) { sessions.Observe(rec) }); err != nil {
				return err
			}
		}
		return nil
	})
	return sessions, err
}

// Timed runs fn and returns how long it took.
func Timed(fn func() error) (time.Duration, error) {
	start := time.Now()
	err := fn()
	return time.Since(start), err
}

// ReadFile streams one file through ingest.Reader, calling fn per record.
func ReadFile(path string, fn func(*ingest.Record)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := ingest.NewReader(f, path)
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

// forEachShare splits the files into workers interleaved shares and runs
// fn on each share in its own goroutine.
func forEachShare(files []string, workers int, fn func([]string) error) error {
	workers = max(1, workers)
	shares := make([][]string, workers)
	for i, f := range files {
		shares[i%workers] = append(shares[i%workers], f)
	}
	var g errgroup.Group
	for _, share := range shares {
		g.Go(func() error { return fn(share) })
	}
	return g.Wait()
}

// eachFileBuffered inflates each file into a buffer reused by its worker
// and calls fn with the content.
func eachFileBuffered(files []string, workers int, fn func([]byte) error) error {
	return forEachShare(files, workers, func(share []string) error {
		var buf bytes.Buffer
		for _, path := range share {
			buf.Reset()
			if err := inflateInto(&buf, path); err != nil {
				return err
			}
			if err := fn(buf.Bytes()); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
		return nil
	})
}

// inflateInto appends the inflated content of a gzip file to buf, growing
// it first to the size the gzip trailer gives.
func inflateInto(buf *bytes.Buffer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() >= 4 {
		var trailer [4]byte
		if _, err := f.ReadAt(trailer[:], st.Size()-4); err == nil {
			size := int(trailer[0]) | int(trailer[1])<<8 | int(trailer[2])<<16 | int(trailer[3])<<24
			buf.Grow(size + bytes.MinRead)
		}
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if _, err := buf.ReadFrom(zr); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
