package ingest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/replay-iam/replay/engine"
)

func TestLoadSnapshot(t *testing.T) {
	s, err := LoadSnapshot(filepath.Join("testdata", "snapshot"))
	if err != nil {
		t.Fatal(err)
	}
	const a = "111111111111"
	alice, ok := s.UserByName(a, "alice")
	if !ok {
		t.Fatal("alice not loaded")
	}
	if len(alice.Inline) != 1 || !alice.Incomplete || alice.Tags["team"] != "blue" || alice.Boundary != "arn:aws:iam::"+a+":policy/Boundary" ||
		len(alice.Groups) != 1 || alice.ID != "AIDAALICE" {
		t.Errorf("alice %+v", alice)
	}
	app, ok := s.RoleByName(a, "app")
	if !ok || app.ARN != "arn:aws:iam::"+a+":role/svc/app" || app.Trust == nil || app.Path != "/svc/" {
		t.Fatalf("role app %+v", app)
	}
	ro := s.Managed["arn:aws:iam::"+a+":policy/ReadOnly"]
	if ro == nil || len(ro.Statements) != 1 {
		t.Fatalf("ReadOnly: %+v", ro)
	}
	// Only the default version applies: v2 allows s3:GetObject only, v1 allowed "*".
	if s.Managed["arn:aws:iam::"+a+":policy/Boundary"] != nil {
		t.Error("a managed policy whose default version is missing must not load")
	}
	if s.Resource["arn:aws:s3:::data"] == nil || s.Tags["arn:aws:s3:::data"]["env"] != "prod" {
		t.Error("resource policy or tags not loaded")
	}
	wantProblems := []string{
		"UserDetailList[0].UserPolicyList[1]: arn:aws:iam::111111111111:user/alice#inline-bad: unknown condition operator",
		"Policies[1]: managed policy arn:aws:iam::111111111111:policy/Boundary: the default version \"v3\" is missing",
	}
	if len(s.Problems) != len(wantProblems) {
		t.Fatalf("problems %v", s.Problems)
	}
	for _, w := range wantProblems {
		found := false
		for _, p := range s.Problems {
			found = found || (strings.Contains(p.Error(), w) && strings.Contains(p.File, "gaad-"+a+".json"))
		}
		if !found {
			t.Errorf("no problem like %q in %v", w, s.Problems)
		}
	}
	scps, ok := s.Org.Chain(a, false)
	if !ok || len(scps) != 3 || scps[0].ID != "r-root" || scps[1].ID != "ou-prod" || scps[2].ID != a || len(scps[1].Policies) != 2 {
		t.Errorf("SCP chain %+v", scps)
	}
	rcps, _ := s.Org.Chain(a, true)
	if len(rcps) != 3 || len(rcps[2].Policies) != 1 || len(rcps[0].Policies) != 0 {
		t.Errorf("RCP chain %+v", rcps)
	}
	if p, _ := s.Org.Path(a); p != "o-abc/r-root/ou-prod/"+a+"/" {
		t.Errorf("org path %q", p)
	}
	if _, ok := s.Org.Chain("222222222222", false); ok {
		t.Error("an account outside the org has no chain")
	}
}

func TestLoadSnapshotErrors(t *testing.T) {
	if _, err := LoadSnapshot(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing folder: no error")
	}
	empty := t.TempDir()
	if _, err := LoadSnapshot(empty); err == nil || !strings.Contains(err.Error(), "no gaad-") {
		t.Errorf("no GAAD: %v", err)
	}
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "gaad-111111111111.json"), []byte("{\n \"UserDetailList\": 7}"), 0o600)
	os.WriteFile(filepath.Join(bad, "gaad-222222222222.json"), []byte(`{"UserDetailList":[]}`), 0o600)
	os.WriteFile(filepath.Join(bad, "organization.json"), []byte(`{"organizationId": "o-1"`), 0o600)
	s, err := LoadSnapshot(bad)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Accounts) != 1 || len(s.Problems) != 2 {
		t.Fatalf("accounts %v, problems %v", s.Accounts, s.Problems)
	}
	if !strings.Contains(s.Problems[0].Error(), "line 2") {
		t.Errorf("problem %v does not give the position", s.Problems[0])
	}
}

