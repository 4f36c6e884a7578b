package output

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

var testNames = []string{"decisions", "a.parquet", "manifest.json"}

// stageSet writes a report set holding content into a new stage beside out.
func stageSet(t *testing.T, out, content string, decisions bool) string {
	t.Helper()
	stage, err := NewStage(out)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(stage) != filepath.Dir(out) {
		t.Fatalf("stage %s is not beside %s", stage, out)
	}
	for _, name := range testNames[1:] {
		if err := os.WriteFile(filepath.Join(stage, name), []byte(content), FileMode); err != nil {
			t.Fatal(err)
		}
	}
	if decisions {
		if err := os.MkdirAll(filepath.Join(stage, "decisions", "day=2026-11-01"), DirMode); err != nil {
			t.Fatal(err)
		}
	}
	return stage
}

func readSet(t *testing.T, out string) (content string, decisions bool, names []string) {
	t.Helper()
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		names = append(names, e.Name())
	}
	b, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := os.ReadFile(filepath.Join(out, "a.parquet"))
	if err != nil || string(a) != string(b) {
		t.Errorf("a.parquet %q and manifest %q are not of one set (%v)", a, b, err)
	}
	_, err = os.Stat(filepath.Join(out, "decisions"))
	return string(b), err == nil, names
}

func stat(t *testing.T, path string) os.FileInfo {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestPublish(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "reports")

	// A first run: the stage becomes the folder, with the reports' mode.
	first := stageSet(t, out, "one", true)
	if err := Publish(first, out, testNames); err != nil {
		t.Fatal(err)
	}
	if content, dec, _ := readSet(t, out); content != "one" || !dec {
		t.Errorf("first set: %q, decisions %v", content, dec)
	}
	if st, _ := os.Stat(out); st.Mode().Perm() != DirMode {
		t.Errorf("folder mode %v, want %v", st.Mode().Perm(), DirMode)
	}

	// A second run over a folder holding only a report set: swapped in one
	// step on Linux; the previous set, decisions included, is gone.
	before := stat(t, out)
	second := stageSet(t, out, "two", false)
	if err := Publish(second, out, testNames); err != nil {
		t.Fatal(err)
	}
	content, dec, names := readSet(t, out)
	if content != "two" || dec || len(names) != 2 {
		t.Errorf("second set: %q, decisions %v, entries %v", content, dec, names)
	}
	if runtime.GOOS == "linux" && os.SameFile(stat(t, out), before) {
		t.Error("the folder was not exchanged")
	}
	if _, err := os.Stat(second); !os.IsNotExist(err) {
		t.Errorf("the previous set was left at %s", second)
	}

	// A folder holding other files: reports renamed one by one, the other
	// files kept.
	if err := os.WriteFile(filepath.Join(out, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	before = stat(t, out)
	third := stageSet(t, out, "three", true)
	if err := Publish(third, out, testNames); err != nil {
		t.Fatal(err)
	}
	if content, dec, _ := readSet(t, out); content != "three" || !dec {
		t.Errorf("third set: %q, decisions %v", content, dec)
	}
	if b, err := os.ReadFile(filepath.Join(out, "notes.txt")); err != nil || string(b) != "mine" {
		t.Errorf("a file of the user's was not kept: %q %v", b, err)
	}
	if !os.SameFile(stat(t, out), before) {
		t.Error("a folder holding other files must not be exchanged")
	}
	fourth := stageSet(t, out, "four", false)
	if err := Publish(fourth, out, testNames); err != nil {
		t.Fatal(err)
	}
	if content, dec, _ := readSet(t, out); content != "four" || dec {
		t.Errorf("fourth set: %q, decisions of the previous set kept: %v", content, dec)
	}

	// A run that stops before publishing leaves the folder as it was.
	stageSet(t, out, "five", true)
	if content, _, _ := readSet(t, out); content != "four" {
		t.Errorf("an unpublished stage changed the folder: %q", content)
	}
}
