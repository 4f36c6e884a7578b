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
	key    string // as first given, for reports
	state  KeyState
	values []string
	multi  bool // the key is multivalued (a list), even when it holds one value
}

// Context holds the request's condition keys. Key names are case-insensitive.
// A key that was never set is absent by default; with SetDefault(KeyUnknown)
// every key not set explicitly is unknown, which is how replay treats what a
// log record does not show. Prefixes such as "aws:principaltag/" can be marked
// complete, making unset keys under them absent again.
//
// A Context is built once per request and only read during evaluation.
type Context struct {
	entries  map[string]*contextEntry
	def      KeyState
	complete []string // lower-case prefixes under which unset keys are absent
}

// NewContext returns an empty context in which unset keys are absent.
func NewContext() *Context {
	return &Context{entries: make(map[string]*contextEntry)}
}

// SetDefault sets the state of keys that were never set: KeyAbsent or KeyUnknown.
func (c *Context) SetDefault(s KeyState) { c.def = s }

// MarkComplete declares that every key beginning with prefix that was not set
// is absent, even when the default is unknown. A prefix that is a whole key
// name marks just that key known.
func (c *Context) MarkComplete(prefix string) {
	c.complete = append(c.complete, strings.ToLower(prefix))
}

func (c *Context) entry(key string) *contextEntry {
	lk := strings.ToLower(key)
	e := c.entries[lk]
	if e == nil {
		e = &contextEntry{key: key}
		c.entries[lk] = e
	}
	return e
}

// Set makes key present with one value (a single-valued key).
func (c *Context) Set(key, value string) {
	e := c.entry(key)
	e.state, e.values, e.multi = keyPresent, []string{value}, false
}

// SetList makes key present as a multivalued key with the given values
// (possibly none).
func (c *Context) SetList(key string, values []string) {
	e := c.entry(key)
	e.state, e.values, e.multi = keyPresent, append([]string(nil), values...), true
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
	if e := c.entries[lkey]; e != nil {
		return e.state, e.values, e.multi
	}
	if c.def == keyAbsent {
		return keyAbsent, nil, false
	}
	for _, p := range c.complete {
		if strings.HasPrefix(lkey, p) {
			return keyAbsent, nil, false
		}
	}
	return c.def, nil, false
}

// State returns what is known of key.
func (c *Context) State(key string) KeyState {
	s, _, _ := c.lookup(strings.ToLower(key))
	return s
}

// Values returns the values of a present key.
func (c *Context) Values(key string) []string {
	_, v, _ := c.lookup(strings.ToLower(key))
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

// Keys lists the keys set explicitly, sorted, as first spelled.
func (c *Context) Keys() []string {
	out := make([]string, 0, len(c.entries))
	for _, e := range c.entries {
		out = append(out, e.key)
	}
	sort.Strings(out)
	return out
}
