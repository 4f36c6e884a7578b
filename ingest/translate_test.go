package ingest

import (
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/replay-iam/replay/catalog"
	"github.com/replay-iam/replay/engine"
)

// readRecords reads every record of a log file.
func readRecords(t *testing.T, path string) []*Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := NewReader(f, path)
	if err != nil {
		t.Fatal(err)
	}
	var out []*Record
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
}

// TestTranslateEveryIdentity replays one realistic record per userIdentity
// type against the test snapshot. The expected verdicts follow from the
// snapshot: role app may s3:GetObject anywhere, role tagged may read
// team-${aws:PrincipalTag/team}, alice's join is incomplete, bob and the
// jobs queue are not in the snapshot, the RCP denies S3 without TLS.
func TestTranslateEveryIdentity(t *testing.T) {
	snap, err := LoadSnapshot(filepath.Join("testdata", "snapshot"))
	if err != nil {
		t.Fatal(err)
	}
	recs := readRecords(t, filepath.Join("testdata", "records", "identities.json"))
	sessions := NewSessions()
	for _, rec := range recs {
		if _, err := sessions.Observe(rec); err != nil {
			t.Fatal(err)
		}
	}
	type want struct {
		action, resource string
		verdict          engine.Verdict
	}
	tests := []struct {
		name     string
		skip     Skip
		outcome  Outcome
		requests []want
		complete bool
		joined   bool
	}{
		{"role session reads an object", NotSkipped, OutcomeSuccess,
			[]want{{"s3:GetObject", "arn:aws:s3:::data/reports/2026.csv", engine.VerdictAllow}}, true, false},
		{"role session denied a write", NotSkipped, OutcomeAccessDenied,
			[]want{{"s3:PutObject", "arn:aws:s3:::data/in/new.csv", engine.VerdictImplicitDeny}}, true, false},
		{"user assumes a role without an identity grant", NotSkipped, OutcomeSuccess,
			[]want{{"sts:AssumeRole", "arn:aws:iam::111111111111:role/tagged", engine.VerdictImplicitDeny}}, false, true},
		{"tagged session reads its team's bucket", NotSkipped, OutcomeSuccess,
			[]want{{"s3:GetObject", "arn:aws:s3:::team-b/plan.txt", engine.VerdictAllow}}, true, true},
		{"federated user not in the snapshot", NotSkipped, OutcomeSuccess,
			[]want{{"sqs:SendMessage", "arn:aws:sqs:eu-west-1:111111111111:jobs", engine.VerdictImplicitDeny}}, false, false},
		{"root lists buckets", NotSkipped, OutcomeSuccess,
			[]want{{"s3:ListAllMyBuckets", "*", engine.VerdictAllow}}, true, true},
		{"service without a bucket policy grant", NotSkipped, OutcomeSuccess,
			[]want{{"s3:GetBucketAcl", "arn:aws:s3:::data", engine.VerdictImplicitDeny}}, true, true},
		{"resource owner's copy of a cross-account call", SkipOtherAccountCaller, OutcomeSuccess, nil, true, true},
		{"identity center portal call", SkipNoIAMAction, OutcomeSuccess, nil, true, true},
		{"unknown caller", SkipUnknownPrincipal, OutcomeSuccess, nil, true, true},
		{"console sign-in", SkipNoIAMAction, OutcomeSuccess, nil, true, true},
		{"service event", SkipNotAPICall, OutcomeSuccess, nil, true, true},
		{"unmapped call", SkipUnmappedEvent, OutcomeSuccess, nil, true, true},
		{"copy needs put on the target and get on the source version", NotSkipped, OutcomeSuccess,
			[]want{{"s3:PutObject", "arn:aws:s3:::data/copy/a.csv", engine.VerdictImplicitDeny},
				{"s3:GetObjectVersion", "arn:aws:s3:::data/reports/2026.csv", engine.VerdictImplicitDeny}}, true, false},
		{"user with an incomplete join reads an object", NotSkipped, OutcomeSuccess,
			[]want{{"s3:GetObject", "arn:aws:s3:::data/reports/2026.csv", engine.VerdictAllow}}, false, true},
	}
	if len(recs) != len(tests) {
		t.Fatalf("%d records, %d expectations", len(recs), len(tests))
	}
	tr := NewTranslator(catalog.Default(), snap, sessions)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tr.Translate(recs[i])
			if got.Skip != tt.skip || got.Outcome != tt.outcome {
				t.Fatalf("skip %v (%s) outcome %v, want %v %v", got.Skip, got.Detail, got.Outcome, tt.skip, tt.outcome)
			}
			// An unmapped call names its caller, for the reports to say
			// whose calls no policy was checked against.
			if tt.skip == SkipUnmappedEvent && (got.Principal.Kind != engine.PrincipalRoleSession || got.Principal.EntityARN != "arn:aws:iam::111111111111:role/svc/app") {
				t.Errorf("unmapped call's caller: %+v", got.Principal)
			}
			if tt.outcome == OutcomeAccessDenied && (!got.HasBlockedBy || got.BlockedBy != engine.PolicyIdentity || got.Explicit) {
				t.Errorf("denial names %v (explicit %v, named %v), want an implicit denial by identity policies", got.BlockedBy, got.Explicit, got.HasBlockedBy)
			}
			if len(got.Requests) != len(tt.requests) {
				t.Fatalf("%d requests, want %d", len(got.Requests), len(tt.requests))
			}
			for j, w := range tt.requests {
				r := &got.Requests[j]
				d := engine.Authorize(&r.Request, r.Join.Policies)
				if r.Action != w.action || r.Request.Resource != w.resource || d.Verdict != w.verdict {
					t.Errorf("request %d: %s on %s: %s; want %s on %s: %s", j, r.Action, r.Request.Resource, d.Explain(), w.action, w.resource, w.verdict)
				}
				if r.Join.Complete != tt.complete || r.Join.SessionJoined != tt.joined {
					t.Errorf("request %d: complete %v joined %v, want %v %v", j, r.Join.Complete, r.Join.SessionJoined, tt.complete, tt.joined)
				}
			}
		})
	}

	// The tagged session's credentials used after they expired: the
	// session is not joined, however long it is held.
	late := *recs[3]
	late.EventTime = recs[2].EventTime.Add(MaxSessionLifetime + time.Second)
	for _, r := range tr.Translate(&late).Requests {
		if r.Join.SessionJoined {
			t.Errorf("a call at %s joined the session issued at %s", late.EventTime, recs[2].EventTime)
		}
	}
	if in := tr.Translate(recs[3]).Requests; len(in) == 0 || !in[0].Join.SessionJoined {
		t.Errorf("a call within the session's lifetime did not join it")
	}
}

