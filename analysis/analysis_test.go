package analysis

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/replay-iam/replay/catalog"
	"github.com/replay-iam/replay/engine"
)

func events() []Event {
	pol, err := engine.ParsePolicy("arn:aws:iam::1:policy/P", engine.PolicyIdentity, []byte(`{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`))
	if err != nil {
		panic(err)
	}
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var out []Event
	for i := 0; i < 40; i++ {
		ev := Event{
			Time: t0.Add(time.Duration(i) * time.Minute), PrincipalARN: fmt.Sprintf("arn:aws:iam::1:role/r%d", i%3),
			PrincipalType: "role_session", AccountID: "1", Action: []string{"s3:GetObject", "s3:PutObject"}[i%2],
			Resource: fmt.Sprintf("arn:aws:s3:::b/k%d", i%7), LoggedDecided: true, Complete: true,
		}
		switch i % 5 {
		case 0:
			ev.Decision.Verdict = engine.VerdictImplicitDeny
			ev.LoggedDenied = true
			ev.LoggedError = "AccessDenied"
		case 1:
			ev.Decision.Verdict = engine.VerdictImplicitDeny // the log says it succeeded
		default:
			ev.Decision.Verdict = engine.VerdictAllow
			ev.Decision.Statement = pol.Statements[0]
		}
		out = append(out, ev)
	}
	return out
}

func TestMergeEqualsWhole(t *testing.T) {
	evs := events()
	whole := NewReport()
	for i := range evs {
		whole.Add(&evs[i], fmt.Sprintf("e%02d", i))
	}
	for i := range evs {
		whole.AddRecord([]string{"s3.amazonaws.com", "sqs.amazonaws.com"}[i%2], i%4 == 0, i%4 == 1)
		whole.AddUnmapped(fmt.Sprint("svc.amazonaws.com Event", i%3))
	}
	a, b := NewReport(), NewReport()
	for i := range evs {
		part := a
		if i%3 == 0 {
			part = b
		}
		part.Add(&evs[i], fmt.Sprintf("e%02d", i))
		part.AddRecord([]string{"s3.amazonaws.com", "sqs.amazonaws.com"}[i%2], i%4 == 0, i%4 == 1)
		part.AddUnmapped(fmt.Sprint("svc.amazonaws.com Event", i%3))
	}
	b.Merge(a)
	if !reflect.DeepEqual(whole.UsageRows(), b.UsageRows()) || !reflect.DeepEqual(whole.DeniedRows(), b.DeniedRows()) ||
		!reflect.DeepEqual(whole.Agreement, b.Agreement) || whole.Events != b.Events ||
		!reflect.DeepEqual(whole.Statements, b.Statements) || !reflect.DeepEqual(whole.Coverage, b.Coverage) ||
		!reflect.DeepEqual(whole.Unmapped, b.Unmapped) {
		t.Errorf("merged report differs from the whole")
	}
	for _, p := range []string{"arn:aws:iam::1:role/r0", "arn:aws:iam::1:role/r1", "arn:aws:iam::1:role/r2"} {
		if !reflect.DeepEqual(whole.Index(catalog.Default()).used(p), b.Index(catalog.Default()).used(p)) {
			t.Errorf("%s: merged resources differ from the whole", p)
		}
	}
	if len(whole.Statements) != 3 || whole.Coverage.DataEventSources["s3.amazonaws.com"] != 10 || whole.Unmapped["svc.amazonaws.com Event0"] != 14 {
		t.Errorf("statements %v, coverage %+v, unmapped %v", whole.Statements, whole.Coverage, whole.Unmapped)
	}
	g := whole.Agreement
	// Every fifth event agrees as a denial, every fifth is a replayed deny
	// of a logged success, the rest agree as allows.
	if g.Agree != 32 || g.Disagree[ReplayDenyLoggedAllow] != 8 || g.Examples[ReplayDenyLoggedAllow] != "e01" {
		t.Errorf("agreement %+v", g)
	}
}

