package ingest

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
)

const event1 = `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111111111111:user/alice","accountId":"111111111111","accessKeyId":"AKIAEXAMPLE","userName":"alice"},"eventTime":"2026-11-20T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7","userAgent":"aws-cli/2","requestParameters":{"bucketName":"b","key":"k"},"responseElements":null,"eventID":"e1","readOnly":true,"eventType":"AwsApiCall","recipientAccountId":"111111111111","tlsDetails":{"tlsVersion":"TLSv1.3"}}`
const event2 = `{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:s1","arn":"arn:aws:sts::111111111111:assumed-role/app/s1","accountId":"111111111111","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::111111111111:role/svc/app","accountId":"111111111111","userName":"app"},"attributes":{"creationDate":"2026-11-20T09:00:00Z","mfaAuthenticated":"false"}}},"eventTime":"2026-11-20T10:00:01Z","eventSource":"sqs.amazonaws.com","eventName":"SendMessage","awsRegion":"eu-west-1","sourceIPAddress":"10.0.0.1","errorCode":"AccessDenied","eventID":"e2","recipientAccountId":"111111111111"}`

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

// readAll reads every record, collecting record errors and the file error.
func readAll(t *testing.T, data []byte) (recs []*Record, recErrs []*RecordError, fileErr error) {
	t.Helper()
	return readWith(&Reader{}, data)
}

// readWith is readAll with r reset to read data.
func readWith(r *Reader, data []byte) (recs []*Record, recErrs []*RecordError, fileErr error) {
	if err := r.Reset(bytes.NewReader(data), "test.json"); err != nil {
		return nil, nil, err
	}
	defer r.Close()
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return recs, recErrs, nil
		}
		var re *RecordError
		if errors.As(err, &re) {
			recErrs = append(recErrs, re)
			continue
		}
		if err != nil {
			return recs, recErrs, err
		}
		recs = append(recs, rec)
	}
}

func TestReaderFormats(t *testing.T) {
	delivery := `{"Records":[` + event1 + `,` + event2 + `]}`
	lookup := `{"Events":[{"EventId":"e1","CloudTrailEvent":` + quote(event1) + `},{"EventId":"e2","CloudTrailEvent":` + quote(event2) + `}],"NextToken":"x"}`
	lines := event1 + "\n\n" + event2 + "\n"
	cloudwatch := `{"id":"1","timestamp":1,"message":` + quote(event1) + "}\n" + `{"id":"2","timestamp":2,"message":` + quote(event2) + "}"
	export := "2026-11-20T10:00:00.000Z " + event1 + "\n2026-11-20T10:00:01.000Z " + event2 + "\n"
	tests := []struct {
		name   string
		data   []byte
		format Format
	}{
		{"delivery", []byte(delivery), FormatDelivery},
		{"delivery gzip", gz(t, delivery), FormatDelivery},
		{"delivery with leading key order and whitespace", []byte("\n  " + delivery), FormatDelivery},
		{"lookup-events", []byte(lookup), FormatLookupEvents},
		{"json lines", []byte(lines), FormatLines},
		{"json lines gzip", gz(t, lines), FormatLines},
		{"cloudwatch wrapper", []byte(cloudwatch), FormatLines},
		{"cloudwatch export with timestamps", []byte(export), FormatLines},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(tt.data), "f")
			if err != nil {
				t.Fatal(err)
			}
			if r.Format() != tt.format {
				t.Errorf("format %v, want %v", r.Format(), tt.format)
			}
			recs, recErrs, err := readAll(t, tt.data)
			if err != nil || len(recErrs) > 0 {
				t.Fatalf("errors: %v %v", err, recErrs)
			}
			if len(recs) != 2 {
				t.Fatalf("%d records, want 2", len(recs))
			}
			a, b := recs[0], recs[1]
			if a.EventName != "GetObject" || a.UserIdentity.UserName != "alice" || a.TLSDetails.TLSVersion != "TLSv1.3" ||
				string(a.RequestParameters) != `{"bucketName":"b","key":"k"}` || !a.ReadOnly {
				t.Errorf("first record %+v", a)
			}
			if b.EventName != "SendMessage" || b.ErrorCode != "AccessDenied" || b.UserIdentity.SessionContext == nil ||
				b.UserIdentity.SessionContext.SessionIssuer.ARN != "arn:aws:iam::111111111111:role/svc/app" ||
				b.EventTime.Format("15:04:05") != "10:00:01" {
				t.Errorf("second record %+v", b)
			}
		})
	}
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// badInputs returns what the bad-input tests start from: a delivery
// document of two events, the same gzipped, that gzip with a wrong
// checksum, and the second event with a field of the wrong JSON type.
func badInputs(t *testing.T) (delivery string, good, badCRC []byte, wrongType string) {
	t.Helper()
	delivery = `{"Records":[` + event1 + `,` + event2 + `]}`
	good = gz(t, delivery)
	badCRC = append([]byte(nil), good...)
	badCRC[len(badCRC)-8] ^= 0xff
	wrongType = strings.Replace(event2, `"eventName":"SendMessage"`, `"eventName":42`, 1)
	return delivery, good, badCRC, wrongType
}

