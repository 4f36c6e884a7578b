package engine_test

import (
	"maps"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/replay-iam/replay/engine"
)

// TestCacheGivesTheDecisionsOfEvaluation replays a generated workload (the
// differential test's scenarios: random identity, boundary, resource, SCP
// and RCP policies with conditions) as many requests per shape, each with a
// newly drawn context, some with unknown keys, and compares every cached
// decision with a fresh evaluation, field by field. The cache is kept small
// so that eviction runs too.
func TestCacheGivesTheDecisionsOfEvaluation(t *testing.T) {
	g := gen{r: rand.New(rand.NewPCG(20261123, 2))}
	type shape struct {
		s  *scenario
		ps *engine.PolicySet
	}
	var shapes []shape
	for len(shapes) < 150 {
		s := g.scenario()
		c, err := s.toCase("shape")
		if err != nil {
			t.Fatal(err)
		}
		_, ps, err := c.Build()
		if err != nil {
			continue // a scenario the case format refuses; the next one will do
		}
		shapes = append(shapes, shape{s, ps})
	}
	unknownKeys := []string{"aws:SourceIp", "aws:RequestedRegion", "aws:PrincipalTag/team", "aws:CurrentTime", "aws:TagKeys"}
	cache := engine.NewCache(200)
	for n := 0; n < 6000; n++ {
		sh := shapes[g.r.IntN(len(shapes))]
		v := *sh.s
		v.Request.Context = maps.Clone(sh.s.Request.Context)
		for _, k := range condKeys {
			delete(v.Request.Context, k.key)
		}
		if g.r.IntN(3) > 0 { // otherwise the shape's own context again
			g.drawKeys(v.Request.Context)
		} else {
			maps.Copy(v.Request.Context, sh.s.Request.Context)
		}
		c, err := v.toCase("variant")
		if err != nil {
			t.Fatal(err)
		}
		req, _, err := c.Build()
		if err != nil {
			t.Fatal(err)
		}
		switch g.r.IntN(6) {
		case 0:
			req.Context.SetDefault(engine.KeyUnknown)
		case 1:
			req.Context.SetUnknown(g.pick(unknownKeys))
		case 2:
			req.Context.SetValueUnknown(g.pick(unknownKeys), false)
		}
		want := engine.Authorize(req, sh.ps)
		got := cache.Authorize(req, sh.ps)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("request %d (%s %s %s, context %v): cached %+v, evaluated %+v",
				n, req.Principal.ARN, req.Action, req.Resource, strings.Join(req.Context.Keys(), ","), got, want)
		}
	}
	st := cache.Stats()
	if st.Hits < 1000 || st.Misses < 100 {
		t.Errorf("stats %+v: the workload should both hit and miss the cache often", st)
	}
	t.Logf("cache: %+v", st)
}

// TestCacheComparesEveryPolicySetField makes two policy sets that differ in
// one field at a time: the cache must not take one for the other. A field
// added to PolicySet without a comparison fails here.
func TestCacheComparesEveryPolicySetField(t *testing.T) {
	p1 := mustPolicy(t, "p1", engine.PolicyIdentity, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`)
	p2 := mustPolicy(t, "p2", engine.PolicyIdentity, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`)
	typ := reflect.TypeOf(engine.PolicySet{})
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		base, other := engine.PolicySet{}, engine.PolicySet{}
		if !setOne(reflect.ValueOf(&other).Elem().Field(i), p1, p2) {
			t.Fatalf("field %s of type %s: the test cannot vary it", f.Name, f.Type)
		}
		if k := f.Type.Kind(); k != reflect.Bool && k != reflect.Struct {
			setOne(reflect.ValueOf(&base).Elem().Field(i), p1, p1) // same length, other policies
		}
		if reflect.DeepEqual(base, other) {
			t.Fatalf("field %s: the two sets are equal", f.Name)
		}
		req := &engine.Request{Principal: engine.Principal{Kind: engine.PrincipalUser, ARN: "arn:aws:iam::111111111111:user/a", Account: "111111111111"},
			Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", ResourceAccount: "111111111111", Context: engine.NewContext()}
		cache := engine.NewCache(0)
		cache.Authorize(req, &base)
		cache.Authorize(req, &other)
		if st := cache.Stats(); st.Hits != 0 {
			t.Errorf("field %s: a set differing in it was answered from the cache", f.Name)
		}
	}
}

// setOne gives v a non-zero value built from the policies a and b.
func setOne(v reflect.Value, a, b *engine.Policy) bool {
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.ValueOf(b))
	case reflect.Slice:
		switch v.Type().Elem() {
		case reflect.TypeOf(a):
			v.Set(reflect.ValueOf([]*engine.Policy{a, b}))
		case reflect.TypeOf(engine.OrgLevel{}):
			v.Set(reflect.ValueOf([]engine.OrgLevel{{ID: "r-root", Policies: []*engine.Policy{a, b}}}))
		default:
			return false
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Field(i).Kind() == reflect.Bool {
				v.Field(i).SetBool(true)
				return true
			}
		}
		return false
	default:
		return false
	}
	return true
}
