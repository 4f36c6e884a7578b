package ingest

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// writeTree creates each file (a path relative to dir) with "{}" in it.
func writeTree(t *testing.T, dir string, files []string) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

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
	writeTree(t, dir, files)
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

// TestSurveyListsDaysLater surveys a tree: day folders inside the window
// are counted, not listed, until their day's List; files given one by one
// inside the layout join their day, once.
func TestSurveyListsDaysLater(t *testing.T) {
	dir := t.TempDir()
	files := []string{
		"AWSLogs/111111111111/CloudTrail/us-east-1/2026/11/20/111111111111_CloudTrail_us-east-1_20261120T1005Z_a.json.gz",
		"AWSLogs/111111111111/CloudTrail/us-east-1/2026/11/20/111111111111_CloudTrail_us-east-1_20261120T1010Z_b.json.gz",
		"AWSLogs/111111111111/CloudTrail/us-east-1/2026/11/20/notes.txt",
		"AWSLogs/111111111111/CloudTrail/eu-west-1/2026/11/20/111111111111_CloudTrail_eu-west-1_20261120T1005Z_c.json.gz",
		"AWSLogs/111111111111/CloudTrail/us-east-1/2026/11/21/111111111111_CloudTrail_us-east-1_20261121T0005Z_d.json.gz",
		"AWSLogs/111111111111/CloudTrail/us-east-1/2026/11/10/111111111111_CloudTrail_us-east-1_20261110T0005Z_old.json.gz",
		"AWSLogs/111111111111/CloudTrail-Digest/us-east-1/2026/11/20/111111111111_CloudTrail-Digest_us-east-1_x_20261120T1005Z.json.gz",
		"exports/lake.jsonl",
	}
	writeTree(t, dir, files)
	w := Window{From: time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)}
	var passed []string
	collect := func(f LogFile) {
		rel, _ := filepath.Rel(dir, f.Path)
		passed = append(passed, filepath.ToSlash(rel)+" "+string(f.Skip))
	}
	// The folder, and one of its files again by name.
	inv, err := Survey([]string{dir, filepath.Join(dir, files[0])}, w, collect)
	if err != nil {
		t.Fatal(err)
	}
	wantPassed := []string{files[5] + " outside_window", files[6] + " digest_file"}
	if !slices.Equal(passed, wantPassed) {
		t.Errorf("passed over while surveying %q, want %q", passed, wantPassed)
	}
	if len(inv.Days) != 2 || inv.Days[0].Start.Day() != 20 || inv.Days[1].Start.Day() != 21 {
		t.Fatalf("days %+v", inv.Days)
	}
	if len(inv.Loose) != 1 || filepath.Base(inv.Loose[0].Path) != "lake.jsonl" {
		t.Errorf("loose files %+v", inv.Loose)
	}
	// Four files in the day-20 folders, one on day 21 and the export: the
	// file named again is counted with its folder, whichever comes first.
	if inv.Files != 4+1+1 {
		t.Errorf("counted %d files", inv.Files)
	}
	again, err := Survey([]string{filepath.Join(dir, files[0]), dir}, w, nil)
	if err != nil || again.Files != inv.Files || len(again.Days[0].files) != 0 {
		t.Errorf("file named before its folder: counted %d, %d named files kept (%v)", again.Files, len(again.Days[0].files), err)
	}

	// A file added before its day is listed is read: the day was not listed
	// by the survey.
	late := "AWSLogs/111111111111/CloudTrail/us-east-1/2026/11/20/111111111111_CloudTrail_us-east-1_20261120T2355Z_e.json.gz"
	os.WriteFile(filepath.Join(dir, late), []byte("{}"), 0o644)
	passed = nil
	read, err := inv.Days[0].List(w, collect)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range read {
		rel, _ := filepath.Rel(dir, f.Path)
		got = append(got, filepath.ToSlash(rel))
		if f.Account != "111111111111" || f.Day.Day() != 20 || f.Delivered.IsZero() {
			t.Errorf("layout not read: %+v", f)
		}
	}
	want := []string{files[3], files[0], files[1], late}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("day 20 lists %q, want %q", got, want)
	}
	if !slices.Equal(passed, []string{files[2] + " not_a_log_file"}) {
		t.Errorf("day 20 passes over %q", passed)
	}
}
