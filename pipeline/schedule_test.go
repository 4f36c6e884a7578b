package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/replay-iam/replay/ingest"
)

// daysOf plans files as days listed from memory, counting the listings.
func daysOf(files []ingest.LogFile, listings *int) []planDay {
	byDay := map[time.Time][]ingest.LogFile{}
	for _, f := range files {
		byDay[f.Day] = append(byDay[f.Day], f)
	}
	var days []planDay
	for _, start := range slices.SortedFunc(maps.Keys(byDay), time.Time.Compare) {
		days = append(days, planDay{start: start, list: func() (read, passed []ingest.LogFile, err error) {
			if listings != nil {
				*listings++
			}
			for _, f := range byDay[start] {
				if f.Skip != "" {
					passed = append(passed, f)
				} else {
					read = append(read, f)
				}
			}
			return read, passed, nil
		}})
	}
	return days
}

// paths names a plan's files.
func paths(files []*ingest.LogFile) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.Path)
	}
	return out
}

// group is a planned group as the plan tests compare it.
type group struct {
	Name            string
	Files, Lookback []string
	Seq             int
}

// groupsOf describes the groups of a planned day.
func groupsOf(d *planDay) []group {
	var out []group
	for _, g := range d.groups {
		out = append(out, group{g.name, paths(g.files), paths(g.lookback), g.seq})
	}
	return out
}

// at returns the time hh:mm of day d.
func at(d time.Time, hhmm string) time.Time {
	var h, m int
	fmt.Sscanf(hhmm, "%d:%d", &h, &m)
	return d.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
}

func TestPlanGroupsAndLookback(t *testing.T) {
	day1 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	day2 := day1.AddDate(0, 0, 1)
	files := []ingest.LogFile{
		{Path: "A/1/c", Account: "A", Region: "r", Day: day1, Delivered: at(day1, "23:50")},
		{Path: "A/1/b", Account: "A", Region: "r", Day: day1, Delivered: at(day1, "10:00")},
		{Path: "A/1/a", Account: "A", Region: "r", Day: day1, Delivered: at(day1, "23:10")},
		{Path: "A/2/b", Account: "A", Region: "r", Day: day2, Delivered: at(day2, "06:00")},
		{Path: "A/2/a", Account: "A", Region: "r", Day: day2, Delivered: at(day2, "00:05")},
		{Path: "B/2/a", Account: "B", Region: "r", Day: day2, Delivered: at(day2, "00:05")},
		{Path: "A/2/digest", Account: "A", Region: "r", Day: day2, Skip: ingest.SkipDigest},
		{Path: "A/1/other-region", Account: "A", Region: "s", Day: day1, Delivered: at(day1, "23:55")},
	}
	listings := 0
	p := planOf(daysOf(files, &listings), nil, time.Hour)
	if !p.ordered || len(p.days) != 2 || !p.days[0].start.Equal(day1) || !p.days[1].start.Equal(day2) || listings != 0 {
		t.Fatalf("plan %+v, %d days listed before their turn", p, listings)
	}
	for d := range p.days {
		if err := p.listDay(d); err != nil {
			t.Fatal(err)
		}
	}
	want1 := []group{{"A_r_20261101", []string{"A/1/b", "A/1/a", "A/1/c"}, nil, 1}, {"A_s_20261101", []string{"A/1/other-region"}, nil, 2}}
	want2 := []group{{"A_r_20261102", []string{"A/2/a", "A/2/b"}, []string{"A/1/a", "A/1/c"}, 4}, {"B_r_20261102", []string{"B/2/a"}, nil, 5}}
	if got1, got2 := groupsOf(&p.days[0]), groupsOf(&p.days[1]); !reflect.DeepEqual(got1, want1) || !reflect.DeepEqual(got2, want2) {
		t.Errorf("groups\n day 1 %+v\n day 2 %+v\nwant\n day 1 %+v\n day 2 %+v", got1, got2, want1, want2)
	}
	if f := slices.Sorted(slices.Values(paths(p.days[1].files))); !slices.Equal(f, []string{"A/2/a", "A/2/b", "B/2/a"}) {
		t.Errorf("day 2 session files %v", f)
	}
	if d := p.days[1]; d.passedSeq != 3 || len(d.passedOver) != 1 || d.passedOver[0].Path != "A/2/digest" {
		t.Errorf("day 2 passes over %+v at %d, want the digest at 3", d.passedOver, d.passedSeq)
	}
	p = planOf(daysOf(files, nil), nil, -1)
	p.listDay(0)
	p.listDay(1)
	if p.days[1].groups[0].lookback != nil {
		t.Error("a negative window must not look back")
	}

	// A file outside the layout: one step, every session first.
	p = planOf(daysOf(files, nil), []ingest.LogFile{{Path: "export.json"}}, time.Hour)
	if err := p.listDay(0); err != nil {
		t.Fatal(err)
	}
	if p.ordered || len(p.days) != 1 || len(p.days[0].files) != 8 || len(p.days[0].groups) != 5 || p.days[0].groups[4].name != "file-00000" {
		t.Errorf("plan with a file outside the layout %+v", p)
	}
}

