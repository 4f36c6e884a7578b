package grants

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/replay-iam/replay/catalog"
	"github.com/replay-iam/replay/engine"
	"github.com/replay-iam/replay/ingest"
)

// actionsWhere lists the catalogue's actions that keep accepts, sorted.
func actionsWhere(cat *catalog.Catalog, keep func(*catalog.Action) bool) []string {
	var out []string
	for _, svc := range cat.Services() {
		for _, a := range svc.Actions {
			if keep(a) {
				out = append(out, a.FullName())
			}
		}
	}
	slices.Sort(out)
	return out
}

func grantedNames(p Permissions) []string {
	var out []string
	for g := range p.Grants() {
		out = append(out, g.Action.FullName())
	}
	return out
}

func TestEffective(t *testing.T) {
	snap, err := ingest.LoadSnapshot(filepath.Join("testdata", "snapshot"))
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Problems) > 0 {
		t.Fatalf("snapshot problems: %v", snap.Problems)
	}
	cat := catalog.Default()
	an := New(cat, snap)
	const acct = "arn:aws:iam::222222222222:"
	entity := func(arn string) *ingest.Entity {
		if e, ok := snap.Users[arn]; ok {
			return e
		}
		if e, ok := snap.Roles[arn]; ok {
			return e
		}
		t.Fatalf("no entity %s", arn)
		return nil
	}
	scpServices := []string{"s3", "sqs", "kms", "ec2", "iam"}

	// sts:GetCallerIdentity needs no permission, so no policy grants it.
	t.Run("admin is limited by the SCP allow list, the SCP deny and the RCP deny", func(t *testing.T) {
		p := an.Effective(entity(acct + "user/admin"))
		want := actionsWhere(cat, func(a *catalog.Action) bool {
			return slices.Contains(scpServices, a.Service.Prefix) && a.FullName() != "s3:DeleteBucket" && a.FullName() != "sqs:DeleteQueue"
		})
		if got := grantedNames(p); !slices.Equal(got, want) {
			t.Errorf("granted %d actions, want %d", len(got), len(want))
		}
		outside := len(actionsWhere(cat, func(a *catalog.Action) bool {
			return !slices.Contains(scpServices, a.Service.Prefix) && a.FullName() != "sts:GetCallerIdentity"
		}))
		if p.Blocked["scp"] != outside+1 || p.Blocked["rcp"] != 1 || len(p.Blocked) != 2 {
			t.Errorf("blocked %v, want SCP %d and RCP 1", p.Blocked, outside+1)
		}
		// The region lock is conditional: EC2 stays granted, without certainty.
		for g := range p.Grants() {
			if g.Action.FullName() == "ec2:RunInstances" && !g.Conditional {
				t.Error("ec2:RunInstances should be granted only under conditions (region lock)")
			}
			if g.Action.FullName() == "s3:ListAllMyBuckets" && (g.Conditional || g.By.Policy.ID != acct+"user/admin#all" || g.By.Ref() != "Everything") {
				t.Errorf("s3:ListAllMyBuckets grant %+v", g)
			}
		}
		if len(p.Statements) != 1 || p.Statements[0].Actions != len(want) {
			t.Errorf("statements %+v", p.Statements)
		}
	})

	t.Run("grant attached directly and through a group, with a resource scope, minus an unconditional deny", func(t *testing.T) {
		p := an.Effective(entity(acct + "user/reader"))
		want := actionsWhere(cat, func(a *catalog.Action) bool {
			return a.Service.Prefix == "s3" && strings.HasPrefix(strings.ToLower(a.Name), "get") && a.Name != "GetObjectAcl" && !a.WildcardOnly()
		})
		if got := grantedNames(p); !slices.Equal(got, want) {
			t.Errorf("granted %v\nwant %v", got, want)
		}
		for g := range p.Grants() {
			if !g.Conditional || g.By.Policy.ID != acct+"policy/S3Get" || g.By.Ref() != "GetData" {
				t.Errorf("grant %+v: want a conditional grant by S3Get/GetData", g)
			}
		}
		// The deny, and the actions that take no resource: a statement
		// scoped to objects cannot grant them.
		wildcardOnly := len(actionsWhere(cat, func(a *catalog.Action) bool {
			return a.Service.Prefix == "s3" && strings.HasPrefix(strings.ToLower(a.Name), "get") && a.WildcardOnly()
		}))
		if p.Blocked["identity"] != 1+wildcardOnly || len(p.Blocked) != 1 {
			t.Errorf("blocked %v, want identity %d", p.Blocked, 1+wildcardOnly)
		}
		// S3Get is attached to the user and to its group: one statement row.
		if len(p.Statements) != 1 || p.Statements[0].Statement != "GetData" || p.Statements[0].Actions != len(want) {
			t.Errorf("statements %+v, want GetData once with %d actions", p.Statements, len(want))
		}
	})

	t.Run("conditions on the principal's own tags decide; others leave the grant open", func(t *testing.T) {
		p := an.Effective(entity(acct + "user/tagged"))
		if got := grantedNames(p); !slices.Equal(got, []string{"kms:Decrypt"}) || !p.Grant(0).Conditional {
			t.Errorf("granted %v (%+v), want kms:Decrypt under conditions", got, p.Grant(0))
		}
		sqs := len(actionsWhere(cat, func(a *catalog.Action) bool { return a.Service.Prefix == "sqs" }))
		if p.Blocked["identity"] != sqs-1 || p.Blocked["rcp"] != 1 || p.Blocked["scp"] != 1 {
			t.Errorf("blocked %v, want identity %d (tag mismatch), RCP 1 (DeleteQueue) and SCP 1 (cloudwatch)", p.Blocked, sqs-1)
		}
		if len(p.Statements) != 1 || p.Statements[0].Statement != "DecryptWithMFA" {
			t.Errorf("statements %+v: only DecryptWithMFA grants anything", p.Statements)
		}
	})

	t.Run("an action two statements grant is the first one's; each counts every action it grants", func(t *testing.T) {
		p := an.Effective(entity(acct + "user/overlap"))
		want := actionsWhere(cat, func(a *catalog.Action) bool {
			return a.Service.Prefix == "sqs" && a.FullName() != "sqs:DeleteQueue" // the RCP denies it
		})
		if got := grantedNames(p); !slices.Equal(got, want) {
			t.Errorf("granted %v\nwant %v", got, want)
		}
		for g := range p.Grants() {
			by := "AllQueues"
			if g.Action.FullName() == "sqs:SendMessage" || g.Action.FullName() == "sqs:ReceiveMessage" {
				by = "SendAndReceive"
			}
			if g.By.Policy.ID != acct+"user/overlap#queues" || g.By.Ref() != by {
				t.Errorf("%s granted by %s %s, want %s", g.Action.FullName(), g.By.Policy.ID, g.By.Ref(), by)
			}
		}
		wantStatements := []StatementGrant{
			{PolicyID: acct + "user/overlap#queues", Statement: "SendAndReceive", Actions: 2},
			{PolicyID: acct + "user/overlap#queues", Statement: "AllQueues", Actions: len(want)},
		}
		if !slices.Equal(p.Statements, wantStatements) {
			t.Errorf("statements %+v, want %+v", p.Statements, wantStatements)
		}
	})

	t.Run("a boundary keeps only what it allows", func(t *testing.T) {
		p := an.Effective(entity(acct + "role/bounded"))
		if got := grantedNames(p); !slices.Equal(got, []string{"s3:GetObject", "sqs:SendMessage"}) {
			t.Errorf("granted %v", got)
		}
		for g := range p.Grants() {
			if g.Conditional {
				t.Errorf("%s: unconditional grant expected", g.Action.FullName())
			}
		}
		if p.Blocked["boundary"] == 0 {
			t.Errorf("blocked %v: the boundary should block", p.Blocked)
		}
	})
}

