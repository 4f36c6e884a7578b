package analysis

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/replay-iam/replay/catalog"
	"github.com/replay-iam/replay/grants"
)

// UnusedRow is one row of unused.parquet: an action the principal's
// effective permissions allow that no event in the window used.
type UnusedRow struct {
	PrincipalARN  string `parquet:"principal_arn,dict"`
	PrincipalType string `parquet:"principal_type,dict"`
	AccountID     string `parquet:"account_id,dict"`
	Action        string `parquet:"action,dict"`
	AccessLevel   string `parquet:"access_level,dict"`
	GrantedBy     string `parquet:"granted_by,dict"`
	Statement     string `parquet:"statement,dict"`
	// Conditional is true when the grant holds only for some resources or
	// request contexts.
	Conditional bool   `parquet:"conditional"`
	ServiceUsed bool   `parquet:"service_used"`
	Coverage    string `parquet:"coverage,dict"`
}

// StatementRow is one row of statements.parquet: an identity statement that
// grants something to a principal, and the events its Allow decided.
type StatementRow struct {
	PolicyID       string     `parquet:"policy_id,dict"`
	Statement      string     `parquet:"statement,dict"`
	PrincipalARN   string     `parquet:"principal_arn,dict"`
	GrantedActions int64      `parquet:"granted_actions"`
	EventsAllowed  int64      `parquet:"events_allowed"`
	LastUsed       *time.Time `parquet:"last_used,optional,timestamp(millisecond:utc)"`
}

// SuggestionRow is one row of suggestions.parquet: a least-privilege policy
// for an active principal.
type SuggestionRow struct {
	PrincipalARN     string `parquet:"principal_arn"`
	PrincipalType    string `parquet:"principal_type,dict"`
	AccountID        string `parquet:"account_id,dict"`
	PolicyJSON       string `parquet:"policy_json"`
	GrantedActions   int64  `parquet:"granted_actions"`
	UsedActions      int64  `parquet:"used_actions"`
	RemovableActions int64  `parquet:"removable_actions"`
	// Verified is true when replaying the window with the policy in place
	// of the principal's identity policies allowed every event that was
	// allowed before, and the principal made no unchecked call; null when
	// the check was not run.
	Verified *bool `parquet:"verified,optional"`
	// VerifiedEvents counts the allowed events replayed with the policy;
	// FailedEvents those it did not allow, with an example event id.
	VerifiedEvents int64  `parquet:"verified_events"`
	FailedEvents   int64  `parquet:"failed_events"`
	FailedExample  string `parquet:"failed_example"`
	// UncheckedEvents counts the principal's calls that replay could not
	// evaluate and the log does not show denied (see Activity.Unchecked):
	// the policy may not allow them. UncheckedCalls names them, most
	// frequent first.
	UncheckedEvents int64    `parquet:"unchecked_events"`
	UncheckedCalls  []string `parquet:"unchecked_calls,list"`
}

// UsageIndex lists each principal's usage rows, for reviews against the
// actions of one catalogue.
type UsageIndex struct {
	rows map[string][]UsageKey
	r    *Report
	cat  *catalog.Catalog
	// logged tells, by action index, whether the trail would have recorded
	// a use of the action (Coverage.Logged).
	logged []bool
}

// Index builds the usage index of the report, which must be complete,
// against cat, the catalogue of the grants it will review.
func (r *Report) Index(cat *catalog.Catalog) *UsageIndex {
	x := &UsageIndex{rows: map[string][]UsageKey{}, r: r, cat: cat, logged: make([]bool, cat.NumActions())}
	for _, k := range r.SortedUsageKeys() {
		x.rows[k.PrincipalARN] = append(x.rows[k.PrincipalARN], k)
	}
	for _, a := range cat.ActionsInNameOrder() {
		x.logged[a.Index()] = r.Coverage.Logged(a)
	}
	return x
}

// usedAction is an action a principal used, with every resource seen.
type usedAction struct {
	action    string
	resources map[string]struct{}
	prefix    string
	overflow  bool
}

// used returns the actions a principal used, keyed by lower-case name.
func (x *UsageIndex) used(principal string) map[string]*usedAction {
	out := map[string]*usedAction{}
	for key, keys := range x.usedRows(principal) {
		ua := &usedAction{action: keys[0].Action, resources: map[string]struct{}{}, prefix: x.r.Usage[keys[0]].prefix}
		for _, k := range keys {
			u := x.r.Usage[k]
			ua.prefix = commonPrefix(ua.prefix, u.prefix)
			ua.overflow = ua.overflow || u.Overflow
			for res := range u.kept {
				ua.resources[res] = struct{}{}
			}
		}
		out[key] = ua
	}
	return out
}

