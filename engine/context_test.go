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

// countingSource is a KeySource that sets the time and request-tag keys of
// a request and counts its calls per part.
type countingSource struct{ calls [2]int }

const (
	partTimeKeys = iota
	partTagKeys
)

var (
	deferredTime = []Key{KeyOf("aws:CurrentTime"), KeyOf("aws:EpochTime")}
	deferredTags = []Key{KeyOf("aws:TagKeys"), KeyOf("aws:RequestTag/")}
)

func (s *countingSource) SetKeys(c *Context, part int) {
	s.calls[part]++
	switch part {
	case partTimeKeys:
		c.Set("aws:CurrentTime", "2026-11-20T10:00:00Z") // aws:EpochTime left to the default
	case partTagKeys:
		c.Set("aws:RequestTag/team", "blue")
		c.SetList("aws:TagKeys", []string{"team"})
		c.MarkComplete("aws:RequestTag/")
	}
}

// eagerContext is the context of countingSource with every key set at once.
func eagerContext() *Context {
	c := NewContext()
	c.SetDefault(KeyUnknown)
	c.Set("aws:SourceIp", "10.0.0.1")
	(&countingSource{}).SetKeys(c, partTimeKeys)
	(&countingSource{}).SetKeys(c, partTagKeys)
	return c
}

// TestContextDefer checks that deferred keys read as if they had been set
// at once, in any order of lookups, that a part's source is called once,
// on the first lookup of one of its keys or of a key under its prefix,
// and never for other keys; and that Reset and Keys handle deferred parts.
func TestContextDefer(t *testing.T) {
	keys := []string{"aws:CurrentTime", "aws:EpochTime", "aws:TagKeys", "aws:RequestTag/team",
		"aws:RequestTag/other", "aws:SourceIp", "aws:UserAgent", "aws:PrincipalTag/team"}
	eager := eagerContext()
	orders := [][]string{keys, slices.Clone(keys), {"aws:RequestTag/other", "aws:EpochTime"}, {"aws:SourceIp", "aws:UserAgent"}}
	slices.Reverse(orders[1])
	for _, order := range orders {
		src := &countingSource{}
		c := NewContext()
		c.SetDefault(KeyUnknown)
		c.Set("aws:SourceIp", "10.0.0.1")
		c.Defer(src, partTimeKeys, deferredTime...)
		c.Defer(src, partTagKeys, deferredTags...)
		var want [2]int
		for _, k := range order {
			if st, v := c.State(k), c.Values(k); st != eager.State(k) || !slices.Equal(v, eager.Values(k)) {
				t.Errorf("order %v: %s is %v %v, set at once %v %v", order, k, st, v, eager.State(k), eager.Values(k))
			}
			switch {
			case k == "aws:CurrentTime" || k == "aws:EpochTime":
				want[partTimeKeys] = 1
			case k == "aws:TagKeys" || strings.HasPrefix(k, "aws:RequestTag/"):
				want[partTagKeys] = 1
			}
		}
		if src.calls != want {
			t.Errorf("order %v: source called %v times per part, want %v", order, src.calls, want)
		}
		if got, all := c.Keys(), eager.Keys(); !slices.Equal(got, all) {
			t.Errorf("order %v: Keys %v, set at once %v", order, got, all)
		}
		if src.calls != [2]int{1, 1} {
			t.Errorf("order %v: Keys left parts deferred or called them again: %v", order, src.calls)
		}
	}

	src := &countingSource{}
	c := NewContext()
	c.Defer(src, partTimeKeys, deferredTime...)
	c.Defer(src, partTagKeys, deferredTags...)
	c.Reset()
	if c.State("aws:CurrentTime") != KeyAbsent || c.State("aws:RequestTag/team") != KeyAbsent || src.calls != [2]int{} {
		t.Errorf("after Reset: aws:CurrentTime %v, aws:RequestTag/team %v, calls %v",
			c.State("aws:CurrentTime"), c.State("aws:RequestTag/team"), src.calls)
	}
}

// TestCacheOnDeferredContexts checks that cached decisions over deferred
// contexts are those of contexts set at once: a policy that reads a
// deferred key tells requests apart by it, one that does not never has
// it computed.
func TestCacheOnDeferredContexts(t *testing.T) {
	readsTime := parsePolicy(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*",
		"Condition":{"DateLessThan":{"aws:CurrentTime":"2026-11-20T12:00:00Z"}}}]}`)
	plain := parsePolicy(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`)
	times := []string{"2026-11-20T10:00:00Z", "2026-11-20T13:00:00Z", "2026-11-20T10:00:00Z", "2026-11-20T13:00:00Z"}
	for _, pol := range []*Policy{readsTime, plain} {
		cache := NewCache(0)
		ps := &PolicySet{Identity: []*Policy{pol}}
		for i, tm := range times {
			src := &timeSource{time: tm}
			deferred := NewContext()
			deferred.SetDefault(KeyUnknown)
			deferred.Defer(src, 0, deferredTime...)
			eager := NewContext()
			eager.SetDefault(KeyUnknown)
			src.SetKeys(eager, 0)
			req := Request{Principal: Principal{Kind: PrincipalUser, ARN: "arn:aws:iam::111111111111:user/a", Account: "111111111111"},
				Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Context: deferred}
			got := cache.Authorize(&req, ps)
			req.Context = eager
			want := Authorize(&req, ps)
			if got.Verdict != want.Verdict {
				t.Errorf("request %d at %s: cached %v, evaluated %v", i, tm, got.Verdict, want.Verdict)
			}
			if computed := src.calls > 1; computed != (pol == readsTime) {
				t.Errorf("request %d: time computed %v, want %v", i, computed, pol == readsTime)
			}
		}
	}
}

// timeSource sets aws:CurrentTime; calls counts its calls, the one of
// TestCacheOnDeferredContexts's eager context included.
type timeSource struct {
	time  string
	calls int
}

func (s *timeSource) SetKeys(c *Context, part int) {
	s.calls++
	c.Set("aws:CurrentTime", s.time)
}

func parsePolicy(t *testing.T, doc string) *Policy {
	t.Helper()
	p, err := ParsePolicy("p", PolicyIdentity, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}
