package engine

import (
	"strconv"
	"strings"
)

// PrincipalKind is the class of the caller; each class has its own rules.
type PrincipalKind uint8

// Principal classes.
const (
	PrincipalUser          PrincipalKind = iota // an IAM user
	PrincipalRoleSession                        // a session of an IAM role
	PrincipalRole                               // any session of a role (for what-if questions)
	PrincipalFederatedUser                      // an STS federated user (GetFederationToken)
	PrincipalRoot                               // the account's root user
	PrincipalAssumedRoot                        // a root session from sts:AssumeRoot, limited by its task policy
	PrincipalService                            // an AWS service principal
	PrincipalAnonymous                          // an unsigned request
)

var principalKindNames = [...]string{"user", "role-session", "role", "federated-user", "root", "assumed-root", "service", "anonymous"}

func (k PrincipalKind) String() string {
	if int(k) < len(principalKindNames) {
		return principalKindNames[k]
	}
	return "principal(" + strconv.Itoa(int(k)) + ")"
}

// Principal is the caller of a request.
type Principal struct {
	Kind PrincipalKind
	// ARN is the caller's ARN as the request carries it: the user ARN, the
	// session ARN (arn:aws:sts::A:assumed-role/Role/Session), the federated
	// user ARN, arn:aws:iam::A:root; the service name for a service principal;
	// empty for anonymous.
	ARN string
	// Account is the caller's account id ("" for services and anonymous).
	Account string
	// EntityARN is the underlying entity: the role ARN with its path for a
	// role session, the IAM user that called GetFederationToken for a
	// federated user. Optional; without it the entity is known by name only.
	EntityARN string
	// UniqueID is the user's AIDA… or the role's AROA… id, when known. Policies
	// that name a deleted principal store such ids and never match a new one.
	UniqueID string
}

// principalIdentity is the parsed form of the caller used in principal matching.
type principalIdentity struct {
	kind    PrincipalKind
	account string
	name    string // user name, role name, federated user name
	session string // role session name
	// sessionRead is set when a match looked at the session name: when it
	// compared the caller with an entry naming a session of its role.
	sessionRead bool
	entityArn   string
	uniqueID    string
	service     string
	// hasBoundary is set from the policy set: a Deny with NotPrincipal always
	// applies to a principal that has a permissions boundary.
	hasBoundary bool
	// serviceLinked marks a service-linked role or its session.
	serviceLinked bool
}

// ParsePrincipalARN builds a Principal from the ARN a request carries:
// an IAM user or role ARN, an assumed-role session ARN, a federated user ARN,
// an account root ARN, a service principal name, or "anonymous" / "*".
func ParsePrincipalARN(s string) (Principal, error) {
	switch {
	case s == "" || s == "anonymous" || s == "*":
		return Principal{Kind: PrincipalAnonymous}, nil
	case !strings.HasPrefix(s, "arn:"):
		if strings.Contains(s, ".") {
			return Principal{Kind: PrincipalService, ARN: s}, nil
		}
		return Principal{}, errorf("principal %q is neither an ARN nor a service principal", s)
	}
	f, ok := splitARN(s)
	if !ok {
		return Principal{}, errorf("principal %q is not a valid ARN", s)
	}
	p := Principal{ARN: s, Account: f[4]}
	res := f[5]
	switch {
	case f[2] == "iam" && res == "root":
		p.Kind = PrincipalRoot
	case f[2] == "iam" && strings.HasPrefix(res, "user/"):
		p.Kind = PrincipalUser
	case f[2] == "iam" && strings.HasPrefix(res, "role/"):
		p.Kind = PrincipalRole
		p.EntityARN = s
	case f[2] == "sts" && strings.HasPrefix(res, "assumed-role/"):
		p.Kind = PrincipalRoleSession
		parts := strings.Split(res, "/")
		if len(parts) < 3 {
			return Principal{}, errorf("principal %q: an assumed-role ARN needs a role and a session name", s)
		}
	case f[2] == "sts" && strings.HasPrefix(res, "federated-user/"):
		p.Kind = PrincipalFederatedUser
	default:
		return Principal{}, errorf("principal %q: unsupported principal ARN", s)
	}
	return p, nil
}

