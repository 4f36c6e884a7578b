package pipeline

import (
	"encoding/binary"
	"math/rand/v2"
)

// idCounts counts event keys: a hash table with linear probing, in which
// adding a key and reading its count before is one probe sequence, where a
// map takes two lookups. A dedup window adds every record's key and
// removes it again when its file leaves the window, so these two
// operations are what it does per record.
type idCounts struct {
	seed  [2]uint64 // random per table, so that no input is slow on every run
	slots []idSlot  // a power of two in length; count 0 marks an empty slot
	n     int       // slots in use
}

type idSlot struct {
	key   eventKey
	count int32
}

func newIDCounts() *idCounts { return &idCounts{seed: [2]uint64{rand.Uint64(), rand.Uint64()}} }

// reset forgets every key, keeping the table's size.
func (t *idCounts) reset() {
	clear(t.slots)
	t.n = 0
}

// Len returns the number of distinct keys counted.
func (t *idCounts) Len() int { return t.n }

// home is the slot where k's probe sequence starts. Keys are random bytes
// already (a UUID's, or a 128-bit FNV hash), so two multiplications that
// mix both halves of the key with the table's seed spread them: removal
// recomputes the home of every key it shifts, which a general-purpose
// hash of 16 bytes makes the larger part of its cost.
func (t *idCounts) home(k *eventKey) int {
	h := (binary.LittleEndian.Uint64(k[:8]) ^ t.seed[0]) * 0x9e3779b97f4a7c15
	h = (h ^ binary.LittleEndian.Uint64(k[8:]) ^ t.seed[1]) * 0xc2b2ae3d27d4eb4f
	return int((h ^ h>>32) & uint64(len(t.slots)-1))
}

// add counts one more k and returns its count before.
func (t *idCounts) add(k eventKey) int32 {
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
	}
	mask := len(t.slots) - 1
	for i := t.home(&k); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.count == 0 {
			s.key, s.count = k, 1
			t.n++
			return 0
		}
		if s.key == k {
			s.count++
			return s.count - 1
		}
	}
}

// remove counts one less k, and forgets it at zero. A key not counted is
// left alone.
func (t *idCounts) remove(k eventKey) {
	if t.n == 0 {
		return
	}
	mask := len(t.slots) - 1
	i := t.home(&k)
	for ; t.slots[i].count != 0; i = (i + 1) & mask {
		if t.slots[i].key == k {
			break
		}
	}
	if t.slots[i].count == 0 {
		return
	}
	if t.slots[i].count--; t.slots[i].count > 0 {
		return
	}
	t.n--
	// Backward shift: move later entries of the probe run into the hole
	// when their home lies at or before it, so that no lookup meets an
	// empty slot before its key.
	hole := i
	for j := (hole + 1) & mask; t.slots[j].count != 0; j = (j + 1) & mask {
		h := t.home(&t.slots[j].key)
		// The entry at j may move to hole when hole lies cyclically in [h, j).
		if (j-h)&mask >= (j-hole)&mask {
			t.slots[hole] = t.slots[j]
			hole = j
		}
	}
	t.slots[hole] = idSlot{}
}

func (t *idCounts) grow() {
	old := t.slots
	t.slots = make([]idSlot, max(64, 2*len(old)))
	mask := len(t.slots) - 1
	for _, s := range old {
		if s.count == 0 {
			continue
		}
		i := t.home(&s.key)
		for t.slots[i].count != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
}
