package engine

import (
	"math/bits"
	"sort"
	"strings"
)

// KeyState is what the caller knows about a context key.
type KeyState uint8

// Key states. A key is Absent only when AWS itself would not have put it in
// the request context; whatever the caller cannot tell is Unknown.
const (
	keyAbsent       KeyState = iota
	keyPresent               // present with known values
	keyUnknown               // neither presence nor value known
	keyValueUnknown          // present, value not known
	// keyDeferred marks a global key whose values a KeySource gives when
	// it is first looked up (see Context.Defer). Lookups never return it.
	keyDeferred
)

// Exported names of the key states.
const (
	KeyAbsent       = keyAbsent
	KeyPresent      = keyPresent
	KeyUnknown      = keyUnknown
	KeyValueUnknown = keyValueUnknown
)

func (s KeyState) String() string {
	return [...]string{"absent", "present", "unknown", "value-unknown", "deferred"}[s]
}

type contextEntry struct {
	lkey   string // lower case
	state  KeyState
	multi  bool // the key is multivalued (a list), even when it holds one value
	one    [1]string
	values []string // of a multivalued key
}

// A Key is a condition key name resolved once: its lower-case form and, for
// an AWS global key, the slot it has in every Context. Code that sets or
// looks up the same keys for many requests resolves them once, with KeyOf,
// and spares each request the resolution.
type Key struct {
	lkey string // lower case
	slot int    // 1 + the index into Context.global; 0 for other keys (and the zero Key)
}

// KeyOf resolves a key name, spelled in any case.
func KeyOf(name string) Key {
	if e := &globalKeySlots[globalKeySlot(name)]; e.name == name && name != "" {
		return e.key
	}
	return keyOfLower(strings.ToLower(name))
}

// keyOfLower resolves a lower-case key name.
func keyOfLower(lkey string) Key {
	return Key{lkey: lkey, slot: globalSlotOf[lkey]}
}

// String returns the key name in lower case.
func (k Key) String() string { return k.lkey }

// Context holds the request's condition keys. Key names are case-insensitive.
// A key that was never set is absent by default; with SetDefault(KeyUnknown)
// every key not set explicitly is unknown, which is how replay treats what a
// log record does not show. Prefixes such as "aws:principaltag/" can be marked
// complete, making unset keys under them absent again.
//
// A Context is built once per request and only read during evaluation. The
// AWS global keys, which every request sets, have a slot each; the few
// other keys of a request are kept in a slice, searched linearly, rather
// than in a map.
type Context struct {
	global   [len(globalKeyNames)]contextEntry // by Key.slot-1
	set      uint64                            // bit i: global[i] is set
	entries  []contextEntry                    // the other keys
	present  [2]uint64                         // keyBit of every key in entries: most searches end here
	def      KeyState
	complete []string // lower-case prefixes under which unset keys are absent
	reads    *readLog // when set, every lookup is recorded (see Cache)
	deferred []deferral
}

// A KeySource gives the keys of a context that were deferred to it, when
// the first of them is looked up: see Context.Defer.
type KeySource interface {
	// SetKeys sets the keys of part in c with c's Set methods, as they
	// would have been set at once. It may leave some unset: they are then
	// what the context's default makes them.
	SetKeys(c *Context, part int)
}

// deferral is one part of a context whose keys a source gives.
type deferral struct {
	src     KeySource
	part    int
	globals uint64 // bit i: global[i] is one of the part's keys
	keys    []Key  // the part's keys; those ending in "/" are prefixes
	done    bool
}

// NewContext returns an empty context in which unset keys are absent.
func NewContext() *Context {
	return &Context{entries: make([]contextEntry, 0, 8)}
}

// Reset empties c for reuse, keeping its memory: the context of the next
// request. A request whose context is reset must no longer be evaluated.
func (c *Context) Reset() {
	for set := c.set; set != 0; set &= set - 1 {
		c.global[bits.TrailingZeros64(set)] = contextEntry{}
	}
	c.set = 0
	clear(c.entries)
	c.entries = c.entries[:0]
	c.present = [2]uint64{}
	c.def = keyAbsent
	c.complete = c.complete[:0]
	c.reads = nil
	clear(c.deferred)
	c.deferred = c.deferred[:0]
}

