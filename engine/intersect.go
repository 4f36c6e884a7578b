package engine

import "strings"

// Requests whose resource is itself a pattern (such as arn:aws:s3:::bucket/*)
// ask whether the action is allowed on some resource the pattern names. An
// Allow then needs its Resource to overlap the request's pattern, and a Deny
// applies only when its Resource covers all of it.

// globTok is one character-level token of a glob.
type globTok struct {
	r    rune
	kind segKind // segLit, segStar or segOne
}

func tokens(segs []seg) []globTok {
	var out []globTok
	for _, s := range segs {
		switch s.kind {
		case segLit:
			for _, r := range s.s {
				out = append(out, globTok{r: r, kind: segLit})
			}
		default:
			out = append(out, globTok{kind: s.kind})
		}
	}
	return out
}

// textTokens reads a request pattern: * and ? are wildcards.
func textTokens(s string) []globTok {
	out := make([]globTok, 0, len(s))
	for _, r := range s {
		switch r {
		case '*':
			out = append(out, globTok{kind: segStar})
		case '?':
			out = append(out, globTok{kind: segOne})
		default:
			out = append(out, globTok{r: r, kind: segLit})
		}
	}
	return out
}

// globsIntersect reports whether some string matches both globs.
func globsIntersect(a, b []globTok) bool {
	memo := make(map[[2]int]bool)
	var rec func(i, j int) bool
	rec = func(i, j int) bool {
		key := [2]int{i, j}
		if v, ok := memo[key]; ok {
			return v
		}
		memo[key] = false
		var r bool
		switch {
		case i == len(a) && j == len(b):
			r = true
		case i < len(a) && a[i].kind == segStar:
			r = rec(i+1, j) || (j < len(b) && rec(i, j+1))
		case j < len(b) && b[j].kind == segStar:
			r = rec(i, j+1) || (i < len(a) && rec(i+1, j))
		case i < len(a) && j < len(b):
			if a[i].kind == segOne || b[j].kind == segOne || a[i].r == b[j].r {
				r = rec(i+1, j+1)
			}
		}
		memo[key] = r
		return r
	}
	return rec(0, 0)
}

// globCovers reports whether every string matching b also matches a: a must
// match b's text with b's wildcards standing for themselves, a wildcard of b
// matched only by a star of a (a '?' of b also by a '?' of a).
func globCovers(a, b []globTok) bool {
	memo := make(map[[2]int]bool)
	var rec func(i, j int) bool
	rec = func(i, j int) bool {
		key := [2]int{i, j}
		if v, ok := memo[key]; ok {
			return v
		}
		memo[key] = false
		var r bool
		switch {
		case i == len(a):
			r = j == len(b)
		case a[i].kind == segStar:
			r = rec(i+1, j) || (j < len(b) && rec(i, j+1))
		case j == len(b):
			r = false
		case a[i].kind == segOne:
			r = b[j].kind != segStar && rec(i+1, j+1)
		default:
			r = b[j].kind == segLit && a[i].r == b[j].r && rec(i+1, j+1)
		}
		memo[key] = r
		return r
	}
	return rec(0, 0)
}

// patternRelation evaluates an ARN pattern against a request pattern: with
// cover false, whether they overlap; with cover true, whether the policy
// pattern covers the request pattern.
func (p *arnPattern) patternRelation(r *resourceRef, ctx *Context, cover bool) Tri {
	rel := globsIntersect
	if cover {
		rel = globCovers
	}
	switch {
	case p.any:
		return True
	case p.never:
		return False
	case r.arn == "*":
		// Every resource: any pattern overlaps it, only "*" covers it.
		return triOf(!cover)
	case !p.arn:
		segs, st := resolveAll(&p.whole, ctx)
		if st != True {
			return st
		}
		return triOf(rel(tokens(segs), textTokens(r.arn)))
	case !r.isARN:
		return False
	}
	for i := 0; i < 6; i++ {
		segs, st := resolveAll(&p.fields[i], ctx)
		if st != True {
			return st
		}
		text := r.fields[i]
		if i < 5 {
			text = r.lower[i]
		}
		if !rel(tokens(segs), textTokens(text)) {
			return False
		}
	}
	return True
}

func resolveAll(p *pattern, ctx *Context) ([]seg, Tri) {
	if !p.hasVars {
		return p.segs, True
	}
	return p.resolve(nil, ctx)
}

// hasWildcard reports whether s holds * or ?. Both are ASCII, and no byte
// of a multi-byte UTF-8 sequence is ASCII, so a byte search finds them.
func hasWildcard(s string) bool {
	return strings.IndexByte(s, '*') >= 0 || strings.IndexByte(s, '?') >= 0
}
