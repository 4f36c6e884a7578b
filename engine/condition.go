package engine

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

// opFamily is the comparison a condition operator performs.
type opFamily uint8

const (
	famString opFamily = iota
	famStringFold
	famStringLike
	famNumeric
	famDate
	famBool
	famBinary
	famIP
	famARN
	famNull
)

// valueKind names what the policy values of the family's operators must
// be, for the warning about one that is not.
func (f opFamily) valueKind() string {
	switch f {
	case famNumeric:
		return "a number"
	case famDate:
		return "a date"
	case famIP:
		return "an IP address or range"
	case famBinary:
		return "base64"
	}
	return "valid"
}

// cmpKind is the ordering test of numeric and date operators.
type cmpKind uint8

const (
	cmpEq cmpKind = iota
	cmpLt
	cmpLe
	cmpGt
	cmpGe
)

// operator is one entry of the operator table.
type operator struct {
	name    string
	family  opFamily
	negated bool
	cmp     cmpKind
	vars    bool // policy variables are substituted in its values
}

// operators is the table of every condition operator IAM defines, keyed by
// lower-case name. Qualifiers (ForAnyValue:, ForAllValues:) and the IfExists
// suffix are parsed around these names.
var operators = func() map[string]*operator {
	list := []operator{
		{name: "StringEquals", family: famString, vars: true},
		{name: "StringNotEquals", family: famString, negated: true, vars: true},
		{name: "StringEqualsIgnoreCase", family: famStringFold, vars: true},
		{name: "StringNotEqualsIgnoreCase", family: famStringFold, negated: true, vars: true},
		{name: "StringLike", family: famStringLike, vars: true},
		{name: "StringNotLike", family: famStringLike, negated: true, vars: true},
		{name: "NumericEquals", family: famNumeric, cmp: cmpEq},
		{name: "NumericNotEquals", family: famNumeric, cmp: cmpEq, negated: true},
		{name: "NumericLessThan", family: famNumeric, cmp: cmpLt},
		{name: "NumericLessThanEquals", family: famNumeric, cmp: cmpLe},
		{name: "NumericGreaterThan", family: famNumeric, cmp: cmpGt},
		{name: "NumericGreaterThanEquals", family: famNumeric, cmp: cmpGe},
		{name: "DateEquals", family: famDate, cmp: cmpEq},
		{name: "DateNotEquals", family: famDate, cmp: cmpEq, negated: true},
		{name: "DateLessThan", family: famDate, cmp: cmpLt},
		{name: "DateLessThanEquals", family: famDate, cmp: cmpLe},
		{name: "DateGreaterThan", family: famDate, cmp: cmpGt},
		{name: "DateGreaterThanEquals", family: famDate, cmp: cmpGe},
		{name: "Bool", family: famBool, vars: true},
		{name: "BinaryEquals", family: famBinary},
		{name: "IpAddress", family: famIP},
		{name: "NotIpAddress", family: famIP, negated: true},
		{name: "ArnEquals", family: famARN, vars: true},
		{name: "ArnLike", family: famARN, vars: true},
		{name: "ArnNotEquals", family: famARN, negated: true, vars: true},
		{name: "ArnNotLike", family: famARN, negated: true, vars: true},
		{name: "Null", family: famNull},
	}
	m := make(map[string]*operator, len(list))
	for i := range list {
		m[strings.ToLower(list[i].name)] = &list[i]
	}
	return m
}()

// qualifier is a set operator prefix.
type qualifier uint8

const (
	qualNone qualifier = iota
	qualAnyValue
	qualAllValues
)

// condValue is one compiled policy value of a condition.
type condValue struct {
	text string
	pat  pattern // string, like and bool families
	arn  arnPattern
	num  float64
	when time.Time
	ip   netip.Prefix
	bin  []byte
	null bool // Null: true means "the key is absent"
	ok   bool // false when the value cannot be read for its family: it never matches
}

// condition is one (operator, key) pair of a Condition block.
type condition struct {
	opText   string // the operator as written
	op       *operator
	qual     qualifier
	ifExists bool
	key      Key
	keyText  string // as written
	values   []condValue
}

