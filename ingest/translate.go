package ingest

import (
	"errors"
	"net/url"
	"strings"

	"github.com/replay-iam/replay/catalog"
	"github.com/replay-iam/replay/engine"
)

// Skip tells why a record yields no authorization request. Every record
// that is not evaluated is counted under one of these.
type Skip uint8

// Reasons a record is not evaluated.
const (
	NotSkipped Skip = iota
	// SkipNotAPICall: an event that records no caller's request (service
	// events, Insights events, VPC endpoint events of other accounts).
	SkipNotAPICall
	// SkipNoIAMAction: a call no IAM action authorizes (console sign-in).
	SkipNoIAMAction
	// SkipUnmappedEvent: no mapping from the event to an action is known.
	SkipUnmappedEvent
	// SkipUnknownPrincipal: the caller is not identified well enough.
	SkipUnknownPrincipal
	// SkipOtherAccountCaller: the resource owner's copy of a call made from
	// another account.
	SkipOtherAccountCaller
	// SkipUnsupportedPrincipal: a caller IAM policies do not govern.
	SkipUnsupportedPrincipal
	// SkipUnsupportedEventVersion: a record of a format version replay does
	// not know (other than 1.x), whose fields may mean something else.
	SkipUnsupportedEventVersion
)

// SkipKinds is the number of Skip values, NotSkipped included.
const SkipKinds = len(skipNames)

var skipNames = [...]string{"", "not_api_call", "no_iam_action", "unmapped_event", "unknown_principal",
	"other_account_caller", "unsupported_principal", "unsupported_event_version"}

func (s Skip) String() string { return skipNames[s] }

// Translation is one record turned into the requests it implies.
type Translation struct {
	Record *Record
	// Principal is the caller of a call translated into requests, and of
	// an unmapped call (SkipUnmappedEvent) when the record names a caller
	// of the account; otherwise it is zero.
	Principal engine.Principal
	// Outcome is the logged outcome; BlockedBy and Explicit are what an
	// access-denied message names, when HasBlockedBy.
	Outcome      Outcome
	BlockedBy    engine.PolicyType
	Explicit     bool
	HasBlockedBy bool
	// Requests holds one request per action the call needed, the call's own
	// action first.
	Requests []Request
	// Skip is why there are no requests; Detail adds the event or caller.
	Skip   Skip
	Detail string
}

// Request is one authorization request with what the snapshot joined to it.
type Request struct {
	engine.Request
	Resource ResolvedResource
	Join     Join
	// policies holds the policy set Join points to.
	policies engine.PolicySet
}

// Translator turns records into requests. It is not safe for concurrent
// use; give each goroutine its own (they may share the snapshot and the
// sessions).
type Translator struct {
	mapper   *ActionMapper
	resolver *ResourceResolver
	snap     *Snapshot
	sessions *Sessions
	// horizon is the last day of the sessions looked up; misses, when not
	// nil, gathers the lookups that were not final (see TrackSessions).
	horizon int
	misses  map[string]int
	// reqs and contexts are reused from record to record.
	reqs     []Request
	contexts []*engine.Context
	keys     recordKeys               // the deferred keys of the record being translated
	mapped   map[string][]mappedEvent // by event name
	nMapped  int                      // calls in mapped
	kinds    map[string]arnKind       // see arnKind
	listed   listedItems              // the items of a call with a Listing or on each resource
}

// mappedEvent is the action mapping of an API call, kept from record to
// record.
type mappedEvent struct {
	source string
	ActionMapping
	ok bool
}

// maxMappedEvents bounds the mappings a translator keeps: a log of more
// distinct calls than this has its later ones mapped anew each time.
const maxMappedEvents = 8192

