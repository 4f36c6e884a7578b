package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/replay-iam/replay/analysis"
	"github.com/replay-iam/replay/catalog"
	"github.com/replay-iam/replay/engine"
	"github.com/replay-iam/replay/grants"
	"github.com/replay-iam/replay/ingest"
	"github.com/replay-iam/replay/internal/sample"
	"github.com/replay-iam/replay/output"
	"github.com/replay-iam/replay/pipeline"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// runOptions are the inputs of a replay run.
type runOptions struct {
	snapshot string
	logs     []string
	out      string
	from, to string
	workers  int
	quiet    bool
	// verify decides every allowed request again with its principal's
	// suggested policy in place of its identity policies.
	verify bool
	// decisions writes the decisions table.
	decisions bool
	// strict makes unreadable input an error (exit status 3).
	strict bool
	// cpuProfile names a file for a CPU profile of the run.
	cpuProfile string
	// dedupWindow is pipeline.Config.DedupWindow.
	dedupWindow time.Duration
	// memProfile names a file for a heap profile taken when the logs have
	// been read.
	memProfile string
	// memoryLimit is the heap size the garbage collector keeps under, in MiB.
	memoryLimit int64
	// principals is pipeline.Config.Principals.
	principals []string
}

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", "--snapshot DIR --logs PATH [--logs PATH...] --out DIR [flags]", stderr)
	var o runOptions
	var logs, principals stringList
	fs.StringVar(&o.snapshot, "snapshot", "", "snapshot folder (gaad-<account>.json and optional resource-policies.json, organization.json, resource-tags.json)")
	fs.Var(&logs, "logs", "CloudTrail logs: a folder, a file or a glob (repeatable)")
	fs.StringVar(&o.out, "out", "", "folder for the reports")
	fs.StringVar(&o.from, "from", "", "replay events at or after this time (RFC 3339 or YYYY-MM-DD)")
	fs.StringVar(&o.to, "to", "", "replay events before this time (RFC 3339 or YYYY-MM-DD)")
	fs.Var(&principals, "principal", "replay only the requests of this `principal`, named as the reports name callers: a user, a role with its path (every session of it), arn:aws:iam::ACCOUNT:root, a service (repeatable); the reports then cover these principals alone")
	fs.IntVar(&o.workers, "workers", 0, "files read at once (default: the number of CPUs)")
	fs.DurationVar(&o.dedupWindow, "dedup-window", pipeline.DefaultDedupWindow, "count an event delivered again within this `duration` of its previous delivery once (per account and region, across midnight; 0: any copy in the same delivery day or the day before, holding a day's event ids)")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress on stderr")
	fs.BoolVar(&o.strict, "strict", false, "exit with status 3 when any file, record or snapshot part could not be read or replayed (reports are still written)")
	fs.BoolVar(&o.decisions, "decisions", false, "also write decisions/: one row per replayed request, partitioned by day")
	fs.BoolVar(&o.verify, "verify", true, "check each suggested policy: decide every request it should allow again with the policy in place (--verify=false skips it)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to `file` (for 'go tool pprof')")
	fs.StringVar(&o.memProfile, "memprofile", "", "write a heap profile to `file` when the logs have been read, before the reports (for 'go tool pprof')")
	fs.Int64Var(&o.memoryLimit, "memory-limit", 768, "soft limit of the Go heap in `MiB`: the garbage collector runs rarely below it and as needed near it (GOGC or GOMEMLIMIT in the environment take precedence)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	o.logs, o.principals = logs, principals
	for _, p := range o.principals {
		switch {
		case p == "":
			fmt.Fprintln(stderr, "replay run: --principal needs a principal's ARN")
			return errUsage
		case strings.Contains(p, ":assumed-role/") || strings.Contains(p, ":federated-user/"):
			// The reports name the role or user behind a session, whose
			// other sessions a selection of the session alone would leave out.
			fmt.Fprintf(stderr, "replay run: --principal %s is a session: name its role (arn:aws:iam::ACCOUNT:role/PATH/NAME) or, for a federated user, its IAM user\n", p)
			return errUsage
		}
	}
	if o.snapshot == "" || len(o.logs) == 0 || o.out == "" {
		fmt.Fprintln(stderr, "replay run: --snapshot, --logs and --out are required (or run 'replay demo')")
		fs.Usage()
		return errUsage
	}
	tuneGC(o.memoryLimit)
	if o.cpuProfile != "" {
		stop, err := startCPUProfile(o.cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	return replay(ctx, o, stdout, stderr)
}

// gcPercent is the heap growth between collections: a run's live heap is
// small (the snapshot, the aggregates, the records in flight) and every
// event allocates, so collecting at 100 % growth costs a fifth of the run.
const gcPercent = 400

// tuneGC sets the collector for a batch run: collections at gcPercent heap
// growth, bounded by a soft limit of limitMiB, unless GOGC or GOMEMLIMIT
// say otherwise.
func tuneGC(limitMiB int64) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" && limitMiB > 0 {
		debug.SetMemoryLimit(limitMiB << 20)
	}
}

