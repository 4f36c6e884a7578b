package pipeline

import (
	"context"
	"sync"

	"github.com/replay-iam/replay/ingest"
)

// A group's files are replayed in turn by one worker. When a worker is
// spare (no other work waits for it: a log of one busy account and region,
// or the last groups of a run), the group's replay has it read ahead: the
// spare worker opens, inflates and decodes the group's next file while the
// replay translates, evaluates and aggregates the records of the current
// one. The two halves of the work take about as long, so the group goes
// up to twice as fast, where cutting it into slices would have every file
// inflated a second time for the day's sessions (see plan.slice).
//
// The records a replay sees, and their order, are the same either way:
// only the goroutine that reads each file changes.

// readAhead reads the files of a group ahead of their replay, on a
// goroutine of its own, through two file readers: one holds the file
// being replayed, the other loads the next.
type readAhead struct {
	files  []*ingest.LogFile // the files to read, in replay order
	taken  int               // files handed to the replay
	loaded chan loadedFile
	free   chan *FileReader
	stop   chan struct{}
	done   chan struct{}
	held   *FileReader // the reader of the file last handed out
}

// loadedFile is a file opened and loaded by a readAhead.
type loadedFile struct {
	fr  *FileReader
	err error // what FileReader.open returned
}

// readAheadReaders is how many file readers a readAhead takes: one for the
// file replayed, one for the next.
const readAheadReaders = 2

// newReadAhead starts reading files, with setup, on a goroutine that spare
// starts if it can; it returns nil when spare cannot. The readers come from
// pool and return to it when the readAhead is stopped.
func newReadAhead(ctx context.Context, files []*ingest.LogFile, setup func(*ingest.Reader),
	pool *sync.Pool, spare func(func()) bool) *readAhead {
	a := &readAhead{
		files:  files,
		loaded: make(chan loadedFile),
		free:   make(chan *FileReader, readAheadReaders),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	if !spare(func() { a.run(ctx, setup) }) {
		return nil
	}
	for range readAheadReaders {
		a.free <- pool.Get().(*FileReader)
	}
	return a
}

// run opens each file in turn with a free reader and hands it over, until
// the files end or the readAhead is stopped.
func (a *readAhead) run(ctx context.Context, setup func(*ingest.Reader)) {
	defer close(a.done)
	for _, f := range a.files {
		var fr *FileReader
		select {
		case fr = <-a.free:
		case <-a.stop:
			return
		}
		err := fr.open(ctx, f.Path, setup)
		select {
		case a.loaded <- loadedFile{fr, err}:
		case <-a.stop:
			fr.close()
			a.free <- fr
			return
		}
	}
}

// next reports whether f is the next file the readAhead hands out.
func (a *readAhead) next(f *ingest.LogFile) bool {
	return a != nil && a.taken < len(a.files) && a.files[a.taken] == f
}

// take returns the reader of the next file, opened and loaded (or the
// error of its opening), and gives back the reader of the file before,
// whose records are then no longer used.
func (a *readAhead) take() (*FileReader, error) {
	a.release()
	lf := <-a.loaded
	a.taken++
	a.held = lf.fr
	return lf.fr, lf.err
}

// release gives the reader of the file last handed out back for the next.
func (a *readAhead) release() {
	if a.held != nil {
		a.held.close()
		a.held.scrubBuffers()
		a.free <- a.held
		a.held = nil
	}
}

// close stops the readAhead and returns its readers to pool.
func (a *readAhead) close(pool *sync.Pool) {
	if a == nil {
		return
	}
	close(a.stop)
	<-a.done
	a.release()
	for range readAheadReaders {
		fr := <-a.free
		fr.scrubBuffers()
		pool.Put(fr)
	}
}
