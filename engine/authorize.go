package engine

import (
	"strings"

	"github.com/replay-iam/replay/catalog"
)

// OrgLevel is one level of an Organizations policy chain: the org root, an
// OU, or the account, with the policies attached there.
type OrgLevel struct {
	ID       string
	Policies []*Policy
}

// Compat switches individual rules to the behaviour of another evaluator, for
// differential tests only. The zero value follows the AWS documentation.
type Compat struct {
	// SessionPolicyLimitsDirectSessionGrants makes a resource-policy grant to
	// the exact session (or federated user) ARN subject to the session policy.
	SessionPolicyLimitsDirectSessionGrants bool
	// RootAsOrdinaryPrincipal gives the root user no implicit access to its
	// own account and lets it assume roles. A resource-policy grant to "*"
	// then reaches the root user as a grant to its role's ARN reaches a
	// role session: without an identity policy, but only as far as a
	// permissions boundary allows (a boundary the root user cannot have in
	// AWS).
	RootAsOrdinaryPrincipal bool
	// SCPsApplyToServiceLinkedRoles applies SCPs to service-linked roles.
	SCPsApplyToServiceLinkedRoles bool
	// RCPsApplyToAllServices applies RCPs whatever the action's service.
	RCPsApplyToAllServices bool
	// UnresolvedNotResourceExcludes makes a NotResource entry whose policy
	// variable has no value exclude every resource (AWS: it excludes none).
	UnresolvedNotResourceExcludes bool
	// IPFamilyMismatchNeverMatches makes IpAddress and NotIpAddress both
	// false when the address and every listed range are of different IP
	// families (AWS: an IPv6 address is not in an IPv4 range, so
	// NotIpAddress is true).
	IPFamilyMismatchNeverMatches bool
}

// PolicySet holds every policy that bears on one request, and the facts about
// the principal's and resource's accounts that decide which of them apply.
type PolicySet struct {
	// Identity holds the identity policies: a user's inline and managed
	// policies and those of its groups, or a role's.
	Identity []*Policy
	// Boundary is the permissions boundary; nil when the entity has none.
	Boundary *Policy
	// Session holds the session policies (inline and managed, taken together)
	// of a role session or federated user; nil when none were passed. For an
	// AssumeRoot session it holds the task policy.
	Session []*Policy
	// SCPs is the principal account's SCP chain, org root first.
	SCPs []OrgLevel
	// RCPs is the resource account's RCP chain, org root first.
	// RCPFullAWSAccess is implied at every level.
	RCPs []OrgLevel
	// Resource is the resource's policy: bucket, key, queue, topic, secret or
	// function policy, or the role trust policy for sts:AssumeRole*.
	Resource *Policy
	// VPCEndpoint holds the policy of the VPC endpoint the request went
	// through; nil when it went through none or the endpoint has no policy.
	VPCEndpoint []*Policy

	// PrincipalInManagementAccount exempts the principal from SCPs.
	PrincipalInManagementAccount bool
	// ResourceInManagementAccount exempts the resource from RCPs.
	ResourceInManagementAccount bool
	// AWSManagedKey marks a KMS key managed by AWS (alias/aws/…): RCPs do not
	// apply to it.
	AWSManagedKey bool

	Compat Compat
}

// setResult is what one policy type said about a request.
type setResult struct {
	deny     Tri
	denyStmt *Statement
	allow    Tri
	allowSt  *Statement
	// byKind holds, for resource-side policies, the Allow result per way the
	// Principal matched the caller.
	byKind   [numMatchKinds]Tri
	kindStmt [numMatchKinds]*Statement
}

// Authorize decides one request against a policy set. It is safe for
// concurrent use and does not modify its arguments.
func Authorize(req *Request, ps *PolicySet) Decision {
	es := evalState{compat: &ps.Compat}
	return authorize(req, ps, &es)
}

