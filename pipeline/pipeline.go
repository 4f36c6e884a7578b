// Package pipeline runs a replay: it finds the log files and reads,
// translates, evaluates and aggregates every record on a pool of workers,
// group of files by group, observing the sessions STS issued on the way
// and accounting for each record.
package pipeline

import (
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
	"github.com/replay-iam/replay/internal/rarebyte"
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
	// request, in day=YYYY-MM-DD/*.parquet files by event day: the rows of
	// groups of small files go to part-shared-NNNNN.parquet files, several
	// groups to a file; a larger group writes part-GROUP.parquet, GROUP
	// being account_region_yyyymmdd (the delivery day), or file-NNNNN for
	// the NNNNNth file outside the S3 layout (see decisionWriter).
	Decisions string
	// FileLog, when set, receives the accounting of every file found, read
	// or not, once final, one call at a time and in an order that depends
	// only on the files: first the files passed over while surveying the
	// logs, then day by day, the day's files passed over, then its groups
	// (account, region) with their files in delivery order. An error ends
	// the run. The run itself keeps only totals.
	FileLog func(*FileStats) error
	// Ledger, when set, is an existing folder in which the run keeps what
	// verifying suggested policies needs (Result.Ledger, VerifyLedger). The
	// caller removes it.
	Ledger string
	// DedupWindow is how far apart in delivery time two copies of an event
	// may be and still be counted once: 0 means DefaultDedupWindow, a
	// negative value every copy within a group and its previous day.
	DedupWindow time.Duration
	// Principals, when not empty, selects the principals whose requests
	// are replayed, named as the reports name callers (EntityARN): IAM
	// users, roles (with their paths; every session of the role), root
	// users (arn:aws:iam::ACCOUNT:root), services. The records of other
	// callers are counted as OtherPrincipals and cost no translation.
	Principals []string
	// principals is Principals as Run looks them up.
	principals *principalFilter
	// passes chooses how sessions are observed (the zero value adapts;
	// tests force either way).
	passes sessionPassMode
	// sliceFiles, when not 0, sets the plan's sliceFiles and cuts every
	// group over that many files, whatever its share of its day (tests cut
	// groups small; negative: never).
	sliceFiles int
	// recordStrings chooses where replayed records keep their strings (the
	// zero value borrows them from the readers' buffers; tests compare that
	// with copies, and scrub the buffers to catch a string kept too long).
	recordStrings recordStringMode
	// readAhead chooses when a group's files are read ahead of their
	// replay (the zero value: on a spare worker; tests force either way).
	readAhead readAheadMode
	// ledgerLimit, when positive, is the number of verification ledger
	// entries a group holds before writing them (tests write often).
	ledgerLimit int
	// smallGroupRows, when positive, is the number of decision rows a
	// group holds before it writes them to files of its own (tests mix
	// groups that do with groups that write to the shared files).
	smallGroupRows int
}

// readAheadMode chooses when a group's replay reads its files ahead.
type readAheadMode uint8

const (
	// readAheadAuto reads ahead on a worker no other work waits for.
	readAheadAuto readAheadMode = iota
	// readAheadAlways reads ahead on a goroutine of its own, whatever the
	// number of workers.
	readAheadAlways
	// readAheadNever reads every file on the group's own worker.
	readAheadNever
)

// recordStringMode is where the records a replay reads keep their strings.
type recordStringMode uint8

const (
	// borrowStrings: in the reader's buffers, valid until the reader's
	// next file. What outlives a file (reports, memos, sessions, decision
	// rows not yet written) copies what it keeps.
	borrowStrings recordStringMode = iota
	// copyStrings: in strings of their own.
	copyStrings
	// borrowScrubbed: borrowed, with the buffers scrubbed before each file
	// and after each group (see ingest.Reader.Scrub).
	borrowScrubbed
)

