// Package output writes replay's reports: Parquet files through parquet-go
// (zstd-compressed, or Huffman-only GZIP for random values) and JSON. Every
// file is written to a temporary file in the destination folder and renamed
// into place, so a report is either complete or absent, never half-written.
package output

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/gzip"
)

// FileMode and DirMode are the permissions of reports and their folders:
// they describe who may do what in an AWS estate.
const (
	FileMode os.FileMode = 0o600
	DirMode  os.FileMode = 0o700
)

// tempFile is a file written under a temporary name beside its final path,
// with the reports' mode.
type tempFile struct {
	*os.File
	path string
}

// createTemp creates the folders of path and a temporary file beside it.
func createTemp(path string) (*tempFile, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, err
	}
	t := &tempFile{File: f, path: path}
	if err := f.Chmod(FileMode); err != nil {
		t.discard()
		return nil, err
	}
	return t, nil
}

// commit syncs and closes the file and renames it to its path; on error
// the temporary file is removed.
func (t *tempFile) commit() error {
	err := t.Sync()
	if cerr := t.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(t.Name(), t.path)
	}
	if err != nil {
		os.Remove(t.Name())
		return fmt.Errorf("write %s: %w", t.path, err)
	}
	return nil
}

// discard closes and removes the temporary file.
func (t *tempFile) discard() {
	t.Close()
	os.Remove(t.Name())
}

