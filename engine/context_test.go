package engine

import (
	"strings"
	"testing"
)

// TestLowerKey checks the lower-case forms of key names, from the table
// of global keys and otherwise, and that keys match case-insensitively.
func TestLowerKey(t *testing.T) {
	for _, k := range append(globalKeyNames, "s3:x-amz-ACL", "aws:PrincipalTag/Team", "AWS:CURRENTTIME", "aws:currenttime", "") {
		if got := lowerKey(k); got != strings.ToLower(k) {
			t.Errorf("lowerKey(%q) = %q", k, got)
		}
	}
	c := NewContext()
	c.Set("aws:SourceIp", "10.0.0.1")
	c.Set("AWS:SOURCEIP", "10.0.0.2")
	if v := c.Values("aws:sourceip"); len(v) != 1 || v[0] != "10.0.0.2" || len(c.Keys()) != 1 {
		t.Errorf("a key set twice in two spellings: %v, keys %v", v, c.Keys())
	}
}

// TestContextReset checks that a reset context keeps nothing of the
// request before: keys, default state, complete prefixes.
func TestContextReset(t *testing.T) {
	c := NewContext()
	c.SetDefault(KeyUnknown)
	c.Set("aws:SourceIp", "10.0.0.1")
	c.SetList("aws:TagKeys", []string{"a"})
	c.MarkComplete("aws:RequestTag/")
	c.Reset()
	if len(c.Keys()) != 0 || c.State("aws:SourceIp") != KeyAbsent || c.State("aws:UserAgent") != KeyAbsent {
		t.Errorf("after Reset: keys %v, aws:SourceIp %v, unset key %v", c.Keys(), c.State("aws:SourceIp"), c.State("aws:UserAgent"))
	}
	c.SetDefault(KeyUnknown)
	if c.State("aws:RequestTag/team") != KeyUnknown {
		t.Error("a complete prefix survived Reset")
	}
}
