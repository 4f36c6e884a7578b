package engine_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/replay-iam/replay/engine"
	"github.com/replay-iam/replay/engine/casefile"
)

// The differential test compares replay's verdicts with iam-simulate's on
// generated scenarios. It runs when REPLAY_ORACLE_DIR names a folder where
// .ci/install-oracle.sh installed the package; .ci/run sets it.

const (
	acctA = "111111111111"
	acctB = "222222222222"
)

type doc = map[string]any

// scenario is one generated request and its policies in iam-simulate's
// Simulation format.
type scenario struct {
	Request struct {
		Principal string              `json:"principal"`
		Action    string              `json:"action"`
		Resource  map[string]string   `json:"resource"`
		Context   map[string][]string `json:"contextVariables"`
	} `json:"request"`
	IdentityPolicies []named    `json:"identityPolicies"`
	Boundaries       []named    `json:"permissionBoundaryPolicies,omitempty"`
	ResourcePolicy   doc        `json:"resourcePolicy,omitempty"`
	SCPs             []orgLevel `json:"serviceControlPolicies"`
	RCPs             []orgLevel `json:"resourceControlPolicies"`
}

type named struct {
	Name   string `json:"name"`
	Policy doc    `json:"policy"`
}

type orgLevel struct {
	OrgIdentifier string  `json:"orgIdentifier"`
	Policies      []named `json:"policies"`
}

// gen holds the vocabularies scenarios are drawn from.
type gen struct{ r *rand.Rand }

type target struct {
	action, resource, account string
}

var targets = []target{
	{"s3:GetObject", "arn:aws:s3:::data-a/reports/q1.csv", acctA},
	{"s3:PutObject", "arn:aws:s3:::data-a/uploads/x.bin", acctA},
	{"s3:ListBucket", "arn:aws:s3:::data-a", acctA},
	{"s3:GetObject", "arn:aws:s3:::data-b/reports/q1.csv", acctB},
	{"s3:ListAllMyBuckets", "*", acctA},
	{"sqs:SendMessage", "arn:aws:sqs:us-east-1:" + acctA + ":jobs", acctA},
	{"sqs:SendMessage", "arn:aws:sqs:us-east-1:" + acctB + ":jobs", acctB},
	{"dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:" + acctA + ":table/orders", acctA},
	{"ec2:DescribeInstances", "*", acctA},
	{"ec2:TerminateInstances", "arn:aws:ec2:us-east-1:" + acctA + ":instance/i-0abc", acctA},
}

var principals = []string{
	"arn:aws:iam::" + acctA + ":user/alice",
	"arn:aws:iam::" + acctA + ":user/bob",
	"arn:aws:sts::" + acctA + ":assumed-role/app/s1",
	"arn:aws:iam::" + acctA + ":role/app",
	"arn:aws:iam::" + acctB + ":user/carol",
	"arn:aws:sts::" + acctB + ":assumed-role/ops/s2",
	"arn:aws:iam::" + acctA + ":root",
}

func (g gen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }

func (g gen) actionPattern(t target) any {
	svc, name, _ := strings.Cut(t.action, ":")
	opts := []string{t.action, svc + ":*", "*", svc + ":" + name[:3] + "*", "s3:Get*", "sqs:*", "ec2:Describe*",
		strings.ToLower(t.action), svc + ":" + name[:len(name)-1] + "?"}
	if g.r.IntN(4) == 0 {
		return []string{g.pick(opts), g.pick(opts)}
	}
	return g.pick(opts)
}

func (g gen) resourcePattern(t target) any {
	opts := []string{"*", t.resource, "arn:aws:s3:::data-a/*", "arn:aws:s3:::data-*", "arn:aws:s3:::*",
		"arn:aws:sqs:*:" + acctA + ":*", "arn:aws:dynamodb:us-east-1:" + acctA + ":table/*",
		"arn:aws:s3:::data-a/${aws:username}/*", "arn:aws:ec2:*:*:instance/*", "arn:aws:s3:::data-a/reports/*"}
	if g.r.IntN(4) == 0 {
		return []string{g.pick(opts), g.pick(opts)}
	}
	return g.pick(opts)
}