// TestLoadSnapshotFileOrder checks that GAAD files, read at once, load as
// if read one after the other in the order of their names: what a later
// file says of a managed policy replaces what an earlier one said, and
// accounts and problems are listed in file order.
func TestLoadSnapshotFileOrder(t *testing.T) {
	dir := t.TempDir()
	const shared = "arn:aws:iam::aws:policy/Shared"
	var accounts, docs []string
	for i := range 24 {
		account := fmt.Sprintf("%012d", 100000000000+i)
		accounts = append(accounts, account)
		doc := fmt.Sprintf(`{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket-%s/*"}]}`, account)
		docs = append(docs, doc)
		gaad := fmt.Sprintf(`{"Policies": [
  {"Arn": %q, "DefaultVersionId": "v1", "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": true,
    "Document": %s}]},
  {"Arn": "arn:aws:iam::%s:policy/Broken", "DefaultVersionId": "v1", "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": true,
    "Document": {"Statement": 7}}]}],
 "UserDetailList": [{"UserName": "u", "UserId": "AIDA%d", "Arn": "arn:aws:iam::%s:user/u", "AttachedManagedPolicies": [{"PolicyArn": %q}]}]}`,
			shared, doc, account, i, account, shared)
		if err := os.WriteFile(filepath.Join(dir, "gaad-"+account+".json"), []byte(gaad), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err := LoadSnapshot(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Accounts, accounts) {
		t.Errorf("accounts %v, want %v", s.Accounts, accounts)
	}
	if len(s.Problems) != len(accounts) {
		t.Fatalf("%d problems, want one per file: %v", len(s.Problems), s.Problems)
	}
	for i, p := range s.Problems {
		if !strings.HasSuffix(p.File, "gaad-"+accounts[i]+".json") {
			t.Errorf("problem %d is of %s, want the file of %s", i, p.File, accounts[i])
		}
	}
	want, err := engine.ParsePolicy(shared, engine.PolicyIdentity, []byte(docs[len(docs)-1]))
	if err != nil {
		t.Fatal(err)
	}
	pol := s.Managed[shared]
	if pol == nil {
		t.Fatal("the shared policy is not loaded")
	}
	if got, _ := pol.Digest(); got != digestOf(want) {
		t.Fatal("the shared policy is not the last file's")
	}
	for _, a := range accounts {
		u, ok := s.UserByName(a, "u")
		if !ok || len(u.identity) != 1 || u.identity[0] != pol {
			t.Errorf("user of %s: identity policies %v, want the last file's shared policy", a, u)
		}
	}
}

func digestOf(p *engine.Policy) [32]byte {
	d, _ := p.Digest()
	return d
}

// TestLoadSnapshotWarnings checks that what a policy's parser accepted
// with a warning reaches the snapshot's Warnings, with the file and the
// policy's path, from a GAAD file read beside another, and is not a
// problem: the policy loads.
func TestLoadSnapshotWarnings(t *testing.T) {
	dir := t.TempDir()
	gaad := `{"UserDetailList":[{"UserName":"alice","UserId":"AIDAEXAMPLE","Arn":"arn:aws:iam::111111111111:user/alice",
	  "UserPolicyList":[{"PolicyName":"mfa","PolicyDocument":{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*",
	    "Condition":{"NumericGreaterThan":{"aws:MultiFactorAuthAge":"one hour"}}}]}}]}]}`
	os.WriteFile(filepath.Join(dir, "gaad-111111111111.json"), []byte(gaad), 0o600)
	os.WriteFile(filepath.Join(dir, "gaad-222222222222.json"), []byte(`{"UserDetailList":[]}`), 0o600)
	s, err := LoadSnapshot(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Problems) != 0 {
		t.Errorf("problems %v, want none", s.Problems)
	}
	if len(s.Warnings) != 1 {
		t.Fatalf("warnings %v, want one", s.Warnings)
	}
	w := s.Warnings[0]
	if filepath.Base(w.File) != "gaad-111111111111.json" || w.Path != "$.UserDetailList[0].UserPolicyList[0]" ||
		!strings.Contains(w.Error(), `"one hour" is not a number`) {
		t.Errorf("warning %v", w)
	}
	if u := s.Users["arn:aws:iam::111111111111:user/alice"]; u == nil || len(u.Inline) != 1 {
		t.Errorf("alice's policy did not load: %+v", u)
	}
}
