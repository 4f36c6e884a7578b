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
	// Context holds the condition keys; nil means no keys at all.
	Context *Context
}

// preparedRequest is a request with everything derived that evaluation needs.
type preparedRequest struct {
	req             *Request
	action          string // lower case
	service         string // lower case service prefix
	resource        resourceRef
	resourceAccount string
	id              principalIdentity
	sameAccount     bool
}

func prepare(r *Request) preparedRequest {
	pr := preparedRequest{req: r, action: strings.ToLower(r.Action)}
	if i := strings.IndexByte(pr.action, ':'); i >= 0 {
		pr.service = pr.action[:i]
	}
	// The resource * is the pseudo-resource of an action that takes none;
	// for an action that takes resources it asks "on some resource".
	wildcardOnly := false
	if r.Resource == "*" {
		a, ok := catalog.Default().Action(r.Action)
		wildcardOnly = !ok || a.WildcardOnly()
	}
	pr.resource = newResourceRef(r.Resource, wildcardOnly)
	pr.resourceAccount = r.ResourceAccount
	if pr.resourceAccount == "" && pr.resource.isARN && !pr.resource.pattern {
		pr.resourceAccount = pr.resource.fields[4]
	}
	pr.id = r.Principal.identity()
	pr.sameAccount = pr.resourceAccount == "" || pr.resourceAccount == r.Principal.Account
	return pr
}