func TestReaderBadInput(t *testing.T) {
	_, good, badCRC, wrongType := badInputs(t)
	badTime := strings.Replace(event2, `"2026-11-20T10:00:01Z"`, `"yesterday"`, 1)
	tests := []struct {
		name        string
		data        []byte
		records     int
		recordErrs  int
		kind        error  // category of the record errors
		fileErrText string // "" when the file reads to the end
	}{
		{"truncated gzip", good[:len(good)/2], 0, 0, nil, "unexpected EOF"},
		{"gzip with a bad CRC", badCRC, 2, 0, nil, "checksum"},
		{"not gzip although named .gz", []byte("PK\x03\x04 zip data"), 0, 0, nil, "not JSON"},
		{"empty file", nil, 0, 0, nil, "empty file"},
		{"cut mid-record", []byte(`{"Records":[` + event1 + `,{"eventVersion":"1.0`), 1, 0, nil, "unexpected EOF"},
		{"record with wrong JSON types", []byte(`{"Records":[` + event1 + `,` + wrongType + `]}`), 1, 1, ErrUnparseable, ""},
		{"record with a bad time", []byte(`{"Records":[` + badTime + `,` + event1 + `]}`), 1, 1, ErrUnparseable, ""},
		{"object that is not an event", []byte(`{"Records":[{"foo":1},` + event1 + `]}`), 1, 1, ErrNotCloudTrail, ""},
		{"line that is not JSON", []byte(event1 + "\nnot json\n" + event2), 2, 1, ErrUnparseable, ""},
		{"no records array", []byte(`{"Records":{}}`), 0, 0, nil, "not an array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, recErrs, err := readAll(t, tt.data)
			if len(recs) != tt.records || len(recErrs) != tt.recordErrs {
				t.Errorf("%d records and %d record errors, want %d and %d", len(recs), len(recErrs), tt.records, tt.recordErrs)
			}
			for _, re := range recErrs {
				if !errors.Is(re, tt.kind) {
					t.Errorf("record error %v is not %v", re, tt.kind)
				}
				if !strings.Contains(re.Error(), "test.json: record ") {
					t.Errorf("record error %q does not name the file and record", re)
				}
			}
			if tt.fileErrText == "" {
				if err != nil {
					t.Errorf("file error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.fileErrText) {
				t.Errorf("file error %v, want one containing %q", err, tt.fileErrText)
			}
		})
	}
}

func TestReaderLargeRecord(t *testing.T) {
	big := strings.Replace(event1, `"key":"k"`, `"key":"`+strings.Repeat("x", 10<<20)+`"`, 1)
	recs, recErrs, err := readAll(t, gz(t, `{"Records":[`+big+`,`+event2+`]}`))
	if err != nil || len(recErrs) != 0 || len(recs) != 2 {
		t.Fatalf("records %d, record errors %v, error %v", len(recs), recErrs, err)
	}
	recs, recErrs, err = readAll(t, []byte(big+"\n"+event2+"\n"))
	if err != nil || len(recErrs) != 0 || len(recs) != 2 {
		t.Fatalf("lines: records %d, record errors %v, error %v", len(recs), recErrs, err)
	}
}

// TestReaderReset reads a series of files of every format, damaged ones
// and one whose record grows the scan buffer, with one Reader reset for
// each: every outcome is that of a new Reader.
func TestReaderReset(t *testing.T) {
	delivery := `{"Records":[` + event1 + `,` + event2 + `]}`
	good := gz(t, delivery)
	big := strings.Replace(event1, `"key":"k"`, `"key":"`+strings.Repeat("x", 3<<20)+`"`, 1)
	inputs := [][]byte{
		good, []byte(event1 + "\n" + event2 + "\n"), good[:len(good)/2], gz(t, `{"Records":[`+big+`,`+event2+`]}`),
		nil, []byte("PK\x03\x04 zip"), []byte(`{"Events":[{"EventId":"e1","CloudTrailEvent":` + quote(event1) + `}]}`),
		[]byte(`{"Records":[{"foo":1},` + event1 + `,{"eventVersion":"1.0`), gz(t, event2+"\nnot json\n"), []byte(delivery), good,
		// Records with fewer fields after records with more, read whole
		// into the same array.
		[]byte(`{"Records":[` + event2 + `]}`), good, []byte(`{"Records":[` + event2 + `,` + event2 + `]}`),
	}
	reused := &Reader{}
	for i, data := range inputs {
		want, _ := readOutcome(data, false)
		if got, _ := readOutcomeWith(reused, data, false); !reflect.DeepEqual(got, want) {
			t.Errorf("input %d: reused reader gives\n%v\nnew reader\n%v", i, got, want)
		}
	}
}

// readOutcome reads data and describes everything the reader yields: each
// record in full, each error's message. stream makes the reader cut the
// file into records (a filter that keeps all of them turns off decoding a
// delivery file in one call); batched reports whether it decoded the file
// in one call.
func readOutcome(data []byte, stream bool) (outcome []any, batched bool) {
	return readOutcomeWith(&Reader{}, data, stream)
}

// readOutcomeWith is readOutcome with r reset to read data.
func readOutcomeWith(r *Reader, data []byte, stream bool) (outcome []any, batched bool) {
	if err := r.Reset(bytes.NewReader(data), "test.json"); err != nil {
		return []any{err.Error()}, false
	}
	defer r.Close()
	if stream {
		r.SetFilter(func([]byte) bool { return true })
	}
	for n := 0; n <= len(data)+10; n++ {
		rec, err := r.Next()
		batched = batched || r.batched
		switch {
		case err == io.EOF:
			return outcome, batched
		case err != nil:
			outcome = append(outcome, err.Error())
		default:
			outcome = append(outcome, *rec)
		}
	}
	return append(outcome, "no end"), batched
}

// TestReaderWhole checks that a delivery file read whole yields what it
// yields cut into records, faults included, and that the whole-file way is
// taken exactly for clean files within the size bound.
func TestReaderWhole(t *testing.T) {
	delivery, good, badCRC, wrongType := badInputs(t)
	filler := strings.Replace(event1, `"key":"k"`, `"key":"`+strings.Repeat("x", 1<<20)+`"`, 1)
	over := `{"Records":[` + strings.Repeat(filler+",", maxWholeFile>>20) + event2 + `]}`
	tests := []struct {
		name  string
		data  []byte
		whole bool
	}{
		{"delivery file", good, true},
		{"plain delivery file with white space", []byte(" {\"Records\" : [ " + event1 + " ,\n" + event2 + " ] }\n\n"), true},
		{"empty records array", []byte(`{"Records":[]}`), true},
		{"brackets in strings", []byte(`{"Records":[` + strings.Replace(event1, `aws-cli/2`, `]}\"]}`, 1) + `]}`), true},
		{"other keys before the array", []byte(`{"Records":[],"x":[1,{"y":"]}"}],"Records":[` + event1 + `]}`), false},
		{"other keys after the array", []byte(`{"Records":[` + event1 + `],"x":1}`), false},
		{"two records arrays", []byte(`{"Records":[` + event1 + `],"Records":[` + event2 + `]}`), false},
		{"records array in lower case", []byte(`{"records":[` + event1 + `]}`), false},
		{"record with wrong JSON types", []byte(`{"Records":[` + event1 + `,` + wrongType + `]}`), false},
		{"object that is not an event", []byte(`{"Records":[{"foo":1},` + event1 + `]}`), false},
		{"null record", []byte(`{"Records":[null,` + event1 + `]}`), false},
		{"trailing comma", []byte(`{"Records":[` + event1 + `,]}`), false},
		{"data after the document", []byte(delivery + `x`), false},
		{"cut mid-record", []byte(`{"Records":[` + event1 + `,{"eventVersion":"1.0`), false},
		{"truncated gzip", good[:len(good)/2], false},
		{"gzip with a bad CRC", badCRC, false},
		{"over the size bound", gz(t, over), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, batched := readOutcome(tt.data, false)
			want, _ := readOutcome(tt.data, true)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("read whole:\n%v\ncut into records:\n%v", got, want)
			}
			if batched != tt.whole {
				t.Errorf("read whole: %v, want %v", batched, tt.whole)
			}
		})
	}
}