var condKeys = []struct {
	key    string
	values []string
	multi  bool
}{
	{"aws:SourceIp", []string{"10.1.2.3", "203.0.113.7", "2001:db8::5"}, false},
	{"aws:RequestedRegion", []string{"us-east-1", "eu-west-1"}, false},
	{"aws:PrincipalTag/team", []string{"blue", "red", "Blue"}, false},
	{"aws:SecureTransport", []string{"true", "false"}, false},
	{"aws:CurrentTime", []string{"2024-06-01T12:00:00Z", "2026-01-01T00:00:00Z"}, false},
	{"aws:TagKeys", []string{"env", "team", "owner"}, true},
	{"aws:MultiFactorAuthAge", []string{"30", "7200"}, false},
}

func (g gen) condition() doc {
	if g.r.IntN(6) == 0 {
		return g.principalCondition()
	}
	k := condKeys[g.r.IntN(len(condKeys))]
	var ops []string
	var vals []string
	switch k.key {
	case "aws:MultiFactorAuthAge":
		ops = []string{"NumericLessThan", "NumericGreaterThanEquals", "NumericLessThanIfExists", "NumericNotEquals"}
		// Numbers only: under NumericNotEquals an unparseable policy value
		// has no documented meaning (replay: the value equals nothing, so
		// the condition holds; iam-simulate: the condition fails).
		vals = []string{"3600", "30", "7200.0"}
	case "aws:SourceIp":
		ops = []string{"IpAddress", "NotIpAddress"}
		vals = []string{"10.0.0.0/8", "203.0.113.7", "2001:DB8::/32"}
	case "aws:SecureTransport":
		ops = []string{"Bool", "BoolIfExists"}
		vals = []string{"true", "false"}
	case "aws:CurrentTime":
		ops = []string{"DateLessThan", "DateGreaterThan", "DateNotEquals"}
		vals = []string{"2025-01-01", "1700000000", "2026-01-01T00:00:00Z"}
	case "aws:TagKeys":
		ops = []string{"ForAnyValue:StringEquals", "ForAllValues:StringEquals", "ForAnyValue:StringNotEquals", "ForAllValues:StringNotEquals", "ForAnyValue:StringLike"}
		vals = []string{"env", "team", "t*"}
	default:
		ops = []string{"StringEquals", "StringNotEquals", "StringLike", "StringNotLike", "StringEqualsIgnoreCase", "StringEqualsIfExists", "StringNotEqualsIfExists"}
		vals = append([]string{"b*", "*"}, k.values...)
	}
	op := g.pick(ops)
	var v any = g.pick(vals)
	if g.r.IntN(3) == 0 {
		v = []string{g.pick(vals), g.pick(vals)}
	}
	c := doc{op: doc{k.key: v}}
	if g.r.IntN(8) == 0 {
		c["Null"] = doc{g.pick([]string{"aws:PrincipalTag/team", "aws:SourceIp", "aws:TagKeys"}): g.pick([]string{"true", "false"})}
	}
	return c
}

// principalCondition tests the caller's ARN or account, the keys a
// resource policy granting to "*" narrows the grant with.
func (g gen) principalCondition() doc {
	if g.r.IntN(3) == 0 {
		op := g.pick([]string{"StringEquals", "StringNotEquals"})
		return doc{op: doc{"aws:PrincipalAccount": g.pick([]string{acctA, acctB})}}
	}
	op := g.pick([]string{"ArnLike", "ArnNotLike", "ArnEquals", "StringLike", "ArnLikeIfExists"})
	vals := []string{"arn:aws:iam::" + acctA + ":role/app", "arn:aws:iam::*:user/*", "arn:aws:iam::" + acctA + ":*",
		"arn:aws:iam::" + acctB + ":user/carol", "arn:aws:iam::" + acctA + ":root", "arn:aws:iam::*:role/a*"}
	var v any = g.pick(vals)
	if g.r.IntN(3) == 0 {
		v = []string{g.pick(vals), g.pick(vals)}
	}
	return doc{op: doc{"aws:PrincipalArn": v}}
}

