package ingest

import (
	"strings"

	"github.com/replay-iam/replay/catalog"
)

// ActionMapping is what an API call needs: the IAM actions it is authorized
// as, or why it maps to none.
type ActionMapping struct {
	// Actions are canonical "prefix:ActionName" names; the first is the
	// action the call itself is authorized as.
	Actions []string
	// NoAction, when set, says why the call is authorized by no IAM action
	// (a sign-in event, a service-internal event).
	NoAction string
	// Listed, when set, means the call needs an action on a resource for
	// each item its request parameters list (see Listing); Actions is nil.
	Listed Listing
	// EachResource means the call needs its action on every resource its
	// record lists of the action's type (see ResourceResolver.EachFit).
	EachResource bool
}

// eachResourceCalls act on several tables at once, each of which the
// record lists, and need their action on each.
var eachResourceCalls = map[string]bool{
	"dynamodb:BatchGetItem":     true,
	"dynamodb:BatchWriteItem":   true,
	"dynamodb:TransactGetItems": true,
}

// listedCalls are the calls whose actions and resources are their
// request parameters' items.
var listedCalls = map[string]Listing{
	"dynamodb:ExecuteStatement":   ListedStatement,
	"dynamodb:ExecuteTransaction": ListedTransactStatements,
	"dynamodb:TransactWriteItems": ListedTransactItems,
}

// sourcePrefixes maps event sources whose host name is not the service's
// IAM prefix.
var sourcePrefixes = map[string]string{
	"monitoring.amazonaws.com":                 "cloudwatch",
	"email.amazonaws.com":                      "ses",
	"s3-outposts.amazonaws.com":                "s3-outposts",
	"runtime.sagemaker.amazonaws.com":          "sagemaker",
	"bedrock-runtime.amazonaws.com":            "bedrock",
	"elasticmapreduce.amazonaws.com":           "elasticmapreduce",
	"tagging.amazonaws.com":                    "tag",
	"sso-directory.amazonaws.com":              "sso-directory",
	"identitystore.amazonaws.com":              "identitystore",
	"execute-api.amazonaws.com":                "execute-api",
	"streams.dynamodb.amazonaws.com":           "dynamodb",
	"data.iot.amazonaws.com":                   "iot",
	"cloudcontrolapi.amazonaws.com":            "cloudformation",
	"resource-explorer-2.amazonaws.com":        "resource-explorer-2",
	"ssm-guiconnect.amazonaws.com":             "ssm-guiconnect",
	"servicecatalog-appregistry.amazonaws.com": "servicecatalog",
	"pinpoint.amazonaws.com":                   "mobiletargeting",
}

