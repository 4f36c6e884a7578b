package main

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/replay-iam/replay/analysis"
	"github.com/replay-iam/replay/catalog"
	"github.com/replay-iam/replay/internal/sample"
)

// TestDemoReports runs the demo end to end and checks its reports by
// reading them back.
func TestDemoReports(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"demo", "--dir", dir, "--quiet"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := filepath.Join(dir, "reports")

	m := readManifest(t, out)
	// Every record is accounted for, file by file and in total.
	tot := m.Totals
	sum := accounted(&tot)
	if tot.Records == 0 || sum != tot.Records {
		t.Errorf("records %d, accounted %d", tot.Records, sum)
	}
	files := readFileRows(t, out)
	var records int64
	for _, f := range files {
		if f.Accounted() != f.Records {
			t.Errorf("%s: records %d, accounted %d", f.Path, f.Records, f.Accounted())
		}
		records += f.Records
	}
	if len(files) != tot.Files || records != tot.Records {
		t.Errorf("files.parquet: %d files, %d records; manifest totals %d, %d", len(files), records, tot.Files, tot.Records)
	}
	// The manifest lists the same files, in the same order, with the same
	// accounting.
	if len(m.Files) != len(files) {
		t.Fatalf("manifest lists %d files, files.parquet %d", len(m.Files), len(files))
	}
	for i, f := range m.Files {
		r := files[i]
		accounted := f.Evaluated + f.Unparseable + f.NotCloudTrail + f.OutsideWindow + f.Duplicates + f.OtherPrincipal
		for _, n := range f.Skips {
			accounted += n
		}
		if f.Path != r.Path || f.Records != r.Records || accounted != r.Accounted() || f.Skipped != r.Skipped {
			t.Errorf("file %d: manifest %+v, files.parquet %+v", i, f, r)
		}
	}
	if entries, _ := os.ReadDir(out); len(entries) != len(publishedNames) {
		t.Errorf("report folder holds %d entries, want %d (%v)", len(entries), len(publishedNames), entries)
	}
	// The manifest vouches for each report it was written with.
	for _, name := range reportNames[:len(reportNames)-1] {
		if sum, err := fileDigest(filepath.Join(out, name)); err != nil || m.Reports[name] != sum {
			t.Errorf("%s: manifest digest %q, file %q (%v)", name, m.Reports[name], sum, err)
		}
	}
	var unmapped int64
	for _, n := range tot.UnmappedEvents {
		unmapped += n
	}
	if unmapped != tot.Skips["unmapped_event"] {
		t.Errorf("unmapped events %v, skips %v", tot.UnmappedEvents, tot.Skips)
	}
	if tot.FilesSkipped["digest_file"] == 0 {
		t.Error("digest files not counted")
	}
	// The sample's replayed verdicts agree with its logged outcomes.
	if len(m.Agreement.Disagree) != 0 || m.Agreement.Agree != tot.Requests {
		t.Errorf("agreement %+v, requests %d", m.Agreement, tot.Requests)
	}

	usage, err := parquet.ReadFile[analysis.UsageRow](filepath.Join(out, "usage.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	var events int64
	found := false
	for _, u := range usage {
		events += u.Events
		if u.PrincipalARN == "arn:aws:iam::200000000001:role/svc/app" && u.Action == "s3:GetObject" && u.Decision == "allow" {
			found = u.DistinctResources > 1 && u.FirstSeen.Before(u.LastSeen) && strings.HasPrefix(u.SampleResource, "arn:aws:s3:::data-200000000001/")
		}
	}
	if events != tot.Requests {
		t.Errorf("usage counts %d events, %d requests evaluated", events, tot.Requests)
	}
	if !found {
		t.Error("no usage row for the app role's object reads")
	}

	denied, err := parquet.ReadFile[analysis.DeniedRow](filepath.Join(out, "denied.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	var scp, identity bool
	for _, d := range denied {
		if d.Action == "ec2:DescribeInstances" && d.BlockedBy == "scp" && d.PolicyID == "scp:RegionLock" && d.LoggedErrorCode == "Client.UnauthorizedOperation" {
			scp = true
		}
		if d.Action == "s3:DeleteObject" && d.BlockedBy == "identity" && d.LoggedErrorCode == "AccessDenied" && d.Explanation != "" {
			identity = true
		}
	}
	if !scp || !identity {
		t.Errorf("denials by the region SCP (%v) and by missing identity grants (%v) not both reported: %+v", scp, identity, denied)
	}

	principals, err := parquet.ReadFile[analysis.PrincipalRow](filepath.Join(out, "principals.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	byARN := map[string]analysis.PrincipalRow{}
	for _, p := range principals {
		byARN[p.PrincipalARN] = p
	}
	// 3 accounts × (2 users + 3 roles), plus the EC2 service that assumes
	// the app role.
	if len(principals) != 16 {
		t.Errorf("%d principals", len(principals))
	}
	if p := byARN["arn:aws:iam::200000000001:user/bots/legacy-bot"]; p.Events == 0 || p.LastSeen == nil || p.UsedActions != 2 {
		t.Errorf("legacy-bot %+v", p)
	}
	if !strings.Contains(stdout.String(), "agree") {
		t.Errorf("summary: %s", stdout.String())
	}
	checkReviewReports(t, out, usage, byARN, tot.UnmappedEvents, countBatches(t, dir))
	checkDecisions(t, out, tot.Requests)
}

// checkDecisions reads back the demo's decisions table.
func checkDecisions(t *testing.T, out string, requests int64) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(out, "decisions", "day=*", "part-*.parquet"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no decision files: %v", err)
	}
	var n int64
	var scpDeny, session bool
	for _, f := range files {
		rows, err := parquet.ReadFile[analysis.DecisionRow](f)
		if err != nil {
			t.Fatal(err)
		}
		day := strings.TrimPrefix(filepath.Base(filepath.Dir(f)), "day=")
		for _, r := range rows {
			n++
			if r.EventTime.UTC().Format("2006-01-02") != day || r.EventID == "" || r.Action == "" {
				t.Errorf("%s: row %+v", f, r)
			}
			if r.Decision == "explicit_deny" && r.BlockedBy == "scp" && r.PolicyID == "scp:RegionLock" && r.LoggedErrorCode != "" {
				scpDeny = true
			}
			if r.PrincipalARN == "arn:aws:iam::200000000001:role/svc/app" && strings.HasPrefix(r.SessionARN, "arn:aws:sts::200000000001:assumed-role/app/") &&
				r.AccessKeyID != "" && r.Decision == "allow" && r.PolicyID != "" {
				session = true
			}
		}
	}
	if n != requests {
		t.Errorf("%d decision rows, %d requests", n, requests)
	}
	// The random event ids are Huffman-coded (GZIP), the rest zstd.
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range pf.Metadata().RowGroups[0].Columns {
		want := "ZSTD"
		if c.MetaData.PathInSchema[0] == "event_id" {
			want = "GZIP"
		}
		if got := c.MetaData.Codec.String(); got != want {
			t.Errorf("decisions column %v: codec %s, want %s", c.MetaData.PathInSchema, got, want)
		}
		if c.MetaData.PathInSchema[0] == "event_time" && !slices.Contains(c.MetaData.Encoding, format.DeltaBinaryPacked) {
			t.Errorf("decisions column event_time: encodings %v, want DELTA_BINARY_PACKED", c.MetaData.Encoding)
		}
	}
	if !scpDeny || !session {
		t.Errorf("decisions: an SCP denial found %v, an app session's allow found %v", scpDeny, session)
	}
}

// countBatches reads the demo's logs apart from replay: it returns the
// number of distinct PartiQL batches each role logged allowed.
func countBatches(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	seen := map[string]bool{}
	allowed := map[string]int64{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(path, ".json.gz") || strings.Contains(path, "CloudTrail-Digest") {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return err
		}
		var log struct {
			Records []struct {
				EventID, EventName, ErrorCode string
				UserIdentity                  struct {
					SessionContext struct{ SessionIssuer struct{ ARN string } }
				}
			}
		}
		if err := json.NewDecoder(zr).Decode(&log); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, r := range log.Records {
			if r.EventName == "BatchExecuteStatement" && !seen[r.EventID] {
				seen[r.EventID] = true
				if r.ErrorCode == "" {
					allowed[r.UserIdentity.SessionContext.SessionIssuer.ARN]++
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) == 0 {
		t.Fatal("the demo logged no PartiQL batch")
	}
	return allowed
}

// checkReviewReports checks unused.parquet, statements.parquet,
// suggestions.parquet and the principals' granted actions of the demo.
// batches counts the PartiQL batches each role logged allowed.
func checkReviewReports(t *testing.T, out string, usage []analysis.UsageRow, principals map[string]analysis.PrincipalRow, unmapped map[string]int64, batches map[string]int64) {
	t.Helper()
	const app = "arn:aws:iam::200000000001:role/svc/app"
	const bot = "arn:aws:iam::200000000001:user/bots/legacy-bot"
	cat := catalog.Default()

	// legacy-bot's inline policy allows s3:* and ec2:Describe*; the region
	// SCP and the S3 RCP are conditional and leave all of it granted.
	var want int64
	for _, svc := range []string{"s3", "ec2"} {
		s, _ := cat.Service(svc)
		for _, a := range s.Actions {
			if svc == "s3" || strings.HasPrefix(a.Name, "Describe") {
				want++
			}
		}
	}
	if g := principals[bot].GrantedActions; g == nil || *g != want {
		t.Errorf("legacy-bot granted %v actions, want %d", g, want)
	}
	if p := principals["ec2.amazonaws.com"]; p.GrantedActions != nil {
		t.Errorf("a service principal has no expanded grants: %+v", p)
	}

	used := map[string]bool{}
	allowedEvents := map[string]int64{}
	for _, u := range usage {
		if u.Decision == "allow" {
			used[u.PrincipalARN+" "+u.Action] = true
			allowedEvents[u.PrincipalARN+" "+strings.Split(u.Action, ":")[0]] += u.Events
		}
	}
	unused, err := parquet.ReadFile[analysis.UnusedRow](filepath.Join(out, "unused.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	perPrincipal := map[string]int64{}
	var deleteQueue bool
	for _, u := range unused {
		perPrincipal[u.PrincipalARN]++
		if used[u.PrincipalARN+" "+u.Action] {
			t.Errorf("%s used %s, yet it is listed unused", u.PrincipalARN, u.Action)
		}
		if u.PrincipalARN == app && u.Action == "sqs:DeleteQueue" {
			deleteQueue = u.GrantedBy == "arn:aws:iam::200000000001:policy/AppAccess" && u.Coverage == analysis.CoverageUnused &&
				u.AccessLevel == "Write" && !u.ServiceUsed
		}
	}
	if !deleteQueue {
		t.Error("the app role's unused sqs:DeleteQueue (AppAccess, never used, logged as a management event) is not reported as such")
	}
	if p := principals[bot]; perPrincipal[bot] != *p.GrantedActions-p.UsedActions {
		t.Errorf("legacy-bot: %d unused rows, granted %d, used %d", perPrincipal[bot], *p.GrantedActions, p.UsedActions)
	}

	statements, err := parquet.ReadFile[analysis.StatementRow](filepath.Join(out, "statements.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	var sqsStmt, dynamoStmt bool
	for _, st := range statements {
		if st.PrincipalARN != app || st.PolicyID != "arn:aws:iam::200000000001:policy/AppAccess" {
			continue
		}
		switch st.Statement {
		case "#4": // sqs:*, never used
			s, _ := cat.Service("sqs")
			sqsStmt = st.EventsAllowed == 0 && st.LastUsed == nil && st.GrantedActions == int64(len(s.Actions))
		case "#3": // the orders table: the only grant of DynamoDB
			dynamoStmt = st.EventsAllowed == allowedEvents[app+" dynamodb"] && st.EventsAllowed > 0 && st.LastUsed != nil && st.GrantedActions == 4
		}
	}
	if !sqsStmt || !dynamoStmt {
		t.Errorf("AppAccess statements of the app role: sqs ok %v, dynamodb ok %v: %+v", sqsStmt, dynamoStmt, statements)
	}

	suggestions, err := parquet.ReadFile[analysis.SuggestionRow](filepath.Join(out, "suggestions.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if len(suggestions) == 0 {
		t.Fatal("no suggestions")
	}
	// The sample's only unmapped calls are the app roles' PartiQL batches,
	// logged allowed, and their conditional transactions, logged denied.
	// The batches make the roles' suggestions unverifiable, and the reports
	// say so; the transactions do not.
	const batch, transaction = "dynamodb.amazonaws.com BatchExecuteStatement", "dynamodb.amazonaws.com ExecuteTransaction"
	var allowed int64
	for _, n := range batches {
		allowed += n
	}
	if len(unmapped) != 2 || unmapped[batch] != allowed || unmapped[transaction] == 0 {
		t.Fatalf("unmapped calls %v, want the app roles' %d batches and some transactions", unmapped, allowed)
	}
	for _, p := range principals {
		want := batches[p.PrincipalARN]
		if p.UncheckedEvents != want || want > 0 && !slices.Equal(p.UncheckedCalls, []string{batch}) || want == 0 && len(p.UncheckedCalls) != 0 {
			t.Errorf("principal %s: %d unchecked calls %v, want %d", p.PrincipalARN, p.UncheckedEvents, p.UncheckedCalls, want)
		}
	}
	unverified := 0
	for _, sg := range suggestions {
		p := principals[sg.PrincipalARN]
		if p.UncheckedEvents > 0 {
			unverified++
		}
		if sg.Verified == nil || *sg.Verified == (p.UncheckedEvents > 0) || sg.FailedEvents != 0 || sg.RemovableActions != sg.GrantedActions-sg.UsedActions ||
			sg.UncheckedEvents != p.UncheckedEvents || !slices.Equal(sg.UncheckedCalls, p.UncheckedCalls) {
			t.Errorf("suggestion %s: verified %v, failed %d, removable %d of %d granted, %d used, %d unchecked %v", sg.PrincipalARN,
				sg.Verified, sg.FailedEvents, sg.RemovableActions, sg.GrantedActions, sg.UsedActions, sg.UncheckedEvents, sg.UncheckedCalls)
		}
		if sg.PrincipalARN == app {
			// Its PartiQL statements are read as the actions they need.
			if sg.VerifiedEvents != allowedEvents[app+" s3"]+allowedEvents[app+" dynamodb"]+allowedEvents[app+" kms"] || !used[app+" dynamodb:PartiQLSelect"] ||
				!strings.Contains(sg.PolicyJSON, `"arn:aws:dynamodb:eu-west-1:200000000001:table/orders"`) || !strings.Contains(sg.PolicyJSON, "dynamodb:PartiQLSelect") ||
				strings.Contains(sg.PolicyJSON, "sqs:") {
				t.Errorf("app suggestion: %d events checked, policy %s", sg.VerifiedEvents, sg.PolicyJSON)
			}
		}
	}
	if unverified == 0 {
		t.Error("no suggestion is for a principal with unchecked calls")
	}
}

// TestReportsAreReproducible runs the same replay with different worker
// counts: every report must be byte for byte the same, and the decisions
// the same rows (which shared file holds a group's rows depends on the
// order groups end in).
func TestReportsAreReproducible(t *testing.T) {
	dir := t.TempDir()
	sum, err := sample.Generate(dir, sample.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	var outs []string
	for _, workers := range []string{"1", "3"} {
		out := filepath.Join(dir, "reports-"+workers)
		var stdout, stderr bytes.Buffer
		args := []string{"run", "--snapshot", sum.Snapshot, "--logs", sum.Logs, "--out", out, "--workers", workers, "--decisions", "--quiet"}
		if code := run(context.Background(), args, &stdout, &stderr); code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		outs = append(outs, out)
	}
	files := 0
	err = filepath.WalkDir(outs[0], func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(outs[0], p)
		if strings.HasPrefix(rel, "decisions"+string(filepath.Separator)) {
			return nil
		}
		a, _ := os.ReadFile(p)
		b, err := os.ReadFile(filepath.Join(outs[1], rel))
		if err != nil {
			t.Errorf("%s: missing from the second run: %v", rel, err)
			return nil
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between 1 and 3 workers", rel)
		}
		files++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < len(reportNames) {
		t.Errorf("compared %d files", files)
	}
	a, b := decisionRows(t, outs[0]), decisionRows(t, outs[1])
	if len(a) == 0 || !reflect.DeepEqual(a, b) {
		t.Errorf("%d and %d decisions with 1 and 3 workers, want the same rows", len(a), len(b))
	}
}

// decisionRows returns the rows of the decisions table of a run's
// reports, sorted.
func decisionRows(t *testing.T, out string) []analysis.DecisionRow {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(out, "decisions", "day=*", "*.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []analysis.DecisionRow
	for _, f := range files {
		part, err := parquet.ReadFile[analysis.DecisionRow](f)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, part...)
	}
	slices.SortFunc(rows, func(a, b analysis.DecisionRow) int {
		return cmp.Or(strings.Compare(a.EventID, b.EventID), strings.Compare(a.Action, b.Action), strings.Compare(a.Resource, b.Resource),
			strings.Compare(fmt.Sprint(a), fmt.Sprint(b)))
	})
	return rows
}

// TestRunSelectsPrincipals replays the sample for one role and a name no
// principal has: the reports cover the role alone, as a run without the
// selection reports it, the manifest names the selection and accounts for
// the other callers' records, and the name no principal has is warned of.
func TestRunSelectsPrincipals(t *testing.T) {
	dir := t.TempDir()
	sum, err := sample.Generate(dir, sample.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	replayed := func(out string, extra ...string) string {
		var stdout, stderr bytes.Buffer
		args := append([]string{"run", "--snapshot", sum.Snapshot, "--logs", sum.Logs, "--out", out, "--quiet"}, extra...)
		if code := run(context.Background(), args, &stdout, &stderr); code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		return stderr.String()
	}
	var stderr bytes.Buffer
	session := "arn:aws:sts::200000000002:assumed-role/app/i-0abc"
	args := []string{"run", "--snapshot", sum.Snapshot, "--logs", sum.Logs, "--out", filepath.Join(dir, "session"), "--principal", session}
	if code := run(context.Background(), args, io.Discard, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "name its role") {
		t.Errorf("--principal naming a session: exit %d, stderr %q; want a usage error naming the role", code, stderr.String())
	}
	all, some := filepath.Join(dir, "all"), filepath.Join(dir, "some")
	replayed(all)
	const role, missing = "arn:aws:iam::200000000002:role/svc/app", "arn:aws:iam::200000000002:role/app"
	warned := replayed(some, "--principal", role, "--principal", missing)
	if !strings.Contains(warned, "--principal "+missing+": no such") || !strings.Contains(warned, "(with its path: "+role+")") ||
		strings.Contains(warned, "--principal "+role+":") {
		t.Errorf("stderr %q: want a warning of %s alone, giving %s", warned, missing, role)
	}

	principals, err := parquet.ReadFile[analysis.PrincipalRow](filepath.Join(some, "principals.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if len(principals) != 1 || principals[0].PrincipalARN != role || principals[0].Events == 0 {
		t.Fatalf("principals.parquet: %+v, want %s alone, with its events", principals, role)
	}
	sameRows(t, some, all, "principals.parquet", role, func(r *analysis.PrincipalRow) string { return r.PrincipalARN })
	sameRows(t, some, all, "usage.parquet", role, func(r *analysis.UsageRow) string { return r.PrincipalARN })
	sameRows(t, some, all, "unused.parquet", role, func(r *analysis.UnusedRow) string { return r.PrincipalARN })
	sameRows(t, some, all, "suggestions.parquet", role, func(r *analysis.SuggestionRow) string { return r.PrincipalARN })

	m := readManifest(t, some)
	tot := m.Totals
	if n := accounted(&tot); !reflect.DeepEqual(m.Principals, []string{role, missing}) || tot.OtherPrincipal == 0 || n != tot.Records {
		t.Errorf("manifest: principals %v, other principals' records %d, %d of %d records accounted for", m.Principals, tot.OtherPrincipal, n, tot.Records)
	}
}

// readManifest reads the manifest.json of a run's reports.
func readManifest(t *testing.T, out string) Manifest {
	t.Helper()
	var m Manifest
	b, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatalf("the reports were not written: %v", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// accounted is the sum of the categories the manifest's totals put
// records in, which equals the records read.
func accounted(tot *ManifestTotals) int64 {
	sum := tot.Evaluated + tot.Unparseable + tot.NotCloudTrail + tot.OutsideWindow + tot.Duplicates + tot.OtherPrincipal
	for _, n := range tot.Skips {
		sum += n
	}
	return sum
}

// sameRows checks that a report of the run for principal alone holds
// the rows the report of the run for every principal holds for it.
func sameRows[T any](t *testing.T, some, all, name, principal string, arn func(*T) string) {
	t.Helper()
	got, err := parquet.ReadFile[T](filepath.Join(some, name))
	if err != nil {
		t.Fatal(err)
	}
	want, err := parquet.ReadFile[T](filepath.Join(all, name))
	if err != nil {
		t.Fatal(err)
	}
	want = slices.DeleteFunc(want, func(r T) bool { return arn(&r) != principal })
	if len(got) == 0 || !reflect.DeepEqual(got, want) {
		t.Errorf("%s: %d rows, want the %d rows of %s without the selection", name, len(got), len(want), principal)
	}
}
