package ingest

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/replay-iam/replay/catalog"
)

func TestResolveResource(t *testing.T) {
	paths := func(account, kind, name string) (string, bool) {
		if account == "111111111111" && kind == "role" && name == "deployer" {
			return "/ci/", true
		}
		return "", false
	}
	tests := []struct {
		name   string
		record string
		action string
		want   ResolvedResource
	}{
		{
			name: "s3 object from the resources list, owner from the bucket entry",
			record: `{"eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"eu-west-1","recipientAccountId":"222222222222",
				"requestParameters":{"bucketName":"data","key":"reports/a.csv","Host":"data.s3.eu-west-1.amazonaws.com"},
				"resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::data/reports/a.csv"},
				             {"accountId":"111111111111","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::data"}]}`,
			action: "s3:GetObject",
			want:   ResolvedResource{ARN: "arn:aws:s3:::data/reports/a.csv", Account: "111111111111", Source: ResourceFromRecord},
		},
		{
			name: "s3 bucket action picks the bucket entry",
			record: `{"eventSource":"s3.amazonaws.com","eventName":"ListObjects","awsRegion":"eu-west-1",
				"requestParameters":{"bucketName":"data","prefix":"x/"},
				"resources":[{"accountId":"111111111111","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::data"}]}`,
			action: "s3:ListBucket",
			want:   ResolvedResource{ARN: "arn:aws:s3:::data", Account: "111111111111", Source: ResourceFromRecord},
		},
		{
			name: "s3 object from parameters when resources are missing",
			record: `{"eventSource":"s3.amazonaws.com","eventName":"PutObject","awsRegion":"us-east-1","recipientAccountId":"111111111111",
				"requestParameters":{"bucketName":"data","key":"in/b.json"}}`,
			action: "s3:PutObject",
			want:   ResolvedResource{ARN: "arn:aws:s3:::data/in/b.json", Source: ResourceFromParameters},
		},
		{
			name: "s3 object key not logged: partial pattern over the bucket",
			record: `{"eventSource":"s3.amazonaws.com","eventName":"DeleteObjects","awsRegion":"us-east-1",
				"requestParameters":{"bucketName":"data","delete":""},
				"resources":[{"accountId":"111111111111","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::data"}]}`,
			action: "s3:DeleteObject",
			want:   ResolvedResource{ARN: "arn:aws:s3:::data/*", Partial: true, Account: "111111111111", Source: ResourcePartial},
		},
		{
			name: "kms key from the resources list",
			record: `{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","awsRegion":"eu-west-1","recipientAccountId":"111111111111",
				"requestParameters":{"encryptionAlgorithm":"SYMMETRIC_DEFAULT"},
				"resources":[{"accountId":"111111111111","type":"AWS::KMS::Key","ARN":"arn:aws:kms:eu-west-1:111111111111:key/0a1b"}]}`,
			action: "kms:Decrypt",
			want:   ResolvedResource{ARN: "arn:aws:kms:eu-west-1:111111111111:key/0a1b", Account: "111111111111", Source: ResourceFromRecord},
		},
		{
			name: "kms key named by alias is not the key: partial",
			record: `{"eventSource":"kms.amazonaws.com","eventName":"Encrypt","awsRegion":"eu-west-1","recipientAccountId":"111111111111",
				"requestParameters":{"keyId":"alias/app"}}`,
			action: "kms:Encrypt",
			want:   ResolvedResource{ARN: "arn:aws:kms:eu-west-1:111111111111:key/*", Partial: true, Account: "111111111111", Source: ResourcePartial},
		},
		{
			name: "lambda function given as an ARN with a qualifier",
			record: `{"eventSource":"lambda.amazonaws.com","eventName":"Invoke","awsRegion":"eu-west-1","recipientAccountId":"111111111111",
				"requestParameters":{"functionName":"arn:aws:lambda:eu-west-1:333333333333:function:resize:prod"}}`,
			action: "lambda:InvokeFunction",
			want:   ResolvedResource{ARN: "arn:aws:lambda:eu-west-1:333333333333:function:resize:prod", Account: "333333333333", Source: ResourceFromParameters},
		},
		{
			name: "lambda function by name",
			record: `{"eventSource":"lambda.amazonaws.com","eventName":"GetFunction20150331v2","awsRegion":"eu-west-1","recipientAccountId":"111111111111",
				"requestParameters":{"functionName":"resize"}}`,
			action: "lambda:GetFunction",
			want:   ResolvedResource{ARN: "arn:aws:lambda:eu-west-1:111111111111:function:resize", Account: "111111111111", Source: ResourceFromParameters},
		},
		{
			name: "sqs queue from its URL",
			record: `{"eventSource":"sqs.amazonaws.com","eventName":"SendMessage","awsRegion":"us-east-2","recipientAccountId":"111111111111",
				"requestParameters":{"queueUrl":"https://sqs.us-east-2.amazonaws.com/111111111111/jobs"}}`,
			action: "sqs:SendMessage",
			want:   ResolvedResource{ARN: "arn:aws:sqs:us-east-2:111111111111:jobs", Account: "111111111111", Source: ResourceFromParameters},
		},
		{
			name: "sns topic ARN",
			record: `{"eventSource":"sns.amazonaws.com","eventName":"Publish","awsRegion":"us-east-2","recipientAccountId":"111111111111",
				"requestParameters":{"topicArn":"arn:aws:sns:us-east-2:111111111111:alerts","message":"HIDDEN_DUE_TO_SECURITY_REASONS"}}`,
			action: "sns:Publish",
			want:   ResolvedResource{ARN: "arn:aws:sns:us-east-2:111111111111:alerts", Account: "111111111111", Source: ResourceFromParameters},
		},
		{
			name: "dynamodb table in another partition",
			record: `{"eventSource":"dynamodb.amazonaws.com","eventName":"GetItem","awsRegion":"cn-north-1","recipientAccountId":"111111111111",
				"requestParameters":{"tableName":"orders","key":{"id":{}}}}`,
			action: "dynamodb:GetItem",
			want:   ResolvedResource{ARN: "arn:aws-cn:dynamodb:cn-north-1:111111111111:table/orders", Account: "111111111111", Source: ResourceFromParameters},
		},
		{
			name: "secret by name: the ARN's random suffix is a pattern",
			record: `{"eventSource":"secretsmanager.amazonaws.com","eventName":"GetSecretValue","awsRegion":"eu-west-1","recipientAccountId":"111111111111",
				"requestParameters":{"secretId":"prod/db"}}`,
			action: "secretsmanager:GetSecretValue",
			want:   ResolvedResource{ARN: "arn:aws:secretsmanager:eu-west-1:111111111111:secret:prod/db-??????", Partial: true, Account: "111111111111", Source: ResourcePartial},
		},
		{
			name: "iam role by name, path from the snapshot",
			record: `{"eventSource":"iam.amazonaws.com","eventName":"GetRole","awsRegion":"us-east-1","recipientAccountId":"111111111111",
				"requestParameters":{"roleName":"deployer"}}`,
			action: "iam:GetRole",
			want:   ResolvedResource{ARN: "arn:aws:iam::111111111111:role/ci/deployer", Account: "111111111111", Source: ResourceFromParameters},
		},
		{
			name: "iam role by name, path unknown: partial",
			record: `{"eventSource":"iam.amazonaws.com","eventName":"GetRole","awsRegion":"us-east-1","recipientAccountId":"111111111111",
				"requestParameters":{"roleName":"other"}}`,
			action: "iam:GetRole",
			want:   ResolvedResource{ARN: "arn:aws:iam::111111111111:role/*", Partial: true, Account: "111111111111", Source: ResourcePartial},
		},
		{
			name: "iam user call without a user name acts on the caller",
			record: `{"eventSource":"iam.amazonaws.com","eventName":"ListAccessKeys","awsRegion":"us-east-1","recipientAccountId":"111111111111",
				"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111111111111:user/ops/alice","accountId":"111111111111"},
				"requestParameters":null}`,
			action: "iam:ListAccessKeys",
			want:   ResolvedResource{ARN: "arn:aws:iam::111111111111:user/ops/alice", Account: "111111111111", Source: ResourceFromParameters},
		},
		{
			name: "sts AssumeRole of a role in another account",
			record: `{"eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"us-east-1","recipientAccountId":"111111111111",
				"requestParameters":{"roleArn":"arn:aws:iam::444444444444:role/audit","roleSessionName":"s"},
				"resources":[{"accountId":"444444444444","type":"AWS::IAM::Role","ARN":"arn:aws:iam::444444444444:role/audit"}]}`,
			action: "sts:AssumeRole",
			want:   ResolvedResource{ARN: "arn:aws:iam::444444444444:role/audit", Account: "444444444444", Source: ResourceFromRecord},
		},
		{
			name: "an action that takes no resource",
			record: `{"eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","awsRegion":"us-east-1","recipientAccountId":"111111111111",
				"requestParameters":{"instancesSet":{}}}`,
			action: "ec2:DescribeInstances",
			want:   ResolvedResource{ARN: "*", Account: "111111111111", Source: ResourceNone},
		},
		{
			name:   "an action the catalogue does not know",
			record: `{"eventSource":"x.amazonaws.com","eventName":"Y","recipientAccountId":"111111111111"}`,
			action: "x:Y",
			want:   ResolvedResource{ARN: "*", Partial: true, Account: "111111111111", Source: ResourceUnresolved},
		},
	}
	// One resolver serves every case, twice, the second time in reverse
	// order: its second answers come from the actions it remembers.
	r := NewResourceResolver(catalog.Default(), paths)
	for _, round := range []string{"first", "again"} {
		for i := range tests {
			tt := tests[i]
			if round == "again" {
				tt = tests[len(tests)-1-i]
			}
			t.Run(round+"/"+tt.name, func(t *testing.T) {
				var rec Record
				if err := json.Unmarshal([]byte(tt.record), &rec); err != nil {
					t.Fatal(err)
				}
				if got := r.Resolve(&rec, tt.action); got != tt.want {
					t.Errorf("Resolve(%s)\n got %+v\nwant %+v", tt.action, got, tt.want)
				}
			})
		}
	}
}

