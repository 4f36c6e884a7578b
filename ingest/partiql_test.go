package ingest

import (
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
		if ok && (st.action != tt.action || st.table != tt.table || st.index != tt.index) {
			t.Errorf("%q: %s on %q index %q, want %s on %q index %q", tt.statement, st.action, st.table, st.index, tt.action, tt.table, tt.index)
		}
	}
}

// TestTranslateListedCalls translates DynamoDB calls whose parameters
// list what they act on: one request per distinct action and table or
// index, in the order of the items; a call with an item not logged, or not
// understood, is unmapped whole, with its caller named.
func TestTranslateListedCalls(t *testing.T) {
	snap, err := LoadSnapshot(filepath.Join("testdata", "snapshot"))
	if err != nil {
		t.Fatal(err)
	}
	base := readRecords(t, filepath.Join("testdata", "records", "identities.json"))[0]
	const orders = "arn:aws:dynamodb:eu-west-1:111111111111:table/orders"
	type want struct{ action, resource, account string }
	tests := []struct {
		name, event, region, params string
		want                        []want // nil when unmapped
	}{
		{"select", "ExecuteStatement", "eu-west-1", `{"statement":"SELECT * FROM \"orders\" WHERE id = 'o-1'"}`,
			[]want{{"dynamodb:PartiQLSelect", orders, "111111111111"}}},
		{"select on an index", "ExecuteStatement", "cn-north-1", `{"statement":"SELECT * FROM orders.byDay WHERE day = '2026-11-20'"}`,
			[]want{{"dynamodb:PartiQLSelect", "arn:aws-cn:dynamodb:cn-north-1:111111111111:table/orders/index/byDay", "111111111111"}}},
		{"update of another account's table", "ExecuteStatement", "eu-west-1",
			`{"statement":"UPDATE \"arn:aws:dynamodb:eu-west-1:222222222222:table/shared\" SET v = ***(Redacted) WHERE id = 'a'"}`,
			[]want{{"dynamodb:PartiQLUpdate", "arn:aws:dynamodb:eu-west-1:222222222222:table/shared", "222222222222"}}},
		{"statement not logged", "ExecuteStatement", "eu-west-1", `{"statement":"***OMITTED***"}`, nil},
		{"no parameters", "ExecuteStatement", "eu-west-1", ``, nil},
		{"transaction", "ExecuteTransaction", "eu-west-1",
			`{"transactStatements":[{"statement":"SELECT * FROM orders WHERE id = 'a'"},{"statement":"select x from \"orders\" where id = 'b'"},{"statement":"SELECT * FROM lines WHERE id = 'a'"}]}`,
			[]want{{"dynamodb:PartiQLSelect", orders, "111111111111"}, {"dynamodb:PartiQLSelect", "arn:aws:dynamodb:eu-west-1:111111111111:table/lines", "111111111111"}}},
		{"transaction with a condition not understood", "ExecuteTransaction", "eu-west-1",
			`{"transactStatements":[{"statement":"EXISTS(SELECT * FROM orders WHERE id = 'a')"},{"statement":"UPDATE orders SET v = 1 WHERE id = 'a'"}]}`, nil},
		{"empty transaction", "ExecuteTransaction", "eu-west-1", `{"transactStatements":[]}`, nil},
		{"write items", "TransactWriteItems", "eu-west-1",
			`{"requestItems":[{"operation":"Put","tableName":"orders","key":{"id":"a"}},{"operation":"Update","tableName":"orders"},` +
				`{"operation":"Delete","TableName":"lines"},{"operation":"ConditionCheck","TableName":"orders"},{"operation":"Put","tableName":"orders"}],"returnConsumedCapacity":"TOTAL"}`,
			[]want{{"dynamodb:PutItem", orders, "111111111111"}, {"dynamodb:UpdateItem", orders, "111111111111"},
				{"dynamodb:DeleteItem", "arn:aws:dynamodb:eu-west-1:111111111111:table/lines", "111111111111"}, {"dynamodb:ConditionCheckItem", orders, "111111111111"}}},
		{"write item of an unknown operation", "TransactWriteItems", "eu-west-1",
			`{"requestItems":[{"operation":"Put","tableName":"orders"},{"operation":"Merge","tableName":"orders"}]}`, nil},
		{"write item without a table", "TransactWriteItems", "eu-west-1", `{"requestItems":[{"operation":"Put"}]}`, nil},
	}
	tr := NewTranslator(catalog.Default(), snap, nil)
	check := func(t *testing.T, rec *Record, wants []want) {
		t.Helper()
		got := tr.Translate(rec)
		if wants == nil {
			if got.Skip != SkipUnmappedEvent || got.Detail != "dynamodb.amazonaws.com "+rec.EventName || got.Principal.EntityARN != "arn:aws:iam::111111111111:role/svc/app" {
				t.Errorf("skip %v (%s), caller %q; want an unmapped call of the app role", got.Skip, got.Detail, got.Principal.EntityARN)
			}
			return
		}
		if got.Skip != NotSkipped || len(got.Requests) != len(wants) {
			t.Fatalf("skip %v (%s), %d requests, want %d", got.Skip, got.Detail, len(got.Requests), len(wants))
		}
		for i, w := range wants {
			r := &got.Requests[i]
			if r.Action != w.action || r.Request.Resource != w.resource || r.ResourceAccount != w.account || r.ResourcePartial {
				t.Errorf("request %d: %s on %s (account %s, partial %v), want %s on %s (account %s)", i,
					r.Action, r.Request.Resource, r.ResourceAccount, r.ResourcePartial, w.action, w.resource, w.account)
			}
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := *base
			rec.EventSource, rec.EventName, rec.AWSRegion, rec.Resources = "dynamodb.amazonaws.com", tt.event, tt.region, nil
			rec.RequestParameters = []byte(tt.params)
			check(t, &rec, tt.want)
		})
	}

	// Batches over several tables need their action on each table the
	// record lists.
	table := func(acct, name string) Resource {
		return Resource{ARN: "arn:aws:dynamodb:eu-west-1:" + acct + ":table/" + name, AccountID: acct, Type: "AWS::DynamoDB::Table"}
	}
	const lines = "arn:aws:dynamodb:eu-west-1:111111111111:table/lines"
	batches := []struct {
		name, event string
		resources   []Resource
		want        []want
	}{
		{"batch read of one table", "BatchGetItem", []Resource{table("111111111111", "orders")},
			[]want{{"dynamodb:BatchGetItem", orders, "111111111111"}}},
		{"batch read of two tables", "BatchGetItem", []Resource{table("111111111111", "orders"), table("111111111111", "lines")},
			[]want{{"dynamodb:BatchGetItem", orders, "111111111111"}, {"dynamodb:BatchGetItem", lines, "111111111111"}}},
		{"batch write across accounts", "BatchWriteItem", []Resource{table("111111111111", "orders"), table("222222222222", "shared")},
			[]want{{"dynamodb:BatchWriteItem", orders, "111111111111"}, {"dynamodb:BatchWriteItem", "arn:aws:dynamodb:eu-west-1:222222222222:table/shared", "222222222222"}}},
		{"transactional reads, a table listed twice", "TransactGetItems", []Resource{table("111111111111", "lines"), table("111111111111", "orders"), table("111111111111", "lines")},
			[]want{{"dynamodb:GetItem", lines, "111111111111"}, {"dynamodb:GetItem", orders, "111111111111"}}},
		{"one table and its index", "BatchGetItem", []Resource{table("111111111111", "orders"), {ARN: orders + "/index/byDay", Type: "AWS::DynamoDB::Index"}},
			[]want{{"dynamodb:BatchGetItem", orders, "111111111111"}}},
	}
	for _, tt := range batches {
		t.Run(tt.name, func(t *testing.T) {
			rec := *base
			rec.EventSource, rec.EventName, rec.Resources = "dynamodb.amazonaws.com", tt.event, tt.resources
			rec.RequestParameters = []byte(`{"requestItems":"***"}`)
			check(t, &rec, tt.want)
		})
	}
}
