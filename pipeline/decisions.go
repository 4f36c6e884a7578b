package pipeline

import (
	"sync"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/replay-iam/replay/analysis"
	"github.com/replay-iam/replay/engine"
	"github.com/replay-iam/replay/ingest"
	"github.com/replay-iam/replay/output"
)

// decisionBatch is the number of rows buffered per day before a write.
const decisionBatch = 1024

// decisionWriter writes the decisions of one group of input files (one
// account, region and delivery day), by event day.
//
// An estate of many accounts and regions has thousands of groups a day,
// most of a few hundred requests, and a file each would cost more to start
// and finish than its rows cost to write, and leave a table of thousands
// of small files a day. So a group whose files are small holds its rows
// until it has more than smallGroupRows, when it writes them to files of
// its own, named after the group, as it then writes the rest; a group of
// larger files writes to files of its own from the start. A group that
// ends with its rows held writes them to the run's shared files (see
// decisionSinks) when its replay is final, and to files of its own
// otherwise: a replay whose sessions may not be settled can be discarded
// and the group replayed again, which removes the group's own files
// (remove).
type decisionWriter struct {
	parts *output.DayParts[analysis.DecisionRow]
	// pending holds the rows of the file being read, per event day, in
	// batches taken from batches (see newDecisionBatches) and given back
	// by close and abort.
	pending []dayRows
	batches *sync.Pool
	// held holds the rows of the files read before, while there are at
	// most small; nil once they were written to the group's own
	// files. It is taken from and given back to helds.
	held  *heldRows
	helds *heldPool
	sinks *decisionSinks
	small int // smallGroupRows, or fewer in tests
	err   error
	// lastDay is the event day of the last row, yyyy-mm-dd, and lastDate
	// its date: the rows of a file mostly share a day.
	lastDay  string
	lastDate [3]int
}

// dayRows are the rows of one event day waiting to be written.
type dayRows struct {
	day  string
	rows *[]analysis.DecisionRow
}

// newDecisionBatches returns the pool of the row batches of a run's
// decision writers: a writer lives for a group, often of a few thousand
// rows, and a batch grown anew for each would cost as much as the rows'
// encoding.
func newDecisionBatches() *sync.Pool {
	return &sync.Pool{New: func() any {
		rows := make([]analysis.DecisionRow, 0, decisionBatch)
		return &rows
	}}
}

// DecisionWriterOptions are the Parquet writer options of the decisions
// table: Huffman coding alone for the columns of random values, and zstd
// at its fastest level for the others. The table has a row per request:
// zstd's default level makes its files 3 % smaller than the fastest does,
// for a tenth more time spent writing them.
//
// Its pages hold up to decisionPageBytes of values, a quarter of the
// writer's default: each file starts with a buffer of that size per
// column, and an estate of many accounts and regions writes hundreds of
// files of a few thousand rows a day, for which zeroing the default
// buffers cost 5 % of the run's CPU. Smaller pages make the files 0.5 to
// 2 % larger.
//
// The columns of random values have no bounds, in the page index or the
// row group statistics: the least and greatest of a page of random ids
// span almost all ids, so they let a reader skip nothing, and finding
// them costs 6 % of a row's writing.
func DecisionWriterOptions() []parquet.WriterOption {
	random := analysis.DecisionRandomColumns()
	options := []parquet.WriterOption{
		output.HuffmanOnly[analysis.DecisionRow](random...),
		parquet.Compression(&zstd.Codec{Level: zstd.SpeedFastest}),
		parquet.PageBufferSize(decisionPageBytes),
	}
	for _, column := range random {
		options = append(options, parquet.SkipPageBounds(column))
	}
	return options
}

// decisionPageBytes bounds the values of a page of the decisions table.
const decisionPageBytes = 64 << 10

// decisionTable is what the decision writers of a run share: the options
// of their files, DecisionWriterOptions, made once per run (their codecs
// keep the compressors they made for the files before), the pools of row
// batches and held rows, and the shared files.
type decisionTable struct {
	dir     string
	options []parquet.WriterOption
	batches *sync.Pool
	helds   heldPool
	sinks   *decisionSinks
	small   int // smallGroupRows, or fewer in tests
}

// newDecisionTable prepares the decisions table of a run in dir, with its
// shared files kept open by up to workers groups at a time.
func newDecisionTable(dir string, workers int) *decisionTable {
	options := DecisionWriterOptions()
	return &decisionTable{
		dir: dir, options: options, batches: newDecisionBatches(),
		sinks: newDecisionSinks(dir, options, 2*max(workers, 1)),
		small: smallGroupRows,
	}
}

// writer returns the decision writer of a group whose files hold size
// bytes. Its own files are named after the group.
func (t *decisionTable) writer(group string, size int64) *decisionWriter {
	w := &decisionWriter{
		parts:   output.NewDayParts[analysis.DecisionRow](t.dir, "part-"+group, t.options...),
		batches: t.batches, helds: &t.helds, sinks: t.sinks, small: t.small,
	}
	if size <= smallGroupBytes {
		w.held = t.helds.get()
	}
	return w
}

