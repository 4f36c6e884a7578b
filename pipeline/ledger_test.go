package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/replay-iam/replay/analysis"
	"github.com/replay-iam/replay/engine"
	"github.com/replay-iam/replay/ingest"
)

// TestLedgerVerifiesAsReplay checks the verification of replacement
// policies from a run's ledger against the verification that reads the
// logs again and decides every request with the replacement in place. On
// the sample estate, with one worker and with three on days cut into
// one-file slices (a session pass), each group's ledger written every few
// entries or at its end, both must give the same events, failures and
// example for every principal, for replacements built from each
// principal's use as suggestions are (its actions on the resources it
// used), narrower ones that drop actions or resources, and ones the
// ledger cannot decide (conditions, policy variables, Deny statements),
// alone and mixed.
func TestLedgerVerifiesAsReplay(t *testing.T) {
	sum, snap := sampleEstate(t)
	for _, run := range []struct{ workers, sliceFiles, limit int }{{1, 0, 0}, {3, 1, 5}} {
		name := fmt.Sprintf("%d workers, slices of %d files, %d entries held", run.workers, run.sliceFiles, run.limit)
		cfg := Config{Logs: []string{sum.Logs}, Snapshot: snap, Workers: run.workers, sliceFiles: run.sliceFiles,
			Ledger: t.TempDir(), ledgerLimit: run.limit}
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		kinds := replacementMaps(t, res.Report)
		passed, failed := 0, 0
		for _, m := range slices.Sorted(maps.Keys(kinds)) {
			want, err := Verify(context.Background(), cfg, kinds[m])
			if err != nil {
				t.Fatal(err)
			}
			got, err := VerifyLedger(context.Background(), cfg, res.Ledger, kinds[m])
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s, %s: the ledger's verification differs from the replay's:\n%s", name, m, verificationDiff(got, want))
			}
			if m == "as used" {
				// Without a ledger, the logs are read again.
				if got, err := VerifyLedger(context.Background(), cfg, nil, kinds[m]); err != nil || !reflect.DeepEqual(got, want) {
					t.Errorf("%s, %s: with no ledger, the verification differs from the replay's (%v):\n%s", name, m, err, verificationDiff(got, want))
				}
			}
			for _, v := range want {
				if v.Failed > 0 {
					failed++
				} else if v.Events > 0 {
					passed++
				}
			}
		}
		if passed < 10 || failed < 10 {
			t.Errorf("%s: %d verifications passed and %d failed; the replacements should give many of both", name, passed, failed)
		}
		blocks := int(res.Ledger.blocks.Load())
		t.Logf("%s: %d verifications passed, %d failed; %d ledger blocks for %d files", name, passed, failed, blocks, res.Files)
		if run.limit > 0 && blocks <= res.Files {
			t.Errorf("%s: %d blocks in the ledger for %d files: groups holding %d entries should write more often", name, blocks, res.Files, run.limit)
		}
	}
}

