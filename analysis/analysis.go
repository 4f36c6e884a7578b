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
	"strings"
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

// MaxDistinctResources bounds the resources counted per usage row; the
// count saturates there.
const MaxDistinctResources = 1000

// MaxKeptResources bounds the resource names kept per usage row for policy
// suggestions. Past it, only the prefix all the row's resources share is
// kept.
const MaxKeptResources = 100

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
	resources      distinctResources
	SampleResource string
	// kept holds up to MaxKeptResources resource names, each mapped to
	// itself (the report's own copy); prefix is the longest prefix of every
	// resource seen.
	kept   map[string]string
	prefix string
	// Overflow is true when more distinct resources were seen than kept.
	Overflow bool
	// last is the resource added last, when hasLast: adding it again
	// changes nothing, and a row's events often name one resource.
	last    string
	hasLast bool
}

// newUsage returns a row without resources; the strings it is given are
// its own.
func newUsage(typ, acct string) *Usage {
	return &Usage{PrincipalType: typ, AccountID: acct, resources: distinctResources{}, kept: map[string]string{}}
}

// addResource records one resource of the row, which keeps a copy of res
// where it keeps res.
func (u *Usage) addResource(res string) {
	if u.hasLast && res == u.last {
		return
	}
	first := len(u.kept) == 0 // the first resource is always kept
	own, kept := u.kept[res]
	switch {
	case kept:
	case len(u.kept) < MaxKeptResources:
		own, kept = strings.Clone(res), true
		u.kept[own] = own
	default:
		u.Overflow = true
	}
	switch {
	case first:
		u.SampleResource, u.prefix = own, own
	case res < u.SampleResource:
		if !kept {
			own, kept = strings.Clone(res), true
		}
		u.SampleResource = own
		fallthrough
	default:
		u.prefix = commonPrefix(u.prefix, res) // a part of u.prefix
	}
	// A row that overflows may see a new resource at every event: it
	// remembers the last one only when it has a copy anyway.
	u.last, u.hasLast = own, kept
	u.resources.add(res)
}

// distinctResources counts distinct resource names by hash, up to
// MaxDistinctResources. The count of a merge is that of the union,
// saturated, whatever the order of the events and of the merges.
type distinctResources map[uint64]struct{}

func (s distinctResources) add(res string) {
	if len(s) < MaxDistinctResources {
		s[hashString(res)] = struct{}{}
	}
}

func (s distinctResources) merge(o distinctResources) {
	for h := range o {
		if len(s) >= MaxDistinctResources {
			break
		}
		s[h] = struct{}{}
	}
}

func commonPrefix(a, b string) string {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	return a[:i]
}

// Resources returns the kept resource names, sorted.
func (u *Usage) Resources() []string { return slices.Sorted(maps.Keys(u.kept)) }

// CommonPrefix returns the longest prefix every resource of the row shares.
func (u *Usage) CommonPrefix() string { return u.prefix }

// Used reports whether the row shows the principal could use the action:
// the replay allowed it, or could not decide and the log shows a call that
// was not denied.
func (k UsageKey) Used(u *Usage) bool {
	return k.Decision == engine.VerdictAllow || k.Decision == engine.VerdictIndeterminate && u.Events > u.LoggedDenied
}

// DistinctResources returns the number of distinct resources seen, at most
// MaxDistinctResources.
func (u *Usage) DistinctResources() int64 { return int64(len(u.resources)) }

// DeniedKey identifies a denial row: who was denied what, by which policy
// type, policy and statement. Resources are aggregated within the row, so
// the number of rows depends on the estate, not on the length of the logs.
type DeniedKey struct {
	PrincipalARN string
	Action       string
	BlockedBy    string
	PolicyID     string
	Statement    string
}

// MaxDeniedSamples bounds the resource names a denial row keeps: the
// smallest ones, so that the kept set does not depend on the order of the
// events.
const MaxDeniedSamples = 20

