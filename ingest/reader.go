package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	gojson "github.com/goccy/go-json"
	"github.com/klauspost/compress/gzip"
)

// Format is the layout of a log file.
type Format uint8

// Log file formats.
const (
	// FormatDelivery is a CloudTrail delivery file: {"Records": [event, ...]}.
	FormatDelivery Format = iota + 1
	// FormatLookupEvents is the output of aws cloudtrail lookup-events:
	// {"Events": [{"CloudTrailEvent": "<event as a JSON string>", ...}]}.
	FormatLookupEvents
	// FormatLines is one JSON object per line: an event (CloudTrail Lake
	// exports), or a CloudWatch Logs wrapper whose "message" holds the event,
	// optionally after a timestamp (CloudWatch Logs exports to S3).
	FormatLines
)

func (f Format) String() string {
	switch f {
	case FormatDelivery:
		return "delivery"
	case FormatLookupEvents:
		return "lookup-events"
	case FormatLines:
		return "json-lines"
	}
	return "unknown"
}

// Categories of records that are read but not evaluated. Reports show a
// count for each.
var (
	// ErrUnparseable marks a record that is not valid CloudTrail JSON (wrong
	// types, bad times, a line that is not JSON).
	ErrUnparseable = errors.New("unparseable record")
	// ErrNotCloudTrail marks a JSON object that is not a CloudTrail event.
	ErrNotCloudTrail = errors.New("not a CloudTrail event")
)

// RecordError is a fault in one record; the reader goes on with the next.
type RecordError struct {
	File   string
	Index  int   // the record's position in the file, from 0
	Offset int64 // byte offset of the record in the (decompressed) file
	Kind   error // ErrUnparseable or ErrNotCloudTrail
	Err    error
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("%s: record %d at byte %d: %v: %v", e.File, e.Index, e.Offset, e.Kind, e.Err)
}

// Unwrap returns the category, so errors.Is(err, ErrUnparseable) works.
func (e *RecordError) Unwrap() []error { return []error{e.Kind, e.Err} }

// FileError is a fault that ends the reading of a file: corrupt compression,
// truncated or malformed JSON structure. Records returned before it stand.
type FileError struct {
	File   string
	Offset int64 // byte offset in the decompressed stream
	Index  int   // records read before the fault
	Err    error
}