func (g gen) statement(t target, effect string, principal bool) doc {
	s := doc{"Effect": effect}
	if g.r.IntN(8) == 0 {
		s["NotAction"] = g.actionPattern(t)
	} else {
		s["Action"] = g.actionPattern(t)
	}
	if g.r.IntN(10) == 0 {
		s["NotResource"] = g.resourcePattern(t)
	} else {
		s["Resource"] = g.resourcePattern(t)
	}
	if principal {
		forms := []any{"*", doc{"AWS": "*"}, doc{"AWS": acctA}, doc{"AWS": "arn:aws:iam::" + acctB + ":root"},
			doc{"AWS": g.pick(principals[:2])}, doc{"AWS": "arn:aws:iam::" + acctA + ":role/app"},
			doc{"AWS": "arn:aws:sts::" + acctA + ":assumed-role/app/s1"}, doc{"AWS": principals[4]},
			doc{"AWS": "arn:aws:iam::" + acctB + ":role/ops"}}
		s["Principal"] = forms[g.r.IntN(len(forms))]
	}
	if g.r.IntN(3) == 0 {
		s["Condition"] = g.condition()
	}
	return s
}

func (g gen) policy(t target, n int, principal bool, denyChance int) doc {
	var stmts []any
	for i := 0; i < n; i++ {
		effect := "Allow"
		if g.r.IntN(denyChance) == 0 {
			effect = "Deny"
		}
		stmts = append(stmts, g.statement(t, effect, principal))
	}
	version := "2012-10-17"
	if g.r.IntN(12) == 0 {
		version = "2008-10-17"
	}
	return doc{"Version": version, "Statement": stmts}
}

func fullAccess() named {
	return named{Name: "FullAWSAccess", Policy: doc{"Version": "2012-10-17", "Statement": []any{doc{"Effect": "Allow", "Action": "*", "Resource": "*"}}}}
}

func (g gen) scenario() *scenario {
	t := targets[g.r.IntN(len(targets))]
	s := &scenario{}
	s.Request.Principal = g.pick(principals)
	s.Request.Action = t.action
	s.Request.Resource = map[string]string{"resource": t.resource, "accountId": t.account}
	s.Request.Context = map[string][]string{}
	p, _ := engine.ParsePrincipalARN(s.Request.Principal)
	// Principal keys, as AWS sets them.
	principalArn := s.Request.Principal
	if p.Kind == engine.PrincipalRoleSession {
		principalArn = "arn:aws:iam::" + p.Account + ":role/" + strings.Split(s.Request.Principal, "/")[1]
	}
	s.Request.Context["aws:PrincipalArn"] = []string{principalArn}
	s.Request.Context["aws:PrincipalAccount"] = []string{p.Account}
	if p.Kind == engine.PrincipalUser {
		s.Request.Context["aws:username"] = []string{s.Request.Principal[strings.LastIndexByte(s.Request.Principal, '/')+1:]}
	}
	g.drawKeys(s.Request.Context)
	for i, n := 0, g.r.IntN(3); i < n; i++ {
		s.IdentityPolicies = append(s.IdentityPolicies, named{Name: "id" + strconv.Itoa(i), Policy: g.policy(t, 1+g.r.IntN(3), false, 4)})
	}
	if s.IdentityPolicies == nil {
		s.IdentityPolicies = []named{}
	}
	if g.r.IntN(4) == 0 {
		s.Boundaries = []named{{Name: "pb", Policy: g.policy(t, 1+g.r.IntN(2), false, 4)}}
	}
	if g.r.IntN(2) == 0 {
		s.ResourcePolicy = g.policy(t, 1+g.r.IntN(3), true, 4)
	}
	s.SCPs = []orgLevel{}
	if g.r.IntN(3) == 0 {
		for i, n := 0, 1+g.r.IntN(3); i < n; i++ {
			lvl := orgLevel{OrgIdentifier: "scp-" + strconv.Itoa(i), Policies: []named{fullAccess()}}
			if g.r.IntN(2) == 0 {
				extra := named{Name: "scp" + strconv.Itoa(i), Policy: g.policy(t, 1, false, 2)}
				if g.r.IntN(3) == 0 {
					lvl.Policies = []named{extra}
				} else {
					lvl.Policies = append(lvl.Policies, extra)
				}
			}
			s.SCPs = append(s.SCPs, lvl)
		}
	}
	s.RCPs = []orgLevel{}
	svc, _, _ := strings.Cut(t.action, ":")
	// RCPs are left out for services RCPs do not cover (a documented divergence).
	if (svc == "s3" || svc == "sqs") && g.r.IntN(4) == 0 {
		pol := g.policy(t, 1, true, 1)
		pol["Version"] = "2012-10-17" // required in RCPs
		for _, st := range pol["Statement"].([]any) {
			st := st.(doc)
			st["Principal"] = "*"
			delete(st, "NotAction")
			st["Action"] = svc + ":*" // RCPs may not use Action "*"
		}
		s.RCPs = []orgLevel{{OrgIdentifier: "rcp-root", Policies: []named{{Name: "rcp", Policy: pol}}}}
	}
	return s
}