// TestIPString checks that the address a context holds is the canonical
// form netip gives, for every spelling netip.ParseAddr accepts.
func TestIPString(t *testing.T) {
	for _, s := range []string{"198.51.100.7", "0.0.0.0", "255.255.255.255", "10.0.0.1", "2001:db8::1", "2001:DB8:0:0:0:0:0:1",
		"::ffff:198.51.100.7", "::FFFF:c633:6407", "fe80::1%eth0", "::", "2001:0db8::0001"} {
		addr, err := netip.ParseAddr(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if got := ipString(s, addr); got != addr.String() {
			t.Errorf("ipString(%q) = %q, want %q", s, got, addr.String())
		}
	}
	// Spellings of IPv4 addresses that are not canonical do not parse, so
	// they never reach ipString.
	for _, s := range []string{"010.0.0.1", "1.2.3", "1.2.3.4.5", "1.2.3.4%eth0", " 1.2.3.4", "1.2.3.04"} {
		if _, err := netip.ParseAddr(s); err == nil {
			t.Errorf("netip.ParseAddr(%q) accepted a non-canonical IPv4 spelling", s)
		}
	}
}

// TestTranslatorDefersKeys checks that the contexts of a translator, whose
// time and request-tag keys are derived only when looked up, read as
// BuildContext's, which derives them at once: in either order of lookups,
// for records with and without tags, times and callers that end the
// context early, each record's keys its own.
func TestTranslatorDefersKeys(t *testing.T) {
	snap, err := LoadSnapshot(filepath.Join("testdata", "snapshot"))
	if err != nil {
		t.Fatal(err)
	}
	recs := readRecords(t, filepath.Join("testdata", "records", "identities.json"))
	const user = `"userIdentity":{"type":"IAMUser","principalId":"AIDA1","arn":"arn:aws:iam::111111111111:user/alice","accountId":"111111111111","userName":"alice"}`
	for _, s := range []string{
		`{"eventTime":"2026-11-20T10:00:01Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","awsRegion":"us-east-1",` + user + `,
		 "requestParameters":{"tagSpecificationSet":{"items":[{"resourceType":"instance","tags":[{"key":"team","value":"blue"},{"key":"env","value":"prod"}]}]}}}`,
		`{"eventTime":"2026-11-20T10:00:02Z","eventSource":"iam.amazonaws.com","eventName":"TagRole",` + user + `,
		 "requestParameters":{"roleName":"app","tags":[{"key":"cost","value":"7"}]}}`,
		`{"eventTime":"2026-11-20T10:00:02Z","eventSource":"iam.amazonaws.com","eventName":"TagRole",` + user + `,
		 "requestParameters":{"roleName":"app","tags":"not a list"}}`,
		`{"eventSource":"sqs.amazonaws.com","eventName":"SendMessage","awsRegion":"eu-west-1",` + user + `,
		 "requestParameters":{"queueUrl":"https://sqs.eu-west-1.amazonaws.com/111111111111/jobs"}}`,
	} {
		recs = append(recs, record(t, s))
	}
	tr := NewTranslator(catalog.Default(), snap, nil)
	tagged, untimed := 0, 0
	for _, reversed := range []bool{false, true} {
		for _, rec := range recs {
			x := tr.Translate(rec)
			for i := range x.Requests {
				r := &x.Requests[i]
				eager := BuildContext(rec, &r.Principal, r.Resource.Account)
				if len(eager.Values("aws:TagKeys")) > 0 {
					tagged++
				}
				if eager.State("aws:CurrentTime") != engine.KeyPresent {
					untimed++
				}
				keys := []string{"aws:CurrentTime", "aws:EpochTime", "aws:TagKeys", "aws:RequestTag/none"}
				for _, k := range eager.Values("aws:TagKeys") {
					keys = append(keys, "aws:RequestTag/"+k)
				}
				if reversed {
					slices.Reverse(keys)
				}
				for _, k := range keys {
					if st, v := r.Context.State(k), r.Context.Values(k); st != eager.State(k) || !slices.Equal(v, eager.Values(k)) {
						t.Errorf("%s %s: %s is %v %v, derived at once %v %v", rec.EventName, r.Action, k, st, v, eager.State(k), eager.Values(k))
					}
				}
			}
		}
	}
	// Per pass: RunInstances and the ec2:CreateTags it needs, and TagRole,
	// pass tags; SendMessage has no time.
	if tagged != 6 || untimed != 2 {
		t.Errorf("%d requests with tags, %d without a time; want 6 and 2", tagged, untimed)
	}
}
