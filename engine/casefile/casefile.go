// Package casefile reads authorization test cases in the JSON format of
// iam-simulate's core-engine suite, extended with fields for what that format
// cannot say, and runs them through the engine.
package casefile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/replay-iam/replay/engine"
)

// Case is one test case.
type Case struct {
	Name    string  `json:"name"`
	Request Request `json:"request"`

	IdentityPolicies        []json.RawMessage `json:"identityPolicies"`
	PermissionBoundaries    []json.RawMessage `json:"permissionBoundaries"`
	SessionPolicy           json.RawMessage   `json:"sessionPolicy"`
	SessionPolicies         []json.RawMessage `json:"sessionPolicies"`
	ResourcePolicy          json.RawMessage   `json:"resourcePolicy"`
	ServiceControlPolicies  []OrgLevel        `json:"serviceControlPolicies"`
	ResourceControlPolicies []OrgLevel        `json:"resourceControlPolicies"`
	VPCEndpointPolicies     []json.RawMessage `json:"vpcEndpointPolicies"`
	EndpointPolicies        []json.RawMessage `json:"endpointPolicies"`
	Simulation              *Simulation       `json:"simulation"`

	// Extensions.
	PrincipalInManagementAccount bool `json:"principalInManagementAccount"`
	ResourceInManagementAccount  bool `json:"resourceInManagementAccount"`
	AWSManagedKey                bool `json:"awsManagedKey"`

	Expected Expected `json:"expected"`

	// File and Index locate the case, for messages.
	File  string `json:"-"`
	Index int    `json:"-"`
}

// Request is a case's request.
type Request struct {
	Principal PrincipalSpec              `json:"principal"`
	Action    string                     `json:"action"`
	Resource  Resource                   `json:"resource"`
	Context   map[string]json.RawMessage `json:"context"`

	// Extensions.
	// PrincipalType overrides the class read from the ARN ("assumed-root").
	PrincipalType string `json:"principalType"`
	// PrincipalEntity is the role ARN (with path) of a session, or the IAM
	// user that called GetFederationToken for a federated user.
	PrincipalEntity string `json:"principalEntity"`
	// PrincipalUniqueID is the AIDA…/AROA… id of the user or role.
	PrincipalUniqueID string `json:"principalUniqueId"`
	// UnknownKeys are keys whose presence and value are unknown.
	UnknownKeys []string `json:"unknownKeys"`
	// ValueUnknownKeys are keys known present whose value is unknown.
	ValueUnknownKeys []string `json:"valueUnknownKeys"`
	// ContextDefault is "unknown" to make every key not listed unknown.
	ContextDefault string `json:"contextDefault"`
	// KnownPrefixes are key prefixes under which unlisted keys are absent
	// even when ContextDefault is "unknown".
	KnownPrefixes []string `json:"knownPrefixes"`
}

// PrincipalSpec is a case's principal: an ARN or service principal name, or
// the object {"type": "Anonymous"}.
type PrincipalSpec string

// UnmarshalJSON accepts a string or {"type": "Anonymous"}.
func (p *PrincipalSpec) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*p = PrincipalSpec(s)
		return nil
	}
	var o struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	if !strings.EqualFold(o.Type, "anonymous") {
		return fmt.Errorf("unsupported principal type %q", o.Type)
	}
	*p = "anonymous"
	return nil
}

// Resource is a case's resource and its account.
type Resource struct {
	Resource  string `json:"resource"`
	AccountID string `json:"accountId"`
	// Partial (an extension) marks the resource as a pattern that covers
	// the real resource without naming it (engine.Request.ResourcePartial).
	Partial bool `json:"partial"`
}

// OrgLevel is one level of an SCP or RCP chain.
type OrgLevel struct {
	OrgIdentifier string            `json:"orgIdentifier"`
	Policies      []json.RawMessage `json:"policies"`
}

// Simulation carries iam-simulate's simulation options.
type Simulation struct {
	Mode        string          `json:"mode"`
	Constraints []KeyConstraint `json:"discoveryContextKeyConstraints"`
}

// KeyConstraint says what is known of a key in Discovery mode. A keyName
// written /…/ is a regular expression.
type KeyConstraint struct {
	KeyName         string `json:"keyName"`
	PresenceIsKnown bool   `json:"presenceIsKnown"`
	ValueIsKnown    bool   `json:"valueIsKnown"`
}

