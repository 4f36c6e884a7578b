// Package sample generates a synthetic AWS organization: an IAM snapshot of
// several accounts and CloudTrail logs in the S3 delivery layout of an
// organization trail. The demo, the tests and the benchmarks use it; the
// same options and seed always give the same files.
package sample

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Options shape the generated estate.
type Options struct {
	// Accounts is the number of member accounts (at least 1); the
	// management account comes on top.
	Accounts int
	// Days of logs, starting at Start.
	Days  int
	Start time.Time
	// FilesPerDay per account and region, EventsPerFile in each.
	FilesPerDay   int
	EventsPerFile int
	Seed          uint64
}

// Version numbers the generator's output: it changes whenever the same
// options give other files, so that a tree kept from an earlier version
// can be told apart.
const Version = 4

// Stamp describes the files Generate writes with o, version included.
func (o Options) Stamp() string {
	return fmt.Sprintf("replay sample v%d: %d accounts, %d days from %s, %d files a day of %d events, seed %d\n",
		Version, o.Accounts, o.Days, o.Start.UTC().Format(time.RFC3339), o.FilesPerDay, o.EventsPerFile, o.Seed)
}

// DefaultOptions is the demo estate: three member accounts, two days.
func DefaultOptions() Options {
	return Options{Accounts: 3, Days: 2, Start: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		FilesPerDay: 4, EventsPerFile: 50, Seed: 1}
}

// Summary tells what was written.
type Summary struct {
	Snapshot string // the snapshot folder
	Logs     string // the folder holding AWSLogs/
	Files    int    // log files written (digest files not counted)
	Digests  int
	Events   int
}

const (
	orgID       = "o-sample1234"
	mgmtAccount = "100000000000"
	region      = "eu-west-1"
)

// account returns the id of member account i.
func account(i int) string { return fmt.Sprintf("2%011d", i+1) }

// BotARN returns the ARN of the legacy bot user of member account i (from
// 0), which makes a small share of the estate's calls (with 6 accounts,
// under 2 %): the principal a rerun for one principal selects in the
// benchmarks.
func BotARN(i int) string { return botARN(account(i)) }

// botARN returns the ARN of the legacy bot user of account acct.
func botARN(acct string) string { return "arn:aws:iam::" + acct + ":user/bots/legacy-bot" }

// Generate writes the estate under dir: dir/snapshot and dir/logs.
func Generate(dir string, o Options) (Summary, error) {
	if o.Accounts < 1 || o.Days < 1 || o.FilesPerDay < 1 || o.EventsPerFile < 1 {
		return Summary{}, fmt.Errorf("sample: accounts, days, files per day and events per file must be positive")
	}
	s := Summary{Snapshot: filepath.Join(dir, "snapshot"), Logs: filepath.Join(dir, "logs")}
	if err := os.MkdirAll(s.Snapshot, 0o700); err != nil {
		return s, err
	}
	if err := writeSnapshot(s.Snapshot, o); err != nil {
		return s, err
	}
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	g := &eventGen{rng: rng}
	for a := 0; a < o.Accounts; a++ {
		acct := account(a)
		for d := 0; d < o.Days; d++ {
			day := o.Start.AddDate(0, 0, d)
			folder := filepath.Join(s.Logs, "AWSLogs", orgID, acct, "CloudTrail", region, day.Format("2006/01/02"))
			if err := os.MkdirAll(folder, 0o700); err != nil {
				return s, err
			}
			for f := 0; f < o.FilesPerDay; f++ {
				at := day.Add(time.Duration(f) * 24 * time.Hour / time.Duration(o.FilesPerDay))
				recs := make([]map[string]any, o.EventsPerFile)
				for i := range recs {
					t := at.Add(time.Duration(i) * time.Second)
					recs[i] = g.event(acct, t)
				}
				name := fmt.Sprintf("%s_CloudTrail_%s_%s_%04x.json.gz", acct, region, at.Add(5*time.Minute).Format("20060102T1504Z"), rng.Uint32()&0xffff)
				if err := writeGzipJSON(filepath.Join(folder, name), map[string]any{"Records": recs}); err != nil {
					return s, err
				}
				s.Files++
				s.Events += len(recs)
			}
			digestDir := filepath.Join(s.Logs, "AWSLogs", orgID, acct, "CloudTrail-Digest", region, day.Format("2006/01/02"))
			if err := os.MkdirAll(digestDir, 0o700); err != nil {
				return s, err
			}
			digest := filepath.Join(digestDir, fmt.Sprintf("%s_CloudTrail-Digest_%s_%s.json.gz", acct, region, day.Format("20060102T0000Z")))
			if err := writeGzipJSON(digest, map[string]any{"awsAccountId": acct, "digestStartTime": day.Format(time.RFC3339)}); err != nil {
				return s, err
			}
			s.Digests++
		}
	}
	return s, nil
}

func writeGzipJSON(path string, v any) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(f)
	enc := json.NewEncoder(zw)
	if err := enc.Encode(v); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}