// writeHeapProfile writes the live heap, after a collection, to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	return nil
}

// startCPUProfile profiles the process into path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", "[--dir DIR]", stderr)
	dir := fs.String("dir", "", "folder for the sample estate and the reports (default: a new temporary folder)")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "replay-demo-")
		if err != nil {
			return err
		}
		*dir = d
	}
	opts := sample.DefaultOptions()
	sum, err := sample.Generate(*dir, opts)
	if err != nil {
		return fmt.Errorf("generate the sample: %w", err)
	}
	fmt.Fprintf(stdout, "Sample estate: %d accounts, %d log files (%d events) in %s\n\n", opts.Accounts, sum.Files, sum.Events, *dir)
	return replay(ctx, runOptions{snapshot: sum.Snapshot, logs: []string{sum.Logs}, out: filepath.Join(*dir, "reports"), quiet: *quiet, verify: true, decisions: true}, stdout, stderr)
}

// parseTime reads a --from or --to value.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("bad time %q: want RFC 3339 (2026-11-01T00:00:00Z) or a date (2026-11-01)", s)
}

func replay(ctx context.Context, o runOptions, stdout, stderr io.Writer) error {
	// The action catalogue is decoded once, on first use; start it now, so
	// that it overlaps loading the snapshot and listing the logs.
	go catalog.Default()
	var w ingest.Window
	var err error
	if w.From, err = parseTime(o.from); err != nil {
		return err
	}
	if w.To, err = parseTime(o.to); err != nil {
		return err
	}
	snap, err := ingest.LoadSnapshot(o.snapshot)
	if err != nil {
		return err
	}
	for _, p := range snap.Problems {
		fmt.Fprintf(stderr, "replay: snapshot: %v\n", p)
	}
	for _, p := range snap.Warnings {
		fmt.Fprintf(stderr, "replay: snapshot: warning: %v\n", p)
	}
	stage, err := output.NewStage(o.out)
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	cfg := pipeline.Config{Logs: o.logs, Snapshot: snap, Window: w, Workers: o.workers, DedupWindow: o.dedupWindow,
		Principals: o.principals}
	if o.dedupWindow <= 0 {
		cfg.DedupWindow = -1
	}
	if o.decisions {
		cfg.Decisions = filepath.Join(stage, "decisions")
	}
	if o.verify {
		// Kept in the stage, which is removed whatever happens, and
		// removed once read, before the stage is published.
		cfg.Ledger = filepath.Join(stage, "verification-ledger")
		if err := os.Mkdir(cfg.Ledger, output.DirMode); err != nil {
			return err
		}
	}
	if !o.quiet {
		cfg.Progress = progressPrinter(stderr)
	}
	files, err := newFileLog(stage)
	if err != nil {
		return err
	}
	defer files.discard()
	cfg.FileLog = files.add
	res, err := pipeline.Run(ctx, cfg)
	if err != nil {
		files.abort()
		return err
	}
	if o.memProfile != "" {
		if err := writeHeapProfile(o.memProfile); err != nil {
			return err
		}
	}
	started := time.Now()
	if !o.quiet {
		fmt.Fprintln(stderr, "replay: writing the reports")
	}
	if err := files.close(); err != nil {
		return err
	}
	denied := res.Report.DeniedRows()
	suggestions, err := writeReports(ctx, o, stage, cfg, snap, res, denied, files)
	if err != nil {
		return err
	}
	printSummary(stdout, res, denied, suggestions, o.out, time.Since(started))
	if o.decisions {
		fmt.Fprintf(stdout, "Decisions of every request in %s\n", filepath.Join(o.out, "decisions"))
	}
	warnUnmatched(stderr, o.principals, snap, res.Report)
	incomplete := reportProblems(stderr, res, snap)
	if o.strict && incomplete {
		fmt.Fprintln(stderr, "replay run: --strict: some input was not read or not replayed; see manifest.json")
		return errIncomplete
	}
	return nil
}

