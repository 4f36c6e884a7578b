package engine

import (
	"strings"
)

// Verdict is the outcome of an authorization.
type Verdict uint8

// Verdicts. Indeterminate means the outcome depends on context keys whose
// presence or value is unknown; the Decision lists them.
const (
	VerdictAllow Verdict = iota
	VerdictExplicitDeny
	VerdictImplicitDeny
	VerdictIndeterminate
)

var verdictNames = [...]string{"allow", "explicit_deny", "implicit_deny", "indeterminate"}

func (v Verdict) String() string { return verdictNames[v] }

// PolicyTypes is a set of policy types.
type PolicyTypes uint16

// Add returns the set with t added.
func (s PolicyTypes) Add(t PolicyType) PolicyTypes { return s | 1<<t }

// Has reports whether t is in the set.
func (s PolicyTypes) Has(t PolicyType) bool { return s&(1<<t) != 0 }

// List returns the members in the order of the PolicyType constants.
func (s PolicyTypes) List() []PolicyType {
	var out []PolicyType
	for t := PolicyType(0); t < numPolicyTypes; t++ {
		if s.Has(t) {
			out = append(out, t)
		}
	}
	return out
}

func (s PolicyTypes) String() string {
	var b strings.Builder
	for i, t := range s.List() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(t.String())
	}
	return b.String()
}

// Reason is a short code for why a decision came out as it did.
type Reason uint8

// Reasons.
const (
	ReasonNone                  Reason = iota
	ReasonAlwaysAllowed                // sts:GetCallerIdentity
	ReasonExplicitDeny                 // a Deny statement matched
	ReasonRCPLevel                     // an RCP level has no matching Allow
	ReasonSCPLevel                     // an SCP level has no matching Allow
	ReasonVPCEndpoint                  // the VPC endpoint policy has no matching Allow
	ReasonNoResourcePolicyGrant        // the resource policy (trust or key policy, or cross-account) does not allow
	ReasonNoIdentityAllow              // no identity policy allows
	ReasonBoundary                     // the permissions boundary does not allow
	ReasonSessionPolicy                // the session policy does not allow (or a federated user has none)
	ReasonRootCannotAssumeRole         // the root user cannot call sts:AssumeRole*
	ReasonAWSOwnedResource             // the resource is owned by AWS and no customer policy can grant on it
	ReasonIdentityGrant                // allowed by an identity policy
	ReasonResourceGrant                // allowed by a resource policy
	ReasonRootAccess                   // allowed: the root user of the resource's account
	ReasonUnknownKeys                  // indeterminate: unknown context keys
)

var reasonNames = [...]string{
	"", "always-allowed", "explicit-deny", "rcp-no-allow", "scp-no-allow", "vpce-no-allow",
	"resource-policy-no-allow", "no-identity-allow", "boundary-no-allow", "session-policy-no-allow",
	"root-cannot-assume-role", "aws-owned-resource", "identity-allow", "resource-allow", "root-access", "unknown-keys",
}

func (r Reason) String() string { return reasonNames[r] }

// maxUnknownKeys bounds the unknown keys a decision lists.
const maxUnknownKeys = 8

// Decision is the result of Authorize. It explains itself: the verdict, the
// policy type and statement that decided (the Deny that fired, the Allow that
// granted, or for an implicit deny the first gate that failed), every policy
// type that did not allow, and for Indeterminate the unknown keys.
type Decision struct {
	Verdict Verdict
	Reason  Reason
	// By is the policy type that decided; meaningful when HasBy.
	By    PolicyType
	HasBy bool
	// Statement is the statement that decided: the Deny that fired or the
	// Allow that granted. Nil for implicit denies and for rules that need none.
	Statement *Statement
	// OrgLevel is the SCP or RCP level (org root, OU or account id) that
	// decided, for Organizations policies.
	OrgLevel string
	// Blocked lists every policy type that denied explicitly or did not allow.
	Blocked PolicyTypes
	// MaybeExplicitDeny is set on Indeterminate decisions when a Deny
	// statement might have matched.
	MaybeExplicitDeny bool

	unknown  [maxUnknownKeys]string
	nUnknown uint8
}

// Allowed reports whether the verdict is Allow.
func (d Decision) Allowed() bool { return d.Verdict == VerdictAllow }

// PossiblyAllowed reports whether the request was or may have been allowed.
func (d Decision) PossiblyAllowed() bool {
	return d.Verdict == VerdictAllow || d.Verdict == VerdictIndeterminate
}

// ResourceUnknownKey stands, among a decision's unknown keys, for the part of
// a partial request resource (Request.ResourcePartial) that is not known.
const ResourceUnknownKey = "(resource)"

