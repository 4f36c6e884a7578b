package engine

// Trace records how every statement fared in one evaluation, for `replay explain`.
type Trace struct {
	Steps []TraceStep
}

// TraceStep is one statement's evaluation.
type TraceStep struct {
	PolicyType PolicyType
	PolicyID   string
	OrgLevel   string
	Statement  string
	Effect     Effect
	Action     bool
	Resource   Tri
	// Principal is the way the statement's Principal matched the caller
	// ("" when the statement has none).
	Principal  string
	Conditions []TraceCondition
	Result     Tri
}

// TraceCondition is one condition's evaluation.
type TraceCondition struct {
	Operator string
	Key      string
	KeyState KeyState
	Values   []string
	Result   Tri
}

// evalSet evaluates a list of policies of one type.
func (es *evalState) evalSet(typ PolicyType, level string, ps []*Policy, pr *preparedRequest, ctx *Context) setResult {
	var r setResult
	for _, p := range ps {
		// Only statements that can name the request's service are looked at,
		// in document order.
		cand, wild := p.byService[pr.service], p.anyService
		for len(cand) > 0 || len(wild) > 0 {
			var i int32
			if len(wild) == 0 || (len(cand) > 0 && cand[0] < wild[0]) {
				i, cand = cand[0], cand[1:]
			} else {
				i, wild = wild[0], wild[1:]
			}
			st := p.Statements[i]
			m, kind := st.applies(typ, pr, ctx, es, level)
			if m == False {
				continue
			}
			if st.Effect == Deny {
				r.deny = r.deny.Or(m)
				if m == True && r.denyStmt == nil {
					r.denyStmt = st
				}
				continue
			}
			r.allow = r.allow.Or(m)
			if m == True && r.allowSt == nil {
				r.allowSt = st
			}
			r.byKind[kind] = r.byKind[kind].Or(m)
			if m == True && r.kindStmt[kind] == nil {
				r.kindStmt[kind] = st
			}
		}
	}
	return r
}

// resourceSide reports whether statements of this type carry a Principal.
func resourceSide(t PolicyType) bool {
	return t == PolicyResource || t == PolicyRCP || t == PolicyVPCEndpoint
}

// applies evaluates whether the statement matches the request, and for
// resource-side statements how its Principal matched the caller.
func (st *Statement) applies(typ PolicyType, pr *preparedRequest, ctx *Context, es *evalState, level string) (Tri, matchKind) {
	var step *TraceStep
	if es.trace != nil {
		es.trace.Steps = append(es.trace.Steps, TraceStep{PolicyType: typ, PolicyID: st.Policy.ID, OrgLevel: level,
			Statement: st.Ref(), Effect: st.Effect})
		step = &es.trace.Steps[len(es.trace.Steps)-1]
	}
	if !st.matchAction(pr.action) {
		return False, matchNone
	}
	if step != nil {
		step.Action = true
	}
	result := True
	if st.hasResource {
		m := st.matchResource(&pr.resource, ctx, es)
		if es.resources != nil {
			*es.resources = append(*es.resources, resourceMatch{st, m})
		}
		if step != nil {
			step.Resource = m
		}
		if m == False {
			return False, matchNone
		}
		result = m
	} else if step != nil {
		step.Resource = True
	}
	kind := matchWildcard
	if resourceSide(typ) {
		var pm Tri
		if es.callerNamed != nil && st.hasPrincipal && (st.notPrincipal || !principalsAreWildcard(st.principals)) {
			*es.callerNamed = true
		}
		kind, pm = st.matchPrincipal(typ, &pr.id)
		if step != nil {
			step.Principal = kind.String()
		}
		if kind == matchNone {
			return False, matchNone
		}
		if pm == Unknown {
			es.noteUnknown(roleSessionNameKey)
			result = result.And(pm)
		}
	}
	for i := range st.conditions {
		c := &st.conditions[i]
		m := c.eval(ctx, es)
		if step != nil {
			state, vals, _ := ctx.lookup(c.key)
			step.Conditions = append(step.Conditions, TraceCondition{Operator: c.opText, Key: c.keyText,
				KeyState: state, Values: vals, Result: m})
		}
		result = result.And(m)
		if result == False && step == nil {
			break
		}
	}
	if step != nil {
		step.Result = result
	}
	return result, kind
}

