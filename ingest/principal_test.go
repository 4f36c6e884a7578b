package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/replay-iam/replay/engine"
)

func record(t *testing.T, s string) *Record {
	t.Helper()
	var r Record
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func TestPrincipalOf(t *testing.T) {
	tests := []struct {
		name     string
		identity string
		kind     engine.PrincipalKind
		arn      string
		entity   string
		err      error
	}{
		{"iam user", `{"type":"IAMUser","principalId":"AIDA1","arn":"arn:aws:iam::111111111111:user/alice","accountId":"111111111111","userName":"alice"}`,
			engine.PrincipalUser, "arn:aws:iam::111111111111:user/alice", "", nil},
		{"role session", `{"type":"AssumedRole","principalId":"AROA1:s","arn":"arn:aws:sts::111111111111:assumed-role/app/s","accountId":"111111111111","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROA1","arn":"arn:aws:iam::111111111111:role/svc/app","accountId":"111111111111","userName":"app"}}}`,
			engine.PrincipalRoleSession, "arn:aws:sts::111111111111:assumed-role/app/s", "arn:aws:iam::111111111111:role/svc/app", nil},
		{"federated user", `{"type":"FederatedUser","principalId":"111111111111:bob","arn":"arn:aws:sts::111111111111:federated-user/bob","accountId":"111111111111","sessionContext":{"sessionIssuer":{"type":"IAMUser","arn":"arn:aws:iam::111111111111:user/bob"}}}`,
			engine.PrincipalFederatedUser, "arn:aws:sts::111111111111:federated-user/bob", "arn:aws:iam::111111111111:user/bob", nil},
		{"root", `{"type":"Root","principalId":"111111111111","arn":"arn:aws:iam::111111111111:root","accountId":"111111111111"}`,
			engine.PrincipalRoot, "arn:aws:iam::111111111111:root", "", nil},
		{"assumed root", `{"type":"Root","principalId":"111111111111","arn":"arn:aws:iam::111111111111:root","accountId":"111111111111","sessionContext":{"assumedRoot":"true"}}`,
			engine.PrincipalAssumedRoot, "arn:aws:iam::111111111111:root", "", nil},
		{"service", `{"type":"AWSService","invokedBy":"cloudtrail.amazonaws.com"}`,
			engine.PrincipalService, "cloudtrail.amazonaws.com", "", nil},
		{"anonymous", `{"type":"AWSAccount","principalId":"ANONYMOUS_PRINCIPAL","accountId":"ANONYMOUS_PRINCIPAL"}`,
			engine.PrincipalAnonymous, "", "", nil},
		{"other account", `{"type":"AWSAccount","principalId":"AIDA2","accountId":"222222222222"}`, 0, "", "", ErrOtherAccountCaller},
		{"identity center", `{"type":"IdentityCenterUser","accountId":"111111111111","onBehalfOf":{"userId":"u","identityStoreArn":"arn:aws:identitystore::111111111111:identitystore/d-1"}}`, 0, "", "", ErrUnsupportedPrincipal},
		{"unknown", `{"type":"Unknown","principalId":"x"}`, 0, "", "", ErrUnknownPrincipal},
		{"user without arn", `{"type":"IAMUser","accountId":"111111111111"}`, 0, "", "", ErrUnknownPrincipal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := record(t, `{"eventSource":"s3.amazonaws.com","eventName":"GetObject","userIdentity":`+tt.identity+`}`)
			p, err := PrincipalOf(r)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("error %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Kind != tt.kind || p.ARN != tt.arn || p.EntityARN != tt.entity {
				t.Errorf("got %+v", p)
			}
		})
	}
}

