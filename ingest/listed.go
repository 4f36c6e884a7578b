package ingest

import (
	"iter"
	"strings"

	gojson "github.com/goccy/go-json"
)

// Listing says where a call's request parameters list the items it acts
// on, each needing an action on a resource.
type Listing uint8

// Listings.
const (
	NotListed Listing = iota
	// ListedStatement: one DynamoDB PartiQL statement, in "statement".
	ListedStatement
	// ListedTransactStatements: the PartiQL statements of a DynamoDB
	// transaction, in "transactStatements".
	ListedTransactStatements
	// ListedTransactItems: the items of a DynamoDB TransactWriteItems call,
	// in "requestItems", each with an operation and a table.
	ListedTransactItems
)

// transactItemActions are the actions TransactWriteItems needs, by the
// operation of each item.
var transactItemActions = map[string]string{
	"put":            "dynamodb:PutItem",
	"update":         "dynamodb:UpdateItem",
	"delete":         "dynamodb:DeleteItem",
	"conditioncheck": "dynamodb:ConditionCheckItem",
}

// listedRequest is one action a listed item needs, on its resource.
type listedRequest struct {
	action   string
	resource ResolvedResource
}

// listedItems reads the items of calls with a Listing, reusing its slices
// from call to call.
type listedItems struct {
	requests []listedRequest
	actions  []string
}

// listedParams is what the request parameters of a listed call hold. Field
// names match case-insensitively, as CloudTrail spells them either way.
type listedParams struct {
	Statement          string
	TransactStatements []struct{ Statement string }
	RequestItems       []struct{ Operation, TableName string }
}

// read returns the distinct requests a call's items need, in the order of
// the items, and the actions of those requests (l.actions); ok is false
// when the parameters do not list them all in a form understood: a call is
// mapped whole or not at all. The requests are valid until the next call.
func (l *listedItems) read(rec *Record, listing Listing) (requests []listedRequest, ok bool) {
	l.requests, l.actions = l.requests[:0], l.actions[:0]
	var p listedParams
	if len(rec.RequestParameters) == 0 || gojson.Unmarshal(rec.RequestParameters, &p) != nil {
		return nil, false
	}
	switch listing {
	case ListedStatement:
		if !l.addStatement(rec, p.Statement) {
			return nil, false
		}
	case ListedTransactStatements:
		for _, st := range p.TransactStatements {
			if !l.addStatement(rec, st.Statement) {
				return nil, false
			}
		}
	case ListedTransactItems:
		for _, it := range p.RequestItems {
			action, ok := transactItemActions[strings.ToLower(it.Operation)]
			if !ok || !validTableName(it.TableName) {
				return nil, false
			}
			l.add(action, tableResource(rec, it.TableName, ""))
		}
	default:
		return nil, false
	}
	if len(l.requests) == 0 {
		return nil, false
	}
	return l.requests, true
}

// fromResources returns the distinct requests of one action on each
// resource, and sets l.actions to match.
func (l *listedItems) fromResources(action string, resources iter.Seq[ResolvedResource]) []listedRequest {
	l.requests, l.actions = l.requests[:0], l.actions[:0]
	for res := range resources {
		l.add(action, res)
	}
	return l.requests
}

// addStatement adds the request of a PartiQL statement, and reports
// whether it was understood.
func (l *listedItems) addStatement(rec *Record, statement string) bool {
	st, ok := parsePartiQL(statement)
	if ok {
		l.add(st.action, tableResource(rec, st.table, st.index))
	}
	return ok
}

// add adds a request unless an equal one is listed already.
func (l *listedItems) add(action string, res ResolvedResource) {
	for _, r := range l.requests {
		if r.action == action && r.resource == res {
			return
		}
	}
	l.requests = append(l.requests, listedRequest{action, res})
	l.actions = append(l.actions, action)
}

// tableResource is a DynamoDB table, or one of its indexes, for a record:
// a table named without an ARN is in the account and region the call was
// made in.
func tableResource(rec *Record, table, index string) ResolvedResource {
	res := ResolvedResource{ARN: table, Account: arnAccount(table), Source: ResourceFromParameters}
	if !strings.HasPrefix(table, "arn:") {
		res.Account = rec.RecipientAccountID
		res.ARN = "arn:" + partition(rec.AWSRegion) + ":dynamodb:" + rec.AWSRegion + ":" + res.Account + ":table/" + table
	}
	if index != "" {
		res.ARN += "/index/" + index
	}
	return res
}
