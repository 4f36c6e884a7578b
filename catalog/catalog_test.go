package catalog

import (
	"slices"
	"strings"
	"testing"
)

const testData = "# test\n" +
	"S\ts3\t1\tAmazon S3\n" +
	"A\tGetObject\tR\tobject+\n" +
	"A\tListAllMyBuckets\tL\t\n" +
	"S\tiam\t0\tIAM\n" +
	"A\tGetRole\tR\trole+\n"

func TestAction(t *testing.T) {
	c, err := Parse(testData)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want string // full name found, "" for none
	}{
		{"s3:GetObject", "s3:GetObject"},
		{"s3:getobject", "s3:GetObject"},
		{"S3:GETOBJECT", "s3:GetObject"},
		{"iam:GetRole", "iam:GetRole"},
		{"iam:getRole", "iam:GetRole"},
		{"s3:GetRole", ""},
		{"ec2:GetObject", ""},
		{"GetObject", ""},
		{"s3:", ""},
		{"", ""},
	}
	for _, tt := range tests {
		a, ok := c.Action(tt.name)
		got, lower := "", ""
		if ok {
			got, lower = a.FullName(), a.LowerName()
		}
		if got != tt.want || lower != strings.ToLower(tt.want) {
			t.Errorf("Action(%q) = %q (lower %q), want %q", tt.name, got, lower, tt.want)
		}
	}
}

// TestActionNamesAndIndexes checks the lower-case names of the embedded
// catalogue, and that its action indexes number the actions from 0.
func TestActionNamesAndIndexes(t *testing.T) {
	c := Default()
	taken := make([]bool, c.NumActions())
	n := 0
	for _, svc := range c.Services() {
		for _, a := range svc.Actions {
			n++
			if a.LowerName() != strings.ToLower(a.FullName()) {
				t.Fatalf("%s: LowerName %q", a.FullName(), a.LowerName())
			}
			if i := a.Index(); i < 0 || i >= len(taken) || taken[i] {
				t.Fatalf("%s: index %d out of range or taken (NumActions %d)", a.FullName(), i, c.NumActions())
			}
			taken[a.Index()] = true
		}
	}
	if n != c.NumActions() || n < 10000 {
		t.Errorf("%d actions, NumActions %d", n, c.NumActions())
	}
}