// add records one replayed request. The first write error is kept and
// returned by close.
func (w *decisionWriter) add(x *ingest.Translation, r *ingest.Request, ev *analysis.Event) {
	if w.err != nil {
		return
	}
	day := w.dayOf(x.Record.EventTime)
	rows := w.rowsOf(day)
	*rows = append(*rows, DecisionRowOf(x, r, ev))
	if len(*rows) >= decisionBatch {
		w.emit(day, *rows)
		empty(rows)
	}
}

// emit holds rows of a day, which may borrow their strings from the file
// being read, or writes them to the group's own files once the group holds
// too many.
func (w *decisionWriter) emit(day string, rows []analysis.DecisionRow) {
	if w.err != nil {
		return
	}
	if w.held != nil {
		if w.held.n+len(rows) <= w.small {
			w.held.add(day, rows)
			return
		}
		w.spill()
		if w.err != nil {
			return
		}
	}
	w.err = w.parts.Write(day, rows)
}

// spill writes the rows held to the group's own files, and holds no more.
func (w *decisionWriter) spill() { w.writeHeld(w.parts.Write) }

// writeHeld writes the rows held, day by day, with write, and holds no
// more.
func (w *decisionWriter) writeHeld(write func(day string, rows []analysis.DecisionRow) error) {
	for _, d := range w.held.days {
		if w.err == nil && len(d.rows) > 0 {
			w.err = write(d.day, d.rows)
		}
	}
	w.releaseHeld()
}

// releaseHeld gives the held rows back, emptied.
func (w *decisionWriter) releaseHeld() {
	if w.held != nil {
		w.helds.put(w.held)
		w.held = nil
	}
}

// rowsOf returns the pending rows of day, looked for from the day added
// last.
func (w *decisionWriter) rowsOf(day string) *[]analysis.DecisionRow {
	for i := len(w.pending) - 1; i >= 0; i-- {
		if w.pending[i].day == day {
			return w.pending[i].rows
		}
	}
	rows := w.batches.Get().(*[]analysis.DecisionRow)
	w.pending = append(w.pending, dayRows{day, rows})
	return rows
}

// flush holds or writes the rows pending, which may borrow their strings
// from the file being read: it is called at the end of each file.
func (w *decisionWriter) flush() {
	for _, p := range w.pending {
		if len(*p.rows) > 0 {
			w.emit(p.day, *p.rows)
		}
		empty(p.rows)
	}
}

// release gives the batches back, emptied.
func (w *decisionWriter) release() {
	for _, p := range w.pending {
		empty(p.rows)
		w.batches.Put(p.rows)
	}
	w.pending = nil
}

// empty drops a batch's rows, and the strings they may borrow from the
// file being read, keeping its room.
func empty(rows *[]analysis.DecisionRow) {
	clear(*rows)
	*rows = (*rows)[:0]
}

// dayOf returns the partition day of an event time: yyyy-mm-dd in UTC, or
// "unknown" for a record without a time.
func (w *decisionWriter) dayOf(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	y, m, d := t.UTC().Date()
	if date := [3]int{y, int(m), d}; date != w.lastDate || w.lastDay == "" {
		w.lastDate, w.lastDay = date, t.UTC().Format("2006-01-02")
	}
	return w.lastDay
}

// close writes what is pending and held, and renames the group's own
// files into place. final tells that the group's replay will not be
// discarded: its held rows then go to the shared files.
func (w *decisionWriter) close(final bool) error {
	w.flush()
	w.release()
	switch {
	case w.held == nil:
	case final:
		w.writeHeld(w.sinks.write)
	default:
		w.spill()
	}
	if w.err != nil {
		w.parts.Abort()
		return w.err
	}
	return w.parts.Close()
}

// remove deletes the files close put in place.
func (w *decisionWriter) remove() error {
	return w.parts.Remove()
}

// DecisionRowOf is the decisions-table row of one replayed request.
func DecisionRowOf(x *ingest.Translation, r *ingest.Request, ev *analysis.Event) analysis.DecisionRow {
	rec := x.Record
	d := &ev.Decision
	row := analysis.DecisionRow{
		EventID: rec.EventID, EventTime: rec.EventTime, EventSource: rec.EventSource, EventName: rec.EventName,
		Region: rec.AWSRegion, PrincipalARN: ev.PrincipalARN, PrincipalType: ev.PrincipalType, AccountID: ev.AccountID,
		AccessKeyID: rec.UserIdentity.AccessKeyID, SourceIP: rec.SourceIPAddress, UserAgent: rec.UserAgent,
		Action: ev.Action, Resource: ev.Resource, ResourcePartial: r.Request.ResourcePartial,
		Decision: d.Verdict.String(), BlockedBy: d.BlockedBy(), PolicyID: d.PolicyID(), Statement: d.StatementRef(),
		LoggedErrorCode: ev.LoggedError, Complete: ev.Complete,
	}
	if k := x.Principal.Kind; k == engine.PrincipalRoleSession || k == engine.PrincipalFederatedUser || k == engine.PrincipalAssumedRoot {
		row.SessionARN = x.Principal.ARN
	}
	if keys := d.UnknownKeys(); len(keys) > 0 {
		row.UnknownKeys = append([]string(nil), keys...)
	}
	return row
}

// abort removes what was written to the group's own files.
func (w *decisionWriter) abort() {
	w.release()
	w.releaseHeld()
	w.parts.Abort()
}