func TestRefineActions(t *testing.T) {
	tests := []struct {
		event  string
		params string
		in     []string
		want   []string
	}{
		{"CopyObject", `{"bucketName":"b","key":"k","x-amz-copy-source":"src/k?versionId=v1"}`, []string{"s3:PutObject", "s3:GetObject"}, []string{"s3:PutObject", "s3:GetObjectVersion"}},
		{"CopyObject", `{"bucketName":"b","key":"k","x-amz-copy-source":"src/k"}`, []string{"s3:PutObject", "s3:GetObject"}, []string{"s3:PutObject", "s3:GetObject"}},
		{"GetObject", `{"bucketName":"b","key":"k","versionId":"3HL4kqtJ"}`, []string{"s3:GetObject"}, []string{"s3:GetObjectVersion"}},
		{"GetObject", `{"bucketName":"b","key":"k","versionId":"3HL4kqtJ"}`, []string{"s3:DeleteObject"}, []string{"s3:DeleteObjectVersion"}},
		{"GetObject", `{"bucketName":"b","key":"k"}`, []string{"s3:GetObject"}, []string{"s3:GetObject"}},
		{"GetObject", `{"bucketName":"b","key":"k","versionId":"v"}`, []string{"s3:PutObject"}, []string{"s3:PutObject"}},
		{"GetObject", `{"versionId":"v"}`, []string{"lambda:GetFunction"}, []string{"lambda:GetFunction"}},
	}
	for _, tt := range tests {
		rec := Record{EventName: tt.event, RequestParameters: json.RawMessage(tt.params)}
		if got := RefineActions(&rec, tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("RefineActions(%s, %v) = %v, want %v", tt.params, tt.in, got, tt.want)
		}
	}
}

func TestARNAccount(t *testing.T) {
	for _, c := range []struct{ arn, want string }{
		{"arn:aws:iam::123456789012:role/app", "123456789012"},
		{"arn:aws:kms:us-east-1:111122223333:key/a:b", "111122223333"},
		{"arn:aws:s3:::bucket/key", ""},
		{"arn:aws:iam::aws:policy/ReadOnlyAccess", ""},
		{"arn:aws:sqs:us-east-1:222233334444", ""}, // no resource field
		{"arn:a:b:c:d:", "d"},
		{"not-an-arn", ""},
		{"", ""},
	} {
		if got := arnAccount(c.arn); got != c.want {
			t.Errorf("arnAccount(%q) = %q, want %q", c.arn, got, c.want)
		}
	}
}
