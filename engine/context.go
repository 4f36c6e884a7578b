package engine

import (
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
)

// Exported names of the key states.
const (
	KeyAbsent       = keyAbsent
	KeyPresent      = keyPresent
	KeyUnknown      = keyUnknown
	KeyValueUnknown = keyValueUnknown
)

func (s KeyState) String() string {
	return [...]string{"absent", "present", "unknown", "value-unknown"}[s]
}

type contextEntry struct {
	lkey   string // lower case
	state  KeyState
	multi  bool // the key is multivalued (a list), even when it holds one value
	one    [1]string
	values []string // of a multivalued key
}

// Context holds the request's condition keys. Key names are case-insensitive.
// A key that was never set is absent by default; with SetDefault(KeyUnknown)
// every key not set explicitly is unknown, which is how replay treats what a
// log record does not show. Prefixes such as "aws:principaltag/" can be marked
// complete, making unset keys under them absent again.
//
// A Context is built once per request and only read during evaluation. A
// request sets a few dozen keys, so they are kept in a slice, searched
// linearly, rather than in a map.
type Context struct {
	entries  []contextEntry
	present  [2]uint64 // keyBit of every key in entries: most searches end here
	def      KeyState
	complete []string // lower-case prefixes under which unset keys are absent
	reads    *readLog // when set, every lookup is recorded (see Cache)
}

// NewContext returns an empty context in which unset keys are absent.
func NewContext() *Context {
	return &Context{entries: make([]contextEntry, 0, 40)}
}

// Reset empties c for reuse, keeping its memory: the context of the next
// request. A request whose context is reset must no longer be evaluated.
func (c *Context) Reset() {
	clear(c.entries)
	c.entries = c.entries[:0]
	c.present = [2]uint64{}
	c.def = keyAbsent
	c.complete = c.complete[:0]
	c.reads = nil
}

// SetDefault sets the state of keys that were never set: KeyAbsent or KeyUnknown.
func (c *Context) SetDefault(s KeyState) { c.def = s }

// MarkComplete declares that every key beginning with prefix that was not set
// is absent, even when the default is unknown. A prefix that is a whole key
// name marks just that key known.
func (c *Context) MarkComplete(prefix string) {
	c.complete = append(c.complete, lowerKey(prefix))
}

func (c *Context) entry(key string) *contextEntry {
	lk := lowerKey(key)
	if i := c.index(lk); i >= 0 {
		return &c.entries[i]
	}
	b := keyBit(lk)
	c.present[b>>6] |= 1 << (b & 63)
	c.entries = append(c.entries, contextEntry{lkey: lk})
	return &c.entries[len(c.entries)-1]
}

// Set makes key present with one value (a single-valued key).
func (c *Context) Set(key, value string) {
	e := c.entry(key)
	e.state, e.multi, e.values = keyPresent, false, nil
	e.one[0] = value
}

// SetList makes key present as a multivalued key with the given values
// (possibly none).
func (c *Context) SetList(key string, values []string) {
	e := c.entry(key)
	e.state, e.values, e.multi = keyPresent, append([]string(nil), values...), true
}

// SetListShared is SetList keeping values rather than a copy: the caller
// must not change them while the context is in use. It spares requests a
// copy of lists that outlive them, such as a snapshot's.
func (c *Context) SetListShared(key string, values []string) {
	e := c.entry(key)
	e.state, e.values, e.multi = keyPresent, values, true
}

// SetAbsent records that key is known to be absent.
func (c *Context) SetAbsent(key string) {
	e := c.entry(key)
	e.state, e.values = keyAbsent, nil
}

// SetUnknown records that neither the presence nor the value of key is known.
func (c *Context) SetUnknown(key string) {
	e := c.entry(key)
	e.state, e.values = keyUnknown, nil
}

// SetValueUnknown records that key is present but its value is not known.
func (c *Context) SetValueUnknown(key string, multi bool) {
	e := c.entry(key)
	e.state, e.values, e.multi = keyValueUnknown, nil, multi
}

// lookup returns the state and values of a lower-case key.
func (c *Context) lookup(lkey string) (KeyState, []string, bool) {
	if c == nil {
		return keyAbsent, nil, false
	}
	st, vals, multi, pos := c.findAt(lkey, -1)
	if c.reads != nil {
		c.reads.add(lkey, pos, st, vals, multi)
	}
	return st, vals, multi
}

// find is lookup without recording.
func (c *Context) find(lkey string) (KeyState, []string, bool) {
	st, vals, multi, _ := c.findAt(lkey, -1)
	return st, vals, multi
}

// findAt is find that also returns the key's position in entries (-1 when
// not set), trying the position hint first.
func (c *Context) findAt(lkey string, hint int) (KeyState, []string, bool, int) {
	i := hint
	if i < 0 || i >= len(c.entries) || c.entries[i].lkey != lkey {
		i = c.index(lkey)
	}
	if i >= 0 {
		e := &c.entries[i]
		if e.state == keyPresent && !e.multi {
			return e.state, e.one[:], false, i
		}
		return e.state, e.values, e.multi, i
	}
	if c.def == keyAbsent {
		return keyAbsent, nil, false, -1
	}
	for _, p := range c.complete {
		if strings.HasPrefix(lkey, p) {
			return keyAbsent, nil, false, -1
		}
	}
	return c.def, nil, false, -1
}

// State returns what is known of key.
func (c *Context) State(key string) KeyState {
	s, _, _ := c.find(lowerKey(key))
	return s
}

// Values returns the values of a present key.
func (c *Context) Values(key string) []string {
	_, v, _ := c.find(lowerKey(key))
	return v
}

// variable resolves a policy variable: only single-valued keys resolve; a
// multivalued key behaves like a missing one.
func (c *Context) variable(lkey string) (string, KeyState) {
	st, vals, multi := c.lookup(lkey)
	if st != keyPresent {
		return "", st
	}
	if multi || len(vals) != 1 {
		return "", keyAbsent
	}
	return vals[0], keyPresent
}

// Keys lists the keys set explicitly, in lower case, sorted.
func (c *Context) Keys() []string {
	out := make([]string, 0, len(c.entries))
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

// lowerKey returns a key name in lower case. The global keys a log record
// sets are spelled in mixed case; their lower-case forms come from a table
// rather than a new string per request.
func lowerKey(key string) string {
	if e := &globalKeySlots[globalKeySlot(key)]; e.name == key {
		return e.lower
	}
	if l, ok := lowerGlobalKeys[key]; ok {
		return l
	}
	return strings.ToLower(key)
}

// globalKeySlot hashes a key name, as spelled, into globalKeySlots.
func globalKeySlot(key string) uint8 {
	n := len(key)
	if n == 0 {
		return 0
	}
	return uint8(n*31 + int(key[n-1])*7 + int(key[n/2])*3 + int(key[(3*n)/4]))
}

// globalKeySlots holds most global keys by globalKeySlot, for a lookup
// without hashing the whole name; lowerGlobalKeys has them all.
var globalKeySlots = func() (t [256]struct{ name, lower string }) {
	for _, k := range globalKeyNames {
		if e := &t[globalKeySlot(k)]; e.name == "" {
			e.name, e.lower = k, strings.ToLower(k)
		}
	}
	return t
}()

var lowerGlobalKeys = func() map[string]string {
	m := make(map[string]string, len(globalKeyNames))
	for _, k := range globalKeyNames {
		m[k] = strings.ToLower(k)
	}
	return m
}()

// globalKeyNames are the AWS global condition keys as documented.
var globalKeyNames = []string{
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
