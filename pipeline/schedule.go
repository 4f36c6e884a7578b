package pipeline

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/replay-iam/replay/ingest"
)

// A run reads the files of the S3 delivery layout day by day. A group of
// day d looks up the sessions STS issued on days up to d+1 (an event may be
// delivered on the day after it happened, and so may the call that issued
// its credentials). Those sessions are observed in one of two ways:
//
//   - inline: the replay of a group observes the STS calls of its own files
//     as it reads them. A lookup made before the issuing call was read
//     misses; the group's outcome (its report, stats and decisions) is held
//     until every group of the days up to d+1 was replayed once, and the
//     group is replayed again if one of its missed lookups would now
//     resolve differently (on a free worker when there is one). Each file
//     is then read once, or twice for the groups replayed again.
//   - with a session pass: a first, cheap pass over the day's files decodes
//     only their STS records, before the groups of the day before are
//     replayed. Each file is read twice, but no group is replayed again.
//
// Both give the same reports. Days are replayed inline until more than
// 1/sessionPassShare of the files settled were replayed again (as when an
// estate's sessions are issued in regions whose groups come after those
// that use them); the days listed after that get a session pass.
//
// Sessions are dropped once no credentials they issued can be valid for the
// days still to settle, so the store holds the sessions of a few days
// whatever the length of the logs. When some file lies outside the layout
// (its day is unknown), every session is collected first and none is
// dropped.

