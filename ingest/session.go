package ingest

import (
	"fmt"
	"hash/maphash"
	"math"
	"strings"
	"sync"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/replay-iam/replay/engine"
)

// Session is what the STS call that issued a set of temporary credentials
// set for the session: tags and session policies.
type Session struct {
	// Tags are the session tags, with the transitive tags of the session
	// that made the call.
	Tags map[string]string
	// Transitive lists the tag keys that pass on to chained sessions.
	Transitive []string
	// TagsComplete is false when some session tags are not in the log: tags
	// from a SAML assertion or a web identity token, or transitive tags of
	// a calling session whose own issuing call was not seen.
	TagsComplete bool
	// Policy is the inline session policy, nil when none was passed.
	Policy *engine.Policy
	// PolicyARNs are the managed session policies.
	PolicyARNs []string
	// PolicyProblem is set when the inline session policy was passed but
	// could not be read (logged truncated or malformed).
	PolicyProblem error
	// SourceIdentity is the source identity set by the call.
	SourceIdentity string
	// expires is when the credentials expire at the latest, in Unix
	// seconds; 0 when the issuing call has no time.
	expires int64
	// day is the day the issuing call was observed on (see ObserveOn).
	day int
	// parent is the key of the calling session whose transitive tags this
	// session has yet to take (see Sessions.lookupKey); chained is false when
	// there is none, or when they are taken.
	parent  uint64
	chained bool
	// tagKeys holds Tags with their condition keys (see principalTags).
	tagKeys []principalTag
}

// principalTags returns the session's tags with their condition keys,
// made anew when the session did not come from Sessions.
func (s *Session) principalTags() []principalTag {
	if len(s.tagKeys) == len(s.Tags) {
		return s.tagKeys
	}
	return principalTagsOf(s.Tags)
}

// maxChain bounds the role chains resolved: a chain longer than that, or
// a loop in a malformed log, leaves the session's tags incomplete.
const maxChain = 64

// MaxSessionLifetime is the longest any STS call's credentials live
// (GetFederationToken, 36 hours; role sessions last at most 12).
const MaxSessionLifetime = 36 * time.Hour

// Sessions holds the sessions issued by the STS calls seen in the logs,
// keyed by the access key id of the credentials they returned. Sessions
// with nothing to remember take a key, an expiry time and a day. Sessions
// past their lifetime can be dropped (Expire), so that a run reading the
// logs in time order holds only the sessions of a few days.
//
// Each session is tagged with the day its issuing call was observed on,
// and a lookup names the last day it may see (its horizon): a run that
// reads later days while earlier ones are still replayed resolves every
// lookup as if those later days were not read yet. Observe, Lookup,
// Resolve and Expire are safe for concurrent use.
type Sessions struct {
	seed   maphash.Seed
	shards [sessionShards]sessionShard
	// empty is returned for sessions issued with no tags, no session policy
	// and no source identity.
	empty Session
}

// sessionShards is the number of parts the store is cut into by key, each
// under its own lock. Workers look a session up for most records, and a
// reader that meets a writer holding the lock parks its thread, which
// takes longer to wake than the lookup takes; with the keys spread over
// the parts, a lookup rarely meets the writer recording a session.
const sessionShards = 64

// sessionShard holds the sessions whose keys fall in one part. The padding
// keeps the locks of two parts off one cache line.
type sessionShard struct {
	mu     sync.RWMutex
	plain  map[uint64]plainSession
	facts  map[uint64]*Session
	issued int
	_      [64]byte
}

// plainSession is a session with nothing to remember but its expiry, as
// Session.expires, and its day.
type plainSession struct {
	expires int64
	day     int
}

// NewSessions returns an empty session store.
func NewSessions() *Sessions {
	s := &Sessions{seed: maphash.MakeSeed(), empty: Session{TagsComplete: true}}
	for i := range s.shards {
		s.shards[i].plain, s.shards[i].facts = map[uint64]plainSession{}, map[uint64]*Session{}
	}
	return s
}