// drawKeys sets about half of condKeys in ctx, with values drawn from
// their vocabularies.
func (g gen) drawKeys(ctx map[string][]string) {
	for _, k := range condKeys {
		if g.r.IntN(2) == 0 {
			continue
		}
		if k.multi {
			n := g.r.IntN(3)
			var vals []string
			for i := 0; i < n; i++ {
				vals = append(vals, g.pick(k.values))
			}
			if len(vals) == 0 {
				continue // iam-simulate cannot express an empty list
			}
			ctx[k.key] = vals
		} else {
			ctx[k.key] = []string{g.pick(k.values)}
		}
	}
}

// built draws scenarios until one the case format accepts, and returns it
// built: the request and its policy set.
func (g gen) built(t *testing.T, name string) (*scenario, *engine.Request, *engine.PolicySet) {
	t.Helper()
	for {
		s := g.scenario()
		c, err := s.toCase(name)
		if err != nil {
			t.Fatal(err)
		}
		if req, ps, err := c.Build(); err == nil {
			return s, req, ps
		}
	}
}

// toCase converts a scenario to replay's case format.
func (s *scenario) toCase(name string) (*casefile.Case, error) {
	c := map[string]any{
		"name": name,
		"request": map[string]any{
			"principal": s.Request.Principal, "action": s.Request.Action,
			"resource": s.Request.Resource, "context": contextJSON(s.Request.Context),
		},
		"identityPolicies":        s.IdentityPolicies,
		"serviceControlPolicies":  s.SCPs,
		"resourceControlPolicies": s.RCPs,
		"expected":                map[string]string{"response": "Allowed"},
	}
	if len(s.Boundaries) > 0 {
		c["permissionBoundaries"] = s.Boundaries
	}
	if s.ResourcePolicy != nil {
		c["resourcePolicy"] = s.ResourcePolicy
	}
	data, err := json.Marshal([]any{c})
	if err != nil {
		return nil, err
	}
	cs, err := casefile.Parse(name, data)
	if err != nil {
		return nil, err
	}
	return cs[0], nil
}

func contextJSON(ctx map[string][]string) map[string]any {
	out := map[string]any{}
	for k, v := range ctx {
		if k == "aws:TagKeys" {
			out[k] = v
		} else {
			out[k] = v[0]
		}
	}
	return out
}

type oracleResult struct {
	Type    string  `json:"type"`
	Verdict *string `json:"verdict"`
	Error   *string `json:"error"`
}

