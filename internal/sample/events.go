package sample

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// eventGen produces CloudTrail records. Sessions are issued by logged
// AssumeRole records before they are used.
type eventGen struct {
	rng      *rand.Rand
	n        int
	sessions map[string]*sessionState // by account + role
}

type sessionState struct {
	key    string
	name   string
	uses   int
	issued time.Time
}

// sessionDuration is the lifetime of the role sessions the sample issues
// (AssumeRole's default): a session is used only within it.
const sessionDuration = time.Hour

func (g *eventGen) id() string {
	g.n++
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", g.rng.Uint32(), g.n&0xffff, g.rng.IntN(0xfff), g.rng.IntN(0xfff), g.rng.Uint64()&0xffffffffffff)
}

func (g *eventGen) accessKey(prefix string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b := []byte(prefix)
	for len(b) < 20 {
		b = append(b, alphabet[g.rng.IntN(len(alphabet))])
	}
	return string(b)
}

func (g *eventGen) base(acct string, t time.Time, ident doc, source, name string) doc {
	return doc{
		"eventVersion": "1.09", "userIdentity": ident, "eventTime": t.UTC().Format(time.RFC3339),
		"eventSource": source, "eventName": name, "awsRegion": region,
		"sourceIPAddress": fmt.Sprintf("198.51.100.%d", 1+g.rng.IntN(200)),
		"userAgent":       "aws-sdk-go-v2/1.30.0 os/linux lang/go#1.26 md/GOOS#linux api/" + name,
		"requestID":       g.id(), "eventID": g.id(), "readOnly": false, "eventType": "AwsApiCall",
		"managementEvent": true, "recipientAccountId": acct, "eventCategory": "Management",
		"tlsDetails": doc{"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
			"clientProvidedHostHeader": source[:len(source)-len(".amazonaws.com")] + "." + region + ".amazonaws.com"},
	}
}

func userIdentity(acct, path, name, key string) doc {
	return doc{"type": "IAMUser", "principalId": "AIDA" + name, "arn": "arn:aws:iam::" + acct + ":user" + path + name,
		"accountId": acct, "accessKeyId": key, "userName": name}
}

func sessionIdentity(acct, path, roleName, roleID string, s *sessionState, issued time.Time, mfa bool) doc {
	return doc{"type": "AssumedRole", "principalId": roleID + ":" + s.name,
		"arn": "arn:aws:sts::" + acct + ":assumed-role/" + roleName + "/" + s.name, "accountId": acct, "accessKeyId": s.key,
		"sessionContext": doc{
			"sessionIssuer": doc{"type": "Role", "principalId": roleID, "arn": "arn:aws:iam::" + acct + ":role" + path + roleName,
				"accountId": acct, "userName": roleName},
			"attributes": doc{"creationDate": issued.UTC().Format(time.RFC3339), "mfaAuthenticated": fmt.Sprint(mfa)},
		}}
}

// session returns the current session of a role, and the AssumeRole
// record that issued it when a new one starts.
func (g *eventGen) session(acct, path, roleName, roleID string, t time.Time, caller doc, tags []any) (*sessionState, doc) {
	if g.sessions == nil {
		g.sessions = map[string]*sessionState{}
	}
	k := acct + "/" + roleName
	s := g.sessions[k]
	if s != nil && s.uses < 25 && !t.Before(s.issued) && t.Sub(s.issued) < sessionDuration {
		s.uses++
		return s, nil
	}
	s = &sessionState{key: g.accessKey("ASIA"), name: fmt.Sprintf("s-%06d", g.rng.IntN(1000000)), issued: t}
	g.sessions[k] = s
	roleArn := "arn:aws:iam::" + acct + ":role" + path + roleName
	params := doc{"roleArn": roleArn, "roleSessionName": s.name, "durationSeconds": int(sessionDuration.Seconds())}
	if tags != nil {
		params["tags"] = tags
	}
	rec := g.base(acct, t.Add(-time.Second), caller, "sts.amazonaws.com", "AssumeRole")
	rec["requestParameters"] = params
	rec["responseElements"] = doc{
		"credentials": doc{"accessKeyId": s.key, "sessionToken": "IQoJb3JpZ2luX2VjE" + s.key,
			"expiration": t.Add(sessionDuration).UTC().Format("Jan 2, 2006, 3:04:05 PM")},
		"assumedRoleUser": doc{"assumedRoleId": roleID + ":" + s.name, "arn": "arn:aws:sts::" + acct + ":assumed-role/" + roleName + "/" + s.name},
	}
	rec["resources"] = []any{doc{"accountId": acct, "type": "AWS::IAM::Role", "ARN": roleArn}}
	if caller["type"] == "AWSService" {
		rec["sourceIPAddress"] = caller["invokedBy"]
		rec["userAgent"] = caller["invokedBy"]
		delete(rec, "tlsDetails")
	}
	return s, rec
}

