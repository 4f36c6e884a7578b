package pipeline

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/s2"
	"golang.org/x/sync/errgroup"

	"github.com/replay-iam/replay/analysis"
	"github.com/replay-iam/replay/engine"
	"github.com/replay-iam/replay/ingest"
)

// A Ledger holds what a run keeps so that the policies suggested at its
// end can be verified without reading the logs again (Config.Ledger).
//
// Verification decides each allowed request again with a replacement in
// place of the principal's identity policies. Evaluation uses identity
// policies only through their verdict on the request
// (engine.EvaluateIdentity), and a request its identity policies allowed
// is allowed by any identity policies that allow it and deny nothing. So
// with a replacement that denies nothing and reads no context, such as a
// suggested policy, a request stays allowed exactly when the replacement
// allows its action on its resource, or when the request is allowed with
// no identity policy at all.
//
// The ledger therefore keeps, of the allowed requests that no other policy
// allows, the principal, action, resource, count and least event id, once
// per distinct principal, action and resource; the run's report gives each
// principal's allowed requests. Entries go to files in the ledger's folder
// as a group's replay collects them: a group holds a bounded number at a
// time, so memory does not grow with the logs.
type Ledger struct {
	dir      string
	limit    int // the entries a group holds before writing them
	attempts atomic.Int64
	blocks   atomic.Int64 // blocks written

	mu        sync.Mutex
	free      []*ledgerFile // files no group is writing to
	files     []*ledgerFile
	committed map[int64]struct{} // the attempts whose groups were committed
	// allowed counts each principal's allowed requests, from the run's
	// report (see close).
	allowed map[string]int64
}

// maxLedgerEntries bounds the entries a group holds before writing them.
const maxLedgerEntries = 1 << 13

// newLedger returns a ledger writing its files in dir, which must exist;
// a group holds up to limit entries (maxLedgerEntries when limit <= 0).
func newLedger(dir string, limit int) *Ledger {
	if limit <= 0 {
		limit = maxLedgerEntries
	}
	return &Ledger{dir: dir, limit: limit, committed: map[int64]struct{}{}, allowed: map[string]int64{}}
}

// ledgerFile is one file of entries, written by one group at a time in
// blocks: the attempt's number, the entry count, then each entry.
type ledgerFile struct {
	path string
	f    *os.File
	z    *s2.Writer
	buf  []byte
}

// take returns a file no group is writing to, creating one when needed.
func (l *Ledger) take() (*ledgerFile, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.free); n > 0 {
		lf := l.free[n-1]
		l.free = l.free[:n-1]
		return lf, nil
	}
	f, err := os.Create(filepath.Join(l.dir, "entries-"+strconv.Itoa(len(l.files))+".s2"))
	if err != nil {
		return nil, fmt.Errorf("verification ledger: %w", err)
	}
	lf := &ledgerFile{path: f.Name(), f: f, z: s2.NewWriter(f, s2.WriterConcurrency(1))}
	l.files = append(l.files, lf)
	return lf, nil
}

func (l *Ledger) give(lf *ledgerFile) {
	l.mu.Lock()
	l.free = append(l.free, lf)
	l.mu.Unlock()
}

// commit adds a group's attempt to the ledger.
func (l *Ledger) commit(g *groupLedger) {
	l.mu.Lock()
	l.committed[g.attempt] = struct{}{}
	l.mu.Unlock()
}

// close ends every file and takes each principal's allowed requests from
// the run's report, which counts every replayed request by principal and
// verdict; the ledger can then be read.
func (l *Ledger) close(rep *analysis.Report) error {
	var first error
	for _, lf := range l.files {
		err := lf.z.Close()
		if cerr := lf.f.Close(); err == nil {
			err = cerr
		}
		if err != nil && first == nil {
			first = fmt.Errorf("verification ledger: %s: %w", lf.path, err)
		}
	}
	for k, u := range rep.Usage {
		if k.Decision == engine.VerdictAllow {
			l.allowed[k.PrincipalARN] += u.Events
		}
	}
	return first
}

// ledgerKey is an allowed request as verification sees it.
type ledgerKey struct {
	action, resource string
	partial          bool
	entity           string
}

// ledgerEntry counts the requests of a key; example is the least event id.
type ledgerEntry struct {
	events  int64
	example string
}

// groupLedger collects one attempt at replaying a group.
type groupLedger struct {
	l       *Ledger
	attempt int64
	entries map[ledgerKey]*ledgerEntry
	err     error
}

func (l *Ledger) group() *groupLedger {
	return &groupLedger{l: l, attempt: l.attempts.Add(1), entries: map[ledgerKey]*ledgerEntry{}}
}

// add records one request its policies allowed. The strings may be
// borrowed: what the ledger keeps, it copies.
func (g *groupLedger) add(entity string, r *ingest.Request, eventID string, cache *engine.Cache) {
	ps := r.Join.Policies
	if len(ps.Identity) == 0 {
		return // allowed with no identity policy
	}
	without := *ps
	without.Identity = nil
	if cache.Authorize(&r.Request, &without).Allowed() {
		return
	}
	key := ledgerKey{action: r.Request.Action, resource: r.Request.Resource, partial: r.Request.ResourcePartial, entity: entity}
	if e := g.entries[key]; e != nil {
		e.events++
		if analysis.LeastNonEmpty(e.example, eventID) != e.example {
			e.example = strings.Clone(eventID)
		}
		return
	}
	if len(g.entries) >= g.l.limit {
		g.flush()
	}
	key.action, key.resource, key.entity = strings.Clone(key.action), strings.Clone(key.resource), strings.Clone(entity)
	g.entries[key] = &ledgerEntry{events: 1, example: strings.Clone(eventID)}
}

