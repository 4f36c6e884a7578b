package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/replay-iam/replay/analysis"
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

	var m Manifest
	b, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	// Every record is accounted for, file by file and in total.
	tot := m.Totals
	sum := tot.Evaluated + tot.Unparseable + tot.NotCloudTrail + tot.OutsideWindow
	for _, n := range tot.Skips {
		sum += n
	}
	if tot.Records == 0 || sum != tot.Records {
		t.Errorf("records %d, accounted %d", tot.Records, sum)
	}
	for _, f := range m.Files {
		fs := f.Evaluated + f.Unparseable + f.NotCloudTrail + f.OutsideWindow
		for _, n := range f.Skips {
			fs += n
		}
		if fs != f.Records {
			t.Errorf("%s: records %d, accounted %d", f.Path, f.Records, fs)
		}
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
}
