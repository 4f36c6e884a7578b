package ingest

import (
	"bufio"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
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
		{"apigateway.amazonaws.com", "GetRestApis", []string{"apigateway:GET"}, false, false},
		{"apigateway.amazonaws.com", "UpdateStage", []string{"apigateway:PATCH"}, false, false},
		{"apigateway.amazonaws.com", "CreateDeployment", []string{"apigateway:POST"}, false, false},
		{"apigateway.amazonaws.com", "DeleteRestApi", []string{"apigateway:DELETE"}, false, false},
		{"budgets.amazonaws.com", "DescribeBudgets", []string{"budgets:ViewBudget"}, false, false},
		{"budgets.amazonaws.com", "UpdateBudget", []string{"budgets:ModifyBudget"}, false, false},
		{"cassandra.amazonaws.com", "CreateKeyspace", []string{"cassandra:Create"}, false, false},
		{"cassandra.amazonaws.com", "DeleteTable", []string{"cassandra:Drop"}, false, false},
		{"bedrock.amazonaws.com", "Converse", []string{"bedrock:InvokeModel"}, false, false},
		{"pinpoint.amazonaws.com", "GetApps", []string{"mobiletargeting:GetApps"}, false, false},
		{"s3.amazonaws.com", "DeleteBucketMetricsConfiguration", []string{"s3:PutMetricsConfiguration"}, false, false},
		{"execute-api.amazonaws.com", "PostToConnection", []string{"execute-api:ManageConnections"}, false, false},
		{"sso-oauth.amazonaws.com", "CreateToken", nil, true, false},
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

// TestMappingCoverage maps the API operations of 61 widely used services
// (testdata/api-operations.tsv, from the AWS SDK service models) and checks
// that nearly all map, and that every action a mapping yields is in the
// catalogue.
func TestMappingCoverage(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "api-operations.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cat := catalog.Default()
	m := NewActionMapper(cat)
	var total, mapped int
	var unmapped []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		source, name, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("malformed line %q", line)
		}
		total++
		am, ok := m.Map(source, name)
		if !ok {
			unmapped = append(unmapped, source+" "+name)
			continue
		}
		mapped++
		if am.Listed != NotListed {
			am.Actions = append(slices.Collect(maps.Values(partiQLActions)), slices.Collect(maps.Values(transactItemActions))...)
		}
		for _, a := range am.Actions {
			if _, ok := cat.Action(a); !ok {
				t.Errorf("%s %s maps to %s, which the catalogue does not know", source, name, a)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	coverage := float64(mapped) / float64(total)
	t.Logf("mapped %d of %d API operations (%.2f%%); unmapped: %s", mapped, total, 100*coverage, strings.Join(unmapped, ", "))
	if total < 500 {
		t.Errorf("only %d operations in the list", total)
	}
	if coverage < 0.99 {
		t.Errorf("coverage %.2f%% is below 99%%", 100*coverage)
	}
}

// TestMapEventRemembers checks that the translator's remembered mappings
// are the mapper's, on first and later use, and that it keeps at most
// maxMappedEvents of them while still mapping the rest.
func TestMapEventRemembers(t *testing.T) {
	cat := catalog.Default()
	m := NewActionMapper(cat)
	tr := &Translator{mapper: m}
	// Calls of one name in several services are told apart by source.
	calls := []struct{ source, name string }{
		{"s3.amazonaws.com", "GetObject"}, {"s3.amazonaws.com", "CopyObject"},
		{"lambda.amazonaws.com", "GetFunction20150331v2"}, {"signin.amazonaws.com", "ConsoleLogin"},
		{"s3.amazonaws.com", "NoSuchCall"}, {"apigateway.amazonaws.com", "UpdateStage"},
		{"dynamodb.amazonaws.com", "TagResource"}, {"sns.amazonaws.com", "TagResource"},
		{"nosuch.amazonaws.com", "TagResource"},
	}
	for range 2 {
		for _, c := range calls {
			want, wantOK := m.Map(c.source, c.name)
			got, ok := tr.mapEvent(c.source, c.name)
			if ok != wantOK || !reflect.DeepEqual(got, want) {
				t.Errorf("%v: mapEvent = %+v, %v; Map = %+v, %v", c, got, ok, want, wantOK)
			}
		}
	}
	for i := range maxMappedEvents + 100 {
		tr.mapEvent("ec2.amazonaws.com", "Call"+strconv.Itoa(i))
	}
	kept := 0
	for _, ms := range tr.mapped {
		kept += len(ms)
	}
	if kept != maxMappedEvents || tr.nMapped != kept {
		t.Errorf("%d mappings kept (counted %d), want %d", kept, tr.nMapped, maxMappedEvents)
	}
	got, ok := tr.mapEvent("ec2.amazonaws.com", "DescribeInstances")
	if !ok || len(got.Actions) != 1 || got.Actions[0] != "ec2:DescribeInstances" {
		t.Errorf("after the bound: mapEvent = %+v, %v", got, ok)
	}
}