// mapEvent is the mapper's Map, remembered per call. The calls are kept by
// event name, each with the few sources that share it, so that finding one
// hashes a single string.
func (t *Translator) mapEvent(source, name string) (ActionMapping, bool) {
	for _, m := range t.mapped[name] {
		if m.source == source {
			return m.ActionMapping, m.ok
		}
	}
	m, ok := t.mapper.Map(source, name)
	if t.mapped == nil {
		t.mapped = make(map[string][]mappedEvent)
	}
	if t.nMapped < maxMappedEvents {
		// The record's strings may be borrowed (see Reader.SetBorrowStrings).
		own := strings.Clone(name)
		t.mapped[own] = append(t.mapped[own], mappedEvent{strings.Clone(source), m, ok})
		t.nMapped++
	}
	return m, ok
}

// NewTranslator returns a translator over a snapshot and the sessions seen
// in the logs; sessions may be nil when they were not collected.
func NewTranslator(cat *catalog.Catalog, snap *Snapshot, sessions *Sessions) *Translator {
	return &Translator{
		mapper:   NewActionMapper(cat),
		resolver: NewResourceResolver(cat, snap.IAMPath),
		snap:     snap,
		sessions: sessions,
		horizon:  AllDays,
	}
}

// TrackSessions makes the translator look up only the sessions observed on
// days up to horizon, and gather the lookups whose outcome later
// observations could change, for SessionMisses.
func (t *Translator) TrackSessions(horizon int) {
	t.horizon, t.misses = horizon, map[string]int{}
}

// arnKind is parseKind, remembered per ARN as mapEvent remembers calls: a
// log names the same callers over and over.
func (t *Translator) arnKind(arn string) (engine.PrincipalKind, bool) {
	if k, ok := t.kinds[arn]; ok {
		return k.kind, k.ok
	}
	kind, ok := parseKind(arn)
	if t.kinds == nil {
		t.kinds = make(map[string]arnKind)
	}
	if len(t.kinds) < maxKnownARNs {
		t.kinds[strings.Clone(arn)] = arnKind{kind, ok}
	}
	return kind, ok
}

// arnKind is what parseKind told of an ARN.
type arnKind struct {
	kind engine.PrincipalKind
	ok   bool
}

// maxKnownARNs bounds the ARNs a translator remembers the kind of: those
// of a log with more callers than this are parsed anew each time.
const maxKnownARNs = 1 << 14

// SessionMisses returns the lookups gathered since TrackSessions that were
// not final, as access key ids mapped to the Links of their Resolution
// (see Sessions.Settled).
func (t *Translator) SessionMisses() map[string]int { return t.misses }

// notAPICall reports whether an event type records no caller's request.
func notAPICall(eventType string) bool {
	switch eventType {
	case "AwsServiceEvent", "AwsCloudTrailInsight", "AwsVpceEvent":
		return true
	}
	return false
}

