// Package output writes replay's reports: Parquet files through parquet-go
// (zstd-compressed) and JSON. Every file is written to a temporary file in
// the destination folder and renamed into place, so a report is either
// complete or absent, never half-written.
package output

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/parquet-go/parquet-go"
)

// FileMode and DirMode are the permissions of reports and their folders:
// they describe who may do what in an AWS estate.
const (
	FileMode os.FileMode = 0o600
	DirMode  os.FileMode = 0o700
)

// Atomic writes path by calling write on a temporary file beside it, then
// syncing and renaming it into place. On any error the temporary file is
// removed and path is left as it was.
func Atomic(path string, write func(f *os.File) error) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), DirMode); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(FileMode); err != nil {
		return err
	}
	if err := write(f); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(f.Name(), path)
}

// WriteParquet writes rows to a zstd-compressed Parquet file whose schema is
// T's (parquet struct tags).
func WriteParquet[T any](path string, rows []T) error {
	return Atomic(path, func(f *os.File) error {
		w := parquet.NewGenericWriter[T](f, parquet.Compression(&parquet.Zstd))
		if _, err := w.Write(rows); err != nil {
			return err
		}
		return w.Close()
	})
}

// WriteJSON writes v as indented JSON.
func WriteJSON(path string, v any) error {
	return Atomic(path, func(f *os.File) error {
		enc := json.NewEncoder(f)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	})
}

// StreamParquet writes a Parquet file whose rows produce hands, batch by
// batch, to write; the file appears only when produce returns nil.
func StreamParquet[T any](path string, produce func(write func(rows []T) error) error) error {
	return Atomic(path, func(f *os.File) error {
		w := parquet.NewGenericWriter[T](f, parquet.Compression(&parquet.Zstd))
		err := produce(func(rows []T) error {
			_, err := w.Write(rows)
			return err
		})
		if err != nil {
			return err
		}
		return w.Close()
	})
}