// shard returns the part of the store that holds key k.
func (s *Sessions) shard(k uint64) *sessionShard { return &s.shards[k%sessionShards] }

// AllDays is the horizon of a lookup that sees every session observed.
const AllDays = math.MaxInt

// sessionIssuers are the STS calls that issue session credentials whose
// tags and policies matter.
var sessionIssuers = map[string]bool{
	"AssumeRole":                true,
	"AssumeRoleWithSAML":        true,
	"AssumeRoleWithWebIdentity": true,
	"GetFederationToken":        true,
	"AssumeRoot":                true,
}

// IsSessionIssuer reports whether a record is an STS call that issues
// session credentials (successful or not).
func IsSessionIssuer(rec *Record) bool {
	return rec.EventSource == "sts.amazonaws.com" && sessionIssuers[rec.EventName]
}

// Len returns the number of sessions held.
func (s *Sessions) Len() int {
	return s.sum(func(sh *sessionShard) int { return len(sh.plain) + len(sh.facts) })
}

// Issued returns the number of distinct sessions observed, dropped ones
// included.
func (s *Sessions) Issued() int {
	return s.sum(func(sh *sessionShard) int { return sh.issued })
}

// sum adds up f over the parts of the store, each read under its lock.
func (s *Sessions) sum(f func(*sessionShard) int) int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		n += f(sh)
		sh.mu.RUnlock()
	}
	return n
}

// Expire drops the sessions whose credentials expired before t (issued
// more than MaxSessionLifetime before it) and returns how many it dropped.
// Sessions issued by a call without a time are kept.
func (s *Sessions) Expire(t time.Time) int {
	cut := t.Unix()
	n := 0
	for i := range s.shards {
		n += s.shards[i].expire(cut)
	}
	return n
}

// expire drops the part's sessions that expired before cut (Unix seconds).
func (sh *sessionShard) expire(cut int64) int {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	n := 0
	for k, p := range sh.plain {
		if p.expires != 0 && p.expires < cut {
			delete(sh.plain, k)
			n++
		}
	}
	for k, f := range sh.facts {
		if f.expires != 0 && f.expires < cut {
			delete(sh.facts, k)
			n++
		}
	}
	return n
}

func (s *Sessions) key(accessKeyID string) uint64 {
	return maphash.String(s.seed, accessKeyID)
}

// stsParams is the part of an STS call's requestParameters that shapes the
// session.
type stsParams struct {
	Tags []struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	} `json:"tags"`
	TransitiveTagKeys []string `json:"transitiveTagKeys"`
	Policy            *string  `json:"policy"`
	PolicyArns        []struct {
		ARN string `json:"arn"`
	} `json:"policyArns"`
	SourceIdentity string `json:"sourceIdentity"`
	TaskPolicyArn  *struct {
		ARN string `json:"arn"`
	} `json:"taskPolicyArn"`
}

type stsResponse struct {
	Credentials *struct {
		AccessKeyID string `json:"accessKeyId"`
	} `json:"credentials"`
}

// Observe records the session a successful STS call issued, on day 0. It
// returns false for records that issue no session or failed, and an error
// for a call whose parameters or response cannot be read.
func (s *Sessions) Observe(rec *Record) (bool, error) {
	return s.ObserveOn(rec, 0)
}

