package pipeline

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/replay-iam/replay/analysis"
	"github.com/replay-iam/replay/ingest"
)

// TestPrincipalFilterBeforeTranslation checks that the test made before a
// record is translated passes every record whose caller, as the reports
// name it, is selected, whatever the caller's identity type, and that it
// passes over the records of callers not selected.
func TestPrincipalFilterBeforeTranslation(t *testing.T) {
	session := func(issuer string) *ingest.SessionContext {
		return &ingest.SessionContext{SessionIssuer: ingest.SessionIssuer{ARN: issuer, PrincipalID: "AROAEXAMPLE"}}
	}
	tests := []struct {
		name string
		id   ingest.UserIdentity
		want string // the caller's name in the reports
	}{
		{"user", ingest.UserIdentity{Type: "IAMUser", ARN: "arn:aws:iam::111122223333:user/alice", AccountID: "111122223333", PrincipalID: "AIDAEXAMPLE"},
			"arn:aws:iam::111122223333:user/alice"},
		{"role session with a path", ingest.UserIdentity{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/app/i-0abc",
			AccountID: "111122223333", SessionContext: session("arn:aws:iam::111122223333:role/svc/app")},
			"arn:aws:iam::111122223333:role/svc/app"},
		{"federated user", ingest.UserIdentity{Type: "FederatedUser", ARN: "arn:aws:sts::111122223333:federated-user/bob",
			AccountID: "111122223333", SessionContext: session("arn:aws:iam::111122223333:user/bob")},
			"arn:aws:iam::111122223333:user/bob"},
		{"root with its arn", ingest.UserIdentity{Type: "Root", ARN: "arn:aws:iam::111122223333:root", AccountID: "111122223333"},
			"arn:aws:iam::111122223333:root"},
		{"root with its account alone", ingest.UserIdentity{Type: "Root", AccountID: "111122223333"},
			"arn:aws:iam::111122223333:root"},
		{"service", ingest.UserIdentity{Type: "AWSService", InvokedBy: "events.amazonaws.com"}, "events.amazonaws.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &ingest.Record{UserIdentity: tt.id}
			p, err := ingest.PrincipalOf(rec)
			if err != nil {
				t.Fatal(err)
			}
			if got := EntityARN(&p); got != tt.want {
				t.Fatalf("reports name the caller %q, the test expects %q", got, tt.want)
			}
			selected := newPrincipalFilter([]string{"arn:aws:iam::999999999999:user/other", tt.want})
			if !selected.mayBeOf(rec) || !selected.selects(&p) {
				t.Errorf("filter of %s: passed before translation %v, selected after %v; want both", tt.want, selected.mayBeOf(rec), selected.selects(&p))
			}
			other := newPrincipalFilter([]string{"arn:aws:iam::999999999999:user/other", "arn:aws:iam::999999999999:root"})
			if other.mayBeOf(rec) || other.selects(&p) {
				t.Errorf("filter of other principals: passed before translation %v, selected after %v; want neither", other.mayBeOf(rec), other.selects(&p))
			}
		})
	}
	if f := newPrincipalFilter(nil); f != nil {
		t.Errorf("no principals: filter %+v, want none", f)
	}
}

// TestPrincipalFilterKeepsPrincipalsWhole replays the sample estate with
// and without a selection of principals: the selected principals' usage,
// denials and activity are the same either way, no other principal is
// reported, and every record is still accounted for.
func TestPrincipalFilterKeepsPrincipalsWhole(t *testing.T) {
	sum, snap := sampleEstate(t)
	all, err := Run(context.Background(), Config{Logs: []string{sum.Logs}, Snapshot: snap, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	// A role, called through sessions, and a user, each the busiest of
	// its kind.
	pick := func(kind string) string {
		best := ""
		for arn, a := range all.Report.Principals {
			if strings.Contains(arn, kind) && (best == "" || a.Events > all.Report.Principals[best].Events) {
				best = arn
			}
		}
		if best == "" {
			t.Fatalf("the sample has no %s principal", kind)
		}
		return best
	}
	selected := []string{pick(":role/"), pick(":user/")}
	some, err := Run(context.Background(), Config{Logs: []string{sum.Logs}, Snapshot: snap, Workers: 2, Principals: selected})
	if err != nil {
		t.Fatal(err)
	}

	if some.Records != all.Records || some.Duplicates != all.Duplicates || some.OutsideWindow != all.OutsideWindow {
		t.Errorf("records %d, duplicates %d, outside %d; without the filter %d, %d, %d",
			some.Records, some.Duplicates, some.OutsideWindow, all.Records, all.Duplicates, all.OutsideWindow)
	}
	accounted := some.Evaluated + some.Unparseable + some.NotCloudTrail + some.OutsideWindow + some.Duplicates + some.OtherPrincipals
	for _, n := range some.Skips {
		accounted += n
	}
	if accounted != some.Records || some.OtherPrincipals == 0 || some.Evaluated == 0 {
		t.Errorf("accounted %d of %d records: %d evaluated, %d of other principals", accounted, some.Records, some.Evaluated, some.OtherPrincipals)
	}

	reported := slices.Sorted(func(yield func(string) bool) {
		for arn := range some.Report.Principals {
			if !yield(arn) {
				return
			}
		}
	})
	if !reflect.DeepEqual(reported, slices.Sorted(slices.Values(selected))) {
		t.Errorf("principals reported %v, want %v", reported, selected)
	}
	for _, arn := range selected {
		if got, want := some.Report.Principals[arn], all.Report.Principals[arn]; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: activity %+v, without the filter %+v", arn, got, want)
		}
	}
	keep := func(arn string) bool { return slices.Contains(selected, arn) }
	wantUsage := slices.DeleteFunc(all.Report.UsageRows(), func(r analysis.UsageRow) bool { return !keep(r.PrincipalARN) })
	if got := some.Report.UsageRows(); len(got) == 0 || !reflect.DeepEqual(got, wantUsage) {
		t.Errorf("usage: %d rows, want the %d rows of the selected principals without the filter", len(got), len(wantUsage))
	}
	wantDenied := slices.DeleteFunc(all.Report.DeniedRows(), func(r analysis.DeniedRow) bool { return !keep(r.PrincipalARN) })
	if got := some.Report.DeniedRows(); !reflect.DeepEqual(got, wantDenied) {
		t.Errorf("denied: %d rows, want the %d rows of the selected principals without the filter", len(got), len(wantDenied))
	}
}
