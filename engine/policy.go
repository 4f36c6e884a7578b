package engine

import (
	"crypto/sha256"
	"errors"
	"strconv"
	"strings"
)

// PolicyType names the kind of policy a document is used as. It decides which
// elements are allowed and how short ARN patterns are read, and it is what a
// Decision reports as the policy type that decided.
type PolicyType uint8

// Policy types, in the order AWS documents its deny scan.
const (
	PolicyRCP PolicyType = iota
	PolicySCP
	PolicyResource
	PolicyIdentity
	PolicyBoundary
	PolicySession
	PolicyVPCEndpoint
	numPolicyTypes
)

var policyTypeNames = [...]string{"rcp", "scp", "resource", "identity", "boundary", "session", "vpce"}

func (t PolicyType) String() string {
	if int(t) < len(policyTypeNames) {
		return policyTypeNames[t]
	}
	return "policy(" + strconv.Itoa(int(t)) + ")"
}

// ParsePolicyType reads a policy type name as String writes it. It also
// accepts "pb" and "permissionBoundary" for the boundary.
func ParsePolicyType(s string) (PolicyType, bool) {
	switch strings.ToLower(s) {
	case "pb", "permissionboundary", "permissionsboundary":
		return PolicyBoundary, true
	case "endpoint", "vpcendpoint":
		return PolicyVPCEndpoint, true
	}
	for i, n := range policyTypeNames {
		if strings.EqualFold(n, s) {
			return PolicyType(i), true
		}
	}
	return 0, false
}

// Effect is a statement's effect.
type Effect uint8

// Statement effects.
const (
	Allow Effect = iota
	Deny
)

func (e Effect) String() string {
	if e == Deny {
		return "Deny"
	}
	return "Allow"
}

// Policy is a parsed and compiled policy document, ready to be evaluated any
// number of times, concurrently.
type Policy struct {
	// ID identifies the policy in decisions: an ARN, or owner plus inline name.
	ID   string
	Type PolicyType
	// Version is the document's Version element ("" when absent).
	Version    string
	Statements []*Statement
	// Warnings lists elements that were accepted but are suspicious or
	// ignored, such as a Principal in an identity policy.
	Warnings []string

	// byService indexes the statements whose Action entries all name a
	// literal service prefix; anyService holds the rest (NotAction, "*",
	// wildcards in the service). Both keep document order.
	byService  map[string][]int32 // positions in Statements
	anyService []int32

	// digest is that of the type and document ParsePolicy compiled (see
	// Digest); hasDigest is false for a policy made otherwise.
	digest    [sha256.Size]byte
	hasDigest bool
}

// Digest returns a digest of the policy's type and document, for a policy
// ParsePolicy made (ok is false for one made otherwise). Policies of equal
// digests compile alike: they differ in ID only, and their decisions differ
// only in the statements they name, which stand at the same positions.
func (p *Policy) Digest() (d [sha256.Size]byte, ok bool) { return p.digest, p.hasDigest }

// index builds the per-service statement index.
func (p *Policy) index() {
	p.byService = make(map[string][]int32)
	p.anyService = nil
	for i, st := range p.Statements {
		svcs, ok := st.services()
		if !ok {
			p.anyService = append(p.anyService, int32(i))
			continue
		}
		for _, s := range svcs {
			p.byService[s] = append(p.byService[s], int32(i))
		}
	}
}

// services returns the distinct lower-case services a statement's Action
// entries name, or false when it may match actions of any service.
func (st *Statement) services() ([]string, bool) {
	if st.notAction {
		return nil, false
	}
	var out []string
	for i := range st.actions {
		a := &st.actions[i]
		lit := a.literal
		if !a.isLit {
			if len(a.segs) == 0 || a.segs[0].kind != segLit {
				return nil, false
			}
			lit = a.segs[0].s
		}
		svc, _, ok := strings.Cut(lit, ":")
		if !ok {
			return nil, false
		}
		dup := false
		for _, o := range out {
			dup = dup || o == svc
		}
		if !dup {
			out = append(out, svc)
		}
	}
	return out, true
}

// NewPolicy assembles a policy from statements of other compiled policies
// (for instance several documents given for one slot). The statements keep
// their own policy ids.
func NewPolicy(id string, typ PolicyType, statements []*Statement) *Policy {
	p := &Policy{ID: id, Type: typ, Statements: statements}
	p.index()
	return p
}

// Statement is one compiled statement of a policy.
type Statement struct {
	// Sid is the statement's Sid, or "" when it has none.
	Sid string
	// Index is the statement's position in the policy, from 0.
	Index  int
	Effect Effect
	Policy *Policy

	actions     []pattern
	notAction   bool
	resources   []arnPattern
	notResource bool
	hasResource bool

	principals   []principalEntry
	notPrincipal bool
	hasPrincipal bool

	conditions []condition
}

