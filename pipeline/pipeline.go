// Package pipeline runs a replay: it finds the log files, collects the
// sessions STS issued, then reads, translates, evaluates and aggregates
// every record on a pool of workers, accounting for each record.
package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/replay-iam/replay/analysis"
	"github.com/replay-iam/replay/catalog"
	"github.com/replay-iam/replay/engine"
	"github.com/replay-iam/replay/ingest"
)

// Config is what a run reads.
type Config struct {
	Logs     []string
	Snapshot *ingest.Snapshot
	Window   ingest.Window
	// Workers is the number of files read at once; 0 means GOMAXPROCS.
	Workers int
	// Progress, when set, is called every ProgressEvery with the counters
	// so far, and once at the end.
	Progress      func(Progress)
	ProgressEvery time.Duration
	// Decisions, when set, is a folder that receives one row per replayed
	// request, in day=YYYY-MM-DD/part-NNNNN.parquet files, one per group of
	// input files (account, region and delivery day) and event day; NNNNN
	// is the position of the group's first file, so reruns write the same
	// files.
	Decisions string
	// DedupWindow is how far apart in delivery time two copies of an event
	// may be and still be counted once: 0 means DefaultDedupWindow, a
	// negative value every copy within a group and its previous day.
	DedupWindow time.Duration
}

// EffectiveDedupWindow returns the dedup window a run uses; 0 means a
// delivery day and the day before.
func (cfg *Config) EffectiveDedupWindow() time.Duration {
	switch {
	case cfg.DedupWindow == 0:
		return DefaultDedupWindow
	case cfg.DedupWindow < 0:
		return 0
	}
	return cfg.DedupWindow
}

// Progress is a snapshot of a run's counters.
type Progress struct {
	Files, FilesDone int
	Records          int64
	Elapsed          time.Duration
	Done             bool
}

// FileStats accounts for one input file.
type FileStats struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
	// Skipped is why the file was not read ("" when read).
	Skipped string `json:"skipped,omitempty"`
	// Records read = Evaluated + the sum of Skips + Unparseable +
	// NotCloudTrail + OutsideWindow + Duplicates.
	Records       int64            `json:"records"`
	Evaluated     int64            `json:"evaluated"`
	Requests      int64            `json:"requests"`
	Skips         map[string]int64 `json:"skips,omitempty"`
	Unparseable   int64            `json:"unparseable"`
	NotCloudTrail int64            `json:"not_cloudtrail"`
	OutsideWindow int64            `json:"outside_window"`
	// Duplicates counts records whose event id a record of the same account
	// and region delivered earlier, within the dedup window, already had.
	Duplicates int64 `json:"duplicate_event_id"`
	// Error ends the file early: the records after it were not read.
	Error string `json:"error,omitempty"`
	// Problems holds the first MaxProblemsPerFile messages about records
	// that could not be read or were of an unsupported version, each with
	// the record's index and byte offset.
	Problems []string `json:"problems,omitempty"`
}

// MaxProblemsPerFile bounds the record messages kept per file; the counts
// are always complete.
const MaxProblemsPerFile = 5

func (st *FileStats) problem(msg string) {
	if len(st.Problems) < MaxProblemsPerFile {
		st.Problems = append(st.Problems, msg)
	}
}

// Result is a run's outcome.
type Result struct {
	Report *analysis.Report
	Files  []FileStats
	// Sessions counts the distinct sessions issued by the STS calls read.
	Sessions int
	Elapsed  time.Duration
	// Totals over the files.
	Records, Evaluated, Requests, Unparseable, NotCloudTrail, OutsideWindow, Duplicates int64
	Skips                                                                               map[string]int64
	FileErrors                                                                          int
}

