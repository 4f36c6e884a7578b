package pipeline

import (
	"cmp"
	"context"
	"slices"
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
	files []int
	// lookback holds the files of the same account and region delivered
	// within the dedup window before the group's first file, on the day
	// before: their event ids are read (not replayed) so that a copy
	// delivered again after midnight is recognised.
	lookback []int
}

// planDay is the work of one delivery day.
type planDay struct {
	start  time.Time // zero when the day is unknown
	files  []int     // for the session pass
	groups []fileGroup
}

// plan orders a run's work by delivery day.
type plan struct {
	days []planDay
	// ordered is false when some file's day is unknown: then every session
	// is collected before any replay and none is dropped.
	ordered bool
}

// newPlan groups the files to read and orders them by day. window is the
// dedup window (negative: no lookback).
func newPlan(found []ingest.LogFile, toRead []int, window time.Duration) *plan {
	type streamDay struct {
		account, region string
		day             time.Time
	}
	p := &plan{ordered: true}
	byKey := map[streamDay]int{} // index into groups
	var groups []fileGroup
	var keys []streamDay
	for _, i := range toRead {
		f := &found[i]
		if f.Account == "" || f.Day.IsZero() {
			p.ordered = false
			groups = append(groups, fileGroup{files: []int{i}})
			keys = append(keys, streamDay{})
			continue
		}
		k := streamDay{f.Account, f.Region, f.Day}
		g, ok := byKey[k]
		if !ok {
			g = len(groups)
			byKey[k] = g
			groups = append(groups, fileGroup{})
			keys = append(keys, k)
		}
		groups[g].files = append(groups[g].files, i)
	}
	for g := range groups {
		slices.SortFunc(groups[g].files, func(a, b int) int {
			return cmp.Or(found[a].Delivered.Compare(found[b].Delivered), cmp.Compare(found[a].Path, found[b].Path))
		})
	}
	if !p.ordered {
		p.days = []planDay{{files: toRead, groups: groups}}
		return p
	}
	if window >= 0 {
		for g, k := range keys {
			prev, ok := byKey[streamDay{k.account, k.region, k.day.AddDate(0, 0, -1)}]
			if ok {
				groups[g].lookback = lookback(found, groups[prev].files, groups[g].files, window)
			}
		}
	}
	dayIndex := map[time.Time]int{}
	for g, k := range keys {
		d, ok := dayIndex[k.day]
		if !ok {
			d = len(p.days)
			dayIndex[k.day] = d
			p.days = append(p.days, planDay{start: k.day})
		}
		p.days[d].groups = append(p.days[d].groups, groups[g])
		p.days[d].files = append(p.days[d].files, groups[g].files...)
	}
	slices.SortFunc(p.days, func(a, b planDay) int { return a.start.Compare(b.start) })
	for d := range p.days {
		slices.SortFunc(p.days[d].groups, func(a, b fileGroup) int { return cmp.Compare(a.files[0], b.files[0]) })
	}
	return p
}

// lookback returns the files of prev delivered within window before the
// first file of next. Without delivery times it returns every file of prev
// delivered at an unknown time, as the dedup window keeps them.
func lookback(found []ingest.LogFile, prev, next []int, window time.Duration) []int {
	first := found[next[0]].Delivered
	var out []int
	for _, i := range prev {
		d := found[i].Delivered
		if first.IsZero() || d.IsZero() || window == 0 || !d.Before(first.Add(-window)) {
			out = append(out, i)
		}
	}
	return out
}

// staleSessionMargin is how far before its delivery day an event of a
// day's files may be: sessions are dropped once expired before the first
// day still to replay, less this margin.
const staleSessionMargin = 24 * time.Hour

// run collects sessions and replays groups on workers goroutines: the
// session pass of a day and of the day after precedes the replay of the
// day's groups, and sessions expired before every day still to replay are
// dropped. It stops at the first error or when ctx is done.
func (p *plan) run(ctx context.Context, workers int, sessions *ingest.Sessions,
	collect func(file int) error, replay func(g fileGroup) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	n := len(p.days)
	collected := make([]sync.WaitGroup, n)
	var mu sync.Mutex
	remaining := make([]int, n)
	for d := range p.days {
		remaining[d] = len(p.days[d].groups)
	}
	low := 0 // the first day with groups still to replay
	advance := func() {
		for low < n && remaining[low] == 0 {
			low++
		}
	}
	advance()

	submitSessions := func(d int) {
		for _, i := range p.days[d].files {
			if gctx.Err() != nil {
				return
			}
			collected[d].Add(1)
			g.Go(func() error {
				defer collected[d].Done()
				return collect(i)
			})
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
				mu.Lock()
				defer mu.Unlock()
				remaining[d]--
				before := low
				advance()
				if p.ordered && low != before && low < n {
					sessions.Expire(p.days[low].start.Add(-staleSessionMargin))
				}
				return nil
			})
		}
	}
	if n > 0 {
		submitSessions(0)
	}
	for d := 0; d < n; d++ {
		if d+1 < n {
			submitSessions(d + 1)
		}
		submitReplay(d)
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}
