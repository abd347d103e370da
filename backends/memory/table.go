package memory

import (
	"math/bits"
	"sync/atomic"
)

// table is a shard's index from keys to entries: open addressing with linear probing over atomic
// pointers, so that Get, GetMany and Exists look keys up without taking the shard's lock (they write
// nothing shared: no reader count, no lock word), while writers, holding the shard's lock, change it.
//
// A removed entry leaves a tombstone, which lookups step over and inserts reuse. When live entries
// and tombstones fill 3/4 of the slots, the writer builds a new table sized for the live entries
// (half full) and publishes it; a reader still walking the old table finishes there, which is safe:
// the old table is never written again, and what it finds was present when the reader started.
//
// What readers read of an entry is atomic or never changes (see entry); the fields that only the
// shard's lock guards (queue links, tags, vsize) readers never touch.
//
// The counts of used slots live in the shard, next to its lock, not here: a writer updating them
// would otherwise write the cache line that every reader of the table reads.
type table struct {
	slots []atomic.Pointer[entry]
	mask  uint64
}

// tombstone marks a slot whose entry was removed.
var tombstone = &entry{}

const minTableSize = 8

// newTable returns an empty table for live entries: at most half full.
func newTable(live int) *table {
	n := minTableSize
	for n < 2*live {
		n <<= 1
	}
	return &table{slots: make([]atomic.Pointer[entry], n), mask: uint64(n - 1)}
}

// slot is where the probe sequence of hash h starts: bits of h that the choice of shard (its low
// bits) does not use.
func (t *table) slot(h uint64) uint64 { return bits.RotateLeft64(h, 32) & t.mask }

// find returns the entry at key (whose hash is h), or nil. It takes no lock.
func (t *table) find(key string, h uint64) *entry {
	for i := t.slot(h); ; i = (i + 1) & t.mask {
		e := t.slots[i].Load()
		if e == nil {
			return nil
		}
		if e.hash == h && e != tombstone && e.key == key {
			return e
		}
	}
}

// index returns the slot that holds e. e must be in the table.
func (t *table) index(e *entry) uint64 {
	for i := t.slot(e.hash); ; i = (i + 1) & t.mask {
		if t.slots[i].Load() == e {
			return i
		}
	}
}

// add stores e, whose key is not in the table, in the first free slot of its probe sequence, and
// reports whether that slot had never been used (it was not a tombstone). The table must have a
// free slot.
func (t *table) add(e *entry) (fresh bool) {
	for i := t.slot(e.hash); ; i = (i + 1) & t.mask {
		switch t.slots[i].Load() {
		case nil:
			t.slots[i].Store(e)
			return true
		case tombstone:
			t.slots[i].Store(e)
			return false
		}
	}
}

// remove puts a tombstone in the slot of e.
func (t *table) remove(e *entry) { t.slots[t.index(e)].Store(tombstone) }

// all calls f for each entry until f returns false.
func (t *table) all(f func(*entry) bool) {
	for i := range t.slots {
		if e := t.slots[i].Load(); e != nil && e != tombstone && !f(e) {
			return
		}
	}
}
