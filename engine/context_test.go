package engine

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestLowerKey checks the lower-case forms of key names, from the table
// of global keys and otherwise, and that keys match case-insensitively.
func TestLowerKey(t *testing.T) {
	for _, k := range append(globalKeyNames[:], "s3:x-amz-ACL", "aws:PrincipalTag/Team", "AWS:CURRENTTIME", "aws:currenttime", "") {
		if got := KeyOf(k).String(); got != strings.ToLower(k) {
			t.Errorf("KeyOf(%q).String() = %q", k, got)
		}
	}
	c := NewContext()
	c.Set("aws:SourceIp", "10.0.0.1")
	c.Set("AWS:SOURCEIP", "10.0.0.2")
	if v := c.Values("aws:sourceip"); len(v) != 1 || v[0] != "10.0.0.2" || len(c.Keys()) != 1 {
		t.Errorf("a key set twice in two spellings: %v, keys %v", v, c.Keys())
	}
}

// TestKeyOf checks that a key resolves to the same Key in any spelling,
// that each global key has a slot of its own, and that other keys have none.
func TestKeyOf(t *testing.T) {
	slots := map[int]string{}
	for _, name := range globalKeyNames {
		k := KeyOf(name)
		for _, spelled := range []string{strings.ToLower(name), strings.ToUpper(name)} {
			if o := KeyOf(spelled); o != k {
				t.Errorf("KeyOf(%q) = %+v, KeyOf(%q) = %+v", name, k, spelled, o)
			}
		}
		if e := &globalKeySlots[globalKeySlot(name)]; e.name != name {
			// Not wrong, but slower: the hash needs other factors.
			t.Errorf("%s is not found in globalKeySlots (taken by %s)", name, e.name)
		}
		if k.slot <= 0 || slots[k.slot] != "" {
			t.Errorf("%s: slot %d, already that of %q", name, k.slot, slots[k.slot])
		}
		slots[k.slot] = name
	}
	c := NewContext()
	c.SetKey(Key{}, "x")
	if st := c.State("aws:CalledVia"); st != KeyAbsent {
		t.Errorf("the zero Key set a global key: aws:CalledVia is %v", st)
	}
	for _, name := range []string{"s3:x-amz-acl", "aws:PrincipalTag/team", "aws:SourceIpx", ""} {
		if k := KeyOf(name); k.slot != 0 || k.String() != strings.ToLower(name) {
			t.Errorf("KeyOf(%q) = %+v, want no slot", name, k)
		}
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

// TestContextSetListShared checks that a shared list reads as the same
// list set by SetList (present, multivalued, no policy variable), and that
// resetting the context leaves the caller's list as it was.
func TestContextSetListShared(t *testing.T) {
	shared := []string{"o-1/r-1/ou-1/", "o-1/r-1/ou-2/"}
	a, b := NewContext(), NewContext()
	a.SetListShared("aws:PrincipalOrgPaths", shared)
	b.SetList("aws:PrincipalOrgPaths", shared)
	for _, c := range []*Context{a, b} {
		st, vals, multi := c.find(KeyOf("aws:principalorgpaths"))
		_, vst := c.variable("aws:principalorgpaths")
		if st != KeyPresent || !multi || !slices.Equal(vals, shared) || vst != KeyAbsent {
			t.Errorf("list key: %v %v multi %v, as a variable %v", st, vals, multi, vst)
		}
	}
	a.Reset()
	if shared[0] != "o-1/r-1/ou-1/" || shared[1] != "o-1/r-1/ou-2/" || a.State("aws:PrincipalOrgPaths") != KeyAbsent {
		t.Errorf("after Reset: shared list %v, key %v", shared, a.State("aws:PrincipalOrgPaths"))
	}
}

// TestContextManyKeys sets up to 300 keys, more than the 128 bits of the
// context's filter, each twice in another spelling, through resets: every
// key must keep its own last value, and unset keys must stay unset.
func TestContextManyKeys(t *testing.T) {
	c := NewContext()
	for _, n := range []int{1, 40, 127, 128, 129, 300, 3} {
		c.Reset()
		c.SetDefault(KeyUnknown)
		// Tag keys differ in their middle only, and global keys are set
		// among them, so filter bits collide.
		name := func(i int) string {
			if i%7 == 0 && i/7 < len(globalKeyNames) {
				return globalKeyNames[i/7]
			}
			return fmt.Sprintf("aws:RequestTag/k%03dx", i)
		}
		for i := range n {
			c.Set(strings.ToUpper(name(i)), "first")
		}
		for i := range n {
			c.Set(name(i), fmt.Sprint(i))
		}
		if got := len(c.Keys()); got != n {
			t.Fatalf("%d keys set: Keys has %d", n, got)
		}
		for i := range n {
			if v := c.Values(strings.ToLower(name(i))); len(v) != 1 || v[0] != fmt.Sprint(i) {
				t.Fatalf("%d keys set: %s = %v, want [%d]", n, name(i), v, i)
			}
		}
		if s := c.State("aws:RequestTag/other"); s != KeyUnknown {
			t.Errorf("%d keys set: an unset key is %v, want unknown", n, s)
		}
	}
}
