package pipeline

import (
	"strings"

	"github.com/replay-iam/replay/engine"
	"github.com/replay-iam/replay/ingest"
)

// principalFilter selects the requests of some principals, named as the
// reports name callers (EntityARN): an IAM user, a role (every session of
// it), the root user of an account, a service. A principal's requests are
// all in or all out, so the usage, unused permissions and suggested
// policy of a principal selected are those a run without the filter
// finds for it.
type principalFilter struct {
	arns map[string]bool
	// roots holds the accounts whose root user is selected: a root
	// user's record may name its account alone, without an ARN.
	roots map[string]bool
}

// newPrincipalFilter returns the filter selecting arns, or nil (select
// every principal) when there are none. Empty names select nothing.
func newPrincipalFilter(arns []string) *principalFilter {
	if len(arns) == 0 {
		return nil
	}
	f := &principalFilter{arns: map[string]bool{}, roots: map[string]bool{}}
	for _, arn := range arns {
		if arn == "" {
			continue
		}
		f.arns[arn] = true
		if acct, ok := strings.CutPrefix(arn, "arn:aws:iam::"); ok {
			if acct, ok := strings.CutSuffix(acct, ":root"); ok && acct != "" {
				f.roots[acct] = true
			}
		}
	}
	return f
}

// mayBeOf reports whether the record's caller may be selected, before the
// record is translated: whether any name the reports could give its
// caller is. It is true of every record whose caller is selected, and
// false of most others, which then cost no translation.
func (f *principalFilter) mayBeOf(rec *ingest.Record) bool {
	u := &rec.UserIdentity
	if f.arns[u.ARN] || f.arns[u.InvokedBy] {
		return true
	}
	if sc := u.SessionContext; sc != nil && f.arns[sc.SessionIssuer.ARN] {
		return true
	}
	return u.ARN == "" && f.roots[u.AccountID]
}

// selects reports whether the filter selects a translated caller.
func (f *principalFilter) selects(p *engine.Principal) bool { return f.arns[EntityARN(p)] }
