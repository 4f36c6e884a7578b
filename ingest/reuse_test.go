package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"
	"github.com/replay-iam/replay/catalog"
	"github.com/replay-iam/replay/internal/sample"
)

// TestReaderRecordsOwnTheirStrings checks that the records a reader yields
// keep their values once the reader's buffers are overwritten, as reading
// the next file does: every record of the sample estate's logs, read whole
// and cut into records, and of the other formats, is compared with its
// decoding by encoding/json after the buffers are filled with garbage.
func TestReaderRecordsOwnTheirStrings(t *testing.T) {
	inputs := readerInputs(t)

	for _, stream := range []bool{false, true} {
		r := &Reader{}
		var got []Record
		var want []Record
		for i, data := range inputs {
			recs := readCopies(t, r, data, stream)
			got = append(got, recs...)
			want = append(want, decodeReference(t, i, data)...)
			r.Scrub()
		}
		if len(got) != len(want) {
			t.Fatalf("stream %v: %d records read, %d in the files", stream, len(got), len(want))
		}
		for i := range got {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("stream %v: record %d after the reader's buffers were overwritten:\n%+v\nwant\n%+v", stream, i, got[i], want[i])
			}
		}
		// Every string field of Record must have been checked: one the
		// inputs leave empty could still point into a buffer.
		seen := map[string]bool{}
		for i := range got {
			stringsSet(reflect.ValueOf(got[i]), "Record", seen)
		}
		for _, path := range stringFields(reflect.TypeOf(Record{}), "Record") {
			if !seen[path] {
				t.Errorf("no input sets %s; add it to readerInputs", path)
			}
		}
	}
}

// stringFields lists the paths of the string fields reachable from t.
func stringFields(t reflect.Type, path string) []string {
	switch t.Kind() {
	case reflect.String:
		return []string{path}
	case reflect.Pointer, reflect.Slice:
		return stringFields(t.Elem(), path)
	case reflect.Struct:
		if t == reflect.TypeOf(time.Time{}) {
			return nil
		}
		var out []string
		for i := 0; i < t.NumField(); i++ {
			out = append(out, stringFields(t.Field(i).Type, path+"."+t.Field(i).Name)...)
		}
		return out
	}
	return nil
}

// stringsSet marks in seen the paths of the non-empty strings of v.
func stringsSet(v reflect.Value, path string, seen map[string]bool) {
	switch v.Kind() {
	case reflect.String:
		if v.Len() > 0 {
			seen[path] = true
		}
	case reflect.Pointer:
		if !v.IsNil() {
			stringsSet(v.Elem(), path, seen)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			stringsSet(v.Index(i), path, seen)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			return
		}
		for i := 0; i < v.NumField(); i++ {
			stringsSet(v.Field(i), path+"."+v.Type().Field(i).Name, seen)
		}
	}
}

// eventAllFields sets every field a record has, those the sample logs
// leave out included.
const eventAllFields = `{"eventVersion":"1.10","userIdentity":{"type":"AssumedRole","principalId":"AROAWEB:web-1","arn":"arn:aws:sts::111111111111:assumed-role/web/web-1","accountId":"111111111111","accessKeyId":"ASIAWEB","userName":"web-user","invokedBy":"ec2.amazonaws.com","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAWEB","arn":"arn:aws:iam::111111111111:role/web"},"webIdFederationData":{"federatedProvider":"arn:aws:iam::111111111111:oidc-provider/example.com"},"attributes":{"creationDate":"2026-11-20T09:00:00Z","mfaAuthenticated":"true"},"sourceIdentity":"alice@example.com","ec2RoleDelivery":"2.0","assumedRoot":"false"}},"eventTime":"2026-11-20T10:00:02Z","eventSource":"dynamodb.amazonaws.com","eventName":"GetItem","awsRegion":"eu-central-1","sourceIPAddress":"ec2.amazonaws.com","userAgent":"ec2.amazonaws.com","errorCode":"AccessDenied","errorMessage":"User is not authorized","requestParameters":{"tableName":"t"},"responseElements":null,"resources":[{"ARN":"arn:aws:dynamodb:eu-central-1:111111111111:table/t","accountId":"111111111111","type":"AWS::DynamoDB::Table"}],"eventID":"e3","eventType":"AwsApiCall","readOnly":true,"recipientAccountId":"111111111111","vpcEndpointId":"vpce-1234","tlsDetails":{"tlsVersion":"TLSv1.2"},"managementEvent":false,"eventCategory":"Data"}`

