package output

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/parquet-go/parquet-go"
)

// ParallelParquetWriter writes the same file as a ParquetWriter, row group
// for row group, but encodes its row groups on several goroutines at once:
// each group of rowGroupRows rows is encoded and compressed into a Parquet
// file in memory, and the file's column chunks are then copied verbatim, in
// order, into the output (parquet-go copies the compressed pages, their
// statistics and page index without decoding them). A report of millions
// of rows costs the time of one group per goroutine rather than of all of
// them in turn.
//
// Encoding apart costs the copy of each row and the memory of the rows
// waiting, which pays off over many groups: the first directGroups groups
// are written straight to the file, as a ParquetWriter writes them, and
// only those after them are encoded apart. It encodes on at most
// maxEncoders goroutines, each with its own group of rows, and fills one
// group more. Rows wait in slabs of slabRows, made as they are needed and
// reused: small blocks that reuse the memory the heap has free, where a
// group in one block would take fresh pages from the system. Encoders too
// are made as they are needed, so a file written straight makes none.
// Write blocks while every slab is in use. A ParallelParquetWriter is not
// safe for concurrent use.
type ParallelParquetWriter[T any] struct {
	out  *ParquetWriter[T]
	rows int // rows per group

	direct   int                   // groups still to write straight to the file
	group    [][]T                 // the slabs of the group being filled
	filled   int                   // rows in group, or in the group written straight
	slabs    bounded[[]T]          // slabs of rows
	encoders bounded[*encoder[T]]  // one per group being encoded
	queued   chan *encodedGroup[T] // in file order, to the copier
	done     chan struct{}         // closed when the copier has returned
	mu       sync.Mutex
	err      error // the first error of an encoder or the copier
	closed   bool
}

// slabRows is the rows of a slab: the rows a report's producer hands over
// at a time.
const slabRows = 4096

// directGroups is the groups a ParallelParquetWriter writes straight to
// the file before it encodes groups apart. With none, a report of 660 k
// rows took 50 ms longer to write on 2 CPUs than with one writer; with two,
// it takes as long, and a report of 6.9 M rows 8 % less than with one.
const directGroups = 2

// encoder encodes groups of rows as Parquet files in memory, one at a
// time, reusing its writer and buffer.
type encoder[T any] struct {
	pw  *parquet.GenericWriter[T]
	buf bytes.Buffer
}

// encodedGroup is one group of rows being encoded, or encoded, by enc.
type encodedGroup[T any] struct {
	ready chan struct{} // closed once enc.buf or err is set
	enc   *encoder[T]
	err   error
}

// maxEncoders bounds the goroutines a ParallelParquetWriter encodes on,
// and so its memory (a group of 2^17 rows of a dozen strings is about
// 20 MB): a report's rows are made about five times faster than they are
// encoded, so more encoders would mostly wait for rows.
const maxEncoders = 4

// NewParallelParquetWriter starts the file at path, encoding on up to
// workers goroutines (at least 1, at most maxEncoders), with options added
// to the defaults as NewParquetWriter adds them.
func NewParallelParquetWriter[T any](path string, workers int, options ...parquet.WriterOption) (*ParallelParquetWriter[T], error) {
	return newParallelParquetWriter[T](path, workers, rowGroupRows, slabRows, directGroups, options...)
}

func newParallelParquetWriter[T any](path string, workers, rows, slab, direct int, options ...parquet.WriterOption) (*ParallelParquetWriter[T], error) {
	workers = min(max(workers, 1), maxEncoders)
	out, err := NewParquetWriter[T](path, options...)
	if err != nil {
		return nil, err
	}
	perGroup := (rows + slab - 1) / slab
	w := &ParallelParquetWriter[T]{
		out: out, rows: rows, direct: direct,
		slabs: bounded[[]T]{free: make(chan []T, (workers+1)*perGroup), make: func() []T { return make([]T, 0, slab) }},
		encoders: bounded[*encoder[T]]{free: make(chan *encoder[T], workers), make: func() *encoder[T] {
			e := &encoder[T]{}
			e.pw = parquet.NewGenericWriter[T](&e.buf, writerOptions(options)...)
			return e
		}},
		queued: make(chan *encodedGroup[T], workers),
		done:   make(chan struct{}),
	}
	go w.copyGroups()
	return w, nil
}