// replaySetup returns the reader setup of the passes that replay records.
func (cfg *Config) replaySetup() func(*ingest.Reader) {
	if cfg.recordStrings == copyStrings {
		return nil
	}
	return (*ingest.Reader).SetBorrowStrings
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
	Path string
	Size int64
	// Skipped is why the file was not read ("" when read).
	Skipped string
	// Records read = Evaluated + the sum of Skips + Unparseable +
	// NotCloudTrail + OutsideWindow + Duplicates + OtherPrincipals.
	Records, Evaluated, Requests int64
	// Skips counts the records not evaluated by ingest.Skip.
	Skips                                     [ingest.SkipKinds]int64
	Unparseable, NotCloudTrail, OutsideWindow int64
	// Duplicates counts records whose event id a record of the same account
	// and region delivered earlier, within the dedup window, already had.
	Duplicates int64
	// OtherPrincipals counts the records of callers Config.Principals
	// does not select.
	OtherPrincipals int64
	// Error ends the file early: the records after it were not read.
	Error string
	// Problems holds the first MaxProblemsPerFile messages about records
	// that could not be read or were of an unsupported version, each with
	// the record's index and byte offset.
	Problems []string
}

// MaxProblemsPerFile bounds the record messages kept per file; the counts
// are always complete.
const MaxProblemsPerFile = 5

// MaxProblems bounds the messages a Result keeps over all files.
const MaxProblems = 100

func (st *FileStats) problem(msg string) {
	if len(st.Problems) < MaxProblemsPerFile {
		st.Problems = append(st.Problems, msg)
	}
}

// Result is a run's outcome.
type Result struct {
	Report *analysis.Report
	// Sessions counts the distinct sessions issued by the STS calls read.
	Sessions int
	// SessionPassDays counts the delivery days whose sessions were
	// collected by a pass of their own, before their groups were replayed;
	// the other days' sessions were observed as their groups were read.
	SessionPassDays int
	// GroupsReplayedAgain and FilesReplayedAgain count the groups of files
	// replayed a second time because a session one of their records used
	// was issued by a call read after that record.
	GroupsReplayedAgain, FilesReplayedAgain int
	// FilesReadAhead counts the files read ahead of their replay on a
	// spare worker.
	FilesReadAhead int
	// Elapsed is the run's wall time.
	Elapsed time.Duration
	// Ledger is what VerifyLedger reads, when Config.Ledger is set.
	Ledger *Ledger
	// Files counts the files found; FilesSkipped those not read, by reason.
	Files        int
	FilesSkipped map[string]int
	// Totals over the files.
	Records, Evaluated, Requests, Unparseable, NotCloudTrail, OutsideWindow, Duplicates, OtherPrincipals int64
	// Skips counts the records not evaluated by reason (ingest.Skip's names).
	Skips      map[string]int64
	FileErrors int
	// Problems holds the first MaxProblems messages (files ended early,
	// records not read), in the order of FileLog.
	Problems []string
}

// add accounts for one file.
func (res *Result) add(f *FileStats) {
	res.Files++
	if f.Skipped != "" {
		res.FilesSkipped[f.Skipped]++
	}
	res.Records += f.Records
	res.Evaluated += f.Evaluated
	res.Requests += f.Requests
	res.Unparseable += f.Unparseable
	res.NotCloudTrail += f.NotCloudTrail
	res.OutsideWindow += f.OutsideWindow
	res.Duplicates += f.Duplicates
	res.OtherPrincipals += f.OtherPrincipals
	for k, n := range f.Skips {
		if n > 0 {
			res.Skips[ingest.Skip(k).String()] += n
		}
	}
	if f.Error != "" {
		res.FileErrors++
	}
	for _, msg := range append([]string{f.Error}, f.Problems...) {
		if msg != "" && len(res.Problems) < MaxProblems {
			res.Problems = append(res.Problems, msg)
		}
	}
}

