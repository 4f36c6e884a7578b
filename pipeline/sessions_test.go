package pipeline

import (
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/replay-iam/replay/analysis"
)

// runWith runs a replay in the background context.
func runWith(t *testing.T, cfg Config) (*Result, error) {
	t.Helper()
	return Run(context.Background(), cfg)
}

// reportDiff names the first part of two reports that differs, "" when
// none does. Usage is compared by its rows: the sets of resource hashes
// behind its distinct counts are capped, and which hashes a capped set
// keeps depends on the order of merges.
func reportDiff(a, b *analysis.Report) string {
	switch {
	case !reflect.DeepEqual(a.UsageRows(), b.UsageRows()):
		return "usage"
	case !reflect.DeepEqual(a.DeniedRows(), b.DeniedRows()):
		return "denials"
	case !reflect.DeepEqual(a.Principals, b.Principals):
		return "principals"
	case !reflect.DeepEqual(a.Statements, b.Statements):
		return "statements"
	case !reflect.DeepEqual(a.Agreement, b.Agreement):
		return "agreement"
	case !reflect.DeepEqual(a.Coverage, b.Coverage):
		return "coverage"
	case !reflect.DeepEqual(a.Unmapped, b.Unmapped) || a.Events != b.Events:
		return "unmapped calls or events"
	}
	return ""
}

// readDelivery returns the records of a gzipped delivery file.
func readDelivery(t *testing.T, path string) []json.RawMessage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Records []json.RawMessage }
	if err := json.NewDecoder(zr).Decode(&body); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return body.Records
}

// writeDelivery writes records as a gzipped delivery file.
func writeDelivery(t *testing.T, path string, records []json.RawMessage) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	if err := json.NewEncoder(zw).Encode(map[string]any{"Records": records}); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// issuesSession reports whether a raw record is an AssumeRole call.
func issuesSession(t *testing.T, raw json.RawMessage) bool {
	var head struct{ EventSource, EventName string }
	if err := json.Unmarshal(raw, &head); err != nil {
		t.Fatal(err)
	}
	return head.EventSource == "sts.amazonaws.com" && head.EventName == "AssumeRole"
}

// readDecisions returns every row of a decisions folder, sorted.
func readDecisions(t *testing.T, dir string) []analysis.DecisionRow {
	t.Helper()
	var rows []analysis.DecisionRow
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !strings.HasSuffix(path, ".parquet") {
			return fmt.Errorf("%s: not a decisions file", path)
		}
		part, err := parquet.ReadFile[analysis.DecisionRow](path)
		rows = append(rows, part...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(rows, func(a, b analysis.DecisionRow) int {
		return cmp.Or(cmp.Compare(a.EventID, b.EventID), cmp.Compare(a.Action, b.Action), cmp.Compare(a.Resource, b.Resource))
	})
	return rows
}

// decisionFiles counts the shared files and the groups' own files of a
// decisions folder.
func decisionFiles(t *testing.T, dir string) (shared, own int) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "day=*", "*.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), "part-shared-") {
			shared++
		} else {
			own++
		}
	}
	return shared, own
}