// ObserveOn is Observe on a given day (a run numbers its delivery days from
// 0). A session observed again keeps the earlier of its days.
func (s *Sessions) ObserveOn(rec *Record, day int) (bool, error) {
	if !IsSessionIssuer(rec) || rec.ErrorCode != "" {
		return false, nil
	}
	var resp stsResponse
	if err := gojson.Unmarshal(rec.ResponseElements, &resp); err != nil || resp.Credentials == nil || resp.Credentials.AccessKeyID == "" {
		if err == nil {
			err = fmt.Errorf("no credentials in the response")
		}
		return false, fmt.Errorf("%s %s: %w", rec.EventName, rec.EventID, err)
	}
	var p stsParams
	if len(rec.RequestParameters) > 0 {
		if err := gojson.Unmarshal(rec.RequestParameters, &p); err != nil {
			return false, fmt.Errorf("%s %s: request parameters: %w", rec.EventName, rec.EventID, err)
		}
	}
	sess := &Session{TagsComplete: true, SourceIdentity: p.SourceIdentity}
	// SAML and web identity sessions take their tags from the assertion or
	// token, which the log does not hold.
	if rec.EventName == "AssumeRoleWithSAML" || rec.EventName == "AssumeRoleWithWebIdentity" {
		sess.TagsComplete = false
	}
	for _, t := range p.Tags {
		if sess.Tags == nil {
			sess.Tags = map[string]string{}
		}
		// Tag keys are case-insensitive; the session keeps the spelling
		// passed.
		sess.Tags[t.Key] = t.Value
	}
	for _, k := range p.TransitiveTagKeys {
		if !containsFold(sess.Transitive, k) {
			sess.Transitive = append(sess.Transitive, k)
		}
	}
	if p.Policy != nil {
		pol, err := engine.ParsePolicy("session-policy:"+rec.EventID, engine.PolicySession, []byte(*p.Policy))
		if err != nil {
			sess.PolicyProblem = err
		} else {
			sess.Policy = pol
		}
	}
	for _, a := range p.PolicyArns {
		sess.PolicyARNs = append(sess.PolicyARNs, a.ARN)
	}
	if p.TaskPolicyArn != nil && p.TaskPolicyArn.ARN != "" {
		sess.PolicyARNs = append(sess.PolicyARNs, p.TaskPolicyArn.ARN)
	}
	var expires int64
	if !rec.EventTime.IsZero() {
		expires = rec.EventTime.Add(MaxSessionLifetime).Unix()
	}
	// Transitive tags of the calling session pass on. That session may be
	// observed later (the files of a day are read in any order), so when
	// its chain is not yet known, by this day, the session keeps its key
	// and takes its tags when looked up.
	if caller := rec.UserIdentity.AccessKeyID; caller != "" && rec.UserIdentity.Type == "AssumedRole" {
		sess.parent, sess.chained = s.key(caller), true
		if r := s.resolve(sess.parent, 0, day, 0); r.Final {
			sess = sess.inherit(r.Session)
		}
	}
	sess.expires, sess.day = expires, day
	sess.tagKeys = principalTagsOf(sess.Tags)
	k := s.key(resp.Credentials.AccessKeyID)
	sh := s.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	old, plain := sh.plain[k]
	f, facts := sh.facts[k]
	switch {
	case !plain && !facts:
		sh.issued++
	case plain && old.day <= day, facts && f.day <= day:
		return true, nil
	}
	if sess.isEmpty() {
		delete(sh.facts, k)
		sh.plain[k] = plainSession{expires, day}
	} else {
		delete(sh.plain, k)
		sh.facts[k] = sess
	}
	return true, nil
}

// isEmpty reports whether the session holds nothing beyond the empty
// session Lookup returns for plain sessions.
func (s *Session) isEmpty() bool {
	return s.Tags == nil && s.Transitive == nil && s.TagsComplete && s.Policy == nil &&
		s.PolicyProblem == nil && s.PolicyARNs == nil && s.SourceIdentity == "" && !s.chained
}

// inherit returns the session with the transitive tags of its calling
// session, parent (nil when not seen), taken: they come first, the
// session's own tags override them, and the tags are complete only when
// the parent's are.
func (s *Session) inherit(parent *Session) *Session {
	out := *s
	out.parent, out.chained, out.Tags, out.Transitive = 0, false, nil, nil
	if parent == nil {
		out.TagsComplete = false
	} else {
		out.day = max(out.day, parent.day)
		for _, k := range parent.Transitive {
			if v, ok := parent.Tags[k]; ok {
				if out.Tags == nil {
					out.Tags = map[string]string{}
				}
				out.Tags[k] = v
				out.Transitive = append(out.Transitive, k)
			}
		}
		out.TagsComplete = out.TagsComplete && parent.TagsComplete
	}
	for k, v := range s.Tags {
		if out.Tags == nil {
			out.Tags = map[string]string{}
		}
		out.Tags[k] = v
	}
	for _, k := range s.Transitive {
		if !containsFold(out.Transitive, k) {
			out.Transitive = append(out.Transitive, k)
		}
	}
	out.tagKeys = principalTagsOf(out.Tags)
	return &out
}

