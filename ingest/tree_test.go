package ingest

import (
	"errors"
	"io"
	"os"
	"testing"

	"github.com/replay-iam/replay/catalog"
	"github.com/replay-iam/replay/engine"
	"github.com/replay-iam/replay/internal/sample"
)

// TestDeliveryTree reads a generated organization trail (four member
// accounts, digest files beside the logs), accounts for every record, and
// checks that each decided replay agrees with the logged outcome.
func TestDeliveryTree(t *testing.T) {
	opts := sample.DefaultOptions()
	opts.Accounts = 4
	sum, err := sample.Generate(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	files, err := Discover([]string{sum.Logs}, Window{})
	if err != nil {
		t.Fatal(err)
	}
	var toRead []LogFile
	digests := 0
	accounts := map[string]bool{}
	for _, f := range files {
		switch f.Skip {
		case "":
			toRead = append(toRead, f)
			accounts[f.Account] = true
		case SkipDigest:
			digests++
		default:
			t.Errorf("%s skipped: %s", f.Path, f.Skip)
		}
	}
	if len(toRead) != sum.Files || digests != sum.Digests || len(accounts) != opts.Accounts {
		t.Fatalf("read %d files of %d, %d digests of %d, %d accounts", len(toRead), sum.Files, digests, sum.Digests, len(accounts))
	}
	snap, err := LoadSnapshot(sum.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Problems) != 0 {
		t.Fatalf("snapshot problems: %v", snap.Problems)
	}
	var recs []*Record
	for _, f := range toRead {
		fh, err := os.Open(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		r, err := NewReader(fh, f.Path)
		if err != nil {
			t.Fatal(err)
		}
		for {
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, rec)
		}
		fh.Close()
	}
	if len(recs) != sum.Events {
		t.Fatalf("%d records, %d written", len(recs), sum.Events)
	}
	sessions := NewSessions()
	for _, rec := range recs {
		if _, err := sessions.Observe(rec); err != nil {
			t.Fatal(err)
		}
	}
	tr := NewTranslator(catalog.Default(), snap, sessions)
	skipped := map[Skip]int{}
	verdicts := map[engine.Verdict]int{}
	evaluated := 0
	for _, rec := range recs {
		x := tr.Translate(rec)
		if x.Skip != NotSkipped {
			skipped[x.Skip]++
			continue
		}
		evaluated++
		r := &x.Requests[0]
		d := engine.Authorize(&r.Request, r.Join.Policies)
		verdicts[d.Verdict]++
		if !r.Join.Complete || !r.Join.SessionJoined {
			t.Errorf("%s %s by %s: join complete %v, session joined %v", rec.EventName, rec.EventID, x.Principal.ARN, r.Join.Complete, r.Join.SessionJoined)
			continue
		}
		logged := x.Outcome != OutcomeAccessDenied
		if replayed := d.Verdict == engine.VerdictAllow; replayed != logged {
			t.Errorf("%s by %s on %s: logged %s, replayed %s", r.Action, x.Principal.ARN, r.Request.Resource, x.Outcome, d.Explain())
		}
		if x.Outcome == OutcomeAccessDenied && x.HasBlockedBy && d.HasBy && x.BlockedBy != d.By {
			t.Errorf("%s: logged denial by %v, replayed by %v", r.Action, x.BlockedBy, d.By)
		}
	}
	total := evaluated
	for _, n := range skipped {
		total += n
	}
	if total != len(recs) {
		t.Errorf("accounted %d of %d records", total, len(recs))
	}
	for _, s := range []Skip{SkipNotAPICall, SkipNoIAMAction, SkipUnmappedEvent, SkipOtherAccountCaller} {
		if skipped[s] == 0 {
			t.Errorf("no record skipped as %s", s)
		}
	}
	if verdicts[engine.VerdictAllow] == 0 || verdicts[engine.VerdictImplicitDeny] == 0 || verdicts[engine.VerdictExplicitDeny] == 0 {
		t.Errorf("verdicts %v: the sample should hold allows and both kinds of denial", verdicts)
	}
	t.Logf("%d records: %d evaluated %v, skipped %v", len(recs), evaluated, verdicts, skipped)
}
