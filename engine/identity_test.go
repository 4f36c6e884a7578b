package engine_test

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/replay-iam/replay/engine"
)

// TestDecisionDependsOnIdentityVerdictOnly checks the property the
// verification of suggested policies rests on: with the other policies of
// a set unchanged, a request is allowed with identity policies X exactly
// when X denies nothing and either the request is allowed with no
// identity policy at all, or X allows it and it is allowed with an
// identity policy that allows everything. The workload is the
// differential test's scenarios (identity, boundary, resource, SCP and RCP
// policies with conditions), each with random replacements for its
// identity policies, conditions and policy variables included, and with
// some context keys unknown so that verdicts are unknown too.
func TestDecisionDependsOnIdentityVerdictOnly(t *testing.T) {
	g := gen{r: rand.New(rand.NewPCG(20261124, 7))}
	allowAll := identityPolicy(t, "allow-all", doc{"Version": "2012-10-17", "Statement": []any{doc{"Effect": "Allow", "Action": "*", "Resource": "*"}}})
	seen := map[[3]bool]int{}
	for n := 0; n < 3000; n++ {
		s, req, ps := g.built(t, "replace")
		switch g.r.IntN(4) {
		case 0:
			req.Context.SetDefault(engine.KeyUnknown)
		case 1:
			req.Context.SetUnknown(g.pick([]string{"aws:SourceIp", "aws:username", "aws:PrincipalTag/team"}))
		}
		with := func(identity ...*engine.Policy) bool {
			v := *ps
			v.Identity = identity
			return engine.Authorize(req, &v).Allowed()
		}
		none, all := with(), with(allowAll)
		if engine.Authorize(req, ps).Allowed() && !all {
			t.Fatalf("scenario %d: allowed with its identity policies but not with one that allows everything", n)
		}
		for i := 0; i < 4; i++ {
			x := identityPolicy(t, "x", g.policy(targetOf(s), 1+g.r.IntN(3), false, 3))
			v := engine.EvaluateIdentity(req, []*engine.Policy{x}, ps.Compat)
			want := with(x)
			got := v.Deny == engine.False && (none || v.Allow == engine.True && all)
			if got != want {
				t.Fatalf("scenario %d, replacement %d: verdict %+v, allowed without identity policies %v, with all %v: predicted %v, evaluated %v",
					n, i, v, none, all, got, want)
			}
			seen[[3]bool{want, none, v.Allow == engine.True}]++
		}
	}
	// Every combination that can occur did: allowed through the
	// replacement, despite it, and refused with or without its Allow.
	for _, k := range [][3]bool{{true, false, true}, {true, true, false}, {false, false, true}, {false, false, false}, {true, true, true}} {
		if seen[k] < 20 {
			t.Errorf("combination (allowed, allowed without identity, replacement allows) = %v seen %d times", k, seen[k])
		}
	}
}

// TestReadsContext checks which policies EvaluateIdentity can decide on a
// request's action and resource alone, and that for those the context does
// not change the verdict.
func TestReadsContext(t *testing.T) {
	cases := []struct {
		name  string
		stmt  doc
		reads bool
	}{
		{"plain", doc{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data-a/*"}, false},
		{"wildcards", doc{"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::data-?/*"}, false},
		{"not resource", doc{"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::data-b/*"}, false},
		{"deny", doc{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}, false},
		{"condition", doc{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
			"Condition": doc{"IpAddress": doc{"aws:SourceIp": "10.0.0.0/8"}}}, true},
		{"variable", doc{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data-a/${aws:username}/*"}, true},
		{"variable in NotResource", doc{"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::${aws:username}"}, true},
		{"escaped dollar", doc{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data-a/${$}x"}, false},
	}
	req := &engine.Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::data-a/alice/x", Context: engine.NewContext()}
	req.Context.Set("aws:username", "alice")
	req.Context.Set("aws:SourceIp", "10.1.2.3")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := identityPolicy(t, c.name, doc{"Version": "2012-10-17", "Statement": []any{c.stmt}})
			if got := p.ReadsContext(); got != c.reads {
				t.Fatalf("ReadsContext() = %v, want %v", got, c.reads)
			}
			if c.reads {
				return
			}
			bare := *req
			bare.Context = nil
			with, without := engine.EvaluateIdentity(req, []*engine.Policy{p}, engine.Compat{}), engine.EvaluateIdentity(&bare, []*engine.Policy{p}, engine.Compat{})
			if with != without {
				t.Fatalf("verdict with the context %+v, without %+v", with, without)
			}
		})
	}
	// The variable policy's verdict does follow the context.
	p := identityPolicy(t, "v", doc{"Version": "2012-10-17", "Statement": []any{cases[5].stmt}})
	if v := engine.EvaluateIdentity(req, []*engine.Policy{p}, engine.Compat{}); v.Allow != engine.True {
		t.Fatalf("alice's own prefix: %+v", v)
	}
	req.Context.Set("aws:username", "bob")
	if v := engine.EvaluateIdentity(req, []*engine.Policy{p}, engine.Compat{}); v.Allow != engine.False {
		t.Fatalf("bob on alice's prefix: %+v", v)
	}
}

// targetOf returns the generated target a scenario's request was drawn for.
func targetOf(s *scenario) target {
	for _, t := range targets {
		if t.action == s.Request.Action && t.resource == s.Request.Resource["resource"] {
			return t
		}
	}
	panic("scenario without a target: " + s.Request.Action)
}

// identityPolicy compiles a generated document as an identity policy.
func identityPolicy(t *testing.T, id string, d doc) *engine.Policy {
	t.Helper()
	data, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return mustPolicy(t, id, engine.PolicyIdentity, string(data))
}