// Ref names the statement for reports: its Sid, or its index as "#N".
func (s *Statement) Ref() string {
	if s == nil {
		return ""
	}
	if s.Sid != "" {
		return s.Sid
	}
	if s.Index >= 0 && s.Index < len(indexRefs) {
		return indexRefs[s.Index]
	}
	return "#" + strconv.Itoa(s.Index)
}

// indexRefs are the Refs of the first statements without a Sid, made
// once: reports name the deciding statement of every request.
var indexRefs = func() (refs [64]string) {
	for i := range refs {
		refs[i] = "#" + strconv.Itoa(i)
	}
	return refs
}()

// ParsePolicy parses and compiles a policy document used as the given type.
// The document may be JSON text or a URL-encoded JSON string as IAM returns
// it. Errors are *PolicyError values naming the id, JSON path and offset.
func ParsePolicy(id string, typ PolicyType, doc []byte) (*Policy, error) {
	root, err := parseJSON(doc)
	if err != nil {
		return nil, withPolicyID(err, id)
	}
	p, err := compilePolicy(id, typ, root)
	if err != nil {
		return nil, withPolicyID(err, id)
	}
	h := sha256.New()
	h.Write([]byte{byte(typ)})
	h.Write(doc)
	h.Sum(p.digest[:0])
	p.hasDigest = true
	return p, nil
}

func withPolicyID(err error, id string) error {
	var pe *PolicyError
	if errors.As(err, &pe) {
		pe.PolicyID = id
		return pe
	}
	return &PolicyError{PolicyID: id, Path: "$", Msg: err.Error()}
}

func fault(v *jsonValue, path, format string, args ...any) error {
	var off int64
	if v != nil {
		off = v.offset
	}
	return &PolicyError{Path: path, Offset: off, Msg: errorf(format, args...).Error()}
}

// Version strings.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

func compilePolicy(id string, typ PolicyType, root *jsonValue) (*Policy, error) {
	if root.kind != jsonObject {
		return nil, fault(root, "$", "policy must be a JSON object, not %s", root.kind)
	}
	p := &Policy{ID: id, Type: typ}
	var stmts *jsonValue
	for i, k := range root.keys {
		v := root.items[i]
		switch k {
		case "Version":
			if v.kind != jsonString || (v.str != Version2012 && v.str != Version2008) {
				return nil, fault(v, "$.Version", "Version must be %q or %q", Version2012, Version2008)
			}
			p.Version = v.str
		case "Id":
			if v.kind != jsonString {
				return nil, fault(v, "$.Id", "Id must be a string")
			}
		case "Statement":
			stmts = v
		default:
			return nil, fault(v, "$."+k, "unknown policy element %q", k)
		}
	}
	if stmts == nil {
		return nil, fault(root, "$", "policy has no Statement")
	}
	list := []*jsonValue{stmts}
	path := func(int) string { return "$.Statement" }
	if stmts.kind == jsonArray {
		list = stmts.items
		path = func(i int) string { return "$.Statement[" + strconv.Itoa(i) + "]" }
	}
	vars := p.Version == Version2012
	for i, sv := range list {
		st, err := compileStatement(p, sv, path(i), i, vars)
		if err != nil {
			return nil, err
		}
		p.Statements = append(p.Statements, st)
	}
	p.index()
	return p, nil
}