// usedRows groups the usage rows that show a principal used an action
// (UsageKey.Used) by the action's lower-case name.
func (x *UsageIndex) usedRows(principal string) map[string][]UsageKey {
	out := map[string][]UsageKey{}
	for _, k := range x.rows[principal] {
		if k.Used(x.r.Usage[k]) {
			key := strings.ToLower(k.Action)
			out[key] = append(out[key], k)
		}
	}
	return out
}

// Review is what the reports say about one principal of the snapshot.
type Review struct {
	Principal  Principal
	Granted    int64
	Used       int64
	Removable  int64
	Statements []StatementRow
	// Policy is the suggested policy document; "" when the principal used
	// nothing.
	Policy string

	// perms are the principal's effective permissions, and unused the
	// grants of them it did not use, from which EachUnused makes the rows
	// of unused.parquet: a principal allowed everything has tens of
	// thousands, which as rows would take three times the memory.
	perms  grants.Permissions
	unused []unusedGrant
}

// unusedGrant is a grant the principal did not use, by its index in
// Review.perms, with what the usage says of its action.
type unusedGrant struct {
	grant       int32
	serviceUsed bool
	logged      bool
}

// Review compares a principal's effective permissions, of actions of the
// index's catalogue, with its use.
func (x *UsageIndex) Review(p Principal, perms *grants.Permissions) Review {
	rv := Review{Principal: p, Granted: int64(perms.NumGrants()), perms: *perms}
	used := x.used(p.ARN)
	servicesUsed := map[string]bool{}
	// An estate's principals allowed everything are granted tens of
	// thousands of actions each, so the used ones are told by catalogue
	// index, and whether a service was used once per service of a run of
	// grants (they are in order of name).
	usedActions := make([]bool, x.cat.NumActions())
	for key := range used {
		servicesUsed[serviceOf(key)] = true
		if a, ok := x.cat.Action(key); ok && a.LowerName() == key {
			usedActions[a.Index()] = true
		}
	}
	rv.unused = make([]unusedGrant, 0, perms.NumGrants())
	var service *catalog.Service
	serviceUsed := false
	for i := range perms.NumGrants() {
		a := perms.Grant(i).Action
		if usedActions[a.Index()] {
			continue
		}
		if a.Service != service {
			service, serviceUsed = a.Service, servicesUsed[a.Service.Prefix]
		}
		rv.unused = append(rv.unused, unusedGrant{grant: int32(i), serviceUsed: serviceUsed, logged: x.logged[a.Index()]})
	}
	rv.Removable = int64(len(rv.unused))
	for _, sg := range perms.Statements {
		row := StatementRow{PolicyID: sg.PolicyID, Statement: sg.Statement, PrincipalARN: p.ARN, GrantedActions: int64(sg.Actions)}
		if su := x.r.Statements[StatementKey{p.ARN, sg.PolicyID, sg.Statement}]; su != nil {
			row.EventsAllowed = su.Events
			t := su.LastUsed
			row.LastUsed = &t
		}
		rv.Statements = append(rv.Statements, row)
	}
	rv.Used = int64(len(used))
	if len(used) > 0 {
		rv.Policy = suggest(used, x.cat)
	}
	return rv
}