// Defer leaves keys to src: the first lookup of one of them, or of a key
// under one that ends in "/" (a prefix such as aws:RequestTag/), calls
// src.SetKeys(c, part), and every lookup after it sees what SetKeys set.
// Keys a request may not need spare it their cost: a policy set that never
// reads them never has them computed. src must give the same keys whenever
// it is called before c is reset, and nothing else may set them. keys is
// kept until c is reset. Keys fills every deferred part.
func (c *Context) Defer(src KeySource, part int, keys ...Key) {
	d := deferral{src: src, part: part, keys: keys}
	for _, k := range keys {
		if i := k.slot - 1; i >= 0 && !isPrefix(k.lkey) {
			d.globals |= 1 << i
			c.set |= 1 << i
			c.global[i] = contextEntry{lkey: k.lkey, state: keyDeferred}
		}
	}
	c.deferred = append(c.deferred, d)
}

// isPrefix reports whether a lower-case key name is a prefix of keys, such
// as aws:requesttag/.
func isPrefix(lkey string) bool { return strings.HasSuffix(lkey, "/") }

// FillDeferred has every deferred part set its keys now.
func (c *Context) FillDeferred() {
	for i := range c.deferred {
		c.fill(i)
	}
}

// fill has deferred part i set its keys, unless it did already.
func (c *Context) fill(i int) {
	d := &c.deferred[i]
	if d.done {
		return
	}
	d.done = true
	// The part's keys become unset, then set by the source.
	for set := d.globals; set != 0; set &= set - 1 {
		g := bits.TrailingZeros64(set)
		c.global[g] = contextEntry{}
		c.set &^= 1 << g
	}
	d.src.SetKeys(c, d.part)
}

// fillGlobal fills the deferred part that global key slot g belongs to.
func (c *Context) fillGlobal(g int) {
	for i := range c.deferred {
		if c.deferred[i].globals&(1<<g) != 0 {
			c.fill(i)
			return
		}
	}
	// Only Defer marks a slot deferred, for a part that claims it; were
	// none to, the slot becomes unset rather than looked up forever.
	c.global[g] = contextEntry{}
	c.set &^= 1 << g
}

// fillUnder fills the deferred parts with a prefix of lkey, and reports
// whether there was one.
func (c *Context) fillUnder(lkey string) bool {
	filled := false
	for i := range c.deferred {
		d := &c.deferred[i]
		if d.done {
			continue
		}
		for _, k := range d.keys {
			if isPrefix(k.lkey) && strings.HasPrefix(lkey, k.lkey) {
				c.fill(i)
				filled = true
				break
			}
		}
	}
	return filled
}

// SetDefault sets the state of keys that were never set: KeyAbsent or KeyUnknown.
func (c *Context) SetDefault(s KeyState) { c.def = s }

// MarkComplete declares that every key beginning with prefix that was not set
// is absent, even when the default is unknown. A prefix that is a whole key
// name marks just that key known.
func (c *Context) MarkComplete(prefix string) { c.MarkCompleteKey(KeyOf(prefix)) }

// MarkCompleteKey is MarkComplete with a prefix resolved by KeyOf.
func (c *Context) MarkCompleteKey(prefix Key) {
	c.complete = append(c.complete, prefix.lkey)
}

// entry returns the entry of k, adding it when k was not set.
func (c *Context) entry(k Key) *contextEntry {
	if i := k.slot - 1; i >= 0 {
		c.set |= 1 << i
		e := &c.global[i]
		e.lkey = k.lkey
		return e
	}
	if i := c.index(k.lkey); i >= 0 {
		return &c.entries[i]
	}
	b := keyBit(k.lkey)
	c.present[b>>6] |= 1 << (b & 63)
	c.entries = append(c.entries, contextEntry{lkey: k.lkey})
	return &c.entries[len(c.entries)-1]
}

// Set makes key present with one value (a single-valued key).
func (c *Context) Set(key, value string) { c.SetKey(KeyOf(key), value) }

// SetKey is Set with a resolved key.
func (c *Context) SetKey(k Key, value string) {
	e := c.entry(k)
	e.state, e.multi, e.values = keyPresent, false, nil
	e.one[0] = value
}