func s3Object(acct, bucket, key string) []any {
	return []any{
		doc{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::" + bucket + "/" + key},
		doc{"accountId": acct, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::" + bucket},
	}
}

// event returns one record, or an AssumeRole record when the session it
// is about to use starts.
func (g *eventGen) event(acct string, t time.Time) doc {
	r := g.rng.IntN(100)
	data := "data-" + acct
	ec2 := doc{"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}
	// Alice works in the console, signed in with MFA.
	alice := userIdentity(acct, "/", "alice", "ASIAALICE"+acct[:8])
	alice["sessionContext"] = doc{"attributes": doc{"creationDate": t.Add(-time.Hour).UTC().Format(time.RFC3339), "mfaAuthenticated": "true"}}
	switch {
	case r < 55: // the app role at work
		s, issue := g.session(acct, "/svc/", "app", "AROAAPP"+acct, t, ec2, nil)
		if issue != nil {
			return issue
		}
		ident := sessionIdentity(acct, "/svc/", "app", "AROAAPP"+acct, s, t.Add(-10*time.Minute), false)
		key := fmt.Sprintf("orders/%04d/%02d.json", g.rng.IntN(2000), g.rng.IntN(60))
		switch {
		case r < 30:
			rec := g.base(acct, t, ident, "s3.amazonaws.com", "GetObject")
			rec["requestParameters"] = doc{"bucketName": data, "key": key, "Host": data + ".s3." + region + ".amazonaws.com"}
			rec["resources"] = s3Object(acct, data, key)
			rec["readOnly"], rec["managementEvent"], rec["eventCategory"] = true, false, "Data"
			return rec
		case r < 38:
			rec := g.base(acct, t, ident, "s3.amazonaws.com", "PutObject")
			rec["requestParameters"] = doc{"bucketName": data, "key": key, "Host": data + ".s3." + region + ".amazonaws.com"}
			rec["resources"] = s3Object(acct, data, key)
			rec["managementEvent"], rec["eventCategory"] = false, "Data"
			return rec
		case r < 44:
			rec := g.base(acct, t, ident, "kms.amazonaws.com", "Decrypt")
			rec["requestParameters"] = doc{"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
			rec["resources"] = []any{doc{"accountId": acct, "type": "AWS::KMS::Key", "ARN": "arn:aws:kms:" + region + ":" + acct + ":key/1111aaaa-" + acct[8:]}}
			rec["readOnly"] = true
			return rec
		case r < 52:
			name := []string{"GetItem", "Query", "PutItem"}[g.rng.IntN(3)]
			rec := g.base(acct, t, ident, "dynamodb.amazonaws.com", name)
			rec["requestParameters"] = doc{"tableName": "orders"}
			rec["resources"] = []any{doc{"accountId": acct, "type": "AWS::DynamoDB::Table", "ARN": "arn:aws:dynamodb:" + region + ":" + acct + ":table/orders"}}
			rec["managementEvent"], rec["eventCategory"] = false, "Data"
			return rec
		case r < 54: // denied: the app may not delete
			rec := g.base(acct, t, ident, "s3.amazonaws.com", "DeleteObject")
			rec["requestParameters"] = doc{"bucketName": data, "key": key}
			rec["resources"] = s3Object(acct, data, key)
			rec["managementEvent"], rec["eventCategory"] = false, "Data"
			rec["errorCode"] = "AccessDenied"
			rec["errorMessage"] = "User: arn:aws:sts::" + acct + ":assumed-role/app/" + s.name + " is not authorized to perform: s3:DeleteObject on resource: \"arn:aws:s3:::" + data + "/" + key + "\" because no identity-based policy allows the s3:DeleteObject action"
			return rec
		default: // denied by the region lock
			rec := g.base(acct, t, ident, "ec2.amazonaws.com", "DescribeInstances")
			rec["awsRegion"] = "ap-south-1"
			rec["requestParameters"] = doc{"instancesSet": doc{}, "filterSet": doc{}}
			rec["errorCode"] = "Client.UnauthorizedOperation"
			rec["errorMessage"] = "You are not authorized to perform this operation. User: arn:aws:sts::" + acct + ":assumed-role/app/" + s.name + " is not authorized to perform: ec2:DescribeInstances with an explicit deny in a service control policy"
			return rec
		}
	case r < 65: // the analyst, with a session tag
		s, issue := g.session(acct, "/", "analyst", "AROAANALYST"+acct, t, alice, []any{doc{"key": "team", "value": "analytics"}})
		if issue != nil {
			return issue
		}
		ident := sessionIdentity(acct, "/", "analyst", "AROAANALYST"+acct, s, t.Add(-5*time.Minute), false)
		if r < 61 {
			key := fmt.Sprintf("reports/q%d.parquet", 1+g.rng.IntN(4))
			rec := g.base(acct, t, ident, "s3.amazonaws.com", "GetObject")
			rec["requestParameters"] = doc{"bucketName": "team-analytics", "key": key}
			rec["resources"] = s3Object(acct, "team-analytics", key)
			rec["readOnly"], rec["managementEvent"], rec["eventCategory"] = true, false, "Data"
			return rec
		}
		rec := g.base(acct, t, ident, "athena.amazonaws.com", "StartQueryExecution")
		rec["requestParameters"] = doc{"queryString": "***OMITTED***", "workGroup": "primary"}
		return rec
	case r < 72: // the CI deployer
		s, issue := g.session(acct, "/ci/", "deployer", "AROADEPLOYER"+acct, t, alice, nil)
		if issue != nil {
			return issue
		}
		ident := sessionIdentity(acct, "/ci/", "deployer", "AROADEPLOYER"+acct, s, t.Add(-2*time.Minute), false)
		name := []string{"DescribeStacks", "CreateChangeSet", "ExecuteChangeSet"}[g.rng.IntN(3)]
		rec := g.base(acct, t, ident, "cloudformation.amazonaws.com", name)
		rec["requestParameters"] = doc{"stackName": "orders"}
		return rec
	case r < 82: // the legacy bot, long-term key
		ident := userIdentity(acct, "/bots/", "legacy-bot", "AKIABOT"+acct[:8]+"XXXXX")
		if r < 79 {
			key := fmt.Sprintf("orders/%04d/%02d.json", g.rng.IntN(2000), g.rng.IntN(60))
			rec := g.base(acct, t, ident, "s3.amazonaws.com", "GetObject")
			rec["requestParameters"] = doc{"bucketName": data, "key": key}
			rec["resources"] = s3Object(acct, data, key)
			rec["readOnly"], rec["managementEvent"], rec["eventCategory"] = true, false, "Data"
			return rec
		}
		rec := g.base(acct, t, ident, "s3.amazonaws.com", "ListBuckets")
		rec["requestParameters"] = doc{"Host": "s3." + region + ".amazonaws.com"}
		rec["readOnly"] = true
		return rec
	case r < 88: // alice in the console
		ident := alice
		name := []string{"ListRoles", "GetRole", "ListUsers"}[g.rng.IntN(3)]
		rec := g.base(acct, t, ident, "iam.amazonaws.com", name)
		rec["awsRegion"] = "us-east-1"
		if name == "GetRole" {
			rec["requestParameters"] = doc{"roleName": "app"}
		}
		rec["readOnly"] = true
		return rec
	case r < 91:
		rec := g.base(acct, t, alice, "signin.amazonaws.com", "ConsoleLogin")
		rec["eventType"] = "AwsConsoleSignIn"
		rec["responseElements"] = doc{"ConsoleLogin": "Success"}
		rec["additionalEventData"] = doc{"MFAUsed": "Yes"}
		delete(rec, "tlsDetails")
		return rec
	case r < 94: // a service event
		rec := g.base(acct, t, doc{"accountId": acct, "invokedBy": "kms.amazonaws.com"}, "kms.amazonaws.com", "RotateKey")
		rec["eventType"] = "AwsServiceEvent"
		rec["sourceIPAddress"] = "kms.amazonaws.com"
		return rec
	case r < 97: // the bucket owner's copy of a call from another account
		other := account((int(acct[len(acct)-1]-'0') % 7) + 20)
		key := "shared/feed.json"
		rec := g.base(acct, t, doc{"type": "AWSAccount", "principalId": "AROAOTHER:feed", "accountId": other}, "s3.amazonaws.com", "GetObject")
		rec["requestParameters"] = doc{"bucketName": data, "key": key}
		rec["resources"] = s3Object(acct, data, key)
		rec["sharedEventID"] = g.id()
		rec["managementEvent"], rec["eventCategory"] = false, "Data"
		return rec
	default: // the app role's PartiQL calls
		s, issue := g.session(acct, "/svc/", "app", "AROAAPP"+acct, t, ec2, nil)
		if issue != nil {
			return issue
		}
		ident := sessionIdentity(acct, "/svc/", "app", "AROAAPP"+acct, s, t.Add(-10*time.Minute), false)
		table := []any{doc{"accountId": acct, "type": "AWS::DynamoDB::Table", "ARN": "arn:aws:dynamodb:" + region + ":" + acct + ":table/orders"}}
		id := fmt.Sprintf("o-%04d", g.rng.IntN(2000))
		// Statements as CloudTrail logs them: non-key values redacted.
		read := `SELECT * FROM "orders" WHERE "id" = '` + id + `'`
		var rec doc
		switch n := g.rng.IntN(8); {
		case n < 4:
			rec = g.base(acct, t, ident, "dynamodb.amazonaws.com", "ExecuteStatement")
			rec["requestParameters"] = doc{"statement": read + ` AND "state" = ***(Redacted)`}
		case n < 6: // a read transaction
			rec = g.base(acct, t, ident, "dynamodb.amazonaws.com", "ExecuteTransaction")
			rec["requestParameters"] = doc{"transactStatements": []any{doc{"statement": read}, doc{"statement": read + ` AND "lines" > ***(Redacted)`}}}
		case n < 7: // a conditional update the app may not make; EXISTS leaves the call unmapped
			rec = g.base(acct, t, ident, "dynamodb.amazonaws.com", "ExecuteTransaction")
			rec["requestParameters"] = doc{"transactStatements": []any{
				doc{"statement": `EXISTS(SELECT * FROM "orders" WHERE "id" = '` + id + `' AND "state" = ***(Redacted))`},
				doc{"statement": `UPDATE "orders" SET "state" = ***(Redacted) WHERE "id" = '` + id + `'`}}}
			rec["errorCode"] = "AccessDeniedException"
			rec["errorMessage"] = "User: arn:aws:sts::" + acct + ":assumed-role/app/" + s.name + " is not authorized to perform: dynamodb:PartiQLUpdate on resource: " +
				"arn:aws:dynamodb:" + region + ":" + acct + ":table/orders because no identity-based policy allows the dynamodb:PartiQLUpdate action"
		default: // a batch, whose statements fail or succeed one by one: a call the mapping does not know
			rec = g.base(acct, t, ident, "dynamodb.amazonaws.com", "BatchExecuteStatement")
			rec["requestParameters"] = doc{"requestItems": []any{doc{"statement": read}, doc{"statement": read}}}
		}
		rec["resources"] = table
		rec["managementEvent"], rec["eventCategory"] = false, "Data"
		return rec
	}
}
