package engine

import (
	"hash/maphash"
	"math/bits"
	"strings"
)

// Cache remembers decisions so that requests which differ only in what the
// evaluation never looked at are decided once. A log holds the same caller
// doing the same thing many times, to the same resource or to others like
// it; the request contexts differ (time, address, user agent), but the
// policies usually read few keys, or none.
//
// The cache is exact. Evaluation is a deterministic function of the request
// (principal, action, resource), the policy set and the context keys it
// looks up, so the cache records, with each decision, every key the
// evaluation looked up and what it found. A later request with the same
// principal, action, resource and policies whose context gives the same
// answers for those keys would be evaluated along the same path to the same
// decision, which the cache returns. Any other request is evaluated.
//
// A resource named by a plain ARN (no wildcard) enters evaluation at a few
// points only: whether each statement's Resource or NotResource matches it,
// whether it is a role or KMS key whose own policy must allow, whether AWS
// owns it, and the account that owns it. For such a resource the cache
// records the answers at those points instead of the ARN (the account is
// part of the shape): a request on another object of the same bucket, say,
// that gets the same answers follows the same path to the same decision.
// Each recorded Resource match is checked again on the new resource, which
// costs a pattern match per statement that looked at the resource, less
// than an evaluation.
//
// The name of a role session enters evaluation at one point only, besides
// the context keys that carry it (aws:userid, recorded as lookups): a
// resource policy's Principal entry that names a session of the same role.
// Sessions come and go by the thousand, so the shape of a role session
// leaves the session name out; a variant whose evaluation compared the name
// with such an entry holds for that session alone.
//
// Recording a decision costs more than evaluating it, and many shapes occur
// once, so a shape is recorded only the second time it is seen.
//
// A Cache is not safe for concurrent use: give each goroutine its own.
// Its size is bounded; when full, it starts over.
type Cache struct {
	seed     maphash.Seed
	shapes   map[uint64]*shape   // by hash of the shape key
	seen     map[uint64]struct{} // shapes seen once
	variants int
	max      int
	stats    CacheStats
}

// CacheStats counts lookups.
type CacheStats struct {
	Hits, Misses, Uncacheable int
}

// shapeKey is everything of a request but its context; for a resource
// named by a plain ARN, everything but the resource too (general).
type shapeKey struct {
	principal       Principal
	action          string
	resource        string // "" when general
	resourceAccount string // when general, as evaluation derives it
	partial         bool
	general         bool
	// anySession: the principal is a role session whose ARN is cut before
	// the session name, so that the shape holds every session of the role.
	anySession bool
}

// shape holds the decisions recorded for one request shape.
type shape struct {
	key      shapeKey
	variants []variant
	next     int // the variant to replace when the shape is full
}

// variant is one decision and the key lookups it depended on; for a
// general shape, also the answers the resource gave.
type variant struct {
	policies PolicySet
	reads    []keyRead
	decision Decision
	resource resourceAnswers
	// sessionRead: the evaluation compared the session name, session, with
	// a Principal entry; a variant of an anySession shape that did not
	// holds for every session of the role.
	sessionRead bool
	session     string
}

// resourceAnswers are the answers a resource named by a plain ARN gives
// during evaluation, other than its account.
type resourceAnswers struct {
	arn     string // the resource they were recorded for
	kind    resourceKind
	owned   bool
	matches []resourceMatch
}

// answersOf returns the answers of a prepared request's resource, with the
// Resource matches recorded by its evaluation.
func answersOf(pr *preparedRequest, matches []resourceMatch) resourceAnswers {
	return resourceAnswers{arn: strings.Clone(pr.req.Resource), kind: classifyResource(pr), owned: awsOwnedResource(pr),
		matches: matches}
}

// sameAnswers reports whether the resource of pr, another than the one
// they were recorded for, gives the recorded answers, the context being the
// one the variant's key lookups matched.
func (a *resourceAnswers) sameAnswers(pr *preparedRequest, ps *PolicySet) bool {
	if classifyResource(pr) != a.kind || awsOwnedResource(pr) != a.owned {
		return false
	}
	es := evalState{compat: &ps.Compat}
	for _, m := range a.matches {
		if m.st.matchResource(&pr.resource, pr.req.Context, &es) != m.result {
			return false
		}
	}
	return true
}

