package ingest

import (
	"encoding/json"
	"fmt"
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
	if rp := j.Policies.Resource; rp == nil || rp.ID != "arn:aws:s3:::data" {
		t.Errorf("resource policy %v, want the data bucket's", rp)
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

// TestOrgChainsBySide checks that the SCPs and the principal's org keys
// come from the caller's account and the RCPs and the resource's org keys
// from the resource's account, whether the two are the same account or
// only one of them is in the organization.
func TestOrgChainsBySide(t *testing.T) {
	s, err := LoadSnapshot(filepath.Join("testdata", "snapshot"))
	if err != nil {
		t.Fatal(err)
	}
	const member, outside = "111111111111", "333333333333"
	const memberPath = "o-abc/r-root/ou-prod/111111111111/"
	for _, c := range []struct {
		name, caller, resource string
		scps, rcps             int // levels: root, OU, account
		principalPath          string
		resourcePath           string
	}{
		{"same member account", member, member, 3, 3, memberPath, memberPath},
		{"member caller, outside resource", member, outside, 3, 0, memberPath, ""},
		{"outside caller, member resource", outside, member, 0, 3, "", memberPath},
		{"both outside", outside, outside, 0, 0, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := engine.NewContext()
			req := &engine.Request{
				Principal: engine.Principal{Kind: engine.PrincipalRoot, ARN: "arn:aws:iam::" + c.caller + ":root", Account: c.caller},
				Action:    "s3:GetObject", Resource: "arn:aws:s3:::elsewhere/x", ResourceAccount: c.resource, Context: ctx,
			}
			ps := s.PolicySetFor(req, nil).Policies
			if len(ps.SCPs) != c.scps || len(ps.RCPs) != c.rcps {
				t.Errorf("%d SCP and %d RCP levels, want %d and %d", len(ps.SCPs), len(ps.RCPs), c.scps, c.rcps)
			}
			for _, k := range []struct{ key, want string }{
				{"aws:PrincipalOrgPaths", c.principalPath},
				{"aws:ResourceOrgPaths", c.resourcePath},
			} {
				got := ""
				if v := ctx.Values(k.key); len(v) == 1 {
					got = v[0]
				}
				if got != k.want {
					t.Errorf("%s = %q (%s), want %q", k.key, got, ctx.State(k.key), k.want)
				}
			}
		})
	}
}

// TestBucketPolicyGovernsObjects checks which resource policy the join
// gives a request: the resource's own, or for an S3 object its bucket's,
// found under the bucket's ARN in the same partition.
func TestBucketPolicyGovernsObjects(t *testing.T) {
	s, err := LoadSnapshot(filepath.Join("testdata", "snapshot"))
	if err != nil {
		t.Fatal(err)
	}
	const a = "111111111111"
	queue := "arn:aws:sqs:us-east-1:" + a + ":jobs/x"
	s.Resource[queue] = s.Resource["arn:aws:s3:::data"]
	for _, c := range []struct {
		resource, want string
	}{
		{"arn:aws:s3:::data", "arn:aws:s3:::data"},
		{"arn:aws:s3:::data/x", "arn:aws:s3:::data"},
		{"arn:aws:s3:::data/reports/2026/q1.csv", "arn:aws:s3:::data"},
		{"arn:aws:s3:::data/", "arn:aws:s3:::data"},
		{"arn:aws:s3:::data/*", "arn:aws:s3:::data"}, // a partial resource in the bucket
		{"arn:aws:s3:::data-old/x", ""},
		{"arn:aws:s3:::dat/a/x", ""},
		{"arn:aws:s3:::d*/x", ""},
		{"arn:aws:s3:::*", ""},
		{"arn:aws-cn:s3:::data/x", ""},
		{"arn:aws:s3:us-east-1:" + a + ":accesspoint/data/object/x", ""},
		{"arn:aws:sqs:us-east-1:" + a + ":jobs/x", "arn:aws:s3:::data"}, // its own, by exact ARN
		{"arn:aws:sqs:us-east-1:" + a + ":jobs", ""},
		{"data/x", ""},
		{"*", ""},
	} {
		req := &engine.Request{
			Principal: engine.Principal{Kind: engine.PrincipalRoleSession, ARN: "arn:aws:sts::" + a + ":assumed-role/app/i-1", Account: a},
			Action:    "s3:GetObject", Resource: c.resource, ResourceAccount: a, Context: engine.NewContext(),
		}
		got := ""
		if rp := s.PolicySetFor(req, &Session{TagsComplete: true}).Policies.Resource; rp != nil {
			got = rp.ID
		}
		if got != c.want {
			t.Errorf("%s: resource policy %q, want %q", c.resource, got, c.want)
		}
	}

	// The bucket policy names the role: a session reads an object with no
	// identity policy at all, as the bucket policy's grant.
	req := &engine.Request{
		Principal: engine.Principal{Kind: engine.PrincipalRoleSession, ARN: "arn:aws:sts::" + a + ":assumed-role/app/i-1", Account: a},
		Action:    "s3:GetObject", Resource: "arn:aws:s3:::data/reports/q1.csv", ResourceAccount: a, Context: engine.NewContext(),
	}
	req.Context.Set("aws:SecureTransport", "true")
	ps := s.PolicySetFor(req, &Session{TagsComplete: true}).Policies
	ps.Identity = nil
	if d := engine.Authorize(req, ps); d.Verdict != engine.VerdictAllow || d.By != engine.PolicyResource {
		t.Errorf("object read with the bucket policy alone: %s", d.Explain())
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

// TestSessionPrincipalTags checks how a session's tags combine with the
// role's IAM tags: a session tag overrides the IAM tag of the same key,
// compared without case; a session whose tags are not all known leaves the
// IAM tag keys present with unknown values and every other key unknown; a
// role session that was not seen knows none of its tags either. Sessions
// come from an observed AssumeRole call and from a chained one that takes
// the first one's transitive tags.
func TestSessionPrincipalTags(t *testing.T) {
	role := &Entity{Tags: map[string]string{"Team": "blue", "cost-center": "42"}}
	(&Snapshot{}).assembleIdentity(role)
	sessions := NewSessions()
	assume := func(key, caller, params string) *Session {
		t.Helper()
		rec := &Record{EventSource: "sts.amazonaws.com", EventName: "AssumeRole", EventID: key,
			RequestParameters: json.RawMessage(params),
			ResponseElements:  json.RawMessage(`{"credentials":{"accessKeyId":"` + key + `"}}`)}
		if caller != "" {
			rec.UserIdentity = UserIdentity{Type: "AssumedRole", AccessKeyID: caller}
		}
		if ok, err := sessions.Observe(rec); !ok || err != nil {
			t.Fatalf("observe %s: %v %v", key, ok, err)
		}
		s, ok := sessions.Lookup(key)
		if !ok {
			t.Fatalf("session %s not found", key)
		}
		return s
	}
	tagged := assume("ASIA1", "", `{"tags":[{"key":"team","value":"red"},{"key":"Project","value":"x"}],"transitiveTagKeys":["Project"]}`)
	chained := assume("ASIA2", "ASIA1", `{"tags":[{"key":"stage","value":"prod"}]}`)
	tests := []struct {
		name string
		sess *Session
		want map[string]string // "" for a key present with an unknown value, "?" for an unknown key, "-" for an absent one
	}{
		{"no session tags", &Session{TagsComplete: true}, map[string]string{"team": "blue", "cost-center": "42", "project": "-"}},
		{"session tags", tagged, map[string]string{"team": "red", "cost-center": "42", "project": "x", "stage": "-"}},
		{"chained session", chained, map[string]string{"team": "blue", "cost-center": "42", "project": "x", "stage": "prod"}},
		{"tags not all known", &Session{Tags: map[string]string{"TEAM": "green"}}, map[string]string{"team": "green", "cost-center": "", "project": "?"}},
		{"session not seen", nil, map[string]string{"team": "", "cost-center": "", "project": "?"}},
	}
	for _, tt := range tests {
		ctx := engine.NewContext()
		ctx.SetDefault(engine.KeyUnknown)
		setPrincipalTags(ctx, role.principalTags(), engine.PrincipalRoleSession, tt.sess)
		for tag, want := range tt.want {
			key := "aws:PrincipalTag/" + tag
			st, v := ctx.State(key), ctx.Values(key)
			var got string
			switch {
			case st == engine.KeyPresent && len(v) == 1:
				got = v[0]
			case st == engine.KeyValueUnknown:
				got = ""
			case st == engine.KeyUnknown:
				got = "?"
			case st == engine.KeyAbsent:
				got = "-"
			default:
				got = fmt.Sprintf("%s %v", st, v)
			}
			if got != want {
				t.Errorf("%s: %s = %q, want %q", tt.name, key, got, want)
			}
		}
	}
}