// Run replays the logs. It stops at the first fatal error or when ctx is
// cancelled; damaged files and records are counted, not fatal.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	start := time.Now()
	found, toRead, err := discover(cfg)
	if err != nil {
		return nil, err
	}
	res := &Result{Files: make([]FileStats, len(found)), Skips: map[string]int64{}}
	for i, f := range found {
		res.Files[i] = FileStats{Path: f.Path, Size: f.Size, Skipped: string(f.Skip)}
	}

	var records atomic.Int64
	var filesDone atomic.Int64
	stopProgress := startProgress(cfg, len(toRead), &filesDone, &records, start)
	defer stopProgress()

	var mu sync.Mutex
	res.Report = analysis.NewReport()
	res.Sessions, err = forEachGroup(ctx, cfg, found, toRead, func(w *worker, g fileGroup) error {
		rep := analysis.NewReport()
		var dec *decisionWriter
		if cfg.Decisions != "" {
			dec = newDecisionWriter(cfg.Decisions, g.files[0])
		}
		for _, i := range g.files {
			err := w.replayFile(ctx, cfg, &found[i], &res.Files[i], rep, dec, &records)
			filesDone.Add(1)
			if err == nil && dec != nil {
				err = dec.err
			}
			if err != nil {
				if dec != nil {
					dec.abort()
				}
				return err
			}
		}
		if dec != nil {
			if err := dec.close(); err != nil {
				return err
			}
		}
		mu.Lock()
		res.Report.Merge(rep)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range res.Files {
		f := &res.Files[i]
		res.Records += f.Records
		res.Evaluated += f.Evaluated
		res.Requests += f.Requests
		res.Unparseable += f.Unparseable
		res.NotCloudTrail += f.NotCloudTrail
		res.OutsideWindow += f.OutsideWindow
		res.Duplicates += f.Duplicates
		for k, n := range f.Skips {
			res.Skips[k] += n
		}
		if f.Error != "" {
			res.FileErrors++
		}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// forEachGroup runs the plan of a run over the files to read: it collects
// the sessions day by day and calls fn for each group with a worker that
// has read the group's look-back files. It returns the number of sessions
// issued.
func forEachGroup(ctx context.Context, cfg Config, found []ingest.LogFile, toRead []int, fn func(w *worker, g fileGroup) error) (int, error) {
	sessions := ingest.NewSessions()
	p := newPlan(found, toRead, cfg.EffectiveDedupWindow())
	err := p.run(ctx, cfg.WorkerCount(), sessions, collectSessions(ctx, found, sessions), func(g fileGroup) error {
		w := newWorker(cfg, sessions)
		w.lookBack(ctx, cfg, found, g.lookback)
		return fn(w, g)
	})
	return sessions.Issued(), err
}

// outsideWindow reports whether a record's time places it outside the
// run's window (a record without a time is inside).
func (cfg *Config) outsideWindow(rec *ingest.Record) bool {
	return !rec.EventTime.IsZero() && !cfg.Window.Contains(rec.EventTime)
}

// collectSessions returns the session pass over one file: it decodes only
// the records that mention STS and observes the sessions they issued.
// Damaged records and files are counted by the replay.
func collectSessions(ctx context.Context, found []ingest.LogFile, sessions *ingest.Sessions) func(i int) error {
	stsSource := []byte(`sts.amazonaws.com`)
	return func(i int) error {
		err := ReadFile(ctx, found[i].Path, func(r *ingest.Reader) { r.SetFilter(func(raw []byte) bool { return bytes.Contains(raw, stsSource) }) },
			func(rec *ingest.Record) { sessions.Observe(rec) }, nil)
		var ferr *ingest.FileError
		if errors.As(err, &ferr) {
			return nil
		}
		return err
	}
}

// worker is what one goroutine of a replay keeps from file to file of its
// group: the translator, the decision cache and the event ids seen.
type worker struct {
	tr    *ingest.Translator
	cache *engine.Cache
	seen  *dedupWindow
}

func newWorker(cfg Config, sessions *ingest.Sessions) *worker {
	return &worker{tr: ingest.NewTranslator(catalog.Default(), cfg.Snapshot, sessions), cache: engine.NewCache(0),
		seen: newDedupWindow(cfg.EffectiveDedupWindow())}
}

// lookBack reads the event ids of the files delivered just before a group,
// as their replay would see them, without replaying them. Their damage is
// counted by their own group.
func (w *worker) lookBack(ctx context.Context, cfg Config, found []ingest.LogFile, files []int) {
	for _, i := range files {
		w.read(ctx, &found[i], func(rec *ingest.Record) {
			if !cfg.outsideWindow(rec) {
				w.seen.firstTime(rec.EventID)
			}
		}, nil)
	}
}

// read streams one file of the worker's group (see ReadFile), the dedup
// window moved to its delivery time.
func (w *worker) read(ctx context.Context, f *ingest.LogFile, onRecord func(*ingest.Record), onBad func(error)) error {
	w.seen.startFile(f.Delivered)
	return ReadFile(ctx, f.Path, nil, onRecord, onBad)
}

// replayFile replays one file into rep, and into dec when not nil,
// accounting for every record in st. A damaged file ends early with its
// error noted in st; the error returned is fatal (cancellation).
func (w *worker) replayFile(ctx context.Context, cfg Config, f *ingest.LogFile, st *FileStats,
	rep *analysis.Report, dec *decisionWriter, records *atomic.Int64) error {
	st.Skips = map[string]int64{}
	err := w.read(ctx, f, func(rec *ingest.Record) {
		records.Add(1)
		st.Records++
		if cfg.outsideWindow(rec) {
			st.OutsideWindow++
			return
		}
		if !w.seen.firstTime(rec.EventID) {
			st.Duplicates++
			return
		}
		x := w.tr.Translate(rec)
		if x.Skip != ingest.SkipNotAPICall {
			rep.AddRecord(rec.EventSource, isDataEvent(rec), rec.ReadOnly != nil && *rec.ReadOnly)
		}
		if x.Skip != ingest.NotSkipped {
			st.Skips[x.Skip.String()]++
			switch x.Skip {
			case ingest.SkipUnmappedEvent:
				rep.AddUnmapped(x.Detail)
			case ingest.SkipUnsupportedEventVersion:
				st.problem(fmt.Sprintf("%s: record %d: eventVersion %q is not supported (1.x)", f.Path, st.Records-1, x.Detail))
			}
			return
		}
		st.Evaluated++
		for j := range x.Requests {
			st.Requests++
			ev := Decide(&x, &x.Requests[j], w.cache)
			rep.Add(&ev, rec.EventID)
			if dec != nil {
				dec.add(&x, &x.Requests[j], &ev)
			}
		}
	}, func(rerr error) {
		records.Add(1)
		st.Records++
		st.problem(rerr.Error())
		if errors.Is(rerr, ingest.ErrNotCloudTrail) {
			st.NotCloudTrail++
		} else {
			st.Unparseable++
		}
	})
	var ferr *ingest.FileError
	if errors.As(err, &ferr) {
		st.Error = ferr.Error()
		err = nil
	}
	return err
}

// isDataEvent reports whether a record is a data event.
func isDataEvent(rec *ingest.Record) bool {
	return rec.EventCategory == "Data" || rec.ManagementEvent != nil && !*rec.ManagementEvent
}

// WorkerCount returns the number of workers a run uses: Workers, or
// GOMAXPROCS when Workers is not positive.
func (cfg *Config) WorkerCount() int {
	if cfg.Workers > 0 {
		return cfg.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// discover finds the run's log files and the indices of those to read.
func discover(cfg Config) ([]ingest.LogFile, []int, error) {
	found, err := ingest.Discover(cfg.Logs, cfg.Window)
	if err != nil {
		return nil, nil, err
	}
	var toRead []int
	for i, f := range found {
		if f.Skip == "" {
			toRead = append(toRead, i)
		}
	}
	return found, toRead, nil
}

// Decide decides a translated request, through the cache, and turns it
// into the event the analysis aggregates.
func Decide(x *ingest.Translation, r *ingest.Request, cache *engine.Cache) analysis.Event {
	d := cache.Authorize(&r.Request, r.Join.Policies)
	p := &x.Principal
	ev := analysis.Event{
		Time: x.Record.EventTime, PrincipalARN: EntityARN(p), PrincipalType: p.Kind.String(), AccountID: p.Account,
		Action: r.Action, Resource: r.Request.Resource, Decision: d,
		LoggedDenied: x.Outcome == ingest.OutcomeAccessDenied, LoggedDecided: x.Outcome != ingest.OutcomeOtherError,
		Complete: r.Join.Complete && r.Join.SessionJoined,
	}
	if x.Outcome != ingest.OutcomeSuccess {
		ev.LoggedError = x.Record.ErrorCode
	}
	return ev
}

// EntityARN is the ARN reports name a caller by: the role of a session (with
// its path), the IAM user behind a federated user, otherwise the caller.
func EntityARN(p *engine.Principal) string {
	switch p.Kind {
	case engine.PrincipalRoleSession, engine.PrincipalFederatedUser:
		if p.EntityARN != "" {
			return p.EntityARN
		}
	}
	return p.ARN
}

// ReadFile streams one file, calling onRecord per record and onBad per
// record that cannot be read (onBad may be nil: such records are then
// passed over). It returns a *ingest.FileError when the file
// ends early, ctx's error when cancelled.
func ReadFile(ctx context.Context, path string, setup func(*ingest.Reader), onRecord func(*ingest.Record), onBad func(error)) error {
	f, err := os.Open(path)
	if err != nil {
		return &ingest.FileError{File: path, Err: err}
	}
	defer f.Close()
	r, err := ingest.NewReader(f, path)
	if err != nil {
		var fe *ingest.FileError
		if errors.As(err, &fe) {
			return err
		}
		return &ingest.FileError{File: path, Err: err}
	}
	defer r.Close()
	if setup != nil {
		setup(r)
	}
	for n := 0; ; n++ {
		if n%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		rec, err := r.Next()
		var recErr *ingest.RecordError
		switch {
		case err == nil:
			onRecord(rec)
		case errors.Is(err, io.EOF):
			return nil
		case errors.As(err, &recErr):
			if onBad != nil {
				onBad(err)
			}
		default:
			return err
		}
	}
}

// startProgress reports progress every cfg.ProgressEvery until stopped.
func startProgress(cfg Config, files int, done *atomic.Int64, records *atomic.Int64, start time.Time) func() {
	if cfg.Progress == nil {
		return func() {}
	}
	every := cfg.ProgressEvery
	if every <= 0 {
		every = 2 * time.Second
	}
	snapshot := func(final bool) Progress {
		return Progress{Files: files, FilesDone: int(done.Load()), Records: records.Load(), Elapsed: time.Since(start), Done: final}
	}
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				cfg.Progress(snapshot(false))
			case <-stop:
				cfg.Progress(snapshot(true))
				return
			}
		}
	}()
	return func() {
		close(stop)
		<-finished
	}
}

// String describes a progress snapshot in one line.
func (p Progress) String() string {
	rate := 0.0
	if s := p.Elapsed.Seconds(); s > 0 {
		rate = float64(p.Records) / s
	}
	return fmt.Sprintf("files %d/%d, records %d, %.0f records/s, %s", p.FilesDone, p.Files, p.Records, rate, p.Elapsed.Round(time.Millisecond))
}