// Run replays the logs. It stops at the first fatal error or when ctx is
// cancelled; damaged files and records are counted, not fatal.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	start := time.Now()
	cfg.principals = newPrincipalFilter(cfg.Principals)
	res := &Result{Report: analysis.NewReport(), FilesSkipped: map[string]int{}, Skips: map[string]int64{}}
	acct := &accounting{res: res, log: cfg.FileLog, pending: map[int][]FileStats{}}
	inv, err := ingest.Survey(cfg.Logs, cfg.Window, func(f ingest.LogFile) {
		acct.passedOver(-1, []ingest.LogFile{f})
	})
	if err == nil {
		err = acct.err
	}
	if err != nil {
		return nil, err
	}

	var records atomic.Int64
	var filesDone atomic.Int64
	stopProgress := startProgress(cfg, inv.Files, &filesDone, &records, start)
	defer stopProgress()

	if cfg.Ledger != "" {
		res.Ledger = newLedger(cfg.Ledger, cfg.ledgerLimit)
	}
	var mu sync.Mutex
	var decisions *decisionTable
	if cfg.Decisions != "" {
		decisions = newDecisionTable(cfg.Decisions, cfg.WorkerCount())
		if cfg.smallGroupRows > 0 {
			decisions.small = cfg.smallGroupRows
		}
	}
	listed := func(seq int, passed []ingest.LogFile) error {
		filesDone.Add(int64(len(passed)))
		return acct.passedOver(seq, passed)
	}
	counts, err := forEachGroup(ctx, cfg, inv, listed, func(w *worker, g fileGroup, pass groupPass) (groupOutcome, error) {
		rep := analysis.NewReport()
		var dec *decisionWriter
		if decisions != nil {
			dec = decisions.writer(g.name, g.size())
		}
		var gl *groupLedger
		if res.Ledger != nil {
			gl = res.Ledger.group()
		}
		counted := &records
		if pass.again {
			counted = new(atomic.Int64) // progress counted them once
		}
		stats := make([]FileStats, len(g.files))
		for i, f := range g.files {
			w.readAheadFrom(ctx, g.files[i+1:], cfg.replaySetup())
			err := w.replayFile(ctx, cfg, f, &stats[i], rep, dec, gl, counted)
			if !pass.again {
				filesDone.Add(1)
			}
			if err == nil && dec != nil {
				err = dec.err
			}
			if err != nil {
				if dec != nil {
					dec.abort()
				}
				return groupOutcome{}, err
			}
		}
		if gl != nil {
			if err := gl.close(); err != nil {
				if dec != nil {
					dec.abort()
				}
				return groupOutcome{}, err
			}
		}
		if dec != nil {
			// A replay with no session lookup to settle, or a replay again,
			// is never discarded (see plan.run).
			final := pass.again || len(w.tr.SessionMisses()) == 0
			if err := dec.close(final); err != nil {
				return groupOutcome{}, err
			}
		}
		out := groupOutcome{commit: func() error {
			mu.Lock()
			res.Report.Merge(rep)
			mu.Unlock()
			if gl != nil {
				res.Ledger.commit(gl)
			}
			return acct.done(g.seq, stats)
		}}
		if dec != nil {
			// The group's decision files are in place; a replay again
			// writes them anew.
			out.discard = dec.remove
		}
		return out, nil
	})
	if decisions != nil {
		if err == nil {
			err = decisions.sinks.close()
		} else {
			decisions.sinks.abort()
		}
	}
	if res.Ledger != nil {
		if lerr := res.Ledger.close(res.Report); err == nil {
			err = lerr
		}
	}
	if err != nil {
		return nil, err
	}
	res.Sessions, res.SessionPassDays = counts.issued, counts.passDays
	res.GroupsReplayedAgain, res.FilesReplayedAgain = counts.againGroups, counts.againFiles
	res.FilesReadAhead = counts.readAhead
	res.Elapsed = time.Since(start)
	return res, nil
}

// accounting adds up the files of a run in the order of their places: a
// file's stats wait until every earlier place is done, so that the totals'
// messages and the file log do not depend on the workers.
type accounting struct {
	mu      sync.Mutex
	res     *Result
	log     func(*FileStats) error
	next    int                 // the next place to account for
	pending map[int][]FileStats // places done out of order
	err     error               // the file log's first error
}

// passedOver accounts for files not read at place seq (-1: at once).
func (a *accounting) passedOver(seq int, files []ingest.LogFile) error {
	stats := make([]FileStats, len(files))
	for i, f := range files {
		stats[i] = FileStats{Path: f.Path, Size: f.Size, Skipped: string(f.Skip)}
	}
	if seq < 0 {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.account(stats)
		return a.err
	}
	return a.done(seq, stats)
}

// done accounts for the files of place seq, and for the places after it
// that were waiting.
func (a *accounting) done(seq int, stats []FileStats) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pending[seq] = stats
	for {
		st, ok := a.pending[a.next]
		if !ok {
			return a.err
		}
		delete(a.pending, a.next)
		a.next++
		a.account(st)
	}
}

func (a *accounting) account(stats []FileStats) {
	for i := range stats {
		a.res.add(&stats[i])
		if a.log != nil && a.err == nil {
			a.err = a.log(&stats[i])
		}
	}
}