// SetList makes key present as a multivalued key with the given values
// (possibly none).
func (c *Context) SetList(key string, values []string) {
	e := c.entry(KeyOf(key))
	e.state, e.values, e.multi = keyPresent, append([]string(nil), values...), true
}

// SetListShared is SetList keeping values rather than a copy: the caller
// must not change them while the context is in use. It spares requests a
// copy of lists that outlive them, such as a snapshot's.
func (c *Context) SetListShared(key string, values []string) { c.SetListSharedKey(KeyOf(key), values) }

// SetListSharedKey is SetListShared with a resolved key.
func (c *Context) SetListSharedKey(k Key, values []string) {
	e := c.entry(k)
	e.state, e.values, e.multi = keyPresent, values, true
}

// SetAbsent records that key is known to be absent.
func (c *Context) SetAbsent(key string) { c.SetAbsentKey(KeyOf(key)) }

// SetAbsentKey is SetAbsent with a resolved key.
func (c *Context) SetAbsentKey(k Key) {
	e := c.entry(k)
	e.state, e.values = keyAbsent, nil
}

// SetUnknown records that neither the presence nor the value of key is known.
func (c *Context) SetUnknown(key string) { c.SetUnknownKey(KeyOf(key)) }

// SetUnknownKey is SetUnknown with a resolved key.
func (c *Context) SetUnknownKey(k Key) {
	e := c.entry(k)
	e.state, e.values = keyUnknown, nil
}

// SetValueUnknown records that key is present but its value is not known.
func (c *Context) SetValueUnknown(key string, multi bool) { c.SetValueUnknownKey(KeyOf(key), multi) }

// SetValueUnknownKey is SetValueUnknown with a resolved key.
func (c *Context) SetValueUnknownKey(k Key, multi bool) {
	e := c.entry(k)
	e.state, e.values, e.multi = keyValueUnknown, nil, multi
}

// lookup returns the state and values of a key.
func (c *Context) lookup(k Key) (KeyState, []string, bool) {
	if c == nil {
		return keyAbsent, nil, false
	}
	st, vals, multi, pos := c.findAt(k, -1)
	if c.reads != nil {
		c.reads.add(k, pos, st, vals, multi)
	}
	return st, vals, multi
}

// find is lookup without recording.
func (c *Context) find(k Key) (KeyState, []string, bool) {
	st, vals, multi, _ := c.findAt(k, -1)
	return st, vals, multi
}

// findAt is find that also returns the position in entries of a key other
// than a global one (-1 when not set), trying the position hint first.
func (c *Context) findAt(k Key, hint int) (KeyState, []string, bool, int) {
	var e *contextEntry
	i := -1
	if g := k.slot - 1; g >= 0 {
		if c.set&(1<<g) != 0 {
			e = &c.global[g]
			if e.state == keyDeferred {
				c.fillGlobal(g)
				return c.findAt(k, hint)
			}
		}
	} else {
		i = hint
		if i < 0 || i >= len(c.entries) || c.entries[i].lkey != k.lkey {
			i = c.index(k.lkey)
		}
		if i >= 0 {
			e = &c.entries[i]
		} else if len(c.deferred) > 0 && c.fillUnder(k.lkey) {
			return c.findAt(k, -1)
		}
	}
	if e != nil {
		if e.state == keyPresent && !e.multi {
			return e.state, e.one[:], false, i
		}
		return e.state, e.values, e.multi, i
	}
	if c.def == keyAbsent {
		return keyAbsent, nil, false, -1
	}
	for _, p := range c.complete {
		if strings.HasPrefix(k.lkey, p) {
			return keyAbsent, nil, false, -1
		}
	}
	return c.def, nil, false, -1
}

// State returns what is known of key.
func (c *Context) State(key string) KeyState {
	s, _, _ := c.find(KeyOf(key))
	return s
}

// Values returns the values of a present key.
func (c *Context) Values(key string) []string {
	_, v, _ := c.find(KeyOf(key))
	return v
}

