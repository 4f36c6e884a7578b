package analysis

import (
	"slices"
	"sort"
	"time"

	"github.com/replay-iam/replay/ingest"
)

// UsageRow is one row of usage.parquet.
type UsageRow struct {
	PrincipalARN      string    `parquet:"principal_arn,dict"`
	PrincipalType     string    `parquet:"principal_type,dict"`
	AccountID         string    `parquet:"account_id,dict"`
	Action            string    `parquet:"action,dict"`
	Decision          string    `parquet:"decision,dict"`
	Events            int64     `parquet:"events"`
	LoggedDenied      int64     `parquet:"logged_denied"`
	FirstSeen         time.Time `parquet:"first_seen,timestamp(millisecond:utc)"`
	LastSeen          time.Time `parquet:"last_seen,timestamp(millisecond:utc)"`
	DistinctResources int64     `parquet:"distinct_resources"`
	SampleResource    string    `parquet:"sample_resource"`
}

// DeniedRow is one row of denied.parquet.
type DeniedRow struct {
	PrincipalARN    string    `parquet:"principal_arn,dict"`
	Action          string    `parquet:"action,dict"`
	BlockedBy       string    `parquet:"blocked_by,dict"`
	PolicyID        string    `parquet:"policy_id,dict"`
	Statement       string    `parquet:"statement,dict"`
	Events          int64     `parquet:"events"`
	FirstSeen       time.Time `parquet:"first_seen,timestamp(millisecond:utc)"`
	LastSeen        time.Time `parquet:"last_seen,timestamp(millisecond:utc)"`
	LoggedErrorCode string    `parquet:"logged_error_code,dict"`
	Explanation     string    `parquet:"explanation"`
	// DistinctResources counts the resources denied, up to
	// MaxDistinctResources; SampleResources lists the smallest of them.
	DistinctResources int64    `parquet:"distinct_resources"`
	SampleResources   []string `parquet:"sample_resources,list"`
}

// PrincipalRow is one row of principals.parquet.
type PrincipalRow struct {
	PrincipalARN  string     `parquet:"principal_arn"`
	PrincipalType string     `parquet:"principal_type,dict"`
	AccountID     string     `parquet:"account_id,dict"`
	Events        int64      `parquet:"events"`
	LastSeen      *time.Time `parquet:"last_seen,optional,timestamp(millisecond:utc)"`
	// GrantedActions is null for callers outside the snapshot (root,
	// services), whose permissions replay does not expand.
	GrantedActions *int64 `parquet:"granted_actions,optional"`
	UsedActions    int64  `parquet:"used_actions"`
	// UncheckedEvents counts the principal's calls that replay could not
	// evaluate and the log does not show denied (see Activity.Unchecked);
	// UncheckedCalls names them, most frequent first.
	UncheckedEvents int64    `parquet:"unchecked_events"`
	UncheckedCalls  []string `parquet:"unchecked_calls,list"`
}

// UsageRows returns usage.parquet's rows, sorted.
func (r *Report) UsageRows() []UsageRow {
	keys := r.SortedUsageKeys()
	rows := make([]UsageRow, len(keys))
	for i, k := range keys {
		u := r.Usage[k]
		rows[i] = UsageRow{
			PrincipalARN: k.PrincipalARN, PrincipalType: u.PrincipalType, AccountID: u.AccountID,
			Action: k.Action, Decision: k.Decision.String(), Events: u.Events, LoggedDenied: u.LoggedDenied,
			FirstSeen: u.FirstSeen, LastSeen: u.LastSeen, DistinctResources: u.DistinctResources(), SampleResource: u.SampleResource,
		}
	}
	return rows
}