// Denied aggregates the denials of one key.
type Denied struct {
	Events      int64
	FirstSeen   time.Time
	LastSeen    time.Time
	LoggedError string
	// Explanation is the smallest of the explanations of the row's
	// decisions (they name the same policy and statement).
	Explanation string
	resources   distinctResources
	// samples holds the MaxDeniedSamples smallest resource names, sorted.
	samples []string
}

func newDenied() *Denied { return &Denied{resources: distinctResources{}} }

// addResource records one denied resource.
func (d *Denied) addResource(res string) {
	d.resources.add(res)
	d.samples = addSample(d.samples, res, MaxDeniedSamples)
}

// DistinctResources returns the number of distinct resources denied, at
// most MaxDistinctResources.
func (d *Denied) DistinctResources() int64 { return int64(len(d.resources)) }

// SampleResources returns the smallest denied resource names, sorted.
func (d *Denied) SampleResources() []string { return d.samples }

// addSample inserts s into the sorted set samples, keeping its max
// smallest elements.
func addSample(samples []string, s string, max int) []string {
	i, found := slices.BinarySearch(samples, s)
	if found || i >= max {
		return samples
	}
	if len(samples) == max {
		samples = samples[:max-1]
	}
	return slices.Insert(samples, i, strings.Clone(s))
}

// StatementKey identifies an identity statement as it applies to one
// principal.
type StatementKey struct {
	PrincipalARN string
	PolicyID     string
	Statement    string
}

// StatementUse counts the events a statement's Allow decided.
type StatementUse struct {
	Events   int64
	LastUsed time.Time
}

// Coverage is what the input shows about what the trail records.
type Coverage struct {
	// DataEventSources counts data events per event source.
	DataEventSources map[string]int64 `json:"data_event_sources"`
	// ReadOnly and Write count management events by their readOnly flag.
	ReadOnly int64 `json:"read_only_management_events"`
	Write    int64 `json:"write_management_events"`
}

// Activity is a principal's activity.
type Activity struct {
	PrincipalType string
	AccountID     string
	// Events counts the principal's evaluated requests.
	Events   int64
	LastSeen time.Time
	// Unchecked counts the principal's calls that replay could not
	// evaluate, no action being known for them, and that the log does not
	// show denied: calls that may have been allowed, and that no policy was
	// checked against. UncheckedCalls counts them by "eventSource
	// eventName", for the MaxUncheckedCalls least names.
	Unchecked      int64
	UncheckedCalls map[string]int64
}

// MaxUncheckedCalls bounds the call names an Activity counts its unchecked
// calls by. Keeping the least names, rather than the first seen, makes the
// names kept and their counts independent of the order of the input.
const MaxUncheckedCalls = 16

// countUncheckedCall adds n to the count of the unchecked calls named
// call, if call is among the least names; Unchecked is the caller's to add
// to.
func (a *Activity) countUncheckedCall(call string, n int64) {
	if a.UncheckedCalls == nil {
		a.UncheckedCalls = map[string]int64{}
	}
	if _, ok := a.UncheckedCalls[call]; !ok && len(a.UncheckedCalls) == MaxUncheckedCalls {
		greatest := slices.Max(slices.Collect(maps.Keys(a.UncheckedCalls)))
		if call > greatest {
			return
		}
		delete(a.UncheckedCalls, greatest)
	}
	a.UncheckedCalls[call] += n
}

// UncheckedCallNames returns the names UncheckedCalls counts, most
// frequent first.
func (a *Activity) UncheckedCallNames() []string {
	names := slices.Collect(maps.Keys(a.UncheckedCalls))
	slices.SortFunc(names, func(x, y string) int {
		return cmp.Or(cmp.Compare(a.UncheckedCalls[y], a.UncheckedCalls[x]), cmp.Compare(x, y))
	})
	return names
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
	Statements map[StatementKey]*StatementUse
	Agreement  Agreement
	Coverage   Coverage
	// Unmapped counts the records no action mapping covers, by
	// "eventSource eventName".
	Unmapped map[string]int64
	Events   int64
	// counted maps the keys of Coverage.DataEventSources, Unmapped and
	// the activities' UncheckedCalls to themselves (see intern).
	counted map[string]string
}