// Expected is a case's expected outcome.
type Expected struct {
	// Response is Allowed, ImplicitlyDenied, ExplicitlyDenied or Indeterminate.
	Response  string   `json:"response"`
	BlockedBy []string `json:"blockedBy"`
	// UnknownKeys, for Indeterminate, lists the unknown keys (any order).
	UnknownKeys []string `json:"unknownKeys"`
}

// Load reads a case file: a JSON array of cases.
func Load(path string) ([]*Case, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse reads cases from data; path is used in messages.
func Parse(path string, data []byte) ([]*Case, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: not a JSON array of cases: %w", path, err)
	}
	out := make([]*Case, 0, len(raw))
	for i, r := range raw {
		c := &Case{File: path, Index: i}
		dec := json.NewDecoder(bytes.NewReader(r))
		if err := dec.Decode(c); err != nil {
			return nil, fmt.Errorf("%s: case %d: %w", path, i, err)
		}
		if c.Name == "" {
			c.Name = path + "#" + strconv.Itoa(i)
		}
		out = append(out, c)
	}
	return out, nil
}

// Discovery reports whether the case runs in iam-simulate's Discovery mode.
func (c *Case) Discovery() bool {
	return c.Simulation != nil && strings.EqualFold(c.Simulation.Mode, "Discovery")
}

// policyDoc unwraps {name, policy} wrappers and URL-encoded strings.
func policyDoc(raw json.RawMessage) (name string, doc []byte, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", nil, err
		}
		return "", []byte(s), nil
	}
	var w struct {
		Name   string          `json:"name"`
		Policy json.RawMessage `json:"policy"`
	}
	if json.Unmarshal(raw, &w) == nil && len(w.Policy) > 0 {
		_, doc, err := policyDoc(w.Policy)
		return w.Name, doc, err
	}
	return "", raw, nil
}

