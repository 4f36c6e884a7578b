// Package analysis aggregates replayed decisions into replay's reports:
// usage, denials, principals' activity and the agreement of replayed
// verdicts with logged outcomes. Every aggregate is mergeable: reports built
// from parts of the input and merged equal the report built from all of it.
package analysis

import (
	"cmp"
	"hash/fnv"
	"maps"
	"slices"
	"time"

	"github.com/replay-iam/replay/engine"
)

// Event is one replayed request, with what the log said about it.
type Event struct {
	Time time.Time
	// PrincipalARN is the entity: the IAM user, the role (with its path) of
	// a session, the IAM user behind a federated user, root, or the service.
	PrincipalARN  string
	PrincipalType string
	AccountID     string
	Action        string
	Resource      string
	Decision      engine.Decision
	// LoggedDenied is true when the record shows an access-denied error;
	// LoggedDecided is false when the record does not tell whether the call
	// was authorized (an error other than access denied).
	LoggedDenied  bool
	LoggedDecided bool
	LoggedError   string
	// Complete is false when the snapshot lacked a policy that applies or
	// the session's issuing call was not seen.
	Complete bool
}

// MaxDistinctResources bounds the resources remembered per usage row; the
// count saturates there.
const MaxDistinctResources = 1000

// UsageKey identifies a usage row.
type UsageKey struct {
	PrincipalARN string
	Action       string
	Decision     engine.Verdict
}

// Usage aggregates the events of one principal, action and decision.
type Usage struct {
	PrincipalType  string
	AccountID      string
	Events         int64
	LoggedDenied   int64
	FirstSeen      time.Time
	LastSeen       time.Time
	resources      map[uint64]struct{}
	SampleResource string
}

// DistinctResources returns the number of distinct resources seen, at most
// MaxDistinctResources.
func (u *Usage) DistinctResources() int64 { return int64(len(u.resources)) }

// DeniedKey identifies a denial row.
type DeniedKey struct {
	PrincipalARN string
	Action       string
	Resource     string
	BlockedBy    string
	PolicyID     string
	Statement    string
}

// Denied aggregates the denials of one key.
type Denied struct {
	Events      int64
	FirstSeen   time.Time
	LastSeen    time.Time
	LoggedError string
	Explanation string
}

// Activity is a principal's activity.
type Activity struct {
	PrincipalType string
	AccountID     string
	Events        int64
	LastSeen      time.Time
}

// Agreement compares replayed verdicts with logged outcomes.
type Agreement struct {
	// Agree counts events where the log decides and the replay matches.
	Agree int64
	// Disagree counts, per class, events where they differ, with one
	// example event id per class.
	Disagree map[string]int64
	Examples map[string]string
	// Undecided counts events the replay could not decide (indeterminate).
	Undecided int64
	// NotDecidedByLog counts events whose record does not show whether the
	// call was authorized.
	NotDecidedByLog int64
	// Incomplete counts events replayed with an incomplete snapshot join;
	// they are compared but reported apart.
	Incomplete int64
}

// Disagreement classes.
const (
	ReplayDenyLoggedAllow = "replay_deny_logged_success"
	ReplayAllowLoggedDeny = "replay_allow_logged_denied"
)

// Report is the aggregate of a set of events.
type Report struct {
	Usage      map[UsageKey]*Usage
	Denied     map[DeniedKey]*Denied
	Principals map[string]*Activity
	Agreement  Agreement
	Events     int64
}

// NewReport returns an empty report.
func NewReport() *Report {
	return &Report{
		Usage:      map[UsageKey]*Usage{},
		Denied:     map[DeniedKey]*Denied{},
		Principals: map[string]*Activity{},
		Agreement:  Agreement{Disagree: map[string]int64{}, Examples: map[string]string{}},
	}
}

