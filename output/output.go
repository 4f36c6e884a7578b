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

// DayParts writes the rows of one producer into one Parquet file per day:
// dir/day=YYYY-MM-DD/NAME.parquet, a layout DuckDB, pyarrow and Spark read
// as a table partitioned by day. Each file is written under a temporary
// name and renamed by Close. A DayParts is not safe for concurrent use;
// give each producer its own name.
type DayParts[T any] struct {
	dir, name string
	open      map[string]*dayPart[T]
	order     []string
}

type dayPart[T any] struct {
	f    *os.File
	w    *parquet.GenericWriter[T]
	path string
}

// NewDayParts returns a writer of dir/day=*/name.parquet files.
func NewDayParts[T any](dir, name string) *DayParts[T] {
	return &DayParts[T]{dir: dir, name: name, open: map[string]*dayPart[T]{}}
}

// Write appends rows to the file of day (YYYY-MM-DD).
func (d *DayParts[T]) Write(day string, rows []T) error {
	p := d.open[day]
	if p == nil {
		folder := filepath.Join(d.dir, "day="+day)
		if err := os.MkdirAll(folder, DirMode); err != nil {
			return err
		}
		path := filepath.Join(folder, d.name+".parquet")
		f, err := os.CreateTemp(folder, "."+d.name+".tmp-*")
		if err != nil {
			return err
		}
		if err := f.Chmod(FileMode); err != nil {
			f.Close()
			os.Remove(f.Name())
			return err
		}
		p = &dayPart[T]{f: f, w: parquet.NewGenericWriter[T](f, parquet.Compression(&parquet.Zstd)), path: path}
		d.open[day] = p
		d.order = append(d.order, day)
	}
	if _, err := p.w.Write(rows); err != nil {
		return fmt.Errorf("write %s: %w", p.path, err)
	}
	return nil
}

// Close finishes every file and renames it into place. After an error the
// remaining files are removed.
func (d *DayParts[T]) Close() error {
	var first error
	for _, day := range d.order {
		p := d.open[day]
		err := first
		if err == nil {
			err = p.w.Close()
		}
		if err == nil {
			err = p.f.Sync()
		}
		if cerr := p.f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(p.f.Name(), p.path)
		}
		if err != nil {
			os.Remove(p.f.Name())
			if first == nil {
				first = fmt.Errorf("write %s: %w", p.path, err)
			}
		}
	}
	d.open, d.order = map[string]*dayPart[T]{}, nil
	return first
}

// Abort removes every file not yet closed.
func (d *DayParts[T]) Abort() {
	for _, p := range d.open {
		p.f.Close()
		os.Remove(p.f.Name())
	}
	d.open, d.order = map[string]*dayPart[T]{}, nil
}
