package pipeline

import (
	"fmt"
	"path/filepath"
	"slices"
	"sync"

	"github.com/parquet-go/parquet-go"

	"github.com/replay-iam/replay/analysis"
	"github.com/replay-iam/replay/output"
)

// smallGroupRows is the most decision rows a group holds before it writes
// them to files of its own: about 8 MB of rows and their strings, and a
// file of that many costs some 10 % more to write than its rows alone.
const smallGroupRows = 16 << 10

// smallGroupBytes is the most bytes of input files of a group that holds
// its decision rows: a delivery file of CloudTrail holds about 100 bytes
// of gzip per event, so a group of larger files would most likely hold
// smallGroupRows rows in vain before it wrote them to files of its own.
const smallGroupBytes = 2 << 20

// heldRows are the decision rows of a group held until it ends, by event
// day, their strings copied out of the files they were read from.
type heldRows struct {
	days []heldDay
	n    int    // rows held
	text []byte // reused to copy the strings of a batch of rows
}

type heldDay struct {
	day  string
	rows []analysis.DecisionRow
}

// add holds a copy of rows, which may borrow their strings from the file
// being read.
func (h *heldRows) add(day string, rows []analysis.DecisionRow) {
	d := h.dayOf(day)
	start := len(d.rows)
	d.rows = append(d.rows, rows...)
	h.n += len(rows)
	h.own(d.rows[start:])
}

// dayOf returns the rows held for day, looked for from the day added last.
func (h *heldRows) dayOf(day string) *heldDay {
	for i := len(h.days) - 1; i >= 0; i-- {
		if h.days[i].day == day {
			return &h.days[i]
		}
	}
	if len(h.days) < cap(h.days) {
		// The rows of a day of an earlier group, emptied: their room is
		// reused.
		h.days = h.days[:len(h.days)+1]
		h.days[len(h.days)-1].day = day
	} else {
		h.days = append(h.days, heldDay{day: day})
	}
	return &h.days[len(h.days)-1]
}

// own gives the strings of rows memory of their own: one string holding
// all of them, of which each is a part, so that a batch costs one
// allocation rather than one per string. A row's list of unknown keys is
// copied too.
func (h *heldRows) own(rows []analysis.DecisionRow) {
	text := h.text[:0]
	for i := range rows {
		r := &rows[i]
		for _, s := range stringsOf(r) {
			text = append(text, *s...)
		}
		if r.UnknownKeys != nil {
			r.UnknownKeys = slices.Clone(r.UnknownKeys)
			for _, k := range r.UnknownKeys {
				text = append(text, k...)
			}
		}
	}
	h.text = text
	all := string(text)
	at := 0
	part := func(s *string) {
		n := len(*s)
		*s = all[at : at+n]
		at += n
	}
	for i := range rows {
		r := &rows[i]
		for _, s := range stringsOf(r) {
			part(s)
		}
		for j := range r.UnknownKeys {
			part(&r.UnknownKeys[j])
		}
	}
}

// stringsOf returns the strings of a row but its unknown keys.
func stringsOf(r *analysis.DecisionRow) [18]*string {
	return [...]*string{&r.EventID, &r.EventSource, &r.EventName, &r.Region, &r.PrincipalARN,
		&r.PrincipalType, &r.AccountID, &r.SessionARN, &r.AccessKeyID, &r.SourceIP, &r.UserAgent, &r.Action,
		&r.Resource, &r.Decision, &r.BlockedBy, &r.PolicyID, &r.Statement, &r.LoggedErrorCode}
}

// heldPool keeps the held rows of the groups that ended for those to
// come, with their room: a group of a thousand rows would otherwise grow
// its rows anew. It is safe for concurrent use.
type heldPool struct {
	mu   sync.Mutex
	free []*heldRows
}

// maxFreeHeld bounds the held rows a heldPool keeps.
const maxFreeHeld = 8

func (p *heldPool) get() *heldRows {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		h := p.free[n-1]
		p.free = p.free[:n-1]
		return h
	}
	return new(heldRows)
}

// put empties h and keeps it for get.
func (p *heldPool) put(h *heldRows) {
	h.reset()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) < maxFreeHeld {
		p.free = append(p.free, h)
	}
}