// TestUncheckedCallsMerge counts a principal's unchecked calls, of more
// names than it keeps, in parts merged in several orders: each gives the
// whole's count and the least names with their full counts.
func TestUncheckedCallsMerge(t *testing.T) {
	const calls = 300
	name := func(i int) string { return fmt.Sprintf("svc.amazonaws.com Call%02d", (i*7)%(MaxUncheckedCalls+9)) }
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	add := func(r *Report, i int) {
		r.AddUnchecked("arn:aws:iam::1:role/app", "role_session", "1", name(i), t0.Add(time.Duration(i)*time.Second))
	}
	// What the whole holds, counted apart: every name, then the least.
	all := map[string]int64{}
	for i := range calls {
		all[name(i)]++
	}
	least := slices.Sorted(maps.Keys(all))[:MaxUncheckedCalls]
	want := map[string]int64{}
	for _, n := range least {
		want[n] = all[n]
	}
	check := func(label string, r *Report) {
		t.Helper()
		a := r.Principals["arn:aws:iam::1:role/app"]
		if a == nil || a.Unchecked != calls || !reflect.DeepEqual(a.UncheckedCalls, want) || a.Events != 0 ||
			!a.LastSeen.Equal(t0.Add((calls-1)*time.Second)) {
			t.Errorf("%s: %+v, want %d calls, %v", label, a, calls, want)
		}
	}
	whole := NewReport()
	for i := range calls {
		add(whole, i)
	}
	check("whole", whole)
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 20 {
		parts := []*Report{NewReport(), NewReport(), NewReport()}
		for _, i := range rng.Perm(calls) {
			add(parts[rng.IntN(len(parts))], i)
		}
		rng.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
		parts[0].Merge(parts[1])
		parts[0].Merge(parts[2])
		check(fmt.Sprintf("round %d", round), parts[0])
	}
	names := whole.Principals["arn:aws:iam::1:role/app"].UncheckedCallNames()
	for i := 1; i < len(names); i++ {
		if n, m := want[names[i-1]], want[names[i]]; n < m || n == m && names[i-1] > names[i] {
			t.Errorf("names not most frequent first: %v (%v)", names, want)
		}
	}
}

func TestDistinctResourcesBounded(t *testing.T) {
	r := NewReport()
	for i := 0; i < MaxDistinctResources+50; i++ {
		ev := Event{PrincipalARN: "p", Action: "s3:GetObject", Resource: fmt.Sprint("arn:aws:s3:::b/", i), LoggedDecided: true}
		r.Add(&ev, "")
	}
	rows := r.UsageRows()
	if len(rows) != 1 || rows[0].DistinctResources != MaxDistinctResources || rows[0].Events != MaxDistinctResources+50 {
		t.Errorf("rows %+v", rows)
	}
}

// TestDeniedRowsBounded checks that a denial row keeps one row however many
// resources it covers, counts them up to the bound and keeps the smallest
// names whatever the order of the events and the split into merged parts.
func TestDeniedRowsBounded(t *testing.T) {
	n := MaxDistinctResources + 50
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("arn:aws:s3:::b/k%05d", i)
	}
	want := slices.Clone(names[:MaxDeniedSamples])
	for _, order := range []string{"ascending", "descending", "shuffled"} {
		t.Run(order, func(t *testing.T) {
			evs := slices.Clone(names)
			switch order {
			case "descending":
				slices.Reverse(evs)
			case "shuffled":
				rand.New(rand.NewPCG(1, 2)).Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
			}
			whole, a, b := NewReport(), NewReport(), NewReport()
			for i, res := range evs {
				ev := Event{PrincipalARN: "p", Action: "s3:GetObject", Resource: res, LoggedDecided: true}
				ev.Decision.Verdict = engine.VerdictImplicitDeny
				whole.Add(&ev, "")
				part := a
				if i%3 == 0 {
					part = b
				}
				part.Add(&ev, "")
			}
			a.Merge(b)
			for _, r := range []*Report{whole, a} {
				rows := r.DeniedRows()
				if len(rows) != 1 {
					t.Fatalf("%d rows, want 1", len(rows))
				}
				row := rows[0]
				if row.Events != int64(n) || row.DistinctResources != MaxDistinctResources || !slices.Equal(row.SampleResources, want) {
					t.Errorf("events %d, distinct %d, samples %v; want %d, %d, %v", row.Events, row.DistinctResources, row.SampleResources, n, MaxDistinctResources, want)
				}
			}
		})
	}
}

