package engine

// ReadsContext reports whether the policy's verdict on a request can depend
// on the request's context: some statement has a condition, or an Action or
// Resource entry holds a policy variable. A policy that reads no context
// decides a request by its action and resource alone.
func (p *Policy) ReadsContext() bool {
	for _, st := range p.Statements {
		if len(st.conditions) > 0 {
			return true
		}
		for i := range st.actions {
			if st.actions[i].hasVars {
				return true
			}
		}
		for i := range st.resources {
			r := &st.resources[i]
			if r.whole.hasVars {
				return true
			}
			for j := range r.fields {
				if r.fields[j].hasVars {
					return true
				}
			}
		}
	}
	return false
}

// IdentityVerdict is what a set of identity policies says about a request
// on its own: whether some statement allows it and whether some statement
// denies it.
type IdentityVerdict struct {
	Allow, Deny Tri
}

// EvaluateIdentity evaluates identity policies alone against a request, as
// Authorize evaluates them within a policy set. Authorize uses the
// identity policies only through this verdict: with every other policy of
// the set unchanged, two identity policy sets with the same verdict on a
// request give it the same decision.
func EvaluateIdentity(req *Request, policies []*Policy, compat Compat) IdentityVerdict {
	pr := prepareResource(req)
	es := evalState{compat: &compat}
	r := es.evalSet(PolicyIdentity, "", policies, &pr, req.Context)
	return IdentityVerdict{Allow: r.allow, Deny: r.deny}
}
