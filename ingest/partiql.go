package ingest

import (
	"strings"
)

// partiQLActions are the actions DynamoDB authorizes a PartiQL statement
// as, by its verb.
var partiQLActions = map[string]string{
	"select": "dynamodb:PartiQLSelect",
	"insert": "dynamodb:PartiQLInsert",
	"update": "dynamodb:PartiQLUpdate",
	"delete": "dynamodb:PartiQLDelete",
}

// partiQLStatement is what authorizing a DynamoDB PartiQL statement needs:
// its action and the table, or the table's index, it names.
type partiQLStatement struct {
	action string
	// table is a table name or a table ARN; index is "" for the table
	// itself.
	table, index string
}

// parsePartiQL reads the verb and target of a DynamoDB PartiQL statement:
//
//	SELECT <projection> FROM <table>[.<index>] ...
//	INSERT INTO <table> ...
//	UPDATE <table> ...
//	DELETE FROM <table> ...
//
// Keywords are case-insensitive; a name is double-quoted ("" for a quote
// inside it) or bare. CloudTrail redacts the values of non-key attributes
// in the statement it logs, never the verb or the table. ok is false for
// anything else: a statement not logged, or one of another form.
func parsePartiQL(statement string) (st partiQLStatement, ok bool) {
	s := partiQLScanner{text: statement}
	verb := strings.ToLower(s.word())
	st.action, ok = partiQLActions[verb]
	if !ok {
		return st, false
	}
	switch verb {
	case "select":
		if !s.skipTo("from") {
			return st, false
		}
	case "insert":
		if !strings.EqualFold(s.word(), "into") {
			return st, false
		}
	case "delete":
		if !strings.EqualFold(s.word(), "from") {
			return st, false
		}
	}
	if st.table, ok = s.name(); !ok {
		return st, false
	}
	if s.peek() == '.' {
		s.pos++
		if st.index, ok = s.name(); !ok {
			return st, false
		}
	}
	// What follows the target starts with a separator or a keyword, never
	// with more of a name.
	if c := s.peek(); c != 0 && !isPartiQLSpace(c) && c != ';' {
		return st, false
	}
	return st, validTableName(st.table) && (st.index == "" || validDynamoDBName(st.index))
}

// validTableName reports whether a name, or a table ARN, names a DynamoDB
// table (see validDynamoDBName).
func validTableName(name string) bool {
	if rest, ok := strings.CutPrefix(name, "arn:"); ok {
		parts := strings.SplitN(rest, ":", 5)
		if len(parts) != 5 || parts[1] != "dynamodb" || parts[2] == "" || parts[3] == "" {
			return false
		}
		t, ok := strings.CutPrefix(parts[4], "table/")
		return ok && validTableName(t)
	}
	return validDynamoDBName(name)
}

// validDynamoDBName reports whether a name is a DynamoDB table or index
// name: 3 to 255 of letters, digits, '_', '-' and '.'.
func validDynamoDBName(name string) bool {
	if len(name) < 3 || len(name) > 255 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// partiQLScanner reads a PartiQL statement.
type partiQLScanner struct {
	text string
	pos  int
}

func isPartiQLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func (s *partiQLScanner) skipSpace() {
	for s.pos < len(s.text) && isPartiQLSpace(s.text[s.pos]) {
		s.pos++
	}
}

// peek returns the next byte, 0 at the end.
func (s *partiQLScanner) peek() byte {
	if s.pos < len(s.text) {
		return s.text[s.pos]
	}
	return 0
}

// word reads the next bare word, "" when the next token is not one.
func (s *partiQLScanner) word() string {
	s.skipSpace()
	start := s.pos
	for s.pos < len(s.text) && isWordByte(s.text[s.pos]) {
		s.pos++
	}
	return s.text[start:s.pos]
}

// name reads a double-quoted or bare name. A bare name ends at a dot,
// which separates a table from its index.
func (s *partiQLScanner) name() (string, bool) {
	s.skipSpace()
	if s.peek() != '"' {
		start := s.pos
		for s.pos < len(s.text) && (isWordByte(s.text[s.pos]) || s.text[s.pos] == '-') {
			s.pos++
		}
		return s.text[start:s.pos], s.pos > start
	}
	s.pos++
	var b strings.Builder
	for s.pos < len(s.text) {
		c := s.text[s.pos]
		s.pos++
		if c != '"' {
			b.WriteByte(c)
			continue
		}
		if s.peek() != '"' {
			return b.String(), b.Len() > 0
		}
		b.WriteByte('"')
		s.pos++
	}
	return "", false // unterminated
}

// skipTo moves past the next bare keyword kw outside quoted names and
// strings, and reports whether it was found.
func (s *partiQLScanner) skipTo(kw string) bool {
	for s.pos < len(s.text) {
		c := s.text[s.pos]
		switch {
		case c == '"' || c == '\'':
			end := strings.IndexByte(s.text[s.pos+1:], c)
			if end < 0 {
				return false
			}
			// A doubled quote inside is read as two quoted parts.
			s.pos += end + 2
		case isWordByte(c):
			w := s.word()
			if strings.EqualFold(w, kw) {
				return true
			}
		default:
			s.pos++
		}
	}
	return false
}