// replacementMaps builds, from a run's usage, replacement policies for
// every principal that was allowed something.
func replacementMaps(t *testing.T, rep *analysis.Report) map[string]map[string]*engine.Policy {
	t.Helper()
	type use struct {
		action    string
		resources []string
	}
	used := map[string][]use{}
	for _, k := range rep.SortedUsageKeys() {
		u := rep.Usage[k]
		if k.Decision != engine.VerdictAllow {
			continue
		}
		res := u.Resources()
		if u.Overflow {
			res = append(res, u.CommonPrefix()+"*")
		}
		used[k.PrincipalARN] = append(used[k.PrincipalARN], use{k.Action, res})
	}
	policy := func(id string, stmts ...map[string]any) *engine.Policy {
		doc, err := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": stmts})
		if err != nil {
			t.Fatal(err)
		}
		p, err := engine.ParsePolicy(id, engine.PolicyIdentity, doc)
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		return p
	}
	allow := func(action any, resource any) map[string]any {
		return map[string]any{"Effect": "Allow", "Action": action, "Resource": resource}
	}
	kinds := map[string]func(arn string, uses []use) *engine.Policy{
		"as used": func(arn string, uses []use) *engine.Policy {
			var stmts []map[string]any
			for _, u := range uses {
				stmts = append(stmts, allow(u.action, u.resources))
			}
			return policy(arn, stmts...)
		},
		"every other action": func(arn string, uses []use) *engine.Policy {
			var stmts []map[string]any
			for i, u := range uses {
				if i%2 == 0 {
					stmts = append(stmts, allow(u.action, "*"))
				}
			}
			if stmts == nil {
				stmts = append(stmts, allow("sts:GetSessionToken", "*"))
			}
			return policy(arn, stmts...)
		},
		"first resource only": func(arn string, uses []use) *engine.Policy {
			var stmts []map[string]any
			for _, u := range uses {
				stmts = append(stmts, allow(strings.ToUpper(u.action), u.resources[:1]))
			}
			return policy(arn, stmts...)
		},
		"s3 reads": func(arn string, uses []use) *engine.Policy {
			return policy(arn, allow("s3:Get*", "*"), allow("s3:List*", "arn:aws:s3:::*"))
		},
		"with a condition": func(arn string, uses []use) *engine.Policy {
			st := allow("*", "*")
			st["Condition"] = map[string]any{"IpAddress": map[string]any{"aws:SourceIp": "10.0.0.0/9"}}
			return policy(arn, st)
		},
		"with a variable": func(arn string, uses []use) *engine.Policy {
			return policy(arn, allow("*", "arn:aws:s3:::${aws:PrincipalAccount}*"), allow("sts:*", "*"))
		},
		"with a deny": func(arn string, uses []use) *engine.Policy {
			return policy(arn, allow("*", "*"), map[string]any{"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"})
		},
	}
	out := map[string]map[string]*engine.Policy{"mixed": {}}
	kindNames := slices.Sorted(maps.Keys(kinds))
	for _, kind := range kindNames {
		m := map[string]*engine.Policy{}
		for arn, uses := range used {
			m[arn] = kinds[kind](arn, uses)
		}
		out[kind] = m
	}
	for i, arn := range slices.Sorted(maps.Keys(used)) {
		out["mixed"][arn] = out[kindNames[i%len(kindNames)]][arn]
	}
	return out
}

// verificationDiff lists the principals whose verifications differ.
func verificationDiff(got, want map[string]*Verification) string {
	union := maps.Clone(got)
	maps.Copy(union, want)
	var b strings.Builder
	for _, arn := range slices.Sorted(maps.Keys(union)) {
		g, w := got[arn], want[arn]
		if !reflect.DeepEqual(g, w) {
			fmt.Fprintf(&b, "  %s: got %+v, want %+v\n", arn, g, w)
		}
	}
	return b.String()
}

// TestLedgerDamaged checks that a ledger file cut short or altered gives
// an error naming the file and block, not a verification.
func TestLedgerDamaged(t *testing.T) {
	sum, snap := sampleEstate(t)
	cfg := Config{Logs: []string{sum.Logs}, Snapshot: snap, Workers: 1, Ledger: t.TempDir()}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	all := replacementMaps(t, res.Report)["s3 reads"]
	if len(res.Ledger.files) != 1 {
		t.Fatalf("%d ledger files with one worker, want 1", len(res.Ledger.files))
	}
	path := res.Ledger.files[0].path
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"cut short", data[:len(data)*2/3]},
		{"altered", append(append([]byte{}, data[:len(data)/2]...), append([]byte("garbage"), data[len(data)/2+7:]...)...)},
	} {
		if err := os.WriteFile(path, c.data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := VerifyLedger(context.Background(), cfg, res.Ledger, all)
		if err == nil || !strings.Contains(err.Error(), filepath.Base(path)) {
			t.Errorf("%s: error %v, want one naming %s", c.name, err, filepath.Base(path))
		}
	}
}

