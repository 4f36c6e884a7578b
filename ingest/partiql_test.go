package ingest

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/replay-iam/replay/catalog"
)

func TestParsePartiQL(t *testing.T) {
	tests := []struct {
		statement            string
		action, table, index string // action "" when not understood
	}{
		// As CloudTrail logs them: non-key values redacted.
		{`SELECT * FROM Music WHERE Artist = 'No One You Know' AND nonKeyAttr = ***(Redacted)`, "dynamodb:PartiQLSelect", "Music", ""},
		{`select "a", "b" from "orders"."by-customer" where "customer" = 'c-1'`, "dynamodb:PartiQLSelect", "orders", "by-customer"},
		{`SELECT "from" FROM "Music"`, "dynamodb:PartiQLSelect", "Music", ""},
		{`SELECT 'from here' FROM "Mu""sic"`, "", "", ""}, // a quote is not a table name character
		{`SELECT x FROM "arn:aws:dynamodb:us-east-1:222222222222:table/shared"`, "dynamodb:PartiQLSelect", "arn:aws:dynamodb:us-east-1:222222222222:table/shared", ""},
		{`SELECT x FROM Music.ByYear WHERE y = 1`, "dynamodb:PartiQLSelect", "Music", "ByYear"},
		{"  INSERT INTO \"Music\" VALUE {'Artist': 'a', 'SongTitle': ***(Redacted)}", "dynamodb:PartiQLInsert", "Music", ""},
		{`Insert into orders value {'id': ?}`, "dynamodb:PartiQLInsert", "orders", ""},
		{`UPDATE "Music" SET AwardsWon = ***(Redacted) WHERE Artist = 'Acme'`, "dynamodb:PartiQLUpdate", "Music", ""},
		{"DELETE FROM\n\"my.table-1\"\nWHERE id = 'x'", "dynamodb:PartiQLDelete", "my.table-1", ""},
		{`DELETE FROM orders;`, "dynamodb:PartiQLDelete", "orders", ""},
		// Not understood: left unmapped rather than guessed.
		{`***OMITTED***`, "", "", ""},
		{``, "", "", ""},
		{`EXISTS(SELECT * FROM "Music" WHERE Artist = 'a')`, "", "", ""},
		{`SELECT * FROM`, "", "", ""},
		{`SELECT * FROM "Music`, "", "", ""},
		{`SELECT * WHERE a = 'FROM Music'`, "", "", ""},
		{`INSERT "Music" VALUE {}`, "", "", ""},
		{`DELETE Music WHERE a = 1`, "", "", ""},
		{`UPDATE ab SET x = 1`, "", "", ""},                                  // a table name has 3 characters or more
		{`SELECT * FROM "a/b"`, "", "", ""},                                  // not a table name character
		{`SELECT * FROM Music."x"y`, "", "", ""},                             // more name after the index
		{`SELECT * FROM "arn:aws:s3:::bucket"`, "", "", ""},                  // not a table ARN
		{`SELECT * FROM "arn:aws:dynamodb:us-east-1::table/x1"`, "", "", ""}, // no account
		{`CREATE TABLE Music`, "", "", ""},
	}
	for _, tt := range tests {
		st, ok := parsePartiQL(tt.statement)
		if ok != (tt.action != "") {
			t.Errorf("%q: understood %v, want %v (%+v)", tt.statement, ok, !ok, st)
			continue
		}
		if ok && (st.actions[0] != tt.action || len(st.actions) != 1 || st.table != tt.table || st.index != tt.index) {
			t.Errorf("%q: %v on %q index %q, want %s on %q index %q", tt.statement, st.actions, st.table, st.index, tt.action, tt.table, tt.index)
		}
	}
}

// TestTranslatePartiQL translates ExecuteStatement records: the action is
// the statement's, the resource its table or index; a statement CloudTrail
// did not log leaves the call unmapped, with its caller named.
func TestTranslatePartiQL(t *testing.T) {
	snap, err := LoadSnapshot(filepath.Join("testdata", "snapshot"))
	if err != nil {
		t.Fatal(err)
	}
	base := readRecords(t, filepath.Join("testdata", "records", "identities.json"))[0]
	tests := []struct {
		region, statement         string
		action, resource, account string // action "" when unmapped
	}{
		{"eu-west-1", `SELECT * FROM "orders" WHERE id = 'o-1'`, "dynamodb:PartiQLSelect", "arn:aws:dynamodb:eu-west-1:111111111111:table/orders", "111111111111"},
		{"cn-north-1", `SELECT * FROM orders.byDay WHERE day = '2026-11-20'`, "dynamodb:PartiQLSelect", "arn:aws-cn:dynamodb:cn-north-1:111111111111:table/orders/index/byDay", "111111111111"},
		{"eu-west-1", `UPDATE "arn:aws:dynamodb:eu-west-1:222222222222:table/shared" SET v = ***(Redacted) WHERE id = 'a'`, "dynamodb:PartiQLUpdate", "arn:aws:dynamodb:eu-west-1:222222222222:table/shared", "222222222222"},
		{"eu-west-1", `***OMITTED***`, "", "", ""},
	}
	tr := NewTranslator(catalog.Default(), snap, nil)
	for _, tt := range tests {
		rec := *base
		rec.EventSource, rec.EventName, rec.AWSRegion, rec.Resources = "dynamodb.amazonaws.com", "ExecuteStatement", tt.region, nil
		params, err := json.Marshal(map[string]string{"statement": tt.statement})
		if err != nil {
			t.Fatal(err)
		}
		rec.RequestParameters = params
		got := tr.Translate(&rec)
		if tt.action == "" {
			if got.Skip != SkipUnmappedEvent || got.Detail != "dynamodb.amazonaws.com ExecuteStatement" || got.Principal.EntityARN != "arn:aws:iam::111111111111:role/svc/app" {
				t.Errorf("%q: skip %v (%s), caller %q; want an unmapped call of the app role", tt.statement, got.Skip, got.Detail, got.Principal.EntityARN)
			}
			continue
		}
		if got.Skip != NotSkipped || len(got.Requests) != 1 {
			t.Fatalf("%q: skip %v (%s), %d requests", tt.statement, got.Skip, got.Detail, len(got.Requests))
		}
		r := &got.Requests[0]
		if r.Action != tt.action || r.Request.Resource != tt.resource || r.ResourceAccount != tt.account || r.ResourcePartial {
			t.Errorf("%q: %s on %s (account %s, partial %v), want %s on %s (account %s)", tt.statement,
				r.Action, r.Request.Resource, r.ResourceAccount, r.ResourcePartial, tt.action, tt.resource, tt.account)
		}
	}
}
