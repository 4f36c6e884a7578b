package analysis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/replay-iam/replay/catalog"
	"github.com/replay-iam/replay/engine"
	"github.com/replay-iam/replay/grants"
	"github.com/replay-iam/replay/ingest"
)

func TestGeneralize(t *testing.T) {
	var many []string
	for i := 0; i < GeneralizeAt; i++ {
		many = append(many, fmt.Sprintf("arn:aws:s3:::data/orders/%04d/x.json", i))
	}
	tables := []string{}
	for i := 0; i < GeneralizeAt; i++ {
		tables = append(tables, fmt.Sprintf("arn:aws:dynamodb:eu-west-1:1:table/t%d", i))
	}
	cases := []struct {
		name string
		in   []string
		want []string
	}{
		{"few resources stay named", []string{"arn:aws:s3:::b/k1", "arn:aws:s3:::b/k2"}, []string{"arn:aws:s3:::b/k1", "arn:aws:s3:::b/k2"}},
		{"many under one path become the deepest shared path", many, []string{"arn:aws:s3:::data/orders/*"}},
		{"a path wildcard absorbs a resource under it", append(slices.Clone(many), "arn:aws:s3:::data/orders/readme"), []string{"arn:aws:s3:::data/orders/*"}},
		{"a resource type is not a path", tables, tables},
		{"patterns are kept as they are", []string{"arn:aws:s3:::b/*", "arn:aws:s3:::b/k"}, []string{"arn:aws:s3:::b/*"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := generalize(c.in)
			want := slices.Sorted(slices.Values(c.want))
			if !slices.Equal(got, want) {
				t.Errorf("generalize = %v, want %v", got, want)
			}
		})
	}
}