// TestReportCopiesWhatItKeeps checks that a report copies the strings it
// keeps: the events of events() are added with every string borrowed from
// one buffer, which is then overwritten, and the report must equal that
// of the same events with strings of their own.
func TestReportCopiesWhatItKeeps(t *testing.T) {
	var buf []byte
	var spans [][2]int
	lend := func(s *string) {
		spans = append(spans, [2]int{len(buf), len(*s)})
		buf = append(buf, *s...)
	}
	evs := events()
	// A row with more resources than it keeps, the smallest ones last.
	for i := MaxKeptResources + 20; i > 0; i-- {
		evs = append(evs, Event{PrincipalARN: "arn:aws:iam::1:role/many", PrincipalType: "role_session", AccountID: "1",
			Action: "s3:GetObject", Resource: fmt.Sprintf("arn:aws:s3:::b/o%05d", i), LoggedDecided: true})
	}
	ids := make([]string, len(evs))
	sources := make([]string, len(evs))
	unmapped := make([]string, len(evs))
	for i := range evs {
		ids[i] = fmt.Sprintf("e%02d", i)
		sources[i] = []string{"s3.amazonaws.com", "sqs.amazonaws.com"}[i%2]
		unmapped[i] = fmt.Sprint("svc.amazonaws.com Event", i%3)
	}
	add := func(r *Report, evs []Event, ids, sources, unmapped []string) {
		for i := range evs {
			r.Add(&evs[i], ids[i])
			r.AddRecord(sources[i], i%4 == 0, i%4 == 1)
			r.AddUnmapped(unmapped[i])
			r.AddUnchecked(evs[i].PrincipalARN, evs[i].PrincipalType, evs[i].AccountID, unmapped[i], evs[i].Time)
		}
	}
	want := NewReport()
	add(want, evs, ids, sources, unmapped)

	borrowed := slices.Clone(evs)
	bIDs, bSources, bUnmapped := slices.Clone(ids), slices.Clone(sources), slices.Clone(unmapped)
	var fields []*string
	for i := range borrowed {
		ev := &borrowed[i]
		fields = append(fields, &ev.PrincipalARN, &ev.PrincipalType, &ev.AccountID, &ev.Action, &ev.Resource, &ev.LoggedError,
			&bIDs[i], &bSources[i], &bUnmapped[i])
	}
	for _, f := range fields {
		lend(f)
	}
	for i, f := range fields {
		if n := spans[i][1]; n > 0 {
			*f = unsafe.String(&buf[spans[i][0]], n)
		}
	}
	got := NewReport()
	add(got, borrowed, bIDs, bSources, bUnmapped)
	for i := range buf {
		buf[i] = 0xFF
	}

	if !reflect.DeepEqual(got.UsageRows(), want.UsageRows()) || !reflect.DeepEqual(got.DeniedRows(), want.DeniedRows()) ||
		!reflect.DeepEqual(got.Agreement, want.Agreement) || !reflect.DeepEqual(got.Principals, want.Principals) ||
		!reflect.DeepEqual(got.Statements, want.Statements) || !reflect.DeepEqual(got.Coverage, want.Coverage) ||
		!reflect.DeepEqual(got.Unmapped, want.Unmapped) {
		t.Errorf("the report of borrowed strings changed when they were overwritten")
	}
	for _, p := range []string{"arn:aws:iam::1:role/r0", "arn:aws:iam::1:role/r1", "arn:aws:iam::1:role/r2", "arn:aws:iam::1:role/many"} {
		if !reflect.DeepEqual(got.Index(catalog.Default()).used(p), want.Index(catalog.Default()).used(p)) {
			t.Errorf("%s: the resources kept changed when the strings were overwritten", p)
		}
	}
	if u := want.Usage[UsageKey{"arn:aws:iam::1:role/many", "s3:GetObject", engine.VerdictAllow}]; u == nil || !u.Overflow || u.SampleResource != "arn:aws:s3:::b/o00001" {
		t.Errorf("the row with many resources does not overflow with its smallest resource as sample: %+v", u)
	}
}

// TestDecisionColumnLists checks that every column named to be compressed
// as random values is a top-level column of the decisions table: a
// misspelt name would silently leave the column as other columns are.
func TestDecisionColumnLists(t *testing.T) {
	var names []string
	for _, path := range parquet.SchemaOf(new(DecisionRow)).Columns() {
		names = append(names, path[0])
	}
	for _, c := range DecisionRandomColumns() {
		if !slices.Contains(names, c) {
			t.Errorf("%s is not a column of the decisions table (%v)", c, names)
		}
	}
}