// warnUnmatched warns of each selected principal that neither the
// snapshot nor the requests replayed hold: most likely a misspelt name, or
// a role or user named without its path, which the warning then gives.
func warnUnmatched(stderr io.Writer, principals []string, snap *ingest.Snapshot, rep *analysis.Report) {
	for _, arn := range principals {
		if snap.Users[arn] != nil || snap.Roles[arn] != nil || rep.Principals[arn] != nil {
			continue
		}
		fmt.Fprintf(stderr, "replay: --principal %s: no such user or role in the snapshot, and no request of it in the logs", arn)
		if like := samePathless(arn, snap); len(like) > 0 {
			fmt.Fprintf(stderr, " (with its path: %s)", strings.Join(like, ", "))
		}
		fmt.Fprintln(stderr)
	}
}

// samePathless returns the ARNs of the snapshot's users and roles of the
// account and name arn gives, whatever their path.
func samePathless(arn string, snap *ingest.Snapshot) []string {
	head, rest, ok := strings.Cut(arn, ":user/")
	entities := snap.Users
	if !ok {
		if head, rest, ok = strings.Cut(arn, ":role/"); !ok {
			return nil
		}
		entities = snap.Roles
	}
	account := head[strings.LastIndexByte(head, ':')+1:]
	name := rest[strings.LastIndexByte(rest, '/')+1:]
	var like []string
	for other, e := range entities {
		if e.Account == account && e.Name == name {
			like = append(like, other)
		}
	}
	slices.Sort(like)
	return like
}

// maxProblemLines bounds the input problems printed on stderr.
const maxProblemLines = 10

// reportProblems prints on stderr what could not be read or replayed and
// reports whether there was any.
func reportProblems(stderr io.Writer, res *pipeline.Result, snap *ingest.Snapshot) bool {
	printed := 0
	show := func(msg string) {
		if printed < maxProblemLines {
			fmt.Fprintf(stderr, "replay: %s\n", msg)
		}
		printed++
	}
	for _, p := range res.Problems {
		show(p)
	}
	if printed > maxProblemLines {
		fmt.Fprintf(stderr, "replay: ... and more; files.parquet lists the first %d of each file\n", pipeline.MaxProblemsPerFile)
	}
	versions := res.Skips[ingest.SkipUnsupportedEventVersion.String()]
	bad := res.FileErrors > 0 || res.Unparseable > 0 || res.NotCloudTrail > 0 || versions > 0 || len(snap.Problems) > 0
	if bad {
		fmt.Fprintf(stderr, "replay: incomplete input: %d file(s) ended early, %d unparseable record(s), %d not CloudTrail, %d of an unsupported version, %d snapshot problem(s)\n",
			res.FileErrors, res.Unparseable, res.NotCloudTrail, versions, len(snap.Problems))
	}
	return bad
}

// progressPrinter rewrites one line on a terminal and logs a line every
// few seconds otherwise.
func progressPrinter(stderr io.Writer) func(pipeline.Progress) {
	tty := false
	if f, ok := stderr.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return func(p pipeline.Progress) {
		switch {
		case tty && p.Done:
			fmt.Fprintf(stderr, "\r%s\n", p)
		case tty:
			fmt.Fprintf(stderr, "\r%s", p)
		default:
			fmt.Fprintf(stderr, "replay: %s\n", p)
		}
	}
}