func (e *FileError) Error() string {
	return fmt.Sprintf("%s: at byte %d after %d records: %v", e.File, e.Offset, e.Index, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// MaxRecordSize bounds one record (or one line) in bytes.
const MaxRecordSize = 64 << 20

// Reader reads the records of one log file, decompressing gzip when the
// data starts with the gzip magic number, whatever the file's name. A
// delivery file up to 16 MiB decompressed is read whole and its records
// decoded at once; larger files, and every other format, stream record by
// record.
type Reader struct {
	name   string
	format Format
	src    io.Closer
	raw    *bufio.Reader // the compressed (or plain) data
	zr     *gzip.Reader  // kept for the next file once created
	count  countingReader
	br     *bufio.Reader
	scan   *scanner // delivery and lookup-events files: stream or &mem
	stream *scanner // the scanner over br, kept for the next file
	index  int
	inArr  bool
	done   bool
	keep   func(raw []byte) bool
	borrow bool // see SetBorrowStrings

	// A delivery file small enough is read whole into data and its
	// records decoded in one call (see readWhole).
	started bool
	data    []byte // kept for the next file
	mem     scanner
	batch   []Record // the file's records; the array is kept for the next file
	batched bool
	// lent is set when the records of batch borrowed their arrays (see
	// ReuseRecords), which the next file may then reuse: the arrays of
	// records that own them are theirs.
	lent bool
}

// maxKeptBatch bounds the records a Reader keeps room for from file to
// file (a delivery file of 1,500 records takes 0.7 MB).
const maxKeptBatch = 8192

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// NewReader starts reading r, whose name is used in messages. It reads the
// head of the data to tell compression and format apart.
func NewReader(r io.Reader, name string) (*Reader, error) {
	rd := &Reader{}
	if err := rd.Reset(r, name); err != nil {
		return nil, err
	}
	return rd, nil
}

// maxKeptScanBuffer bounds the scan buffer a Reader keeps for the next
// file after a large record grew it.
const maxKeptScanBuffer = 4 * scanChunk

// Reset makes rd read r as NewReader does, reusing its buffers and
// decompressor: a reader per goroutine serves every file it reads.
func (rd *Reader) Reset(r io.Reader, name string) error {
	batch := rd.batch[:0]
	if cap(batch) > maxKeptBatch {
		batch = nil
	}
	*rd = Reader{raw: rd.raw, zr: rd.zr, br: rd.br, stream: rd.stream, data: rd.data[:0], batch: batch, lent: rd.lent && batch != nil, name: name}
	if rd.raw == nil {
		rd.raw = bufio.NewReaderSize(r, 64<<10)
	} else {
		rd.raw.Reset(r)
	}
	head, _ := rd.raw.Peek(2)
	var src io.Reader = rd.raw
	if len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		var err error
		if rd.zr == nil {
			rd.zr, err = gzip.NewReader(rd.raw)
		} else {
			err = rd.zr.Reset(rd.raw)
		}
		if err != nil {
			rd.zr = nil
			return &FileError{File: name, Err: fmt.Errorf("gzip: %w", err)}
		}
		rd.src = rd.zr
		src = rd.zr
	}
	rd.count = countingReader{r: src}
	if rd.br == nil {
		rd.br = bufio.NewReaderSize(&rd.count, 256<<10)
	} else {
		rd.br.Reset(&rd.count)
	}
	f, err := detectFormat(rd.br)
	if err != nil {
		return &FileError{File: name, Err: err}
	}
	rd.format = f
	switch {
	case f == FormatLines:
	case rd.stream == nil || len(rd.stream.buf) > maxKeptScanBuffer:
		rd.stream = newScanner(rd.br, MaxRecordSize)
	default:
		*rd.stream = scanner{r: rd.br, buf: rd.stream.buf, max: MaxRecordSize}
	}
	rd.scan = rd.stream
	return nil
}

// Format returns the detected format.
func (r *Reader) Format() Format { return r.format }

// Offset returns how many decompressed bytes were consumed so far.
func (r *Reader) Offset() int64 {
	if r.format != FormatLines {
		return r.scan.offset()
	}
	return r.count.n - int64(r.br.Buffered())
}

// Close releases the decompressor. It does not close the underlying reader.
func (r *Reader) Close() error {
	if r.src != nil {
		return r.src.Close()
	}
	return nil
}

// errEmpty reports a file with no data.
var errEmpty = errors.New("empty file")

// detectFormat looks at the first key of the first object.
func detectFormat(br *bufio.Reader) (Format, error) {
	for n := 64; ; n *= 4 {
		head, err := br.Peek(n)
		trimmed := bytes.TrimLeft(head, " \t\r\n\ufeff")
		if len(head) == 0 {
			if err != nil && err != io.EOF {
				return 0, err
			}
			return 0, errEmpty
		}
		if len(trimmed) == 0 {
			// Only white space so far.
			switch {
			case err == io.EOF || n > 1<<20:
				return 0, errEmpty
			case err != nil:
				return 0, err
			}
			continue
		}
		if trimmed[0] != '{' {
			if isTimestampPrefix(trimmed) {
				return FormatLines, nil
			}
			return 0, fmt.Errorf("not JSON: starts with %q", firstBytes(trimmed))
		}
		key, ok := firstKey(trimmed)
		if ok {
			switch key {
			case "Records":
				return FormatDelivery, nil
			case "Events":
				return FormatLookupEvents, nil
			}
			return FormatLines, nil
		}
		if err != nil || n > 1<<20 {
			// The first key did not show within the data or 1 MiB: read as lines,
			// where each line will be reported on its own.
			return FormatLines, nil
		}
	}
}

func firstBytes(b []byte) []byte {
	if len(b) > 16 {
		return b[:16]
	}
	return b
}

// firstKey returns the first key of the JSON object that b starts with.
func firstKey(b []byte) (string, bool) {
	b = bytes.TrimLeft(b[1:], " \t\r\n")
	if len(b) == 0 || b[0] != '"' {
		return "", false
	}
	end := bytes.IndexByte(b[1:], '"')
	if end < 0 {
		return "", false
	}
	return string(b[1 : 1+end]), true
}

// isTimestampPrefix reports a line that starts with an ISO date, as in
// CloudWatch Logs exports ("2024-05-01T12:00:00.000Z {...}").
func isTimestampPrefix(b []byte) bool {
	return len(b) > 10 && b[4] == '-' && b[7] == '-' && b[0] >= '0' && b[0] <= '9'
}

// Next returns the next record, io.EOF at the end of the file, a
// *RecordError for a record to skip (call Next again), or a *FileError that
// ends the file. The record may be overwritten once the reader is reset
// for another file.
func (r *Reader) Next() (*Record, error) {
	r.Load()
	for {
		if r.done {
			return nil, io.EOF
		}
		var rec *Record
		var err error
		switch {
		case r.batched:
			rec, err = r.nextBatched()
		case r.format == FormatLines:
			rec, err = r.nextLine()
		default:
			rec, err = r.nextArrayItem()
		}
		if rec != nil || err != nil {
			return rec, err
		}
		// A record the filter passed over.
	}
}

// Load does what Next does first, unless done already: a delivery file up
// to 16 MiB is read whole, and its records decoded at once when they all
// decode. Calling it is optional. A reader loaded on one goroutine may be
// handed to another, which then reads its records with Next: the slow
// part of reading a file (inflating and decoding it) can so run ahead of
// the use of its records.
func (r *Reader) Load() {
	if r.started {
		return
	}
	r.started = true
	switch {
	case r.format != FormatDelivery:
	case r.keep == nil:
		r.readWhole()
	default:
		r.readFiltered()
	}
}

// SetFilter makes Next pass over, without decoding them, the records whose
// raw JSON keep rejects. A pass that needs only some records (the STS calls
// that issue sessions) saves the decoding of the rest. keep must accept
// any bytes that hold bytes it accepts, as a test for a substring does: a
// delivery file read whole whose bytes keep rejects is passed over at
// once, without cutting it into records, and so without reporting damage
// in it.
func (r *Reader) SetFilter(keep func(raw []byte) bool) { r.keep = keep }

// SetBorrowStrings makes Next decode records without copying their
// strings where it can: they may then point into the reader's buffers,
// and stay valid only until the reader's next Reset. Decoding is the same
// otherwise, and so is every record's outcome. A pass that copies what it
// keeps of the records beyond their file saves the copies of the rest.
//
// Strings are borrowed from a file read whole, from which the records of a
// delivery file up to 16 MiB are decoded, and from a record's own copy
// (lines, lookup-events items); records streamed from a larger file own
// their strings, since the stream's buffer moves on. The records of a
// file read whole also borrow the arrays of their resources, parameters
// and response elements, which the reader keeps for the next file.
func (r *Reader) SetBorrowStrings() { r.borrow = true }

// Scrub overwrites every buffer the reader keeps for the next file, those
// records borrow their strings and arrays from (see SetBorrowStrings)
// among them, with 0xFF bytes, which no valid UTF-8 text holds. Tests of
// code that borrows call it after each file: a string kept past its file
// then reads as garbage instead of as the next file's text.
func (r *Reader) Scrub() {
	fill := func(b []byte) {
		b = b[:cap(b)]
		for i := range b {
			b[i] = 0xFF
		}
	}
	fill(r.data)
	if r.stream != nil {
		fill(r.stream.buf)
	}
	if !r.lent {
		return // the records' arrays are theirs
	}
	batch := r.batch[:cap(r.batch)]
	for i := range batch {
		rec := &batch[i]
		fill(rec.RequestParameters)
		fill(rec.ResponseElements)
		res := rec.Resources[:cap(rec.Resources)]
		for j := range res {
			res[j] = Resource{ARN: "\xff", AccountID: "\xff", Type: "\xff"}
		}
	}
}

// unmarshal decodes data into v, borrowing strings when r does and data
// stays unchanged until the next Reset (stable).
func (r *Reader) unmarshal(data []byte, v any, stable bool) error {
	if r.borrow && stable {
		return gojson.UnmarshalWithOption(data, v, gojson.DecodeNoCopyString())
	}
	return gojson.Unmarshal(data, v)
}

func (r *Reader) fileError(err error) error {
	r.done = true
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return &FileError{File: r.name, Offset: r.Offset(), Index: r.index, Err: err}
}

// nextArrayItem reads the next element of the Records or Events array.
func (r *Reader) nextArrayItem() (*Record, error) {
	if !r.inArr {
		if err := r.enterArray(); err != nil {
			return nil, r.fileError(err)
		}
		r.inArr = true
		c, err := r.scan.peek()
		if err != nil {
			return nil, r.fileError(err)
		}
		if c == ']' {
			r.scan.pos++
			return nil, r.finish()
		}
	} else {
		c, err := r.scan.expect(",]", "a comma or the end of the array")
		if err != nil {
			return nil, r.fileError(err)
		}
		if c == ']' {
			return nil, r.finish()
		}
	}
	raw, offset, err := r.scan.value()
	index := r.index
	if errors.Is(err, errTooLarge) {
		r.index++
		return nil, &RecordError{File: r.name, Index: index, Offset: offset, Kind: ErrUnparseable, Err: err}
	}
	if err != nil {
		return nil, r.fileError(err)
	}
	r.index++
	if r.format == FormatLookupEvents {
		var wrap struct {
			CloudTrailEvent string `json:"CloudTrailEvent"`
		}
		if err := gojson.Unmarshal(raw, &wrap); err != nil || wrap.CloudTrailEvent == "" {
			if err == nil {
				err = errors.New("no CloudTrailEvent field")
			}
			return nil, &RecordError{File: r.name, Index: index, Offset: offset, Kind: ErrUnparseable, Err: err}
		}
		raw = []byte(wrap.CloudTrailEvent)
		return r.decodeRecord(raw, index, offset, true)
	}
	// Records cut from a file in memory keep their bytes until the next
	// file; those of a stream do not.
	return r.decodeRecord(raw, index, offset, r.scan == &r.mem)
}

// maxWholeFile bounds the decompressed size of a delivery file read whole;
// larger files are read record by record as they stream in.
const maxWholeFile = 16 << 20

// readWhole reads a delivery file whole and decodes its records array in
// one call, which is faster than cutting it into records and decoding them
// one by one. It takes that way only when the outcome is the same: the
// file ends with the array and the document's closing brace, every record
// decodes and is a CloudTrail event. Otherwise, and for a file over
// maxWholeFile or one that cannot be read to its end, the reader goes on
// record by record over the same bytes, which reports each fault where it
// lies.
func (r *Reader) readWhole() {
	data, ok := r.readAll()
	if !ok {
		return
	}
	inMemory := r.mem
	start := -1
	if r.enterArray() == nil {
		start = r.mem.pos - 1
	}
	end := closingBracket(data)
	// The decoder decodes into the array's elements, past the slice's
	// length too, without zeroing them first.
	recs := r.batch[:0]
	if r.borrow && r.lent {
		ReuseRecords(recs[:cap(recs)])
	} else {
		clear(recs[:cap(recs)])
	}
	r.lent = r.borrow
	ok = start >= 0 && end > start && r.unmarshal(data[start:end+1], &recs, true) == nil
	for i := 0; ok && i < len(recs); i++ {
		ok = recs[i].EventName != "" && recs[i].EventSource != ""
		recs[i].dropEmpty()
	}
	r.batch = recs[:0]
	if !ok {
		r.mem = inMemory // from the start, record by record
		return
	}
	r.mem.pos = end + 1
	r.inArr, r.batched, r.batch = true, true, recs
}

// ReuseRecords empties records to decode into again, as clear does, but
// keeps the arrays of their resources, parameters and response elements,
// which goccy/go-json's decoder then fills before it allocates any:
// records that borrow their strings until the next file may borrow these
// arrays too. The resources are zeroed, since the decoder decodes into
// them without zeroing them.
func ReuseRecords(recs []Record) {
	for i := range recs {
		rec := &recs[i]
		res, req, resp := rec.Resources[:0], rec.RequestParameters[:0], rec.ResponseElements[:0]
		clear(res[:cap(res)])
		*rec = Record{Resources: res, RequestParameters: req, ResponseElements: resp}
	}
}

// dropEmpty sets the record's empty arrays to nil: a record decoded into
// arrays kept by ReuseRecords then equals one decoded anew. A raw value is
// never empty when present; a record's resources are nil both when it
// lists none and when it has no resources field.
func (rec *Record) dropEmpty() {
	if len(rec.Resources) == 0 {
		rec.Resources = nil
	}
	if len(rec.RequestParameters) == 0 {
		rec.RequestParameters = nil
	}
	if len(rec.ResponseElements) == 0 {
		rec.ResponseElements = nil
	}
}

// readAll reads a delivery file whole, when it fits in maxWholeFile and
// can be read to its end, and makes r cut it in memory. Otherwise it
// returns false and r goes on streaming over the same bytes.
func (r *Reader) readAll() ([]byte, bool) {
	data, complete, err := readUpTo(r.br, r.data, maxWholeFile)
	r.data = data[:0] // growth stops near maxWholeFile
	if !complete {
		var rest io.Reader = r.br
		if err != nil {
			rest = errorReader{err}
		}
		*r.stream = scanner{r: io.MultiReader(bytes.NewReader(data), rest), buf: r.stream.buf, max: MaxRecordSize}
		return nil, false
	}
	// A scanner over the data in memory: fill reads nothing more.
	r.mem = scanner{buf: data, end: len(data), err: io.EOF, max: MaxRecordSize}
	r.scan = &r.mem
	return data, true
}

// readFiltered reads a delivery file whole for a filtered pass, which
// then cuts it in memory; when the filter rejects all of its bytes, no
// record could pass and the file ends at once.
func (r *Reader) readFiltered() {
	if data, ok := r.readAll(); ok && !r.keep(data) {
		r.done = true
	}
}

// nextBatched returns the next record decoded by readWhole, then reads the
// end of the document.
func (r *Reader) nextBatched() (*Record, error) {
	if r.index == len(r.batch) {
		return nil, r.finish()
	}
	rec := &r.batch[r.index]
	r.index++
	return rec, nil
}

// readUpTo appends what r yields to buf[:0], up to limit bytes. complete
// reports that r ended (io.EOF) within the bound; err is the read error
// that ended it otherwise.
func readUpTo(r io.Reader, buf []byte, limit int) (data []byte, complete bool, err error) {
	data = buf[:0]
	for {
		if len(data) >= limit {
			return data, false, nil
		}
		if len(data) == cap(data) {
			data = slices.Grow(data, min(max(2*cap(data), 512<<10), limit)-len(data))
		}
		n, err := r.Read(data[len(data):min(cap(data), limit)])
		data = data[:len(data)+n]
		switch {
		case err == io.EOF:
			return data, true, nil
		case err != nil:
			return data, false, err
		}
	}
}

// errorReader returns its error on every read.
type errorReader struct{ err error }

func (e errorReader) Read([]byte) (int, error) { return 0, e.err }

// closingBracket returns the index of the records array's closing bracket
// when data ends with it, the document's closing brace and white space;
// otherwise -1.
func closingBracket(data []byte) int {
	i := len(data) - 1
	skip := func() {
		for i >= 0 && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n') {
			i--
		}
	}
	skip()
	if i < 0 || data[i] != '}' {
		return -1
	}
	i--
	skip()
	if i < 0 || data[i] != ']' {
		return -1
	}
	return i
}

