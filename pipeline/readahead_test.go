package pipeline

import (
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/replay-iam/replay/ingest"
	"github.com/replay-iam/replay/internal/sample"
)

// busyStream generates the log of one account and region: one group a
// day, of six files, with two damaged files added to the first day's (one
// that is not gzip, one cut short), delivered among the others.
func busyStream(t *testing.T, days int) (sample.Summary, *ingest.Snapshot) {
	t.Helper()
	o := sample.DefaultOptions()
	o.Accounts, o.Days, o.FilesPerDay = 1, days, 6
	sum, err := sample.Generate(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := ingest.LoadSnapshot(sum.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(sum.Logs, "AWSLogs", "o-sample1234", "200000000001", "CloudTrail", "eu-west-1", "2026", "11", "01")
	if err := os.WriteFile(filepath.Join(dir, "200000000001_CloudTrail_eu-west-1_20261101T0600Z_notgzip.json.gz"),
		[]byte("\x1f\x8bnot really gzip"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "200000000001_CloudTrail_eu-west-1_20261101T1800Z_cut.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	zw.Write([]byte(`{"Records":[{"eventSource":"s3.amazonaws.com","eventName":"ListBuckets","eventID":"cut-1","eventTime":"2026-11-01T17:55:00Z",` +
		`"userIdentity":{"type":"Root","arn":"arn:aws:iam::200000000001:root","accountId":"200000000001"}},{"eventSou`))
	if err := errors.Join(zw.Close(), f.Close()); err != nil {
		t.Fatal(err)
	}
	return sum, snap
}

// TestReadAheadOnSpareWorker replays the log of one account and region,
// one group a day. With two workers, a one-day log leaves a worker spare,
// which reads the group's files ahead of their replay from its second file
// on; one worker, or a read-ahead turned off, reads none ahead. Reading
// ahead, on a spare worker or on a goroutine of its own for every group,
// changes nothing else: the report, the decisions and the accounting of
// every file, damaged ones included, are those of the replay that reads
// each file itself.
func TestReadAheadOnSpareWorker(t *testing.T) {
	for _, days := range []int{1, 2} {
		sum, snap := busyStream(t, days)
		type outcome struct {
			res       *Result
			files     []FileStats
			decisions any
		}
		replay := func(workers int, mode readAheadMode) outcome {
			t.Helper()
			dir := t.TempDir()
			res, files := runLogged(t, Config{Logs: []string{sum.Logs}, Snapshot: snap, Workers: workers, Decisions: dir,
				readAhead: mode, recordStrings: borrowScrubbed})
			return outcome{res, files, readDecisions(t, dir)}
		}
		want := replay(1, readAheadNever)
		if want.res.FileErrors != 2 || want.res.FilesReadAhead != 0 {
			t.Fatalf("%d days: %d files ended early, %d read ahead; want 2, 0", days, want.res.FileErrors, want.res.FilesReadAhead)
		}
		groupFiles := 6 + 2 // the first day's
		for _, run := range []struct {
			workers   int
			mode      readAheadMode
			readAhead int // files read ahead; -1: some, -2: any number
		}{
			{1, readAheadAuto, 0},
			{2, readAheadNever, 0},
			// Two days' groups take both workers: the one that ends later
			// may read ahead once the other is done, or may be done first.
			{2, readAheadAuto, map[int]int{1: groupFiles - 1, 2: -2}[days]},
			{1, readAheadAlways, -1},
			{3, readAheadAlways, -1},
		} {
			got := replay(run.workers, run.mode)
			name := map[readAheadMode]string{readAheadAuto: "auto", readAheadAlways: "always", readAheadNever: "never"}[run.mode]
			if n := got.res.FilesReadAhead; n != run.readAhead && !(run.readAhead == -1 && n > 0) && run.readAhead != -2 {
				t.Errorf("%d days, %d workers, read-ahead %s: %d files read ahead, want %d (-1: some)", days, run.workers, name, n, run.readAhead)
			}
			if diff := reportDiff(got.res.Report, want.res.Report); diff != "" {
				t.Errorf("%d days, %d workers, read-ahead %s: the report differs in %s", days, run.workers, name, diff)
			}
			if !reflect.DeepEqual(got.files, want.files) {
				t.Errorf("%d days, %d workers, read-ahead %s: the accounting of the files differs:\n%+v\nwant\n%+v", days, run.workers, name, got.files, want.files)
			}
			if !reflect.DeepEqual(got.decisions, want.decisions) {
				t.Errorf("%d days, %d workers, read-ahead %s: the decisions differ", days, run.workers, name)
			}
		}
	}
}

// TestReadAheadStopsWhenCancelled cancels a replay whose groups read ahead
// once the first group is accounted for: the run ends with the
// cancellation, its read-ahead goroutines stopped.
func TestReadAheadStopsWhenCancelled(t *testing.T) {
	sum, snap := busyStream(t, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, Config{Logs: []string{sum.Logs}, Snapshot: snap, Workers: 1, readAhead: readAheadAlways,
			FileLog: func(st *FileStats) error {
				if strings.Contains(st.Path, "/2026/11/01/") {
					cancel()
				}
				return nil
			}})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err %v, want context.Canceled", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the replay did not end within a minute of its cancellation")
	}
}
