package ingest

import (
	"testing"

	"github.com/replay-iam/replay/catalog"
)

func TestActionMapper(t *testing.T) {
	m := NewActionMapper(catalog.Default())
	tests := []struct {
		source, name string
		want         []string
		noAction     bool
		unmapped     bool
	}{
		{"s3.amazonaws.com", "GetObject", []string{"s3:GetObject"}, false, false},
		{"s3.amazonaws.com", "HeadObject", []string{"s3:GetObject"}, false, false},
		{"s3.amazonaws.com", "ListObjectsV2", []string{"s3:ListBucket"}, false, false},
		{"s3.amazonaws.com", "ListBuckets", []string{"s3:ListAllMyBuckets"}, false, false},
		{"s3.amazonaws.com", "CopyObject", []string{"s3:PutObject", "s3:GetObject"}, false, false},
		{"lambda.amazonaws.com", "GetFunction20150331v2", []string{"lambda:GetFunction"}, false, false},
		{"lambda.amazonaws.com", "ListFunctions20150331", []string{"lambda:ListFunctions"}, false, false},
		{"lambda.amazonaws.com", "Invoke", []string{"lambda:InvokeFunction"}, false, false},
		{"monitoring.amazonaws.com", "PutMetricData", []string{"cloudwatch:PutMetricData"}, false, false},
		{"ec2.amazonaws.com", "DescribeInstances", []string{"ec2:DescribeInstances"}, false, false},
		{"sts.amazonaws.com", "AssumeRole", []string{"sts:AssumeRole"}, false, false},
		{"iam.amazonaws.com", "CreateRole", []string{"iam:CreateRole"}, false, false},
		{"kms.amazonaws.com", "Decrypt", []string{"kms:Decrypt"}, false, false},
		{"signin.amazonaws.com", "ConsoleLogin", nil, true, false},
		{"s3.amazonaws.com", "NoSuchCall", nil, false, true},
		{"unknown.amazonaws.com", "Anything", nil, false, true},
	}
	for _, tt := range tests {
		got, ok := m.Map(tt.source, tt.name)
		if ok == tt.unmapped {
			t.Errorf("%s %s: mapped=%v", tt.source, tt.name, ok)
			continue
		}
		if tt.noAction != (got.NoAction != "") {
			t.Errorf("%s %s: NoAction %q", tt.source, tt.name, got.NoAction)
		}
		if len(got.Actions) != len(tt.want) {
			t.Errorf("%s %s: actions %v, want %v", tt.source, tt.name, got.Actions, tt.want)
			continue
		}
		for i := range tt.want {
			if got.Actions[i] != tt.want[i] {
				t.Errorf("%s %s: actions %v, want %v", tt.source, tt.name, got.Actions, tt.want)
			}
		}
	}
}

// TestRenamedCallsExist guards the explicit table: every action it names
// must exist in the catalogue.
func TestRenamedCallsExist(t *testing.T) {
	cat := catalog.Default()
	for call, acts := range renamedCalls {
		for _, a := range acts {
			if _, ok := cat.Action(a); !ok {
				t.Errorf("%s maps to %s, which the catalogue does not know", call, a)
			}
		}
	}
	for source, prefix := range sourcePrefixes {
		if _, ok := cat.Service(prefix); !ok {
			t.Errorf("event source %s maps to unknown service prefix %s", source, prefix)
		}
	}
}