// finish reads what follows the records array's closing bracket: the
// document's other keys, its closing brace and nothing but white space to
// the end of the data.
func (r *Reader) finish() error {
	for {
		c, err := r.scan.expect(",}", "a comma or the end of the document")
		if err != nil {
			return r.fileError(err)
		}
		if c == '}' {
			break
		}
		if _, err := r.scan.key(); err != nil {
			return r.fileError(err)
		}
		if _, _, err := r.scan.value(); err != nil {
			return r.fileError(err)
		}
	}
	if err := r.scan.drain(); err != nil {
		return r.fileError(err)
	}
	r.done = true
	return io.EOF
}

// enterArray consumes the document up to the opening bracket of the
// records array.
func (r *Reader) enterArray() error {
	if _, err := r.scan.expect("{", "an object"); err != nil {
		return err
	}
	want := "Records"
	if r.format == FormatLookupEvents {
		want = "Events"
	}
	for first := true; ; first = false {
		if !first {
			c, err := r.scan.expect(",}", "a comma or the end of the document")
			if err != nil {
				return err
			}
			if c == '}' {
				return fmt.Errorf("no %s array", want)
			}
		}
		key, err := r.scan.key()
		if err != nil {
			return err
		}
		if string(key) == want {
			if _, err := r.scan.expect("[", "an array"); err != nil {
				return fmt.Errorf("%s is not an array: %w", want, err)
			}
			return nil
		}
		if _, _, err := r.scan.value(); err != nil {
			return err
		}
	}
}

