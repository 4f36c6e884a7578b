package ingest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// LogFile is one input file found by Discover.
type LogFile struct {
	Path string
	Size int64
	// Account, Region and Day come from the S3 delivery layout
	// AWSLogs/[org-id/]account/CloudTrail/region/yyyy/mm/dd/; they are empty
	// (Day zero) for files outside that layout.
	Account string
	Region  string
	Day     time.Time
	// Delivered is the delivery time in a CloudTrail file name
	// (account_CloudTrail_region_20261120T1005Z_xxxx.json.gz), when present.
	Delivered time.Time
	// Skip is why the file is not read ("" when it is read).
	Skip SkipReason
}

// SkipReason names why a file is not read.
type SkipReason string

// Reasons for not reading a file.
const (
	SkipDigest        SkipReason = "digest_file"
	SkipNotLog        SkipReason = "not_a_log_file"
	SkipOutsideWindow SkipReason = "outside_window"
)

// Window is a time range [From, To); a zero bound is open.
type Window struct {
	From, To time.Time
}

// Contains reports whether t is inside the window.
func (w Window) Contains(t time.Time) bool {
	return (w.From.IsZero() || !t.Before(w.From)) && (w.To.IsZero() || t.Before(w.To))
}

// lateDelivery bounds how long after an event CloudTrail delivers it; a file
// delivered more than this after the window's end holds no event of it.
const lateDelivery = 24 * time.Hour

// excludes reports whether a file's name places all its events outside w.
func (w Window) excludes(f *LogFile) bool {
	switch {
	case !f.Delivered.IsZero():
		// Events precede their delivery.
		return (!w.From.IsZero() && f.Delivered.Before(w.From)) || (!w.To.IsZero() && f.Delivered.After(w.To.Add(lateDelivery)))
	case !f.Day.IsZero():
		dayEnd := f.Day.Add(24 * time.Hour)
		return (!w.From.IsZero() && !dayEnd.After(w.From)) || (!w.To.IsZero() && f.Day.After(w.To.Add(lateDelivery)))
	}
	return false
}

var (
	layoutRe    = regexp.MustCompile(`AWSLogs/(?:o-[a-z0-9]+/)?(\d{12})/CloudTrail/([a-z0-9-]+)/(\d{4})/(\d{2})/(\d{2})/`)
	deliveredRe = regexp.MustCompile(`_CloudTrail_[a-z0-9-]+_(\d{8}T\d{4}Z)_`)
)

// logSuffixes are the names of files read as logs.
var logSuffixes = []string{".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".log", ".log.gz", ".gz"}

// Discover expands paths (files, folders searched recursively, or glob
// patterns) into log files sorted by path, marking those it will not read.
func Discover(paths []string, w Window) ([]LogFile, error) {
	seen := map[string]bool{}
	var out []LogFile
	add := func(p string, size int64) {
		if seen[p] {
			return
		}
		seen[p] = true
		out = append(out, classify(p, size, w))
	}
	for _, arg := range paths {
		matches := []string{arg}
		if strings.ContainsAny(arg, "*?[") {
			m, err := filepath.Glob(arg)
			if err != nil {
				return nil, fmt.Errorf("logs %q: %w", arg, err)
			}
			if len(m) == 0 {
				return nil, fmt.Errorf("logs %q: no file matches", arg)
			}
			matches = m
		}
		for _, p := range matches {
			st, err := os.Stat(p)
			if err != nil {
				return nil, fmt.Errorf("logs: %w", err)
			}
			if !st.IsDir() {
				add(p, st.Size())
				continue
			}
			err = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if d.IsDir() {
					return nil
				}
				info, err := d.Info()
				if err != nil {
					return err
				}
				if info.Mode().IsRegular() {
					add(q, info.Size())
				}
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("logs: %w", err)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func classify(p string, size int64, w Window) LogFile {
	f := LogFile{Path: p, Size: size}
	slash := filepath.ToSlash(p)
	if m := layoutRe.FindStringSubmatch(slash); m != nil {
		f.Account, f.Region = m[1], m[2]
		f.Day, _ = time.Parse("2006-01-02", m[3]+"-"+m[4]+"-"+m[5])
	}
	if m := deliveredRe.FindStringSubmatch(filepath.Base(p)); m != nil {
		f.Delivered, _ = time.Parse("20060102T1504Z", m[1])
	}
	base := strings.ToLower(filepath.Base(p))
	switch {
	case strings.Contains(slash, "/CloudTrail-Digest/") || strings.Contains(base, "cloudtrail-digest"):
		f.Skip = SkipDigest
	case !hasLogSuffix(base):
		f.Skip = SkipNotLog
	case w.excludes(&f):
		f.Skip = SkipOutsideWindow
	}
	return f
}

func hasLogSuffix(name string) bool {
	for _, s := range logSuffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}