// renamedCalls lists API calls whose IAM action has another name, keyed by
// "prefix:EventName". Calls that need several actions list them all, the
// call's own action first.
var renamedCalls = map[string][]string{
	"s3:HeadObject":                                  {"s3:GetObject"},
	"s3:HeadBucket":                                  {"s3:ListBucket"},
	"s3:ListObjects":                                 {"s3:ListBucket"},
	"s3:ListObjectsV2":                               {"s3:ListBucket"},
	"s3:ListObjectVersions":                          {"s3:ListBucketVersions"},
	"s3:ListBuckets":                                 {"s3:ListAllMyBuckets"},
	"s3:ListDirectoryBuckets":                        {"s3express:ListAllMyDirectoryBuckets"},
	"s3:CreateMultipartUpload":                       {"s3:PutObject"},
	"s3:UploadPart":                                  {"s3:PutObject"},
	"s3:CompleteMultipartUpload":                     {"s3:PutObject"},
	"s3:UploadPartCopy":                              {"s3:PutObject", "s3:GetObject"},
	"s3:CopyObject":                                  {"s3:PutObject", "s3:GetObject"},
	"s3:DeleteObjects":                               {"s3:DeleteObject"},
	"s3:SelectObjectContent":                         {"s3:GetObject"},
	"s3:ListMultipartUploads":                        {"s3:ListBucketMultipartUploads"},
	"s3:ListParts":                                   {"s3:ListMultipartUploadParts"},
	"s3:GetBucketEncryption":                         {"s3:GetEncryptionConfiguration"},
	"s3:PutBucketEncryption":                         {"s3:PutEncryptionConfiguration"},
	"s3:DeleteBucketEncryption":                      {"s3:PutEncryptionConfiguration"},
	"s3:GetBucketLifecycle":                          {"s3:GetLifecycleConfiguration"},
	"s3:GetBucketLifecycleConfiguration":             {"s3:GetLifecycleConfiguration"},
	"s3:PutBucketLifecycle":                          {"s3:PutLifecycleConfiguration"},
	"s3:PutBucketLifecycleConfiguration":             {"s3:PutLifecycleConfiguration"},
	"s3:DeleteBucketLifecycle":                       {"s3:PutLifecycleConfiguration"},
	"s3:GetBucketReplication":                        {"s3:GetReplicationConfiguration"},
	"s3:PutBucketReplication":                        {"s3:PutReplicationConfiguration"},
	"s3:DeleteBucketReplication":                     {"s3:PutReplicationConfiguration"},
	"s3:GetBucketCors":                               {"s3:GetBucketCORS"},
	"s3:PutBucketCors":                               {"s3:PutBucketCORS"},
	"s3:DeleteBucketCors":                            {"s3:PutBucketCORS"},
	"s3:DeleteBucketTagging":                         {"s3:PutBucketTagging"},
	"s3:GetBucketNotificationConfiguration":          {"s3:GetBucketNotification"},
	"s3:PutBucketNotificationConfiguration":          {"s3:PutBucketNotification"},
	"s3:DeleteBucketOwnershipControls":               {"s3:PutBucketOwnershipControls"},
	"s3:GetBucketIntelligentTieringConfiguration":    {"s3:GetIntelligentTieringConfiguration"},
	"s3:PutBucketIntelligentTieringConfiguration":    {"s3:PutIntelligentTieringConfiguration"},
	"s3:GetBucketAnalyticsConfiguration":             {"s3:GetAnalyticsConfiguration"},
	"s3:PutBucketAnalyticsConfiguration":             {"s3:PutAnalyticsConfiguration"},
	"s3:GetBucketInventoryConfiguration":             {"s3:GetInventoryConfiguration"},
	"s3:PutBucketInventoryConfiguration":             {"s3:PutInventoryConfiguration"},
	"s3:GetBucketMetricsConfiguration":               {"s3:GetMetricsConfiguration"},
	"s3:PutBucketMetricsConfiguration":               {"s3:PutMetricsConfiguration"},
	"s3:GetObjectLockConfiguration":                  {"s3:GetBucketObjectLockConfiguration"},
	"s3:PutObjectLockConfiguration":                  {"s3:PutBucketObjectLockConfiguration"},
	"s3:DeleteBucketPublicAccessBlock":               {"s3:PutBucketPublicAccessBlock"},
	"s3:GetPublicAccessBlock":                        {"s3:GetAccountPublicAccessBlock"},
	"s3:PutPublicAccessBlock":                        {"s3:PutAccountPublicAccessBlock"},
	"s3:DeleteBucketLifecycleConfiguration":          {"s3:PutLifecycleConfiguration"},
	"s3:DeleteBucketAnalyticsConfiguration":          {"s3:PutAnalyticsConfiguration"},
	"s3:DeleteBucketIntelligentTieringConfiguration": {"s3:PutIntelligentTieringConfiguration"},
	"s3:DeleteBucketInventoryConfiguration":          {"s3:PutInventoryConfiguration"},
	"s3:DeleteBucketMetricsConfiguration":            {"s3:PutMetricsConfiguration"},
	"s3:ListBucketAnalyticsConfigurations":           {"s3:GetAnalyticsConfiguration"},
	"s3:ListBucketIntelligentTieringConfigurations":  {"s3:GetIntelligentTieringConfiguration"},
	"s3:ListBucketInventoryConfigurations":           {"s3:GetInventoryConfiguration"},
	"s3:ListBucketMetricsConfigurations":             {"s3:GetMetricsConfiguration"},
	"s3:GetBucketAccelerateConfiguration":            {"s3:GetAccelerateConfiguration"},
	"s3:PutBucketAccelerateConfiguration":            {"s3:PutAccelerateConfiguration"},
	"s3:DeletePublicAccessBlock":                     {"s3:PutAccountPublicAccessBlock"},
	"s3:CreateSession":                               {"s3express:CreateSession"},
	"s3:WriteGetObjectResponse":                      {"s3-object-lambda:WriteGetObjectResponse"},
	"lambda:Invoke":                                  {"lambda:InvokeFunction"},
	"lambda:GetLayerVersionByArn":                    {"lambda:GetLayerVersion"},
	"dynamodb:TransactGetItems":                      {"dynamodb:GetItem"},
	"bedrock:Converse":                               {"bedrock:InvokeModel"},
	"bedrock:ConverseStream":                         {"bedrock:InvokeModelWithResponseStream"},
	"access-analyzer:GetFindingV2":                   {"access-analyzer:GetFinding"},
	"access-analyzer:ListFindingsV2":                 {"access-analyzer:ListFindings"},
	"cloudfront:CreateDistributionWithTags":          {"cloudfront:CreateDistribution", "cloudfront:TagResource"},
	"quicksight:DescribeAnalysisDefinition":          {"quicksight:DescribeAnalysis"},
	"quicksight:DescribeDashboardDefinition":         {"quicksight:DescribeDashboard"},
	"quicksight:DescribeTemplateDefinition":          {"quicksight:DescribeTemplate"},
	"execute-api:PostToConnection":                   {"execute-api:ManageConnections"},
	"execute-api:GetConnection":                      {"execute-api:ManageConnections"},
	"execute-api:DeleteConnection":                   {"execute-api:ManageConnections"},
	"lambda:InvokeAsync":                             {"lambda:InvokeAsync"},
	"lambda:InvokeWithResponseStream":                {"lambda:InvokeFunction"},
	"dynamodb:BatchGetItem":                          {"dynamodb:BatchGetItem"},
	"kms:ReEncrypt":                                  {"kms:ReEncryptFrom", "kms:ReEncryptTo"},
	"sqs:SendMessageBatch":                           {"sqs:SendMessage"},
	"sqs:DeleteMessageBatch":                         {"sqs:DeleteMessage"},
	"sqs:ChangeMessageVisibilityBatch":               {"sqs:ChangeMessageVisibility"},
	"sns:PublishBatch":                               {"sns:Publish"},
	"logs:FilterLogEvents":                           {"logs:FilterLogEvents"},
	"monitoring:GetMetricData":                       {"cloudwatch:GetMetricData"},
	"ec2:CreateTags":                                 {"ec2:CreateTags"},
}

