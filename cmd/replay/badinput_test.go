package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/replay-iam/replay/analysis"
	"github.com/replay-iam/replay/pipeline"
)

// expectedFile is what the corpus says about one input file. Records and
// the counts are exact unless MaxRecords is set (a truncated gzip stream
// yields what inflated before the cut).
type expectedFile struct {
	Records     *int64           `json:"records"`
	MaxRecords  *int64           `json:"max_records"`
	Evaluated   int64            `json:"evaluated"`
	Unparseable int64            `json:"unparseable"`
	Skips       map[string]int64 `json:"skips"`
	Error       []string         `json:"error"`
	Problem     []string         `json:"problem"`
}

// copyTree copies the corpus into a temporary folder.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// readFileRows reads files.parquet of a report folder.
func readFileRows(t *testing.T, out string) []pipeline.FileRow {
	t.Helper()
	rows, err := parquet.ReadFile[pipeline.FileRow](filepath.Join(out, "files.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// column returns the integer column of a files.parquet row by name.
func column(r pipeline.FileRow, name string) (int64, bool) {
	v := reflect.ValueOf(r)
	for i := 0; i < v.NumField(); i++ {
		tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("parquet"), ",")
		if tag == name && v.Field(i).Kind() == reflect.Int64 {
			return v.Field(i).Int(), true
		}
	}
	return 0, false
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// TestBadInputCorpus replays every item of testdata/badinput: each gives
// its message with file and position, the run goes on with the rest and
// writes its reports, and --strict turns the damage into exit status 3.
func TestBadInputCorpus(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, filepath.Join("testdata", "badinput"), dir)
	var want struct {
		Files            map[string]expectedFile `json:"files"`
		SnapshotProblems [][]string              `json:"snapshot_problems"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}

	// Items too large to keep in the repository.
	rec := func(id int, extra string) string {
		return fmt.Sprintf(`{"eventVersion":"1.09","eventTime":"2026-11-01T11:00:00Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets",`+
			`"awsRegion":"eu-west-1","eventID":"00000000-0000-4000-9000-%012d","eventType":"AwsApiCall","recipientAccountId":"111111111111",`+
			`"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111111111111:user/reader","accountId":"111111111111","accessKeyId":"AKIAREADER"}%s}`, id, extra)
	}
	big := `{"Records":[` + rec(1, `,"requestParameters":{"padding":"`+strings.Repeat("x", 10<<20)+`"}`) + `]}`
	if err := os.WriteFile(filepath.Join(dir, "logs", "big-record.json"), []byte(big), 0o600); err != nil {
		t.Fatal(err)
	}
	var stmts []string
	for i := 0; len(strings.Join(stmts, ",")) < 1<<20; i++ {
		stmts = append(stmts, fmt.Sprintf(`{"Sid":"S%05d","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket-%05d/%s"}`, i, i, strings.Repeat("k", 64)))
	}
	hugePolicy := `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
	gaad := `{"UserDetailList":[{"Path":"/","UserName":"huge","UserId":"AIDAHUGE","Arn":"arn:aws:iam::444444444444:user/huge",` +
		`"UserPolicyList":[{"PolicyName":"huge","PolicyDocument":` + hugePolicy + `},` +
		`{"PolicyName":"mfa","PolicyDocument":{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*",` +
		`"Condition":{"NumericGreaterThan":{"aws:MultiFactorAuthAge":"one hour"}}}]}}],"GroupList":[],"AttachedManagedPolicies":[],"Tags":[]}],` +
		`"GroupDetailList":[],"RoleDetailList":[],"Policies":[]}`
	if err := os.WriteFile(filepath.Join(dir, "snapshot", "gaad-444444444444.json"), []byte(gaad), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "snapshot", "gaad-333333333333.json"), 0o700); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(dir, "reports")
	var stdout, stderr bytes.Buffer
	args := []string{"run", "--snapshot", filepath.Join(dir, "snapshot"), "--logs", filepath.Join(dir, "logs"), "--out", out, "--quiet", "--strict"}
	if code := run(context.Background(), args, &stdout, &stderr); code != exitIncomplete {
		t.Fatalf("exit %d, want %d (incomplete input); stderr:\n%s", code, exitIncomplete, stderr.String())
	}
	m := readManifest(t, out)

	seen := map[string]bool{}
	for _, f := range readFileRows(t, out) {
		name := filepath.Base(f.Path)
		w, ok := want.Files[name]
		if !ok {
			t.Errorf("%s: not in expected.json", name)
			continue
		}
		seen[name] = true
		if f.Accounted() != f.Records {
			t.Errorf("%s: %d records, %d accounted for", name, f.Records, f.Accounted())
		}
		switch {
		case w.Records != nil && f.Records != *w.Records:
			t.Errorf("%s: %d records, want %d", name, f.Records, *w.Records)
		case w.MaxRecords != nil && f.Records > *w.MaxRecords:
			t.Errorf("%s: %d records, want at most %d", name, f.Records, *w.MaxRecords)
		}
		if w.Records != nil && (f.Evaluated != w.Evaluated || f.Unparseable != w.Unparseable) {
			t.Errorf("%s: evaluated %d, unparseable %d; want %d, %d", name, f.Evaluated, f.Unparseable, w.Evaluated, w.Unparseable)
		}
		for k, n := range w.Skips {
			if got, ok := column(f, k); got != n || !ok {
				t.Errorf("%s: %s %d (column found: %v), want %d", name, k, got, ok, n)
			}
		}
		if len(w.Error) > 0 != (f.Error != "") || !containsAll(f.Error, w.Error) {
			t.Errorf("%s: error %q, want one containing %q", name, f.Error, w.Error)
		}
		if len(w.Problem) > 0 && (len(f.Problems) != 1 || !containsAll(f.Problems[0], w.Problem)) {
			t.Errorf("%s: problems %q, want one containing %q", name, f.Problems, w.Problem)
		}
		// Every message reaches stderr too.
		for _, msg := range append([]string{f.Error}, f.Problems...) {
			if msg != "" && !strings.Contains(stderr.String(), msg) {
				t.Errorf("%s: %q not on stderr", name, msg)
			}
		}
	}
	for name := range want.Files {
		if !seen[name] {
			t.Errorf("%s: not in files.parquet", name)
		}
	}

	if len(m.Snapshot.Problems) != len(want.SnapshotProblems) {
		t.Errorf("snapshot problems %q, want %d", m.Snapshot.Problems, len(want.SnapshotProblems))
	}
	for _, w := range want.SnapshotProblems {
		found := false
		for _, p := range m.Snapshot.Problems {
			found = found || containsAll(p, w)
		}
		if !found {
			t.Errorf("no snapshot problem containing %q in %q", w, m.Snapshot.Problems)
		}
	}
	// A condition value its operator cannot read is a warning, in the
	// manifest and on stderr, and not a problem: the policy loads.
	if len(m.Snapshot.Warnings) != 1 || !containsAll(m.Snapshot.Warnings[0], []string{"gaad-444444444444.json", "UserPolicyList[1]", `"one hour" is not a number`}) {
		t.Errorf("snapshot warnings %q, want one about the mfa policy", m.Snapshot.Warnings)
	} else if !strings.Contains(stderr.String(), "replay: snapshot: warning: "+m.Snapshot.Warnings[0]) {
		t.Errorf("warning %q not on stderr", m.Snapshot.Warnings[0])
	}
	// The large policy loaded, and its user was reviewed.
	principals, err := parquet.ReadFile[analysis.PrincipalRow](filepath.Join(out, "principals.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	huge := false
	for _, p := range principals {
		huge = huge || p.PrincipalARN == "arn:aws:iam::444444444444:user/huge" && p.GrantedActions != nil && *p.GrantedActions == 1
	}
	if !huge {
		t.Error("the user with the 1 MB policy is missing from principals.parquet or not granted s3:GetObject")
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("stderr:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "--strict") {
		t.Errorf("stderr does not say why the status is 3:\n%s", stderr.String())
	}
}