// Atomic writes path by calling write on a temporary file beside it, then
// syncing and renaming it into place. On any error the temporary file is
// removed and path is left as it was.
func Atomic(path string, write func(f *os.File) error) error {
	t, err := createTemp(path)
	if err != nil {
		return err
	}
	if err := write(t.File); err != nil {
		t.discard()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return t.commit()
}

// WriteParquet writes rows to a zstd-compressed Parquet file whose schema is
// T's (parquet struct tags).
func WriteParquet[T any](path string, rows []T) error {
	return StreamParquet(path, func(write func([]T) error) error { return write(rows) })
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
// batch, to write; the file appears only when produce returns nil, whose
// error is returned as is. options are NewParquetWriter's.
func StreamParquet[T any](path string, produce func(write func(rows []T) error) error, options ...parquet.WriterOption) error {
	w, err := NewParquetWriter[T](path, options...)
	if err != nil {
		return err
	}
	return stream[T](w, produce)
}

// rowWriter is a report file being written.
type rowWriter[T any] interface {
	Write(rows []T) error
	Close() error
	Abort()
}

// stream hands w's Write to produce, then closes w, or removes it when
// produce fails.
func stream[T any](w rowWriter[T], produce func(write func(rows []T) error) error) error {
	if err := produce(w.Write); err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}

// ParquetWriter writes a zstd-compressed Parquet file of T's schema under
// a temporary name; Close renames it into place. It buffers at most
// rowGroupRows rows. A ParquetWriter is not safe for concurrent use.
type ParquetWriter[T any] struct {
	t *tempFile
	w *parquet.GenericWriter[T]
}

// rowGroupRows bounds the rows a writer buffers before it writes a row
// group, and so the memory it holds.
const rowGroupRows = 1 << 17

// NewParquetWriter starts the file at path, with options added to the
// defaults (such as HuffmanOnly).
//
// The minimum and maximum values of every column go into the file's page
// index, page by page, and into its metadata, row group by row group,
// where readers look for them to skip data; not into the page headers
// too, an older copy that would cost as much again to compute. Every
// column has them: the writer cannot leave a column out of the page
// index, and would record bounds there that its values lie outside of.
func NewParquetWriter[T any](path string, options ...parquet.WriterOption) (*ParquetWriter[T], error) {
	t, err := createTemp(path)
	if err != nil {
		return nil, err
	}
	return &ParquetWriter[T]{t: t, w: parquet.NewGenericWriter[T](t.File, writerOptions(options)...)}, nil
}

// writerOptions returns the options of every report file followed by
// options.
func writerOptions(options []parquet.WriterOption) []parquet.WriterOption {
	return append([]parquet.WriterOption{parquet.Compression(&parquet.Zstd), parquet.MaxRowsPerRowGroup(rowGroupRows),
		parquet.DataPageStatistics(false)}, options...)
}

// HuffmanOnly compresses the named top-level columns of T's schema by
// Huffman coding alone (the GZIP codec at its Huffman-only level) instead
// of zstd. It suits columns of random values, such as event ids: no
// compressor finds repeats in them, so zstd saves only what the coding of
// their characters saves, a few percent more than Huffman coding alone,
// at several times its cost. Every Parquet reader reads GZIP pages.
func HuffmanOnly[T any](columns ...string) parquet.WriterOption {
	schema := parquet.SchemaOf(new(T))
	fields := slices.Clone(schema.Fields())
	for i, f := range fields {
		if slices.Contains(columns, f.Name()) {
			fields[i] = codecField{Field: f, codec: &gzip.Codec{Level: gzip.HuffmanOnly}}
		}
	}
	return parquet.NewSchema(schema.Name(), fieldsNode{Node: schema, fields: fields})
}

// codecField is a field compressed by a codec of its own.
type codecField struct {
	parquet.Field
	codec compress.Codec
}

func (f codecField) Compression() compress.Codec { return f.codec }

// fieldsNode is a group node with some of its fields replaced.
type fieldsNode struct {
	parquet.Node
	fields []parquet.Field
}

func (n fieldsNode) Fields() []parquet.Field { return n.fields }

// Write appends rows.
func (w *ParquetWriter[T]) Write(rows []T) error {
	if _, err := w.w.Write(rows); err != nil {
		return fmt.Errorf("write %s: %w", w.t.path, err)
	}
	return nil
}

// Close finishes the file and renames it into place; on error the
// temporary file is removed.
func (w *ParquetWriter[T]) Close() error {
	if err := w.w.Close(); err != nil {
		w.t.discard()
		return fmt.Errorf("write %s: %w", w.t.path, err)
	}
	return w.t.commit()
}

// Abort removes the temporary file.
func (w *ParquetWriter[T]) Abort() { w.t.discard() }

// DayParts writes the rows of one producer into one Parquet file per day:
// dir/day=YYYY-MM-DD/NAME.parquet, a layout DuckDB, pyarrow and Spark read
// as a table partitioned by day. Each file is written under a temporary
// name and renamed by Close. A DayParts is not safe for concurrent use;
// give each producer its own name.
type DayParts[T any] struct {
	dir, name string
	options   []parquet.WriterOption
	open      map[string]*ParquetWriter[T]
	order     []string
	closed    []string // the files Close put in place
}

// NewDayParts returns a writer of dir/day=*/name.parquet files, each
// written with options (see NewParquetWriter).
func NewDayParts[T any](dir, name string, options ...parquet.WriterOption) *DayParts[T] {
	return &DayParts[T]{dir: dir, name: name, options: options, open: map[string]*ParquetWriter[T]{}}
}

// Write appends rows to the file of day (YYYY-MM-DD).
func (d *DayParts[T]) Write(day string, rows []T) error {
	w := d.open[day]
	if w == nil {
		var err error
		if w, err = NewParquetWriter[T](filepath.Join(d.dir, "day="+day, d.name+".parquet"), d.options...); err != nil {
			return err
		}
		d.open[day] = w
		d.order = append(d.order, day)
	}
	return w.Write(rows)
}

// Close finishes every file and renames it into place. After an error the
// remaining files are removed.
func (d *DayParts[T]) Close() error {
	var first error
	for _, day := range d.order {
		w := d.open[day]
		if first != nil {
			w.Abort()
			continue
		}
		if first = w.Close(); first == nil {
			d.closed = append(d.closed, w.t.path)
		}
	}
	d.open, d.order = map[string]*ParquetWriter[T]{}, nil
	return first
}

// Remove deletes the files Close put in place, and their day folders when
// that leaves them empty, so that the producer can write its rows anew.
func (d *DayParts[T]) Remove() error {
	for _, path := range d.closed {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		os.Remove(filepath.Dir(path)) // fails, as it should, unless empty
	}
	d.closed = nil
	return nil
}

// Abort removes every file not yet closed.
func (d *DayParts[T]) Abort() {
	for _, w := range d.open {
		w.Abort()
	}
	d.open, d.order = map[string]*ParquetWriter[T]{}, nil
}