// DeniedRows returns denied.parquet's rows, sorted.
func (r *Report) DeniedRows() []DeniedRow {
	keys := r.SortedDeniedKeys()
	rows := make([]DeniedRow, len(keys))
	for i, k := range keys {
		d := r.Denied[k]
		rows[i] = DeniedRow{
			PrincipalARN: k.PrincipalARN, Action: k.Action, BlockedBy: k.BlockedBy,
			PolicyID: k.PolicyID, Statement: k.Statement, Events: d.Events, FirstSeen: d.FirstSeen, LastSeen: d.LastSeen,
			LoggedErrorCode: d.LoggedError, Explanation: d.Explanation,
			DistinctResources: d.DistinctResources(), SampleResources: slices.Clone(d.SampleResources()),
		}
	}
	return rows
}

// Principal is an entity the snapshot holds.
type Principal struct {
	ARN, Type, AccountID string
	Entity               *ingest.Entity
}

// PrincipalRows returns principals.parquet's rows: one per principal of
// the snapshot, idle ones with no last_seen, then active principals the
// snapshot does not hold (root, services). granted holds the number of
// actions each snapshot principal's effective permissions allow.
func (x *UsageIndex) PrincipalRows(known []Principal, granted map[string]int64) []PrincipalRow {
	r := x.r
	seen := map[string]bool{}
	var rows []PrincipalRow
	add := func(arn, typ, acct string) {
		row := PrincipalRow{PrincipalARN: arn, PrincipalType: typ, AccountID: acct, UsedActions: int64(len(x.usedRows(arn)))}
		if n, ok := granted[arn]; ok {
			row.GrantedActions = &n
		}
		if a := r.Principals[arn]; a != nil {
			row.Events = a.Events
			t := a.LastSeen
			row.LastSeen = &t
			row.UncheckedEvents, row.UncheckedCalls = a.Unchecked, a.UncheckedCallNames()
		}
		rows = append(rows, row)
		seen[arn] = true
	}
	for _, p := range known {
		add(p.ARN, p.Type, p.AccountID)
	}
	var others []string
	for arn := range r.Principals {
		if !seen[arn] {
			others = append(others, arn)
		}
	}
	sort.Strings(others)
	for _, arn := range others {
		a := r.Principals[arn]
		add(arn, a.PrincipalType, a.AccountID)
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].PrincipalARN < rows[j].PrincipalARN })
	return rows
}

// DecisionRandomColumns are the columns of the decisions table whose
// values are random (event ids): no compressor finds repeats in them.
func DecisionRandomColumns() []string {
	return []string{"event_id"}
}

// DecisionRow is one row of the decisions table: one replayed request.
// Its event times are delta-encoded: the rows of a delivery file lie
// minutes apart at most, so the differences between times take a few bits,
// where a plain page would hold eight bytes per row for zstd to compress.
type DecisionRow struct {
	EventID         string    `parquet:"event_id"`
	EventTime       time.Time `parquet:"event_time,timestamp(millisecond:utc),delta"`
	EventSource     string    `parquet:"event_source,dict"`
	EventName       string    `parquet:"event_name,dict"`
	Region          string    `parquet:"aws_region,dict"`
	PrincipalARN    string    `parquet:"principal_arn,dict"`
	PrincipalType   string    `parquet:"principal_type,dict"`
	AccountID       string    `parquet:"account_id,dict"`
	SessionARN      string    `parquet:"session_arn,dict"`
	AccessKeyID     string    `parquet:"access_key_id,dict"`
	SourceIP        string    `parquet:"source_ip,dict"`
	UserAgent       string    `parquet:"user_agent,dict"`
	Action          string    `parquet:"action,dict"`
	Resource        string    `parquet:"resource"`
	ResourcePartial bool      `parquet:"resource_partial"`
	Decision        string    `parquet:"decision,dict"`
	BlockedBy       string    `parquet:"blocked_by,dict"`
	PolicyID        string    `parquet:"policy_id,dict"`
	Statement       string    `parquet:"statement,dict"`
	LoggedErrorCode string    `parquet:"logged_error_code,dict"`
	UnknownKeys     []string  `parquet:"unknown_keys,list"`
	// Complete is false when the snapshot lacked a policy that applies or
	// the session's issuing call was not seen.
	Complete bool `parquet:"complete"`
}
