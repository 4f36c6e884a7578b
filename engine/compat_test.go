package engine_test

import (
	"encoding/json"
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
	grantTo := func(principal any) map[string]any {
		return map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
			"Effect": "Allow", "Principal": principal, "Action": "sqs:SendMessage", "Resource": queue}}}
	}
	allowing := func(action string) map[string]any {
		return map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
			"Effect": "Allow", "Action": action, "Resource": "*"}}}
	}
	tests := []struct {
		name        string
		principal   string
		boundary    map[string]any
		resource    map[string]any
		aws, oracle string
	}{
		{"root, * granted, boundary not allowing", root, allowing("ec2:Describe*"), grantTo(map[string]any{"AWS": "*"}), "Allowed", "ImplicitlyDenied"},
		{"root, * granted as a string, boundary not allowing", root, allowing("ec2:Describe*"), grantTo("*"), "Allowed", "ImplicitlyDenied"},
		{"root, * granted, boundary allowing", root, allowing("*"), grantTo(map[string]any{"AWS": "*"}), "Allowed", "Allowed"},
		{"root, * granted, no boundary", root, nil, grantTo(map[string]any{"AWS": "*"}), "Allowed", "Allowed"},
		{"root, account granted, no boundary", root, nil, grantTo(map[string]any{"AWS": "111111111111"}), "Allowed", "ImplicitlyDenied"},
		{"root, no resource policy", root, nil, nil, "Allowed", "ImplicitlyDenied"},
		{"user, * granted, boundary not allowing", user, allowing("ec2:Describe*"), grantTo(map[string]any{"AWS": "*"}), "Allowed", "Allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := map[string]any{
				"name": tt.name,
				"request": map[string]any{
					"principal": tt.principal, "action": "sqs:SendMessage",
					"resource": map[string]string{"resource": queue, "accountId": "111111111111"},
				},
				"expected": map[string]string{"response": tt.aws},
			}
			if tt.boundary != nil {
				c["permissionBoundaries"] = []any{tt.boundary}
			}
			if tt.resource != nil {
				c["resourcePolicy"] = tt.resource
			}
			data, err := json.Marshal([]any{c})
			if err != nil {
				t.Fatal(err)
			}
			cases, err := casefile.Parse(tt.name, data)
			if err != nil {
				t.Fatal(err)
			}
			req, ps, err := cases[0].Build()
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