// NewReport returns an empty report.
func NewReport() *Report {
	return &Report{
		Usage:      map[UsageKey]*Usage{},
		Denied:     map[DeniedKey]*Denied{},
		Principals: map[string]*Activity{},
		Statements: map[StatementKey]*StatementUse{},
		Agreement:  Agreement{Disagree: map[string]int64{}, Examples: map[string]string{}},
		Coverage:   Coverage{DataEventSources: map[string]int64{}},
		Unmapped:   map[string]int64{},
	}
}

// AddRecord notes one record of the input, evaluated or not, for the
// coverage of the trail. The report keeps a copy of eventSource.
func (r *Report) AddRecord(eventSource string, data bool, readOnly bool) {
	switch {
	case data:
		r.count(r.Coverage.DataEventSources, eventSource)
	case readOnly:
		r.Coverage.ReadOnly++
	default:
		r.Coverage.Write++
	}
}

// AddUnmapped counts a record whose event maps to no action. The report
// keeps a copy of eventSourceAndName.
func (r *Report) AddUnmapped(eventSourceAndName string) { r.count(r.Unmapped, eventSourceAndName) }

// AddUnchecked counts, for the principal that made it, an unmapped call
// (see AddUnmapped) that the log does not show denied: see
// Activity.Unchecked. The principal's activity is seen at t, like that of
// an event. The report keeps copies of the strings.
func (r *Report) AddUnchecked(principalARN, principalType, accountID, eventSourceAndName string, t time.Time) {
	a := r.activity(principalARN, principalType, accountID)
	if t.After(a.LastSeen) {
		a.LastSeen = t
	}
	a.Unchecked++
	a.countUncheckedCall(r.intern(eventSourceAndName), 1)
}

// activity returns the activity of a principal, made on first use.
func (r *Report) activity(principalARN, principalType, accountID string) *Activity {
	a := r.Principals[principalARN]
	if a == nil {
		a = &Activity{PrincipalType: strings.Clone(principalType), AccountID: strings.Clone(accountID)}
		r.Principals[strings.Clone(principalARN)] = a
	}
	return a
}

// count adds one to m[k]. Assigning to a map stores the key given, even
// over an equal one, so k, which may be borrowed from a reader's buffers,
// is swapped for the report's own copy first.
func (r *Report) count(m map[string]int64, k string) {
	m[r.intern(k)]++
}

// intern returns the report's own copy of k.
func (r *Report) intern(k string) string {
	own, ok := r.counted[k]
	if !ok {
		own = strings.Clone(k)
		if r.counted == nil {
			r.counted = map[string]string{}
		}
		r.counted[own] = own
	}
	return own
}

