package engine

import (
	"strings"
	"unicode/utf8"
)

// segKind tells what one piece of a compiled pattern matches.
type segKind uint8

const (
	segLit  segKind = iota // literal text
	segStar                // any run of characters, possibly empty
	segOne                 // exactly one character
	segVar                 // a policy variable, resolved to literal text at evaluation
)

// seg is one piece of a compiled pattern. For segVar, s is the lower-case
// context key and def the default value (hasDef tells whether one was given).
type seg struct {
	kind   segKind
	s      string
	def    string
	hasDef bool
}

// pattern is a compiled string pattern: literals, wildcards and variables.
type pattern struct {
	segs     []seg
	hasVars  bool
	hasWild  bool
	literal  string // the whole pattern when it is one literal
	isLit    bool
	anyText  bool   // the pattern is "*": it matches every text
	prefix   string // with isPrefix, the pattern is prefix followed by "*"
	isPrefix bool
}

// compilePattern turns text into a pattern. With wild, * and ? are wildcards;
// with vars, ${key} and ${key, 'default'} are variables and ${*}, ${?}, ${$}
// stand for the literal characters. lower folds literal text to lower case.
func compilePattern(text string, wild, vars, lower bool) (pattern, error) {
	var p pattern
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			s := lit.String()
			if lower {
				s = strings.ToLower(s)
			}
			p.segs = append(p.segs, seg{kind: segLit, s: s})
			lit.Reset()
		}
	}
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case vars && c == '$' && i+1 < len(text) && text[i+1] == '{':
			end := strings.IndexByte(text[i+2:], '}')
			if end < 0 {
				return p, errorf("unterminated policy variable in %q", text)
			}
			body := text[i+2 : i+2+end]
			i += end + 3
			switch body {
			case "*", "?", "$":
				lit.WriteString(body)
				continue
			}
			key, def, hasDef, err := parseVariable(body)
			if err != nil {
				return p, err
			}
			flush()
			p.segs = append(p.segs, seg{kind: segVar, s: key, def: def, hasDef: hasDef})
			p.hasVars = true
		case wild && c == '*':
			flush()
			if n := len(p.segs); n == 0 || p.segs[n-1].kind != segStar {
				p.segs = append(p.segs, seg{kind: segStar})
			}
			p.hasWild = true
			i++
		case wild && c == '?':
			flush()
			p.segs = append(p.segs, seg{kind: segOne})
			p.hasWild = true
			i++
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	switch {
	case len(p.segs) == 0:
		p.isLit = true
	case len(p.segs) == 1 && p.segs[0].kind == segLit:
		p.isLit, p.literal = true, p.segs[0].s
	case len(p.segs) == 1 && p.segs[0].kind == segStar:
		p.anyText = true
	case len(p.segs) == 2 && p.segs[0].kind == segLit && p.segs[1].kind == segStar:
		p.isPrefix, p.prefix = true, p.segs[0].s
	}
	return p, nil
}

// parseVariable splits the body of ${...} into its key and optional default.
func parseVariable(body string) (key, def string, hasDef bool, err error) {
	key = body
	if comma := strings.IndexByte(body, ','); comma >= 0 {
		key = body[:comma]
		rest := strings.TrimSpace(body[comma+1:])
		if len(rest) < 2 || rest[0] != '\'' || rest[len(rest)-1] != '\'' {
			return "", "", false, errorf("policy variable ${%s}: default must be a single-quoted literal", body)
		}
		def, hasDef = rest[1:len(rest)-1], true
	}
	key = strings.TrimSpace(key)
	if key == "" {
		return "", "", false, errorf("empty policy variable ${%s}", body)
	}
	return strings.ToLower(key), def, hasDef, nil
}

// matchSegs reports whether text matches the resolved segments (no segVar left).
// It is the classic wildcard match with backtracking to the last star, which is
// complete because only the most recent star ever needs to take more text.
func matchSegs(segs []seg, text string) bool { return matchSegsCase(segs, text, false) }

// matchSegsFold is matchSegs for lower-case patterns against text of any
// case, comparing ASCII letters case-insensitively (action names).
func matchSegsFold(segs []seg, text string) bool { return matchSegsCase(segs, text, true) }