func (p *Principal) identity() principalIdentity {
	id := principalIdentity{kind: p.Kind, account: p.Account, entityArn: p.EntityARN, uniqueID: p.UniqueID}
	switch p.Kind {
	case PrincipalService:
		id.service = p.ARN
		return id
	case PrincipalAnonymous:
		return id
	}
	f, ok := splitARN(p.ARN)
	if !ok {
		return id
	}
	res := f[5]
	switch p.Kind {
	case PrincipalUser:
		id.name = lastPathPart(res)
	case PrincipalRole:
		id.name = lastPathPart(res)
	case PrincipalRoleSession:
		id.name, id.session, _ = strings.Cut(strings.TrimPrefix(res, "assumed-role/"), "/")
	case PrincipalFederatedUser:
		id.name = strings.TrimPrefix(res, "federated-user/")
	}
	switch p.Kind {
	case PrincipalRole, PrincipalRoleSession:
		id.serviceLinked = strings.Contains(p.EntityARN, ":role/aws-service-role/") ||
			strings.Contains(p.ARN, ":role/aws-service-role/") || strings.HasPrefix(id.name, "AWSServiceRoleFor")
	}
	return id
}

// splitSession splits the ARN of a role session into the role's part, up
// to the slash before the session name, and the session name, as identity
// reads them. ok is false for other principals, and for a session name
// holding a slash or a colon, which could change how the rest is read.
func (p *Principal) splitSession() (role, session string, ok bool) {
	if p.Kind != PrincipalRoleSession {
		return "", "", false
	}
	const marker = ":assumed-role/"
	i := strings.Index(p.ARN, marker)
	if i < 0 {
		return "", "", false
	}
	j := strings.IndexByte(p.ARN[i+len(marker):], '/')
	if j < 0 {
		return "", "", false
	}
	cut := i + len(marker) + j + 1
	role, session = p.ARN[:cut], p.ARN[cut:]
	if strings.ContainsAny(session, "/:") {
		return "", "", false
	}
	return role, session, true
}

