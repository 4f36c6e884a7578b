package main

import (
	"strings"
	"testing"
	"time"
)

// TestRunMeasured checks that the peak RSS and the time of each phase are
// read from a run's summary, also when a long summary passes the part of
// its output kept in memory, and that a summary without them is an error.
func TestRunMeasured(t *testing.T) {
	summary := "Replayed 1008000 records from 672 files (24 other files passed over) in 2.92s (345211 records/s).\n" +
		strings.Repeat("   3297  arn:aws:iam::200000000006:role/svc/app  s3:DeleteObject\n", 200) +
		"Reports in /tmp/out: usage.parquet\nReports written in 99ms.\nPeak memory (RSS): 187 MiB\n"
	m, err := runMeasured("/bin/sh", []string{"-c", `printf '%s' "$0"`, summary})
	if err != nil {
		t.Fatal(err)
	}
	if m.rss != 187<<10 || m.replay != 2920*time.Millisecond || m.reports != 99*time.Millisecond || m.wall <= 0 {
		t.Errorf("measured %+v", m)
	}
	if _, err := runMeasured("/bin/sh", []string{"-c", "echo 'Peak memory (RSS): 187 MiB'"}); err == nil {
		t.Error("a summary without the phases was accepted")
	}
}