// EachUnused hands the principal's rows of unused.parquet, in the order
// of its grants, to fn, batch by batch: each batch is made in buf, up to its
// capacity (at least one row), and is valid until fn returns.
func (rv *Review) EachUnused(buf []UnusedRow, fn func([]UnusedRow) error) error {
	p := &rv.Principal
	batch := buf[:0]
	for _, u := range rv.unused {
		if len(batch) == max(cap(batch), 1) {
			if err := fn(batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
		g := rv.perms.Grant(int(u.grant))
		batch = append(batch, UnusedRow{
			PrincipalARN: p.ARN, PrincipalType: p.Type, AccountID: p.AccountID, Action: g.Action.FullName(),
			AccessLevel: g.Action.Level.String(), GrantedBy: g.By.Policy.ID, Statement: g.By.Ref(), Conditional: g.Conditional,
			ServiceUsed: u.serviceUsed, Coverage: coverageClass(u.logged),
		})
	}
	if len(batch) == 0 {
		return nil
	}
	return fn(batch)
}

// GeneralizeAt is the number of distinct resources under one path from
// which a suggestion names the path with a wildcard instead of each
// resource.
const GeneralizeAt = 10

// policyDoc and policyStatement render a suggested policy in a stable order.
type policyDoc struct {
	Version   string            `json:"Version"`
	Statement []policyStatement `json:"Statement"`
}

type policyStatement struct {
	Sid      string   `json:"Sid"`
	Effect   string   `json:"Effect"`
	Action   []string `json:"Action"`
	Resource []string `json:"Resource"`
}

// suggest writes a policy allowing each used action on the resources it was
// used on. Actions used on the same resources share a statement.
func suggest(used map[string]*usedAction, cat *catalog.Catalog) string {
	byResources := map[string][]string{}
	var order []string
	for _, key := range slices.Sorted(maps.Keys(used)) {
		ua := used[key]
		res := suggestedResources(ua, cat)
		rk := strings.Join(res, "\x00")
		if _, ok := byResources[rk]; !ok {
			order = append(order, rk)
		}
		byResources[rk] = append(byResources[rk], ua.action)
	}
	doc := policyDoc{Version: "2012-10-17"}
	for i, rk := range order {
		doc.Statement = append(doc.Statement, policyStatement{
			Sid: fmt.Sprintf("Used%d", i+1), Effect: "Allow", Action: byResources[rk], Resource: strings.Split(rk, "\x00"),
		})
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic("analysis: marshal a policy of strings: " + err.Error())
	}
	return string(b)
}

// suggestedResources returns the Resource list for one used action.
func suggestedResources(ua *usedAction, cat *catalog.Catalog) []string {
	if a, ok := cat.Action(ua.action); ok && a.WildcardOnly() {
		return []string{"*"}
	}
	if _, ok := ua.resources["*"]; ok {
		return []string{"*"}
	}
	if ua.overflow {
		return []string{wildcardAfter(ua.prefix)}
	}
	return generalize(slices.Collect(maps.Keys(ua.resources)))
}

// generalize names resources that share a path with a wildcard: each
// resource is replaced by the deepest path prefix (ending in '/') that at
// least GeneralizeAt of them share, followed by "*". Only paths inside a
// resource qualify, not a resource type: an S3 bucket's keys, or what
// follows the first segment elsewhere (table/orders/…). Entries another
// entry covers are dropped.
func generalize(resources []string) []string {
	count := map[string]int{}
	for _, res := range resources {
		for _, p := range pathPrefixes(res) {
			count[p]++
		}
	}
	set := map[string]bool{}
	for _, res := range resources {
		out := res
		prefixes := pathPrefixes(res)
		for i := len(prefixes) - 1; i >= 0; i-- {
			if count[prefixes[i]] >= GeneralizeAt {
				out = prefixes[i] + "*"
				break
			}
		}
		set[out] = true
	}
	var out []string
	for e := range set {
		covered := false
		for o := range set {
			if o != e && strings.HasSuffix(o, "*") && strings.HasPrefix(e, o[:len(o)-1]) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, e)
		}
	}
	slices.Sort(out)
	return out
}

// pathPrefixes returns the prefixes of an ARN that end in '/' inside the
// resource's own path, shortest first.
func pathPrefixes(arn string) []string {
	// The resource part follows the fifth ':'.
	start, colons := 0, 0
	for i := 0; i < len(arn) && colons < 5; i++ {
		if arn[i] == ':' {
			colons++
			start = i + 1
		}
	}
	if colons < 5 || strings.ContainsAny(arn, "*?") {
		return nil
	}
	// Outside S3 the first segment is the resource type.
	skip := 1
	if strings.HasPrefix(arn, "arn:aws:s3:::") || strings.HasPrefix(arn, "arn:aws-cn:s3:::") || strings.HasPrefix(arn, "arn:aws-us-gov:s3:::") {
		skip = 0
	}
	var out []string
	seen := 0
	for i := start; i < len(arn); i++ {
		if arn[i] == '/' {
			if seen >= skip {
				out = append(out, arn[:i+1])
			}
			seen++
		}
	}
	return out
}

// wildcardAfter turns the prefix all resources share into a pattern: the
// prefix cut after its last '/' or ':' followed by "*".
func wildcardAfter(prefix string) string {
	i := strings.LastIndexAny(prefix, "/:")
	if i < 0 {
		return "*"
	}
	return prefix[:i+1] + "*"
}

// ReviewAll reviews every principal, computing effective permissions on
// workers goroutines, and hands the reviews to fn in the principals' order.
// Reviews are computed in batches, the next batch while fn takes the one
// before, so at most two batches are held at once.
func (x *UsageIndex) ReviewAll(ctx context.Context, an *grants.Analyzer, principals []Principal, workers int, fn func(*Review) error) error {
	workers = max(workers, 1)
	batch := 4 * workers
	g, gctx := errgroup.WithContext(ctx)
	batches := make(chan []Review) // the consumer holds one, the producer fills the next
	g.Go(func() error {
		defer close(batches)
		for start := 0; start < len(principals); start += batch {
			part := principals[start:min(start+batch, len(principals))]
			reviews := make([]Review, len(part))
			w, wctx := errgroup.WithContext(gctx)
			w.SetLimit(workers)
			for i := range part {
				w.Go(func() error {
					if err := wctx.Err(); err != nil {
						return err
					}
					perms := an.Effective(part[i].Entity)
					reviews[i] = x.Review(part[i], &perms)
					return nil
				})
			}
			if err := w.Wait(); err != nil {
				return err
			}
			select {
			case batches <- reviews:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	g.Go(func() error {
		for reviews := range batches {
			for i := range reviews {
				if err := fn(&reviews[i]); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}