// AuthorizeTrace is Authorize that also records every statement's result.
func AuthorizeTrace(req *Request, ps *PolicySet) (Decision, *Trace) {
	es := evalState{trace: &Trace{}, compat: &ps.Compat}
	d := authorize(req, ps, &es)
	return d, es.trace
}

// sessionKinds are the caller classes whose permissions session policies limit.
func (k PrincipalKind) isSession() bool {
	return k == PrincipalRoleSession || k == PrincipalRole || k == PrincipalFederatedUser || k == PrincipalAssumedRoot
}

func authorize(req *Request, ps *PolicySet, es *evalState) Decision {
	pr := prepare(req)
	return authorizePrepared(&pr, ps, es)
}

// authorizePrepared is authorize on a prepared request.
func authorizePrepared(pr *preparedRequest, ps *PolicySet, es *evalState) Decision {
	req := pr.req
	ctx := req.Context
	p := &req.Principal
	kind := p.Kind
	pr.id.hasBoundary = ps.Boundary != nil

	if pr.isAction("sts:getcalleridentity") && kind != PrincipalAnonymous {
		return Decision{Verdict: VerdictAllow, Reason: ReasonAlwaysAllowed}
	}

	slr := pr.id.serviceLinked
	identityBased := kind != PrincipalService && kind != PrincipalAnonymous
	scpApplies := len(ps.SCPs) > 0 && identityBased && !ps.PrincipalInManagementAccount &&
		(!slr || ps.Compat.SCPsApplyToServiceLinkedRoles)
	rcpApplies := len(ps.RCPs) > 0 && !ps.ResourceInManagementAccount && !slr && !ps.AWSManagedKey &&
		!pr.isAction("kms:retiregrant") &&
		(ps.Compat.RCPsApplyToAllServices || catalog.Default().RCPSupported(pr.service))

	var res [numPolicyTypes]setResult
	var present PolicyTypes

	// Organizations policies: a deny at any level denies; every level needs an Allow.
	scpGate, rcpGate := True, True
	var scpLevel, rcpLevel string
	if rcpApplies {
		present = present.Add(PolicyRCP)
		res[PolicyRCP].deny = False
		for _, lvl := range ps.RCPs {
			r := es.evalSet(PolicyRCP, lvl.ID, lvl.Policies, pr, ctx)
			if r.deny != False {
				if res[PolicyRCP].denyStmt == nil && r.deny == True {
					res[PolicyRCP].denyStmt = r.denyStmt
					rcpLevel = lvl.ID
				}
				res[PolicyRCP].deny = res[PolicyRCP].deny.Or(r.deny)
			}
			// RCPFullAWSAccess is attached at every level and cannot be
			// detached, so every level allows.
		}
	}
	if scpApplies {
		present = present.Add(PolicySCP)
		res[PolicySCP].deny = False
		var denyLevel string
		for _, lvl := range ps.SCPs {
			r := es.evalSet(PolicySCP, lvl.ID, lvl.Policies, pr, ctx)
			if r.deny != False {
				if res[PolicySCP].denyStmt == nil && r.deny == True {
					res[PolicySCP].denyStmt = r.denyStmt
					denyLevel = lvl.ID
				}
				res[PolicySCP].deny = res[PolicySCP].deny.Or(r.deny)
			}
			if r.allow != True && scpGate != False {
				if r.allow == False || scpLevel == "" {
					scpLevel = lvl.ID
				}
			}
			scpGate = scpGate.And(r.allow)
		}
		if res[PolicySCP].deny == True {
			scpLevel = denyLevel
		}
	}
	if ps.Resource != nil {
		present = present.Add(PolicyResource)
		res[PolicyResource] = es.evalSet(PolicyResource, "", []*Policy{ps.Resource}, pr, ctx)
		if bucketOwnerRootOverride(pr, kind, ps) {
			res[PolicyResource].deny, res[PolicyResource].denyStmt = False, nil
		}
	}
	if len(ps.Identity) > 0 {
		present = present.Add(PolicyIdentity)
		res[PolicyIdentity] = es.evalSet(PolicyIdentity, "", ps.Identity, pr, ctx)
	}
	if ps.Boundary != nil {
		present = present.Add(PolicyBoundary)
		res[PolicyBoundary] = es.evalSet(PolicyBoundary, "", []*Policy{ps.Boundary}, pr, ctx)
	}
	sessionApplies := ps.Session != nil && kind.isSession()
	if sessionApplies {
		present = present.Add(PolicySession)
		res[PolicySession] = es.evalSet(PolicySession, "", ps.Session, pr, ctx)
	}
	if ps.VPCEndpoint != nil {
		present = present.Add(PolicyVPCEndpoint)
		res[PolicyVPCEndpoint] = es.evalSet(PolicyVPCEndpoint, "", ps.VPCEndpoint, pr, ctx)
	}

	// Step 1: explicit deny.
	var d Decision
	denyAny := False
	for t := PolicyType(0); t < numPolicyTypes; t++ {
		if !present.Has(t) {
			continue
		}
		r := &res[t]
		denyAny = denyAny.Or(r.deny)
		if r.deny == True {
			d.Blocked = d.Blocked.Add(t)
			if !d.HasBy {
				d.By, d.HasBy, d.Statement = t, true, r.denyStmt
				if t == PolicySCP {
					d.OrgLevel = scpLevel
				} else if t == PolicyRCP {
					d.OrgLevel = rcpLevel
				}
			}
		}
	}

	// Steps 2-4: the RCP, SCP and VPC endpoint gates.
	vpceGate := True
	if present.Has(PolicyVPCEndpoint) {
		vpceGate = res[PolicyVPCEndpoint].allow
	}
	if scpGate == False {
		d.Blocked = d.Blocked.Add(PolicySCP)
	}
	if rcpGate == False {
		d.Blocked = d.Blocked.Add(PolicyRCP)
	}
	if vpceGate == False {
		d.Blocked = d.Blocked.Add(PolicyVPCEndpoint)
	}

	// Step 5: the grant.
	g := grant(pr, ps, &res, kind, present)
	d.Blocked |= g.blocked

	allowed := denyAny.Not().And(rcpGate).And(scpGate).And(vpceGate).And(g.allow)
	switch allowed {
	case True:
		d = Decision{Verdict: VerdictAllow, Reason: g.reason, Statement: g.stmt, By: g.by, HasBy: g.stmt != nil}
		return d
	case Unknown:
		d = Decision{Verdict: VerdictIndeterminate, Reason: ReasonUnknownKeys, Blocked: d.Blocked,
			MaybeExplicitDeny: denyAny == Unknown}
		d.unknown, d.nUnknown = es.unknown, es.nUnknown
		return d
	}
	if denyAny == True {
		d.Verdict, d.Reason = VerdictExplicitDeny, ReasonExplicitDeny
		return d
	}
	d.Verdict = VerdictImplicitDeny
	switch {
	case rcpGate == False:
		d.Reason, d.By, d.HasBy, d.OrgLevel = ReasonRCPLevel, PolicyRCP, true, rcpLevel
	case scpGate == False:
		d.Reason, d.By, d.HasBy, d.OrgLevel = ReasonSCPLevel, PolicySCP, true, scpLevel
	case vpceGate == False:
		d.Reason, d.By, d.HasBy = ReasonVPCEndpoint, PolicyVPCEndpoint, true
	default:
		d.Reason, d.By, d.HasBy = g.reason, g.by, g.reason != ReasonNone
	}
	return d
}

