package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/replay-iam/replay/ingest"
)

func TestPlanGroupsAndLookback(t *testing.T) {
	day1 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	day2 := day1.AddDate(0, 0, 1)
	at := func(d time.Time, hhmm string) time.Time {
		var h, m int
		fmt.Sscanf(hhmm, "%d:%d", &h, &m)
		return d.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
	}
	found := []ingest.LogFile{
		{Path: "A/1/c", Account: "A", Region: "r", Day: day1, Delivered: at(day1, "23:50")},            // 0
		{Path: "A/1/b", Account: "A", Region: "r", Day: day1, Delivered: at(day1, "10:00")},            // 1
		{Path: "A/1/a", Account: "A", Region: "r", Day: day1, Delivered: at(day1, "23:10")},            // 2
		{Path: "A/2/b", Account: "A", Region: "r", Day: day2, Delivered: at(day2, "06:00")},            // 3
		{Path: "A/2/a", Account: "A", Region: "r", Day: day2, Delivered: at(day2, "00:05")},            // 4
		{Path: "B/2/a", Account: "B", Region: "r", Day: day2, Delivered: at(day2, "00:05")},            // 5
		{Path: "A/2/digest", Account: "A", Region: "r", Day: day2, Skip: ingest.SkipDigest},            // 6
		{Path: "A/1/other-region", Account: "A", Region: "s", Day: day1, Delivered: at(day1, "23:55")}, // 7
	}
	toRead := []int{0, 1, 2, 3, 4, 5, 7}
	p := newPlan(found, toRead, time.Hour)
	if !p.ordered || len(p.days) != 2 || !p.days[0].start.Equal(day1) || !p.days[1].start.Equal(day2) {
		t.Fatalf("plan %+v", p)
	}
	want1 := []fileGroup{{files: []int{1, 2, 0}}, {files: []int{7}}}
	want2 := []fileGroup{{files: []int{4, 3}, lookback: []int{2, 0}}, {files: []int{5}}}
	if !reflect.DeepEqual(p.days[0].groups, want1) || !reflect.DeepEqual(p.days[1].groups, want2) {
		t.Errorf("groups\n day 1 %+v\n day 2 %+v\nwant\n day 1 %+v\n day 2 %+v", p.days[0].groups, p.days[1].groups, want1, want2)
	}
	if f := slices.Sorted(slices.Values(p.days[1].files)); !slices.Equal(f, []int{3, 4, 5}) {
		t.Errorf("day 2 session files %v", f)
	}
	if p := newPlan(found, toRead, -1); p.days[1].groups[0].lookback != nil {
		t.Error("a negative window must not look back")
	}

	// A file outside the layout: one step, every session first.
	found = append(found, ingest.LogFile{Path: "export.json"})
	p = newPlan(found, append(toRead, 8), time.Hour)
	if p.ordered || len(p.days) != 1 || len(p.days[0].files) != 8 || len(p.days[0].groups) != 5 {
		t.Errorf("plan with a file outside the layout %+v", p)
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
// session at 11:00: a day's replay must see the sessions of the day before,
// the day itself and the day after, and the store must have dropped those
// too old to be valid.
func TestPlanRunSessions(t *testing.T) {
	day0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	const days = 7
	var found []ingest.LogFile
	var toRead []int
	for d := 0; d < days; d++ {
		found = append(found, ingest.LogFile{Path: fmt.Sprint(d), Account: "A", Region: "r", Day: day0.AddDate(0, 0, d)})
		toRead = append(toRead, d)
	}
	key := func(d int) string { return fmt.Sprintf("ASIADAY%d", d) }
	for _, workers := range []int{1, 3} {
		t.Run(fmt.Sprint(workers, " workers"), func(t *testing.T) {
			sessions := ingest.NewSessions()
			var mu sync.Mutex
			visible := map[int][]int{}
			held := map[int]int{}
			err := newPlan(found, toRead, time.Hour).run(context.Background(), workers, sessions,
				func(i int) error {
					_, err := sessions.Observe(issue(key(i), day0.AddDate(0, 0, i).Add(11*time.Hour)))
					return err
				},
				func(g fileGroup) error {
					d := g.files[0]
					var seen []int
					for e := 0; e < days; e++ {
						if _, ok := sessions.Lookup(key(e)); ok {
							seen = append(seen, e)
						}
					}
					mu.Lock()
					visible[d], held[d] = seen, sessions.Len()
					mu.Unlock()
					return nil
				})
			if err != nil {
				t.Fatal(err)
			}
			for d := 0; d < days; d++ {
				for e := max(d-1, 0); e <= min(d+1, days-1); e++ {
					if !slices.Contains(visible[d], e) {
						t.Errorf("day %d: the session of day %d is not visible (visible: %v)", d, e, visible[d])
					}
				}
				if workers == 1 && slices.ContainsFunc(visible[d], func(e int) bool { return e < d-2 }) {
					t.Errorf("day %d: sessions of days %v held, expired before the day before", d, visible[d])
				}
			}
			if sessions.Issued() != days {
				t.Errorf("issued %d, want %d", sessions.Issued(), days)
			}
		})
	}
}
