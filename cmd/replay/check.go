package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/replay-iam/replay/engine/casefile"
)

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := newFlagSet("check", "[--divergences FILE] [--quiet] FILE|DIR...", stderr)
	divPath := fset.String("divergences", "", "JSON list of {name, reason}: cases whose expected answer replay knowingly does not give")
	quiet := fset.Bool("quiet", false, "print only failing cases and the totals")
	if err := parseFlags(fset, args); err != nil {
		return err
	}
	if fset.NArg() == 0 {
		fset.Usage()
		return errUsage
	}
	var div casefile.Divergences
	if *divPath != "" {
		var err error
		if div, err = casefile.LoadDivergences(*divPath); err != nil {
			return err
		}
	}
	files, err := caseFiles(fset.Args())
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	var passed, failed, diverged int
	seen := map[string]bool{}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		cases, err := casefile.Load(f)
		if err != nil {
			return err
		}
		for _, c := range cases {
			r := casefile.Run(c)
			seen[c.Name] = true
			div.Apply(&r)
			switch {
			case !r.Pass:
				failed++
			case r.Divergence != "":
				diverged++
				passed++
			default:
				passed++
			}
			if *quiet && r.Pass {
				continue
			}
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
	}
	var missing []string
	for name := range div {
		if !seen[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	for _, name := range missing {
		fmt.Fprintf(stderr, "replay check: divergence %q names no case that was run\n", name)
	}
	if diverged > 0 {
		fmt.Fprintf(stdout, "%d of the passed cases are documented divergences\n", diverged)
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 || len(missing) > 0 {
		return errFailed
	}
	return nil
}

// caseFiles expands directories into the .json files below them, sorted.
func caseFiles(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(p, ".json") {
				out = append(out, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(out)
	return out, nil
}