// UnknownKeys returns the context keys whose unknown state the decision
// depends on, and ResourceUnknownKey when the decision depends on the part
// of the resource that is not known.
func (d Decision) UnknownKeys() []string { return d.unknown[:d.nUnknown] }

// PolicyID returns the id of the deciding policy, or "".
func (d Decision) PolicyID() string {
	if d.Statement != nil && d.Statement.Policy != nil {
		return d.Statement.Policy.ID
	}
	return ""
}

// StatementRef returns the deciding statement's Sid or index, or "".
func (d Decision) StatementRef() string { return d.Statement.Ref() }

// BlockedBy returns the policy type reported as the blocker of a denied
// request, or "" for allowed requests.
func (d Decision) BlockedBy() string {
	if d.Verdict == VerdictAllow || !d.HasBy {
		return ""
	}
	return d.By.String()
}

// Explain renders the decision as one sentence a reviewer understands.
func (d Decision) Explain() string {
	var b strings.Builder
	where := func() {
		if d.Statement != nil {
			b.WriteString(" (")
			if id := d.PolicyID(); id != "" {
				b.WriteString(id)
				b.WriteString(", ")
			}
			b.WriteString("statement ")
			b.WriteString(d.Statement.Ref())
			b.WriteString(")")
		}
		if d.OrgLevel != "" {
			b.WriteString(" at ")
			b.WriteString(d.OrgLevel)
		}
	}
	switch d.Reason {
	case ReasonAlwaysAllowed:
		b.WriteString("Allowed: sts:GetCallerIdentity is always allowed to an authenticated caller")
	case ReasonExplicitDeny:
		b.WriteString("Explicitly denied by a Deny statement in the ")
		b.WriteString(d.By.longName())
		where()
	case ReasonRCPLevel, ReasonSCPLevel:
		b.WriteString("Implicitly denied: no ")
		b.WriteString(strings.ToUpper(d.By.String()))
		b.WriteString(" allows the action")
		where()
	case ReasonVPCEndpoint:
		b.WriteString("Implicitly denied: the VPC endpoint policy does not allow the request")
	case ReasonNoResourcePolicyGrant:
		b.WriteString("Implicitly denied: the resource policy does not allow the caller")
	case ReasonNoIdentityAllow:
		b.WriteString("Implicitly denied: no identity-based policy allows the action")
	case ReasonBoundary:
		b.WriteString("Implicitly denied: the permissions boundary does not allow the action")
	case ReasonSessionPolicy:
		b.WriteString("Implicitly denied: the session policy does not allow the action")
	case ReasonRootCannotAssumeRole:
		b.WriteString("Denied: the root user cannot assume roles")
	case ReasonAWSOwnedResource:
		b.WriteString("Denied: the resource is managed by AWS and cannot be changed by customer policies")
	case ReasonIdentityGrant:
		b.WriteString("Allowed by an identity-based policy")
		where()
	case ReasonResourceGrant:
		b.WriteString("Allowed by the resource policy")
		where()
	case ReasonRootAccess:
		b.WriteString("Allowed: the root user has full access to its own account")
	case ReasonUnknownKeys:
		b.WriteString("Indeterminate: the outcome depends on unknown context keys ")
		b.WriteString(strings.Join(d.UnknownKeys(), ", "))
		if d.MaybeExplicitDeny {
			b.WriteString("; a Deny may apply")
		}
	default:
		b.WriteString(d.Verdict.String())
	}
	return b.String()
}

func (t PolicyType) longName() string {
	switch t {
	case PolicyRCP:
		return "resource control policy"
	case PolicySCP:
		return "service control policy"
	case PolicyResource:
		return "resource-based policy"
	case PolicyIdentity:
		return "identity-based policy"
	case PolicyBoundary:
		return "permissions boundary"
	case PolicySession:
		return "session policy"
	case PolicyVPCEndpoint:
		return "VPC endpoint policy"
	}
	return t.String()
}

// evalState collects what one evaluation learns on the side: the unknown keys
// and, when tracing, every statement's result.
type evalState struct {
	unknown  [maxUnknownKeys]string
	nUnknown uint8
	trace    *Trace
	compat   *Compat
	// resources, when set, receives every statement's Resource match (see
	// Cache).
	resources *[]resourceMatch
	// callerNamed, when set, is made true when a statement's Principal or
	// NotPrincipal is matched against the caller (see SweepReads).
	callerNamed *bool
}

// resourceMatch is how a statement's Resource or NotResource matched the
// request's resource.
type resourceMatch struct {
	st     *Statement
	result Tri
}

func (es *evalState) noteUnknown(key string) {
	for i := uint8(0); i < es.nUnknown; i++ {
		if strings.EqualFold(es.unknown[i], key) {
			return
		}
	}
	if int(es.nUnknown) < maxUnknownKeys {
		es.unknown[es.nUnknown] = key
		es.nUnknown++
	}
}