func parsePolicies(prefix string, typ engine.PolicyType, raws []json.RawMessage) ([]*engine.Policy, error) {
	out := make([]*engine.Policy, 0, len(raws))
	for i, r := range raws {
		name, doc, err := policyDoc(r)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", prefix, i, err)
		}
		if name == "" {
			name = prefix + "[" + strconv.Itoa(i) + "]"
		}
		p, err := engine.ParsePolicy(name, typ, doc)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Build turns the case into an engine request and policy set.
func (c *Case) Build() (*engine.Request, *engine.PolicySet, error) {
	p, err := engine.ParsePrincipalARN(string(c.Request.Principal))
	if err != nil {
		return nil, nil, err
	}
	switch strings.ToLower(c.Request.PrincipalType) {
	case "":
	case "assumed-root", "assumedroot":
		p.Kind = engine.PrincipalAssumedRoot
	case "service":
		p.Kind = engine.PrincipalService
	case "anonymous":
		p.Kind = engine.PrincipalAnonymous
	default:
		return nil, nil, fmt.Errorf("unknown principalType %q", c.Request.PrincipalType)
	}
	if c.Request.PrincipalEntity != "" {
		p.EntityARN = c.Request.PrincipalEntity
	}
	p.UniqueID = c.Request.PrincipalUniqueID
	ctx, err := c.buildContext()
	if err != nil {
		return nil, nil, err
	}
	req := &engine.Request{Principal: p, Action: c.Request.Action, Resource: c.Request.Resource.Resource,
		ResourceAccount: c.Request.Resource.AccountID, ResourcePartial: c.Request.Resource.Partial, Context: ctx}

	ps := &engine.PolicySet{
		PrincipalInManagementAccount: c.PrincipalInManagementAccount,
		ResourceInManagementAccount:  c.ResourceInManagementAccount,
		AWSManagedKey:                c.AWSManagedKey,
	}
	if ps.Identity, err = parsePolicies("identity", engine.PolicyIdentity, c.IdentityPolicies); err != nil {
		return nil, nil, err
	}
	if len(c.PermissionBoundaries) > 0 {
		pbs, err := parsePolicies("boundary", engine.PolicyBoundary, c.PermissionBoundaries)
		if err != nil {
			return nil, nil, err
		}
		ps.Boundary = mergePolicies("boundary", engine.PolicyBoundary, pbs)
	}
	sessions := c.SessionPolicies
	if len(c.SessionPolicy) > 0 && string(c.SessionPolicy) != "null" {
		sessions = append([]json.RawMessage{c.SessionPolicy}, sessions...)
	}
	if len(sessions) > 0 {
		if ps.Session, err = parsePolicies("session", engine.PolicySession, sessions); err != nil {
			return nil, nil, err
		}
	}
	if len(c.ResourcePolicy) > 0 && string(c.ResourcePolicy) != "null" {
		rp, err := parsePolicies("resource", engine.PolicyResource, []json.RawMessage{c.ResourcePolicy})
		if err != nil {
			return nil, nil, err
		}
		ps.Resource = rp[0]
	}
	if ps.SCPs, err = orgLevels("scp", engine.PolicySCP, c.ServiceControlPolicies); err != nil {
		return nil, nil, err
	}
	if ps.RCPs, err = orgLevels("rcp", engine.PolicyRCP, c.ResourceControlPolicies); err != nil {
		return nil, nil, err
	}
	vpce := append(append([]json.RawMessage(nil), c.VPCEndpointPolicies...), c.EndpointPolicies...)
	if len(vpce) > 0 {
		if ps.VPCEndpoint, err = parsePolicies("vpce", engine.PolicyVPCEndpoint, vpce); err != nil {
			return nil, nil, err
		}
	}
	return req, ps, nil
}

// mergePolicies joins several documents given for one slot (such as two
// boundary documents) into one policy whose statements are all of theirs.
func mergePolicies(id string, typ engine.PolicyType, ps []*engine.Policy) *engine.Policy {
	if len(ps) == 1 {
		return ps[0]
	}
	var stmts []*engine.Statement
	var warnings []string
	for _, p := range ps {
		stmts = append(stmts, p.Statements...)
		warnings = append(warnings, p.Warnings...)
	}
	m := engine.NewPolicy(id, typ, stmts)
	m.Warnings = warnings
	return m
}

func orgLevels(prefix string, typ engine.PolicyType, levels []OrgLevel) ([]engine.OrgLevel, error) {
	out := make([]engine.OrgLevel, 0, len(levels))
	for i, l := range levels {
		id := l.OrgIdentifier
		if id == "" {
			id = prefix + "-level-" + strconv.Itoa(i)
		}
		ps, err := parsePolicies(prefix+":"+id, typ, l.Policies)
		if err != nil {
			return nil, err
		}
		out = append(out, engine.OrgLevel{ID: id, Policies: ps})
	}
	return out, nil
}

func (c *Case) buildContext() (*engine.Context, error) {
	ctx := engine.NewContext()
	keys := make([]string, 0, len(c.Request.Context))
	for k := range c.Request.Context {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		raw := bytes.TrimSpace(c.Request.Context[k])
		if len(raw) > 0 && raw[0] == '[' {
			var vals []any
			if err := json.Unmarshal(raw, &vals); err != nil {
				return nil, fmt.Errorf("context key %s: %w", k, err)
			}
			strs := make([]string, len(vals))
			for i, v := range vals {
				strs[i] = scalar(v)
			}
			ctx.SetList(k, strs)
			continue
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("context key %s: %w", k, err)
		}
		ctx.Set(k, scalar(v))
	}
	for _, k := range c.Request.UnknownKeys {
		ctx.SetUnknown(k)
	}
	for _, k := range c.Request.ValueUnknownKeys {
		ctx.SetValueUnknown(k, false)
	}
	if strings.EqualFold(c.Request.ContextDefault, "unknown") || c.Discovery() {
		ctx.SetDefault(engine.KeyUnknown)
	}
	for _, p := range c.Request.KnownPrefixes {
		ctx.MarkComplete(p)
	}
	if c.Simulation != nil {
		for _, kc := range c.Simulation.Constraints {
			if err := applyConstraint(ctx, kc); err != nil {
				return nil, err
			}
		}
	}
	return ctx, nil
}

// prefixPattern recognises a constraint regex of the form /prefix.*/.
var prefixPattern = regexp.MustCompile(`^/([A-Za-z0-9:_\-/]+)\.\*/$`)

func applyConstraint(ctx *engine.Context, kc KeyConstraint) error {
	name := kc.KeyName
	isPrefix := false
	if strings.HasPrefix(name, "/") {
		m := prefixPattern.FindStringSubmatch(name)
		if m == nil {
			return fmt.Errorf("unsupported key pattern %q: only /prefix.*/ is supported", name)
		}
		name, isPrefix = m[1], true
	}
	switch {
	case kc.PresenceIsKnown && kc.ValueIsKnown:
		ctx.MarkComplete(name)
	case kc.PresenceIsKnown && !isPrefix:
		if ctx.State(name) != engine.KeyPresent {
			return nil // present-but-value-unknown applies only to keys the case lists
		}
		ctx.SetValueUnknown(name, false)
	}
	return nil
}

func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}
