package pipeline

import (
	"encoding/hex"
	"hash/fnv"

	"github.com/replay-iam/replay/ingest"
)

// CloudTrail may deliver an event more than once. Files are replayed in
// groups: the files of one account, region and delivery day of the S3
// layout form a group, read in path order by one worker that remembers the
// event ids it has seen, so the copy counted is always the one in the first
// file, whatever the number of workers. A file outside the layout is a group
// of its own. Memory holds one group's event ids per worker: 16 bytes per
// event of one account, region and day.

// groupFiles splits the files to read into dedup groups, each in path order.
func groupFiles(found []ingest.LogFile, toRead []int) [][]int {
	index := map[string]int{}
	var groups [][]int
	for _, i := range toRead {
		f := &found[i]
		if f.Account == "" || f.Day.IsZero() {
			groups = append(groups, []int{i})
			continue
		}
		key := f.Account + "/" + f.Region + "/" + f.Day.Format("2006-01-02")
		g, ok := index[key]
		if !ok {
			g = len(groups)
			index[key] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

// eventKey is an event id in 16 bytes: the UUID CloudTrail writes, or a
// 128-bit hash of any other id.
type eventKey [16]byte

func keyOf(id string) eventKey {
	var k eventKey
	if len(id) == 36 && id[8] == '-' && id[13] == '-' && id[18] == '-' && id[23] == '-' {
		var digits [32]byte
		n := 0
		for i := 0; i < 36; i++ {
			if id[i] != '-' {
				digits[n] = id[i]
				n++
			}
		}
		if _, err := hex.Decode(k[:], digits[:]); err == nil {
			return k
		}
	}
	h := fnv.New128a()
	h.Write([]byte(id))
	h.Sum(k[:0])
	return k
}

// seenEvents remembers the event ids of one group.
type seenEvents map[eventKey]struct{}

// firstTime records id and reports whether it was new. Records without an
// id are never duplicates.
func (s seenEvents) firstTime(id string) bool {
	if id == "" {
		return true
	}
	k := keyOf(id)
	if _, ok := s[k]; ok {
		return false
	}
	s[k] = struct{}{}
	return true
}