// grantResult is the outcome of step 5: whether some path grants the request,
// and for a denial which policy types failed to allow.
type grantResult struct {
	allow   Tri
	reason  Reason
	by      PolicyType
	stmt    *Statement
	blocked PolicyTypes
}

// resourceKind tells whether a resource needs its own policy to allow even
// within one account.
type resourceKind uint8

const (
	resourceOrdinary resourceKind = iota
	resourceRoleTrust
	resourceKMSKey
)

// assumeRoleActions are the calls that assume a role; with the session
// options after them, trustActions are the actions a role's trust policy decides.
var (
	trustActions      = []string{"sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithwebidentity", "sts:tagsession", "sts:setsourceidentity", "sts:setcontext"}
	assumeRoleActions = trustActions[:3]
)

func classifyResource(pr *preparedRequest) resourceKind {
	r := &pr.resource
	if !r.isARN {
		return resourceOrdinary
	}
	switch pr.service {
	case "sts":
		if pr.isOneOf(trustActions) && r.lower[2] == "iam" && strings.HasPrefix(r.fields[5], "role/") {
			return resourceRoleTrust
		}
	case "kms":
		if r.lower[2] == "kms" && strings.HasPrefix(r.fields[5], "key/") {
			return resourceKMSKey
		}
	}
	return resourceOrdinary
}

