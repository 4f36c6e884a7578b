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
		got := ""
		if ok {
			got = a.FullName()
		}
		if got != tt.want {
			t.Errorf("Action(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"action twice, other case", "S\ts3\t1\tS3\nA\tGetObject\tR\t\nA\tgetobject\tR\t\n", "listed twice"},
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