// reset empties the rows held, keeping their room.
func (h *heldRows) reset() {
	for i := range h.days {
		clear(h.days[i].rows)
		h.days[i].rows = h.days[i].rows[:0]
	}
	h.days = h.days[:0]
	h.n = 0
}

// decisionSinks are the shared files of a run's decisions table:
// dir/day=YYYY-MM-DD/part-shared-NNNNN.parquet, each holding the rows of
// many small groups of one event day, in the order the groups ended.
// A group takes the file of its day that is not in use, or starts one,
// and gives it back when its rows are written. Up to maxIdle files wait
// open for the next group, those left unused longest finished first; a
// file is finished too once it holds maxRows rows. It is safe for
// concurrent use.
type decisionSinks struct {
	dir     string
	options []parquet.WriterOption
	maxIdle int
	maxRows int // maxSinkRows, or fewer in tests

	mu    sync.Mutex
	idle  []*decisionSink // least recently used first
	files int             // files started
}

// decisionSink is one shared file being written.
type decisionSink struct {
	day  string
	w    *output.ParquetWriter[analysis.DecisionRow]
	rows int
}

// maxSinkRows is the most rows of a shared file: some 100 MB of Parquet.
const maxSinkRows = 4 << 20

// sinkGroupRows is the rows of a row group of a shared file, fewer than a
// report's: each file waiting open holds a row group's rows in memory.
const sinkGroupRows = 1 << 16

func newDecisionSinks(dir string, options []parquet.WriterOption, maxIdle int) *decisionSinks {
	options = append(options[:len(options):len(options)], parquet.MaxRowsPerRowGroup(sinkGroupRows))
	return &decisionSinks{dir: dir, options: options, maxIdle: max(maxIdle, 1), maxRows: maxSinkRows}
}

// write appends rows of an event day to a shared file of the day.
func (s *decisionSinks) write(day string, rows []analysis.DecisionRow) error {
	sink, err := s.take(day)
	if err != nil {
		return err
	}
	if err := sink.w.Write(rows); err != nil {
		sink.w.Abort()
		return err
	}
	sink.rows += len(rows)
	return s.give(sink)
}

// take returns the idle file of day used last, or starts one.
func (s *decisionSinks) take(day string) (*decisionSink, error) {
	s.mu.Lock()
	for i := len(s.idle) - 1; i >= 0; i-- {
		if sink := s.idle[i]; sink.day == day {
			s.idle = append(s.idle[:i], s.idle[i+1:]...)
			s.mu.Unlock()
			return sink, nil
		}
	}
	s.files++
	n := s.files
	s.mu.Unlock()
	path := filepath.Join(s.dir, "day="+day, fmt.Sprintf("part-shared-%05d.parquet", n))
	w, err := output.NewParquetWriter[analysis.DecisionRow](path, s.options...)
	if err != nil {
		return nil, err
	}
	return &decisionSink{day: day, w: w}, nil
}

// give puts a file back for the next group, or finishes it when full; it
// finishes the file left unused longest when too many wait.
func (s *decisionSinks) give(sink *decisionSink) error {
	if sink.rows >= s.maxRows {
		return sink.w.Close()
	}
	s.mu.Lock()
	s.idle = append(s.idle, sink)
	var oldest *decisionSink
	if len(s.idle) > s.maxIdle {
		oldest = s.idle[0]
		s.idle = append(s.idle[:0], s.idle[1:]...)
	}
	s.mu.Unlock()
	if oldest != nil {
		return oldest.w.Close()
	}
	return nil
}

// close finishes every file and renames it into place; after an error the
// remaining files are removed. No group may be writing.
func (s *decisionSinks) close() error {
	var first error
	for _, sink := range s.takeIdle() {
		if first != nil {
			sink.w.Abort()
			continue
		}
		first = sink.w.Close()
	}
	return first
}

// abort removes every file not yet finished. No group may be writing.
func (s *decisionSinks) abort() {
	for _, sink := range s.takeIdle() {
		sink.w.Abort()
	}
}

// takeIdle returns the files waiting open, which are then no more.
func (s *decisionSinks) takeIdle() []*decisionSink {
	s.mu.Lock()
	defer s.mu.Unlock()
	idle := s.idle
	s.idle = nil
	return idle
}