// nextLine reads the next non-empty line as one event.
func (r *Reader) nextLine() (*Record, error) {
	for {
		offset := r.Offset()
		line, err := r.readLine()
		if err == io.EOF && len(line) == 0 {
			r.done = true
			return nil, io.EOF
		}
		if err != nil && err != io.EOF {
			return nil, r.fileError(err)
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			if err == io.EOF {
				r.done = true
				return nil, io.EOF
			}
			continue
		}
		index := r.index
		r.index++
		if line[0] != '{' {
			if i := bytes.IndexByte(line, '{'); i > 0 && isTimestampPrefix(line) {
				line = line[i:]
			} else {
				return nil, &RecordError{File: r.name, Index: index, Offset: offset, Kind: ErrUnparseable, Err: errors.New("line is not a JSON object")}
			}
		}
		// A CloudWatch Logs wrapper carries the event as a string in "message".
		if key, _ := firstKey(line); key != "eventVersion" {
			var wrap struct {
				Message *string `json:"message"`
			}
			if json.Unmarshal(line, &wrap) == nil && wrap.Message != nil {
				line = []byte(*wrap.Message)
			}
		}
		return r.decodeRecord(line, index, offset, true) // each line is a copy
	}
}

// readLine returns the next line, failing on lines over MaxRecordSize.
func (r *Reader) readLine() ([]byte, error) {
	var buf []byte
	for {
		chunk, err := r.br.ReadSlice('\n')
		if len(buf)+len(chunk) > MaxRecordSize {
			return nil, fmt.Errorf("line longer than %d bytes", MaxRecordSize)
		}
		if err == bufio.ErrBufferFull {
			buf = append(buf, chunk...)
			continue
		}
		if buf == nil {
			// The slice is only valid until the next read: copy it.
			buf = append([]byte(nil), chunk...)
		} else {
			buf = append(buf, chunk...)
		}
		return buf, err
	}
}

// decodeRecord decodes one event; stable tells that raw stays unchanged
// until the next Reset.
func (r *Reader) decodeRecord(raw []byte, index int, offset int64, stable bool) (*Record, error) {
	if r.keep != nil && !r.keep(raw) {
		return nil, nil
	}
	rec := &Record{}
	err := r.unmarshal(raw, rec, stable)
	rec.dropEmpty()
	if err != nil {
		return nil, &RecordError{File: r.name, Index: index, Offset: offset, Kind: ErrUnparseable, Err: err}
	}
	if rec.EventName == "" || rec.EventSource == "" {
		return nil, &RecordError{File: r.name, Index: index, Offset: offset, Kind: ErrNotCloudTrail, Err: errors.New("no eventSource or eventName")}
	}
	return rec, nil
}