// parseOperator splits an operator name into qualifier, base operator and IfExists.
func parseOperator(name string) (qualifier, *operator, bool, bool) {
	rest := name
	q := qualNone
	if i := strings.IndexByte(rest, ':'); i >= 0 {
		switch strings.ToLower(rest[:i]) {
		case "foranyvalue":
			q = qualAnyValue
		case "forallvalues":
			q = qualAllValues
		default:
			return 0, nil, false, false
		}
		rest = rest[i+1:]
	}
	lower := strings.ToLower(rest)
	ifExists := false
	if op, ok := operators[lower]; ok {
		return q, op, false, true
	}
	if strings.HasSuffix(lower, "ifexists") {
		lower = strings.TrimSuffix(lower, "ifexists")
		ifExists = true
	}
	op, ok := operators[lower]
	if !ok || (ifExists && op.family == famNull) {
		return 0, nil, false, false
	}
	return q, op, ifExists, true
}

// compileConditions compiles a Condition block. A value its operator
// cannot read (not a number, a date, an IP range or base64) is kept, equals
// no request value, and is named in warnings.
func compileConditions(v *jsonValue, path string, vars bool, warnings *[]string) ([]condition, error) {
	if v.kind != jsonObject {
		return nil, fault(v, path, "Condition must be an object, not %s", v.kind)
	}
	var out []condition
	for i, opName := range v.keys {
		block := v.items[i]
		opPath := path + "." + opName
		q, op, ifExists, ok := parseOperator(opName)
		if !ok {
			return nil, fault(block, opPath, "unknown condition operator %q", opName)
		}
		if block.kind != jsonObject {
			return nil, fault(block, opPath, "condition operator block must be an object, not %s", block.kind)
		}
		for j, key := range block.keys {
			kv := block.items[j]
			kpath := opPath + "." + key
			c := condition{opText: opName, op: op, qual: q, ifExists: ifExists,
				key: KeyOf(key), keyText: key}
			raw := []*jsonValue{kv}
			if kv.kind == jsonArray {
				raw = kv.items
			}
			for n, rv := range raw {
				s, ok := rv.scalarString()
				if !ok {
					return nil, fault(rv, kpath, "condition value must be a string, number or boolean, not %s", rv.kind)
				}
				vpath := kpath + "[" + strconv.Itoa(n) + "]"
				cv, err := compileCondValue(op, s, vars && op.vars)
				if err != nil {
					return nil, fault(rv, vpath, "%v", err)
				}
				if !cv.ok {
					*warnings = append(*warnings, fmt.Sprintf("%s: %q is not %s, so it equals no request value", vpath, s, op.family.valueKind()))
				}
				c.values = append(c.values, cv)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

func compileCondValue(op *operator, s string, vars bool) (condValue, error) {
	cv := condValue{text: s, ok: true}
	var err error
	switch op.family {
	case famString, famStringFold, famBool:
		cv.pat, err = compilePattern(s, false, vars, false)
	case famStringLike:
		cv.pat, err = compilePattern(s, true, vars, false)
	case famARN:
		cv.arn, err = compileARNCondition(s, vars)
	case famNumeric:
		cv.num, cv.ok = parseNumber(s)
	case famDate:
		cv.when, cv.ok = parseDate(s)
	case famIP:
		cv.ip, cv.ok = parseIPPrefix(s)
	case famBinary:
		cv.bin, err = base64.StdEncoding.DecodeString(s)
		cv.ok = err == nil
		err = nil
	case famNull:
		switch strings.ToLower(s) {
		case "true":
			cv.null = true
		case "false":
		default:
			return cv, errorf("Null takes \"true\" or \"false\", not %q", s)
		}
	}
	return cv, err
}

func parseNumber(s string) (float64, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f, err == nil && !math.IsNaN(f)
}

// dateLayouts are the W3C profile of ISO 8601 that IAM accepts.
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02",
	"2006-01",
	"2006",
}

// parseDate reads an ISO 8601 date or time, or epoch seconds.
func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	if isDigits(s) && len(s) > 4 {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		return time.Unix(n, 0).UTC(), true
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
	}
	return time.Time{}, false
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// parseIPPrefix reads a CIDR block or a bare address (a /32 or /128).
func parseIPPrefix(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	if strings.IndexByte(s, '/') >= 0 {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, false
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}

// multivaluedGlobalKeys are the global keys whose values are lists.
var multivaluedGlobalKeys = map[string]bool{
	"aws:tagkeys": true, "aws:calledvia": true, "aws:principalorgpaths": true,
	"aws:resourceorgpaths": true, "aws:sourceorgpaths": true, "aws:principalservicenameslist": true,
}

// eval evaluates the condition against the context.
func (c *condition) eval(ctx *Context, es *evalState) Tri {
	st, vals, multi := ctx.lookup(c.key)
	if c.op.family == famNull {
		switch st {
		case keyUnknown:
			es.noteUnknown(c.keyText)
			return Unknown
		}
		absent := st == keyAbsent
		r := False
		for i := range c.values {
			if c.values[i].null == absent {
				r = True
			}
		}
		return r
	}
	switch st {
	case keyUnknown, keyValueUnknown:
		es.noteUnknown(c.keyText)
		return Unknown
	case keyAbsent:
		switch {
		case c.qual == qualAllValues:
			return True
		case c.qual == qualAnyValue:
			if c.ifExists {
				// Undocumented: IfExists says true, the qualifier says false.
				es.noteUnknown(c.keyText)
				return Unknown
			}
			return False
		case c.ifExists, c.op.negated:
			return True
		}
		return False
	}
	multi = multi || multivaluedGlobalKeys[c.key.lkey]
	switch c.qual {
	case qualAnyValue:
		r := False
		for _, v := range vals {
			if r = r.Or(c.matchOne(v, ctx, es)); r == True {
				return True
			}
		}
		return r
	case qualAllValues:
		r := True
		for _, v := range vals {
			if r = r.And(c.matchOne(v, ctx, es)); r == False {
				return False
			}
		}
		return r
	}
	if multi || len(vals) != 1 {
		// A single-valued operator on a multivalued key has no documented meaning.
		es.noteUnknown(c.keyText)
		return Unknown
	}
	return c.matchOne(vals[0], ctx, es)
}

// matchOne applies the operator, negation included, to one request value:
// true when it matches any policy value (none, for a negated operator).
func (c *condition) matchOne(v string, ctx *Context, es *evalState) Tri {
	if c.op.family == famIP && es.compat != nil && es.compat.IPFamilyMismatchNeverMatches && c.ipFamilyMismatch(v) {
		return False
	}
	r := False
	for i := range c.values {
		if r = r.Or(c.matchValue(&c.values[i], v, ctx)); r == True {
			break
		}
	}
	if c.op.negated {
		return r.Not()
	}
	return r
}

// matchValue is the positive comparison of one request value with one policy value.
func (c *condition) matchValue(cv *condValue, v string, ctx *Context) Tri {
	if !cv.ok {
		return False
	}
	switch c.op.family {
	case famString:
		return cv.pat.equal(v, ctx, false)
	case famStringFold, famBool:
		return cv.pat.equal(v, ctx, true)
	case famStringLike:
		return cv.pat.match(v, ctx)
	case famARN:
		return cv.arn.matchARNValue(v, ctx)
	case famNumeric:
		n, ok := parseNumber(v)
		if !ok {
			return False
		}
		return triOf(compare(c.op.cmp, cmpFloat(n, cv.num)))
	case famDate:
		t, ok := parseDate(v)
		if !ok {
			return False
		}
		return triOf(compare(c.op.cmp, t.Compare(cv.when)))
	case famIP:
		a, err := netip.ParseAddr(strings.TrimSpace(v))
		if err != nil {
			return False
		}
		return triOf(cv.ip.Contains(a.Unmap()) || cv.ip.Contains(a))
	case famBinary:
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return triOf(v == cv.text)
		}
		return triOf(bytes.Equal(b, cv.bin))
	}
	return False
}

// ipFamilyMismatch reports whether v is an address of another IP family than
// every range of the condition.
func (c *condition) ipFamilyMismatch(v string) bool {
	a, err := netip.ParseAddr(strings.TrimSpace(v))
	if err != nil {
		return false
	}
	for i := range c.values {
		if c.values[i].ok && c.values[i].ip.Addr().Is4() == a.Unmap().Is4() {
			return false
		}
	}
	return true
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compare(k cmpKind, c int) bool {
	switch k {
	case cmpLt:
		return c < 0
	case cmpLe:
		return c <= 0
	case cmpGt:
		return c > 0
	case cmpGe:
		return c >= 0
	}
	return c == 0
}

// OperatorNames lists every base condition operator, sorted.
func OperatorNames() []string {
	out := make([]string, 0, len(operators))
	for _, op := range operators {
		out = append(out, op.name)
	}
	sort.Strings(out)
	return out
}
