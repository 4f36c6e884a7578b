// Package ingest reads CloudTrail records and an IAM snapshot and turns each
// record into an authorization request with the context it implies.
package ingest

import (
	"encoding/json"
	"time"
)

// Record is one CloudTrail event, with the fields replay reads: the
// decoder passes over the others without making strings of them. A field
// whose absence means the same as its empty value is a value, which the
// decoder fills in place; the session context and managementEvent, whose
// absence tells something, are pointers.
type Record struct {
	EventVersion       string          `json:"eventVersion"`
	EventTime          time.Time       `json:"eventTime"`
	EventSource        string          `json:"eventSource"`
	EventName          string          `json:"eventName"`
	AWSRegion          string          `json:"awsRegion"`
	SourceIPAddress    string          `json:"sourceIPAddress"`
	UserAgent          string          `json:"userAgent"`
	ErrorCode          string          `json:"errorCode"`
	ErrorMessage       string          `json:"errorMessage"`
	RequestParameters  json.RawMessage `json:"requestParameters"`
	ResponseElements   json.RawMessage `json:"responseElements"`
	Resources          []Resource      `json:"resources"`
	EventID            string          `json:"eventID"`
	EventType          string          `json:"eventType"`
	ReadOnly           bool            `json:"readOnly"`
	RecipientAccountID string          `json:"recipientAccountId"`
	VPCEndpointID      string          `json:"vpcEndpointId"`
	TLSDetails         TLSDetails      `json:"tlsDetails"`
	ManagementEvent    *bool           `json:"managementEvent"`
	EventCategory      string          `json:"eventCategory"`
	UserIdentity       UserIdentity    `json:"userIdentity"`
}

// Resource is one entry of a record's resources list.
type Resource struct {
	ARN       string `json:"ARN"`
	AccountID string `json:"accountId"`
	Type      string `json:"type"`
}

// TLSDetails is the record's TLS information; a TLS version shows the call
// used TLS.
type TLSDetails struct {
	TLSVersion string `json:"tlsVersion"`
}

// UserIdentity is the caller as CloudTrail logs it.
type UserIdentity struct {
	Type           string          `json:"type"`
	PrincipalID    string          `json:"principalId"`
	ARN            string          `json:"arn"`
	AccountID      string          `json:"accountId"`
	AccessKeyID    string          `json:"accessKeyId"`
	UserName       string          `json:"userName"`
	InvokedBy      string          `json:"invokedBy"`
	SessionContext *SessionContext `json:"sessionContext"`
}

// SessionContext describes temporary credentials.
type SessionContext struct {
	SessionIssuer       SessionIssuer       `json:"sessionIssuer"`
	WebIDFederationData WebIDFederationData `json:"webIdFederationData"`
	Attributes          SessionAttributes   `json:"attributes"`
	SourceIdentity      string              `json:"sourceIdentity"`
	EC2RoleDelivery     string              `json:"ec2RoleDelivery"`
	AssumedRoot         string              `json:"assumedRoot"`
}

// SessionIssuer is the entity that issued the session: a role, or the IAM
// user or root that called GetFederationToken.
type SessionIssuer struct {
	PrincipalID string `json:"principalId"`
	ARN         string `json:"arn"`
}

// WebIDFederationData names the identity provider of a web identity session.
type WebIDFederationData struct {
	FederatedProvider string `json:"federatedProvider"`
}

// SessionAttributes carries the session's creation time and MFA state.
type SessionAttributes struct {
	CreationDate     string `json:"creationDate"`
	MFAAuthenticated string `json:"mfaAuthenticated"`
}