// TestSessionsObservedInlineOrBeforehand moves the AssumeRole records of
// the sample estate to where a replay reads them after the records that
// use their sessions: for the first account into a file of a region whose
// group sorts after the account's own, for the second to the end of their
// files, and for the third, from the last file of the first day into a
// file delivered just after midnight. Whether sessions are observed inline
// (with groups replayed again), by a session pass, or as the run decides,
// with any number of workers, and with each file a slice of its own, the
// report, the decisions and the verification of replacement policies from
// the run's ledger must be those of the untouched estate, and the
// accounting the same in every run.
func TestSessionsObservedInlineOrBeforehand(t *testing.T) {
	sum, snap := sampleEstate(t)
	baseDecisions := t.TempDir()
	base, err := runWith(t, Config{Logs: []string{sum.Logs}, Snapshot: snap, Workers: 2, Decisions: baseDecisions, passes: sessionPassAlways})
	if err != nil {
		t.Fatal(err)
	}
	wantRows := readDecisions(t, baseDecisions)
	// Replacements some requests fail, verified on the untouched estate.
	replacements := replacementMaps(t, base.Report)["every other action"]
	wantVerified, err := Verify(context.Background(), Config{Logs: []string{sum.Logs}, Snapshot: snap, Workers: 2}, replacements)
	if err != nil {
		t.Fatal(err)
	}

	var files []string
	filepath.WalkDir(sum.Logs, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(path, "/CloudTrail/") {
			files = append(files, path)
		}
		return err
	})
	slices.Sort(files)
	moved := map[string]int{}
	for i, path := range files {
		acct := filepath.Base(path)[:12]
		records := readDelivery(t, path)
		var kept, sts []json.RawMessage
		for _, raw := range records {
			if issuesSession(t, raw) {
				sts = append(sts, raw)
			} else {
				kept = append(kept, raw)
			}
		}
		if len(sts) == 0 {
			continue
		}
		lastOfDay := i+1 == len(files) || filepath.Dir(files[i+1]) != filepath.Dir(path)
		switch {
		case acct == "200000000001":
			// A us-east-1 file of the same day, delivered with this one.
			other := strings.ReplaceAll(path, "eu-west-1", "us-east-1")
			writeDelivery(t, other, sts)
			moved["another region"] += len(sts)
		case acct == "200000000002":
			kept = append(kept, sts...)
			moved["end of file"] += len(sts)
		case acct == "200000000003" && lastOfDay && strings.Contains(path, "/2026/11/01/"):
			next := filepath.Join(strings.Replace(filepath.Dir(path), "/2026/11/01", "/2026/11/02", 1),
				acct+"_CloudTrail_eu-west-1_20261102T0005Z_late.json.gz")
			writeDelivery(t, next, sts)
			moved["next day"] += len(sts)
		default:
			continue
		}
		writeDelivery(t, path, kept)
	}
	for _, how := range []string{"another region", "end of file", "next day"} {
		if moved[how] == 0 {
			t.Fatalf("no AssumeRole record moved to %s (%v)", how, moved)
		}
	}

	var firstLog []FileStats
	for _, passes := range []sessionPassMode{sessionPassNever, sessionPassAlways, sessionPassAuto} {
		// smallGroupRows: groups over 40 rows write decisions of their own,
		// the others to the shared files.
		for _, run := range []struct{ workers, sliceFiles, smallGroupRows int }{{1, 0, 0}, {3, 0, 0}, {3, 1, 0}, {3, 0, 40}} {
			workers := run.workers
			name := fmt.Sprintf("passes %d, %d workers, slices of %d files, %d rows held", passes, workers, run.sliceFiles, run.smallGroupRows)
			decisions := t.TempDir()
			var log []FileStats
			cfg := Config{Logs: []string{sum.Logs}, Snapshot: snap, Workers: workers, Decisions: decisions, passes: passes,
				sliceFiles: run.sliceFiles, FileLog: func(st *FileStats) error { log = append(log, *st); return nil },
				Ledger: t.TempDir(), ledgerLimit: 3, smallGroupRows: run.smallGroupRows}
			res, err := runWith(t, cfg)
			if err != nil {
				t.Fatal(err)
			}
			// The ledger keeps what groups replayed again found the second
			// time only.
			if verified, err := VerifyLedger(context.Background(), cfg, res.Ledger, replacements); err != nil {
				t.Fatal(err)
			} else if !reflect.DeepEqual(verified, wantVerified) {
				t.Errorf("%s: the verification differs from the untouched estate's:\n%s", name, verificationDiff(verified, wantVerified))
			}
			if diff := reportDiff(res.Report, base.Report); diff != "" {
				t.Errorf("%s: the report differs from the untouched estate's in %s", name, diff)
			}
			if rows := readDecisions(t, decisions); !reflect.DeepEqual(rows, wantRows) {
				t.Errorf("%s: %d decisions differ from the untouched estate's %d", name, len(rows), len(wantRows))
			}
			shared, own := decisionFiles(t, decisions)
			if shared == 0 || run.smallGroupRows > 0 && own == 0 {
				t.Errorf("%s: %d shared decision files and %d of groups; want some shared, and some of groups when few rows are held", name, shared, own)
			}
			if firstLog == nil {
				firstLog = log
			} else if !reflect.DeepEqual(log, firstLog) {
				t.Errorf("%s: the accounting differs", name)
			}
			if res.Sessions != base.Sessions {
				t.Errorf("%s: %d sessions issued, want %d", name, res.Sessions, base.Sessions)
			}
			switch passes {
			case sessionPassNever:
				if res.GroupsReplayedAgain == 0 || res.SessionPassDays != 0 {
					t.Errorf("%s: %d groups replayed again, %d days with a session pass; want some, none", name, res.GroupsReplayedAgain, res.SessionPassDays)
				}
			case sessionPassAlways:
				if res.GroupsReplayedAgain != 0 || res.SessionPassDays != 2 {
					t.Errorf("%s: %d groups replayed again, %d days with a session pass; want none, 2", name, res.GroupsReplayedAgain, res.SessionPassDays)
				}
			case sessionPassAuto:
				// A day cut into slices gets a session pass.
				if run.sliceFiles > 0 && (res.GroupsReplayedAgain != 0 || res.SessionPassDays != 2) {
					t.Errorf("%s: %d groups replayed again, %d days with a session pass; want none, 2", name, res.GroupsReplayedAgain, res.SessionPassDays)
				}
			}
			t.Logf("%s: %d groups (%d files) replayed again, %d days with a session pass", name, res.GroupsReplayedAgain, res.FilesReplayedAgain, res.SessionPassDays)
		}
	}
}
