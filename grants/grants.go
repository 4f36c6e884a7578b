// Package grants computes the effective permissions of the snapshot's
// principals: every catalogue action that some request context and resource
// would let the principal perform, after explicit denies, permissions
// boundaries, SCPs and RCPs, with the identity statement that grants it.
package grants

import (
	"iter"
	"strings"

	"github.com/replay-iam/replay/catalog"
	"github.com/replay-iam/replay/engine"
	"github.com/replay-iam/replay/ingest"
)

// Grant is one action a principal's effective permissions allow.
type Grant struct {
	Action *catalog.Action
	// By is the first identity statement, in policy order (inline,
	// attached, then the groups'), whose Allow covers the action; its
	// Policy.ID and Ref name it.
	By *engine.Statement
	// Conditional is true when the action is allowed only for some
	// resources or request contexts (the decision for an unnamed resource
	// and unknown context was indeterminate, not allow).
	Conditional bool
}

// StatementGrant is one identity Allow statement and how many of the
// principal's granted actions it covers.
type StatementGrant struct {
	PolicyID  string
	Statement string
	Actions   int
}

// Permissions are a principal's effective permissions.
type Permissions struct {
	// Blocked counts, per policy type (engine.PolicyType.String()), the
	// actions an identity policy allows but that policy type denies for
	// every resource and context.
	Blocked map[string]int
	// Statements lists, in policy order, the identity Allow statements that
	// grant at least one action.
	Statements []StatementGrant

	// grants, sorted by action name, name their statements by position in
	// allows: principals whose policies compile alike share them (see
	// indexedPermissions), and an estate of many such principals allowed
	// everything would otherwise hold tens of thousands of grants each.
	grants []indexedGrant
	allows []*engine.Statement
}

// NewPermissions returns permissions that grant grants, in their order
// (Effective gives them in order of action name), with the statements and
// blocked counts given.
func NewPermissions(grants []Grant, statements []StatementGrant, blocked map[string]int) Permissions {
	p := Permissions{Blocked: blocked, Statements: statements, grants: make([]indexedGrant, len(grants))}
	at := map[*engine.Statement]int32{}
	for i, g := range grants {
		by, ok := at[g.By]
		if !ok {
			by = int32(len(p.allows))
			at[g.By] = by
			p.allows = append(p.allows, g.By)
		}
		p.grants[i] = indexedGrant{action: g.Action, by: by, conditional: g.Conditional}
	}
	return p
}

// NumGrants returns the number of actions granted.
func (p *Permissions) NumGrants() int { return len(p.grants) }

// Grant returns the ith action granted.
func (p *Permissions) Grant(i int) Grant {
	g := &p.grants[i]
	return Grant{Action: g.action, By: p.allows[g.by], Conditional: g.conditional}
}

// Grants returns the actions granted, in order.
func (p *Permissions) Grants() iter.Seq[Grant] {
	return func(yield func(Grant) bool) {
		for i := range p.grants {
			if !yield(p.Grant(i)) {
				return
			}
		}
	}
}

// Analyzer computes effective permissions against one catalogue and
// snapshot. It is safe for concurrent use.
type Analyzer struct {
	cat    *catalog.Catalog
	snap   *ingest.Snapshot
	shared sharedPermissions
}

// New returns an analyzer.
func New(cat *catalog.Catalog, snap *ingest.Snapshot) *Analyzer {
	return &Analyzer{cat: cat, snap: snap, shared: sharedPermissions{byKey: map[string][]*indexedPermissions{}}}
}

// Principal returns the engine principal that stands for an entity of the
// snapshot: the user, or any session of the role.
func Principal(e *ingest.Entity) engine.Principal {
	if strings.Contains(e.ARN, ":role/") {
		return engine.Principal{Kind: engine.PrincipalRole, ARN: e.ARN, EntityARN: e.ARN, Account: e.Account, UniqueID: e.ID}
	}
	return engine.Principal{Kind: engine.PrincipalUser, ARN: e.ARN, Account: e.Account, UniqueID: e.ID}
}

// principalContext holds what is known of any request the entity makes:
// its identity keys. Everything else is unknown.
func principalContext(p *engine.Principal, e *ingest.Entity) *engine.Context {
	ctx := engine.NewContext()
	ctx.SetDefault(engine.KeyUnknown)
	ctx.Set("aws:PrincipalArn", p.ARN)
	ctx.Set("aws:PrincipalAccount", p.Account)
	ctx.Set("aws:PrincipalIsAWSService", "false")
	if p.Kind == engine.PrincipalUser {
		ctx.Set("aws:PrincipalType", "User")
		ctx.Set("aws:username", e.Name)
		if e.ID != "" {
			ctx.Set("aws:userid", e.ID)
		}
	} else {
		ctx.Set("aws:PrincipalType", "AssumedRole")
		ctx.SetAbsent("aws:username")
	}
	return ctx
}

