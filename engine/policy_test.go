package engine

import (
	"errors"
	"strings"
	"testing"
)

func TestParseOperatorNames(t *testing.T) {
	// Every operator IAM documents, each with the qualifiers and suffix it
	// takes: a misspelt name in the table would make one of these fail.
	base := []string{
		"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
		"StringLike", "StringNotLike", "NumericEquals", "NumericNotEquals", "NumericLessThan",
		"NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals",
		"DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals",
		"Bool", "BinaryEquals", "IpAddress", "NotIpAddress", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike",
	}
	if got := len(OperatorNames()); got != len(base)+1 {
		t.Errorf("operator table has %d operators, want %d", got, len(base)+1)
	}
	for _, name := range base {
		for _, q := range []string{"", "ForAnyValue:", "ForAllValues:"} {
			for _, suffix := range []string{"", "IfExists"} {
				full := q + name + suffix
				qual, op, ifExists, ok := parseOperator(full)
				if !ok {
					t.Errorf("%s: not recognised", full)
					continue
				}
				if !strings.EqualFold(op.name, name) || ifExists != (suffix != "") ||
					(q == "ForAnyValue:") != (qual == qualAnyValue) || (q == "ForAllValues:") != (qual == qualAllValues) {
					t.Errorf("%s: parsed as %v %s ifExists=%v", full, qual, op.name, ifExists)
				}
			}
		}
	}
	if _, op, _, ok := parseOperator("Null"); !ok || op.family != famNull {
		t.Error("Null not recognised")
	}
	for _, bad := range []string{"NullIfExists", "ForAnyValues:StringEquals", "ForAllValue:StringEquals", "StringEqual",
		"StringLikeIgnoreCase", "Foo:StringEquals", "StringEqualsIfExistsIfExists", ""} {
		if _, _, _, ok := parseOperator(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
	// Case does not matter.
	if _, op, ifExists, ok := parseOperator("forAnyValue:stringequalsifexists"); !ok || op.name != "StringEquals" || !ifExists {
		t.Error("lower-case operator not recognised")
	}
}

func TestParsePolicyErrors(t *testing.T) {
	tests := []struct {
		name, doc, path, msg string
	}{
		{"not JSON", `{"Statement": [`, "$.Statement", "invalid JSON"},
		{"trailing data", `{"Statement": {"Effect":"Allow","Action":"*","Resource":"*"}} x`, "$", "unexpected data"},
		{"not an object", `[]`, "$", "must be a JSON object"},
		{"bad version", `{"Version":"2012-10-18","Statement":[]}`, "$.Version", "Version must be"},
		{"unknown element", `{"Statement":[],"Foo":1}`, "$.Foo", "unknown policy element"},
		{"no statement", `{"Version":"2012-10-17"}`, "$", "no Statement"},
		{"bad effect", `{"Statement":[{"Effect":"allow","Action":"*","Resource":"*"}]}`, "$.Statement[0].Effect", "Effect must be"},
		{"no effect", `{"Statement":[{"Action":"*","Resource":"*"}]}`, "$.Statement[0]", "no Effect"},
		{"action and notaction", `{"Statement":[{"Effect":"Allow","Action":"*","NotAction":"s3:*","Resource":"*"}]}`, "$.Statement[0].NotAction", "exactly one of Action"},
		{"no action", `{"Statement":[{"Effect":"Allow","Resource":"*"}]}`, "$.Statement[0]", "neither Action"},
		{"no resource", `{"Statement":[{"Effect":"Allow","Action":"*"}]}`, "$.Statement[0]", "neither Resource"},
		{"action not a string", `{"Statement":[{"Effect":"Allow","Action":3,"Resource":"*"}]}`, "$.Statement[0].Action", "string or an array"},
		{"action without service", `{"Statement":[{"Effect":"Allow","Action":"GetObject","Resource":"*"}]}`, "$.Statement[0].Action", "invalid action"},
		{"duplicate key", `{"Statement":[{"Effect":"Allow","Effect":"Deny","Action":"*","Resource":"*"}]}`, "$.Statement[0]", "duplicate key"},
		{"unknown operator", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqualz":{"a":"b"}}}]}`, "$.Statement[0].Condition.StringEqualz", "unknown condition operator"},
		{"condition value object", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"a":{"b":1}}}}]}`, "$.Statement[0].Condition.StringEquals.a", "string, number or boolean"},
		{"bad Null value", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Null":{"a":"maybe"}}}]}`, "$.Statement[0].Condition.Null.a[0]", "Null takes"},
		{"unterminated variable", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/${aws:username"}]}`, "$.Statement[0].Resource", "unterminated policy variable"},
		{"bad default", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/${aws:username, x}"}]}`, "$.Statement[0].Resource", "single-quoted"},
		{"unknown principal type", `{"Statement":[{"Effect":"Allow","Principal":{"Person":"x"},"Action":"*","Resource":"*"}]}`, "$.Statement[0].Principal.Person", "unknown principal type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ := PolicyIdentity
			if strings.Contains(tt.doc, "Principal") {
				typ = PolicyResource
			}
			_, err := ParsePolicy("pol-1", typ, []byte(tt.doc))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrMalformedPolicy) {
				t.Errorf("error %v is not ErrMalformedPolicy", err)
			}
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *PolicyError", err)
			}
			if pe.PolicyID != "pol-1" || pe.Path != tt.path || !strings.Contains(pe.Msg, tt.msg) {
				t.Errorf("got %v (path %s); want path %s and a message with %q", err, pe.Path, tt.path, tt.msg)
			}
			if pe.Offset <= 0 && tt.path != "$" {
				t.Errorf("offset %d: want the position of the fault", pe.Offset)
			}
		})
	}
}