// variable resolves a policy variable, named in lower case: only
// single-valued keys resolve; a multivalued key behaves like a missing one.
func (c *Context) variable(lkey string) (string, KeyState) {
	st, vals, multi := c.lookup(keyOfLower(lkey))
	if st != keyPresent {
		return "", st
	}
	if multi || len(vals) != 1 {
		return "", keyAbsent
	}
	return vals[0], keyPresent
}

// Keys lists the keys set explicitly, in lower case, sorted, with the
// deferred ones filled first.
func (c *Context) Keys() []string {
	c.FillDeferred()
	out := make([]string, 0, len(c.entries)+bits.OnesCount64(c.set))
	for set := c.set; set != 0; set &= set - 1 {
		out = append(out, c.global[bits.TrailingZeros64(set)].lkey)
	}
	for i := range c.entries {
		out = append(out, c.entries[i].lkey)
	}
	sort.Strings(out)
	return out
}

// index returns the position of a lower-case key in entries, or -1.
func (c *Context) index(lkey string) int {
	b := keyBit(lkey)
	if c.present[b>>6]&(1<<(b&63)) == 0 {
		return -1
	}
	for i := range c.entries {
		if c.entries[i].lkey == lkey {
			return i
		}
	}
	return -1
}

// keyBit hashes a key name to one of 128 bits. Global keys share the
// "aws:" prefix, so the hash takes the length and bytes near the end.
func keyBit(lkey string) uint {
	n := len(lkey)
	if n == 0 {
		return 0
	}
	h := uint(n)*0x9e + uint(lkey[n-1])*0x3d + uint(lkey[n/2])*0x11 + uint(lkey[(3*n)/4])
	return h & 127
}

// globalKeySlot hashes a key name, as spelled, into globalKeySlots.
func globalKeySlot(key string) uint8 {
	n := len(key)
	if n == 0 {
		return 0
	}
	return uint8(n + int(key[n-1])*2 + int(key[n/2])*9 + int(key[(3*n)/4])*5)
}

// globalKeySlots holds the global keys by globalKeySlot, for a lookup
// without hashing the whole name; the factors of globalKeySlot are chosen
// so that no two collide (TestKeyOf), so every global key spelled as
// documented is found there.
var globalKeySlots = func() (t [256]struct {
	name string
	key  Key
}) {
	for i, k := range globalKeyNames {
		if e := &t[globalKeySlot(k)]; e.name == "" {
			e.name, e.key = k, Key{lkey: strings.ToLower(k), slot: i + 1}
		}
	}
	return t
}()

// globalSlotOf gives the Key.slot of each global key, by its lower-case
// name.
var globalSlotOf = func() map[string]int {
	m := make(map[string]int, len(globalKeyNames))
	for i, k := range globalKeyNames {
		m[strings.ToLower(k)] = i + 1
	}
	return m
}()

// globalKeyNames are the AWS global condition keys as documented.
var globalKeyNames = [...]string{
	"aws:CalledVia", "aws:CalledViaFirst", "aws:CalledViaLast", "aws:CurrentTime", "aws:EpochTime",
	"aws:FederatedProvider", "aws:MultiFactorAuthAge", "aws:MultiFactorAuthPresent", "aws:PrincipalAccount",
	"aws:PrincipalArn", "aws:PrincipalIsAWSService", "aws:PrincipalOrgID", "aws:PrincipalOrgPaths",
	"aws:PrincipalServiceName", "aws:PrincipalServiceNamesList", "aws:PrincipalTag/", "aws:PrincipalType",
	"aws:RequestedRegion", "aws:RequestTag/", "aws:ResourceAccount", "aws:ResourceOrgID", "aws:ResourceOrgPaths",
	"aws:ResourceTag/", "aws:SecureTransport", "aws:SourceAccount", "aws:SourceArn", "aws:SourceIdentity",
	"aws:SourceIp", "aws:SourceOrgID", "aws:SourceOrgPaths", "aws:SourceVpc", "aws:SourceVpce", "aws:TagKeys",
	"aws:TokenIssueTime", "aws:UserAgent", "aws:userid", "aws:username", "aws:ViaAWSService", "aws:VpcSourceIp",
	"aws:AssumedRoot", "aws:Ec2InstanceSourceVpc", "aws:Ec2InstanceSourcePrivateIPv4", "aws:Referer",
}