// Write appends rows.
func (w *ParallelParquetWriter[T]) Write(rows []T) error {
	if w.closed {
		return errors.New("write to a closed parquet writer")
	}
	for len(rows) > 0 {
		if err := w.failure(); err != nil {
			return err
		}
		if w.direct > 0 {
			// The copier writes nothing before the first group is
			// submitted, after the last one written here.
			n := min(len(rows), w.rows-w.filled)
			if err := w.out.Write(rows[:n]); err != nil {
				return err
			}
			rows = rows[n:]
			if w.filled += n; w.filled == w.rows {
				w.filled = 0
				w.direct--
			}
			continue
		}
		last := len(w.group) - 1
		if last < 0 || len(w.group[last]) == cap(w.group[last]) {
			w.group = append(w.group, w.slabs.get())
			last++
		}
		slab := w.group[last]
		n := min(len(rows), cap(slab)-len(slab), w.rows-w.filled)
		w.group[last] = append(slab, rows[:n]...)
		rows = rows[n:]
		if w.filled += n; w.filled == w.rows {
			w.submit()
		}
	}
	return w.failure()
}

// bounded hands out up to cap(free) values, each made when first needed
// and reused once put back. get is for one goroutine; put for any.
type bounded[X any] struct {
	free chan X
	made int
	make func() X
}

// get returns a value put back, a new one while fewer than cap(free) were
// made, or else the next one put back.
func (b *bounded[X]) get() X {
	select {
	case x := <-b.free:
		return x
	default:
	}
	if b.made < cap(b.free) {
		b.made++
		return b.make()
	}
	return <-b.free
}

func (b *bounded[X]) put(x X) { b.free <- x }

// submit starts encoding the group being filled, on an idle encoder, and
// queues it for the copier.
func (w *ParallelParquetWriter[T]) submit() {
	g := &encodedGroup[T]{ready: make(chan struct{}), enc: w.encoders.get()}
	group := w.group
	w.group, w.filled = nil, 0
	go func() {
		defer close(g.ready)
		g.err = g.enc.encode(group)
		for _, s := range group {
			w.slabs.put(s[:0]) // the next group overwrites the rows
		}
	}()
	w.queued <- g
}

// encode writes the rows of the slabs as a Parquet file into e.buf.
func (e *encoder[T]) encode(slabs [][]T) error {
	e.buf.Reset()
	e.pw.Reset(&e.buf)
	for _, rows := range slabs {
		if _, err := e.pw.Write(rows); err != nil {
			return err
		}
	}
	return e.pw.Close()
}

// copyGroups copies the encoded groups into the output in the order they
// were queued. After an error it drains the queue without copying, so
// that no encoder or writer waits for it.
func (w *ParallelParquetWriter[T]) copyGroups() {
	defer close(w.done)
	for g := range w.queued {
		<-g.ready
		if w.failure() != nil {
			w.encoders.put(g.enc)
			continue
		}
		err := g.err
		if err == nil {
			err = w.copyGroup(g.enc.buf.Bytes())
		}
		w.encoders.put(g.enc)
		if err != nil {
			w.fail(fmt.Errorf("write %s: %w", w.out.t.path, err))
		}
	}
}

// copyGroup copies the row groups of an encoded file into the output.
func (w *ParallelParquetWriter[T]) copyGroup(data []byte) error {
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	for _, rg := range f.RowGroups() {
		if _, err := w.out.w.WriteRowGroup(rg); err != nil {
			return err
		}
	}
	return nil
}

func (w *ParallelParquetWriter[T]) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

func (w *ParallelParquetWriter[T]) failure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// finish encodes the last group, waits for the copier and returns the
// first error.
func (w *ParallelParquetWriter[T]) finish() error {
	if w.closed {
		return errors.New("parquet writer already closed")
	}
	w.closed = true
	if w.direct == 0 && w.filled > 0 {
		w.submit()
	}
	close(w.queued)
	<-w.done
	return w.failure()
}

// Close finishes the file and renames it into place; on error the
// temporary file is removed.
func (w *ParallelParquetWriter[T]) Close() error {
	if err := w.finish(); err != nil {
		w.out.Abort()
		return err
	}
	return w.out.Close()
}

// Abort waits for the groups under way and removes the temporary file.
func (w *ParallelParquetWriter[T]) Abort() {
	if !w.closed {
		w.fail(errors.New("aborted"))
		w.finish()
	}
	w.out.Abort()
}

// StreamParallelParquet is StreamParquet with the row groups encoded on up
// to workers goroutines (see ParallelParquetWriter).
func StreamParallelParquet[T any](path string, workers int, produce func(write func(rows []T) error) error, options ...parquet.WriterOption) error {
	w, err := NewParallelParquetWriter[T](path, workers, options...)
	if err != nil {
		return err
	}
	return stream[T](w, produce)
}
