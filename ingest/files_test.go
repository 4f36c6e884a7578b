package ingest

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestDiscover(t *testing.T) {
	dir := t.TempDir()
	files := []string{
		"AWSLogs/111111111111/CloudTrail/us-east-1/2026/11/20/111111111111_CloudTrail_us-east-1_20261120T1005Z_abc.json.gz",
		"AWSLogs/111111111111/CloudTrail/us-east-1/2026/11/18/111111111111_CloudTrail_us-east-1_20261118T2355Z_old.json.gz",
		"AWSLogs/o-abc123/222222222222/CloudTrail/eu-west-1/2026/11/21/222222222222_CloudTrail_eu-west-1_20261121T0000Z_def.json.gz",
		"AWSLogs/111111111111/CloudTrail-Digest/us-east-1/2026/11/20/111111111111_CloudTrail-Digest_us-east-1_x_20261120T1005Z.json.gz",
		"notes/readme.txt",
		"exports/lake.jsonl",
	}
	for _, f := range files {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("{}"), 0o644)
	}
	w := Window{From: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)}
	got, err := Discover([]string{dir}, w)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]SkipReason{
		files[0]: "", files[1]: SkipOutsideWindow, files[2]: "", files[3]: SkipDigest, files[4]: SkipNotLog, files[5]: "",
	}
	if len(got) != len(want) {
		t.Fatalf("%d files, want %d: %+v", len(got), len(want), got)
	}
	for _, f := range got {
		rel, _ := filepath.Rel(dir, f.Path)
		reason, ok := want[filepath.ToSlash(rel)]
		if !ok || reason != f.Skip {
			t.Errorf("%s: skip %q, want %q", rel, f.Skip, reason)
		}
		if filepath.ToSlash(rel) == files[2] && (f.Account != "222222222222" || f.Region != "eu-west-1" || f.Day.Day() != 21) {
			t.Errorf("org trail layout not read: %+v", f)
		}
	}
	if _, err := Discover([]string{filepath.Join(dir, "nothing*")}, Window{}); err == nil {
		t.Error("a glob that matches nothing must be an error")
	}
	g, err := Discover([]string{filepath.Join(dir, "exports", "*.jsonl")}, Window{})
	if err != nil || len(g) != 1 {
		t.Errorf("glob: %v %v", g, err)
	}
}
