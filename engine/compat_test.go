package engine_test

import (
	"testing"

	"github.com/replay-iam/replay/engine"
	"github.com/replay-iam/replay/engine/casefile"
)

// TestCompatRootAsOrdinaryPrincipal checks the rules the differential test
// switches on to tell iam-simulate's treatment of the root user from a
// fault: without the flag, the root user has its own account's resources;
// with it, the root user needs an identity policy, and a resource-policy
// grant to "*" reaches it only as far as a permissions boundary allows,
// while an IAM user's grant through "*" still passes the boundary. The
// answers with the flag are iam-simulate 0.1.173's on the same requests.
func TestCompatRootAsOrdinaryPrincipal(t *testing.T) {
	const (
		root  = "arn:aws:iam::111111111111:root"
		user  = "arn:aws:iam::111111111111:user/bob"
		queue = "arn:aws:sqs:us-east-1:111111111111:jobs"
	)
	grantTo := func(principal any) doc {
		return doc{"Version": "2012-10-17", "Statement": []any{doc{
			"Effect": "Allow", "Principal": principal, "Action": "sqs:SendMessage", "Resource": queue}}}
	}
	allowing := func(action string) doc {
		return doc{"Version": "2012-10-17", "Statement": []any{doc{
			"Effect": "Allow", "Action": action, "Resource": "*"}}}
	}
	tests := []struct {
		name        string
		principal   string
		boundary    doc
		resource    doc
		aws, oracle string
	}{
		{"root, * granted, boundary not allowing", root, allowing("ec2:Describe*"), grantTo(doc{"AWS": "*"}), "Allowed", "ImplicitlyDenied"},
		{"root, * granted as a string, boundary not allowing", root, allowing("ec2:Describe*"), grantTo("*"), "Allowed", "ImplicitlyDenied"},
		{"root, * granted, boundary allowing", root, allowing("*"), grantTo(doc{"AWS": "*"}), "Allowed", "Allowed"},
		{"root, * granted, no boundary", root, nil, grantTo(doc{"AWS": "*"}), "Allowed", "Allowed"},
		{"root, account granted, no boundary", root, nil, grantTo(doc{"AWS": acctA}), "Allowed", "ImplicitlyDenied"},
		{"root, no resource policy", root, nil, nil, "Allowed", "ImplicitlyDenied"},
		{"user, * granted, boundary not allowing", user, allowing("ec2:Describe*"), grantTo(doc{"AWS": "*"}), "Allowed", "Allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The request in iam-simulate's format, as the differential
			// test gives it to both evaluators.
			s := &scenario{IdentityPolicies: []named{}, SCPs: []orgLevel{}, RCPs: []orgLevel{}, ResourcePolicy: tt.resource}
			s.Request.Principal, s.Request.Action = tt.principal, "sqs:SendMessage"
			s.Request.Resource = map[string]string{"resource": queue, "accountId": acctA}
			if tt.boundary != nil {
				s.Boundaries = []named{{Name: "pb", Policy: tt.boundary}}
			}
			c, err := s.toCase(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			req, ps, err := c.Build()
			if err != nil {
				t.Fatal(err)
			}
			if got := casefile.Response(engine.Authorize(req, ps).Verdict); got != tt.aws {
				t.Errorf("AWS rules: %s, want %s", got, tt.aws)
			}
			alt := *ps
			alt.Compat.RootAsOrdinaryPrincipal = true
			if got := casefile.Response(engine.Authorize(req, &alt).Verdict); got != tt.oracle {
				t.Errorf("root as an ordinary principal: %s, want %s", got, tt.oracle)
			}
		})
	}
}