// Lookup returns the session issued with an access key id, on any day.
// The Session is shared: callers must not change it. A role session
// chained from another carries that session's transitive tags, whichever
// of the two issuing calls was observed first.
func (s *Sessions) Lookup(accessKeyID string) (*Session, bool) {
	r := s.Resolve(accessKeyID, AllDays)
	return r.Session, r.Session != nil
}

// A Resolution is the outcome of looking up an access key's session.
type Resolution struct {
	// Session is the session with its chain resolved, nil when the key's
	// own session is not held.
	Session *Session
	// Final reports whether every session up the chain is held, so that no
	// later observation can change the outcome.
	Final bool
	// Links counts the sessions of the chain found, the key's own first,
	// when the resolution is not final: two such lookups of a key that
	// find the same number of links have the same outcome. (A final
	// resolution may count a resolved chain as one link.)
	Links int
}

// Resolve looks up the session of an access key among those observed on
// days up to horizon (AllDays: any day).
func (s *Sessions) Resolve(accessKeyID string, horizon int) Resolution {
	return s.ResolveAt(accessKeyID, horizon, time.Time{})
}

// ResolveAt is Resolve for a call made at t: a session whose credentials
// had expired by then (issued more than MaxSessionLifetime before t) is
// not found, and that outcome is final. The outcome is so the same
// whether or not Expire has dropped the session yet. A zero t checks no
// expiry.
func (s *Sessions) ResolveAt(accessKeyID string, horizon int, t time.Time) Resolution {
	var at int64
	if !t.IsZero() {
		at = t.Unix()
	}
	return s.resolve(s.key(accessKeyID), 0, horizon, at)
}

// Settled reports whether lookups that were not final resolve as they did:
// misses maps access key ids to the Links of their Resolution.
func (s *Sessions) Settled(misses map[string]int, horizon int) bool {
	for key, links := range misses {
		if r := s.Resolve(key, horizon); r.Final || r.Links != links {
			return false
		}
	}
	return true
}

// resolve returns the resolution of key k, depth links down a chain. A
// final resolution replaces the chained session in the store, so that later
// lookups find it at once, unless some session up the chain was observed
// on a later day than the chained one: a lookup with a nearer horizon must
// still find the chained session unresolved.
func (s *Sessions) resolve(k uint64, depth, horizon int, at int64) Resolution {
	sh := s.shard(k)
	sh.mu.RLock()
	f, ok := sh.facts[k]
	var expires int64
	if ok {
		ok, expires = f.day <= horizon, f.expires
	} else {
		var p plainSession
		p, ok = sh.plain[k]
		ok, expires = ok && p.day <= horizon, p.expires
		f = &s.empty
	}
	sh.mu.RUnlock()
	if !ok {
		return Resolution{}
	}
	if at != 0 && expires != 0 && expires < at {
		return Resolution{Final: true}
	}
	if !f.chained {
		return Resolution{Session: f, Final: true, Links: 1}
	}
	var up Resolution
	if depth < maxChain {
		up = s.resolve(f.parent, depth+1, horizon, 0)
	}
	out := f.inherit(up.Session)
	if !up.Final {
		return Resolution{Session: out, Links: 1 + up.Links}
	}
	if out.day > f.day {
		return Resolution{Session: out, Final: true, Links: 1 + up.Links}
	}
	empty := out.isEmpty()
	sh.mu.Lock()
	if sh.facts[k] == f {
		if empty {
			delete(sh.facts, k)
			sh.plain[k] = plainSession{out.expires, out.day}
		} else {
			sh.facts[k] = out
		}
	}
	sh.mu.Unlock()
	if empty {
		return Resolution{Session: &s.empty, Final: true, Links: 1 + up.Links}
	}
	return Resolution{Session: out, Final: true, Links: 1 + up.Links}
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