// groupCounts is what forEachGroup counts of a run: how it observed
// sessions, what it replayed again, and what it read ahead.
type groupCounts struct {
	issued, passDays        int
	againGroups, againFiles int
	readAhead               int // files read ahead on a spare worker
}

// forEachGroup surveys the logs and runs the plan of a run: it calls fn
// for each group, with a worker that has read the group's look-back files,
// and commits or discards the outcome fn returns (see plan.run), whose
// session misses are the worker's. fn is called again for a group when the
// sessions it looked up changed. listed (may be nil) receives the files
// passed over when a day is listed.
func forEachGroup(ctx context.Context, cfg Config, inv *ingest.Inventory, listed func(seq int, passed []ingest.LogFile) error,
	fn func(w *worker, g fileGroup, pass groupPass) (groupOutcome, error)) (groupCounts, error) {
	sessions := ingest.NewSessions()
	// File readers (their buffers and decompressor) serve every group and
	// session pass in turn; the rest of a worker is the group's own.
	readers := &sync.Pool{New: func() any { return &FileReader{scrub: cfg.recordStrings == borrowScrubbed} }}
	// So do dedup windows, emptied between groups.
	windows := &sync.Pool{New: func() any { return newDedupWindow(cfg.EffectiveDedupWindow()) }}
	var readAhead atomic.Int64
	p := newPlan(inv, cfg.Window, cfg.EffectiveDedupWindow())
	p.passes = cfg.passes
	switch {
	case cfg.sliceFiles != 0:
		p.sliceFiles, p.sliceAll = cfg.sliceFiles, true
	case cfg.WorkerCount() > 1:
		p.sliceFiles = maxSliceFiles
	}
	p.workers = cfg.WorkerCount()
	err := p.run(ctx, cfg.WorkerCount(), sessions, listed, collectSessions(ctx, sessions, readers), func(g fileGroup, pass groupPass) (groupOutcome, error) {
		w := newWorker(cfg, sessions, pass, windows.Get().(*dedupWindow))
		w.files, w.readers = readers.Get().(*FileReader), readers
		switch cfg.readAhead {
		case readAheadAuto:
			w.spare = pass.spare
		case readAheadAlways:
			w.spare = func(f func()) bool { go f(); return true }
		}
		defer func() {
			if w.ahead != nil {
				readAhead.Add(int64(w.ahead.taken))
			}
			w.ahead.close(readers)
			w.files.scrubBuffers()
			readers.Put(w.files)
			w.seen.reset()
			windows.Put(w.seen)
		}()
		w.lookBack(ctx, cfg, g.lookback)
		out, err := fn(w, g, pass)
		out.misses = w.tr.SessionMisses()
		return out, err
	})
	counts := groupCounts{issued: sessions.Issued(), againGroups: p.againGroups, againFiles: p.againFiles, readAhead: int(readAhead.Load())}
	for d := range p.days {
		if p.days[d].sessionPass {
			counts.passDays++
		}
	}
	return counts, err
}

// outsideWindow reports whether a record's time places it outside the
// run's window (a record without a time is inside).
func (cfg *Config) outsideWindow(rec *ingest.Record) bool {
	return !rec.EventTime.IsZero() && !cfg.Window.Contains(rec.EventTime)
}

// collectSessions returns the session pass over one file of a day: it
// decodes only the records that mention STS and observes the sessions they
// issued. Damaged records and files are counted by the replay. It borrows
// its file readers from readers.
func collectSessions(ctx context.Context, sessions *ingest.Sessions, readers *sync.Pool) func(f *ingest.LogFile, day int) error {
	return func(f *ingest.LogFile, day int) error {
		fr := readers.Get().(*FileReader)
		defer readers.Put(fr)
		err := fr.Read(ctx, f.Path, func(r *ingest.Reader) { r.SetFilter(mentionsSTS) },
			func(rec *ingest.Record) { sessions.ObserveOn(rec, day) }, nil)
		var ferr *ingest.FileError
		if errors.As(err, &ferr) {
			return nil
		}
		return err
	}
}

// mentionsSTS reports whether a raw record holds "sts.amazonaws.com", as
// bytes.Contains does, but faster on JSON: it looks for the pattern's 'z',
// which CloudTrail records hold a few times (in "amazonaws"), rather than
// its first byte, which is everywhere.
func mentionsSTS(raw []byte) bool { return rarebyte.Contains(raw, "sts.amazonaws.com", 7) }