// noIAMAction lists calls that IAM policies do not authorize, with why.
var noIAMAction = map[string]string{
	"signin:ConsoleLogin":                "console sign-in is authenticated, not authorized by an IAM action",
	"signin:CheckMfa":                    "console sign-in step",
	"signin:CredentialVerification":      "console sign-in step",
	"signin:CredentialChallenge":         "console sign-in step",
	"signin:SwitchRole":                  "console role switch; the AssumeRole it makes is logged separately",
	"signin:ExitRole":                    "console role switch",
	"signin:RenewRole":                   "console session renewal",
	"sso:Federate":                       "Identity Center portal federation",
	"sso:Authenticate":                   "Identity Center portal authentication",
	"sso:Logout":                         "Identity Center portal sign-out",
	"sso:GetRoleCredentials":             "Identity Center portal credential exchange, authorized by the permission set assignment",
	"sso:ListAccounts":                   "Identity Center portal listing, authorized by the user's assignments",
	"sso:ListAccountRoles":               "Identity Center portal listing, authorized by the user's assignments",
	"sso-oauth:CreateToken":              "Identity Center OIDC token exchange, authenticated by the client registration",
	"sso-oauth:RegisterClient":           "Identity Center OIDC client registration, not authorized by IAM",
	"sso-oauth:StartDeviceAuthorization": "Identity Center OIDC device authorization, not authorized by IAM",
}