func matchSegsCase(segs []seg, text string, fold bool) bool {
	si, ti := 0, 0
	starSi, starTi := -1, 0
	for {
		if si < len(segs) {
			s := segs[si]
			switch s.kind {
			case segStar:
				starSi, starTi = si, ti
				si++
				continue
			case segOne:
				if ti < len(text) {
					_, w := utf8.DecodeRuneInString(text[ti:])
					ti += w
					si++
					continue
				}
			case segLit:
				if hasPrefixCase(text[ti:], s.s, fold) {
					ti += len(s.s)
					si++
					continue
				}
			}
		} else if ti == len(text) {
			return true
		}
		if starSi < 0 || starTi >= len(text) {
			return false
		}
		_, w := utf8.DecodeRuneInString(text[starTi:])
		starTi += w
		si, ti = starSi+1, starTi
	}
}

// hasPrefixCase is strings.HasPrefix, or with fold an ASCII case-insensitive
// test against a lower-case prefix.
func hasPrefixCase(s, prefix string, fold bool) bool {
	if len(s) < len(prefix) {
		return false
	}
	if !fold {
		return s[:len(prefix)] == prefix
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// equalFoldASCII compares s with a lower-case string, ASCII case-insensitively.
func equalFoldASCII(s, lower string) bool {
	return len(s) == len(lower) && hasPrefixCase(s, lower, true)
}

// maxResolvedSegs bounds the segments resolved on the stack; longer patterns
// fall back to a heap slice.
const maxResolvedSegs = 24

// match evaluates the pattern against text, resolving variables from ctx.
// A variable whose key is unknown makes the result Unknown; a variable whose
// key is absent and has no default makes the pattern match nothing.
func (p *pattern) match(text string, ctx *Context) Tri {
	switch {
	case p.isLit:
		return triOf(p.literal == text)
	case p.anyText:
		return True
	case p.isPrefix:
		return triOf(len(text) >= len(p.prefix) && text[:len(p.prefix)] == p.prefix)
	}
	if !p.hasVars {
		return triOf(matchSegs(p.segs, text))
	}
	var buf [maxResolvedSegs]seg
	segs, st := p.resolve(buf[:0], ctx)
	if st != True {
		return st
	}
	return triOf(matchSegs(segs, text))
}

// resolve replaces variables by their values as literal segments. It returns
// False when a variable cannot be resolved and Unknown when its key is unknown.
func (p *pattern) resolve(dst []seg, ctx *Context) ([]seg, Tri) {
	for _, s := range p.segs {
		if s.kind != segVar {
			dst = append(dst, s)
			continue
		}
		v, st := ctx.variable(s.s)
		switch st {
		case keyUnknown, keyValueUnknown:
			return nil, Unknown
		case keyAbsent:
			if !s.hasDef {
				return nil, False
			}
			v = s.def
		}
		if v != "" {
			dst = append(dst, seg{kind: segLit, s: v})
		}
	}
	return dst, True
}

// equal compares text with a pattern compiled without wildcards (for the
// equality operators, where * and ? are not special), resolving variables.
func (p *pattern) equal(text string, ctx *Context, fold bool) Tri {
	if !p.hasVars {
		// Without variables such a pattern is one literal.
		if fold {
			return triOf(strings.EqualFold(p.literal, text))
		}
		return triOf(p.literal == text)
	}
	var buf [maxResolvedSegs]seg
	segs, st := p.resolve(buf[:0], ctx)
	if st != True {
		return st
	}
	rest := text
	for _, sg := range segs {
		n := len(sg.s)
		if fold {
			// Compare rune by rune so that folding may change byte lengths.
			var ok bool
			rest, ok = cutPrefixFold(rest, sg.s)
			if !ok {
				return False
			}
			continue
		}
		if len(rest) < n || rest[:n] != sg.s {
			return False
		}
		rest = rest[n:]
	}
	return triOf(rest == "")
}

// cutPrefixFold removes prefix from s under simple Unicode case folding.
func cutPrefixFold(s, prefix string) (string, bool) {
	for prefix != "" {
		if s == "" {
			return s, false
		}
		pr, pw := utf8.DecodeRuneInString(prefix)
		sr, sw := utf8.DecodeRuneInString(s)
		if pr != sr && !strings.EqualFold(prefix[:pw], s[:sw]) {
			return s, false
		}
		prefix, s = prefix[pw:], s[sw:]
	}
	return s, true
}