// Manifest is manifest.json: what was read and how every record was
// accounted for, in total and per file.
type Manifest struct {
	Tool     string           `json:"tool"`
	Version  string           `json:"version"`
	Catalog  string           `json:"catalog"`
	Snapshot ManifestSnapshot `json:"snapshot"`
	Window   ManifestWindow   `json:"window"`
	// Principals is the run's --principal selection: when set, the
	// reports cover these principals alone.
	Principals []string           `json:"principals,omitempty"`
	Totals     ManifestTotals     `json:"totals"`
	Agreement  analysis.Agreement `json:"agreement"`
	Coverage   analysis.Coverage  `json:"coverage"`
	// Problems holds the first pipeline.MaxProblems messages about files
	// and records not read, in the order of Files.
	Problems []string `json:"problems,omitempty"`
	// Reports holds the SHA-256 of each report written with this manifest,
	// so that a reader can tell the set is whole.
	Reports map[string]string `json:"reports"`
	// Files has one entry per input file, read or not, in the order of
	// files.parquet (written last, from the run's spill).
	Files []ManifestFile `json:"files,omitempty"`
}

// ManifestSnapshot identifies the snapshot read.
type ManifestSnapshot struct {
	Path     string   `json:"path"`
	SHA256   string   `json:"sha256"`
	Problems []string `json:"problems,omitempty"`
	// Warnings are policy elements read but possibly not as meant (see
	// ingest.Snapshot.Warnings).
	Warnings []string `json:"warnings,omitempty"`
}

// ManifestWindow is the time window replayed.
type ManifestWindow struct {
	From *time.Time `json:"from,omitempty"`
	To   *time.Time `json:"to,omitempty"`
	// Dedup is the dedup window ("0s": a delivery day and the day before).
	Dedup string `json:"dedup"`
}

// ManifestTotals sums the files: records = evaluated + skips +
// unparseable + not_cloudtrail + outside_window + duplicate_event_id +
// other_principal.
type ManifestTotals struct {
	Files          int              `json:"files"`
	FilesSkipped   map[string]int   `json:"files_skipped"`
	FileErrors     int              `json:"file_errors"`
	Records        int64            `json:"records"`
	Evaluated      int64            `json:"evaluated"`
	Requests       int64            `json:"requests"`
	Skips          map[string]int64 `json:"skips"`
	Unparseable    int64            `json:"unparseable"`
	NotCloudTrail  int64            `json:"not_cloudtrail"`
	OutsideWindow  int64            `json:"outside_window"`
	Duplicates     int64            `json:"duplicate_event_id"`
	OtherPrincipal int64            `json:"other_principal"`
	Sessions       int              `json:"sessions_joined_from_sts"`
	// UnmappedEvents counts the unmapped_event skips by "eventSource eventName".
	UnmappedEvents map[string]int64 `json:"unmapped_events"`
}

// fileLog records the accounting of each file as the run gives it:
// files.parquet, and the manifest's list of files, spilled as JSON lines
// beside it until the manifest is written (writeManifest). Neither is held
// in memory.
type fileLog struct {
	w     *output.ParquetWriter[pipeline.FileRow]
	batch []pipeline.FileRow
	spill *os.File
	buf   *bufio.Writer
	enc   *json.Encoder
}

const fileLogBatch = 1024

// newFileLog starts files.parquet in dir and the spill of the manifest's
// list of files.
func newFileLog(dir string) (*fileLog, error) {
	w, err := output.NewParquetWriter[pipeline.FileRow](filepath.Join(dir, "files.parquet"))
	if err != nil {
		return nil, err
	}
	spill, err := os.CreateTemp(dir, ".manifest-files-*.jsonl")
	if err != nil {
		w.Abort()
		return nil, err
	}
	buf := bufio.NewWriterSize(spill, 1<<16)
	return &fileLog{w: w, batch: make([]pipeline.FileRow, 0, fileLogBatch), spill: spill, buf: buf, enc: json.NewEncoder(buf)}, nil
}