// fileGroup is a dedup group: the files of one account, region and delivery
// day (or one file outside the layout), in delivery order, replayed in turn
// by one worker, and read ahead by another when one is spare (see
// readAhead). With more than two workers, the files of an account and
// region that hold more than two workers' share of their day are cut into
// slices (see plan.slice), each a group of its own, so that a log of few
// accounts and regions keeps every worker busy; a slice looks back at the
// files delivered within the dedup window before it, and its day gets a
// session pass.
type fileGroup struct {
	// name identifies the group in file names: account_region_yyyymmdd
	// (with -NN for the NNth slice of a day cut into slices), or
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

// size returns the bytes of the group's files.
func (g *fileGroup) size() int64 {
	var n int64
	for _, f := range g.files {
		n += f.Size
	}
	return n
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
	// streams holds the files of each account and region, in delivery
	// order, for the next day's lookback.
	streams map[stream][]*ingest.LogFile
	// sliced is set when some stream's files were cut into several groups
	// (see plan.slice).
	sliced bool
	// sessionPass is set when the day's sessions are collected by a pass
	// of their own rather than by the replay of its groups.
	sessionPass bool
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
	// sliceFiles, when positive, cuts the files of a stream's day into
	// groups of at most that many, so that the workers share a log of few
	// accounts and regions (see slice), in whole rounds of workers.
	sliceFiles, workers int
	// sliceAll cuts every stream's day of more than sliceFiles files, not
	// only those the workers could not otherwise share (tests).
	sliceAll bool
	// passes chooses how each day's sessions are observed.
	passes sessionPassMode
	// againGroups and againFiles count the groups replayed again, and their
	// files; settledFiles counts the files of the days settled.
	againGroups, againFiles, settledFiles int
}

// sessionPassMode chooses between a session pass and inline observation.
type sessionPassMode int

const (
	// sessionPassAuto observes inline until too many groups are replayed
	// again.
	sessionPassAuto sessionPassMode = iota
	// sessionPassAlways gives every day a session pass.
	sessionPassAlways
	// sessionPassNever observes every day inline, unless some file's day
	// is unknown.
	sessionPassNever
)

// sessionPassShare: once more than 1/sessionPassShare of the files settled
// were replayed again, the days listed next get a session pass. A file
// replayed again costs a full replay; a session pass costs about a fifth
// of one.
const sessionPassShare = 8

// A groupPass tells a group's replay how to look up sessions.
type groupPass struct {
	// day is the group's day (its index in the plan), which the sessions
	// it observes are tagged with; horizon is the last day whose sessions
	// its lookups see.
	day, horizon int
	// observe is set when no session pass reads the group's day: the
	// replay observes the STS calls of the group's files itself.
	observe bool
	// again is set on a second replay of the group, whose records and
	// files the first one already counted in the run's progress.
	again bool
	// spare starts f on a worker, if one is free and no other work waits
	// for it, and reports whether it did.
	spare func(f func()) bool
}

// A groupOutcome is what a group's replay leaves to do once the sessions
// it looked up are settled: commit its results, or discard them and
// replay the group again.
type groupOutcome struct {
	// misses are the session lookups that were not final (see
	// ingest.Translator.SessionMisses).
	misses  map[string]int
	commit  func() error
	discard func() error // may be nil
}

// heldGroup is a group replayed once whose outcome waits for its sessions
// to settle.
type heldGroup struct {
	group   fileGroup
	outcome groupOutcome
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
	day.streams = map[stream][]*ingest.LogFile{}
	var prev *planDay
	if p.ordered && p.window >= 0 && d > 0 && p.days[d-1].start.Equal(day.start.AddDate(0, 0, -1)) {
		prev = &p.days[d-1]
	}
	whole := day.groups
	day.groups = make([]fileGroup, 0, len(whole))
	for _, grp := range whole {
		slices.SortFunc(grp.files, func(a, b *ingest.LogFile) int {
			return cmp.Or(a.Delivered.Compare(b.Delivered), cmp.Compare(a.Path, b.Path))
		})
		f := grp.files[0]
		var before []*ingest.LogFile // the stream's files of the day before
		if p.ordered && f.Account != "" {
			day.streams[stream{f.Account, f.Region}] = grp.files
			if prev != nil {
				before = prev.streams[stream{f.Account, f.Region}]
			}
		}
		parts := p.slice(grp, before, len(day.files))
		day.sliced = day.sliced || len(parts) > 1
		for _, part := range parts {
			part.seq = p.seqs
			p.seqs++
			day.groups = append(day.groups, part)
		}
	}
	return nil
}

// maxSliceFiles bounds the files of the slices a stream's day is cut into
// when the plan slices (see plan.sliceFiles).
const maxSliceFiles = 64

// minSliceWindows is the least time, in dedup windows, between the first
// deliveries of two slices: a slice reads again the files delivered within
// the window before it, for their event ids, and these stay about a sixth
// of its own (a day is cut into four slices at most under the default
// window of an hour).
const minSliceWindows = 6

// slice returns the groups a group is replayed as, each with its lookback
// into the files delivered within the dedup window before its first: those
// of before (the stream's files of the day before, when the window looks
// back) and of the group's own earlier slices. A group of more than
// p.sliceFiles files, and more than two workers' share of its day's
// dayFiles (unless p.sliceAll), is cut into slices of equal size (give or
// take one), as many as its files' deliveries span minSliceWindows windows
// (rounded down to a multiple of p.workers when more, so that the slices
// of one stream occupy the workers in whole rounds), when the window is
// positive (under a window of 0 a slice would look back at every file
// before it) and every file's delivery time is known.
//
// Slicing has a price: a sliced day's sessions are collected by a pass of
// their own, which inflates each of its files once more, and each slice
// reads its lookback again. A group whose replay reads ahead on a spare
// worker keeps two workers busy, so a day whose groups each hold at most
// two workers' share of its files keeps the workers busy whole, and is not
// sliced: with two workers, no day is.
func (p *plan) slice(grp fileGroup, before []*ingest.LogFile, dayFiles int) []fileGroup {
	n := len(grp.files)
	parts := 1
	if p.sliceFiles > 0 && p.window > 0 && n > p.sliceFiles && (p.sliceAll || n*p.workers > 2*dayFiles) &&
		!slices.ContainsFunc(grp.files, func(f *ingest.LogFile) bool { return f.Delivered.IsZero() }) {
		span := grp.files[n-1].Delivered.Sub(grp.files[0].Delivered)
		parts = max(1, min((n+p.sliceFiles-1)/p.sliceFiles, int(span/(minSliceWindows*p.window))))
		if p.workers > 1 && parts > p.workers {
			parts -= parts % p.workers // whole rounds of the workers
		}
	}
	out := make([]fileGroup, 0, parts)
	for k := range parts {
		from, to := k*n/parts, (k+1)*n/parts
		part := fileGroup{name: grp.name, files: grp.files[from:to]}
		if parts > 1 {
			part.name = fmt.Sprintf("%s-%02d", grp.name, k)
		}
		if p.window >= 0 {
			earlier := append(slices.Clip(before), grp.files[:from]...)
			part.lookback = lookback(earlier, part.files[0], p.window)
		}
		out = append(out, part)
	}
	return out
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
// day still to settle, less this margin.
const staleSessionMargin = 24 * time.Hour

// dayRun is the progress of one day of a run.
type dayRun struct {
	remaining int  // groups not yet replayed once
	submitted bool // every group submitted
	files     int  // the day's files, for the share replayed again
	held      []heldGroup
	settling  bool // the held outcomes are taken to settle
	settled   bool
}

// replayed reports whether every group of the day was replayed once.
func (d *dayRun) replayed() bool { return d.submitted && d.remaining == 0 }

// run lists the days, observes sessions and replays groups on workers
// goroutines (see the comment at the top of this file): a day is listed,
// and its session pass submitted if it has one, before the groups of the
// day before are replayed. Each group's outcome is held until its sessions
// settle, then committed, or discarded and the group replayed again.
// Sessions expired before every day still to settle are dropped, and so
// are the lists of days replayed. listed, when not nil, receives each
// day's passed-over files with their place in the accounting order (groups
// carry theirs). run stops at the first error or when ctx is done.
func (p *plan) run(ctx context.Context, workers int, sessions *ingest.Sessions,
	listed func(seq int, passedOver []ingest.LogFile) error,
	collect func(f *ingest.LogFile, day int) error,
	replay func(g fileGroup, pass groupPass) (groupOutcome, error)) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	// waiting counts the work submitted to g and not yet started; a group
	// reads ahead on a free worker only when no work waits for it.
	var waiting atomic.Int32
	submit := func(f func() error) {
		waiting.Add(1)
		g.Go(func() error {
			waiting.Add(-1)
			return f()
		})
	}
	spare := func(f func()) bool {
		return waiting.Load() == 0 && g.TryGo(func() error { f(); return nil })
	}
	n := len(p.days)
	collected := make([]sync.WaitGroup, n)
	var mu sync.Mutex
	days := make([]dayRun, n)
	low := 0 // the first day not yet settled
	horizon := func(d int) int {
		if p.ordered {
			return d + 1
		}
		return ingest.AllDays
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
		defer mu.Unlock()
		days[d].remaining, days[d].files = len(day.groups), len(day.files)
		switch p.passes {
		case sessionPassAlways:
			day.sessionPass = true
		case sessionPassNever:
			day.sessionPass = !p.ordered
		default:
			// The slices of a stream run side by side: a session issued in
			// one and used in the next would be missed inline.
			day.sessionPass = !p.ordered || day.sliced || p.againFiles*sessionPassShare > p.settledFiles
		}
		return nil
	}
	submitSessions := func(d int) {
		for _, f := range p.days[d].files {
			if gctx.Err() != nil {
				return
			}
			collected[d].Add(1)
			submit(func() error {
				defer collected[d].Done()
				return collect(f, d)
			})
		}
	}
	// takeSettling (under mu) returns the days whose held outcomes can
	// settle: every group of the day and of the days before, and of the
	// next unless it has a session pass, was replayed once, so every
	// session the day's lookups may see was observed.
	takeSettling := func() []int {
		var out []int
		for d := low; d < n && days[d].replayed(); d++ {
			if d+1 < n && !p.days[d+1].sessionPass && !days[d+1].replayed() {
				break
			}
			if days[d].settling {
				continue
			}
			days[d].settling = true
			out = append(out, d)
		}
		return out
	}
	// settle commits the held outcomes of day d, replaying again first
	// the groups a missed lookup of which now resolves differently. The
	// replays go to free workers when there are any, and run here
	// otherwise; the outcomes are committed in their order once all are
	// done.
	settle := func(d int) error {
		mu.Lock()
		held := days[d].held
		days[d].held = nil
		mu.Unlock()
		outs := make([]groupOutcome, len(held))
		errs := make([]error, len(held))
		var again sync.WaitGroup
		for i, h := range held {
			outs[i] = h.outcome
			if len(h.outcome.misses) == 0 || sessions.Settled(h.outcome.misses, horizon(d)) {
				continue
			}
			if h.outcome.discard != nil {
				if err := h.outcome.discard(); err != nil {
					return err
				}
			}
			mu.Lock()
			p.againGroups++
			p.againFiles += len(h.group.files)
			mu.Unlock()
			again.Add(1)
			replayAgain := func() error {
				defer again.Done()
				outs[i], errs[i] = replay(h.group, groupPass{day: d, horizon: horizon(d), again: true, spare: spare})
				return errs[i]
			}
			if !g.TryGo(replayAgain) {
				replayAgain()
			}
		}
		again.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		for _, out := range outs {
			if err := out.commit(); err != nil {
				return err
			}
		}
		mu.Lock()
		defer mu.Unlock()
		days[d].settled = true
		p.settledFiles += days[d].files
		before := low
		for low < n && days[low].settled {
			low++
		}
		if p.ordered && low != before && low < n {
			sessions.Expire(p.days[low].start.Add(-staleSessionMargin))
		}
		return nil
	}
	settleAll := func(ds []int) error {
		for _, d := range ds {
			if err := settle(d); err != nil {
				return err
			}
		}
		return nil
	}
	// markReplayed records a group of day d replayed once (group is nil
	// when the day's submission is complete) and returns the days to
	// settle.
	markReplayed := func(d int, group *heldGroup) []int {
		mu.Lock()
		defer mu.Unlock()
		if group != nil {
			days[d].held = append(days[d].held, *group)
			days[d].remaining--
		} else {
			days[d].submitted = true
		}
		if days[d].replayed() {
			p.days[d].files, p.days[d].groups, p.days[d].streams = nil, nil, nil
		}
		return takeSettling()
	}
	submitReplay := func(d int) {
		for _, grp := range p.days[d].groups {
			if gctx.Err() != nil {
				return
			}
			submit(func() error {
				// The session passes of this day and the next, if any,
				// were submitted before this group: wait for those still
				// running.
				for e := 0; e <= min(d+1, n-1); e++ {
					collected[e].Wait()
				}
				if err := gctx.Err(); err != nil {
					return err
				}
				out, err := replay(grp, groupPass{day: d, horizon: horizon(d), observe: !p.days[d].sessionPass, spare: spare})
				if err != nil {
					return err
				}
				return settleAll(markReplayed(d, &heldGroup{grp, out}))
			})
		}
		if ds := markReplayed(d, nil); len(ds) > 0 {
			submit(func() error { return settleAll(ds) })
		}
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
			if p.days[d+1].sessionPass {
				submitSessions(d + 1)
			}
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