func TestBuildContext(t *testing.T) {
	session := record(t, `{"eventTime":"2026-11-20T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"PutObject","awsRegion":"eu-west-1",
	 "sourceIPAddress":"203.0.113.7","userAgent":"aws-cli/2",
	 "userIdentity":{"type":"AssumedRole","principalId":"AROA1:s","arn":"arn:aws:sts::111111111111:assumed-role/app/s","accountId":"111111111111",
	   "sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROA1","arn":"arn:aws:iam::111111111111:role/svc/app","accountId":"111111111111","userName":"app"},
	   "attributes":{"creationDate":"2026-11-20T09:00:00Z","mfaAuthenticated":"true"}}},
	 "requestParameters":{"bucketName":"b","key":"k","x-amz-tagging":"a=b"}}`)
	p, err := PrincipalOf(session)
	if err != nil {
		t.Fatal(err)
	}
	ctx := BuildContext(session, &p, "111111111111")
	checks := []struct {
		key   string
		state engine.KeyState
		value string
	}{
		{"aws:CurrentTime", engine.KeyPresent, "2026-11-20T10:00:00Z"},
		{"aws:EpochTime", engine.KeyPresent, "1795168800"},
		{"aws:RequestedRegion", engine.KeyPresent, "eu-west-1"},
		{"aws:SourceIp", engine.KeyPresent, "203.0.113.7"},
		{"aws:SourceVpce", engine.KeyAbsent, ""},
		{"aws:PrincipalArn", engine.KeyPresent, "arn:aws:iam::111111111111:role/svc/app"},
		{"aws:PrincipalType", engine.KeyPresent, "AssumedRole"},
		{"aws:userid", engine.KeyPresent, "AROA1:s"},
		{"aws:username", engine.KeyAbsent, ""}, // §6 case 48: absent for role sessions
		{"aws:MultiFactorAuthPresent", engine.KeyPresent, "true"},
		{"aws:MultiFactorAuthAge", engine.KeyValueUnknown, ""},
		{"aws:TokenIssueTime", engine.KeyPresent, "2026-11-20T09:00:00Z"},
		{"aws:SecureTransport", engine.KeyUnknown, ""}, // §6 case 47: no tlsDetails is not "false"
		{"aws:SourceArn", engine.KeyUnknown, ""},
		{"aws:PrincipalTag/team", engine.KeyUnknown, ""}, // needs the snapshot
		{"aws:TagKeys", engine.KeyAbsent, ""},
		{"aws:ViaAWSService", engine.KeyPresent, "false"},
		// Credentials not delivered to an EC2 instance carry no instance keys.
		{"aws:Ec2InstanceSourceVpc", engine.KeyAbsent, ""},
		{"aws:Ec2InstanceSourcePrivateIPv4", engine.KeyAbsent, ""},
	}
	for _, c := range checks {
		if got := ctx.State(c.key); got != c.state {
			t.Errorf("%s: state %v, want %v", c.key, got, c.state)
			continue
		}
		if c.state == engine.KeyPresent {
			if v := ctx.Values(c.key); len(v) != 1 || v[0] != c.value {
				t.Errorf("%s = %v, want %q", c.key, v, c.value)
			}
		}
	}

	user := record(t, `{"eventTime":"2026-11-20T10:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","awsRegion":"us-east-1",
	 "sourceIPAddress":"10.1.2.3","vpcEndpointId":"vpce-1","tlsDetails":{"tlsVersion":"TLSv1.2"},
	 "userIdentity":{"type":"IAMUser","principalId":"AIDA1","arn":"arn:aws:iam::111111111111:user/alice","accountId":"111111111111","userName":"alice","accessKeyId":"AKIA1"},
	 "requestParameters":{"tagSpecificationSet":{"items":[{"resourceType":"instance","tags":[{"key":"team","value":"blue"},{"key":"env","value":"prod"}]}]}}}`)
	p, _ = PrincipalOf(user)
	ctx = BuildContext(user, &p, "111111111111")
	if ctx.State("aws:SourceIp") != engine.KeyAbsent || ctx.Values("aws:VpcSourceIp")[0] != "10.1.2.3" || ctx.Values("aws:SourceVpce")[0] != "vpce-1" {
		t.Error("VPC endpoint request: aws:SourceIp must be absent, aws:VpcSourceIp and aws:SourceVpce present")
	}
	if ctx.Values("aws:SecureTransport")[0] != "true" || ctx.Values("aws:username")[0] != "alice" {
		t.Error("tlsDetails or aws:username not derived")
	}
	if ctx.State("aws:MultiFactorAuthPresent") != engine.KeyAbsent {
		t.Error("long-term keys: aws:MultiFactorAuthPresent must be absent")
	}
	if v := ctx.Values("aws:TagKeys"); len(v) != 2 || v[0] != "env" || ctx.Values("aws:RequestTag/team")[0] != "blue" {
		t.Errorf("request tags: %v", v)
	}
	if ctx.State("aws:RequestTag/other") != engine.KeyAbsent {
		t.Error("tags not passed must be absent once the request's tags are known")
	}
}

