package casefile

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/replay-iam/replay/engine"
)

// Response names used by case files.
const (
	Allowed          = "Allowed"
	ImplicitlyDenied = "ImplicitlyDenied"
	ExplicitlyDenied = "ExplicitlyDenied"
	Indeterminate    = "Indeterminate"
)

// Result is the outcome of running one case.
type Result struct {
	Name        string   `json:"name"`
	File        string   `json:"file,omitempty"`
	Decision    string   `json:"decision"`
	BlockedBy   []string `json:"blockedBy,omitempty"`
	UnknownKeys []string `json:"unknownKeys,omitempty"`
	Expected    string   `json:"expected"`
	Pass        bool     `json:"pass"`
	// Divergence holds the documented reason when the case is a known
	// divergence from the expected answer.
	Divergence string `json:"divergence,omitempty"`
	// Problem says why a case failed beyond the verdict (or an error).
	Problem string `json:"problem,omitempty"`
}

// Response maps an engine verdict onto the case-file vocabulary.
func Response(v engine.Verdict) string {
	switch v {
	case engine.VerdictAllow:
		return Allowed
	case engine.VerdictExplicitDeny:
		return ExplicitlyDenied
	case engine.VerdictImplicitDeny:
		return ImplicitlyDenied
	}
	return Indeterminate
}

// blockedNames renders the blocking policy types in the case-file vocabulary.
func blockedNames(s engine.PolicyTypes) []string {
	var out []string
	for _, t := range s.List() {
		out = append(out, caseTypeName(t))
	}
	return out
}

func caseTypeName(t engine.PolicyType) string {
	if t == engine.PolicyBoundary {
		return "pb"
	}
	return t.String()
}

// Run evaluates one case and compares the result with its expectation.
//
// In Discovery mode (keys not listed are unknown) the expected response is
// the most permissive outcome that the unknown keys allow, so Allowed is met
// by Allow and by Indeterminate.
func Run(c *Case) Result {
	r := Result{Name: c.Name, File: c.File, Expected: c.Expected.Response}
	req, ps, err := c.Build()
	if err != nil {
		r.Decision, r.Problem = "error", err.Error()
		return r
	}
	d := engine.Authorize(req, ps)
	r.Decision = Response(d.Verdict)
	if d.Verdict != engine.VerdictAllow {
		r.BlockedBy = blockedNames(d.Blocked)
	}
	r.UnknownKeys = d.UnknownKeys()
	r.Pass = r.Decision == c.Expected.Response
	if !r.Pass && c.Discovery() && c.Expected.Response == Allowed && d.Verdict == engine.VerdictIndeterminate {
		r.Pass = true
	}
	if !r.Pass {
		r.Problem = fmt.Sprintf("decision %s, expected %s", r.Decision, c.Expected.Response)
		return r
	}
	if len(c.Expected.BlockedBy) > 0 && !sameSet(c.Expected.BlockedBy, r.BlockedBy) {
		r.Pass = false
		r.Problem = fmt.Sprintf("blocked by %v, expected %v", r.BlockedBy, c.Expected.BlockedBy)
	}
	if c.Expected.Response == Indeterminate && len(c.Expected.UnknownKeys) > 0 && !sameSet(c.Expected.UnknownKeys, r.UnknownKeys) {
		r.Pass = false
		r.Problem = fmt.Sprintf("unknown keys %v, expected %v", r.UnknownKeys, c.Expected.UnknownKeys)
	}
	return r
}

func sameSet(a, b []string) bool {
	norm := func(s []string) string {
		c := make([]string, len(s))
		for i, x := range s {
			c[i] = strings.ToLower(x)
			if t, ok := engine.ParsePolicyType(x); ok {
				c[i] = caseTypeName(t)
			}
		}
		sort.Strings(c)
		return strings.Join(c, ",")
	}
	return norm(a) == norm(b)
}

// Divergences maps case names to the documented reason why replay's answer
// differs from the case's expected answer.
type Divergences map[string]string

// LoadDivergences reads a JSON object {case name: reason}.
func LoadDivergences(path string) (Divergences, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var entries []struct {
		Name   string `json:"name"`
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal(data, &entries); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	d := make(Divergences, len(entries))
	for _, e := range entries {
		if e.Reason == "" {
			return nil, fmt.Errorf("%s: divergence %q has no reason", path, e.Name)
		}
		d[e.Name] = e.Reason
	}
	return d, nil
}

// Apply marks a result that is a documented divergence. A documented
// divergence that no longer diverges fails, so that the list stays true.
func (d Divergences) Apply(r *Result) {
	reason, ok := d[r.Name]
	if !ok {
		return
	}
	r.Divergence = reason
	if r.Pass {
		r.Pass = false
		r.Problem = "listed as a divergence but now agrees with the expected answer; remove it from the list"
		return
	}
	r.Pass = true
}