// TestReaderFilter checks that a filtered read yields exactly the records
// the filter keeps, in order, whether the file is read whole or streamed
// (over the size bound), and that a file none of whose bytes pass ends at
// once.
func TestReaderFilter(t *testing.T) {
	filler := strings.Replace(event1, `"key":"k"`, `"key":"`+strings.Repeat("x", 1<<20)+`"`, 1)
	var over []string
	for range maxWholeFile >> 20 {
		over = append(over, filler)
	}
	over = append(over, event2)
	doc := func(events []string) string { return `{"Records":[` + strings.Join(events, ",") + `]}` }
	tests := []struct {
		name   string
		events []string
		needle string
	}{
		{"read whole, some kept", []string{event1, event2, event1}, `"eventSource":"s3.amazonaws.com"`},
		{"read whole, none kept", []string{event1, event2}, "sts.amazonaws.com"},
		{"streamed, some kept", over, `"eventName":"SendMessage"`},
		{"streamed, none kept", over, "sts.amazonaws.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var kept []string
			for _, e := range tt.events {
				if strings.Contains(e, tt.needle) {
					kept = append(kept, e)
				}
			}
			want, _ := readOutcome([]byte(doc(kept)), false)
			r, err := NewReader(bytes.NewReader(gz(t, doc(tt.events))), "test.json.gz")
			if err != nil {
				t.Fatal(err)
			}
			calls := 0
			r.SetFilter(func(raw []byte) bool { calls++; return bytes.Contains(raw, []byte(tt.needle)) })
			var got []any
			for _, rec := range drain(t, r) {
				got = append(got, rec)
			}
			if len(got) != len(kept) || len(got) > 0 && !reflect.DeepEqual(got, want) {
				t.Errorf("filtered read: %d records, want %d:\n%v\nwant\n%v", len(got), len(kept), got, want)
			}
			if whole := len(tt.events) < len(over); whole && len(kept) == 0 && calls != 1 {
				t.Errorf("a file read whole with nothing to keep: the filter was asked %d times, want once (the whole file)", calls)
			}
		})
	}
}
