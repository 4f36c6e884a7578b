package ingest

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestRequestParams checks the members requestParameters give, by name in
// any case: top-level strings, strings one object deep, what wins when a
// name is given twice, escapes, and the inputs that give none.
func TestRequestParams(t *testing.T) {
	tests := []struct {
		name   string
		raw    string
		want   map[string]string // lower-case name: value
		values []string          // as values lists them
	}{
		{"flat", `{"bucketName":"b","key":"k/1.txt","size":5,"versioned":true,"n":null}`,
			map[string]string{"bucketname": "b", "key": "k/1.txt", "size": "", "versioned": "", "n": ""}, []string{"b", "k/1.txt"}},
		{"nested one level", `{"input":{"TableName":"orders","deep":{"x":"no"}},"list":["a","b"]}`,
			map[string]string{"tablename": "orders", "x": "", "deep": "", "list": "", "input": ""}, []string{"orders"}},
		{"the top level wins", `{"in":{"Name":"nested"},"name":"top"}`,
			map[string]string{"name": "top"}, []string{"top"}},
		{"the last top-level member wins", `{"Name":"first","NAME":"second"}`,
			map[string]string{"name": "second"}, []string{"second"}},
		{"the first nested member wins", `{"a":{"name":"first"},"b":{"Name":"second"}}`,
			map[string]string{"name": "first"}, []string{"first"}},
		{"escapes", `{"k\u0065y":"a\"b\\c\u00e9","path":"\/x\/"}`,
			map[string]string{"key": "a\"b\\cé", "path": "/x/"}, []string{"a\"b\\cé", "/x/"}},
		{"white space", " {\n\t\"a\" : \"1\" ,\r\n \"b\":{ \"c\" : \"2\" } }\n",
			map[string]string{"a": "1", "c": "2"}, []string{"1", "2"}},
		{"empty object", `{}`, map[string]string{"a": ""}, nil},
		{"empty nested object", `{"a":{},"b":"1"}`, map[string]string{"b": "1"}, []string{"1"}},
		{"null", `null`, map[string]string{"null": ""}, nil},
		{"not an object", `["a","b"]`, map[string]string{"a": ""}, nil},
		{"nothing", ``, map[string]string{"a": ""}, nil},
		{"truncated", `{"a":"1","b":`, map[string]string{"a": ""}, nil},
		{"data after the object", `{"a":"1"} {"b":"2"}`, map[string]string{"a": "", "b": ""}, nil},
		{"a bad escape", `{"a":"1","b":"\x"}`, map[string]string{"a": ""}, nil},
	}
	var p requestParams
	for _, tt := range tests {
		p.parse([]byte(tt.raw)) // one value reused: nothing may stay from the case before
		for name, want := range tt.want {
			for _, spelled := range []string{name, strings.ToUpper(name)} {
				if got := p.get(strings.ToLower(spelled)); got != want {
					t.Errorf("%s: get(%q) = %q, want %q", tt.name, spelled, got, want)
				}
			}
		}
		var values []string
		p.values(func(v string) { values = append(values, v) })
		if !slices.Equal(values, tt.values) {
			t.Errorf("%s: values %q, want %q", tt.name, values, tt.values)
		}
	}
}

// TestRequestParamsOfSampleLogs compares, on every record of the sample
// logs, the members read with those of encoding/json decoding the same
// parameters into maps, for every name given once.
func TestRequestParamsOfSampleLogs(t *testing.T) {
	var p requestParams
	records := 0
	for _, data := range readerInputs(t) {
		var r Reader
		for _, rec := range readCopies(t, &r, data, false) {
			if len(rec.RequestParameters) == 0 {
				continue
			}
			records++
			want, counts := map[string]string{}, map[string]int{}
			var top map[string]any
			if err := json.Unmarshal(rec.RequestParameters, &top); err != nil {
				continue // null
			}
			for k, v := range top {
				counts[strings.ToLower(k)]++
				if s, ok := v.(string); ok {
					want[strings.ToLower(k)] = s
				}
			}
			for _, v := range top {
				if m, ok := v.(map[string]any); ok {
					for k, v := range m {
						if counts[strings.ToLower(k)]++; counts[strings.ToLower(k)] == 1 {
							if s, ok := v.(string); ok {
								want[strings.ToLower(k)] = s
							}
						}
					}
				}
			}
			p.parse(rec.RequestParameters)
			for name, n := range counts {
				if n == 1 && p.get(name) != want[name] {
					t.Fatalf("%s: get(%q) = %q, want %q", rec.RequestParameters, name, p.get(name), want[name])
				}
			}
		}
	}
	if records < 100 {
		t.Errorf("only %d records with parameters in the sample logs", records)
	}
}