// TestConditionValueWarnings checks that a condition value its operator
// cannot read (not a number, a date, an IP range or base64) is named, by
// its path, in the policy's warnings, and that readable values are not.
func TestConditionValueWarnings(t *testing.T) {
	tests := []struct {
		condition string
		warning   string // "" for none
	}{
		{`{"NumericLessThan":{"aws:MultiFactorAuthAge":["3600","x"]}}`, `$.Statement[0].Condition.NumericLessThan.aws:MultiFactorAuthAge[1]: "x" is not a number`},
		{`{"NumericNotEqualsIfExists":{"s3:max-keys":"10.5"}}`, ""},
		{`{"DateGreaterThan":{"aws:CurrentTime":"yesterday"}}`, `$.Statement[0].Condition.DateGreaterThan.aws:CurrentTime[0]: "yesterday" is not a date`},
		{`{"DateLessThan":{"aws:CurrentTime":"1700000000"}}`, ""},
		{`{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/33"}}`, `$.Statement[0].Condition.NotIpAddress.aws:SourceIp[0]: "10.0.0.0/33" is not an IP address or range`},
		{`{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}`, ""},
		{`{"BinaryEquals":{"aws:UserAgent":"%%%"}}`, `is not base64`},
		{`{"StringEquals":{"aws:username":"x"}}`, ""},
	}
	for _, tt := range tests {
		doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":` + tt.condition + `}]}`
		p, err := ParsePolicy("id", PolicyIdentity, []byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", tt.condition, err)
		}
		switch {
		case tt.warning == "" && len(p.Warnings) > 0:
			t.Errorf("%s: warnings %q, want none", tt.condition, p.Warnings)
		case tt.warning != "" && (len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], tt.warning)):
			t.Errorf("%s: warnings %q, want one with %q", tt.condition, p.Warnings, tt.warning)
		}
	}
}

func TestPolicyWarnings(t *testing.T) {
	p, err := ParsePolicy("id", PolicyIdentity, []byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "Principal is not allowed") {
		t.Errorf("warnings %q", p.Warnings)
	}
	if len(p.Statements) != 1 || p.Statements[0].hasPrincipal {
		t.Error("the Principal of an identity policy must be ignored")
	}
}

func TestTri(t *testing.T) {
	vals := []Tri{False, True, Unknown}
	and := [3][3]Tri{{False, False, False}, {False, True, Unknown}, {False, Unknown, Unknown}}
	or := [3][3]Tri{{False, True, Unknown}, {True, True, True}, {Unknown, True, Unknown}}
	for i, a := range vals {
		for j, b := range vals {
			if got := a.And(b); got != and[i][j] {
				t.Errorf("%v AND %v = %v, want %v", a, b, got, and[i][j])
			}
			if got := a.Or(b); got != or[i][j] {
				t.Errorf("%v OR %v = %v, want %v", a, b, got, or[i][j])
			}
		}
	}
	if False.Not() != True || True.Not() != False || Unknown.Not() != Unknown {
		t.Error("Not")
	}
}

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, text string
		want          bool
	}{
		{"*", "", true},
		{"*", "abc", true},
		{"a*", "abc", true},
		{"a*c", "abc", true},
		{"a*c", "abcd", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"*b*", "abc", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXcYb", false},
		{"é?", "éü", true},
		{"abc", "ABC", false},
		{"", "", true},
		{"**", "x", true},
	}
	for _, tt := range tests {
		p, err := compilePattern(tt.pattern, true, false, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.match(tt.text, nil) == True; got != tt.want {
			t.Errorf("%q ~ %q = %v, want %v", tt.pattern, tt.text, got, tt.want)
		}
	}
}

func TestGlobIntersectAndCover(t *testing.T) {
	tests := []struct {
		a, b             string
		intersect, cover bool // cover: a covers b
	}{
		{"*", "x*", true, true},
		{"x*", "*", true, false},
		{"a*/logs/*", "a-bucket/*", true, false},
		{"b/private/*", "b/*", true, false},
		{"b/*", "b/private/*", true, true},
		{"b/public/*", "b/private/*", false, false},
		{"a?c", "abc", true, true},
		{"abc", "a?c", true, false},
	}
	for _, tt := range tests {
		pa, _ := compilePattern(tt.a, true, false, false)
		if got := globsIntersect(tokens(pa.segs), textTokens(tt.b)); got != tt.intersect {
			t.Errorf("intersect(%q, %q) = %v", tt.a, tt.b, got)
		}
		if got := globCovers(tokens(pa.segs), textTokens(tt.b)); got != tt.cover {
			t.Errorf("covers(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}

// TestStatementRef checks that a statement is named by its Sid, or else by
// its index, within the table of first indexes and beyond it.
func TestStatementRef(t *testing.T) {
	for _, tt := range []struct {
		sid   string
		index int
		want  string
	}{
		{"ReadOnly", 3, "ReadOnly"}, {"", 0, "#0"}, {"", 7, "#7"}, {"", 63, "#63"}, {"", 64, "#64"}, {"", 1000, "#1000"},
	} {
		st := &Statement{Sid: tt.sid, Index: tt.index}
		if got := st.Ref(); got != tt.want {
			t.Errorf("Sid %q index %d: Ref %q, want %q", tt.sid, tt.index, got, tt.want)
		}
	}
	if got := (*Statement)(nil).Ref(); got != "" {
		t.Errorf("nil statement: Ref %q", got)
	}
}
