package ingest

import (
	"strings"

	"github.com/replay-iam/replay/engine"
)

// EntityOf finds the snapshot entity behind a caller: the user, the role of a
// session (by the role ARN with its path, or by name), or the IAM user that
// called GetFederationToken.
func (s *Snapshot) EntityOf(p *engine.Principal) (*Entity, bool) {
	switch p.Kind {
	case engine.PrincipalUser:
		e, ok := s.Users[p.ARN]
		return e, ok
	case engine.PrincipalRole:
		e, ok := s.Roles[p.ARN]
		return e, ok
	case engine.PrincipalRoleSession:
		if e, ok := s.Roles[p.EntityARN]; ok {
			return e, true
		}
		// arn:aws:sts::A:assumed-role/Name/Session
		_, rest, ok := strings.Cut(p.ARN, ":assumed-role/")
		if !ok {
			return nil, false
		}
		name, _, _ := strings.Cut(rest, "/")
		return s.RoleByName(p.Account, name)
	case engine.PrincipalFederatedUser:
		e, ok := s.Users[p.EntityARN]
		return e, ok
	}
	return nil, false
}

// IdentityPolicies returns an entity's identity policies: its inline and
// attached managed policies and, for a user, those of its groups. The entity
// is marked incomplete when a policy it names is not in the snapshot.
func (s *Snapshot) IdentityPolicies(e *Entity) []*engine.Policy { return e.identity }

// assembleIdentity collects an entity's identity policy set.
func (s *Snapshot) assembleIdentity(e *Entity) {
	out := append([]*engine.Policy(nil), e.Inline...)
	add := func(arns []string) {
		for _, a := range arns {
			if p, ok := s.Managed[a]; ok {
				out = append(out, p)
			} else {
				e.Incomplete = true
			}
		}
	}
	add(e.Attached)
	for _, g := range e.Groups {
		grp, ok := s.groupsByName[e.Account+"/"+g]
		if !ok {
			e.Incomplete = true
			continue
		}
		out = append(out, grp.Inline...)
		add(grp.Attached)
	}
	e.identity = out
	e.tagKeys = principalTagsOf(e.Tags)
}

// addSessionPolicies adds a session's inline and managed session policies.
func (s *Snapshot) addSessionPolicies(j *Join, sess *Session) {
	if sess.PolicyProblem != nil {
		j.Complete = false
	}
	if sess.Policy != nil {
		j.Policies.Session = append(j.Policies.Session, sess.Policy)
	}
	for _, a := range sess.PolicyARNs {
		if pol, ok := s.Managed[a]; ok {
			j.Policies.Session = append(j.Policies.Session, pol)
		} else {
			j.Complete = false
		}
	}
}

// setPrincipalTags sets aws:PrincipalTag/* from the entity's IAM tags and
// the session's tags, which override IAM tags with the same key (compared
// without case). When the session's tags are not all known, the entity's
// tag keys are present with unknown values and other keys are unknown.
func setPrincipalTags(ctx *engine.Context, tags []principalTag, kind engine.PrincipalKind, sess *Session) {
	complete := true
	if needsSession(kind) {
		complete = sess != nil && sess.TagsComplete
	}
	var sessTags []principalTag
	if sess != nil {
		sessTags = sess.principalTags()
	}
	for _, t := range tags {
		overridden := false
		for _, st := range sessTags {
			if strings.EqualFold(st.key, t.key) {
				overridden = true
				break
			}
		}
		switch {
		case overridden:
		case complete:
			ctx.SetKey(t.contextKey, t.value)
		default:
			ctx.SetValueUnknownKey(t.contextKey, false)
		}
	}
	for _, st := range sessTags {
		ctx.SetKey(st.contextKey, st.value)
	}
	if complete {
		ctx.MarkCompleteKey(prefixPrincipalTag)
	}
}

// Join is what the snapshot contributes to one request.
type Join struct {
	Policies *engine.PolicySet
	// Entity is the caller's entity, nil when the snapshot has none.
	Entity *Entity
	// Complete is false when a policy that applies could not be loaded, or
	// the caller's entity is missing: a denial may then be wrong.
	Complete bool
	// SessionJoined is false for a role session or federated user whose
	// issuing STS call was not seen: its session policies are not known and
	// its principal tags may differ from the entity's.
	SessionJoined bool
}

// needsSession reports whether a caller's permissions depend on the STS
// call that issued its credentials.
func needsSession(k engine.PrincipalKind) bool {
	return k == engine.PrincipalRoleSession || k == engine.PrincipalFederatedUser || k == engine.PrincipalAssumedRoot
}

