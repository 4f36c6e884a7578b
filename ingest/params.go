package ingest

import (
	"io"
	"strings"

	gojson "github.com/goccy/go-json"
)

// requestParams are the string-valued members of a record's
// requestParameters, the names a resource template's variables look up.
// Members of objects nested one level deep count too; a name given at the
// top level wins over nested ones. Names compare case-insensitively.
//
// The parameters are read in document order, so that a name given twice
// resolves the same way every time: at the top level, the last member
// wins, as when decoding into a map; among nested objects, the first.
//
// Values without escapes are slices of one string holding the parameters.
type requestParams struct {
	top    []param // top-level string members
	nested []param // string members of top-level objects
}

// param is one string member, its name as spelled.
type param struct{ name, value string }

// parse reads raw into p, reusing p's memory. Parameters that are not one
// well-formed JSON object give no members.
func (p *requestParams) parse(raw []byte) {
	p.top, p.nested = p.top[:0], p.nested[:0]
	if len(raw) == 0 {
		return
	}
	text := string(raw)
	s := scanner{buf: raw, end: len(raw), err: io.EOF, max: len(raw) + 1}
	ok := p.object(&s, text, &p.top, true)
	if ok {
		_, err := s.peek()
		ok = err == io.EOF
	}
	if !ok {
		p.top, p.nested = p.top[:0], p.nested[:0]
	}
}

// object reads an object's members at s, adding its string members to
// dst and, when nest is set, those of its object members to p.nested.
// text is the scanned bytes as a string.
func (p *requestParams) object(s *scanner, text string, dst *[]param, nest bool) bool {
	if _, err := s.expect("{", "an object"); err != nil {
		return false
	}
	if c, err := s.peek(); err != nil {
		return false
	} else if c == '}' {
		s.pos++
		return true
	}
	for {
		if _, err := s.peek(); err != nil {
			return false
		}
		at := s.pos // the key's opening quote
		k, err := s.key()
		if err != nil {
			return false
		}
		name, ok := jsonString(text[at+1 : at+1+len(k)])
		if !ok {
			return false
		}
		c, err := s.peek()
		if err != nil {
			return false
		}
		if c == '{' && nest {
			if !p.object(s, text, &p.nested, false) {
				return false
			}
		} else {
			at = s.pos
			v, _, err := s.value()
			if err != nil {
				return false
			}
			if c == '"' {
				value, ok := jsonString(text[at+1 : at+len(v)-1])
				if !ok {
					return false
				}
				*dst = append(*dst, param{name: name, value: value})
			}
		}
		c, err = s.expect(",}", "a comma or the end of an object")
		if err != nil {
			return false
		}
		if c == '}' {
			return true
		}
	}
}

// jsonString returns the string that body, a JSON string without its
// quotes, spells: body itself when it holds no escape.
func jsonString(body string) (string, bool) {
	if strings.IndexByte(body, '\\') < 0 {
		return body, true
	}
	var out string
	if gojson.Unmarshal([]byte(`"`+body+`"`), &out) != nil {
		return "", false
	}
	return out, true
}

// get returns the value of the member named lname (lower case), "" when
// there is none.
func (p *requestParams) get(lname string) string {
	for i := len(p.top) - 1; i >= 0; i-- {
		if strings.EqualFold(p.top[i].name, lname) {
			return p.top[i].value
		}
	}
	for i := range p.nested {
		if strings.EqualFold(p.nested[i].name, lname) {
			return p.nested[i].value
		}
	}
	return ""
}

// values calls fn with the value of every name, as get returns it, in
// document order: top-level names first.
func (p *requestParams) values(fn func(string)) {
	for i := range p.top {
		if !hasName(p.top[i+1:], p.top[i].name) {
			fn(p.top[i].value)
		}
	}
	for i := range p.nested {
		if !hasName(p.top, p.nested[i].name) && !hasName(p.nested[:i], p.nested[i].name) {
			fn(p.nested[i].value)
		}
	}
}

// hasName reports whether a member of ps has name, in any case.
func hasName(ps []param, name string) bool {
	for i := range ps {
		if strings.EqualFold(ps[i].name, name) {
			return true
		}
	}
	return false
}
