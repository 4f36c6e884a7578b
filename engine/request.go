package engine

import (
	"strings"

	"github.com/replay-iam/replay/catalog"
)

// Request is one authorization request: who, what, on which resource, with
// which context.
type Request struct {
	Principal Principal
	// Action is "service:ActionName"; matching is case-insensitive.
	Action string
	// Resource is the resource ARN, or "*" for actions that take no resource.
	Resource string
	// ResourceAccount is the account that owns the resource. S3 ARNs carry no
	// account, so it must be given; when empty, the ARN's account field is used.
	ResourceAccount string
	// ResourcePartial says Resource is a pattern that covers the resource the
	// request touched without naming it, as when a log shows the bucket but
	// not the object key. A statement whose Resource covers the pattern
	// matches, one that cannot match it does not, and one that matches only
	// part of it leaves the decision depending on ResourceUnknownKey.
	ResourcePartial bool
	// Context holds the condition keys; nil means no keys at all.
	Context *Context
}

// preparedRequest is a request with everything derived that evaluation needs.
type preparedRequest struct {
	req             *Request
	action          string // as given; compare case-insensitively
	service         string // lower case service prefix
	resource        resourceRef
	resourceAccount string
	id              principalIdentity
	sameAccount     bool
}

func prepare(r *Request) preparedRequest {
	pr := prepareResource(r)
	pr.prepareCaller()
	return pr
}

// prepareResource prepares the action and the resource only.
func prepareResource(r *Request) preparedRequest {
	pr := preparedRequest{req: r, action: r.Action}
	if i := strings.IndexByte(r.Action, ':'); i >= 0 {
		pr.service = lowerService(r.Action[:i])
	}
	// The resource * is the pseudo-resource of an action that takes none;
	// for an action that takes resources it asks "on some resource".
	wildcardOnly := false
	if r.Resource == "*" {
		a, ok := catalog.Default().Action(r.Action)
		wildcardOnly = !ok || a.WildcardOnly()
	}
	pr.prepareResourceRef(wildcardOnly)
	return pr
}

// prepareResourceRef sets the resource of a request prepared for its
// action, wildcardOnly telling whether the action takes no resource.
func (pr *preparedRequest) prepareResourceRef(wildcardOnly bool) {
	r := pr.req
	pr.resource = newResourceRef(r.Resource, wildcardOnly)
	pr.resource.partial = r.ResourcePartial && pr.resource.pattern
	pr.resourceAccount = r.ResourceAccount
	if pr.resourceAccount == "" && pr.resource.isARN && !hasWildcard(pr.resource.fields[4]) {
		pr.resourceAccount = pr.resource.fields[4]
	}
}

// prepareCaller completes a request prepared by prepareResource.
func (pr *preparedRequest) prepareCaller() {
	pr.id = pr.req.Principal.identity()
	pr.sameAccount = pr.resourceAccount == "" || pr.resourceAccount == pr.req.Principal.Account
}

// lowerService returns the service prefix in lower case, without allocating
// for the services the catalogue knows.
func lowerService(s string) string {
	if svc, ok := catalog.Default().Service(s); ok {
		return svc.Prefix
	}
	return strings.ToLower(s)
}

// isAction reports whether the request's action is name (lower case).
func (pr *preparedRequest) isAction(name string) bool { return equalFoldASCII(pr.action, name) }

// isOneOf reports whether the request's action is one of names (lower case).
func (pr *preparedRequest) isOneOf(names []string) bool {
	for _, n := range names {
		if pr.isAction(n) {
			return true
		}
	}
	return false
}