// serviceRules derive the action of services whose IAM actions are not
// named after their API operations.
var serviceRules = map[string]func(eventName string) []string{
	// API Gateway's control plane is authorized by HTTP method.
	"apigateway": func(name string) []string {
		verb := "POST"
		switch {
		case hasAnyPrefix(name, "Get", "Export"):
			verb = "GET"
		case hasAnyPrefix(name, "Delete", "Flush", "Untag", "Reset"):
			verb = "DELETE"
		case hasAnyPrefix(name, "Update"):
			verb = "PATCH"
		case hasAnyPrefix(name, "Put", "Import", "Reimport", "Tag"):
			verb = "PUT"
		}
		return []string{"apigateway:" + verb}
	},
	// Budgets: viewing and modifying.
	"budgets": func(name string) []string {
		if hasAnyPrefix(name, "Describe", "View") {
			return []string{"budgets:ViewBudget"}
		}
		if hasAnyPrefix(name, "Create", "Update", "Delete") {
			return []string{"budgets:ModifyBudget"}
		}
		return nil
	},
	// Keyspaces control-plane calls are authorized as CQL verbs.
	"cassandra": func(name string) []string {
		switch {
		case hasAnyPrefix(name, "Create"):
			return []string{"cassandra:Create"}
		case hasAnyPrefix(name, "Delete"):
			return []string{"cassandra:Drop"}
		case hasAnyPrefix(name, "Get", "List"):
			return []string{"cassandra:Select"}
		case hasAnyPrefix(name, "Update"):
			return []string{"cassandra:Alter"}
		case hasAnyPrefix(name, "Restore"):
			return []string{"cassandra:Restore"}
		}
		return nil
	},
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// ActionMapper maps CloudTrail (eventSource, eventName) pairs to the IAM
// actions they were authorized as, using the action catalogue for names that
// agree and explicit tables for the rest.
type ActionMapper struct {
	cat *catalog.Catalog
}

// NewActionMapper returns a mapper over the given catalogue.
func NewActionMapper(cat *catalog.Catalog) *ActionMapper {
	return &ActionMapper{cat: cat}
}

// ServicePrefix returns the IAM prefix of an event source
// ("s3.amazonaws.com" -> "s3").
func ServicePrefix(eventSource string) string {
	if p, ok := sourcePrefixes[eventSource]; ok {
		return p
	}
	host, _, _ := strings.Cut(eventSource, ".")
	return host
}

// Map returns the actions of a call, and false when no mapping is known:
// such calls are counted per (eventSource, eventName), never guessed.
func (m *ActionMapper) Map(eventSource, eventName string) (ActionMapping, bool) {
	prefix := ServicePrefix(eventSource)
	key := prefix + ":" + eventName
	am, ok := m.mapCall(prefix, key, eventName)
	am.EachResource = ok && eachResourceCalls[key]
	return am, ok
}

// mapCall is Map for the call key ("prefix:EventName").
func (m *ActionMapper) mapCall(prefix, key, eventName string) (ActionMapping, bool) {
	if why, ok := noIAMAction[key]; ok {
		return ActionMapping{NoAction: why}, true
	}
	if acts, ok := renamedCalls[key]; ok {
		return ActionMapping{Actions: acts}, true
	}
	if l, ok := listedCalls[key]; ok {
		return ActionMapping{Listed: l}, true
	}
	if a, ok := m.cat.Action(key); ok {
		return ActionMapping{Actions: []string{a.FullName()}}, true
	}
	if rule, ok := serviceRules[prefix]; ok {
		if acts := rule(eventName); acts != nil {
			return ActionMapping{Actions: acts}, true
		}
	}
	// Lambda and a few older APIs log operation names with an API date,
	// such as GetFunction20150331v2 or ListFunctions20150331.
	if base := stripAPIDate(eventName); base != eventName {
		if acts, ok := renamedCalls[prefix+":"+base]; ok {
			return ActionMapping{Actions: acts}, true
		}
		if a, ok := m.cat.Action(prefix + ":" + base); ok {
			return ActionMapping{Actions: []string{a.FullName()}}, true
		}
	}
	return ActionMapping{}, false
}

// stripAPIDate removes a trailing API date (8 digits, optionally vN).
func stripAPIDate(name string) string {
	s := name
	if i := strings.LastIndexByte(s, 'v'); i > 0 && i >= len(s)-3 && isAllDigits(s[i+1:]) {
		s = s[:i]
	}
	if len(s) > 8 && isAllDigits(s[len(s)-8:]) && (s[len(s)-8] == '1' || s[len(s)-8] == '2') {
		return s[:len(s)-8]
	}
	return name
}

func isAllDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