// flush writes the entries held to a file of the ledger as one block.
func (g *groupLedger) flush() {
	if g.err != nil || len(g.entries) == 0 {
		clear(g.entries)
		return
	}
	lf, err := g.l.take()
	if err != nil {
		g.err = err
		return
	}
	defer g.l.give(lf)
	g.l.blocks.Add(1)
	b := binary.AppendUvarint(lf.buf[:0], uint64(g.attempt))
	b = binary.AppendUvarint(b, uint64(len(g.entries)))
	for k, e := range g.entries {
		b = appendString(b, k.entity)
		b = appendString(b, k.action)
		b = appendString(b, k.resource)
		flag := byte(0)
		if k.partial {
			flag = 1
		}
		b = append(b, flag)
		b = binary.AppendUvarint(b, uint64(e.events))
		b = appendString(b, e.example)
		if len(b) >= 1<<16 {
			if _, err := lf.z.Write(b); err != nil {
				g.err = fmt.Errorf("verification ledger: %s: %w", lf.path, err)
				return
			}
			b = b[:0]
		}
	}
	if _, err := lf.z.Write(b); err != nil {
		g.err = fmt.Errorf("verification ledger: %s: %w", lf.path, err)
	}
	lf.buf = b[:0]
	clear(g.entries)
}

// close writes what the group holds; the group can then be committed.
func (g *groupLedger) close() error {
	g.flush()
	return g.err
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// VerifyLedger verifies each replacement policy as Verify does, from the
// ledger of the run whose configuration cfg is. A replacement that reads
// the context or denies (which suggested policies do not) is verified by
// reading the logs again (Verify), as are only those; with no ledger (l
// nil), every one is.
func VerifyLedger(ctx context.Context, cfg Config, l *Ledger, replacements map[string]*engine.Policy) (map[string]*Verification, error) {
	direct, again := map[string]*engine.Policy{}, map[string]*engine.Policy{}
	for arn, p := range replacements {
		if l == nil || p.ReadsContext() || denies(p) {
			again[arn] = p
		} else {
			direct[arn] = p
		}
	}
	out := map[string]*Verification{}
	if len(again) > 0 {
		var err error
		if out, err = Verify(ctx, cfg, again); err != nil {
			return nil, err
		}
	}
	if len(direct) == 0 {
		return out, nil
	}
	for arn := range direct {
		if n := l.allowed[arn]; n > 0 {
			out[arn] = &Verification{Events: n}
		}
	}
	var mu sync.Mutex
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.WorkerCount())
	for _, lf := range l.files {
		g.Go(func() error {
			failed := map[string]*Verification{}
			err := l.read(ctx, lf.path, func(k *ledgerKey, e *ledgerEntry) {
				pol := direct[k.entity]
				if pol == nil {
					return
				}
				req := engine.Request{Action: k.action, Resource: k.resource, ResourcePartial: k.partial}
				if engine.EvaluateIdentity(&req, []*engine.Policy{pol}, engine.Compat{}).Allow == engine.True {
					return
				}
				v := failed[k.entity]
				if v == nil {
					v = &Verification{}
					failed[k.entity] = v
				}
				v.Failed += e.events
				v.Example = analysis.LeastNonEmpty(v.Example, e.example)
			})
			mu.Lock()
			defer mu.Unlock()
			for arn, f := range failed {
				v := out[arn]
				if v == nil { // not possible: every entry was counted as allowed
					v = &Verification{}
					out[arn] = v
				}
				v.add(f)
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// denies reports whether a policy has a Deny statement.
func denies(p *engine.Policy) bool {
	for _, st := range p.Statements {
		if st.Effect == engine.Deny {
			return true
		}
	}
	return false
}

// read calls fn with each entry of the committed attempts in one file.
func (l *Ledger) read(ctx context.Context, path string, fn func(*ledgerKey, *ledgerEntry)) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("verification ledger: %w", err)
	}
	defer f.Close()
	r := &ledgerReader{r: bufio.NewReaderSize(s2.NewReader(f), 1<<16)}
	for block := 0; ; block++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		attempt, err := binary.ReadUvarint(r.r)
		if errors.Is(err, io.EOF) {
			return nil
		}
		n := r.uvarint()
		_, keep := l.committed[int64(attempt)]
		for i := uint64(0); i < n && r.err == nil && err == nil; i++ {
			var k ledgerKey
			var e ledgerEntry
			k.entity, k.action, k.resource = r.string(), r.string(), r.string()
			k.partial = r.byte() == 1
			e.events = int64(r.uvarint())
			e.example = r.string()
			if keep && r.err == nil {
				fn(&k, &e)
			}
		}
		if err == nil {
			err = r.err
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("verification ledger: %s: block %d: %w", path, block, err)
		}
	}
}

// ledgerReader decodes entries, keeping the first error.
type ledgerReader struct {
	r   *bufio.Reader
	err error
}

func (r *ledgerReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(r.r)
	r.err = err
	return v
}

func (r *ledgerReader) byte() byte {
	if r.err != nil {
		return 0
	}
	b, err := r.r.ReadByte()
	r.err = err
	return b
}

func (r *ledgerReader) string() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > 1<<20 {
		r.err = fmt.Errorf("a string of %d bytes", n)
		return ""
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r.r, b); err != nil {
		r.err = err
		return ""
	}
	return string(b)
}
