package pipeline

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/replay-iam/replay/analysis"
	"github.com/replay-iam/replay/engine"
	"github.com/replay-iam/replay/ingest"
)

// Verification is the outcome of replaying a principal's allowed events
// with a replacement for its identity policies.
type Verification struct {
	// Events counts the events the original policies allowed; Failed those
	// the replacement did not allow, Example the least such event id.
	Events, Failed int64
	Example        string
}

// add counts o's events in v: the verifications of one policy over
// different requests.
func (v *Verification) add(o *Verification) {
	v.Events += o.Events
	v.Failed += o.Failed
	v.Example = analysis.LeastNonEmpty(v.Example, o.Example)
}

// Verify replays the logs a second time and, for every request whose
// principal has a replacement policy and that its snapshot policies allow,
// decides it again with the replacement in place of the identity policies
// (boundary, session policies, SCPs, RCPs and resource policies unchanged).
// It reads the logs as Run does: the same files, window, sessions and
// dedup, so cfg must be the run's. VerifyLedger gives the same answers
// from a run's ledger, without reading the logs, for replacements that
// read no context and deny nothing.
func Verify(ctx context.Context, cfg Config, replacements map[string]*engine.Policy) (map[string]*Verification, error) {
	inv, err := ingest.Survey(cfg.Logs, cfg.Window, nil)
	if err != nil {
		return nil, err
	}
	out := map[string]*Verification{}
	var mu sync.Mutex
	_, err = forEachGroup(ctx, cfg, inv, nil, func(w *worker, g fileGroup, _ groupPass) (groupOutcome, error) {
		local := map[string]*Verification{}
		for i, f := range g.files {
			w.readAheadFrom(ctx, g.files[i+1:], cfg.replaySetup())
			// Record strings may be borrowed: local copies what it keeps.
			err := w.read(ctx, f, cfg.replaySetup(), func(rec *ingest.Record) {
				w.observe(rec)
				if cfg.outsideWindow(rec) {
					return
				}
				if !w.seen.firstTime(rec.EventID) {
					return
				}
				x := w.tr.Translate(rec)
				if x.Skip != ingest.NotSkipped {
					return
				}
				arn := EntityARN(&x.Principal)
				pol, ok := replacements[arn]
				if !ok {
					return
				}
				for j := range x.Requests {
					r := &x.Requests[j]
					if !w.cache.Authorize(&r.Request, r.Join.Policies).Allowed() {
						continue
					}
					ps := *r.Join.Policies
					ps.Identity = []*engine.Policy{pol}
					v := local[arn]
					if v == nil {
						v = &Verification{}
						local[strings.Clone(arn)] = v
					}
					v.Events++
					if !w.cache.Authorize(&r.Request, &ps).Allowed() {
						v.Failed++
						if analysis.LeastNonEmpty(v.Example, rec.EventID) != v.Example {
							v.Example = strings.Clone(rec.EventID)
						}
					}
				}
			}, nil)
			var ferr *ingest.FileError
			if errors.As(err, &ferr) {
				err = nil // counted by the run itself
			}
			if err != nil {
				return groupOutcome{}, err
			}
		}
		return groupOutcome{commit: func() error {
			mu.Lock()
			defer mu.Unlock()
			for arn, v := range local {
				o := out[arn]
				if o == nil {
					out[arn] = v
					continue
				}
				o.add(v)
			}
			return nil
		}}, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
