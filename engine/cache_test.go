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
		s, _, ps := g.built(t, "shape")
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
		if g.r.IntN(2) == 0 {
			// Another resource for the same call: the cache keys plain ARNs
			// by the answers they give, not by name.
			req.Resource = g.pick(otherResources)
			if g.r.IntN(3) == 0 {
				req.ResourceAccount = ""
			}
		}
		if role, _, ok := strings.Cut(req.Principal.ARN, ":assumed-role/"); ok && g.r.IntN(2) == 0 {
			// Another session of the role: the cache shares decisions
			// across sessions unless a policy names one.
			name, _, _ := strings.Cut(strings.TrimPrefix(req.Principal.ARN, role+":assumed-role/"), "/")
			req.Principal.ARN = role + ":assumed-role/" + name + "/" + g.pick([]string{"s1", "s2", "i-0abc"})
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

// otherResources are resources a generated request is sent to instead of
// its own: other objects, buckets, queues, tables and instances, other
// accounts, other spellings, the alice object a ${aws:username} pattern
// names, patterns, a non-ARN and the pseudo-resource.
var otherResources = []string{
	"arn:aws:s3:::data-a/reports/q2.csv", "arn:aws:s3:::data-a/uploads/y.bin", "arn:aws:s3:::data-a/alice/notes.txt",
	"arn:aws:s3:::data-a/bob/notes.txt", "arn:aws:s3:::data-a", "arn:aws:s3:::data-b/reports/q1.csv",
	"arn:aws:s3:::other/reports/q1.csv", "arn:aws:s3:::DATA-A/reports/q1.csv", "arn:AWS:S3:::data-a/reports/q1.csv",
	"arn:aws:sqs:us-east-1:" + acctA + ":jobs", "arn:aws:sqs:eu-west-1:" + acctA + ":other",
	"arn:aws:sqs:us-east-1:" + acctB + ":jobs", "arn:aws:dynamodb:us-east-1:" + acctA + ":table/orders",
	"arn:aws:dynamodb:us-east-1:" + acctA + ":table/users", "arn:aws:dynamodb:us-east-1:" + acctB + ":table/orders",
	"arn:aws:ec2:us-east-1:" + acctA + ":instance/i-0def", "arn:aws:ec2:eu-west-1:" + acctB + ":instance/i-0abc",
	"arn:aws:s3:::data-a/reports/*", "arn:aws:s3:::data-?", "not-an-arn", "*",
}

// TestCacheAcrossResources checks the cache on calls to many resources
// under one set of policies: every decision equals evaluation's, requests
// on other objects that the policies treat alike are answered from the
// cache, and resources the policies tell apart are not. The cases include
// the resources evaluation treats specially: role trust and KMS key
// policies, AWS-owned resources, and the account a resource lies in.
func TestCacheAcrossResources(t *testing.T) {
	const a, b = "111111111111", "222222222222"
	identity := mustPolicy(t, "id", engine.PolicyIdentity, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":["arn:aws:s3:::data/*","arn:aws:s3:::home/${aws:username}/*"]},
		{"Effect":"Deny","Action":"s3:PutObject","NotResource":"arn:aws:s3:::data/in/*"},
		{"Effect":"Allow","Action":["kms:*","iam:*","sts:AssumeRole"],"Resource":"*"},
		{"Effect":"Deny","Action":"kms:Decrypt","Resource":"arn:aws:kms:*:*:key/blocked"}]}`)
	bucket := mustPolicy(t, "bucket", engine.PolicyResource, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+b+`:user/carol"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::data/shared/*"}]}`)
	trust := mustPolicy(t, "trust", engine.PolicyResource, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+a+`:user/alice"},"Action":"sts:AssumeRole"}]}`)
	alice := engine.Principal{Kind: engine.PrincipalUser, ARN: "arn:aws:iam::" + a + ":user/alice", Account: a}
	carol := engine.Principal{Kind: engine.PrincipalUser, ARN: "arn:aws:iam::" + b + ":user/carol", Account: b}
	type call struct {
		who         engine.Principal
		action      string
		resource    string
		account     string
		resourcePol *engine.Policy
	}
	calls := []call{
		{alice, "s3:GetObject", "arn:aws:s3:::data/k1", a, nil},
		{alice, "s3:GetObject", "arn:aws:s3:::data/k2", a, nil},
		{alice, "s3:GetObject", "arn:aws:s3:::data/deep/k3", a, nil},
		{alice, "s3:GetObject", "arn:aws:s3:::other/k1", a, nil},
		{alice, "s3:GetObject", "arn:aws:s3:::home/alice/k1", a, nil},
		{alice, "s3:GetObject", "arn:aws:s3:::home/bob/k1", a, nil},
		{alice, "s3:PutObject", "arn:aws:s3:::data/in/k1", a, nil},
		{alice, "s3:PutObject", "arn:aws:s3:::data/out/k1", a, nil},
		{alice, "s3:PutObject", "arn:aws:s3:::data/in/k2", a, nil},
		{alice, "s3:GetObject", "arn:aws:s3:::data/shared/k1", a, bucket},
		{carol, "s3:GetObject", "arn:aws:s3:::data/shared/k1", a, bucket},
		{carol, "s3:GetObject", "arn:aws:s3:::data/shared/k2", a, bucket},
		{carol, "s3:GetObject", "arn:aws:s3:::data/private/k1", a, bucket},
		{alice, "kms:Decrypt", "arn:aws:kms:us-east-1:" + a + ":key/k1", "", nil},
		{alice, "kms:Decrypt", "arn:aws:kms:us-east-1:" + a + ":key/blocked", "", nil},
		{alice, "kms:Decrypt", "arn:aws:kms:us-east-1:" + b + ":key/k1", "", nil},
		{alice, "kms:DeleteAlias", "arn:aws:kms:us-east-1:" + a + ":alias/aws/s3", "", nil},
		{alice, "kms:DeleteAlias", "arn:aws:kms:us-east-1:" + a + ":alias/mine", "", nil},
		{alice, "iam:DeleteRole", "arn:aws:iam::" + a + ":role/aws-reserved/sso/x", "", nil},
		{alice, "iam:DeleteRole", "arn:aws:iam::" + a + ":role/app", "", nil},
		{alice, "sts:AssumeRole", "arn:aws:iam::" + a + ":role/app", "", trust},
		{alice, "sts:AssumeRole", "arn:aws:iam::" + a + ":role/other", "", nil},
		{alice, "sts:AssumeRole", "arn:aws:iam::" + a + ":user/notarole", "", nil},
	}
	r := rand.New(rand.NewPCG(7, 11))
	cache := engine.NewCache(0)
	for n := 0; n < 4000; n++ {
		c := calls[r.IntN(len(calls))]
		ctx := engine.NewContext()
		switch r.IntN(3) {
		case 0:
			ctx.Set("aws:username", c.who.ARN[strings.LastIndexByte(c.who.ARN, '/')+1:])
		case 1:
			ctx.SetDefault(engine.KeyUnknown)
		}
		req := &engine.Request{Principal: c.who, Action: c.action, Resource: c.resource, ResourceAccount: c.account, Context: ctx}
		ps := &engine.PolicySet{Resource: c.resourcePol}
		if c.who.Account == a {
			ps.Identity = []*engine.Policy{identity}
		}
		want := engine.Authorize(req, ps)
		if got := cache.Authorize(req, ps); !reflect.DeepEqual(got, want) {
			t.Fatalf("request %d (%s %s %s): cached %+v, evaluated %+v", n, c.who.ARN, c.action, c.resource, got, want)
		}
	}
	if st := cache.Stats(); st.Hits < 3000 {
		t.Errorf("stats %+v: most requests should be answered from the cache", st)
	}

	// Objects the policies treat alike share decisions; others do not.
	tests := []struct {
		name, first, second string
		hit                 bool
	}{
		{"another object under the same pattern", "arn:aws:s3:::data/k1", "arn:aws:s3:::data/k2", true},
		{"an object under no pattern", "arn:aws:s3:::data/k1", "arn:aws:s3:::other/k1", false},
		{"the caller's home, then another's", "arn:aws:s3:::home/alice/k1", "arn:aws:s3:::home/bob/k1", false},
		{"a key, then an AWS-owned alias", "arn:aws:kms:us-east-1:" + a + ":alias/mine", "arn:aws:kms:us-east-1:" + a + ":alias/aws/s3", false},
		{"a key, then one in another account", "arn:aws:kms:us-east-1:" + a + ":key/k1", "arn:aws:kms:us-east-1:" + b + ":key/k1", false},
		{"a key, then another key", "arn:aws:kms:us-east-1:" + a + ":key/k1", "arn:aws:kms:us-east-1:" + a + ":key/k2", true},
		{"a key, then an alias", "arn:aws:kms:us-east-1:" + a + ":key/k1", "arn:aws:kms:us-east-1:" + a + ":alias/k1", false},
	}
	for _, tt := range tests {
		action := "s3:GetObject"
		if strings.Contains(tt.first, ":kms:") {
			action = "kms:DeleteAlias"
		}
		cache := engine.NewCache(0)
		ps := &engine.PolicySet{Identity: []*engine.Policy{identity}}
		ask := func(resource string) engine.CacheStats {
			ctx := engine.NewContext()
			ctx.Set("aws:username", "alice")
			cache.Authorize(&engine.Request{Principal: alice, Action: action, Resource: resource, Context: ctx}, ps)
			return cache.Stats()
		}
		ask(tt.first)
		before := ask(tt.first) // recorded the second time
		if hit := ask(tt.second).Hits > before.Hits; hit != tt.hit {
			t.Errorf("%s: answered from the cache = %v, want %v", tt.name, hit, tt.hit)
		}
	}
}

// TestCacheAcrossSessions checks that the sessions of one role share
// decisions unless a policy tells them apart: by a Principal or NotPrincipal
// entry naming one session of the role, or by a condition on a key that
// carries the session name. Every decision must equal evaluation's.
func TestCacheAcrossSessions(t *testing.T) {
	const a, b = "111111111111", "222222222222"
	identity := mustPolicy(t, "id", engine.PolicyIdentity, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`)
	byUserID := mustPolicy(t, "userid", engine.PolicyIdentity, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringLike":{"aws:userid":"*:s1"}}}]}`)
	namesSession := mustPolicy(t, "bucket", engine.PolicyResource, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::`+a+`:assumed-role/app/s1"},"Action":"s3:GetObject","Resource":"*"}]}`)
	namesOtherRole := mustPolicy(t, "bucket", engine.PolicyResource, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::`+a+`:assumed-role/ops/s1"},"Action":"s3:GetObject","Resource":"*"}]}`)
	deniesOthers := mustPolicy(t, "bucket", engine.PolicyResource, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:sts::`+a+`:assumed-role/app/s1"},"Action":"s3:GetObject","Resource":"*"}]}`)
	session := func(acct, name string) engine.Principal {
		return engine.Principal{Kind: engine.PrincipalRoleSession, ARN: "arn:aws:sts::" + acct + ":assumed-role/app/" + name,
			Account: acct, EntityARN: "arn:aws:iam::" + acct + ":role/app"}
	}
	tests := []struct {
		name     string
		ps       engine.PolicySet
		resource string // in account a
		hit      bool   // s2 answered from what s1 recorded
	}{
		{"identity policy only", engine.PolicySet{Identity: []*engine.Policy{identity}}, "arn:aws:s3:::data/k", true},
		{"a condition on aws:userid", engine.PolicySet{Identity: []*engine.Policy{byUserID}}, "arn:aws:s3:::data/k", false},
		{"a bucket policy naming session s1", engine.PolicySet{Resource: namesSession}, "arn:aws:s3:::data/k", false},
		{"a bucket policy naming a session of another role", engine.PolicySet{Resource: namesOtherRole}, "arn:aws:s3:::data/k", true},
		{"a Deny sparing session s1", engine.PolicySet{Identity: []*engine.Policy{identity}, Resource: deniesOthers}, "arn:aws:s3:::data/k", false},
	}
	for _, tt := range tests {
		for _, caller := range []string{a, b} {
			cache := engine.NewCache(0)
			ask := func(name string) engine.CacheStats {
				t.Helper()
				p := session(caller, name)
				ctx := engine.NewContext()
				ctx.Set("aws:userid", "AROAEXAMPLE:"+name)
				req := &engine.Request{Principal: p, Action: "s3:GetObject", Resource: tt.resource, ResourceAccount: a, Context: ctx}
				want := engine.Authorize(req, &tt.ps)
				if got := cache.Authorize(req, &tt.ps); !reflect.DeepEqual(got, want) {
					t.Fatalf("%s, caller in %s, session %s: cached %+v, evaluated %+v", tt.name, caller, name, got, want)
				}
				return cache.Stats()
			}
			ask("s1")
			before := ask("s1") // recorded the second time
			after := ask("s2")
			ask("s1")
			// Only a caller of the named role's account is compared with
			// the session entry; one from another account never matches.
			want := tt.hit || caller == b && tt.ps.Resource != nil
			if hit := after.Hits > before.Hits; hit != want {
				t.Errorf("%s, caller in %s: session s2 answered from s1's decision = %v, want %v", tt.name, caller, hit, want)
			}
		}
	}
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
