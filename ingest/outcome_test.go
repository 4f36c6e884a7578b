package ingest

import (
	"testing"

	"github.com/replay-iam/replay/engine"
)

func TestClassifyOutcome(t *testing.T) {
	tests := []struct {
		code, msg string
		outcome   Outcome
		typ       engine.PolicyType
		explicit  bool
		named     bool
	}{
		{"", "", OutcomeSuccess, 0, false, false},
		{"AccessDenied", "User: arn:aws:iam::1:user/a is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::b/k because no identity-based policy allows the s3:GetObject action", OutcomeAccessDenied, engine.PolicyIdentity, false, true},
		{"AccessDeniedException", "User: x is not authorized to perform: kms:Decrypt with an explicit deny in a service control policy", OutcomeAccessDenied, engine.PolicySCP, true, true},
		{"Client.UnauthorizedOperation", "You are not authorized to perform this operation.", OutcomeAccessDenied, 0, false, false},
		{"AccessDenied", "... because no permissions boundary allows the iam:CreateRole action", OutcomeAccessDenied, engine.PolicyBoundary, false, true},
		{"AccessDenied", "... with an explicit deny in a resource-based policy", OutcomeAccessDenied, engine.PolicyResource, true, true},
		{"AuthorizationError", "not authorized", OutcomeAccessDenied, 0, false, false},
		{"NoSuchKey", "The specified key does not exist.", OutcomeOtherError, 0, false, false},
		{"ThrottlingException", "Rate exceeded", OutcomeOtherError, 0, false, false},
	}
	for _, tt := range tests {
		o, typ, explicit, named := ClassifyOutcome(&Record{ErrorCode: tt.code, ErrorMessage: tt.msg})
		if o != tt.outcome || named != tt.named || explicit != tt.explicit || (named && typ != tt.typ) {
			t.Errorf("%s %q: got %v %v explicit=%v named=%v", tt.code, tt.msg, o, typ, explicit, named)
		}
	}
}
