package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/replay-iam/replay/ingest"
	"github.com/replay-iam/replay/internal/sample"
)

func TestRunAccountsForDamagedInput(t *testing.T) {
	sum, err := sample.Generate(t.TempDir(), sample.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(sum.Logs, "extra")
	if err := os.MkdirAll(bad, 0o700); err != nil {
		t.Fatal(err)
	}
	// A file that is not gzip although named so, a delivery file cut short
	// after one record, and a JSON-lines file with one broken line.
	os.WriteFile(filepath.Join(bad, "corrupt.json.gz"), []byte("\x1f\x8bnot really gzip"), 0o600)
	os.WriteFile(filepath.Join(bad, "truncated.json"), []byte(`{"Records":[{"eventSource":"s3.amazonaws.com","eventName":"ListBuckets","eventTime":"2026-11-01T00:00:00Z","userIdentity":{"type":"Root","arn":"arn:aws:iam::200000000001:root","accountId":"200000000001"}},{"eventSou`), 0o600)
	os.WriteFile(filepath.Join(bad, "lines.jsonl"), []byte("{\"eventSource\":\"s3.amazonaws.com\",\"eventName\":\"ListBuckets\",\"userIdentity\":{\"type\":\"Root\",\"arn\":\"arn:aws:iam::200000000001:root\",\"accountId\":\"200000000001\"}}\n{broken\n{\"no\":\"event\"}\n"), 0o600)

	snap, err := ingest.LoadSnapshot(sum.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Config{Logs: []string{sum.Logs}, Snapshot: snap, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != int64(sum.Events)+1+3 {
		t.Errorf("records %d, want %d", res.Records, sum.Events+4)
	}
	if res.FileErrors != 2 || res.Unparseable != 1 || res.NotCloudTrail != 1 {
		t.Errorf("file errors %d, unparseable %d, not CloudTrail %d", res.FileErrors, res.Unparseable, res.NotCloudTrail)
	}
	accounted := res.Evaluated + res.Unparseable + res.NotCloudTrail + res.OutsideWindow
	for _, n := range res.Skips {
		accounted += n
	}
	if accounted != res.Records {
		t.Errorf("accounted %d of %d", accounted, res.Records)
	}
	if res.Report.Events != res.Requests {
		t.Errorf("report holds %d events, %d requests evaluated", res.Report.Events, res.Requests)
	}
}

func TestRunStopsWhenCancelled(t *testing.T) {
	sum, err := sample.Generate(t.TempDir(), sample.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	snap, err := ingest.LoadSnapshot(sum.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, Config{Logs: []string{sum.Logs}, Snapshot: snap}); !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
}