func compileStatement(p *Policy, v *jsonValue, path string, index int, vars bool) (*Statement, error) {
	if v.kind != jsonObject {
		return nil, fault(v, path, "statement must be an object, not %s", v.kind)
	}
	st := &Statement{Index: index, Policy: p}
	var haveEffect, haveAction bool
	for i, k := range v.keys {
		ev := v.items[i]
		epath := path + "." + k
		var err error
		switch k {
		case "Sid":
			if ev.kind != jsonString {
				return nil, fault(ev, epath, "Sid must be a string")
			}
			st.Sid = ev.str
		case "Effect":
			switch {
			case ev.kind == jsonString && ev.str == "Allow":
				st.Effect = Allow
			case ev.kind == jsonString && ev.str == "Deny":
				st.Effect = Deny
			default:
				return nil, fault(ev, epath, "Effect must be \"Allow\" or \"Deny\"")
			}
			haveEffect = true
		case "Action", "NotAction":
			if haveAction {
				return nil, fault(ev, epath, "a statement takes exactly one of Action and NotAction")
			}
			haveAction = true
			st.notAction = k == "NotAction"
			st.actions, err = compileActions(ev, epath)
		case "Resource", "NotResource":
			if st.hasResource {
				return nil, fault(ev, epath, "a statement takes at most one of Resource and NotResource")
			}
			st.hasResource = true
			st.notResource = k == "NotResource"
			st.resources, err = compileResources(ev, epath, p.Type, vars)
		case "Principal", "NotPrincipal":
			if st.hasPrincipal {
				return nil, fault(ev, epath, "a statement takes at most one of Principal and NotPrincipal")
			}
			switch p.Type {
			case PolicyIdentity, PolicyBoundary, PolicySession, PolicySCP:
				p.Warnings = append(p.Warnings, epath+": "+k+" is not allowed in a "+p.Type.String()+" policy and is ignored")
				continue
			}
			st.hasPrincipal = true
			st.notPrincipal = k == "NotPrincipal"
			st.principals, err = compilePrincipals(ev, epath)
		case "Condition":
			st.conditions, err = compileConditions(ev, epath, vars, &p.Warnings)
		default:
			return nil, fault(ev, epath, "unknown statement element %q", k)
		}
		if err != nil {
			return nil, err
		}
	}
	if !haveEffect {
		return nil, fault(v, path, "statement has no Effect")
	}
	if !haveAction {
		return nil, fault(v, path, "statement has neither Action nor NotAction")
	}
	switch p.Type {
	case PolicyIdentity, PolicyBoundary, PolicySession, PolicySCP, PolicyRCP:
		if !st.hasResource {
			if p.Type == PolicySCP {
				// SCPs written before 2025 may leave Resource out; it meant "*".
				st.hasResource = true
				st.resources = []arnPattern{{any: true}}
			} else {
				return nil, fault(v, path, "statement has neither Resource nor NotResource")
			}
		}
	}
	if p.Type == PolicyRCP {
		switch {
		case !st.hasPrincipal:
			p.Warnings = append(p.Warnings, path+": an RCP statement without Principal is read as Principal \"*\"")
			st.hasPrincipal, st.principals = true, []principalEntry{{kind: peWildcard}}
		case st.notPrincipal || !principalsAreWildcard(st.principals):
			return nil, fault(v, path, "an RCP statement must have Principal \"*\"")
		}
	}
	return st, nil
}

// stringList reads an element that is a string or an array of strings.
func stringList(v *jsonValue, path string) ([]string, []*jsonValue, error) {
	if v.kind == jsonString {
		return []string{v.str}, []*jsonValue{v}, nil
	}
	if v.kind != jsonArray {
		return nil, nil, fault(v, path, "must be a string or an array of strings, not %s", v.kind)
	}
	out := make([]string, 0, len(v.items))
	for i, it := range v.items {
		if it.kind != jsonString {
			return nil, nil, fault(it, path+"["+strconv.Itoa(i)+"]", "must be a string, not %s", it.kind)
		}
		out = append(out, it.str)
	}
	return out, v.items, nil
}

func compileActions(v *jsonValue, path string) ([]pattern, error) {
	list, vals, err := stringList(v, path)
	if err != nil {
		return nil, err
	}
	out := make([]pattern, 0, len(list))
	for i, a := range list {
		// Actions are not trimmed: "s3:GetObject " names no action and matches nothing.
		if a != "*" {
			colon := strings.IndexByte(a, ':')
			if colon <= 0 || strings.ContainsAny(a[:colon], "*?") {
				return nil, fault(vals[i], path, "invalid action %q: want service:Action", list[i])
			}
		}
		p, err := compilePattern(a, true, false, true)
		if err != nil {
			return nil, fault(vals[i], path, "%v", err)
		}
		out = append(out, p)
	}
	return out, nil
}

func compileResources(v *jsonValue, path string, typ PolicyType, vars bool) ([]arnPattern, error) {
	list, vals, err := stringList(v, path)
	if err != nil {
		return nil, err
	}
	out := make([]arnPattern, 0, len(list))
	for i, r := range list {
		p, err := compileARNPattern(r, typ, vars)
		if err != nil {
			return nil, fault(vals[i], path, "%v", err)
		}
		out = append(out, p)
	}
	return out, nil
}

// MatchesAction reports whether the statement's Action (or NotAction)
// covers the action, compared without case.
func (s *Statement) MatchesAction(action string) bool { return s.matchAction(action) }

// Services returns the lower-case service prefixes the statement's actions
// can belong to, or false when it may cover actions of any service
// (NotAction, "*", or a wildcard in the service prefix).
func (s *Statement) Services() ([]string, bool) { return s.services() }