// TestPlanSlices cuts a stream's day of five files into slices of at most
// two files, each spanning at least six dedup windows: slices of near equal
// size, in delivery order, each looking back at the files delivered within
// the window before its first, on its own day and the day before. A
// window of 0, one too long for the day's span, a file delivered at an
// unknown time, or no slicing leave the group whole, and so does a share
// of its day's files the workers can take whole (two to a stream, one of
// them reading ahead). More slices than workers come in whole rounds of
// them.
func TestPlanSlices(t *testing.T) {
	day1 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	day2 := day1.AddDate(0, 0, 1)
	file := func(day time.Time, hhmm string) ingest.LogFile {
		return ingest.LogFile{Path: day.Format("02") + "/" + hhmm, Account: "A", Region: "r", Day: day, Delivered: at(day, hhmm)}
	}
	// Day 2 spans 22h50m: three slices under a window of an hour (the
	// files allow no more), two under 110 minutes, one under four hours.
	files := []ingest.LogFile{
		file(day1, "22:00"), file(day1, "23:30"),
		file(day2, "23:00"), file(day2, "00:30"), file(day2, "00:10"), file(day2, "00:40"), file(day2, "00:20"),
	}
	listed := func(p *plan) *plan {
		for d := range p.days {
			if err := p.listDay(d); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	planned := func(window time.Duration, sliceFiles, workers int, files []ingest.LogFile) *plan {
		p := planOf(daysOf(files, nil), nil, window)
		p.sliceFiles, p.workers = sliceFiles, workers
		return listed(p)
	}
	for _, tc := range []struct {
		window  time.Duration
		workers int
		all     bool // slice whatever the stream's share of its day
		want    []group
	}{
		// Later slices look back across midnight too. Four workers take
		// the three slices in one round.
		{time.Hour, 4, false, []group{
			{"A_r_20261102-00", []string{"02/00:10"}, []string{"01/23:30"}, 3},
			{"A_r_20261102-01", []string{"02/00:20", "02/00:30"}, []string{"01/23:30", "02/00:10"}, 4},
			{"A_r_20261102-02", []string{"02/00:40", "02/23:00"}, []string{"02/00:10", "02/00:20", "02/00:30"}, 5},
		}},
		{110 * time.Minute, 3, false, []group{
			{"A_r_20261102-00", []string{"02/00:10", "02/00:20"}, []string{"01/23:30"}, 3},
			{"A_r_20261102-01", []string{"02/00:30", "02/00:40", "02/23:00"}, []string{"01/23:30", "02/00:10", "02/00:20"}, 4},
		}},
		// Two workers would take three slices in two rounds: two slices.
		{time.Hour, 2, true, []group{
			{"A_r_20261102-00", []string{"02/00:10", "02/00:20"}, []string{"01/23:30"}, 3},
			{"A_r_20261102-01", []string{"02/00:30", "02/00:40", "02/23:00"}, []string{"01/23:30", "02/00:10", "02/00:20"}, 4},
		}},
	} {
		p := planOf(daysOf(files, nil), nil, tc.window)
		p.sliceFiles, p.workers, p.sliceAll = 2, tc.workers, tc.all
		if got := groupsOf(&listed(p).days[1]); !reflect.DeepEqual(got, tc.want) || !p.days[1].sliced {
			t.Errorf("window %s, %d workers: day 2 groups (sliced %v)\n %+v\nwant\n %+v", tc.window, tc.workers, p.days[1].sliced, got, tc.want)
		}
		if got := groupsOf(&p.days[0]); len(got) != 1 || got[0].Name != "A_r_20261101" || p.days[0].sliced {
			t.Errorf("window %s, %d workers: a day of two files must stay one group, got %+v", tc.window, tc.workers, got)
		}
	}

	undated := slices.Clone(files)
	undated[5].Delivered = time.Time{}
	for name, p := range map[string]*plan{
		"window 0":       planned(0, 2, 4, files),
		"window 4h":      planned(4*time.Hour, 2, 4, files),
		"no slicing":     planned(time.Hour, 0, 4, files),
		"undated file":   planned(time.Hour, 2, 4, undated),
		"slices of five": planned(time.Hour, 5, 4, files),
		// One replays, one reads ahead: two workers take the stream whole.
		"two workers": planned(time.Hour, 2, 2, files),
	} {
		if g := p.days[1].groups; len(g) != 1 || len(g[0].files) != 5 || g[0].name != "A_r_20261102" || p.days[1].sliced {
			t.Errorf("%s: day 2 is %d groups, want one of 5 files", name, len(g))
		}
	}

	// A second stream of five files on day 2: each stream holds half of
	// the day, which four workers share whole (two a stream, one of them
	// reading ahead), five only in slices.
	shared := slices.Clone(files)
	for _, hhmm := range []string{"00:05", "00:15", "00:25", "00:35", "22:00"} {
		f := file(day2, hhmm)
		f.Account, f.Path = "B", "B/"+f.Path
		shared = append(shared, f)
	}
	whole := []group{
		{"A_r_20261102", []string{"02/00:10", "02/00:20", "02/00:30", "02/00:40", "02/23:00"}, []string{"01/23:30"}, 3},
		{"B_r_20261102", []string{"B/02/00:05", "B/02/00:15", "B/02/00:25", "B/02/00:35", "B/02/22:00"}, nil, 4},
	}
	for _, workers := range []int{2, 4} {
		if p := planned(time.Hour, 2, workers, shared); !reflect.DeepEqual(groupsOf(&p.days[1]), whole) || p.days[1].sliced {
			t.Errorf("two streams of a day, %d workers: day 2 groups (sliced %v)\n %+v\nwant\n %+v", workers, p.days[1].sliced, groupsOf(&p.days[1]), whole)
		}
	}
	if p := planned(time.Hour, 2, 5, shared); len(p.days[1].groups) <= 2 || !p.days[1].sliced {
		t.Errorf("two streams of a day, five workers: day 2 groups %+v, want slices", groupsOf(&p.days[1]))
	}
	p := planOf(daysOf(shared, nil), nil, time.Hour)
	p.sliceFiles, p.workers, p.sliceAll = 2, 2, true
	if listed(p); len(p.days[1].groups) <= 2 || !p.days[1].sliced {
		t.Errorf("two streams of a day, every group sliced: day 2 groups %+v, want slices", groupsOf(&p.days[1]))
	}
}

// issue returns a successful AssumeRole record issuing key at t.
func issue(key string, t time.Time) *ingest.Record {
	return &ingest.Record{
		EventSource: "sts.amazonaws.com", EventName: "AssumeRole", EventTime: t, EventID: "e-" + key,
		UserIdentity:     ingest.UserIdentity{Type: "IAMUser", ARN: "arn:aws:iam::111111111111:user/alice", AccountID: "111111111111"},
		ResponseElements: json.RawMessage(`{"credentials":{"accessKeyId":"` + key + `"}}`),
	}
}

// TestPlanRunSessions replays a week, one file a day, each issuing a
// session at 11:00, with a session pass on every day and with sessions
// observed inline: the outcome a day commits must have seen the sessions of
// the day before, the day itself and the day after, none later, and the
// store must have dropped those too old to be valid.
func TestPlanRunSessions(t *testing.T) {
	day0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	const days = 7
	var files []ingest.LogFile
	for d := 0; d < days; d++ {
		files = append(files, ingest.LogFile{Path: fmt.Sprint(d), Account: "A", Region: "r", Day: day0.AddDate(0, 0, d)})
	}
	index := func(f *ingest.LogFile) int {
		d, _ := strconv.Atoi(f.Path)
		return d
	}
	key := func(d int) string { return fmt.Sprintf("ASIADAY%d", d) }
	issueOn := func(sessions *ingest.Sessions, d int) error {
		_, err := sessions.ObserveOn(issue(key(d), day0.AddDate(0, 0, d).Add(11*time.Hour)), d)
		return err
	}
	for _, mode := range []struct {
		name   string
		passes sessionPassMode
		// oldest is how many days before a group's day a session may still
		// be held when a single worker replays it.
		oldest int
	}{
		{"session pass", sessionPassAlways, 2},
		{"inline", sessionPassNever, 3},
		{"auto", sessionPassAuto, 3},
	} {
		for _, workers := range []int{1, 3} {
			t.Run(fmt.Sprint(mode.name, "/", workers, " workers"), func(t *testing.T) {
				sessions := ingest.NewSessions()
				var mu sync.Mutex
				visible := map[int][]int{}
				commits := map[int]int{}
				p := planOf(daysOf(files, nil), nil, time.Hour)
				p.passes = mode.passes
				released := true
				listed := func(seq int, _ []ingest.LogFile) error {
					// With one worker, the day listed now (the first day
					// listed has place 0, the others follow their day
					// before's group) comes after every group three days
					// back was replayed.
					if d := seq / 2; workers == 1 && d >= 3 && p.days[d-3].groups != nil {
						released = false
					}
					return nil
				}
				err := p.run(context.Background(), workers, sessions, listed,
					func(f *ingest.LogFile, day int) error {
						if mode.passes == sessionPassNever {
							t.Errorf("a session pass over %s in mode %s", f.Path, mode.name)
						}
						return issueOn(sessions, index(f))
					},
					func(g fileGroup, pass groupPass) (groupOutcome, error) {
						d := index(g.files[0])
						if pass.day != d || pass.horizon != d+1 {
							t.Errorf("group of day %d replayed as day %d, horizon %d", d, pass.day, pass.horizon)
						}
						if pass.observe {
							if err := issueOn(sessions, d); err != nil {
								return groupOutcome{}, err
							}
						}
						var seen []int
						misses := map[string]int{}
						for e := 0; e < days; e++ {
							r := sessions.Resolve(key(e), pass.horizon)
							if r.Session != nil {
								seen = append(seen, e)
							}
							if !r.Final {
								misses[key(e)] = r.Links
							}
						}
						return groupOutcome{misses: misses, commit: func() error {
							mu.Lock()
							defer mu.Unlock()
							visible[d] = seen
							commits[d]++
							return nil
						}}, nil
					})
				if err != nil {
					t.Fatal(err)
				}
				for d := 0; d < days; d++ {
					if commits[d] != 1 {
						t.Errorf("day %d committed %d times", d, commits[d])
					}
					for e := max(d-1, 0); e <= min(d+1, days-1); e++ {
						if !slices.Contains(visible[d], e) {
							t.Errorf("day %d: the session of day %d is not visible (visible: %v)", d, e, visible[d])
						}
					}
					if slices.ContainsFunc(visible[d], func(e int) bool { return e > d+1 }) {
						t.Errorf("day %d: sessions of days %v visible, beyond the day after", d, visible[d])
					}
					if workers == 1 && slices.ContainsFunc(visible[d], func(e int) bool { return e < d-mode.oldest }) {
						t.Errorf("day %d: sessions of days %v held, expired long before", d, visible[d])
					}
				}
				if sessions.Issued() != days {
					t.Errorf("issued %d, want %d", sessions.Issued(), days)
				}
				// A single worker replays a day before the next one issues
				// its session: inline, every day but the last is replayed
				// again; with a session pass, none is.
				if want := map[sessionPassMode]int{sessionPassAlways: 0, sessionPassNever: days - 1}[mode.passes]; workers == 1 && mode.passes != sessionPassAuto && p.againGroups != want {
					t.Errorf("%d groups replayed again, want %d", p.againGroups, want)
				}
				// Left to decide, the run turns to session passes once the
				// first day settled had to be replayed again: the days
				// listed after that are not replayed again.
				if mode.passes == sessionPassAuto && workers == 1 {
					var passed []int
					for d := range p.days {
						if p.days[d].sessionPass {
							passed = append(passed, d)
						}
					}
					if len(passed) == 0 || passed[len(passed)-1] != days-1 || p.againGroups >= days-1 {
						t.Errorf("days with a session pass %v, %d groups replayed again; want the last days passed, fewer than %d replayed again",
							passed, p.againGroups, days-1)
					}
				}
				if !released {
					t.Error("a day's lists were held after its groups were replayed")
				}
				for d := range p.days {
					if p.days[d].files != nil || p.days[d].groups != nil {
						t.Errorf("day %d: lists held after the run", d)
					}
				}
			})
		}
	}
}