func TestWildcardAfter(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:s3:::data/orders/00": "arn:aws:s3:::data/orders/*",
		"arn:aws:sqs:eu-west-1:1:q":   "arn:aws:sqs:eu-west-1:1:*",
		"":                            "*",
	} {
		if got := wildcardAfter(in); got != want {
			t.Errorf("wildcardAfter(%q) = %q, want %q", in, got, want)
		}
	}
}

// reviewFixture is a report of one principal's events and its grants.
func reviewFixture(t *testing.T) (*Report, grants.Permissions, *catalog.Catalog) {
	t.Helper()
	cat := catalog.Default()
	act := func(name string) *catalog.Action {
		a, ok := cat.Action(name)
		if !ok {
			t.Fatalf("no action %s in the catalogue", name)
		}
		return a
	}
	const p = "arn:aws:iam::1:role/app"
	r := NewReport()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	add := func(action, resource string, v engine.Verdict, loggedDenied bool, stmt *engine.Statement) {
		ev := Event{Time: t0, PrincipalARN: p, PrincipalType: "role-session", AccountID: "1", Action: action, Resource: resource,
			Decision: engine.Decision{Verdict: v, Statement: stmt}, LoggedDenied: loggedDenied, LoggedDecided: true, Complete: true}
		r.Add(&ev, "e")
		t0 = t0.Add(time.Minute)
	}
	pol, err := engine.ParsePolicy("arn:aws:iam::1:policy/App", engine.PolicyIdentity, []byte(`{"Version":"2012-10-17","Statement":[
		{"Sid":"Objects","Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"*"},
		{"Sid":"Queues","Effect":"Allow","Action":"sqs:*","Resource":"*"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	objects := pol.Statements[0]
	for i := 0; i < 3; i++ {
		add("s3:GetObject", fmt.Sprintf("arn:aws:s3:::b/k%d", i), engine.VerdictAllow, false, objects)
	}
	add("s3:PutObject", "arn:aws:s3:::b/k0", engine.VerdictImplicitDeny, true, nil)              // denied: not used
	add("sqs:SendMessage", "arn:aws:sqs:eu-west-1:1:q", engine.VerdictIndeterminate, false, nil) // maybe allowed, and the log says it went through
	r.AddRecord("s3.amazonaws.com", true, false)
	r.AddRecord("sqs.amazonaws.com", false, false)

	var granted []grants.Grant
	for _, name := range []string{"s3:GetObject", "s3:PutObject", "sqs:SendMessage", "sqs:ReceiveMessage", "sqs:ListQueues", "iam:PassRole"} {
		by := pol.Statements[0]
		if strings.HasPrefix(name, "sqs:") {
			by = pol.Statements[1]
		}
		granted = append(granted, grants.Grant{Action: act(name), By: by})
	}
	perms := grants.NewPermissions(granted, []grants.StatementGrant{{PolicyID: "arn:aws:iam::1:policy/App", Statement: "Objects", Actions: 2}, {PolicyID: "arn:aws:iam::1:policy/App", Statement: "Queues", Actions: 3}}, map[string]int{})
	return r, perms, cat
}

func TestReview(t *testing.T) {
	r, perms, cat := reviewFixture(t)
	rv := r.Index(cat).Review(Principal{ARN: "arn:aws:iam::1:role/app", Type: "role", AccountID: "1"}, &perms)
	if rv.Granted != 6 || rv.Used != 2 || rv.Removable != 4 {
		t.Errorf("granted %d used %d removable %d, want 6, 2 (GetObject, SendMessage), 4", rv.Granted, rv.Used, rv.Removable)
	}
	want := map[string]struct {
		coverage    string
		serviceUsed bool
		statement   string
	}{
		"s3:PutObject":       {CoverageUnused, true, "Objects"},   // S3 data events are in the input
		"sqs:ReceiveMessage": {CoverageNotLogged, true, "Queues"}, // a data event, none of SQS's in the input
		"sqs:ListQueues":     {CoverageNotLogged, true, "Queues"}, // a read, and the input holds write events only
		"iam:PassRole":       {CoverageNotLogged, false, "Objects"},
	}
	// Batches of three rows: a full batch, then the rest.
	var unused []UnusedRow
	batches := 0
	err := rv.EachUnused(make([]UnusedRow, 0, 3), func(rows []UnusedRow) error {
		batches++
		unused = append(unused, rows...)
		return nil
	})
	if err != nil || batches != 2 || len(unused) != len(want) {
		t.Fatalf("unused %+v in %d batches (%v), want %d rows in 2", unused, batches, err, len(want))
	}
	for i, u := range unused {
		w, ok := want[u.Action]
		if !ok || u.Coverage != w.coverage || u.ServiceUsed != w.serviceUsed || u.GrantedBy != "arn:aws:iam::1:policy/App" ||
			u.PrincipalARN != "arn:aws:iam::1:role/app" || u.PrincipalType != "role" || u.AccountID != "1" || u.Statement != w.statement {
			t.Errorf("unused row %+v, want %+v", u, w)
		}
		if order := []string{"s3:PutObject", "sqs:ReceiveMessage", "sqs:ListQueues", "iam:PassRole"}; u.Action != order[i] {
			t.Errorf("unused row %d is %s, want %s: the grants' order", i, u.Action, order[i])
		}
	}
	if len(rv.Statements) != 2 || rv.Statements[0].EventsAllowed != 3 || rv.Statements[0].LastUsed == nil || rv.Statements[1].EventsAllowed != 0 || rv.Statements[1].LastUsed != nil {
		t.Errorf("statements %+v", rv.Statements)
	}
	var doc policyDoc
	if err := json.Unmarshal([]byte(rv.Policy), &doc); err != nil {
		t.Fatal(err)
	}
	wantDoc := policyDoc{Version: "2012-10-17", Statement: []policyStatement{
		{Sid: "Used1", Effect: "Allow", Action: []string{"s3:GetObject"}, Resource: []string{"arn:aws:s3:::b/k0", "arn:aws:s3:::b/k1", "arn:aws:s3:::b/k2"}},
		{Sid: "Used2", Effect: "Allow", Action: []string{"sqs:SendMessage"}, Resource: []string{"arn:aws:sqs:eu-west-1:1:q"}},
	}}
	if got, _ := json.Marshal(doc); string(got) != mustJSON(wantDoc) {
		t.Errorf("policy %s\nwant %s", got, mustJSON(wantDoc))
	}
	if _, err := engine.ParsePolicy("suggested", engine.PolicyIdentity, []byte(rv.Policy)); err != nil {
		t.Errorf("suggested policy does not parse: %v", err)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestSuggestionOverflowUsesTheSharedPrefix(t *testing.T) {
	r := NewReport()
	for i := 0; i < MaxKeptResources+5; i++ {
		ev := Event{PrincipalARN: "p", Action: "s3:GetObject", Resource: fmt.Sprintf("arn:aws:s3:::b/logs/%03d", i), Decision: engine.Decision{Verdict: engine.VerdictAllow}}
		r.Add(&ev, "")
	}
	used := r.Index(catalog.Default()).used("p")
	if got := suggestedResources(used["s3:getobject"], catalog.Default()); !slices.Equal(got, []string{"arn:aws:s3:::b/logs/*"}) {
		t.Errorf("resources %v", got)
	}
}

func TestCoverageClass(t *testing.T) {
	cat := catalog.Default()
	act := func(n string) *catalog.Action { a, _ := cat.Action(n); return a }
	full := Coverage{DataEventSources: map[string]int64{"s3.amazonaws.com": 1, "lambda.amazonaws.com": 1}, ReadOnly: 1, Write: 1}
	writeOnly := Coverage{DataEventSources: map[string]int64{}, Write: 5}
	cases := []struct {
		cov    Coverage
		action string
		want   string
	}{
		{full, "s3:GetObject", CoverageUnused},
		{full, "s3:ListBucket", CoverageUnused},
		{full, "lambda:InvokeFunction", CoverageUnused},
		{full, "dynamodb:GetItem", CoverageNotLogged},
		{full, "dynamodb:DescribeTable", CoverageUnused},
		{full, "iam:PassRole", CoverageNotLogged},
		{writeOnly, "s3:GetObject", CoverageNotLogged},
		{writeOnly, "ec2:DescribeInstances", CoverageNotLogged},
		{writeOnly, "ec2:RunInstances", CoverageUnused},
	}
	for _, c := range cases {
		if got := coverageClass(c.cov.Logged(act(c.action))); got != c.want {
			t.Errorf("%s with %+v: %s, want %s", c.action, c.cov, got, c.want)
		}
	}
}

// TestReviewAllOrderAndErrors checks that ReviewAll hands the reviews over
// in the principals' order across batches computed ahead, and that an
// error of fn ends it with that error and no further call.
func TestReviewAllOrderAndErrors(t *testing.T) {
	snap, err := ingest.LoadSnapshot(filepath.Join("..", "grants", "testdata", "snapshot"))
	if err != nil {
		t.Fatal(err)
	}
	var entities []*ingest.Entity
	for _, e := range snap.Roles {
		entities = append(entities, e)
	}
	for _, e := range snap.Users {
		entities = append(entities, e)
	}
	if len(entities) == 0 {
		t.Fatal("the test snapshot holds no principal")
	}
	const workers = 2
	var principals []Principal
	for i := 0; i < 3*4*workers+1; i++ { // three batches and one more
		principals = append(principals, Principal{ARN: fmt.Sprintf("p%02d", i), Type: "role", AccountID: "1", Entity: entities[i%len(entities)]})
	}
	idx := NewReport().Index(catalog.Default())
	an := grants.New(catalog.Default(), snap)
	var got []string
	err = idx.ReviewAll(context.Background(), an, principals, workers, func(rv *Review) error {
		got = append(got, rv.Principal.ARN)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, p := range principals {
		want = append(want, p.ARN)
	}
	if !slices.Equal(got, want) {
		t.Errorf("reviews in order %v, want %v", got, want)
	}

	stop := errors.New("stop")
	calls := 0
	err = idx.ReviewAll(context.Background(), an, principals, workers, func(rv *Review) error {
		calls++
		if calls == 10 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 10 {
		t.Errorf("after an error at the 10th review: %v, %d calls", err, calls)
	}
}
