package grants

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/replay-iam/replay/catalog"
	"github.com/replay-iam/replay/ingest"
	"github.com/replay-iam/replay/internal/sample"
)

// samePermissions returns how two sets of effective permissions differ, or
// nil; grants must name the very same statements.
func samePermissions(got, want Permissions) error {
	if got.NumGrants() != want.NumGrants() {
		return fmt.Errorf("%d grants, want %d", got.NumGrants(), want.NumGrants())
	}
	for i := range got.NumGrants() {
		if g, w := got.Grant(i), want.Grant(i); g != w {
			return fmt.Errorf("grant %d: %s by %s#%s (conditional %v), want %s by %s#%s (conditional %v)", i,
				g.Action.FullName(), g.By.Policy.ID, g.By.Ref(), g.Conditional, w.Action.FullName(), w.By.Policy.ID, w.By.Ref(), w.Conditional)
		}
	}
	if !maps.Equal(got.Blocked, want.Blocked) {
		return fmt.Errorf("blocked %v, want %v", got.Blocked, want.Blocked)
	}
	if !slices.Equal(got.Statements, want.Statements) {
		return fmt.Errorf("statements %v, want %v", got.Statements, want.Statements)
	}
	return nil
}

// entities lists the snapshot's users and roles by ARN.
func entities(snap *ingest.Snapshot) []*ingest.Entity {
	var out []*ingest.Entity
	for _, arn := range slices.Sorted(maps.Keys(snap.Users)) {
		out = append(out, snap.Users[arn])
	}
	for _, arn := range slices.Sorted(maps.Keys(snap.Roles)) {
		out = append(out, snap.Roles[arn])
	}
	return out
}

// checkShared computes the effective permissions of every entity with one
// analyzer, which shares them between principals, and with an analyzer of
// its own for each, which cannot, and fails on any difference. It returns
// how many principals got shared permissions.
func checkShared(t *testing.T, snap *ingest.Snapshot) int {
	t.Helper()
	cat := catalog.Default()
	shared := New(cat, snap)
	for _, e := range entities(snap) {
		got := shared.Effective(e)
		want := New(cat, snap).Effective(e)
		if err := samePermissions(got, want); err != nil {
			t.Errorf("%s: %v", e.ARN, err)
		}
	}
	return int(shared.shared.hits.Load())
}