// matchResource evaluates Resource or NotResource. For a request resource
// that is a pattern, an Allow needs an overlap and a Deny must cover it.
func (st *Statement) matchResource(r *resourceRef, ctx *Context, es *evalState) Tri {
	m := False
	for i := range st.resources {
		p := &st.resources[i]
		var x Tri
		switch {
		case st.notResource && es.compat.UnresolvedNotResourceExcludes && p.unresolved(ctx):
			x = True
		case !r.pattern:
			x = p.matchResource(r, ctx)
		case r.partial:
			x = p.partialRelation(r, ctx, es)
		case st.notResource:
			// NotResource excludes the request when an entry covers it (Allow)
			// or when an entry overlaps it at all (Deny).
			x = p.patternRelation(r, ctx, st.Effect == Allow)
		default:
			x = p.patternRelation(r, ctx, st.Effect == Deny)
		}
		if m = m.Or(x); m == True {
			break
		}
	}
	if st.notResource {
		return m.Not()
	}
	return m
}

// partialRelation matches an entry against a resource known only as a
// pattern: true when the entry covers every resource the pattern stands for,
// false when it matches none of them, unknown otherwise.
func (p *arnPattern) partialRelation(r *resourceRef, ctx *Context, es *evalState) Tri {
	if c := p.patternRelation(r, ctx, true); c == True {
		return True
	}
	o := p.patternRelation(r, ctx, false)
	if o == False {
		return False
	}
	es.noteUnknown(ResourceUnknownKey)
	return Unknown
}

func (st *Statement) matchAction(action string) bool {
	m := false
	for i := range st.actions {
		p := &st.actions[i]
		if p.isLit {
			if equalFoldASCII(action, p.literal) {
				m = true
				break
			}
			continue
		}
		if p.isPrefix {
			if hasPrefixCase(action, p.prefix, true) {
				m = true
				break
			}
			continue
		}
		if p.anyText || matchSegsFold(p.segs, action) {
			m = true
			break
		}
	}
	return m != st.notAction
}

// matchPrincipal tells how the statement's Principal or NotPrincipal covers
// the caller; matchNone means the statement does not apply to it.
func (st *Statement) matchPrincipal(typ PolicyType, id *principalIdentity) (matchKind, Tri) {
	if !st.hasPrincipal {
		if typ == PolicyVPCEndpoint {
			return matchWildcard, True // an endpoint policy statement without Principal covers everyone
		}
		return matchNone, True
	}
	if !st.notPrincipal {
		return matchPrincipals(st.principals, id)
	}
	// NotPrincipal: the statement applies to everyone not listed. A Deny with
	// NotPrincipal always applies to a principal with a permissions boundary.
	if st.Effect == Deny && id.hasBoundary {
		return matchWildcard, True
	}
	if notPrincipalSpares(st.principals, id) {
		return matchNone, True
	}
	return matchWildcard, True
}

// roleSessionNameKey is reported as the unknown input when a role stands for
// any of its sessions and a policy names one session.
const roleSessionNameKey = "(role session name)"

// notPrincipalSpares reports whether a NotPrincipal list excludes the caller.
// A role session is excluded only when the list names the session, its role
// and its account; other callers when any entry names them.
func notPrincipalSpares(es []principalEntry, id *principalIdentity) bool {
	if principalsAreWildcard(es) {
		return true
	}
	if id.kind == PrincipalRoleSession {
		var session, role, account bool
		for i := range es {
			switch es[i].matchKnown(id) {
			case matchDirectSession:
				session = true
			case matchEntity:
				role = true
			case matchAccount:
				account = true
			}
		}
		return session && role && account
	}
	for i := range es {
		if m := es[i].matchKnown(id); m != matchNone {
			return true
		}
	}
	return false
}
