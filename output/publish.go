package output

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// NewStage creates an empty folder beside out (same parent, so on the same
// file system) in which a run writes its report set before Publish.
func NewStage(out string) (string, error) {
	out, err := filepath.Abs(out)
	if err != nil {
		return "", err
	}
	parent := filepath.Dir(out)
	if err := os.MkdirAll(parent, DirMode); err != nil {
		return "", err
	}
	return os.MkdirTemp(parent, "."+filepath.Base(out)+".replay-*")
}

// Publish makes the report set in stage (files and folders named in names)
// the content of out.
//
// When out does not exist, stage is renamed to out. When out holds nothing
// but entries named in names (a previous report set), the two folders are
// exchanged in one atomic rename where the system supports it (Linux), and
// the previous set, now in stage, is removed: a reader, or a run killed at
// any point, sees either the whole previous set or the whole new one.
// Otherwise (out holds other files, or the exchange is not supported) each
// entry is renamed into out in the order of names, so the last one (the
// manifest, whose digests tell a whole set) lands last, and entries of a
// previous set that the new one lacks are removed.
func Publish(stage, out string, names []string) error {
	out, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(out)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return os.Rename(stage, out)
	case err != nil:
		return err
	}
	ours := true
	for _, e := range entries {
		if !slices.Contains(names, e.Name()) {
			ours = false
			break
		}
	}
	if ours {
		if err := os.Chmod(stage, DirMode); err != nil {
			return err
		}
		err := exchange(stage, out)
		if err == nil {
			return os.RemoveAll(stage)
		}
		if !errors.Is(err, errNoExchange) {
			return fmt.Errorf("publish %s: %w", out, err)
		}
	}
	var absent []string
	for _, name := range names {
		from, to := filepath.Join(stage, name), filepath.Join(out, name)
		st, err := os.Lstat(from)
		if errors.Is(err, os.ErrNotExist) {
			absent = append(absent, name)
			continue
		}
		if err != nil {
			return err
		}
		if st.IsDir() {
			if err := replaceFolder(from, to); err != nil {
				return err
			}
			continue
		}
		if err := os.Rename(from, to); err != nil {
			return err
		}
	}
	for _, name := range absent {
		if err := os.RemoveAll(filepath.Join(out, name)); err != nil {
			return err
		}
	}
	return nil
}

// errNoExchange says the system cannot exchange two folders atomically.
var errNoExchange = errors.New("atomic exchange not supported")

// replaceFolder moves folder from over to, removing what to held before.
func replaceFolder(from, to string) error {
	old := to + ".old"
	if err := os.RemoveAll(old); err != nil {
		return err
	}
	if err := os.Rename(to, old); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Rename(from, to); err != nil {
		return err
	}
	return os.RemoveAll(old)
}