// readerInputs returns the sample estate's delivery files and small inputs
// of the other formats (lines, a Lake export, escaped strings).
func readerInputs(t *testing.T) [][]byte {
	t.Helper()
	dir := t.TempDir()
	if _, err := sample.Generate(dir, sample.DefaultOptions()); err != nil {
		t.Fatal(err)
	}
	var inputs [][]byte
	err := filepath.WalkDir(filepath.Join(dir, "logs"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json.gz") || strings.Contains(path, "CloudTrail-Digest") {
			return err
		}
		data, err := os.ReadFile(path)
		inputs = append(inputs, data)
		return err
	})
	if err != nil || len(inputs) == 0 {
		t.Fatalf("sample logs: %d files, %v", len(inputs), err)
	}
	delivery := `{"Records":[` + event1 + `,` + event2 + `,` + eventAllFields + `]}`
	inputs = append(inputs, []byte(delivery), []byte(event1+"\n"+event2+"\n"),
		[]byte(`{"Events":[{"EventId":"e1","CloudTrailEvent":`+quote(event1)+`}]}`),
		[]byte(`{"Records":[`+strings.Replace(event1, `aws-cli/2`, `aws-cli/2 \"escaped\" \u00e9`, 1)+`]}`))
	return inputs
}

// readCopies reads every record of data with r, keeping copies.
func readCopies(t *testing.T, r *Reader, data []byte, stream bool) []Record {
	t.Helper()
	if err := r.Reset(bytes.NewReader(data), "test.json"); err != nil {
		t.Fatal(err)
	}
	if stream {
		r.SetFilter(func([]byte) bool { return true })
	}
	recs := drain(t, r)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	return recs
}

// drain returns copies of the records r yields up to the end of its file;
// any error ends the test.
func drain(t *testing.T, r *Reader) []Record {
	t.Helper()
	var recs []Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return recs
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, *rec)
	}
}

// decodeReference decodes the records of a test input with encoding/json,
// whatever its format.
func decodeReference(t *testing.T, i int, data []byte) []Record {
	t.Helper()
	plain := data
	if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err == nil {
			plain, err = io.ReadAll(zr)
		}
		if err != nil {
			t.Fatalf("input %d: %v", i, err)
		}
	}
	var doc struct {
		Records []Record
		Events  []struct{ CloudTrailEvent string }
	}
	if json.Unmarshal(plain, &doc) == nil && (doc.Records != nil || doc.Events != nil) {
		for _, e := range doc.Events {
			var rec Record
			if err := json.Unmarshal([]byte(e.CloudTrailEvent), &rec); err != nil {
				t.Fatalf("input %d: %v", i, err)
			}
			doc.Records = append(doc.Records, rec)
		}
		return doc.Records
	}
	var recs []Record
	for _, line := range bytes.Split(bytes.TrimSpace(plain), []byte("\n")) {
		var rec Record
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("input %d: %v", i, err)
		}
		recs = append(recs, rec)
	}
	return recs
}

// TestReaderBorrowedStrings checks that a reader borrowing strings yields
// what an owning reader yields, record by record and error by error, on
// the sample estate's logs, the other formats and damaged input (a
// truncated file, a field of the wrong type, a record that is not an
// event), read whole and cut into records.
func TestReaderBorrowedStrings(t *testing.T) {
	inputs := readerInputs(t)
	delivery := `{"Records":[` + event1 + `,` + event2 + `]}`
	inputs = append(inputs, []byte(delivery[:len(delivery)-40]),
		[]byte(`{"Records":[`+event1+`,`+strings.Replace(event2, `"eventName"`, `"readOnly":"yes","eventName"`, 1)+`,`+event1+`]}`),
		[]byte(`{"Records":[{"eventVersion":"1.08","eventID":"x"},`+event2+`]}`))

	// outcomes reads data and describes each record (encoded at once, while
	// borrowed strings are valid) or error in turn.
	outcomes := func(r *Reader, data []byte, stream, borrow bool) []string {
		if err := r.Reset(bytes.NewReader(data), "test.json"); err != nil {
			return []string{err.Error()}
		}
		if stream {
			r.SetFilter(func([]byte) bool { return true })
		}
		if borrow {
			r.SetBorrowStrings()
		}
		var out []string
		for {
			rec, err := r.Next()
			switch {
			case err == io.EOF:
				return out
			case err != nil:
				out = append(out, "error: "+err.Error())
				var fe *FileError
				if errors.As(err, &fe) {
					return out
				}
			default:
				b, err := json.Marshal(rec)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, string(b))
			}
		}
	}
	owning, borrowing := &Reader{}, &Reader{}
	errorsSeen := 0
	for _, stream := range []bool{false, true} {
		for i, data := range inputs {
			want, got := outcomes(owning, data, stream, false), outcomes(borrowing, data, stream, true)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("stream %v, input %d: borrowing strings gives\n%q\nwant\n%q", stream, i, got, want)
			}
			for _, o := range want {
				if strings.HasPrefix(o, "error: ") {
					errorsSeen++
				}
			}
		}
	}
	if errorsSeen < 6 {
		t.Errorf("%d errors met in the damaged inputs, want at least one per input and way of reading", errorsSeen)
	}
}