func lastPathPart(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// IsServiceLinkedRole reports whether a role ARN (or a session of it) is a
// service-linked role: path /aws-service-role/ or a name AWSServiceRoleFor….
func (p *Principal) IsServiceLinkedRole() bool {
	id := p.identity()
	return id.serviceLinked
}

// matchKind is how a resource policy's Principal matched the caller. The
// order is the strength of the grant it gives within one account.
type matchKind uint8

const (
	matchNone matchKind = iota
	matchAccount
	matchEntity
	matchWildcard
	matchDirectSession
	matchDirectUser
	numMatchKinds
)

var matchKindNames = [...]string{"none", "account", "entity", "wildcard", "direct-session", "direct-user"}

func (m matchKind) String() string { return matchKindNames[m] }

// principalEntryKind is the form of one Principal entry.
type principalEntryKind uint8

const (
	peWildcard principalEntryKind = iota
	peAccount
	peUser
	peRole
	peSession
	peFederatedUser
	peUniqueID
	peService
	peFederatedProvider
	peCanonicalUser
	peInvalid // an ARN form that names no principal; matches nothing
)

type principalEntry struct {
	kind    principalEntryKind
	account string
	name    string
	session string
	value   string
}

func compilePrincipals(v *jsonValue, path string) ([]principalEntry, error) {
	if v.kind == jsonString {
		// "*" is everyone; a bare ARN or account id is read as {"AWS": ...},
		// which is how services store such a principal.
		return []principalEntry{parseAWSPrincipal(strings.TrimSpace(v.str))}, nil
	}
	if v.kind != jsonObject {
		return nil, fault(v, path, "Principal must be \"*\" or an object, not %s", v.kind)
	}
	var out []principalEntry
	for i, k := range v.keys {
		list, _, err := stringList(v.items[i], path+"."+k)
		if err != nil {
			return nil, err
		}
		for _, s := range list {
			var e principalEntry
			switch k {
			case "AWS":
				e = parseAWSPrincipal(strings.TrimSpace(s))
			case "Service":
				e = principalEntry{kind: peService, value: strings.ToLower(s)}
			case "Federated":
				e = principalEntry{kind: peFederatedProvider, value: s}
			case "CanonicalUser":
				e = principalEntry{kind: peCanonicalUser, value: s}
			default:
				return nil, fault(v.items[i], path+"."+k, "unknown principal type %q", k)
			}
			if e.kind == peWildcard && k != "AWS" {
				e = principalEntry{kind: peInvalid, value: s}
			}
			out = append(out, e)
		}
	}
	return out, nil
}

func parseAWSPrincipal(s string) principalEntry {
	if s == "*" {
		return principalEntry{kind: peWildcard}
	}
	if isDigits(s) && len(s) == 12 {
		return principalEntry{kind: peAccount, account: s}
	}
	if !strings.HasPrefix(s, "arn:") {
		if len(s) > 4 && (strings.HasPrefix(s, "AIDA") || strings.HasPrefix(s, "AROA")) {
			return principalEntry{kind: peUniqueID, value: s}
		}
		return principalEntry{kind: peInvalid, value: s}
	}
	f, ok := splitARN(s)
	if !ok {
		return principalEntry{kind: peInvalid, value: s}
	}
	e := principalEntry{account: f[4], value: s}
	res := f[5]
	switch {
	case f[2] == "iam" && res == "root":
		e.kind = peAccount
	case f[2] == "iam" && strings.HasPrefix(res, "user/"):
		e.kind, e.name = peUser, lastPathPart(res)
	case f[2] == "iam" && strings.HasPrefix(res, "role/"):
		e.kind, e.name = peRole, lastPathPart(res)
	case f[2] == "sts" && strings.HasPrefix(res, "assumed-role/"):
		e.kind = peSession
		e.name, e.session, _ = strings.Cut(strings.TrimPrefix(res, "assumed-role/"), "/")
	case f[2] == "sts" && strings.HasPrefix(res, "federated-user/"):
		e.kind, e.name = peFederatedUser, strings.TrimPrefix(res, "federated-user/")
	default:
		e.kind = peInvalid
	}
	return e
}

func principalsAreWildcard(es []principalEntry) bool {
	for _, e := range es {
		if e.kind != peWildcard {
			return false
		}
	}
	return len(es) > 0
}

// match tells how one entry matches the caller. The second result is
// Unknown when the caller is a role standing for any of its sessions and the
// entry names one session: whether that session is the caller is not known.
func (e *principalEntry) match(id *principalIdentity) (matchKind, Tri) {
	m := e.matchKnown(id)
	if m == matchNone && e.kind == peSession && id.kind == PrincipalRole && e.account == id.account && e.name == id.name {
		return matchDirectSession, Unknown
	}
	return m, True
}

func (e *principalEntry) matchKnown(id *principalIdentity) matchKind {
	switch e.kind {
	case peWildcard:
		return matchWildcard
	case peService:
		if id.kind == PrincipalService && strings.EqualFold(e.value, id.service) {
			return matchDirectUser
		}
		return matchNone
	case peUniqueID:
		if id.uniqueID != "" && id.uniqueID == e.value {
			if id.kind == PrincipalUser {
				return matchDirectUser
			}
			return matchEntity
		}
		return matchNone
	case peFederatedProvider, peCanonicalUser, peInvalid:
		return matchNone
	}
	if id.kind == PrincipalService || id.kind == PrincipalAnonymous || e.account != id.account {
		return matchNone
	}
	switch e.kind {
	case peAccount:
		return matchAccount
	case peUser:
		switch id.kind {
		case PrincipalUser:
			if e.name == id.name {
				return matchDirectUser
			}
		case PrincipalFederatedUser:
			if id.entityArn != "" && lastPathPart(id.entityArn) == e.name {
				return matchEntity
			}
		}
	case peRole:
		if (id.kind == PrincipalRoleSession || id.kind == PrincipalRole) && e.name == id.name {
			return matchEntity
		}
	case peSession:
		if id.kind == PrincipalRoleSession && e.name == id.name {
			id.sessionRead = true
			if e.session == id.session {
				return matchDirectSession
			}
		}
	case peFederatedUser:
		if id.kind == PrincipalFederatedUser && e.name == id.name {
			return matchDirectSession
		}
	}
	return matchNone
}

// matchPrincipals returns the strongest way any entry certainly matches the
// caller or, failing that, the strongest way one may match.
func matchPrincipals(es []principalEntry, id *principalIdentity) (matchKind, Tri) {
	best, maybe := matchNone, matchNone
	for i := range es {
		m, t := es[i].match(id)
		if t == True && m > best {
			best = m
		} else if t == Unknown && m > maybe {
			maybe = m
		}
	}
	if best != matchNone || maybe == matchNone {
		return best, True
	}
	return maybe, Unknown
}
