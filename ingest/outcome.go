package ingest

import (
	"strings"

	"github.com/replay-iam/replay/engine"
)

// Outcome is what a record says happened to the request.
type Outcome uint8

// Logged outcomes.
const (
	OutcomeSuccess      Outcome = iota // no error code
	OutcomeAccessDenied                // an authorization failure
	OutcomeOtherError                  // any other error: the request was authorized
)

func (o Outcome) String() string {
	return [...]string{"success", "access_denied", "other_error"}[o]
}

// accessDeniedCodes are the error codes services use for authorization
// failures, compared case-insensitively.
var accessDeniedCodes = map[string]bool{
	"accessdenied": true, "accessdeniedexception": true, "client.unauthorizedoperation": true,
	"unauthorizedoperation": true, "unauthorizedaccess": true, "unauthorizedexception": true,
	"authorizationerror": true, "authorizationerrorexception": true, "authorizationexception": true,
	"forbidden": true, "forbiddenexception": true, "notauthorized": true, "notauthorizedexception": true,
	"unauthorized": true, "unauthorizedclientexception": true, "client.accessdenied": true,
	"accessdeniedexceptionfault": true, "insufficientprivilegesexception": true,
}

// ClassifyOutcome reads errorCode and errorMessage. For an access denial it
// also returns the policy type the message names, when it names one
// ("…because no identity-based policy allows…", "…with an explicit deny in a
// service control policy…"); ok is false when it names none.
func ClassifyOutcome(rec *Record) (o Outcome, blockedBy engine.PolicyType, explicit, ok bool) {
	if rec.ErrorCode == "" {
		return OutcomeSuccess, 0, false, false
	}
	code := strings.ToLower(rec.ErrorCode)
	if !accessDeniedCodes[code] && !strings.Contains(code, "accessdenied") && !strings.HasSuffix(code, "unauthorizedoperation") {
		return OutcomeOtherError, 0, false, false
	}
	msg := strings.ToLower(rec.ErrorMessage)
	explicit = strings.Contains(msg, "explicit deny")
	for _, m := range messagePolicyTypes {
		if strings.Contains(msg, m.phrase) {
			return OutcomeAccessDenied, m.typ, explicit, true
		}
	}
	return OutcomeAccessDenied, 0, explicit, false
}

// messagePolicyTypes are the phrases access-denied messages use to name the
// policy type that blocked, most specific first.
var messagePolicyTypes = []struct {
	phrase string
	typ    engine.PolicyType
}{
	{"service control policy", engine.PolicySCP},
	{"resource control policy", engine.PolicyRCP},
	{"permissions boundary", engine.PolicyBoundary},
	{"session policy", engine.PolicySession},
	{"vpc endpoint policy", engine.PolicyVPCEndpoint},
	{"resource-based policy", engine.PolicyResource},
	{"identity-based policy", engine.PolicyIdentity},
}
