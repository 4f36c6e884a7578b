package engine_test

import (
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
