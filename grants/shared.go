package grants

import (
	"encoding/binary"
	"maps"
	"sync"
	"sync/atomic"

	"github.com/replay-iam/replay/catalog"
	"github.com/replay-iam/replay/engine"
)

// indexedPermissions are effective permissions with each statement named by
// its position among the principal's identity Allow statements (see
// allowStatements): they hold for every principal whose policies compile
// alike, given the statements of each. reads is what the decisions read of
// the request they were made for; nil when not recorded.
type indexedPermissions struct {
	grants     []indexedGrant
	blocked    map[string]int
	statements []indexedStatement
	reads      *engine.SweepReads
	compat     engine.Compat
}

type indexedGrant struct {
	action      *catalog.Action
	by          int32 // position of the granting statement
	conditional bool
}

type indexedStatement struct {
	allow   int32 // position of the statement
	actions int
}

// permissions returns the permissions with the statements of allows, the
// Allow statements of a principal whose policies compile alike to those
// they were computed for. They share ip's grants, which are not changed
// once computed.
func (ip *indexedPermissions) permissions(allows []*engine.Statement) Permissions {
	perms := Permissions{Blocked: maps.Clone(ip.blocked), grants: ip.grants, allows: allows}
	for _, st := range ip.statements {
		s := allows[st.allow]
		perms.Statements = append(perms.Statements, StatementGrant{PolicyID: s.Policy.ID, Statement: s.Ref(), Actions: st.actions})
	}
	return perms
}

// shareKey returns a key that principals whose effective permissions may be
// shared have in common: the digests of every policy of their policy set
// (engine.Policy.Digest), in order and level by level, with where an
// identity policy repeats one before it (a repeat counts once), and the
// set's flags but Compat. ok is false when a policy has no digest.
func shareKey(ps *engine.PolicySet) (key string, ok bool) {
	identity := ps.Identity
	var b []byte
	ok = true
	addAll := func(ps []*engine.Policy) {
		b = binary.AppendUvarint(b, uint64(len(ps)))
		for _, p := range ps {
			d, has := p.Digest()
			b = append(b, d[:]...)
			ok = ok && has
		}
	}
	addAll(identity)
	for i, p := range identity {
		first := i
		for j := range i {
			if identity[j] == p {
				first = j
				break
			}
		}
		b = binary.AppendUvarint(b, uint64(first))
	}
	optional := func(p *engine.Policy) []*engine.Policy {
		if p == nil {
			return nil
		}
		return []*engine.Policy{p}
	}
	addAll(optional(ps.Boundary))
	addAll(ps.Session)
	for _, levels := range [][]engine.OrgLevel{ps.SCPs, ps.RCPs} {
		b = binary.AppendUvarint(b, uint64(len(levels)))
		for _, l := range levels {
			addAll(l.Policies)
		}
	}
	addAll(optional(ps.Resource))
	addAll(ps.VPCEndpoint)
	flags := byte(0)
	for i, f := range []bool{ps.PrincipalInManagementAccount, ps.ResourceInManagementAccount, ps.AWSManagedKey} {
		if f {
			flags |= 1 << i
		}
	}
	b = append(b, flags)
	return string(b), ok
}

// sharedPermissions keeps the indexed permissions computed so far, by
// shareKey, for principals whose requests read alike. It bounds what it
// keeps: a few sets of permissions per key, and grants in all.
type sharedPermissions struct {
	mu     sync.Mutex
	byKey  map[string][]*indexedPermissions
	grants int
	hits   atomic.Int64 // permissions found, for tests
}

const (
	// maxSharedPerKey bounds the permissions kept per key: principals of
	// policies that read their own ARN or name are alike in nothing.
	maxSharedPerKey = 4
	// maxSharedGrants bounds the grants kept in all: about 20 MB.
	maxSharedGrants = 1 << 20
)

// find returns permissions kept under key whose decisions req would read
// alike, or nil.
func (s *sharedPermissions) find(key string, req *engine.Request, compat engine.Compat) *indexedPermissions {
	s.mu.Lock()
	kept := s.byKey[key]
	s.mu.Unlock()
	for _, ip := range kept {
		if ip.compat == compat && ip.reads.Holds(req) {
			s.hits.Add(1)
			return ip
		}
	}
	return nil
}

// add keeps ip under key, within the bounds.
func (s *sharedPermissions) add(key string, ip *indexedPermissions) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ip.reads == nil || len(s.byKey[key]) >= maxSharedPerKey || s.grants+len(ip.grants) > maxSharedGrants {
		return
	}
	s.byKey[key] = append(s.byKey[key], ip)
	s.grants += len(ip.grants)
}