// PolicySetFor assembles the policies that bear on a request and adds the
// snapshot's keys to its context: principal tags, org ids and paths,
// resource tags. sess is the session that issued the caller's credentials,
// nil when the caller is not a session or its issuing call was not seen.
func (s *Snapshot) PolicySetFor(req *engine.Request, sess *Session) Join {
	return s.joinTo(req, sess, &engine.PolicySet{})
}

// joinTo is PolicySetFor assembling the policies into ps, which must be
// empty.
func (s *Snapshot) joinTo(req *engine.Request, sess *Session, ps *engine.PolicySet) Join {
	p := &req.Principal
	j := Join{Policies: ps, Complete: true, SessionJoined: true}
	ctx := req.Context
	if needsSession(p.Kind) {
		if sess == nil {
			j.SessionJoined = false
		} else {
			s.addSessionPolicies(&j, sess)
		}
	}
	if e, ok := s.EntityOf(p); ok {
		j.Entity = e
		ps.Identity = e.identity
		j.Complete = j.Complete && !e.Incomplete
		if e.Boundary != "" {
			if b, ok := s.Managed[e.Boundary]; ok {
				ps.Boundary = b
			} else {
				j.Complete = false
			}
		}
		if ctx != nil {
			setPrincipalTags(ctx, e.principalTags(), p.Kind, sess)
		}
	} else if p.Kind != engine.PrincipalRoot && p.Kind != engine.PrincipalAssumedRoot &&
		p.Kind != engine.PrincipalService && p.Kind != engine.PrincipalAnonymous {
		j.Complete = false
	}
	// Resource side.
	if rp, ok := s.resourcePolicy(req.Resource); ok {
		ps.Resource = rp
	} else if role, ok := s.Roles[req.Resource]; ok && role.Trust != nil && len(req.Action) > 4 && strings.EqualFold(req.Action[:4], "sts:") {
		ps.Resource = role.Trust
	}
	if ctx != nil {
		if tags, ok := s.Tags[req.Resource]; ok {
			for k, v := range tags {
				ctx.Set("aws:ResourceTag/"+k, v)
			}
			ctx.MarkCompleteKey(prefixResourceTag)
		}
	}
	// Organizations.
	if o := s.Org; o != nil {
		resAcct := req.ResourceAccount
		// Most requests act in the caller's own account: its chain serves
		// both sides.
		var callerChain *orgChain
		if p.Account != "" {
			if chain, ok := o.chain(p.Account); ok {
				callerChain = chain
				ps.SCPs = chain.scps
				ps.PrincipalInManagementAccount = p.Account == o.ManagementAccount
				if ctx != nil {
					ctx.SetKey(keyPrincipalOrgID, o.ID)
					ctx.SetListSharedKey(keyPrincipalOrgPaths, chain.paths)
				}
			} else if ctx != nil {
				ctx.SetAbsentKey(keyPrincipalOrgID)
				ctx.SetAbsentKey(keyPrincipalOrgPaths)
			}
		}
		if resAcct != "" {
			chain := callerChain
			if resAcct != p.Account {
				chain, _ = o.chain(resAcct)
			}
			if chain != nil {
				ps.RCPs = chain.rcps
				ps.ResourceInManagementAccount = resAcct == o.ManagementAccount
				if ctx != nil {
					ctx.SetKey(keyResourceOrgID, o.ID)
					ctx.SetListSharedKey(keyResourceOrgPaths, chain.paths)
				}
			}
		}
	}
	return j
}

// resourcePolicy returns the resource policy that governs a resource: its
// own, or for an S3 object its bucket's (a bucket policy decides the
// requests on the bucket's objects; the snapshot lists it under the
// bucket's ARN).
func (s *Snapshot) resourcePolicy(arn string) (*engine.Policy, bool) {
	if rp, ok := s.Resource[arn]; ok {
		return rp, true
	}
	if bucket, ok := bucketOf(arn); ok {
		rp, ok := s.Resource[bucket]
		return rp, ok
	}
	return nil, false
}

// bucketOf returns the ARN of the bucket of an S3 object ARN
// (arn:PARTITION:s3:::BUCKET/KEY). An ARN whose bucket is a pattern has
// none.
func bucketOf(arn string) (string, bool) {
	rest, ok := strings.CutPrefix(arn, "arn:")
	if !ok {
		return "", false
	}
	_, rest, ok = strings.Cut(rest, ":")
	if !ok {
		return "", false
	}
	if rest, ok = strings.CutPrefix(rest, "s3:::"); !ok {
		return "", false
	}
	bucket, _, ok := strings.Cut(rest, "/")
	if !ok || bucket == "" || strings.ContainsAny(bucket, "*?") {
		return "", false
	}
	return arn[:len(arn)-len(rest)+len(bucket)], true
}