// Translate turns one record into its requests, or says why it has none.
// The requests, their contexts and policy sets are the translator's: they
// are valid until the next call. The record's strings may be borrowed
// (see Reader.SetBorrowStrings): the translator copies those it keeps, and
// the translation holds them as the record does. A Translator is not safe
// for concurrent use.
func (t *Translator) Translate(rec *Record) Translation {
	tr := Translation{Record: rec}
	tr.Outcome, tr.BlockedBy, tr.Explicit, tr.HasBlockedBy = ClassifyOutcome(rec)
	if v := rec.EventVersion; v != "" && !strings.HasPrefix(v, "1.") {
		tr.Skip, tr.Detail = SkipUnsupportedEventVersion, v
		return tr
	}
	if notAPICall(rec.EventType) {
		tr.Skip, tr.Detail = SkipNotAPICall, rec.EventType
		return tr
	}
	m, ok := t.mapEvent(rec.EventSource, rec.EventName)
	var listed []listedRequest
	if ok && m.Listed != NotListed {
		// Items not logged, or not understood, leave the call unmapped.
		if listed, ok = t.listed.read(rec, m.Listed); ok {
			m.Actions = t.listed.actions
		}
	}
	switch {
	case !ok:
		tr.Skip, tr.Detail = SkipUnmappedEvent, rec.EventSource+" "+rec.EventName
		// Reports name the callers of calls no policy was checked against.
		if p, err := principalOf(rec, t.arnKind); err == nil {
			tr.Principal = p
		}
		return tr
	case m.NoAction != "":
		tr.Skip, tr.Detail = SkipNoIAMAction, rec.EventSource+" "+rec.EventName
		return tr
	}
	p, err := principalOf(rec, t.arnKind)
	if err != nil {
		tr.Detail = rec.UserIdentity.Type
		switch {
		case errors.Is(err, ErrOtherAccountCaller):
			tr.Skip = SkipOtherAccountCaller
		case errors.Is(err, ErrUnsupportedPrincipal):
			tr.Skip = SkipUnsupportedPrincipal
		default:
			tr.Skip = SkipUnknownPrincipal
		}
		return tr
	}
	tr.Principal = p
	var sess *Session
	if t.sessions != nil && needsSession(p.Kind) && rec.UserIdentity.AccessKeyID != "" {
		key := rec.UserIdentity.AccessKeyID
		r := t.sessions.ResolveAt(key, t.horizon, rec.EventTime)
		sess = r.Session
		if !r.Final && t.misses != nil {
			if _, ok := t.misses[key]; !ok {
				t.misses[strings.Clone(key)] = r.Links
			}
		}
	}
	if m.EachResource && len(m.Actions) == 1 {
		// One request per table a batch names, when it names several;
		// otherwise the resolver decides, as for any call.
		if each := t.listed.fromResources(m.Actions[0], t.resolver.EachFit(rec, m.Actions[0])); len(each) > 1 {
			listed, m.Actions = each, t.listed.actions
		}
	}
	actions := RefineActions(rec, m.Actions)
	tr.Requests = t.requests(len(actions))
	for i, action := range actions {
		r := &tr.Requests[i]
		if listed != nil {
			r.Resource = listed[i].resource
		} else if i == 0 {
			r.Resource = t.resolver.Resolve(rec, action)
		} else {
			r.Resource = t.secondaryResource(rec, action)
		}
		r.Principal = p
		r.Action = action
		r.Request.Resource = r.Resource.ARN
		r.ResourcePartial = r.Resource.Partial
		r.ResourceAccount = r.Resource.Account
		r.Context = t.contexts[i]
		r.Context.Reset()
		fillContext(r.Context, rec, &r.Principal, r.Resource.Account, &t.keys)
		r.Join = t.snap.joinTo(&r.Request, sess, &r.policies)
	}
	return tr
}

// requests returns n empty requests, each with a context to fill, reusing
// those of the previous record.
func (t *Translator) requests(n int) []Request {
	if cap(t.reqs) < n {
		t.reqs = make([]Request, n)
	}
	for len(t.contexts) < n {
		t.contexts = append(t.contexts, engine.NewContext())
	}
	reqs := t.reqs[:n]
	clear(reqs)
	return reqs
}

// secondaryResource returns the resource of an action a call needs besides
// its own, which the record's resources list does not tell apart: the copy
// source of an S3 copy, otherwise a pattern over every resource the action
// takes.
func (t *Translator) secondaryResource(rec *Record, action string) ResolvedResource {
	if (action == "s3:GetObject" || action == "s3:GetObjectVersion") && rec.EventSource == "s3.amazonaws.com" {
		var params requestParams
		params.parse(rec.RequestParameters)
		if src := params.get("x-amz-copy-source"); src != "" {
			src, _, _ = strings.Cut(src, "?")
			if u, err := url.PathUnescape(src); err == nil {
				src = u
			}
			src = strings.TrimPrefix(src, "/")
			if strings.Contains(src, "/") && !strings.HasPrefix(src, "arn:") {
				return ResolvedResource{ARN: "arn:" + partition(rec.AWSRegion) + ":s3:::" + src, Source: ResourceFromParameters}
			}
		}
	}
	return t.resolver.Wildcard(rec, action)
}
