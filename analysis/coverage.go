package analysis

import (
	"strings"

	"github.com/replay-iam/replay/catalog"
)

// Coverage classes of an unused grant.
const (
	// CoverageUnused: the trail would have recorded a use.
	CoverageUnused = "unused"
	// CoverageNotLogged: the trail could not have recorded a use, so the
	// logs prove nothing either way.
	CoverageNotLogged = "not_logged"
)

// dataEventActions lists, per service, the actions whose calls CloudTrail
// records only as data events, which trails log only when configured to.
// S3 object actions are recognised by their object resource instead.
var dataEventActions = map[string][]string{
	"s3": {"ListBucket", "ListBucketVersions", "ListBucketMultipartUploads", "GetDataAccess"},
	"dynamodb": {"GetItem", "BatchGetItem", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "Query", "Scan",
		"ConditionCheckItem", "PartiQLSelect", "PartiQLInsert", "PartiQLUpdate", "PartiQLDelete",
		"GetRecords", "GetShardIterator", "DescribeStream", "ListStreams"},
	"lambda":          {"InvokeFunction", "InvokeFunctionUrl", "InvokeAsync"},
	"sns":             {"Publish"},
	"sqs":             {"SendMessage", "ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility"},
	"kinesis":         {"GetRecords", "GetShardIterator", "PutRecord", "PutRecords", "SubscribeToShard"},
	"bedrock":         {"InvokeModel", "InvokeModelWithResponseStream", "InvokeAgent", "Retrieve", "RetrieveAndGenerate"},
	"cloudtrail-data": {"PutAuditEvents"},
	"s3express":       {"CreateSession"},
}

// dataEventServices are services all of whose logged calls are data events.
var dataEventServices = map[string]bool{"s3-object-lambda": true, "ebs": true}

// neverLogged lists actions that authorize part of another call and are
// never recorded as events of their own.
var neverLogged = map[string]bool{"iam:PassRole": true}

// IsDataEvent reports whether calls needing the action are logged only as
// data events.
func IsDataEvent(a *catalog.Action) bool {
	svc := a.Service.Prefix
	if dataEventServices[svc] {
		return true
	}
	if svc == "s3" {
		for _, r := range a.Resources {
			if r.Type == "object" {
				return true
			}
		}
	}
	for _, n := range dataEventActions[svc] {
		if n == a.Name {
			return true
		}
	}
	return false
}

// eventSource is the CloudTrail event source of a service prefix.
func eventSource(prefix string) string { return prefix + ".amazonaws.com" }

// Logged tells whether the trail behind the input would have recorded a
// use of the action: not for actions never logged on their own, not for
// data-event actions of a service with no data events in the input, and not
// for read actions when the input holds write management events but no
// read-only ones (a trail that logs write events only).
func (c *Coverage) Logged(a *catalog.Action) bool {
	switch {
	case neverLogged[a.FullName()]:
		return false
	case IsDataEvent(a):
		return c.DataEventSources[eventSource(a.Service.Prefix)] > 0
	case a.Level == catalog.List || a.Level == catalog.Read:
		return c.ReadOnly > 0 || c.Write == 0
	}
	return true
}

// coverageClass is the coverage class of an unused grant of an action:
// CoverageUnused when the trail would have recorded a use (Logged),
// CoverageNotLogged otherwise.
func coverageClass(logged bool) string {
	if logged {
		return CoverageUnused
	}
	return CoverageNotLogged
}

// serviceOf returns the service prefix of "service:Action".
func serviceOf(action string) string {
	svc, _, _ := strings.Cut(action, ":")
	return strings.ToLower(svc)
}
