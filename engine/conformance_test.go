package engine_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/replay-iam/replay/engine/casefile"
)

// TestConformance runs every case file under testdata/conformance: each case
// is a request, its policies and the answer the AWS documentation gives.
func TestConformance(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "conformance", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no conformance case files found")
	}
	total := 0
	for _, f := range files {
		cases, err := casefile.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			for _, c := range cases {
				total++
				r := casefile.Run(c)
				if !r.Pass {
					t.Errorf("%s: %s", c.Name, r.Problem)
				}
			}
		})
	}
	t.Logf("%d conformance cases", total)
}

// TestPeerDivergencesWellFormed checks that every documented divergence from
// the peer suite has a reason, so the list cannot hide a failure silently.
func TestPeerDivergencesWellFormed(t *testing.T) {
	d, err := casefile.LoadDivergences(filepath.Join("testdata", "peer-divergences.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(d) == 0 {
		t.Fatal("empty divergence list")
	}
	for name, reason := range d {
		if len(reason) < 40 {
			t.Errorf("divergence %q: reason too short to explain anything: %q", name, reason)
		}
	}
	if _, err := os.Stat(filepath.Join("testdata", "peer-divergences.json")); err != nil {
		t.Fatal(err)
	}
}
