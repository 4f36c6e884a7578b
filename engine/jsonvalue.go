package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// jsonKind is the type of a parsed JSON value.
type jsonKind uint8

const (
	jsonNull jsonKind = iota
	jsonBool
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

func (k jsonKind) String() string {
	return [...]string{"null", "boolean", "number", "string", "array", "object"}[k]
}

// jsonValue is a parsed JSON value that keeps object keys in order and the
// byte offset where each value starts, so that policy errors can name both
// the JSON path and the position of a fault.
type jsonValue struct {
	kind   jsonKind
	str    string // string, or the literal text of a number or bool
	items  []*jsonValue
	keys   []string // object keys, parallel to items
	offset int64
}

// field returns the value under key in an object, or nil.
func (v *jsonValue) field(key string) *jsonValue {
	for i, k := range v.keys {
		if k == key {
			return v.items[i]
		}
	}
	return nil
}

// scalarString renders a string, number or boolean as the string IAM compares.
func (v *jsonValue) scalarString() (string, bool) {
	switch v.kind {
	case jsonString, jsonNumber, jsonBool:
		return v.str, true
	}
	return "", false
}

// parseJSON parses one JSON document. Duplicate keys inside an object are an
// error, as IAM rejects them.
func parseJSON(doc []byte) (*jsonValue, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	v, err := parseJSONValue(dec, "$")
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &PolicyError{Path: "$", Offset: dec.InputOffset(), Msg: "unexpected data after the policy document"}
	}
	return v, nil
}

func parseJSONValue(dec *json.Decoder, path string) (*jsonValue, error) {
	offset := dec.InputOffset()
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			offset = se.Offset
		}
		return nil, &PolicyError{Path: path, Offset: offset, Msg: "invalid JSON: " + err.Error()}
	}
	v := &jsonValue{offset: offset}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			v.kind = jsonObject
			for dec.More() {
				koff := dec.InputOffset()
				kt, err := dec.Token()
				if err != nil {
					return nil, &PolicyError{Path: path, Offset: koff, Msg: "invalid JSON: " + err.Error()}
				}
				key := kt.(string)
				for _, k := range v.keys {
					if k == key {
						return nil, &PolicyError{Path: path, Offset: koff, Msg: fmt.Sprintf("duplicate key %q", key)}
					}
				}
				child, err := parseJSONValue(dec, path+"."+key)
				if err != nil {
					return nil, err
				}
				v.keys = append(v.keys, key)
				v.items = append(v.items, child)
			}
		case '[':
			v.kind = jsonArray
			for i := 0; dec.More(); i++ {
				child, err := parseJSONValue(dec, path+"["+strconv.Itoa(i)+"]")
				if err != nil {
					return nil, err
				}
				v.items = append(v.items, child)
			}
		}
		if _, err := dec.Token(); err != nil {
			return nil, &PolicyError{Path: path, Offset: dec.InputOffset(), Msg: "invalid JSON: " + err.Error()}
		}
	case string:
		v.kind, v.str = jsonString, t
	case json.Number:
		v.kind, v.str = jsonNumber, t.String()
	case bool:
		v.kind, v.str = jsonBool, strconv.FormatBool(t)
	case nil:
		v.kind = jsonNull
	}
	return v, nil
}