func TestActionsInNameOrder(t *testing.T) {
	c := Default()
	sorted := c.ActionsInNameOrder()
	if len(sorted) != c.NumActions() {
		t.Fatalf("%d actions in name order, NumActions %d", len(sorted), c.NumActions())
	}
	taken := make([]bool, c.NumActions())
	for i, a := range sorted {
		if got, ok := c.Action(a.FullName()); !ok || got != a {
			t.Fatalf("%s: not the catalogue's action of that name", a.FullName())
		}
		if taken[a.Index()] {
			t.Fatalf("%s listed twice", a.FullName())
		}
		taken[a.Index()] = true
		if i > 0 && sorted[i-1].FullName() >= a.FullName() {
			t.Fatalf("%s before %s", sorted[i-1].FullName(), a.FullName())
		}
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"action twice, other case", "S\ts3\t1\tS3\nA\tGetObject\tR\t\nA\tgetobject\tR\t\n", "listed twice"},
		{"service twice", "S\ts3\t1\tS3\nA\tGetObject\tR\t\nS\ts3\t1\tS3\n", "service s3 listed twice"},
		{"action before service", "A\tGetObject\tR\t\n", "before the first service"},
		{"unknown level", "S\ts3\t1\tS3\nA\tGetObject\tX\t\n", "unknown access level"},
		{"malformed", "S\ts3\t1\tS3\nZ\tx\n", "malformed"},
		{"field too many", "S\ts3\t1\tS3\nR\tbucket\tarn:aws:s3:::b\tmore\n", "line 2: malformed"},
		{"action fields too many", "S\ts3\t1\tS3\nA\tGetObject\tR\t\t\t\n", "line 2: malformed"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.text)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Parse error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

// TestParseRecords checks every field each kind of record sets.
func TestParseRecords(t *testing.T) {
	c, err := Parse("# v1 (test)\n" +
		"S\ts3\t1\tAmazon S3\n" +
		"R\tbucket\tarn:${Partition}:s3:::${BucketName}\n" +
		"R\tobject\tarn:${Partition}:s3:::${BucketName}/${ObjectName}\n" +
		"A\tGetObject\tR\tobject+,bucket\n" +
		"A\tListAllMyBuckets\tL\t\n" +
		"A\tPutBucketPolicy\tP\tbucket+\n" +
		"K\ts3:ExistingObjectTag/<key>\tString\n" +
		"\n" +
		"S\tiam\t0\tIdentity and Access Management\n" +
		"A\tTagRole\tT\trole+\n" +
		"A\tCreateRole\tW\trole+\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != "v1 (test)" || c.NumActions() != 5 {
		t.Errorf("version %q, %d actions", c.Version, c.NumActions())
	}
	s3, ok := c.Service("S3")
	if !ok || s3.Name != "Amazon S3" || !s3.RCPSupported || len(s3.Actions) != 3 {
		t.Fatalf("s3: %+v", s3)
	}
	if got := s3.ResourceTypes["object"]; got != "arn:${Partition}:s3:::${BucketName}/${ObjectName}" {
		t.Errorf("object template %q", got)
	}
	if got := s3.ConditionKeys["s3:existingobjecttag/<key>"]; got != "String" {
		t.Errorf("condition key type %q (keys %v)", got, s3.ConditionKeys)
	}
	iam, ok := c.Service("iam")
	if !ok || iam.RCPSupported || iam.Name != "Identity and Access Management" {
		t.Fatalf("iam: %+v", iam)
	}
	if _, ok := c.Service("S3" + strings.Repeat("x", 64)); ok {
		t.Error("a prefix longer than any service's must not be found")
	}
	tests := []struct {
		name, full, lower string
		level             AccessLevel
		resources         []ResourceRef
		service           *Service
	}{
		{"s3:getobject", "s3:GetObject", "s3:getobject", Read, []ResourceRef{{"object", true}, {"bucket", false}}, s3},
		{"s3:ListAllMyBuckets", "s3:ListAllMyBuckets", "s3:listallmybuckets", List, nil, s3},
		{"s3:PutBucketPolicy", "s3:PutBucketPolicy", "s3:putbucketpolicy", PermissionsManagement, []ResourceRef{{"bucket", true}}, s3},
		{"iam:TagRole", "iam:TagRole", "iam:tagrole", Tagging, []ResourceRef{{"role", true}}, iam},
		{"IAM:CreateRole", "iam:CreateRole", "iam:createrole", Write, []ResourceRef{{"role", true}}, iam},
	}
	seen := map[int]bool{}
	for _, tt := range tests {
		a, ok := c.Action(tt.name)
		if !ok {
			t.Errorf("%s: not found", tt.name)
			continue
		}
		if a.FullName() != tt.full || a.LowerName() != tt.lower || a.Level != tt.level || a.Service != tt.service ||
			!slices.Equal(a.Resources, tt.resources) || a.WildcardOnly() != (tt.resources == nil) {
			t.Errorf("%s: %s %s %v %v service %s", tt.name, a.FullName(), a.LowerName(), a.Level, a.Resources, a.Service.Prefix)
		}
		if seen[a.Index()] || a.Index() >= c.NumActions() {
			t.Errorf("%s: index %d taken or out of range", tt.name, a.Index())
		}
		seen[a.Index()] = true
	}
}

// TestLookupsDoNotAllocate checks that looking up a service or an action
// spelt in another case allocates nothing: the engine does both for every
// request it prepares.
func TestLookupsDoNotAllocate(t *testing.T) {
	c := Default()
	if _, ok := c.Action("S3:GetObject"); !ok {
		t.Fatal("s3:GetObject not found case-insensitively")
	}
	n := testing.AllocsPerRun(100, func() {
		c.Action("S3:GetObject")
		c.Service("S3")
	})
	if n != 0 {
		t.Errorf("%v allocations per lookup, want 0", n)
	}
}
