package engine_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/replay-iam/replay/catalog"
	"github.com/replay-iam/replay/engine"
)

// TestActionSweepGivesTheDecisionsOfAuthorize decides generated requests
// (the differential test's scenarios) for many actions through a sweep and
// one by one, on the scenario's own resource, on the resource "*" (which
// stands for the pseudo-resource of actions that take none) and on other
// resources, and compares every decision field by field. The actions are
// every action of the services the scenarios name, the actions evaluation
// treats specially, and a random sample of the rest of the catalogue.
func TestActionSweepGivesTheDecisionsOfAuthorize(t *testing.T) {
	cat := catalog.Default()
	var actions []*catalog.Action
	for _, prefix := range []string{"s3", "sqs", "ec2", "dynamodb", "sts", "kms"} {
		svc, ok := cat.Service(prefix)
		if !ok {
			t.Fatalf("catalogue has no service %s", prefix)
		}
		actions = append(actions, svc.Actions...)
	}
	for _, name := range []string{"iam:PassRole", "iam:DeleteRole", "organizations:ListAccounts", "s3-object-lambda:GetObject"} {
		a, ok := cat.Action(name)
		if !ok {
			t.Fatalf("catalogue has no action %s", name)
		}
		actions = append(actions, a)
	}
	g := gen{r: rand.New(rand.NewPCG(20261124, 3))}
	services := cat.Services()
	for range 300 {
		svc := services[g.r.IntN(len(services))]
		actions = append(actions, svc.Actions[g.r.IntN(len(svc.Actions))])
	}

	decided, wildcardOnly := 0, 0
	for n := 0; n < 60; n++ {
		_, built, ps := g.built(t, "sweep")
		for _, resource := range []string{built.Resource, "*", "*", g.pick(otherResources)} {
			req := *built
			req.Resource = resource
			req.ResourcePartial = resource == "*" && g.r.IntN(2) == 0
			if g.r.IntN(4) == 0 {
				req.Context.SetDefault(engine.KeyUnknown)
			}
			sweep := engine.NewActionSweep(&req, ps)
			for _, a := range actions {
				one := req
				one.Action = a.FullName()
				want := engine.Authorize(&one, ps)
				if got := sweep.Authorize(a); !reflect.DeepEqual(got, want) {
					t.Fatalf("scenario %d, %s on %q (partial %v): sweep %+v, Authorize %+v",
						n, a.FullName(), resource, req.ResourcePartial, got, want)
				}
				decided++
				if a.WildcardOnly() {
					wildcardOnly++
				}
			}
		}
	}
	if wildcardOnly == 0 || wildcardOnly == decided {
		t.Fatalf("%d of %d decisions for actions that take no resource: the test needs both kinds", wildcardOnly, decided)
	}
}

// TestSweepReadsHold checks what a sweep records of its request: a request
// the record holds for (SweepReads.Holds) must get the recorded sweep's
// decisions, action by action. The requests tried are the recorded one
// with the principal, the context or both of another generated request
// (some recorded without a context), so that some read alike and some do
// not; the test needs both.
func TestSweepReadsHold(t *testing.T) {
	cat := catalog.Default()
	var actions []*catalog.Action
	for _, prefix := range []string{"s3", "sqs", "ec2", "dynamodb", "sts", "kms"} {
		svc, _ := cat.Service(prefix)
		actions = append(actions, svc.Actions...)
	}
	g := gen{r: rand.New(rand.NewPCG(20261124, 4))}
	held, differed := 0, 0
	for n := 0; n < 400; n++ {
		_, a, ps := g.built(t, "reads")
		_, other, _ := g.built(t, "other")
		if n%2 == 0 {
			a.Resource, a.ResourcePartial = "*", true
		}
		if n%4 == 3 {
			a.Context = nil // no context: what is read of the caller still counts
		}
		sweep := engine.NewActionSweep(a, ps)
		sweep.RecordReads()
		recorded := make([]engine.Decision, len(actions))
		for i, act := range actions {
			recorded[i] = sweep.Authorize(act)
		}
		reads := sweep.Reads()
		for variant := range 3 {
			c := *a
			if variant != 1 {
				c.Principal = other.Principal
			}
			if variant != 0 {
				c.Context = other.Context
			}
			if !reads.Holds(&c) {
				differed++
				continue
			}
			held++
			again := engine.NewActionSweep(&c, ps)
			for i, act := range actions {
				if got := again.Authorize(act); !reflect.DeepEqual(got, recorded[i]) {
					t.Fatalf("scenario %d, variant %d, %s: %+v, but the recorded sweep decided %+v", n, variant, act.FullName(), got, recorded[i])
				}
			}
		}
	}
	t.Logf("held for %d requests, not for %d", held, differed)
	if held < 20 || differed < 20 {
		t.Fatalf("the reads held for %d requests and not for %d: the test needs many of both", held, differed)
	}
}

// TestSweepReadsOfTheCaller checks what a sweep records of the caller
// outside the context: another user of the account reads alike unless a
// Principal element was matched against the caller, with or without a
// context; a role, or a user of another account, does not.
func TestSweepReadsOfTheCaller(t *testing.T) {
	parse := func(typ engine.PolicyType, doc string) *engine.Policy {
		p, err := engine.ParsePolicy("p", typ, []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	identity := parse(engine.PolicyIdentity, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`)
	naming := parse(engine.PolicyResource, `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111111111111:user/alice"},"Action":"s3:*","Resource":"*"}]}`)
	anyone := parse(engine.PolicyResource, `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:DeleteBucket","Resource":"*"}]}`)
	user := func(acct, name string) engine.Principal {
		return engine.Principal{Kind: engine.PrincipalUser, ARN: "arn:aws:iam::" + acct + ":user/" + name, Account: acct}
	}
	role := engine.Principal{Kind: engine.PrincipalRole, ARN: "arn:aws:iam::111111111111:role/alice", EntityARN: "arn:aws:iam::111111111111:role/alice", Account: "111111111111"}
	getObject, _ := catalog.Default().Action("s3:GetObject")
	for _, tc := range []struct {
		name     string
		resource *engine.Policy
		other    engine.Principal
		want     bool
	}{
		{"no Principal element", nil, user("111111111111", "bob"), true},
		{"Principal *", anyone, user("111111111111", "bob"), true},
		{"a Principal element naming the caller", naming, user("111111111111", "bob"), false},
		{"a role", nil, role, false},
		{"a user of another account", nil, user("222222222222", "bob"), false},
	} {
		for _, withContext := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s, context %v", tc.name, withContext), func(t *testing.T) {
				ps := &engine.PolicySet{Identity: []*engine.Policy{identity}, Resource: tc.resource}
				req := engine.Request{Principal: user("111111111111", "alice"), Resource: "arn:aws:s3:::b/k", ResourceAccount: "111111111111"}
				if withContext {
					req.Context = engine.NewContext()
				}
				sweep := engine.NewActionSweep(&req, ps)
				sweep.RecordReads()
				sweep.Authorize(getObject)
				other := req
				other.Principal = tc.other
				if got := sweep.Reads().Holds(&other); got != tc.want {
					t.Errorf("Holds = %v, want %v", got, tc.want)
				}
			})
		}
	}
}