// worker is what one goroutine of a replay keeps from file to file of its
// group: the translator, the decision cache, the event ids seen, and a file
// reader lent for the group.
type worker struct {
	tr    *ingest.Translator
	cache *engine.Cache
	seen  *dedupWindow
	files *FileReader
	// ahead, when not nil, reads the group's next files on a spare
	// worker, which spare (may be nil) starts if it finds one; its
	// readers come from readers.
	ahead   *readAhead
	spare   func(func()) bool
	readers *sync.Pool
	// sessions, when not nil, receives the sessions issued by the STS
	// calls of the group's files, observed on day.
	sessions *ingest.Sessions
	day      int
}

// newWorker returns a worker for one pass over a group, with an empty
// dedup window.
func newWorker(cfg Config, sessions *ingest.Sessions, pass groupPass, seen *dedupWindow) *worker {
	w := &worker{tr: ingest.NewTranslator(catalog.Default(), cfg.Snapshot, sessions), cache: engine.NewCache(0),
		seen: seen, day: pass.day}
	w.tr.TrackSessions(pass.horizon)
	if pass.observe {
		w.sessions = sessions
	}
	return w
}

// observe records the session a record issued, when the worker observes
// its group's sessions: before the record's own replay and whether it is
// replayed or not, as a session pass would.
func (w *worker) observe(rec *ingest.Record) {
	if w.sessions != nil && ingest.IsSessionIssuer(rec) {
		w.sessions.ObserveOn(rec, w.day)
	}
}

// lookBack reads the event ids of the files delivered just before a group,
// as their replay would see them, without replaying them. Their damage is
// counted by their own group.
func (w *worker) lookBack(ctx context.Context, cfg Config, files []*ingest.LogFile) {
	for _, f := range files {
		// Only the ids are kept, so the records need not own their strings.
		w.read(ctx, f, (*ingest.Reader).SetBorrowStrings, func(rec *ingest.Record) {
			if !cfg.outsideWindow(rec) {
				w.seen.firstTime(rec.EventID)
			}
		}, nil)
	}
}

// read streams one file of the worker's group (see ReadFile), the dedup
// window moved to its delivery time. A file read ahead was set up as
// readAheadFrom was told.
func (w *worker) read(ctx context.Context, f *ingest.LogFile, setup func(*ingest.Reader), onRecord func(*ingest.Record), onBad func(error)) error {
	w.seen.startFile(f.Delivered)
	if w.ahead.next(f) {
		fr, err := w.ahead.take()
		if err != nil {
			return err
		}
		return fr.drain(ctx, onRecord, onBad)
	}
	return w.files.Read(ctx, f.Path, setup, onRecord, onBad)
}

// readAheadFrom has files (the rest of the group after the file about to
// be read) read ahead with setup, when no file is read ahead yet and a
// worker is spare.
func (w *worker) readAheadFrom(ctx context.Context, files []*ingest.LogFile, setup func(*ingest.Reader)) {
	if w.ahead == nil && w.spare != nil && len(files) > 0 {
		w.ahead = newReadAhead(ctx, files, setup, w.readers, w.spare)
	}
}

// progressStep is how many records a worker counts before it adds them to
// the run's progress.
const progressStep = 1024

