package ingest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// LogFile is one input file.
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

// Survey finds the log files of paths (files, folders searched
// recursively, or glob patterns) without listing the day folders of the S3
// delivery layout (AWSLogs/.../CloudTrail/region/yyyy/mm/dd/): those are
// counted and listed when their day comes (Day.List), so that what a run
// holds about its files does not grow with the number of days. Files it
// will not read are passed to passedOver (which may be nil) in the order
// found, and not kept.
func Survey(paths []string, w Window, passedOver func(LogFile)) (*Inventory, error) {
	s := surveyor{w: w, passedOver: passedOver, inv: &Inventory{}, days: map[time.Time]*Day{},
		dirs: map[string]bool{}, files: map[string]bool{}}
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
				s.file(p, st.Size())
				continue
			}
			if err := filepath.WalkDir(p, s.walk); err != nil {
				return nil, fmt.Errorf("logs: %w", err)
			}
		}
	}
	for _, d := range s.days {
		s.inv.Days = append(s.inv.Days, d)
	}
	sort.Slice(s.inv.Days, func(i, j int) bool { return s.inv.Days[i].Start.Before(s.inv.Days[j].Start) })
	sort.Slice(s.inv.Loose, func(i, j int) bool { return s.inv.Loose[i].Path < s.inv.Loose[j].Path })
	return s.inv, nil
}

// Inventory is what Survey found.
type Inventory struct {
	// Days are the delivery days of the S3 layout with files to read, in
	// order.
	Days []*Day
	// Loose are the files to read whose account or delivery day is unknown,
	// sorted by path.
	Loose []LogFile
	// Files counts the files in the days' folders (read or not) and the
	// other files to read.
	Files int
}

// Day is one delivery day of the S3 layout: folders of several accounts and
// regions, and files named one by one.
type Day struct {
	Start time.Time
	dirs  []string
	files []LogFile
}

// List returns the files of the day to read, sorted by path, and passes
// the others to passedOver (which may be nil).
func (d *Day) List(w Window, passedOver func(LogFile)) ([]LogFile, error) {
	out := slices.Clone(d.files)
	for _, dir := range d.dirs {
		err := filepath.WalkDir(dir, func(q string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			info, err := e.Info()
			if err != nil {
				return err
			}
			if !info.Mode().IsRegular() {
				return nil
			}
			if f := classify(q, info.Size(), w); f.Skip != "" {
				if passedOver != nil {
					passedOver(f)
				}
			} else {
				out = append(out, f)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("logs: %w", err)
		}
	}
	slices.SortFunc(out, func(a, b LogFile) int { return strings.Compare(a.Path, b.Path) })
	return slices.CompactFunc(out, func(a, b LogFile) bool { return a.Path == b.Path }), nil
}

// Discover lists every file of paths, read or not, sorted by path. It holds
// them all; a run surveys instead (Survey).
func Discover(paths []string, w Window) ([]LogFile, error) {
	var out []LogFile
	keep := func(f LogFile) { out = append(out, f) }
	inv, err := Survey(paths, w, keep)
	if err != nil {
		return nil, err
	}
	for _, d := range inv.Days {
		files, err := d.List(w, keep)
		if err != nil {
			return nil, err
		}
		out = append(out, files...)
	}
	out = append(out, inv.Loose...)
	slices.SortFunc(out, func(a, b LogFile) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// surveyor is the state of one Survey.
type surveyor struct {
	w          Window
	passedOver func(LogFile)
	inv        *Inventory
	days       map[time.Time]*Day
	dirs       map[string]bool // day folders kept
	files      map[string]bool // files kept one by one
}

// walk is the WalkDir function of a folder given to Survey: a day folder of
// the layout inside the window is kept whole, other files one by one.
func (s *surveyor) walk(p string, e fs.DirEntry, err error) error {
	if err != nil {
		return err
	}
	if e.IsDir() {
		day, ok := layoutDay(p)
		if !ok || s.w.excludes(&LogFile{Day: day}) {
			return nil
		}
		if !s.dirs[p] {
			s.dirs[p] = true
			n, err := countFiles(p)
			if err != nil {
				return err
			}
			d := s.day(day)
			// Files named before their folder are now listed with it.
			named := len(d.files)
			d.files = slices.DeleteFunc(d.files, func(f LogFile) bool { return dayFolder(f.Path) == p })
			s.inv.Files += n - (named - len(d.files))
			d.dirs = append(d.dirs, p)
		}
		return fs.SkipDir
	}
	info, err := e.Info()
	if err != nil {
		return err
	}
	if info.Mode().IsRegular() {
		s.file(p, info.Size())
	}
	return nil
}

// file takes one file found outside a kept day folder.
func (s *surveyor) file(p string, size int64) {
	f := classify(p, size, s.w)
	switch {
	case f.Skip != "":
		if s.passedOver != nil {
			s.passedOver(f)
		}
	case s.files[p] || s.dirs[dayFolder(p)]:
		// Named twice, or in a day folder kept whole.
	case f.Account != "" && !f.Day.IsZero():
		s.files[p] = true
		s.inv.Files++
		s.day(f.Day).files = append(s.day(f.Day).files, f)
	default:
		s.files[p] = true
		s.inv.Files++
		s.inv.Loose = append(s.inv.Loose, f)
	}
}

func (s *surveyor) day(start time.Time) *Day {
	d := s.days[start]
	if d == nil {
		d = &Day{Start: start}
		s.days[start] = d
	}
	return d
}

// layoutDay reports whether dir is a day folder of the layout, and its day.
func layoutDay(dir string) (time.Time, bool) {
	slash := filepath.ToSlash(dir) + "/"
	loc := layoutRe.FindStringSubmatchIndex(slash)
	if loc == nil || loc[1] != len(slash) {
		return time.Time{}, false
	}
	day, err := time.Parse("2006/01/02", slash[loc[6]:loc[11]])
	return day, err == nil
}

// dayFolder returns the day folder of the layout that holds path, or "".
func dayFolder(path string) string {
	loc := layoutRe.FindStringIndex(filepath.ToSlash(path))
	if loc == nil {
		return ""
	}
	return path[:loc[1]-1]
}

// countFiles counts the regular files below dir without reading their
// metadata.
func countFiles(dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			n++
		}
		return err
	})
	return n, err
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
