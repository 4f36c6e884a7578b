package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/replay-iam/replay/analysis"
	"github.com/replay-iam/replay/engine"
)

// TestBorrowedStringsNotKept checks that nothing a replay keeps past a
// file points into the reader's buffers, where the records' strings are
// borrowed from: with the buffers scrubbed before each file and after each
// group (a string kept too long then reads as garbage), the replay, its
// decisions and the verification of replacements (from the run's ledger
// and by reading the logs again) give what they give when every
// record owns its strings, whether each group's files are read ahead or
// not. The logs are the sample estate's, with damaged
// files, JSON lines, a lookup-events export and an unmapped call added.
func TestBorrowedStringsNotKept(t *testing.T) {
	sum, snap := sampleEstate(t)
	extra := filepath.Join(sum.Logs, "extra")
	if err := os.MkdirAll(extra, 0o700); err != nil {
		t.Fatal(err)
	}
	const root = `"userIdentity":{"type":"Root","arn":"arn:aws:iam::200000000001:root","accountId":"200000000001"}`
	files := map[string]string{
		"truncated.json": `{"Records":[{"eventSource":"s3.amazonaws.com","eventName":"ListBuckets","eventTime":"2026-11-01T00:00:00Z","eventID":"t1",` + root + `},{"eventSou`,
		"lines.jsonl": `{"eventSource":"s3.amazonaws.com","eventName":"ListBuckets","eventID":"l1",` + root + "}\n{broken\n" +
			`{"eventSource":"example.amazonaws.com","eventName":"DoSomethingNew","eventID":"l2",` + root + "}\n" +
			`{"eventSource":"s3.amazonaws.com","eventName":"ListBuckets","eventID":"l3","errorCode":"AccessDenied",` + root + "}\n",
		"lookup.json": `{"Events":[{"EventId":"k1","CloudTrailEvent":"{\"eventSource\":\"s3.amazonaws.com\",\"eventName\":\"GetBucketPolicy\",\"eventID\":\"k1\",\"errorCode\":\"AccessDenied\",\"requestParameters\":{\"bucketName\":\"lookup-bucket\"},\"userIdentity\":{\"type\":\"IAMUser\",\"arn\":\"arn:aws:iam::200000000001:user/lookup\",\"accountId\":\"200000000001\"}}"}]}`,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(extra, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Successful calls logged again as denied, under ids of their own: the
	// replay disagrees with the log, which it notes with an example.
	var flipped []json.RawMessage
	var first string
	err := filepath.WalkDir(sum.Logs, func(path string, d fs.DirEntry, err error) error {
		if first == "" && err == nil && strings.HasSuffix(path, ".json.gz") && !strings.Contains(path, "Digest") {
			first = path
		}
		return err
	})
	if err != nil || first == "" {
		t.Fatalf("no delivery file in the sample logs (%v)", err)
	}
	for i, raw := range readDelivery(t, first) {
		if !bytes.Contains(raw, []byte(`"errorCode"`)) && len(flipped) < 20 {
			raw = bytes.Replace(raw, []byte(`"eventID":"`), []byte(fmt.Sprintf(`"errorCode":"AccessDenied","eventID":"flipped-%d-`, i)), 1)
			flipped = append(flipped, raw)
		}
	}
	writeDelivery(t, filepath.Join(extra, "flipped.json.gz"), flipped)

	type outcome struct {
		res       Result
		files     []FileStats
		decisions []analysis.DecisionRow
		verified  map[string]*Verification
	}
	replay := func(workers int, mode recordStringMode, ahead readAheadMode) outcome {
		t.Helper()
		dir := t.TempDir()
		cfg := Config{Logs: []string{sum.Logs}, Snapshot: snap, Workers: workers, Decisions: dir, recordStrings: mode, readAhead: ahead,
			Ledger: t.TempDir(), ledgerLimit: 50}
		res, files := runLogged(t, cfg)
		// Every principal's identity policies replaced by one that allows
		// reading S3 only: some requests fail, and examples are kept.
		replacement, err := engine.ParsePolicy("replacement", engine.PolicyIdentity,
			[]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		replacements := map[string]*engine.Policy{}
		for arn := range res.Report.Principals {
			replacements[arn] = replacement
		}
		cfg.Decisions = ""
		verified, err := Verify(context.Background(), cfg, replacements)
		if err != nil {
			t.Fatal(err)
		}
		fromLedger, err := VerifyLedger(context.Background(), cfg, res.Ledger, replacements)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fromLedger, verified) {
			t.Errorf("%d workers, strings %d, read-ahead %d: the ledger's verification differs from the replay's:\n%s",
				workers, mode, ahead, verificationDiff(fromLedger, verified))
		}
		return outcome{*res, files, readDecisions(t, dir), verified}
	}

	for _, workers := range []int{1, 3} {
		want := replay(workers, copyStrings, readAheadNever)
		// Read ahead, a file's buffers are scrubbed as soon as the next
		// file is handed out.
		for _, ahead := range []readAheadMode{readAheadNever, readAheadAlways} {
			got := replay(workers, borrowScrubbed, ahead)
			name := fmt.Sprintf("%d workers, read-ahead %v", workers, ahead == readAheadAlways)
			if diff := reportDiff(got.res.Report, want.res.Report); diff != "" {
				t.Errorf("%s: the report differs in %s", name, diff)
			}
			if diff := usageResourcesDiff(got.res.Report, want.res.Report); diff != "" {
				t.Errorf("%s: %s", name, diff)
			}
			g, w := got.res, want.res
			g.Report, w.Report, g.Elapsed, w.Elapsed, g.FilesReadAhead, w.FilesReadAhead = nil, nil, 0, 0, 0, 0
			g.Ledger, w.Ledger = nil, nil
			if !reflect.DeepEqual(g, w) {
				t.Errorf("%s: the result differs:\n%+v\nwant\n%+v", name, g, w)
			}
			if !reflect.DeepEqual(got.files, want.files) {
				t.Errorf("%s: the accounting of the files differs", name)
			}
			if !reflect.DeepEqual(got.decisions, want.decisions) {
				t.Errorf("%s: the decisions differ", name)
			}
			if !reflect.DeepEqual(got.verified, want.verified) {
				t.Errorf("%s: the verification differs", name)
			}
		}

		// The places that keep strings were reached.
		rep := replay(workers, copyStrings, readAheadNever).res.Report
		failed := 0
		for _, v := range want.verified {
			if v.Example != "" {
				failed++
			}
		}
		if len(rep.Coverage.DataEventSources) == 0 || len(rep.Unmapped) == 0 || len(rep.Denied) == 0 ||
			len(rep.Agreement.Examples) == 0 || len(rep.Statements) == 0 || failed == 0 || want.res.Unparseable == 0 || len(want.decisions) == 0 {
			t.Errorf("%d workers: the logs do not reach every place a replay keeps strings: %d data event sources, %d unmapped calls, %d denials, %d agreement examples, %d statements, %d failed verifications, %d unparseable records, %d decisions",
				workers, len(rep.Coverage.DataEventSources), len(rep.Unmapped), len(rep.Denied), len(rep.Agreement.Examples), len(rep.Statements), failed, want.res.Unparseable, len(want.decisions))
		}
	}
}

// usageResourcesDiff compares what the usage rows keep of their resources
// for the suggested policies, which the rows themselves do not show: the
// resources of the rows that did not overflow, and the common prefix.
func usageResourcesDiff(a, b *analysis.Report) string {
	if len(a.Usage) != len(b.Usage) {
		return "the usage rows differ in number"
	}
	for k, u := range a.Usage {
		o := b.Usage[k]
		switch {
		case o == nil:
			return "a usage row is missing"
		case u.Overflow != o.Overflow:
			return "a usage row overflows in one report only"
		case !u.Overflow && !reflect.DeepEqual(u.Resources(), o.Resources()):
			// Which resources an overflowing row keeps depends on the order
			// of merges.
			return fmt.Sprintf("the resources kept by a usage row differ: %q, want %q", u.Resources(), o.Resources())
		case u.CommonPrefix() != o.CommonPrefix():
			return "the common prefix of a usage row's resources differs"
		}
	}
	return ""
}
