package engine_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/replay-iam/replay/engine"
)

func mustPolicy(b testing.TB, id string, typ engine.PolicyType, doc string) *engine.Policy {
	b.Helper()
	p, err := engine.ParsePolicy(id, typ, []byte(doc))
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// realisticRole builds the policy set of a typical application role: 10
// managed policies of 20 statements each, a boundary, 3 SCP levels and a
// bucket policy.
func realisticRole(b testing.TB) (*engine.Request, *engine.PolicySet) {
	services := []string{"ec2", "s3", "dynamodb", "sqs", "sns", "lambda", "logs", "kms", "ssm", "secretsmanager"}
	ps := &engine.PolicySet{}
	for i := 0; i < 10; i++ {
		var stmts []string
		for j := 0; j < 20; j++ {
			svc := services[(i+j)%len(services)]
			cond := ""
			if j%4 == 0 {
				cond = `,"Condition":{"StringEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"]}}`
			}
			stmts = append(stmts, fmt.Sprintf(`{"Sid":"S%d","Effect":"Allow","Action":["%s:Get*","%s:List*","%s:Describe%d*"],"Resource":"arn:aws:%s:*:111111111111:thing-%d/*"%s}`,
				j, svc, svc, svc, j, svc, j, cond))
		}
		ps.Identity = append(ps.Identity, mustPolicy(b, fmt.Sprintf("arn:aws:iam::111111111111:policy/p%d", i), engine.PolicyIdentity,
			`{"Version":"2012-10-17","Statement":[`+strings.Join(stmts, ",")+`]}`))
	}
	ps.Identity = append(ps.Identity, mustPolicy(b, "inline", engine.PolicyIdentity,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::data-bucket/${aws:PrincipalTag/team}/*"}]}`))
	ps.Boundary = mustPolicy(b, "boundary", engine.PolicyBoundary,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","dynamodb:*","sqs:*","logs:*"],"Resource":"*"},{"Effect":"Deny","Action":"iam:*","Resource":"*"}]}`)
	full := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	ps.SCPs = []engine.OrgLevel{
		{ID: "r-root", Policies: []*engine.Policy{mustPolicy(b, "FullAWSAccess", engine.PolicySCP, full)}},
		{ID: "ou-prod", Policies: []*engine.Policy{mustPolicy(b, "FullAWSAccess", engine.PolicySCP, full),
			mustPolicy(b, "deny-regions", engine.PolicySCP, `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotAction":["iam:*","sts:*","support:*"],"Resource":"*","Condition":{"StringNotEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"]}}}]}`)}},
		{ID: "111111111111", Policies: []*engine.Policy{mustPolicy(b, "FullAWSAccess", engine.PolicySCP, full)}},
	}
	ps.Resource = mustPolicy(b, "arn:aws:s3:::data-bucket", engine.PolicyResource,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::data-bucket/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}},{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:role/app"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::data-bucket/*"}]}`)
	ctx := engine.NewContext()
	ctx.Set("aws:RequestedRegion", "us-east-1")
	ctx.Set("aws:SecureTransport", "true")
	ctx.Set("aws:PrincipalTag/team", "blue")
	req := &engine.Request{
		Principal:       engine.Principal{Kind: engine.PrincipalRoleSession, ARN: "arn:aws:sts::111111111111:assumed-role/app/i-0abc", Account: "111111111111", EntityARN: "arn:aws:iam::111111111111:role/app"},
		Action:          "s3:GetObject",
		Resource:        "arn:aws:s3:::data-bucket/blue/report.csv",
		ResourceAccount: "111111111111",
		Context:         ctx,
	}
	return req, ps
}

func BenchmarkEvaluate(b *testing.B) {
	req, ps := realisticRole(b)
	if d := engine.Authorize(req, ps); d.Verdict != engine.VerdictAllow {
		b.Fatalf("benchmark request not allowed: %s", d.Explain())
	}
	b.ReportAllocs()
	for b.Loop() {
		engine.Authorize(req, ps)
	}
}

// BenchmarkCacheOtherObjects decides reads of 1,000 different objects of
// one bucket by the realistic role through a cache, in turn: the cache
// answers each from the decision recorded for the others (the case of a
// log, where most objects are read once), at the cost of checking the
// Resource of every statement that looked at the resource again.
func BenchmarkCacheOtherObjects(b *testing.B) {
	req, ps := realisticRole(b)
	reqs := make([]engine.Request, 1000)
	for i := range reqs {
		reqs[i] = *req
		reqs[i].Resource = fmt.Sprintf("arn:aws:s3:::data-bucket/blue/report-%d.csv", i)
	}
	cache := engine.NewCache(0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		cache.Authorize(&reqs[i%len(reqs)], ps)
		i++
	}
	st := cache.Stats()
	b.ReportMetric(float64(st.Hits)/float64(st.Hits+st.Misses), "hit-ratio")
}
