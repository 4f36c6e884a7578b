package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestUsageAndHelp(t *testing.T) {
	if code, _, stderr := runCLI(t); code != exitUsage || !strings.Contains(stderr, "Usage: replay") {
		t.Errorf("no args: code %d, stderr %q", code, stderr)
	}
	if code, _, stderr := runCLI(t, "nope"); code != exitUsage || !strings.Contains(stderr, `unknown command "nope"`) {
		t.Errorf("unknown command: code %d, stderr %q", code, stderr)
	}
	for _, c := range commands() {
		code, _, stderr := runCLI(t, c.name, "--help")
		if code != exitOK || !strings.Contains(stderr, "Usage: replay "+c.name) {
			t.Errorf("%s --help: code %d, stderr %q", c.name, code, stderr)
		}
	}
	if code, _, _ := runCLI(t, "check", "--no-such-flag"); code != exitUsage {
		t.Errorf("bad flag: code %d", code)
	}
}

func writeCases(t *testing.T, cases string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cases.json")
	if err := os.WriteFile(p, []byte(cases), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const twoCases = `[
 {"name": "allowed", "request": {"principal": "arn:aws:iam::111111111111:user/a", "action": "s3:GetObject",
   "resource": {"resource": "arn:aws:s3:::b/k", "accountId": "111111111111"}},
  "identityPolicies": [{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}}],
  "expected": {"response": "Allowed"}},
 {"name": "wrong expectation", "request": {"principal": "arn:aws:iam::111111111111:user/a", "action": "s3:PutObject",
   "resource": {"resource": "arn:aws:s3:::b/k", "accountId": "111111111111"}},
  "identityPolicies": [],
  "expected": {"response": "Allowed"}}
]`

func TestCheck(t *testing.T) {
	path := writeCases(t, twoCases)
	code, stdout, _ := runCLI(t, "check", path)
	if code != exitFailure {
		t.Errorf("code %d, want %d", code, exitFailure)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 3 || lines[2] != "1 passed, 1 failed" {
		t.Fatalf("output %q", stdout)
	}
	var first, second struct {
		Name, Decision, Expected string
		Pass                     bool
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &second); err != nil {
		t.Fatal(err)
	}
	if first.Name != "allowed" || !first.Pass || first.Decision != "Allowed" {
		t.Errorf("first %+v", first)
	}
	if second.Pass || second.Decision != "ImplicitlyDenied" || second.Expected != "Allowed" {
		t.Errorf("second %+v", second)
	}

	// A documented divergence passes; a stale one fails.
	div := filepath.Join(t.TempDir(), "div.json")
	os.WriteFile(div, []byte(`[{"name":"wrong expectation","reason":"the case expects what the documentation contradicts"}]`), 0o600)
	if code, stdout, _ := runCLI(t, "check", "--divergences", div, path); code != exitOK || !strings.HasSuffix(strings.TrimSpace(stdout), "2 passed, 0 failed") {
		t.Errorf("with divergence: code %d, output %q", code, stdout)
	}
	os.WriteFile(div, []byte(`[{"name":"allowed","reason":"listed although the answer agrees with the case"}]`), 0o600)
	if code, _, _ := runCLI(t, "check", "--divergences", div, path); code != exitFailure {
		t.Errorf("stale divergence: code %d", code)
	}
}

func TestCheckMalformedFile(t *testing.T) {
	path := writeCases(t, `[{"name": "x", "request": `)
	code, _, stderr := runCLI(t, "check", path)
	if code != exitFailure || !strings.Contains(stderr, path) {
		t.Errorf("code %d, stderr %q", code, stderr)
	}
}

func TestExplain(t *testing.T) {
	path := writeCases(t, twoCases)
	code, stdout, _ := runCLI(t, "explain", "--case", "allowed", path)
	if code != exitOK {
		t.Fatalf("code %d", code)
	}
	for _, want := range []string{"identity", "statement #0", "decision: allow", "Allowed by an identity-based policy"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("explain output lacks %q:\n%s", want, stdout)
		}
	}
	if code, _, stderr := runCLI(t, "explain", "--case", "missing", path); code != exitFailure || !strings.Contains(stderr, "no case named") {
		t.Errorf("missing case: code %d, stderr %q", code, stderr)
	}
}