// BenchmarkEffective computes the effective permissions of a user whose
// policy allows every action, under an SCP allow list, an SCP deny, an RCP
// deny and a conditional region lock: every catalogue action is checked.
func BenchmarkEffective(b *testing.B) {
	snap, err := ingest.LoadSnapshot(filepath.Join("testdata", "snapshot"))
	if err != nil {
		b.Fatal(err)
	}
	admin := snap.Users["arn:aws:iam::222222222222:user/admin"]
	if admin == nil {
		b.Fatal("no admin user")
	}
	// Computed: an analyzer of its own each time, which has nothing to
	// share. Shared: the permissions of a principal whose policies and
	// request read alike, which one analyzer keeps.
	b.Run("computed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			New(catalog.Default(), snap).Effective(admin)
		}
	})
	b.Run("shared", func(b *testing.B) {
		an := New(catalog.Default(), snap)
		an.Effective(admin)
		b.ReportAllocs()
		for b.Loop() {
			an.Effective(admin)
		}
	})
}

func TestNewPermissions(t *testing.T) {
	cat := catalog.Default()
	pol, err := engine.ParsePolicy("arn:aws:iam::1:policy/App", engine.PolicyIdentity, []byte(`{"Version":"2012-10-17","Statement":[
		{"Sid":"Read","Effect":"Allow","Action":"s3:Get*","Resource":"*"},
		{"Sid":"Queue","Effect":"Allow","Action":"sqs:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	act := func(name string) *catalog.Action {
		a, ok := cat.Action(name)
		if !ok {
			t.Fatalf("no action %s in the catalogue", name)
		}
		return a
	}
	read, queue := pol.Statements[0], pol.Statements[1]
	want := []Grant{
		{Action: act("s3:GetObject"), By: read},
		{Action: act("sqs:SendMessage"), By: queue, Conditional: true},
		{Action: act("s3:GetBucketPolicy"), By: read},
		{Action: act("sqs:ReceiveMessage"), By: queue, Conditional: true},
	}
	p := NewPermissions(want, nil, map[string]int{})
	if p.NumGrants() != len(want) {
		t.Fatalf("%d grants, want %d", p.NumGrants(), len(want))
	}
	for i, w := range want {
		if g := p.Grant(i); g != w {
			t.Errorf("grant %d: %s by %s (conditional %v), want %s by %s (conditional %v)", i,
				g.Action.FullName(), g.By.Ref(), g.Conditional, w.Action.FullName(), w.By.Ref(), w.Conditional)
		}
	}
	if got := slices.Collect(p.Grants()); !slices.Equal(got, want) {
		t.Errorf("Grants() gives %d grants, not those given in their order", len(got))
	}
	if len(p.allows) != 2 {
		t.Errorf("%d statements kept, want each of the 2 once", len(p.allows))
	}
}
