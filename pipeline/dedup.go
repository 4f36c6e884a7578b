package pipeline

import (
	"hash/fnv"
	"time"
)

// CloudTrail may deliver an event more than once. Each worker replays a
// group (the files of one account, region and delivery day) in delivery
// order and remembers the event ids of the files delivered within the dedup
// window before the current one: a record is a duplicate when a copy of it,
// counted or itself a duplicate, was delivered within the window before it.
// What a worker remembers is then the ids of the files in the window, which
// a group that starts mid-stream reads again (its lookback), so the copies
// counted are the same whatever the number of workers. A day's first group
// starts from the ids of the previous day's files delivered within the
// window before its first file, so a copy delivered after midnight is
// caught too. Memory holds the ids of one window per worker: 60 to 100
// bytes per event delivered in it (16 in its file's list, 20 in a table
// kept at most half full).

// DefaultDedupWindow is how far apart in delivery time two copies of an
// event may be and still be counted once, unless Config says otherwise.
const DefaultDedupWindow = time.Hour

// eventKey is an event id in 16 bytes: the UUID CloudTrail writes, or a
// 128-bit hash of any other id.
type eventKey [16]byte

func keyOf(id string) eventKey {
	var k eventKey
	if len(id) == 36 && id[8] == '-' && id[13] == '-' && id[18] == '-' && id[23] == '-' {
		ok := true
		for n, i := range uuidPairs {
			hi, lo := hexDigit[id[i]], hexDigit[id[i+1]]
			ok = ok && hi < 16 && lo < 16
			k[n] = hi<<4 | lo
		}
		if ok {
			return k
		}
	}
	h := fnv.New128a()
	h.Write([]byte(id))
	h.Sum(k[:0])
	return k
}

// uuidPairs are where the 16 byte-sized digit pairs of a UUID begin.
var uuidPairs = [16]int{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34}

// hexDigit maps a hexadecimal digit of either case to its value, and any
// other byte to 255.
var hexDigit = func() (t [256]byte) {
	for i := range t {
		t[i] = 255
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c], t[c-'a'+'A'] = byte(c-'a'+10), byte(c-'a'+10)
	}
	return t
}()

// dedupWindow remembers the event ids of the files delivered within a
// window before the current file.
type dedupWindow struct {
	window time.Duration // <= 0: remember every file
	keys   *idCounts     // how many records of the files remembered have each id
	files  []windowFile  // oldest first; the last is the current file
	spare  [][]eventKey  // key slices of forgotten files, for reuse
}

type windowFile struct {
	delivered time.Time
	keys      []eventKey
}

func newDedupWindow(window time.Duration) *dedupWindow {
	return &dedupWindow{window: window, keys: newIDCounts()}
}

// reset forgets every file and id, keeping the memory for the next group:
// a window of a busy group grows to hold an hour of its ids, and growing
// it anew for each group would cost a large estate's many groups more than
// recording their ids.
func (w *dedupWindow) reset() {
	w.keys.reset()
	for _, f := range w.files {
		w.spare = append(w.spare, f.keys[:0])
	}
	w.files = w.files[:0]
}

// startFile begins a file delivered at t (zero when not known) and forgets
// the files delivered more than the window before it.
func (w *dedupWindow) startFile(t time.Time) {
	if w.window > 0 && !t.IsZero() {
		cut := t.Add(-w.window)
		n := 0
		for n < len(w.files) && !w.files[n].delivered.IsZero() && w.files[n].delivered.Before(cut) {
			for _, k := range w.files[n].keys {
				w.keys.remove(k)
			}
			w.spare = append(w.spare, w.files[n].keys[:0])
			n++
		}
		w.files = append(w.files[:0], w.files[n:]...)
	}
	f := windowFile{delivered: t}
	if len(w.spare) > 0 {
		f.keys = w.spare[len(w.spare)-1]
		w.spare = w.spare[:len(w.spare)-1]
	}
	w.files = append(w.files, f)
}

// firstTime records id in the current file and reports whether it was new
// to the window. A duplicate is recorded too: a later copy within the
// window of it is a duplicate as well. Records without an id are never
// duplicates.
func (w *dedupWindow) firstTime(id string) bool {
	if id == "" {
		return true
	}
	k := keyOf(id)
	n := w.keys.add(k)
	if len(w.files) == 0 {
		w.files = append(w.files, windowFile{})
	}
	cur := &w.files[len(w.files)-1]
	cur.keys = append(cur.keys, k)
	return n == 0
}