func TestDifferentialOracle(t *testing.T) {
	dir := os.Getenv("REPLAY_ORACLE_DIR")
	if dir == "" {
		t.Skip("REPLAY_ORACLE_DIR is not set; .ci/run installs the oracle and sets it")
	}
	n := 40000
	if v := os.Getenv("REPLAY_ORACLE_SCENARIOS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	g := gen{r: rand.New(rand.NewPCG(20261123, 1))}
	scenarios := make([]*scenario, n)
	var input strings.Builder
	for i := range scenarios {
		scenarios[i] = g.scenario()
		line, err := json.Marshal(scenarios[i])
		if err != nil {
			t.Fatal(err)
		}
		input.Write(line)
		input.WriteByte('\n')
	}
	cmd := exec.Command("node", filepath.Join("testdata", "oracle", "driver.cjs"), dir)
	cmd.Stdin = strings.NewReader(input.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oracle: %v", err)
	}
	var results []oracleResult
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r oracleResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("oracle output %q: %v", sc.Text(), err)
		}
		results = append(results, r)
	}
	if len(results) != n {
		t.Fatalf("oracle answered %d of %d scenarios", len(results), n)
	}
	var compared, agreed, oracleErrors int
	verdicts := map[string]int{}
	divergences := map[string]int{}
	var failures []string
	for i, s := range scenarios {
		r := results[i]
		if r.Type != "single" || r.Verdict == nil {
			oracleErrors++
			if r.Error != nil && oracleErrors <= 3 {
				t.Logf("scenario %d: oracle error %s", i, *r.Error)
			}
			continue
		}
		c, err := s.toCase(fmt.Sprintf("scenario-%d", i))
		if err != nil {
			t.Fatalf("scenario %d: %v", i, err)
		}
		req, ps, err := c.Build()
		if err != nil {
			t.Fatalf("scenario %d: %v", i, err)
		}
		compared++
		d := engine.Authorize(req, ps)
		ours := casefile.Response(d.Verdict)
		verdicts[*r.Verdict]++
		if ours == *r.Verdict {
			agreed++
			continue
		}
		if kind := divergenceKind(d, req, ps, *r.Verdict, s); kind != "" {
			divergences[kind]++
			continue
		}
		line, _ := json.Marshal(s)
		failures = append(failures, fmt.Sprintf("scenario %d: replay %s (%s), iam-simulate %s\n%s", i, ours, d.Explain(), *r.Verdict, line))
	}
	t.Logf("differential: %d scenarios, %d compared, %d agreed, %d oracle errors; oracle verdicts %v", n, compared, agreed, oracleErrors, verdicts)
	kinds := make([]string, 0, len(divergences))
	for k := range divergences {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		t.Logf("documented divergence %q: %d scenarios", k, divergences[k])
	}
	fmt.Printf("differential oracle: %d scenarios compared, %d agreed, divergences %v\n", compared, agreed, divergences)
	if compared < 2000 {
		t.Errorf("only %d scenarios compared; want at least 2000", compared)
	}
	for i, f := range failures {
		if i == 10 {
			t.Errorf("... and %d more disagreements", len(failures)-10)
			break
		}
		t.Error(f)
	}
}

// divergenceKind names the documented divergence (iam-semantics.md 1.8 and
// the README) that explains a disagreement: replay's verdict under that rule
// of the peer's equals the peer's verdict. Each rule alone is tried, then all
// of them together. It returns "" for an unexplained disagreement.
func divergenceKind(d engine.Decision, req *engine.Request, ps *engine.PolicySet, theirs string, s *scenario) string {
	if d.Verdict == engine.VerdictIndeterminate {
		return "undocumented condition behaviour (single-valued operator on a multivalued key, ForAnyValue IfExists on an absent key)"
	}
	type rule struct {
		name    string
		set     func(*engine.Compat)
		v2008as bool // re-read Version 2008 documents as 2012
	}
	rules := []rule{
		{name: "session policy limits session-ARN grants", set: func(c *engine.Compat) { c.SessionPolicyLimitsDirectSessionGrants = true }},
		{name: "root treated as an ordinary principal", set: func(c *engine.Compat) { c.RootAsOrdinaryPrincipal = true }},
		{name: "SCPs applied to service-linked roles", set: func(c *engine.Compat) { c.SCPsApplyToServiceLinkedRoles = true }},
		{name: "NotResource entry with an unresolved variable", set: func(c *engine.Compat) { c.UnresolvedNotResourceExcludes = true }},
		{name: "NotIpAddress across IP families", set: func(c *engine.Compat) { c.IPFamilyMismatchNeverMatches = true }},
		{name: "Version 2008 variables substituted", v2008as: true},
	}
	verdict := func(rs []rule) string {
		r, p := req, ps
		for _, x := range rs {
			if !x.v2008as {
				continue
			}
			data, _ := json.Marshal(s)
			var alt scenario
			if json.Unmarshal([]byte(strings.ReplaceAll(string(data), "2008-10-17", "2012-10-17")), &alt) != nil {
				return ""
			}
			c, err := alt.toCase("alt")
			if err != nil {
				return ""
			}
			if r, p, err = c.Build(); err != nil {
				return ""
			}
		}
		alt := *p
		for _, x := range rs {
			if x.set != nil {
				x.set(&alt.Compat)
			}
		}
		return casefile.Response(engine.Authorize(r, &alt).Verdict)
	}
	for _, x := range rules {
		if verdict([]rule{x}) == theirs {
			return x.name
		}
	}
	if verdict(rules) == theirs {
		return "several documented divergences at once"
	}
	return ""
}
