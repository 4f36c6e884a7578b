package engine

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParsePolicy checks that no document makes the parser or the evaluator
// panic, and that a parsed policy evaluates to a valid verdict. Seeds are the
// policies of the conformance cases.
func FuzzParsePolicy(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "conformance", "*.json"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		var cases []map[string]json.RawMessage
		if err := json.Unmarshal(data, &cases); err != nil {
			f.Fatal(err)
		}
		for _, c := range cases {
			for _, k := range []string{"identityPolicies", "permissionBoundaries"} {
				var docs []json.RawMessage
				_ = json.Unmarshal(c[k], &docs)
				for _, d := range docs {
					f.Add([]byte(d), uint8(PolicyIdentity))
				}
			}
			if rp := c["resourcePolicy"]; len(rp) > 0 {
				f.Add([]byte(rp), uint8(PolicyResource))
			}
		}
	}
	f.Add([]byte(`{"Statement":{"Effect":"Deny","NotAction":"*","NotResource":"arn:aws:s3:::${aws:username, 'x'}/*"}}`), uint8(PolicyIdentity))
	ctx := NewContext()
	ctx.Set("aws:username", "alice")
	ctx.SetList("aws:TagKeys", []string{"a", "b"})
	ctx.SetUnknown("aws:SourceIp")
	reqs := []*Request{
		{Principal: Principal{Kind: PrincipalUser, ARN: "arn:aws:iam::111111111111:user/alice", Account: "111111111111"},
			Action: "s3:GetObject", Resource: "arn:aws:s3:::b/alice/k", ResourceAccount: "111111111111", Context: ctx},
		{Principal: Principal{Kind: PrincipalRoleSession, ARN: "arn:aws:sts::111111111111:assumed-role/r/s", Account: "111111111111"},
			Action: "s3:ListAllMyBuckets", Resource: "*", ResourceAccount: "222222222222", Context: ctx},
		{Principal: Principal{Kind: PrincipalRole, ARN: "arn:aws:iam::111111111111:role/r", Account: "111111111111"},
			Action: "s3:GetObject", Resource: "arn:aws:s3:::b/*", ResourceAccount: "111111111111", Context: ctx},
	}
	f.Fuzz(func(t *testing.T, doc []byte, typ uint8) {
		pt := PolicyType(typ % uint8(numPolicyTypes))
		p, err := ParsePolicy("fuzz", pt, doc)
		if err != nil {
			if _, ok := err.(*PolicyError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		ps := &PolicySet{}
		switch pt {
		case PolicyResource:
			ps.Resource = p
		case PolicyBoundary:
			ps.Boundary = p
		case PolicySCP:
			ps.SCPs = []OrgLevel{{ID: "r", Policies: []*Policy{p}}}
		case PolicyRCP:
			ps.RCPs = []OrgLevel{{ID: "r", Policies: []*Policy{p}}}
		case PolicySession:
			ps.Session = []*Policy{p}
		case PolicyVPCEndpoint:
			ps.VPCEndpoint = []*Policy{p}
		default:
			ps.Identity = []*Policy{p}
		}
		for _, r := range reqs {
			d := Authorize(r, ps)
			if d.Verdict > VerdictIndeterminate {
				t.Fatalf("invalid verdict %d", d.Verdict)
			}
			_ = d.Explain()
		}
	})
}
