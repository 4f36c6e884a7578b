package ingest

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// scanArray cuts the array that r holds into its values, as the reader
// does, and returns them with the error that ended the scan.
func scanArray(r io.Reader, max int) (values []string, tooLarge int, err error) {
	s := newScanner(r, max)
	s.buf = make([]byte, 16) // small, so that values cross refills
	if _, err := s.expect("[", "an array"); err != nil {
		return nil, 0, err
	}
	for first := true; ; first = false {
		if first {
			c, err := s.peek()
			if err != nil {
				return values, tooLarge, err
			}
			if c == ']' {
				s.pos++
				return values, tooLarge, s.drain()
			}
		} else {
			c, err := s.expect(",]", "a comma or the end of the array")
			if err != nil {
				return values, tooLarge, err
			}
			if c == ']' {
				return values, tooLarge, s.drain()
			}
		}
		raw, _, err := s.value()
		if errors.Is(err, errTooLarge) {
			tooLarge++
			continue
		}
		if err != nil {
			return values, tooLarge, err
		}
		values = append(values, string(raw))
	}
}

func TestScannerCutsValuesLikeEncodingJSON(t *testing.T) {
	values := []string{
		`{}`, `[]`, `""`, `0`, `-1.5e3`, `true`, `null`,
		`{"a":"}"}`, `{"a":"]\"}"}`, `{"a":"\\"}`, `{"a":"\\\\\"{"}`,
		`{"policy":"{\"Statement\":[{\"Effect\":\"Allow\"}]}"}`,
		`[[1,[2]],{"b":[{"c":{}}]}]`, `"a \"quoted\" {string}"`,
		`{"u":"\u007b\u005d","k":"` + strings.Repeat(`x\"`, 40) + `"}`,
		`{"eventName":"GetObject","requestParameters":{"key":"a\\b\\"}}`,
		`"` + strings.Repeat(`\\`, 9) + `"`, `"` + strings.Repeat(`\\`, 8) + `\""`, `["\\\"]\\",["\\"]]`,
		`{"` + strings.Repeat(`\\`, 20) + `":"` + strings.Repeat(`\"`, 20) + `"}`,
	}
	doc := "[\n " + strings.Join(values, " ,\n\t") + " ]\n"
	for _, tt := range []struct {
		name string
		r    func() io.Reader
	}{
		{"whole", func() io.Reader { return strings.NewReader(doc) }},
		{"one byte at a time", func() io.Reader { return iotest.OneByteReader(strings.NewReader(doc)) }},
		{"half reads", func() io.Reader { return iotest.HalfReader(strings.NewReader(doc)) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := scanArray(tt.r(), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			var want []json.RawMessage
			if err := json.Unmarshal([]byte(doc), &want); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d values, want %d: %q", len(got), len(want), got)
			}
			for i := range want {
				if got[i] != string(want[i]) {
					t.Errorf("value %d: %q, want %q", i, got[i], want[i])
				}
			}
		})
	}
}

func TestScannerSkipsValuesOverTheBound(t *testing.T) {
	big := `{"k":"` + strings.Repeat(`ab\"{`, 100) + `"}`
	doc := `[{"a":1},` + big + `,{"b":2}]`
	got, tooLarge, err := scanArray(iotest.HalfReader(strings.NewReader(doc)), 64)
	if err != nil {
		t.Fatal(err)
	}
	if tooLarge != 1 || strings.Join(got, " ") != `{"a":1} {"b":2}` {
		t.Errorf("values %q, %d too large; want the two small ones and 1", got, tooLarge)
	}
}

func TestScannerStructureErrors(t *testing.T) {
	tests := []struct {
		doc  string
		want string
	}{
		{`[{"a":1},]`, "invalid character ']', expected a value"},
		{`[{"a":1} {"b":2}]`, "expected a comma or the end of the array"},
		{`[{"a":1}] x`, "unexpected data after the document"},
		{`[{"a":"1}]`, "unexpected EOF"},
		{`[{"a":1}`, "unexpected EOF"},
		{`[{"a":[1}]`, "unexpected EOF"}, // nesting is counted, not matched: the decoder rejects the record
		{`[,]`, "invalid character ','"},
	}
	for _, tt := range tests {
		_, _, err := scanArray(strings.NewReader(tt.doc), 1<<20)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.doc, err, tt.want)
		}
	}
}

// BenchmarkScanRecords cuts a delivery document of 1,500 records into
// records, as the session pass does.
func BenchmarkScanRecords(b *testing.B) {
	doc := "[" + strings.TrimSuffix(strings.Repeat(event1+","+event2+",", 750), ",") + "]"
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	s := newScanner(nil, MaxRecordSize)
	r := strings.NewReader(doc)
	for b.Loop() {
		r.Reset(doc)
		*s = scanner{r: r, buf: s.buf, max: MaxRecordSize}
		if _, err := s.expect("[", "an array"); err != nil {
			b.Fatal(err)
		}
		n := 0
		for ; ; n++ {
			if _, _, err := s.value(); err != nil {
				b.Fatal(err)
			}
			if c, err := s.expect(",]", "a comma"); err != nil {
				b.Fatal(err)
			} else if c == ']' {
				break
			}
		}
		if n+1 != 1500 {
			b.Fatalf("%d records", n+1)
		}
	}
}
