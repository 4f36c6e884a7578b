package engine

import "strings"

// arnFields is an ARN split into its six colon-separated fields: "arn",
// partition, service, region, account and the resource part (everything after
// the fifth colon, colons included).
type arnFields [6]string

// splitARN splits an ARN into its fields. It reports false when s has fewer
// than six fields or does not begin with "arn:".
func splitARN(s string) (arnFields, bool) {
	var f arnFields
	rest := s
	for i := 0; i < 5; i++ {
		c := strings.IndexByte(rest, ':')
		if c < 0 {
			return f, false
		}
		f[i], rest = rest[:c], rest[c+1:]
	}
	f[5] = rest
	return f, strings.EqualFold(f[0], "arn")
}

// splitPatternFields splits an ARN pattern on colons that are not inside a
// policy variable such as ${aws:username}. The last field keeps its colons
// once five have been split off.
func splitPatternFields(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s) && len(out) < 5; i++ {
		switch {
		case s[i] == '$' && i+1 < len(s) && s[i+1] == '{':
			depth++
		case s[i] == '}' && depth > 0:
			depth--
		case s[i] == ':' && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// arnPattern is a compiled Resource or NotResource entry, or an ARN condition
// value. The first five fields are matched one by one (a wildcard stays inside
// its field); the resource part is matched as one string, where * crosses / and :.
type arnPattern struct {
	any    bool       // the pattern "*": every resource, the pseudo-resource * included
	never  bool       // a pattern that matches nothing (a short ARN where that is the rule)
	arn    bool       // fields holds the pattern; otherwise whole does
	fields [6]pattern // fields[5] is the resource part
	whole  pattern    // a pattern that is not an ARN, matched as one string
	text   string
}

// compileARNPattern compiles a Resource entry for a policy of type typ.
// Short ARN patterns (fewer than six fields) follow the rules of each type:
// padded with * in identity, boundary and session policies; padded only when
// they hold a wildcard in resource and endpoint policies and SCPs; never
// matching in RCPs.
func compileARNPattern(text string, typ PolicyType, vars bool) (arnPattern, error) {
	p := arnPattern{text: text}
	if text == "*" {
		p.any = true
		return p, nil
	}
	parts := splitPatternFields(text)
	if !strings.EqualFold(parts[0], "arn") {
		// Not an ARN: compare as one string.
		w, err := compilePattern(text, true, vars, false)
		p.whole = w
		return p, err
	}
	if len(parts) < 6 {
		wild := strings.ContainsAny(text, "*?")
		pad := false
		switch typ {
		case PolicyIdentity, PolicyBoundary, PolicySession:
			pad = true
		case PolicyResource, PolicyVPCEndpoint, PolicySCP:
			pad = wild
		}
		if !pad {
			p.never = true
			return p, nil
		}
		for len(parts) < 6 {
			parts = append(parts, "*")
		}
	}
	p.arn = true
	for i, f := range parts {
		// Variables are substituted only in the resource part; the other
		// fields are compared case-insensitively.
		var err error
		if i < 5 {
			p.fields[i], err = compilePattern(f, true, false, true)
		} else {
			p.fields[i], err = compilePattern(f, true, vars, false)
		}
		if err != nil {
			return p, err
		}
	}
	return p, nil
}

// compileARNCondition compiles an ArnEquals/ArnLike value: all six fields are
// case-sensitive and variables may appear in any of them.
func compileARNCondition(text string, vars bool) (arnPattern, error) {
	p := arnPattern{text: text, arn: true}
	parts := splitPatternFields(text)
	if len(parts) < 6 {
		p.arn = false
		w, err := compilePattern(text, true, vars, false)
		p.never = true
		p.whole = w
		return p, err
	}
	for i, f := range parts {
		var err error
		if p.fields[i], err = compilePattern(f, true, vars, false); err != nil {
			return p, err
		}
	}
	return p, nil
}

// matchResource matches a Resource pattern against the request's resource.
func (p *arnPattern) matchResource(r *resourceRef, ctx *Context) Tri {
	switch {
	case p.any:
		return True
	case p.never || r.pseudo:
		return False
	case !p.arn || !r.isARN:
		if p.arn {
			return False
		}
		return p.whole.match(r.arn, ctx)
	}
	for i := 0; i < 5; i++ {
		if p.fields[i].match(r.lower[i], ctx) == False {
			return False
		}
	}
	return p.fields[5].match(r.fields[5], ctx)
}

// matchARNValue matches an ARN condition value against a context value.
func (p *arnPattern) matchARNValue(v string, ctx *Context) Tri {
	if p.never {
		return False
	}
	f, ok := splitARN(v)
	if !ok {
		return False
	}
	result := True
	for i := 0; i < 6; i++ {
		m := p.fields[i].match(f[i], ctx)
		if m == False {
			return False
		}
		result = result.And(m)
	}
	return result
}

// resourceRef is the request's resource, split once when the request is prepared.
type resourceRef struct {
	arn    string
	pseudo bool // the pseudo-resource * of actions that take no resource
	// pattern marks a request resource that is itself a pattern (it holds *
	// or ?) for an action that takes resources: "on some resource like this".
	pattern bool
	// partial marks a pattern that stands for one resource the request
	// touched but the caller could not name fully.
	partial bool
	isARN   bool
	fields  arnFields
	lower   [5]string // fields 0-4 in lower case
}

func newResourceRef(arn string, wildcardOnly bool) resourceRef {
	r := resourceRef{arn: arn}
	if arn == "*" && wildcardOnly {
		r.pseudo = true
		return r
	}
	if hasWildcard(arn) {
		r.pattern = true
	}
	r.fields, r.isARN = splitARN(arn)
	if r.isARN {
		for i := 0; i < 5; i++ {
			r.lower[i] = strings.ToLower(r.fields[i])
		}
	}
	return r
}

// unresolved reports whether the pattern names a policy variable that has no
// value and no default in ctx.
func (p *arnPattern) unresolved(ctx *Context) bool {
	for i := range p.fields {
		for _, s := range p.fields[i].segs {
			if s.kind == segVar && !s.hasDef {
				if _, st := ctx.variable(s.s); st == keyAbsent {
					return true
				}
			}
		}
	}
	return false
}