// TestLedgerEntries checks the ledger on requests made by hand, against
// evaluation with the replacement in place: objects named exactly and
// resources known only as a pattern (partial: some object of the bucket),
// which a replacement covering part of the bucket allows only when named
// exactly or covered whole; requests the replacement does not allow, kept
// with their least event id; and a request allowed by its bucket policy
// alone, which no replacement can fail.
func TestLedgerEntries(t *testing.T) {
	policy := func(id string, typ engine.PolicyType, doc string) *engine.Policy {
		p, err := engine.ParsePolicy(id, typ, []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	const acct = "111111111111"
	identity := policy("id", engine.PolicyIdentity, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`)
	bucket := policy("arn:aws:s3:::logs", engine.PolicyResource, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
		"Principal":{"AWS":"arn:aws:iam::`+acct+`:user/alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*"}]}`)
	replacement := policy("replacement", engine.PolicyIdentity, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
		"Action":"s3:GetObject","Resource":"arn:aws:s3:::data/reports/*"}]}`)
	alice := engine.Principal{Kind: engine.PrincipalUser, ARN: "arn:aws:iam::" + acct + ":user/alice", Account: acct}
	calls := []struct {
		id, action, resource string
		partial              bool
		resourcePolicy       *engine.Policy
	}{
		{"e06", "s3:GetObject", "arn:aws:s3:::data/*", true, nil},
		{"e01", "s3:GetObject", "arn:aws:s3:::data/reports/q1.csv", false, nil},
		{"e02", "s3:GetObject", "arn:aws:s3:::data/*", true, nil},
		{"e03", "s3:GetObject", "arn:aws:s3:::data/reports/*", true, nil},
		{"e04", "s3:GetObject", "arn:aws:s3:::data/*", false, nil},
		{"e07", "s3:PutObject", "arn:aws:s3:::data/reports/x", false, nil},
		{"e05", "s3:PutObject", "arn:aws:s3:::data/reports/x", false, nil},
		{"e08", "s3:GetObject", "arn:aws:s3:::logs/x", false, bucket},
	}
	l := newLedger(t.TempDir(), 2)
	g := l.group()
	cache := engine.NewCache(0)
	rep := analysis.NewReport()
	want := &Verification{}
	for _, c := range calls {
		r := &ingest.Request{Request: engine.Request{Principal: alice, Action: c.action, Resource: c.resource,
			ResourcePartial: c.partial, ResourceAccount: acct, Context: engine.NewContext()}}
		r.Join.Policies = &engine.PolicySet{Identity: []*engine.Policy{identity}, Resource: c.resourcePolicy}
		d := engine.Authorize(&r.Request, r.Join.Policies)
		if !d.Allowed() {
			t.Fatalf("%s: not allowed by its own policies", c.id)
		}
		rep.Add(&analysis.Event{PrincipalARN: alice.ARN, Action: c.action, Resource: c.resource, Decision: d}, c.id)
		g.add(alice.ARN, r, c.id, cache)
		replaced := *r.Join.Policies
		replaced.Identity = []*engine.Policy{replacement}
		want.Events++
		if !engine.Authorize(&r.Request, &replaced).Allowed() {
			want.Failed++
			want.Example = analysis.LeastNonEmpty(want.Example, c.id)
		}
	}
	if want.Failed != 4 || want.Example != "e02" {
		t.Fatalf("evaluation fails %d calls, the least %q: the calls should fail e02, e05, e06 and e07", want.Failed, want.Example)
	}
	if err := g.close(); err != nil {
		t.Fatal(err)
	}
	l.commit(g)
	if err := l.close(rep); err != nil {
		t.Fatal(err)
	}
	got, err := VerifyLedger(context.Background(), Config{Workers: 1}, l, map[string]*engine.Policy{alice.ARN: replacement})
	if err != nil {
		t.Fatal(err)
	}
	if v := got[alice.ARN]; v == nil || *v != *want {
		t.Errorf("verification %+v, want %+v", v, want)
	}
	if n := l.blocks.Load(); n < 2 {
		t.Errorf("%d blocks written holding 2 entries at a time", n)
	}
}
