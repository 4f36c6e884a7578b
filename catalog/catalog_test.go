package catalog

import (
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

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"action twice, other case", "S\ts3\t1\tS3\nA\tGetObject\tR\t\nA\tgetobject\tR\t\n", "listed twice"},
		{"service twice", "S\ts3\t1\tS3\nA\tGetObject\tR\t\nS\ts3\t1\tS3\n", "service s3 listed twice"},
		{"action before service", "A\tGetObject\tR\t\n", "before the first service"},
		{"unknown level", "S\ts3\t1\tS3\nA\tGetObject\tX\t\n", "unknown access level"},
		{"malformed", "S\ts3\t1\tS3\nZ\tx\n", "malformed"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.text)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Parse error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}
