package pipeline

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/replay-iam/replay/ingest"
)

// A run reads the files of the S3 delivery layout day by day. The sessions
// STS issued on a day are collected (a first, cheap pass over that day's
// files that decodes only STS records) before the groups of the day before
// are replayed, and sessions are dropped once no credentials they issued
// can be valid for the days still to replay. The store then holds the
// sessions of a few days whatever the length of the logs. When some file
// lies outside the layout (its day is unknown), every session is collected
// first and none is dropped.

// fileGroup is a dedup group: the files of one account, region and delivery
// day (or one file outside the layout), in delivery order, replayed in turn
// by one worker.
type fileGroup struct {
	// name identifies the group in file names: account_region_yyyymmdd, or
	// file-NNNNN for the NNNNNth file outside the layout.
	name  string
	files []*ingest.LogFile
	// lookback holds the files of the same account and region delivered
	// within the dedup window before the group's first file, on the day
	// before: their event ids are read (not replayed) so that a copy
	// delivered again after midnight is recognised.
	lookback []*ingest.LogFile
	// seq is the group's place in the order files are accounted for.
	seq int
}

// dayLister lists the files of a day to read, in any order, and returns
// those it passes over.
type dayLister func() (read, passedOver []ingest.LogFile, err error)

// planDay is the work of one delivery day. Its files are listed when its
// session pass comes and dropped once its groups are replayed.
type planDay struct {
	start  time.Time // zero when the day is unknown
	list   dayLister
	files  []*ingest.LogFile // for the session pass
	groups []fileGroup
	// passedOver are the files listed but not read; they are accounted for
	// at passedSeq, before the day's groups.
	passedOver []ingest.LogFile
	passedSeq  int
	// streams indexes groups by account and region, for the next day's
	// lookback.
	streams map[stream]int
}

type stream struct{ account, region string }

// plan orders a run's work by delivery day.
type plan struct {
	days []planDay
	// ordered is false when some file's day is unknown: then every session
	// is collected before any replay and none is dropped.
	ordered bool
	window  time.Duration // the dedup window; negative: no lookback
	seqs    int           // accounting places handed out
}

// newPlan plans the days of an inventory. window is the dedup window
// (negative: no lookback); logWindow is the survey's, for listing the days.
func newPlan(inv *ingest.Inventory, logWindow ingest.Window, window time.Duration) *plan {
	days := make([]planDay, len(inv.Days))
	for d, day := range inv.Days {
		days[d] = planDay{start: day.Start, list: func() (read, passed []ingest.LogFile, err error) {
			read, err = day.List(logWindow, func(f ingest.LogFile) { passed = append(passed, f) })
			return read, passed, err
		}}
	}
	return planOf(days, inv.Loose, window)
}

// planOf plans days to list and loose files (outside the layout). With
// loose files, the whole run is one step listed at once.
func planOf(days []planDay, loose []ingest.LogFile, window time.Duration) *plan {
	if len(loose) == 0 {
		return &plan{days: days, ordered: true, window: window}
	}
	all := func() (read, passed []ingest.LogFile, err error) {
		for _, d := range days {
			r, p, err := d.list()
			if err != nil {
				return nil, nil, err
			}
			read, passed = append(read, r...), append(passed, p...)
		}
		return append(read, loose...), passed, nil
	}
	return &plan{days: []planDay{{list: all}}, window: window}
}

// listDay lists day d and forms its groups, each with its lookback into
// the day before (listed earlier).
func (p *plan) listDay(d int) error {
	day := &p.days[d]
	read, passed, err := day.list()
	if err != nil {
		return err
	}
	day.list, day.passedOver = nil, passed
	day.passedSeq = p.seqs
	p.seqs++
	type key struct {
		stream
		day time.Time
	}
	byKey := map[key]int{}
	loose := 0
	for i := range read {
		f := &read[i]
		day.files = append(day.files, f)
		if f.Account == "" || f.Day.IsZero() {
			day.groups = append(day.groups, fileGroup{name: fmt.Sprintf("file-%05d", loose), files: []*ingest.LogFile{f}})
			loose++
			continue
		}
		k := key{stream{f.Account, f.Region}, f.Day}
		g, ok := byKey[k]
		if !ok {
			g = len(day.groups)
			byKey[k] = g
			day.groups = append(day.groups, fileGroup{name: f.Account + "_" + f.Region + "_" + f.Day.Format("20060102")})
		}
		day.groups[g].files = append(day.groups[g].files, f)
	}
	slices.SortFunc(day.groups, func(a, b fileGroup) int { return strings.Compare(a.name, b.name) })
	day.streams = map[stream]int{}
	for g := range day.groups {
		grp := &day.groups[g]
		slices.SortFunc(grp.files, func(a, b *ingest.LogFile) int {
			return cmp.Or(a.Delivered.Compare(b.Delivered), cmp.Compare(a.Path, b.Path))
		})
		grp.seq = p.seqs
		p.seqs++
		if f := grp.files[0]; p.ordered && f.Account != "" {
			day.streams[stream{f.Account, f.Region}] = g
		}
	}
	if !p.ordered || p.window < 0 || d == 0 || !p.days[d-1].start.Equal(day.start.AddDate(0, 0, -1)) {
		return nil
	}
	prev := &p.days[d-1]
	for g := range day.groups {
		grp := &day.groups[g]
		f := grp.files[0]
		if pg, ok := prev.streams[stream{f.Account, f.Region}]; ok {
			grp.lookback = lookback(prev.groups[pg].files, grp.files[0], p.window)
		}
	}
	return nil
}