// allowCover is where the actions an identity Allow statement covers lie
// in the list of covered actions.
type allowCover struct{ start, end int }

// allowStatements returns the identity Allow statements in policy order,
// each once: a policy attached twice (to the user and a group) counts once.
func allowStatements(identity []*engine.Policy) []*engine.Statement {
	var allows []*engine.Statement
	counted := map[*engine.Statement]bool{}
	for _, pol := range identity {
		for _, st := range pol.Statements {
			if counted[st] || st.Effect != engine.Allow {
				continue
			}
			counted[st] = true
			allows = append(allows, st)
		}
	}
	return allows
}

// Effective computes an entity's effective permissions. An action is
// granted when an identity policy allows it and the decision for a request
// on an unnamed resource, with only the principal's own condition keys
// known, is allow or indeterminate: some resource and context may let the
// call through. Denies, boundaries, SCPs and RCPs that block the action
// whatever the resource and context remove it.
//
// Principals whose policies compile alike (the same role deployed to many
// accounts) often get the same decisions: those of one are kept, with what
// they read of the request (engine.SweepReads), and serve another whose
// request reads alike.
func (a *Analyzer) Effective(e *ingest.Entity) Permissions {
	p := Principal(e)
	req := engine.Request{Principal: p, Resource: "*", ResourcePartial: true, ResourceAccount: e.Account, Context: principalContext(&p, e)}
	join := a.snap.PolicySetFor(&req, nil)
	// The identity policies evaluated are the entity's own
	// (Snapshot.IdentityPolicies).
	allows := allowStatements(join.Policies.Identity)
	if len(allows) == 0 {
		return Permissions{Blocked: map[string]int{}}
	}
	key, shareable := shareKey(join.Policies)
	if shareable {
		if sp := a.shared.find(key, &req, join.Policies.Compat); sp != nil {
			return sp.permissions(allows)
		}
	}
	sp := a.sweep(allows, &req, join.Policies, shareable)
	if shareable {
		a.shared.add(key, sp)
	}
	return sp.permissions(allows)
}

// sweep decides the request for every action an Allow statement covers and
// returns the permissions in index form; with record, also what the
// decisions read of the request.
func (a *Analyzer) sweep(allows []*engine.Statement, req *engine.Request, ps *engine.PolicySet, record bool) *indexedPermissions {
	// Every action an identity Allow statement covers: covered lists the
	// actions (by index) of each statement in turn, and first holds, for
	// each action, 1 + the index in allows of the first statement that
	// covers it, or 0.
	first := make([]int32, a.cat.NumActions())
	covers := make([]allowCover, len(allows))
	var covered []int32
	candidates := 0
	for i, st := range allows {
		start := len(covered)
		a.eachAction(st, func(act *catalog.Action) {
			covered = append(covered, int32(act.Index()))
			if first[act.Index()] == 0 {
				first[act.Index()] = int32(i + 1)
				candidates++
			}
		})
		covers[i] = allowCover{start: start, end: len(covered)}
	}
	ip := &indexedPermissions{blocked: map[string]int{}, compat: ps.Compat}
	if candidates == 0 {
		return ip
	}
	sweep := engine.NewActionSweep(req, ps)
	if record {
		sweep.RecordReads()
	}
	granted := make([]bool, len(first))
	ip.grants = make([]indexedGrant, 0, candidates)
	// In name order, so that the grants come sorted.
	for _, act := range a.cat.ActionsInNameOrder() {
		by := first[act.Index()]
		if by == 0 {
			continue
		}
		d := sweep.Authorize(act)
		if d.Reason == engine.ReasonAlwaysAllowed {
			// No policy grants what every caller may do.
			continue
		}
		if !d.PossiblyAllowed() {
			blocker := "identity"
			if d.HasBy {
				blocker = d.By.String()
			}
			ip.blocked[blocker]++
			continue
		}
		granted[act.Index()] = true
		ip.grants = append(ip.grants, indexedGrant{action: act, by: by - 1, conditional: d.Verdict != engine.VerdictAllow})
	}
	for i, c := range covers {
		n := 0
		for _, x := range covered[c.start:c.end] {
			if granted[x] {
				n++
			}
		}
		if n > 0 {
			ip.statements = append(ip.statements, indexedStatement{allow: int32(i), actions: n})
		}
	}
	ip.reads = sweep.Reads()
	return ip
}

// eachAction calls fn for every catalogue action the statement covers.
func (a *Analyzer) eachAction(st *engine.Statement, fn func(*catalog.Action)) {
	var services []*catalog.Service
	if prefixes, ok := st.Services(); ok {
		for _, pre := range prefixes {
			if svc, ok := a.cat.Service(pre); ok {
				services = append(services, svc)
			}
		}
	} else {
		services = a.cat.Services()
	}
	for _, svc := range services {
		for _, act := range svc.Actions {
			if st.MatchesAction(act.FullName()) {
				fn(act)
			}
		}
	}
}