// keyRead is one context lookup made during an evaluation.
type keyRead struct {
	key    Key
	pos    int // where the key was in the context's entries, a hint for the next
	state  KeyState
	multi  bool
	values []string
}

// readLog collects the distinct lookups of one evaluation.
type readLog struct{ reads []keyRead }

func (l *readLog) add(k Key, pos int, st KeyState, vals []string, multi bool) {
	for i := range l.reads {
		if l.reads[i].key == k {
			return
		}
	}
	// Cloned, so that a remembered read keeps no request's memory alive.
	kept := make([]string, len(vals))
	for i, v := range vals {
		kept[i] = strings.Clone(v)
	}
	l.reads = append(l.reads, keyRead{key: Key{lkey: strings.Clone(k.lkey), slot: k.slot}, pos: pos, state: st, multi: multi, values: kept})
}

const (
	// defaultCacheSize is in variants. A larger cache answers no more
	// requests on CloudTrail workloads (role sessions, part of every shape,
	// come and go within hours) and costs memory and collection: on a day of
	// one busy account, 65,536 gave the same 71 % hit ratio as 4,096, with
	// twice the peak RSS and 15 % more time.
	defaultCacheSize = 1 << 12
	variantsPerShape = 8
)

// NewCache returns a cache holding up to size decisions (a default size
// when size <= 0).
func NewCache(size int) *Cache {
	if size <= 0 {
		size = defaultCacheSize
	}
	return &Cache{seed: maphash.MakeSeed(), shapes: make(map[uint64]*shape), seen: make(map[uint64]struct{}), max: size}
}

// Stats returns the lookups so far.
func (c *Cache) Stats() CacheStats { return c.stats }

// Authorize returns Authorize(req, ps), from the cache when it can.
func (c *Cache) Authorize(req *Request, ps *PolicySet) Decision {
	ctx := req.Context
	if ctx == nil || ctx.reads != nil {
		c.stats.Uncacheable++
		return Authorize(req, ps)
	}
	key := shapeKey{principal: req.Principal, action: req.Action, partial: req.ResourcePartial}
	var session string
	if role, name, ok := req.Principal.splitSession(); ok {
		key.principal.ARN, key.anySession, session = role, true, name
	}
	// A plain ARN is general, with the account evaluation derives for it
	// (see prepareResource); anything else is part of the shape as given.
	if fields, isARN := splitARN(req.Resource); isARN && !hasWildcard(req.Resource) {
		key.general, key.resourceAccount = true, req.ResourceAccount
		if key.resourceAccount == "" {
			key.resourceAccount = fields[4]
		}
	} else {
		key.resource, key.resourceAccount = req.Resource, req.ResourceAccount
	}
	h := c.hash(&key)
	sh := c.shapes[h]
	// The request is prepared when first needed: on a hit, only to check a
	// resource other than the one a variant was recorded for.
	var pr preparedRequest
	prepared := false
	if sh != nil && sh.key == key {
		for i := range sh.variants {
			v := &sh.variants[i]
			if !samePolicies(&v.policies, ps) || (v.sessionRead && v.session != session) || !v.matches(ctx) {
				continue
			}
			if key.general && req.Resource != v.resource.arn {
				if !prepared {
					pr, prepared = prepareResource(req), true
				}
				if !v.resource.sameAnswers(&pr, ps) {
					continue
				}
			}
			c.stats.Hits++
			return v.decision
		}
	}
	c.stats.Misses++
	if !prepared {
		pr = prepareResource(req)
	}
	pr.prepareCaller()
	es := evalState{compat: &ps.Compat}
	if sh == nil {
		if _, ok := c.seen[h]; !ok {
			if len(c.seen) >= c.max {
				clear(c.seen)
			}
			c.seen[h] = struct{}{}
			return authorizePrepared(&pr, ps, &es)
		}
	} else if sh.key != key {
		return authorizePrepared(&pr, ps, &es) // another shape with the same hash holds the slot
	}
	var log readLog
	var matches []resourceMatch
	ctx.reads = &log
	if key.general {
		es.resources = &matches
	}
	d := authorizePrepared(&pr, ps, &es)
	ctx.reads = nil
	v := variant{policies: *ps, reads: log.reads, decision: d, sessionRead: pr.id.sessionRead}
	if v.sessionRead {
		v.session = strings.Clone(session)
	}
	if key.general {
		v.resource = answersOf(&pr, matches)
	}
	c.remember(h, key, sh, v)
	return d
}