// lookback returns the files of prev delivered within window before next.
// Without delivery times it returns every file of prev delivered at an
// unknown time, as the dedup window keeps them.
func lookback(prev []*ingest.LogFile, next *ingest.LogFile, window time.Duration) []*ingest.LogFile {
	first := next.Delivered
	var out []*ingest.LogFile
	for _, f := range prev {
		d := f.Delivered
		if first.IsZero() || d.IsZero() || window == 0 || !d.Before(first.Add(-window)) {
			out = append(out, f)
		}
	}
	return out
}

// staleSessionMargin is how far before its delivery day an event of a
// day's files may be: sessions are dropped once expired before the first
// day still to replay, less this margin.
const staleSessionMargin = 24 * time.Hour

// run lists the days, collects sessions and replays groups on workers
// goroutines: a day is listed, and its session pass submitted, before the
// groups of the day before are replayed; sessions expired before every day
// still to replay are dropped, and so are the lists of days replayed.
// listed, when not nil, receives each day's passed-over files with their
// place in the accounting order (groups carry theirs). run stops at the
// first error or when ctx is done.
func (p *plan) run(ctx context.Context, workers int, sessions *ingest.Sessions,
	listed func(seq int, passedOver []ingest.LogFile) error,
	collect func(f *ingest.LogFile) error, replay func(g fileGroup) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	n := len(p.days)
	collected := make([]sync.WaitGroup, n)
	var mu sync.Mutex
	remaining := make([]int, n)
	done := make([]bool, n)
	low := 0 // the first day with groups still to replay
	advance := func() {
		for low < n && done[low] && remaining[low] == 0 {
			low++
		}
	}

	list := func(d int) error {
		if err := p.listDay(d); err != nil {
			return err
		}
		day := &p.days[d]
		if listed != nil {
			if err := listed(day.passedSeq, day.passedOver); err != nil {
				return err
			}
		}
		day.passedOver = nil
		mu.Lock()
		remaining[d] = len(day.groups)
		mu.Unlock()
		return nil
	}
	submitSessions := func(d int) {
		for _, f := range p.days[d].files {
			if gctx.Err() != nil {
				return
			}
			collected[d].Add(1)
			g.Go(func() error {
				defer collected[d].Done()
				return collect(f)
			})
		}
	}
	// finished marks a group of day d replayed (or the day's submission
	// complete) and moves on the first day still to replay.
	finished := func(d int, group bool) {
		mu.Lock()
		defer mu.Unlock()
		if group {
			remaining[d]--
		} else {
			done[d] = true
		}
		if done[d] && remaining[d] == 0 {
			p.days[d].files, p.days[d].groups, p.days[d].streams = nil, nil, nil
		}
		before := low
		advance()
		if p.ordered && low != before && low < n {
			sessions.Expire(p.days[low].start.Add(-staleSessionMargin))
		}
	}
	submitReplay := func(d int) {
		for _, grp := range p.days[d].groups {
			if gctx.Err() != nil {
				return
			}
			g.Go(func() error {
				// The sessions of this day and the next were submitted
				// before this group: wait for those still running.
				for e := 0; e <= min(d+1, n-1); e++ {
					collected[e].Wait()
				}
				if err := gctx.Err(); err != nil {
					return err
				}
				if err := replay(grp); err != nil {
					return err
				}
				finished(d, true)
				return nil
			})
		}
		finished(d, false)
	}
	// The days are listed here, between submissions; a listing error
	// cancels the groups under way.
	var listErr error
	for d := -1; d < n && listErr == nil; d++ {
		if d+1 < n {
			if listErr = list(d + 1); listErr != nil {
				cancel(listErr)
				break
			}
			submitSessions(d + 1)
		}
		if d >= 0 {
			submitReplay(d)
		}
	}
	if err := g.Wait(); listErr != nil {
		return listErr
	} else if err != nil {
		return err
	}
	return ctx.Err()
}