func grant(pr *preparedRequest, ps *PolicySet, res *[numPolicyTypes]setResult, kind PrincipalKind, present PolicyTypes) grantResult {
	rp := &res[PolicyResource]
	rk := classifyResource(pr)
	root := (kind == PrincipalRoot || kind == PrincipalAssumedRoot) && !ps.Compat.RootAsOrdinaryPrincipal

	if owned := awsOwnedResource(pr); owned {
		return grantResult{allow: False, reason: ReasonAWSOwnedResource, blocked: PolicyTypes(0).Add(PolicyIdentity)}
	}

	// Service principals and anonymous callers: only the resource policy grants.
	if kind == PrincipalService || kind == PrincipalAnonymous {
		any := rpAny(rp)
		if any == False {
			return grantResult{allow: False, reason: ReasonNoResourcePolicyGrant, by: PolicyResource, blocked: PolicyTypes(0).Add(PolicyResource)}
		}
		return grantResult{allow: any, reason: ReasonResourceGrant, by: PolicyResource, stmt: rpStmt(rp)}
	}
	if root && rk == resourceRoleTrust && pr.isOneOf(assumeRoleActions) {
		return grantResult{allow: False, reason: ReasonRootCannotAssumeRole}
	}

	// I: identity allows; PB: no boundary or it allows; SP: session policies allow.
	I := res[PolicyIdentity].allow
	if root {
		I = True
	}
	PB := True
	if present.Has(PolicyBoundary) {
		PB = res[PolicyBoundary].allow
	}
	SP := True
	switch {
	case present.Has(PolicySession):
		SP = res[PolicySession].allow
	case kind == PrincipalFederatedUser:
		SP = False // a federated user without a session policy has no permissions
	}
	capped := PB.And(SP)
	identityPath := I.And(capped)

	var g grantResult
	blame := func() {
		if I == False && rp.byKind[matchEntity] == False {
			g.blocked = g.blocked.Add(PolicyIdentity)
		}
		if PB == False {
			g.blocked = g.blocked.Add(PolicyBoundary)
		}
		if SP == False {
			g.blocked = g.blocked.Add(PolicySession)
		}
		switch {
		case g.reason == ReasonNoResourcePolicyGrant:
		case I == False:
			g.reason, g.by = ReasonNoIdentityAllow, PolicyIdentity
		case PB == False:
			g.reason, g.by = ReasonBoundary, PolicyBoundary
		case SP == False:
			g.reason, g.by = ReasonSessionPolicy, PolicySession
		}
	}

	if !pr.sameAccount {
		// Cross account: the principal side and the resource side must both allow.
		any := rpAny(rp)
		g.allow = identityPath.And(any)
		if any == False {
			g.reason, g.by = ReasonNoResourcePolicyGrant, PolicyResource
			g.blocked = g.blocked.Add(PolicyResource)
		}
		if g.allow == False {
			blame()
			return g
		}
		g.reason, g.by, g.stmt = ReasonIdentityGrant, PolicyIdentity, res[PolicyIdentity].allowSt
		if root {
			g.reason, g.stmt = ReasonRootAccess, nil
		}
		return g
	}

	wildcard, entityMatch := rp.byKind[matchWildcard], rp.byKind[matchEntity]
	if kind == PrincipalRoot && ps.Compat.RootAsOrdinaryPrincipal {
		wildcard, entityMatch = False, entityMatch.Or(wildcard)
	}
	direct := rp.byKind[matchDirectUser].Or(wildcard)
	session := rp.byKind[matchDirectSession]
	if ps.Compat.SessionPolicyLimitsDirectSessionGrants {
		session = session.And(SP)
	}
	direct = direct.Or(session)
	entity := entityMatch.And(capped)
	viaIdentity := identityPath
	if rk != resourceOrdinary {
		// Trust and key policies must allow; naming the account delegates to IAM.
		viaIdentity = rp.byKind[matchAccount].And(identityPath)
	}
	g.allow = direct.Or(entity).Or(viaIdentity)
	switch {
	case g.allow == False:
		if rk != resourceOrdinary && rpAny(rp) == False {
			g.reason, g.by = ReasonNoResourcePolicyGrant, PolicyResource
			g.blocked = g.blocked.Add(PolicyResource)
		}
		blame()
	case direct == True || entity == True:
		g.reason, g.by, g.stmt = ReasonResourceGrant, PolicyResource, rpStmt(rp)
	case root:
		g.reason, g.by = ReasonRootAccess, PolicyIdentity
	default:
		g.reason, g.by, g.stmt = ReasonIdentityGrant, PolicyIdentity, res[PolicyIdentity].allowSt
	}
	return g
}