// hash hashes the parts of a shape key that tell shapes apart in practice;
// the others (the principal's account, entity and kind follow from its ARN)
// are compared when the shape is found. Shapes that collide are still told
// apart by that comparison: the later one is evaluated each time.
func (c *Cache) hash(k *shapeKey) uint64 {
	h := maphash.String(c.seed, k.principal.ARN)
	h = mixHash(h, maphash.String(c.seed, k.principal.UniqueID))
	h = mixHash(h, maphash.String(c.seed, k.action))
	h = mixHash(h, maphash.String(c.seed, k.resource))
	h = mixHash(h, maphash.String(c.seed, k.resourceAccount))
	var flags uint64
	if k.partial {
		flags |= 1
	}
	if k.general {
		flags |= 2
	}
	if k.anySession {
		flags |= 4
	}
	return mixHash(h, flags)
}

// mixHash combines a running hash with the hash of one more part, in an
// order-dependent way.
func mixHash(h, part uint64) uint64 {
	return (bits.RotateLeft64(h, 23) ^ part) * 0x9e3779b97f4a7c15
}

func (c *Cache) remember(h uint64, key shapeKey, sh *shape, v variant) {
	if c.variants >= c.max {
		clear(c.shapes)
		c.variants = 0
		sh = nil
	}
	if sh == nil {
		key.principal = Principal{Kind: key.principal.Kind, ARN: strings.Clone(key.principal.ARN),
			Account: strings.Clone(key.principal.Account), EntityARN: strings.Clone(key.principal.EntityARN),
			UniqueID: strings.Clone(key.principal.UniqueID)}
		key.action = strings.Clone(key.action)
		key.resource = strings.Clone(key.resource)
		key.resourceAccount = strings.Clone(key.resourceAccount)
		sh = &shape{key: key}
		c.shapes[h] = sh
	}
	if len(sh.variants) < variantsPerShape {
		sh.variants = append(sh.variants, v)
		c.variants++
		return
	}
	sh.variants[sh.next] = v
	sh.next = (sh.next + 1) % variantsPerShape
}

// matches reports whether ctx answers every recorded lookup as before.
func (v *variant) matches(ctx *Context) bool {
	for i := range v.reads {
		r := &v.reads[i]
		st, vals, multi, _ := ctx.findAt(r.key, r.pos)
		if st != r.state || multi != r.multi || len(vals) != len(r.values) {
			return false
		}
		for j := range vals {
			if vals[j] != r.values[j] {
				return false
			}
		}
	}
	return true
}

// samePolicies reports whether two policy sets hold the same policies
// (compared by identity: policies are compiled once) and the same flags.
func samePolicies(a, b *PolicySet) bool {
	return samePtrs(a.Identity, b.Identity) && a.Boundary == b.Boundary && samePtrs(a.Session, b.Session) &&
		sameLevels(a.SCPs, b.SCPs) && sameLevels(a.RCPs, b.RCPs) && a.Resource == b.Resource &&
		samePtrs(a.VPCEndpoint, b.VPCEndpoint) &&
		a.PrincipalInManagementAccount == b.PrincipalInManagementAccount &&
		a.ResourceInManagementAccount == b.ResourceInManagementAccount && a.AWSManagedKey == b.AWSManagedKey &&
		a.Compat == b.Compat
}

func samePtrs(a, b []*Policy) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sameLevels(a, b []OrgLevel) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID || !samePtrs(a[i].Policies, b[i].Policies) {
			return false
		}
	}
	return true
}