func TestRequestTagFields(t *testing.T) {
	tests := []struct {
		params string
		state  engine.KeyState // of aws:TagKeys
		keys   string
	}{
		{``, engine.KeyAbsent, ""},
		{`null`, engine.KeyAbsent, ""},
		{`{"bucketName":"b","key":"tags/x"}`, engine.KeyAbsent, ""},
		{`{"name":"tags"}`, engine.KeyAbsent, ""}, // the word as a value, not a field
		{`{"tags":{"team":"blue"}}`, engine.KeyPresent, "team"},
		{`{"\u0074ags":{"team":"blue"}}`, engine.KeyPresent, "team"}, // an escaped field name
		{`{"Tags":[{"Key":"a","Value":"1"},{"Key":"b","Value":"2"}]}`, engine.KeyPresent, "a,b"},
		{`{"tagSpecificationSet":{"items":[{"tags":[{"key":"env","value":"p"}]}]}}`, engine.KeyPresent, "env"},
		{`{"tags":"not a tag list"}`, engine.KeyUnknown, ""},
	}
	for _, tt := range tests {
		ctx := engine.NewContext()
		ctx.SetDefault(engine.KeyUnknown)
		setRequestTags(ctx, []byte(tt.params))
		if st := ctx.State("aws:TagKeys"); st != tt.state || strings.Join(ctx.Values("aws:TagKeys"), ",") != tt.keys {
			t.Errorf("%s: aws:TagKeys %v %v, want %v %q", tt.params, st, ctx.Values("aws:TagKeys"), tt.state, tt.keys)
		}
	}
}

// TestMayHoldTags checks the one-pass filter against its definition: some
// quoted tag field name appears, or an escape sequence could spell one.
func TestMayHoldTags(t *testing.T) {
	literal := func(params []byte) bool {
		if bytes.Contains(params, []byte(`\u`)) {
			return true
		}
		for _, f := range tagFields {
			if bytes.Contains(params, []byte(`"`+f+`"`)) {
				return true
			}
		}
		return false
	}
	inputs := []string{``, `{}`, `"tags"`, `{"tags":1}`, `{"Tags":1}`, `{"tag":1}`, `{"xtags":1}`, `{"tagsx":1}`,
		`{"TagSpecifications":[]}`, `{"tagSpecificationSet":{}}`, `{"name":"\u0074ags"}`, `{"a":"g","b":"ag"}`,
		`tags"`, `"Tag`, `{"TagList":[],"tagList":[]}`, `{"Tagging":{}}`, `{"tagging":{}}`, `{"tagSet":[]}`, `{"TagSet":[]}`}
	rng := rand.New(rand.NewPCG(1, 2))
	// Random inputs from pieces of the field names, so that whole names,
	// near misses and overlaps all come up.
	pieces := []string{`"`, `tag`, `Tag`, `s`, `Set`, `Sets`, `List`, `ging`, `g`, `a`, `t`, `\u`, `\`, `{`, `:`,
		`Specifications`, `SpecificationSet`, `x`}
	for range 50000 {
		var b strings.Builder
		for range rng.IntN(10) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		inputs = append(inputs, b.String())
	}
	for _, in := range inputs {
		if got, want := mayHoldTags([]byte(in)), literal([]byte(in)); got != want {
			t.Errorf("mayHoldTags(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestTimeStrings checks the time values kept from record to record: the
// same second gives the same values, any other second new ones, and the
// first call formats even at Unix time 0.
func TestTimeStrings(t *testing.T) {
	noon := time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC)
	paris := time.FixedZone("CET", 3600)
	tests := []struct {
		at             time.Time
		current, epoch string
	}{
		{time.Unix(0, 0), "1970-01-01T00:00:00Z", "0"},
		{noon, "2026-11-03T12:00:00Z", "1793707200"},
		{noon.Add(999 * time.Millisecond), "2026-11-03T12:00:00Z", "1793707200"},
		{noon.Add(time.Second), "2026-11-03T12:00:01Z", "1793707201"},
		{noon.In(paris).Add(-time.Hour), "2026-11-03T11:00:00Z", "1793703600"},
		{noon, "2026-11-03T12:00:00Z", "1793707200"},
	}
	var ts timeStrings
	for _, tt := range tests {
		if current, epoch := ts.at(tt.at); current != tt.current || epoch != tt.epoch {
			t.Errorf("at(%v) = %s %s, want %s %s", tt.at, current, epoch, tt.current, tt.epoch)
		}
	}
}

// TestTimeValues checks the hand-made formatting of the time values
// against the standard library's, over the whole range of four-digit years
// and beyond it.
func TestTimeValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	times := []time.Time{
		time.Unix(0, 0).UTC(),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(-1, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC),
	}
	lo, hi := times[1].Unix(), times[2].Unix()
	for range 100000 {
		times = append(times, time.Unix(lo+rng.Int64N(hi-lo+1), 0).UTC())
	}
	for _, at := range times {
		current, epoch := timeValues(at)
		if want := at.Format(time.RFC3339); current != want {
			t.Errorf("%v: current %q, want %q", at, current, want)
		}
		if want := strconv.FormatInt(at.Unix(), 10); epoch != want {
			t.Errorf("%v: epoch %q, want %q", at, epoch, want)
		}
	}
}