// bucketPolicyActions are the actions the bucket owner's root user may always
// perform on its bucket's policy, whatever Deny the policy holds, so that a
// policy that locks everyone out can be repaired.
var bucketPolicyActions = []string{"s3:getbucketpolicy", "s3:putbucketpolicy", "s3:deletebucketpolicy"}

func bucketOwnerRootOverride(pr *preparedRequest, kind PrincipalKind, ps *PolicySet) bool {
	return kind == PrincipalRoot && pr.sameAccount && !ps.Compat.RootAsOrdinaryPrincipal && pr.isOneOf(bucketPolicyActions)
}

// rpAny is whether the resource policy allows the caller in any way.
func rpAny(rp *setResult) Tri {
	r := False
	for k := matchKind(1); k < numMatchKinds; k++ {
		r = r.Or(rp.byKind[k])
	}
	return r
}

// rpStmt is the strongest resource-policy Allow that matched.
func rpStmt(rp *setResult) *Statement {
	for k := numMatchKinds - 1; k > 0; k-- {
		if rp.kindStmt[k] != nil {
			return rp.kindStmt[k]
		}
	}
	return nil
}

// awsOwnedResource reports a change to a resource that AWS manages and that no
// customer policy can grant: AWS managed KMS aliases (alias/aws/…), the
// aws-reserved roles of IAM Identity Center and AWS managed policies
// (arn:aws:iam::aws:policy/…). Reading them stays possible; actions whose
// access level is Write, Tagging or Permissions management are refused.
func awsOwnedResource(pr *preparedRequest) bool {
	r := &pr.resource
	if !r.isARN || r.pattern {
		return false
	}
	owned := false
	switch {
	case pr.service == "kms" && r.lower[2] == "kms":
		owned = strings.HasPrefix(r.fields[5], "alias/aws/")
	case pr.service == "iam" && r.lower[2] == "iam":
		owned = strings.HasPrefix(r.fields[5], "role/aws-reserved/") || r.lower[4] == "aws"
	}
	if !owned {
		return false
	}
	a, ok := catalog.Default().Action(pr.req.Action)
	return ok && a.Level != catalog.List && a.Level != catalog.Read
}