// add is pipeline.Config.FileLog.
func (l *fileLog) add(st *pipeline.FileStats) error {
	if err := l.enc.Encode(manifestFileOf(st)); err != nil {
		return fmt.Errorf("write %s: %w", l.spill.Name(), err)
	}
	l.batch = append(l.batch, st.Row())
	if len(l.batch) < fileLogBatch {
		return nil
	}
	err := l.w.Write(l.batch)
	l.batch = l.batch[:0]
	return err
}

// close finishes files.parquet and the spill, which stays until discard.
func (l *fileLog) close() error {
	if err := l.buf.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", l.spill.Name(), err)
	}
	if err := l.w.Write(l.batch); err != nil {
		return err
	}
	return l.w.Close()
}

// abort removes files.parquet.
func (l *fileLog) abort() { l.w.Abort() }

// discard removes the spill (again: no effect).
func (l *fileLog) discard() {
	l.spill.Close()
	os.Remove(l.spill.Name())
}

// ManifestFile is the manifest's entry for one input file; files.parquet
// has the same in columns.
type ManifestFile struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
	// Skipped is why the file was not read.
	Skipped string `json:"skipped,omitempty"`
	// Records = evaluated + skips + unparseable + not_cloudtrail +
	// outside_window + duplicate_event_id + other_principal.
	Records        int64            `json:"records"`
	Evaluated      int64            `json:"evaluated"`
	Requests       int64            `json:"requests"`
	Skips          map[string]int64 `json:"skips,omitempty"`
	Unparseable    int64            `json:"unparseable"`
	NotCloudTrail  int64            `json:"not_cloudtrail"`
	OutsideWindow  int64            `json:"outside_window"`
	Duplicates     int64            `json:"duplicate_event_id"`
	OtherPrincipal int64            `json:"other_principal"`
	Error          string           `json:"error,omitempty"`
	Problems       []string         `json:"problems,omitempty"`
}

func manifestFileOf(st *pipeline.FileStats) ManifestFile {
	f := ManifestFile{
		Path: st.Path, Size: st.Size, Skipped: st.Skipped, Records: st.Records, Evaluated: st.Evaluated, Requests: st.Requests,
		Unparseable: st.Unparseable, NotCloudTrail: st.NotCloudTrail, OutsideWindow: st.OutsideWindow, Duplicates: st.Duplicates,
		OtherPrincipal: st.OtherPrincipals, Error: st.Error, Problems: st.Problems,
	}
	for k, n := range st.Skips {
		if n > 0 {
			if f.Skips == nil {
				f.Skips = map[string]int64{}
			}
			f.Skips[ingest.Skip(k).String()] = n
		}
	}
	return f
}