// TestReaderBorrowsUntilReset checks the span of borrowed strings: a
// reader borrowing them yields records that stay whole up to the end of
// their file, whatever its format, as the code that keeps them until then
// relies on, and the arrays a reader keeps from file to file carry nothing
// over; Scrub then garbles the records of a file read whole, their raw
// parameters included (so that tests of such code can catch a string or
// array kept too long), and not those streamed from a file over the size
// bound, which own their strings.
func TestReaderBorrowsUntilReset(t *testing.T) {
	filler := strings.Replace(event1, `"key":"k"`, `"key":"`+strings.Repeat("x", 1<<20)+`"`, 1)
	over := []byte(`{"Records":[` + strings.Repeat(filler+",", maxWholeFile>>20) + event2 + `]}`)
	inputs := append(readerInputs(t), over)
	r := &Reader{}
	garbled := 0
	for i, data := range inputs {
		if err := r.Reset(bytes.NewReader(data), "test.json"); err != nil {
			t.Fatal(err)
		}
		r.SetBorrowStrings()
		got := drain(t, r)
		want := decodeReference(t, i, data)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("input %d: records borrowing strings, at the end of the file, differ from their decoding", i)
		}
		r.Scrub()
		switch {
		case i == len(inputs)-1:
			if !reflect.DeepEqual(got, want) {
				t.Errorf("records streamed from a file over the size bound change when the buffers are scrubbed")
			}
		case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
			params := 0
			for j := range got {
				if len(got[j].RequestParameters) > 0 && !bytes.Equal(got[j].RequestParameters, want[j].RequestParameters) {
					params++
				}
			}
			if reflect.DeepEqual(got, want) || params == 0 {
				t.Errorf("input %d: the records of a delivery file read whole (%d of their parameters) do not change when the buffers are scrubbed", i, params)
			}
			garbled++
		}
	}
	if garbled == 0 {
		t.Errorf("no delivery file among the inputs")
	}
}

// TestTranslatorCopiesWhatItKeeps checks that the translator's memos keep
// no string borrowed from a record: the sample estate's logs are read with
// borrowed strings, translated, and the reader's buffers scrubbed after
// each file; every call, ARN and missed session the translator remembers
// must then read as a real one. A memo key left borrowed would not change a translation
// while its bytes are garbage, but could once they hold the next file's
// text: the map, rehashing as it grows, would file it under that text.
func TestTranslatorCopiesWhatItKeeps(t *testing.T) {
	sum, err := sample.Generate(t.TempDir(), sample.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	snap, err := LoadSnapshot(sum.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	// No sessions are observed: every session looked up is a miss.
	tr := NewTranslator(catalog.Default(), snap, NewSessions())
	tr.TrackSessions(0)
	r := &Reader{}
	err = filepath.WalkDir(sum.Logs, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json.gz") || strings.Contains(path, "CloudTrail-Digest") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := r.Reset(bytes.NewReader(data), path); err != nil {
			return err
		}
		r.SetBorrowStrings()
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			tr.Translate(rec)
		}
		r.Scrub()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	real := func(s string) bool { return s != "" && utf8.ValidString(s) }
	for name, ms := range tr.mapped {
		for _, m := range ms {
			if !real(m.source) || !real(name) {
				t.Errorf("remembered call %q %q", m.source, name)
			}
		}
	}
	for arn := range tr.kinds {
		if !strings.HasPrefix(arn, "arn:") || !real(arn) {
			t.Errorf("remembered ARN %q", arn)
		}
	}
	for key := range tr.misses {
		if !real(key) {
			t.Errorf("remembered session miss %q", key)
		}
	}
	if len(tr.mapped) == 0 || len(tr.kinds) == 0 || len(tr.misses) == 0 {
		t.Errorf("%d calls, %d ARNs and %d session misses remembered; the test needs some of each", len(tr.mapped), len(tr.kinds), len(tr.misses))
	}
}

// TestReaderOwnedArraysSurviveBorrowing checks that records read without
// borrowing keep their arrays when the same reader goes on to borrow: the
// arrays it reuses are only those it lent.
func TestReaderOwnedArraysSurviveBorrowing(t *testing.T) {
	inputs := readerInputs(t)
	r := &Reader{}
	var owned, want []Record
	for i, data := range inputs {
		if i%2 == 0 {
			owned = append(owned, readCopies(t, r, data, false)...)
			want = append(want, decodeReference(t, i, data)...)
			continue
		}
		if err := r.Reset(bytes.NewReader(data), "test.json"); err != nil {
			t.Fatal(err)
		}
		r.SetBorrowStrings()
		drain(t, r)
		r.Scrub()
	}
	if !reflect.DeepEqual(owned, want) {
		t.Errorf("records read without borrowing changed when the reader went on borrowing")
	}
}
