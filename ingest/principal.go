package ingest

import (
	"errors"
	"fmt"

	"github.com/replay-iam/replay/engine"
)

// Categories of records whose caller cannot be evaluated.
var (
	// ErrUnknownPrincipal marks a caller the record does not identify well
	// enough to evaluate (type Unknown, a missing ARN).
	ErrUnknownPrincipal = errors.New("unknown principal")
	// ErrOtherAccountCaller marks the resource owner's copy of a cross-account
	// call (type AWSAccount): the caller's identity is in the caller's own trail.
	ErrOtherAccountCaller = errors.New("caller in another account")
	// ErrUnsupportedPrincipal marks callers that IAM identity policies do not
	// govern: SAML and web identity users before they assume a role, and
	// Identity Center users of the access portal.
	ErrUnsupportedPrincipal = errors.New("principal type not evaluated")
)

// PrincipalOf derives the caller of a record. The error, when not nil, is one
// of the categories above, wrapped with the type the record gives.
func PrincipalOf(rec *Record) (engine.Principal, error) { return principalOf(rec, parseKind) }

// parseKind returns the kind of principal an ARN names, and whether it is
// one.
func parseKind(arn string) (engine.PrincipalKind, bool) {
	p, err := engine.ParsePrincipalARN(arn)
	return p.Kind, err == nil
}

// principalOf is PrincipalOf with the kind of an ARN told by kindOf.
func principalOf(rec *Record, kindOf func(arn string) (engine.PrincipalKind, bool)) (engine.Principal, error) {
	u := &rec.UserIdentity
	sc := u.SessionContext
	var p engine.Principal
	switch u.Type {
	case "IAMUser":
		p = engine.Principal{Kind: engine.PrincipalUser, ARN: u.ARN, Account: u.AccountID, UniqueID: u.PrincipalID}
	case "AssumedRole":
		p = engine.Principal{Kind: engine.PrincipalRoleSession, ARN: u.ARN, Account: u.AccountID}
		if sc != nil {
			p.EntityARN = sc.SessionIssuer.ARN
			p.UniqueID = sc.SessionIssuer.PrincipalID
		}
	case "FederatedUser":
		p = engine.Principal{Kind: engine.PrincipalFederatedUser, ARN: u.ARN, Account: u.AccountID}
		if sc != nil {
			p.EntityARN = sc.SessionIssuer.ARN
		}
	case "Root":
		p = engine.Principal{Kind: engine.PrincipalRoot, ARN: u.ARN, Account: u.AccountID}
		if p.ARN == "" && u.AccountID != "" {
			p.ARN = "arn:aws:iam::" + u.AccountID + ":root"
		}
		if sc != nil && sc.AssumedRoot == "true" {
			p.Kind = engine.PrincipalAssumedRoot
		}
	case "AWSService":
		if u.InvokedBy == "" {
			return p, fmt.Errorf("%w: AWSService without invokedBy", ErrUnknownPrincipal)
		}
		return engine.Principal{Kind: engine.PrincipalService, ARN: u.InvokedBy}, nil
	case "AWSAccount":
		if u.PrincipalID == "ANONYMOUS_PRINCIPAL" || u.AccountID == "ANONYMOUS_PRINCIPAL" {
			return engine.Principal{Kind: engine.PrincipalAnonymous}, nil
		}
		return p, fmt.Errorf("%w: AWSAccount %s", ErrOtherAccountCaller, u.AccountID)
	case "SAMLUser", "WebIdentityUser", "IdentityCenterUser":
		return p, fmt.Errorf("%w: %s", ErrUnsupportedPrincipal, u.Type)
	default:
		return p, fmt.Errorf("%w: type %q", ErrUnknownPrincipal, u.Type)
	}
	if p.ARN == "" || p.Account == "" {
		return engine.Principal{}, fmt.Errorf("%w: %s without arn or accountId", ErrUnknownPrincipal, u.Type)
	}
	// The ARN must be of the kind the type says: policies match on its parts.
	kind, ok := kindOf(p.ARN)
	want := p.Kind
	if want == engine.PrincipalAssumedRoot {
		want = engine.PrincipalRoot
	}
	if !ok || kind != want {
		return engine.Principal{}, fmt.Errorf("%w: %s with arn %q", ErrUnknownPrincipal, u.Type, p.ARN)
	}
	return p, nil
}