// replayFile replays one file into rep, and into dec when not nil,
// accounting for every record in st. A damaged file ends early with its
// error noted in st; the error returned is fatal (cancellation).
func (w *worker) replayFile(ctx context.Context, cfg Config, f *ingest.LogFile, st *FileStats,
	rep *analysis.Report, dec *decisionWriter, gl *groupLedger, records *atomic.Int64) error {
	*st = FileStats{Path: f.Path, Size: f.Size}
	// The progress count, which every worker adds to, takes the file's
	// records in steps: a shared counter written per record would move
	// between the processors' caches at every record.
	var uncounted int64
	count := func() {
		if uncounted++; uncounted == progressStep {
			records.Add(uncounted)
			uncounted = 0
		}
	}
	defer func() { records.Add(uncounted) }()
	// Record strings may be borrowed: what outlives the file copies them
	// (see borrowStrings), and the decision rows are written when it ends.
	err := w.read(ctx, f, cfg.replaySetup(), func(rec *ingest.Record) {
		w.observe(rec)
		count()
		st.Records++
		if cfg.outsideWindow(rec) {
			st.OutsideWindow++
			return
		}
		if !w.seen.firstTime(rec.EventID) {
			st.Duplicates++
			return
		}
		if cfg.principals != nil && !cfg.principals.mayBeOf(rec) {
			st.OtherPrincipals++
			return
		}
		x := w.tr.Translate(rec)
		if cfg.principals != nil && x.Principal.ARN != "" && !cfg.principals.selects(&x.Principal) {
			st.OtherPrincipals++
			return
		}
		if x.Skip != ingest.SkipNotAPICall {
			rep.AddRecord(rec.EventSource, isDataEvent(rec), rec.ReadOnly)
		}
		if x.Skip != ingest.NotSkipped {
			st.Skips[x.Skip]++
			switch x.Skip {
			case ingest.SkipUnmappedEvent:
				rep.AddUnmapped(x.Detail)
				if p := &x.Principal; p.ARN != "" && x.Outcome != ingest.OutcomeAccessDenied {
					rep.AddUnchecked(EntityARN(p), p.Kind.String(), p.Account, x.Detail, rec.EventTime)
				}
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
			if gl != nil && ev.Decision.Allowed() {
				gl.add(ev.PrincipalARN, &x.Requests[j], rec.EventID, w.cache)
			}
		}
	}, func(rerr error) {
		count()
		st.Records++
		st.problem(rerr.Error())
		if errors.Is(rerr, ingest.ErrNotCloudTrail) {
			st.NotCloudTrail++
		} else {
			st.Unparseable++
		}
	})
	if dec != nil {
		dec.flush()
	}
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
// passed over). It returns a *ingest.FileError when the file ends early,
// ctx's error when cancelled.
func ReadFile(ctx context.Context, path string, setup func(*ingest.Reader), onRecord func(*ingest.Record), onBad func(error)) error {
	var fr FileReader
	return fr.Read(ctx, path, setup, onRecord, onBad)
}

// FileReader reads files one after another as ReadFile does, reusing its
// buffers and decompressor. It is not safe for concurrent use, but it may
// be handed from one goroutine to another between files, or between
// opening a file and draining it.
type FileReader struct {
	rd *ingest.Reader
	f  *os.File // the file open, from open to the end of drain
	// scrub, set by tests, scrubs the reader's buffers before each file
	// and when scrubBuffers is called (see ingest.Reader.Scrub).
	scrub bool
}

// scrubBuffers scrubs the reader's buffers when fr.scrub is set.
func (fr *FileReader) scrubBuffers() {
	if fr.scrub && fr.rd != nil {
		fr.rd.Scrub()
	}
}

// Read is ReadFile.
func (fr *FileReader) Read(ctx context.Context, path string, setup func(*ingest.Reader), onRecord func(*ingest.Record), onBad func(error)) error {
	if err := fr.open(ctx, path, setup); err != nil {
		return err
	}
	return fr.drain(ctx, onRecord, onBad)
}

// open opens a file, and reads it as far as ingest.Reader.Load does: a
// delivery file is then inflated and decoded, and drain only hands out
// its records. It returns a *ingest.FileError when the file cannot be
// opened, ctx's error when cancelled.
func (fr *FileReader) open(ctx context.Context, path string, setup func(*ingest.Reader)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return &ingest.FileError{File: path, Err: err}
	}
	if fr.rd == nil {
		fr.rd = &ingest.Reader{}
	}
	fr.scrubBuffers()
	if err := fr.rd.Reset(f, path); err != nil {
		f.Close()
		var fe *ingest.FileError
		if errors.As(err, &fe) {
			return err
		}
		return &ingest.FileError{File: path, Err: err}
	}
	fr.f = f
	if setup != nil {
		setup(fr.rd)
	}
	fr.rd.Load()
	return nil
}

// drain calls onRecord for each record of the file open and onBad (when
// not nil) for each record that cannot be read, then closes the file. It
// returns what Read does.
func (fr *FileReader) drain(ctx context.Context, onRecord func(*ingest.Record), onBad func(error)) error {
	defer fr.close()
	r := fr.rd
	var recErr *ingest.RecordError // declared once: errors.As makes it escape
	for n := 0; ; n++ {
		if n%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		rec, err := r.Next()
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

// close closes the file open, if any. The records read stay valid until
// the next open.
func (fr *FileReader) close() {
	if fr.f != nil {
		fr.rd.Close()
		fr.f.Close()
		fr.f = nil
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