func hashString(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// LeastNonEmpty returns the smaller of two strings, ignoring empty ones, so
// that a report's examples do not depend on the order of its events.
func LeastNonEmpty(a, b string) string {
	if a == "" || b != "" && b < a {
		return b
	}
	return a
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

// Add adds one event; eventID names it in agreement examples. The
// event's strings and eventID need only live for the call (they may be
// borrowed from a reader's buffers): the report copies those it keeps.
func (r *Report) Add(ev *Event, eventID string) {
	r.Events++
	d := &ev.Decision
	uk := UsageKey{ev.PrincipalARN, ev.Action, d.Verdict}
	u := r.Usage[uk]
	if u == nil {
		u = newUsage(strings.Clone(ev.PrincipalType), strings.Clone(ev.AccountID))
		uk.PrincipalARN, uk.Action = strings.Clone(uk.PrincipalARN), strings.Clone(uk.Action)
		r.Usage[uk] = u
	}
	u.Events++
	u.addResource(ev.Resource)
	if ev.LoggedDenied {
		u.LoggedDenied++
	}
	widen(&u.FirstSeen, &u.LastSeen, ev.Time)

	if d.Verdict == engine.VerdictAllow && d.Statement != nil && d.Statement.Policy != nil && d.Statement.Policy.Type == engine.PolicyIdentity {
		sk := StatementKey{ev.PrincipalARN, d.Statement.Policy.ID, d.Statement.Ref()}
		su := r.Statements[sk]
		if su == nil {
			su = &StatementUse{}
			sk.PrincipalARN = strings.Clone(sk.PrincipalARN)
			r.Statements[sk] = su
		}
		su.Events++
		if ev.Time.After(su.LastUsed) {
			su.LastUsed = ev.Time
		}
	}

	if d.Verdict == engine.VerdictExplicitDeny || d.Verdict == engine.VerdictImplicitDeny {
		dk := DeniedKey{ev.PrincipalARN, ev.Action, "", d.PolicyID(), d.StatementRef()}
		if d.HasBy {
			dk.BlockedBy = d.By.String()
		}
		dn := r.Denied[dk]
		if dn == nil {
			dn = newDenied()
			dk.PrincipalARN, dk.Action = strings.Clone(dk.PrincipalARN), strings.Clone(dk.Action)
			r.Denied[dk] = dn
		}
		dn.Explanation = LeastNonEmpty(dn.Explanation, d.Explain())
		dn.Events++
		dn.addResource(ev.Resource)
		widen(&dn.FirstSeen, &dn.LastSeen, ev.Time)
		if least := LeastNonEmpty(dn.LoggedError, ev.LoggedError); least != dn.LoggedError {
			dn.LoggedError = strings.Clone(least)
		}
	}

	a := r.activity(ev.PrincipalARN, ev.PrincipalType, ev.AccountID)
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
		g.Examples[class] = strings.Clone(eventID)
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
		u.resources.merge(ou.resources)
		if ou.SampleResource < u.SampleResource {
			u.SampleResource = ou.SampleResource
		}
		u.prefix = commonPrefix(u.prefix, ou.prefix)
		u.Overflow = u.Overflow || ou.Overflow
		for res := range ou.kept {
			if _, ok := u.kept[res]; ok {
				continue
			}
			if len(u.kept) < MaxKeptResources {
				u.kept[res] = res
			} else {
				u.Overflow = true
			}
		}
	}
	for k, os := range o.Statements {
		s := r.Statements[k]
		if s == nil {
			r.Statements[k] = os
			continue
		}
		s.Events += os.Events
		if os.LastUsed.After(s.LastUsed) {
			s.LastUsed = os.LastUsed
		}
	}
	for src, n := range o.Coverage.DataEventSources {
		r.Coverage.DataEventSources[src] += n
	}
	r.Coverage.ReadOnly += o.Coverage.ReadOnly
	r.Coverage.Write += o.Coverage.Write
	for k, n := range o.Unmapped {
		r.Unmapped[k] += n
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
		d.LoggedError = LeastNonEmpty(d.LoggedError, od.LoggedError)
		d.Explanation = LeastNonEmpty(d.Explanation, od.Explanation)
		d.resources.merge(od.resources)
		for _, res := range od.samples {
			d.samples = addSample(d.samples, res, MaxDeniedSamples)
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
		// The calls oa dropped are greater than all it kept: a's least
		// names are among those kept by either side, counted in full.
		a.Unchecked += oa.Unchecked
		for call, n := range oa.UncheckedCalls {
			a.countUncheckedCall(call, n)
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
			cmp.Compare(a.BlockedBy, b.BlockedBy),
			cmp.Compare(a.PolicyID, b.PolicyID), cmp.Compare(a.Statement, b.Statement))
	})
	return keys
}