// TestSharedPermissionsOfTheSampleEstate checks sharing on the sample
// estate, whose accounts hold the same users and roles: it must share, and
// give each principal the permissions it computes alone.
func TestSharedPermissionsOfTheSampleEstate(t *testing.T) {
	o := sample.DefaultOptions()
	o.Accounts, o.Days, o.FilesPerDay, o.EventsPerFile = 4, 1, 1, 1
	sum, err := sample.Generate(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := ingest.LoadSnapshot(sum.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	if hits := checkShared(t, snap); hits == 0 {
		t.Error("no principal got shared permissions, though every account holds the same ones")
	}
}

// TestSharedPermissions checks sharing where the principals' policies
// compile alike but their requests may read differently.
func TestSharedPermissions(t *testing.T) {
	doc := func(statements ...map[string]any) map[string]any {
		return map[string]any{"Version": "2012-10-17", "Statement": statements}
	}
	allow := func(action string, cond map[string]any) map[string]any {
		st := map[string]any{"Sid": "S", "Effect": "Allow", "Action": action, "Resource": "*"}
		if cond != nil {
			st["Condition"] = cond
		}
		return st
	}
	user := func(acct, name string, tags map[string]string, policies map[string]map[string]any) map[string]any {
		var inline []any
		for _, n := range slices.Sorted(maps.Keys(policies)) {
			inline = append(inline, map[string]any{"PolicyName": n, "PolicyDocument": policies[n]})
		}
		var tagList []any
		for _, k := range slices.Sorted(maps.Keys(tags)) {
			tagList = append(tagList, map[string]any{"Key": k, "Value": tags[k]})
		}
		return map[string]any{"Path": "/", "UserName": name, "UserId": "AIDA" + name + acct,
			"Arn": "arn:aws:iam::" + acct + ":user/" + name, "UserPolicyList": inline,
			"GroupList": []any{}, "AttachedManagedPolicies": []any{}, "Tags": tagList}
	}
	// A statement covers each service, so that each grant tells which
	// condition let it through.
	plain := doc(allow("ec2:*", nil))
	byName := doc(allow("s3:*", map[string]any{"StringEquals": map[string]any{"aws:username": "dev"}}))
	byTag := doc(allow("sqs:*", map[string]any{"StringEquals": map[string]any{"aws:PrincipalTag/team": "blue"}}))
	byAccount := doc(allow("kms:*", map[string]any{"StringEquals": map[string]any{"aws:PrincipalAccount": "111111111111"}}))
	var users = map[string][]any{}
	for _, acct := range []string{"111111111111", "222222222222", "333333333333"} {
		users[acct] = []any{
			user(acct, "dev", map[string]string{"team": "blue"}, map[string]map[string]any{"plain": plain, "name": byName, "tag": byTag, "account": byAccount}),
			user(acct, "ops", map[string]string{"team": "red"}, map[string]map[string]any{"plain": plain, "name": byName, "tag": byTag, "account": byAccount}),
		}
	}
	dir := t.TempDir()
	for acct, list := range users {
		writeJSON(t, filepath.Join(dir, "gaad-"+acct+".json"), map[string]any{
			"UserDetailList": list, "GroupDetailList": []any{}, "RoleDetailList": []any{}, "Policies": []any{}})
	}
	scp := func(name string, d map[string]any) map[string]any { return map[string]any{"name": name, "document": d} }
	full := scp("FullAWSAccess", doc(map[string]any{"Effect": "Allow", "Action": "*", "Resource": "*"}))
	noQueues := scp("NoQueues", doc(map[string]any{"Effect": "Deny", "Action": "sqs:*", "Resource": "*"}))
	writeJSON(t, filepath.Join(dir, "organization.json"), map[string]any{
		"organizationId": "o-shared", "managementAccountId": "999999999999",
		"root": map[string]any{"id": "r-root", "scps": []any{full}, "rcps": []any{}},
		"ous":  []any{},
		"accounts": []any{
			map[string]any{"id": "111111111111", "parent": "r-root", "scps": []any{full}, "rcps": []any{}},
			map[string]any{"id": "222222222222", "parent": "r-root", "scps": []any{full}, "rcps": []any{}},
			// Another SCP: another key, nothing shared with the others.
			map[string]any{"id": "333333333333", "parent": "r-root", "scps": []any{full, noQueues}, "rcps": []any{}},
		},
	})
	snap, err := ingest.LoadSnapshot(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Problems) > 0 {
		t.Fatalf("snapshot problems: %v", snap.Problems)
	}
	// The policies read the user name, tag and account: dev and ops of
	// one account read differently, and so do the accounts; dev of
	// 222222222222 reads as dev of 111111111111 but for the account.
	if hits := checkShared(t, snap); hits != 0 {
		t.Errorf("%d principals got shared permissions, though every one reads its own name, tag or account", hits)
	}

	// Without the account condition, dev and ops of 222222222222 read as
	// those of 111111111111: shared, each with statements of its own.
	for _, acct := range []string{"111111111111", "222222222222", "333333333333"} {
		users[acct] = []any{
			user(acct, "dev", map[string]string{"team": "blue"}, map[string]map[string]any{"plain": plain, "name": byName, "tag": byTag}),
			user(acct, "ops", map[string]string{"team": "red"}, map[string]map[string]any{"plain": plain, "name": byName, "tag": byTag}),
		}
		writeJSON(t, filepath.Join(dir, "gaad-"+acct+".json"), map[string]any{
			"UserDetailList": users[acct], "GroupDetailList": []any{}, "RoleDetailList": []any{}, "Policies": []any{}})
	}
	if snap, err = ingest.LoadSnapshot(dir); err != nil {
		t.Fatal(err)
	}
	if hits := checkShared(t, snap); hits != 2 {
		t.Errorf("%d principals got shared permissions, want 2 (dev and ops of 222222222222)", hits)
	}
	checkConditions(t, snap)
}

// TestSharedPermissionsOfRepeatedPolicies checks that a policy attached
// twice, which counts once, and two policies that compile alike, which
// count twice, are not taken for one another.
func TestSharedPermissionsOfRepeatedPolicies(t *testing.T) {
	d := map[string]any{"Version": "2012-10-17", "Statement": []any{
		map[string]any{"Sid": "Queues", "Effect": "Allow", "Action": "sqs:*", "Resource": "*"}}}
	dir := t.TempDir()
	group := func(acct string, v map[string]any) map[string]any {
		g := map[string]any{"Path": "/", "GroupName": "g", "GroupId": "AGPAG" + acct, "Arn": "arn:aws:iam::" + acct + ":group/g",
			"GroupPolicyList": []any{}, "AttachedManagedPolicies": []any{}}
		maps.Copy(g, v)
		return g
	}
	user := func(acct string, v map[string]any) map[string]any {
		u := map[string]any{"Path": "/", "UserName": "twice", "UserId": "AIDATWICE" + acct, "Arn": "arn:aws:iam::" + acct + ":user/twice",
			"UserPolicyList": []any{}, "GroupList": []any{"g"}, "AttachedManagedPolicies": []any{}, "Tags": []any{}}
		maps.Copy(u, v)
		return u
	}
	// 444444444444: one managed policy, attached to the user and its group.
	attached := []any{map[string]any{"PolicyName": "Q", "PolicyArn": "arn:aws:iam::444444444444:policy/Q"}}
	writeJSON(t, filepath.Join(dir, "gaad-444444444444.json"), map[string]any{
		"UserDetailList":  []any{user("444444444444", map[string]any{"AttachedManagedPolicies": attached})},
		"GroupDetailList": []any{group("444444444444", map[string]any{"AttachedManagedPolicies": attached})},
		"RoleDetailList":  []any{},
		"Policies": []any{map[string]any{"PolicyName": "Q", "PolicyId": "ANPAQ", "Arn": "arn:aws:iam::444444444444:policy/Q",
			"Path": "/", "DefaultVersionId": "v1", "AttachmentCount": 2, "IsAttachable": true,
			"PolicyVersionList": []any{map[string]any{"Document": d, "VersionId": "v1", "IsDefaultVersion": true}}}},
	})
	// 555555555555: the same document inline in the user and in its group.
	inline := []any{map[string]any{"PolicyName": "q", "PolicyDocument": d}}
	writeJSON(t, filepath.Join(dir, "gaad-555555555555.json"), map[string]any{
		"UserDetailList":  []any{user("555555555555", map[string]any{"UserPolicyList": inline})},
		"GroupDetailList": []any{group("555555555555", map[string]any{"GroupPolicyList": inline})},
		"RoleDetailList":  []any{}, "Policies": []any{},
	})
	snap, err := ingest.LoadSnapshot(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Problems) > 0 {
		t.Fatalf("snapshot problems: %v", snap.Problems)
	}
	checkShared(t, snap)
	an := New(catalog.Default(), snap)
	for acct, want := range map[string]int{"444444444444": 1, "555555555555": 2} {
		p := an.Effective(snap.Users["arn:aws:iam::"+acct+":user/twice"])
		if len(p.Statements) != want {
			t.Errorf("%s: %d granting statements, want %d: %v", acct, len(p.Statements), want, p.Statements)
		}
	}
}

// checkConditions checks the grants of the users of TestSharedPermissions:
// each by statements of its own, and as its conditions say.
func checkConditions(t *testing.T, snap *ingest.Snapshot) {
	t.Helper()
	an := New(catalog.Default(), snap)
	for _, e := range entities(snap) {
		p := an.Effective(e)
		for g := range p.Grants() {
			if want := e.ARN + "#"; len(g.By.Policy.ID) < len(want) || g.By.Policy.ID[:len(want)] != want {
				t.Fatalf("%s: %s granted by %s, a policy of another principal", e.ARN, g.Action.FullName(), g.By.Policy.ID)
			}
		}
		// What the conditions say of each principal.
		name, tag := e.Name == "dev", e.Name == "dev" && e.Account != "333333333333"
		if got := grantedBy(p, "name"); got != name {
			t.Errorf("%s: granted by the name condition %v, want %v", e.ARN, got, name)
		}
		if got := grantedBy(p, "tag"); got != tag {
			t.Errorf("%s: granted by the tag condition %v, want %v", e.ARN, got, tag)
		}
	}
}

// grantedBy reports whether a statement of the principal's inline policy
// named policy grants an action.
func grantedBy(p Permissions, policy string) bool {
	for g := range p.Grants() {
		id := g.By.Policy.ID
		if len(id) > len(policy) && id[len(id)-len(policy)-1:] == "#"+policy {
			return true
		}
	}
	return false
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