// writeManifest writes m as indented JSON with its files read from the
// spill of files, one entry per line, so that a manifest of a million
// files is never held in memory.
func writeManifest(path string, m *Manifest, files *fileLog) error {
	head, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	head = bytes.TrimSuffix(head, []byte("\n}"))
	if _, err := files.spill.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return output.Atomic(path, func(f *os.File) error {
		w := bufio.NewWriterSize(f, 1<<16)
		w.Write(head)
		w.WriteString(",\n  \"files\": [")
		r := bufio.NewReaderSize(files.spill, 1<<16)
		for n := 0; ; n++ {
			line, err := r.ReadBytes('\n')
			if len(line) > 0 {
				if n > 0 {
					w.WriteByte(',')
				}
				w.WriteString("\n    ")
				w.Write(bytes.TrimSuffix(line, []byte("\n")))
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
		}
		w.WriteString("\n  ]\n}\n")
		return w.Flush()
	})
}

// snapshotDigest hashes the snapshot's files by name and content.
func snapshotDigest(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", e.Name(), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// fileDigest returns the SHA-256 of a file in hex.
func fileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// snapshotPrincipals lists the users and roles of the snapshot.
func snapshotPrincipals(snap *ingest.Snapshot) []analysis.Principal {
	var out []analysis.Principal
	for arn, e := range snap.Users {
		out = append(out, analysis.Principal{ARN: arn, Type: "user", AccountID: e.Account, Entity: e})
	}
	for arn, e := range snap.Roles {
		out = append(out, analysis.Principal{ARN: arn, Type: "role", AccountID: e.Account, Entity: e})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ARN < out[j].ARN })
	return out
}

// reportNames lists the reports a run writes, manifest last.
var reportNames = []string{"files.parquet", "usage.parquet", "denied.parquet", "principals.parquet", "unused.parquet",
	"statements.parquet", "suggestions.parquet", "manifest.json"}

// publishedNames is what a run's report set holds: the decisions folder
// (with --decisions), the reports, the manifest last.
var publishedNames = append([]string{"decisions"}, reportNames...)

// writeReports writes every report into stage, a folder beside o.out, and
// publishes the set (output.Publish): an error or a kill before that leaves
// the previous reports as they were. It returns the rows of
// suggestions.parquet for the summary.
func writeReports(ctx context.Context, o runOptions, stage string, cfg pipeline.Config, snap *ingest.Snapshot, res *pipeline.Result, denied []analysis.DeniedRow, files *fileLog) ([]analysis.SuggestionRow, error) {
	rep := res.Report
	cat := catalog.Default()
	if err := output.WriteParquet(filepath.Join(stage, "usage.parquet"), rep.UsageRows()); err != nil {
		return nil, err
	}
	if err := output.WriteParquet(filepath.Join(stage, "denied.parquet"), denied); err != nil {
		return nil, err
	}

	// Effective permissions against use, principal by principal.
	known := snapshotPrincipals(snap)
	if len(o.principals) > 0 {
		known = slices.DeleteFunc(known, func(p analysis.Principal) bool { return !slices.Contains(o.principals, p.ARN) })
	}
	idx := rep.Index(cat)
	granted := map[string]int64{}
	var statements []analysis.StatementRow
	var suggestions []analysis.SuggestionRow
	replacements := map[string]*engine.Policy{}
	err := output.StreamParallelParquet(filepath.Join(stage, "unused.parquet"), cfg.WorkerCount(), func(write func([]analysis.UnusedRow) error) error {
		batch := make([]analysis.UnusedRow, 0, 4096)
		return idx.ReviewAll(ctx, grants.New(cat, snap), known, cfg.WorkerCount(), func(rv *analysis.Review) error {
			p := rv.Principal
			granted[p.ARN] = rv.Granted
			statements = append(statements, rv.Statements...)
			if err := rv.EachUnused(batch, write); err != nil {
				return err
			}
			if rv.Policy == "" {
				return nil
			}
			pol, err := engine.ParsePolicy(p.ARN+"#suggested", engine.PolicyIdentity, []byte(rv.Policy))
			if err != nil {
				return fmt.Errorf("suggested policy for %s does not parse: %w", p.ARN, err)
			}
			replacements[p.ARN] = pol
			sg := analysis.SuggestionRow{
				PrincipalARN: p.ARN, PrincipalType: p.Type, AccountID: p.AccountID, PolicyJSON: rv.Policy,
				GrantedActions: rv.Granted, UsedActions: rv.Used, RemovableActions: rv.Removable,
			}
			if a := rep.Principals[p.ARN]; a != nil {
				sg.UncheckedEvents, sg.UncheckedCalls = a.Unchecked, a.UncheckedCallNames()
			}
			suggestions = append(suggestions, sg)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	if o.verify && len(replacements) > 0 {
		checks, err := pipeline.VerifyLedger(ctx, cfg, res.Ledger, replacements)
		if err != nil {
			return nil, fmt.Errorf("verify the suggested policies: %w", err)
		}
		for i := range suggestions {
			sg := &suggestions[i]
			ok := sg.UncheckedEvents == 0
			if v := checks[sg.PrincipalARN]; v != nil {
				sg.VerifiedEvents, sg.FailedEvents, sg.FailedExample = v.Events, v.Failed, v.Example
				ok = ok && v.Failed == 0
			}
			sg.Verified = &ok
		}
	}
	if cfg.Ledger != "" {
		if err := os.RemoveAll(cfg.Ledger); err != nil {
			return nil, err
		}
	}
	if err := output.WriteParquet(filepath.Join(stage, "statements.parquet"), statements); err != nil {
		return nil, err
	}
	if err := output.WriteParquet(filepath.Join(stage, "suggestions.parquet"), suggestions); err != nil {
		return nil, err
	}
	if err := output.WriteParquet(filepath.Join(stage, "principals.parquet"), idx.PrincipalRows(known, granted)); err != nil {
		return nil, err
	}

	digest, err := snapshotDigest(o.snapshot)
	if err != nil {
		return nil, err
	}
	w := cfg.Window
	m := Manifest{
		Tool: "replay", Version: version, Catalog: cat.Version,
		Snapshot: ManifestSnapshot{Path: o.snapshot, SHA256: digest}, Principals: o.principals,
		Agreement: rep.Agreement, Coverage: rep.Coverage, Problems: res.Problems,
		Totals: ManifestTotals{
			Files: res.Files, FilesSkipped: res.FilesSkipped, FileErrors: res.FileErrors,
			Records: res.Records, Evaluated: res.Evaluated, Requests: res.Requests, Skips: res.Skips,
			Unparseable: res.Unparseable, NotCloudTrail: res.NotCloudTrail, OutsideWindow: res.OutsideWindow, Duplicates: res.Duplicates,
			OtherPrincipal: res.OtherPrincipals, Sessions: res.Sessions, UnmappedEvents: rep.Unmapped,
		},
	}
	for _, p := range snap.Problems {
		m.Snapshot.Problems = append(m.Snapshot.Problems, p.Error())
	}
	for _, p := range snap.Warnings {
		m.Snapshot.Warnings = append(m.Snapshot.Warnings, p.Error())
	}
	if !w.From.IsZero() {
		m.Window.From = &w.From
	}
	if !w.To.IsZero() {
		m.Window.To = &w.To
	}
	m.Window.Dedup = cfg.EffectiveDedupWindow().String()
	m.Reports = map[string]string{}
	for _, name := range reportNames[:len(reportNames)-1] {
		digest, err := fileDigest(filepath.Join(stage, name))
		if err != nil {
			return nil, err
		}
		m.Reports[name] = digest
	}
	if err := writeManifest(filepath.Join(stage, "manifest.json"), &m, files); err != nil {
		return nil, err
	}
	files.discard() // not a report: it must not be published

	if err := output.Publish(stage, o.out, publishedNames); err != nil {
		return nil, err
	}
	return suggestions, nil
}

func printSummary(w io.Writer, res *pipeline.Result, deniedRows []analysis.DeniedRow, suggestions []analysis.SuggestionRow, out string, reportsTime time.Duration) {
	rep := res.Report
	rate := float64(res.Records) / res.Elapsed.Seconds()
	read := res.Files
	for _, n := range res.FilesSkipped {
		read -= n
	}
	fmt.Fprintf(w, "Replayed %d records from %d files (%d other files passed over) in %s (%.0f records/s).\n",
		res.Records, read, res.Files-read, res.Elapsed.Round(time.Millisecond), rate)
	fmt.Fprintf(w, "  evaluated %d (%d requests)", res.Evaluated, res.Requests)
	var skips []string
	for k, n := range res.Skips {
		skips = append(skips, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(skips)
	if len(skips) > 0 {
		fmt.Fprintf(w, "; not evaluated: %s", strings.Join(skips, ", "))
	}
	fmt.Fprintf(w, "; unparseable %d, not CloudTrail %d, outside the window %d, duplicate event ids %d\n",
		res.Unparseable, res.NotCloudTrail, res.OutsideWindow, res.Duplicates)
	if res.OtherPrincipals > 0 {
		fmt.Fprintf(w, "  not selected by --principal: %d records of other callers\n", res.OtherPrincipals)
	}
	fmt.Fprintf(w, "  sessions issued by the STS calls read: %d", res.Sessions)
	if res.SessionPassDays > 0 {
		fmt.Fprintf(w, "; days read once for their sessions before their replay: %d", res.SessionPassDays)
	}
	if res.GroupsReplayedAgain > 0 {
		fmt.Fprintf(w, "; replayed again, their records having used sessions issued in files read after them: %d groups (%d files)",
			res.GroupsReplayedAgain, res.FilesReplayedAgain)
	}
	fmt.Fprintln(w)

	g := rep.Agreement
	decided := g.Agree
	for _, n := range g.Disagree {
		decided += n
	}
	fmt.Fprintf(w, "\nAgreement with the logged outcomes: %d of %d decided requests agree", g.Agree, decided)
	fmt.Fprintf(w, " (%d indeterminate, %d not decided by the log, %d with an incomplete snapshot)\n", g.Undecided, g.NotDecidedByLog, g.Incomplete)
	classes := make([]string, 0, len(g.Disagree))
	for c := range g.Disagree {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	for _, c := range classes {
		fmt.Fprintf(w, "  %s: %d (for example event %s)\n", c, g.Disagree[c], g.Examples[c])
	}

	denied := slices.Clone(deniedRows)
	sort.SliceStable(denied, func(i, j int) bool { return denied[i].Events > denied[j].Events })
	if len(denied) > 0 {
		fmt.Fprintln(w, "\nTop denied:")
		for i, d := range denied {
			if i == 5 {
				break
			}
			fmt.Fprintf(w, "  %5d  %s  %s\n         %s\n", d.Events, d.PrincipalARN, d.Action, d.Explanation)
		}
	}
	if len(rep.Unmapped) > 0 {
		fmt.Fprintln(w, "\nEvents with no known action (most frequent):")
		names := slices.Collect(maps.Keys(rep.Unmapped))
		slices.SortFunc(names, func(a, b string) int { return cmp.Or(cmp.Compare(rep.Unmapped[b], rep.Unmapped[a]), cmp.Compare(a, b)) })
		for i, n := range names {
			if i == 5 {
				break
			}
			fmt.Fprintf(w, "  %5d  %s\n", rep.Unmapped[n], n)
		}
	}

	top := slices.Clone(suggestions)
	slices.SortFunc(top, func(a, b analysis.SuggestionRow) int {
		return cmp.Or(cmp.Compare(b.RemovableActions, a.RemovableActions), cmp.Compare(a.PrincipalARN, b.PrincipalARN))
	})
	if len(top) > 0 {
		fmt.Fprintln(w, "\nMost removable actions (granted but not used in the window):")
		for i, p := range top {
			if i == 5 {
				break
			}
			fmt.Fprintf(w, "  %6d of %6d  %s\n", p.RemovableActions, p.GrantedActions, p.PrincipalARN)
		}
		verified, failed, unchecked := 0, 0, 0
		for _, sg := range suggestions {
			if sg.Verified != nil && *sg.Verified {
				verified++
			}
			if sg.FailedEvents > 0 {
				failed++
			}
			if sg.UncheckedEvents > 0 {
				unchecked++
			}
		}
		if sg := suggestions[0]; sg.Verified == nil {
			fmt.Fprintf(w, "%d suggested policies, not checked (--verify=false)", len(suggestions))
		} else {
			fmt.Fprintf(w, "%d suggested policies: %d allow every event allowed before, %d do not allow some", len(suggestions), verified, failed)
		}
		if unchecked > 0 {
			fmt.Fprintf(w, "; %d are for principals that made calls replay could not evaluate, which the policy may not allow (unchecked_calls)", unchecked)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\nReports in %s: %s\n", out, strings.Join(reportNames, ", "))
	fmt.Fprintf(w, "Reports written in %s.\n", reportsTime.Round(time.Millisecond))
	if peak, ok := peakRSS(); ok {
		fmt.Fprintf(w, "Peak memory (RSS): %d MiB\n", peak>>20)
	}
}