func hashString(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

func widen(first, last *time.Time, t time.Time) {
	if t.IsZero() {
		return
	}
	if first.IsZero() || t.Before(*first) {
		*first = t
	}
	if last.IsZero() || t.After(*last) {
		*last = t
	}
}

// Add adds one event; eventID names it in agreement examples.
func (r *Report) Add(ev *Event, eventID string) {
	r.Events++
	d := &ev.Decision
	uk := UsageKey{ev.PrincipalARN, ev.Action, d.Verdict}
	u := r.Usage[uk]
	if u == nil {
		u = &Usage{PrincipalType: ev.PrincipalType, AccountID: ev.AccountID, resources: map[uint64]struct{}{}, SampleResource: ev.Resource}
		r.Usage[uk] = u
	}
	u.Events++
	if ev.Resource < u.SampleResource {
		u.SampleResource = ev.Resource
	}
	if ev.LoggedDenied {
		u.LoggedDenied++
	}
	widen(&u.FirstSeen, &u.LastSeen, ev.Time)
	if len(u.resources) < MaxDistinctResources {
		u.resources[hashString(ev.Resource)] = struct{}{}
	}

	if d.Verdict == engine.VerdictExplicitDeny || d.Verdict == engine.VerdictImplicitDeny {
		dk := DeniedKey{ev.PrincipalARN, ev.Action, ev.Resource, "", d.PolicyID(), d.StatementRef()}
		if d.HasBy {
			dk.BlockedBy = d.By.String()
		}
		dn := r.Denied[dk]
		if dn == nil {
			dn = &Denied{Explanation: d.Explain()}
			r.Denied[dk] = dn
		}
		dn.Events++
		widen(&dn.FirstSeen, &dn.LastSeen, ev.Time)
		if ev.LoggedError != "" {
			dn.LoggedError = ev.LoggedError
		}
	}

	a := r.Principals[ev.PrincipalARN]
	if a == nil {
		a = &Activity{PrincipalType: ev.PrincipalType, AccountID: ev.AccountID}
		r.Principals[ev.PrincipalARN] = a
	}
	a.Events++
	if ev.Time.After(a.LastSeen) {
		a.LastSeen = ev.Time
	}

	r.Agreement.add(ev, eventID)
}

func (g *Agreement) add(ev *Event, eventID string) {
	if !ev.Complete {
		g.Incomplete++
	}
	switch {
	case ev.Decision.Verdict == engine.VerdictIndeterminate:
		g.Undecided++
	case !ev.LoggedDecided:
		g.NotDecidedByLog++
	default:
		allowed := ev.Decision.Verdict == engine.VerdictAllow
		switch {
		case allowed == !ev.LoggedDenied:
			g.Agree++
		case allowed:
			g.disagree(ReplayAllowLoggedDeny, eventID)
		default:
			g.disagree(ReplayDenyLoggedAllow, eventID)
		}
	}
}

func (g *Agreement) disagree(class, eventID string) {
	g.Disagree[class]++
	if _, ok := g.Examples[class]; !ok || eventID < g.Examples[class] {
		g.Examples[class] = eventID
	}
}

// Merge adds o into r.
func (r *Report) Merge(o *Report) {
	r.Events += o.Events
	for k, ou := range o.Usage {
		u := r.Usage[k]
		if u == nil {
			r.Usage[k] = ou
			continue
		}
		u.Events += ou.Events
		u.LoggedDenied += ou.LoggedDenied
		widen(&u.FirstSeen, &u.LastSeen, ou.FirstSeen)
		widen(&u.FirstSeen, &u.LastSeen, ou.LastSeen)
		for h := range ou.resources {
			if len(u.resources) >= MaxDistinctResources {
				break
			}
			u.resources[h] = struct{}{}
		}
		if ou.SampleResource < u.SampleResource {
			u.SampleResource = ou.SampleResource
		}
	}
	for k, od := range o.Denied {
		d := r.Denied[k]
		if d == nil {
			r.Denied[k] = od
			continue
		}
		d.Events += od.Events
		widen(&d.FirstSeen, &d.LastSeen, od.FirstSeen)
		widen(&d.FirstSeen, &d.LastSeen, od.LastSeen)
		if d.LoggedError == "" {
			d.LoggedError = od.LoggedError
		}
	}
	for k, oa := range o.Principals {
		a := r.Principals[k]
		if a == nil {
			r.Principals[k] = oa
			continue
		}
		a.Events += oa.Events
		if oa.LastSeen.After(a.LastSeen) {
			a.LastSeen = oa.LastSeen
		}
	}
	g, og := &r.Agreement, &o.Agreement
	g.Agree += og.Agree
	g.Undecided += og.Undecided
	g.NotDecidedByLog += og.NotDecidedByLog
	g.Incomplete += og.Incomplete
	for c, n := range og.Disagree {
		g.Disagree[c] += n
	}
	for c, id := range og.Examples {
		if cur, ok := g.Examples[c]; !ok || id < cur {
			g.Examples[c] = id
		}
	}
}

// SortedUsageKeys returns the usage keys in a stable order.
func (r *Report) SortedUsageKeys() []UsageKey {
	keys := slices.Collect(maps.Keys(r.Usage))
	slices.SortFunc(keys, func(a, b UsageKey) int {
		return cmp.Or(cmp.Compare(a.PrincipalARN, b.PrincipalARN), cmp.Compare(a.Action, b.Action), cmp.Compare(a.Decision, b.Decision))
	})
	return keys
}

// SortedDeniedKeys returns the denial keys in a stable order.
func (r *Report) SortedDeniedKeys() []DeniedKey {
	keys := slices.Collect(maps.Keys(r.Denied))
	slices.SortFunc(keys, func(a, b DeniedKey) int {
		return cmp.Or(cmp.Compare(a.PrincipalARN, b.PrincipalARN), cmp.Compare(a.Action, b.Action),
			cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.BlockedBy, b.BlockedBy),
			cmp.Compare(a.PolicyID, b.PolicyID), cmp.Compare(a.Statement, b.Statement))
	})
	return keys
}
