package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// scanner finds the extent of JSON values in a stream without decoding
// them: it tracks strings, escapes and nesting, which is all it takes to
// cut a delivery file into records. Whether a record is valid JSON is left
// to the decoder that reads it; the structure around the records (the
// enclosing object, the array's brackets and commas) is checked here.
type scanner struct {
	r    io.Reader
	buf  []byte
	pos  int   // next unread byte in buf
	end  int   // end of the data in buf
	base int64 // stream offset of buf[0]
	err  error // the error that ended reading, once there is no more data
	max  int   // largest value kept whole
}

const scanChunk = 256 << 10

func newScanner(r io.Reader, max int) *scanner {
	return &scanner{r: r, buf: make([]byte, scanChunk), max: max}
}

// offset is the stream offset of the next unread byte.
func (s *scanner) offset() int64 { return s.base + int64(s.pos) }

// fill reads more data, keeping buf[keep:end] (keep <= pos), and returns
// how far the kept bytes moved towards the start of buf. It returns false,
// with s.err set, when no more data comes.
func (s *scanner) fill(keep int) (shift int, ok bool) {
	if s.err != nil {
		return 0, false
	}
	if keep > 0 {
		copy(s.buf, s.buf[keep:s.end])
		s.base += int64(keep)
		s.pos -= keep
		s.end -= keep
		shift = keep
	}
	if s.end == len(s.buf) {
		grown := make([]byte, 2*len(s.buf))
		copy(grown, s.buf[:s.end])
		s.buf = grown
	}
	for {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		if err != nil {
			s.err = err
		}
		if n > 0 {
			return shift, true
		}
		if err != nil {
			return shift, false
		}
	}
}

// unexpected turns the end of data inside a structure into an error.
func (s *scanner) unexpected() error {
	if s.err == nil || s.err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return s.err
}

// peek skips white space and returns the next byte without consuming it.
// At the end of data it returns io.EOF (or the read error).
func (s *scanner) peek() (byte, error) {
	for {
		for s.pos < s.end {
			switch c := s.buf[s.pos]; c {
			case ' ', '\t', '\r', '\n':
				s.pos++
			default:
				return c, nil
			}
		}
		if _, ok := s.fill(s.pos); !ok {
			if s.err == io.EOF {
				return 0, io.EOF
			}
			return 0, s.err
		}
	}
}

// expect consumes the next non-space byte, which must be one of want.
func (s *scanner) expect(want string, what string) (byte, error) {
	c, err := s.peek()
	if err == io.EOF {
		return 0, io.ErrUnexpectedEOF
	}
	if err != nil {
		return 0, err
	}
	if bytes.IndexByte([]byte(want), c) < 0 {
		return 0, fmt.Errorf("invalid character %q, expected %s", c, what)
	}
	s.pos++
	return c, nil
}

// errTooLarge reports a value over the scanner's size bound.
var errTooLarge = errors.New("value too large")

// value scans the next value, after white space. It returns the value's
// bytes, valid until the next call, and its stream offset. A value longer
// than the size bound is consumed and reported with errTooLarge, so that
// the caller can go on with the next one.
func (s *scanner) value() ([]byte, int64, error) {
	if _, err := s.peek(); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, s.offset(), err
	}
	start := s.pos
	startOffset := s.offset()
	switch c := s.buf[start]; c {
	case ',', ':', ']', '}':
		return nil, startOffset, fmt.Errorf("invalid character %q, expected a value", c)
	}
	var (
		i        = s.pos // next byte to look at
		depth    int
		inString bool
		escape   bool // the byte at i is escaped
		scalar   = s.buf[s.pos] != '{' && s.buf[s.pos] != '[' && s.buf[s.pos] != '"'
		dropped  bool // the value outgrew the bound and is being consumed
	)
	for {
		for i < s.end {
			if scalar {
				switch s.buf[i] {
				case ',', ']', '}', ' ', '\t', '\r', '\n':
					return s.finishValue(start, i, startOffset, dropped)
				}
				i++
				continue
			}
			if inString {
				if escape {
					escape = false
					i++
					continue
				}
				// A quote after an odd run of backslashes is escaped. The
				// run lies within seg: the bytes before i are settled, an
				// escape at the end of the data read so far included.
				seg := s.buf[i:s.end]
				q := bytes.IndexByte(seg, '"')
				if q < 0 {
					escape = trailingBackslashes(seg)%2 == 1
					i = s.end
					break
				}
				i += q + 1
				if trailingBackslashes(seg[:q])%2 == 1 {
					continue
				}
				inString = false
				if depth == 0 {
					return s.finishValue(start, i, startOffset, dropped)
				}
				continue
			}
			switch s.buf[i] {
			case '"':
				inString = true
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return s.finishValue(start, i+1, startOffset, dropped)
				}
				if depth < 0 {
					return nil, s.base + int64(i), fmt.Errorf("invalid character %q", s.buf[i])
				}
			}
			i++
		}
		// The value goes on past the data read so far.
		keep := start
		if i-start > s.max {
			dropped = true
		}
		if dropped {
			keep = i
		}
		s.pos = i
		shift, ok := s.fill(keep)
		i -= shift
		start -= shift
		if dropped {
			start = i
		}
		if !ok {
			if scalar && s.err == io.EOF {
				return s.finishValue(start, i, startOffset, dropped)
			}
			return nil, s.offset(), s.unexpected()
		}
	}
}

// trailingBackslashes counts the backslashes b ends with.
func trailingBackslashes(b []byte) int {
	n := 0
	for n < len(b) && b[len(b)-1-n] == '\\' {
		n++
	}
	return n
}

func (s *scanner) finishValue(start, end int, offset int64, dropped bool) ([]byte, int64, error) {
	s.pos = end
	if dropped {
		return nil, offset, fmt.Errorf("%w: over %d bytes", errTooLarge, s.max)
	}
	return s.buf[start:end], offset, nil
}

// key reads an object key and the colon after it. The key's raw bytes,
// without quotes, are valid until the next call.
func (s *scanner) key() ([]byte, error) {
	c, err := s.peek()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if c != '"' {
		return nil, fmt.Errorf("invalid character %q, expected an object key", c)
	}
	raw, _, err := s.value()
	if err != nil {
		return nil, err
	}
	k := raw[1 : len(raw)-1]
	if _, err := s.expect(":", "a colon after an object key"); err != nil {
		return nil, err
	}
	return k, nil
}

// drain reads to the end of the data, which must be white space only. It
// makes the gzip reader verify its checksum.
func (s *scanner) drain() error {
	c, err := s.peek()
	switch {
	case err == io.EOF:
		return nil
	case err != nil:
		return err
	}
	return fmt.Errorf("unexpected data after the document: %q", c)
}
