package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/replay-iam/replay/engine"
	"github.com/replay-iam/replay/engine/casefile"
)

func runExplain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := newFlagSet("explain", "--case NAME FILE", stderr)
	name := fset.String("case", "", "name of the case to explain (default: the file's only case)")
	if err := parseFlags(fset, args); err != nil {
		return err
	}
	if fset.NArg() != 1 {
		fset.Usage()
		return errUsage
	}
	cases, err := casefile.Load(fset.Arg(0))
	if err != nil {
		return err
	}
	var c *casefile.Case
	for _, x := range cases {
		if *name == "" && len(cases) == 1 || x.Name == *name {
			c = x
			break
		}
	}
	if c == nil {
		return fmt.Errorf("%s: no case named %q (the file has %d cases)", fset.Arg(0), *name, len(cases))
	}
	req, ps, err := c.Build()
	if err != nil {
		return fmt.Errorf("case %q: %w", c.Name, err)
	}
	d, tr := engine.AuthorizeTrace(req, ps)
	fmt.Fprintf(stdout, "request: %s %s on %s (resource account %s)\n", req.Principal.ARN, req.Action, req.Resource, req.ResourceAccount)
	writeTrace(stdout, tr)
	fmt.Fprintf(stdout, "decision: %s\n", d.Verdict)
	fmt.Fprintf(stdout, "because: %s\n", d.Explain())
	if d.Blocked != 0 {
		fmt.Fprintf(stdout, "not allowed by: %s\n", d.Blocked)
	}
	return nil
}

func writeTrace(w io.Writer, tr *engine.Trace) {
	for _, s := range tr.Steps {
		where := s.PolicyType.String()
		if s.OrgLevel != "" {
			where += "@" + s.OrgLevel
		}
		fmt.Fprintf(w, "  %-14s %s statement %s (%s): ", where, s.PolicyID, s.Statement, s.Effect)
		if !s.Action {
			fmt.Fprintln(w, "action does not match")
			continue
		}
		var parts []string
		parts = append(parts, "resource "+s.Resource.String())
		if s.Principal != "" {
			parts = append(parts, "principal "+s.Principal)
		}
		for _, c := range s.Conditions {
			p := fmt.Sprintf("%s %s (%s", c.Operator, c.Key, c.KeyState)
			if len(c.Values) > 0 {
				p += " " + strings.Join(c.Values, ",")
			}
			parts = append(parts, p+") "+c.Result.String())
		}
		fmt.Fprintf(w, "%s => %s\n", strings.Join(parts, "; "), s.Result)
	}
}
