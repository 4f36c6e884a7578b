package ingest

import (
	"path/filepath"
	"testing"

	"github.com/replay-iam/replay/engine"
)

func TestPolicySetFor(t *testing.T) {
	s, err := LoadSnapshot(filepath.Join("testdata", "snapshot"))
	if err != nil {
		t.Fatal(err)
	}
	const a = "111111111111"
	// A session of role/svc/app reading from the data bucket: the role's
	// managed policy (default version: s3:GetObject only), the bucket policy,
	// the SCP chain and the RCP denying insecure transport.
	ctx := engine.NewContext()
	ctx.SetDefault(engine.KeyUnknown)
	ctx.Set("aws:SecureTransport", "true")
	req := &engine.Request{
		Principal: engine.Principal{Kind: engine.PrincipalRoleSession, ARN: "arn:aws:sts::" + a + ":assumed-role/app/i-1", Account: a},
		Action:    "s3:GetObject", Resource: "arn:aws:s3:::data/x", ResourceAccount: a, Context: ctx,
	}
	j := s.PolicySetFor(req, &Session{TagsComplete: true})
	if j.Entity == nil || j.Entity.Name != "app" || !j.Complete {
		t.Fatalf("join %+v", j)
	}
	if len(j.Policies.Identity) != 1 || len(j.Policies.SCPs) != 3 || len(j.Policies.RCPs) != 3 {
		t.Errorf("policy set %+v", j.Policies)
	}
	if d := engine.Authorize(req, j.Policies); d.Verdict != engine.VerdictAllow {
		t.Errorf("decision %s: %s", d.Verdict, d.Explain())
	}
	if ctx.Values("aws:PrincipalOrgID")[0] != "o-abc" || ctx.State("aws:PrincipalTag/team") != engine.KeyAbsent {
		t.Error("org id or complete principal tags not set")
	}
	// The non-default version allowed "*": s3:PutObject must be denied.
	req.Action = "s3:PutObject"
	if d := engine.Authorize(req, s.PolicySetFor(req, &Session{TagsComplete: true}).Policies); d.Verdict != engine.VerdictImplicitDeny {
		t.Errorf("PutObject: %s", d.Explain())
	}
	// Alice has a malformed inline policy and a boundary whose default
	// version is missing: her join is incomplete.
	ctx2 := engine.NewContext()
	req2 := &engine.Request{Principal: engine.Principal{Kind: engine.PrincipalUser, ARN: "arn:aws:iam::" + a + ":user/alice", Account: a},
		Action: "s3:GetObject", Resource: "arn:aws:s3:::data/x", ResourceAccount: a, Context: ctx2}
	j2 := s.PolicySetFor(req2, nil)
	if j2.Complete || j2.Entity == nil || ctx2.Values("aws:PrincipalTag/team")[0] != "blue" {
		t.Errorf("alice join %+v", j2)
	}
	// An unknown caller is incomplete.
	req3 := &engine.Request{Principal: engine.Principal{Kind: engine.PrincipalUser, ARN: "arn:aws:iam::" + a + ":user/ghost", Account: a},
		Action: "s3:GetObject", Resource: "*", Context: engine.NewContext()}
	if j3 := s.PolicySetFor(req3, nil); j3.Complete || j3.Entity != nil {
		t.Errorf("ghost join %+v", j3)
	}
}

// TestPrincipalTagKeys checks the aws:PrincipalTag keys of an entity loaded
// with the snapshot and of one made by hand.
func TestPrincipalTagKeys(t *testing.T) {
	loaded := &Entity{Tags: map[string]string{"Team": "blue", "cost-center": "42"}}
	(&Snapshot{}).assembleIdentity(loaded)
	byHand := &Entity{Tags: map[string]string{"Team": "blue", "cost-center": "42"}}
	for name, e := range map[string]*Entity{"loaded": loaded, "by hand": byHand} {
		ctx := engine.NewContext()
		ctx.SetDefault(engine.KeyUnknown)
		setPrincipalTags(ctx, e.principalTags(), engine.PrincipalUser, nil)
		for key, want := range map[string]string{"aws:PrincipalTag/team": "blue", "aws:principaltag/Cost-Center": "42"} {
			if v := ctx.Values(key); ctx.State(key) != engine.KeyPresent || len(v) != 1 || v[0] != want {
				t.Errorf("%s: %s = %s %v, want %q", name, key, ctx.State(key), v, want)
			}
		}
		if st := ctx.State("aws:PrincipalTag/other"); st != engine.KeyAbsent {
			t.Errorf("%s: an untagged key is %s, want absent", name, st)
		}
	}
}
