package memory

import (
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cashews-go/cashews/backends"
)

// kind is what an entry holds.
type kind uint8

const (
	kindValue  kind = iota // a value stored by Set, Incr or SetLock
	kindSet                // map[string]struct{}, by SetAdd
	kindBits               // *bitArray, by IncrBits
	kindWindow             // *window, by SliceIncr
)

func (k kind) String() string {
	switch k {
	case kindSet:
		return "a set"
	case kindBits:
		return "a bit array"
	case kindWindow:
		return "a sliding window"
	}
	return "a value"
}

// entry is one key. Fields other than visited are guarded by the shard's lock.
type entry struct {
	key          string
	value        any
	expireAt     int64 // unix nanoseconds; 0 means never
	vsize        int64 // size of the value, when the backend is bounded by bytes
	visited      atomic.Bool
	kind         kind
	newer, older *entry  // the shard's SIEVE queue
	tags         *tagSet // nil: none (see tags.go)
}

// cost is what the entry counts against maxBytes.
func (e *entry) cost() int64 {
	c := int64(len(e.key)) + e.vsize + EntryOverhead
	if e.tags != nil {
		c += e.tags.cost
	}
	return c
}

// shard is one lock's worth of keys and its SIEVE queue.
type shard struct {
	mu         sync.RWMutex
	m          map[string]*entry // nil until the first write
	head, tail *entry            // newest and oldest
	hand       *entry            // next eviction candidate; nil means the tail
	withTTL    int               // entries with an expiry
	tagged     int               // entries with tags
	_          [64]byte
}

func (b *Backend) shardFor(key string) *shard {
	return &b.shards[maphash.String(b.seed, key)&b.mask]
}

// now returns the time in unix nanoseconds. The system clock is read as the start time plus the
// monotonic time since, which costs one clock read instead of time.Now's two and is not moved by
// steps of the wall clock: a TTL measures elapsed time.
func (b *Backend) now() int64 {
	if b.clock == nil {
		return b.startNano + int64(time.Since(b.start))
	}
	return b.clock.Now().UnixNano()
}

// clockReader reads the clock at most once per command.
type clockReader struct {
	b  *Backend
	t  int64
	ok bool
}

func (c *clockReader) now() int64 {
	if !c.ok {
		c.t, c.ok = c.b.now(), true
	}
	return c.t
}

// expired reports whether e has expired; it reads the clock only for an entry with a TTL.
func (c *clockReader) expired(e *entry) bool {
	return e.expireAt != 0 && c.now() >= e.expireAt
}

// expireAt returns the expiry for ttl from now: 0 for no TTL. A TTL over backends.MaxTTL counts
// as MaxTTL.
func (c *clockReader) expireAt(ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	ttl = backends.CapTTL(ttl)
	now := c.now()
	if int64(ttl) > math.MaxInt64-now {
		return math.MaxInt64
	}
	return now + int64(ttl)
}

// live returns the entry at key if it is present and not expired. s.mu must be held.
func (s *shard) live(key string, c *clockReader) *entry {
	e := s.m[key]
	if e == nil || c.expired(e) {
		return nil
	}
	return e
}

// insertLocked adds a new entry at the head of s's queue. s.mu must be held.
func (b *Backend) insertLocked(s *shard, key string, k kind, value any, vsize, expireAt int64) *entry {
	e := &entry{key: key, value: value, kind: k, expireAt: expireAt}
	if b.maxBytes > 0 {
		e.vsize = vsize
		b.bytes.Add(e.cost())
	}
	if expireAt != 0 {
		s.withTTL++
	}
	e.older = s.head
	if s.head != nil {
		s.head.newer = e
	} else {
		s.tail = e
	}
	s.head = e
	if s.m == nil {
		s.m = make(map[string]*entry)
	}
	s.m[key] = e
	b.count.Add(1)
	return e
}

// removeLocked removes e from s. s.mu must be held.
func (b *Backend) removeLocked(s *shard, e *entry) {
	if s.hand == e {
		s.hand = e.newer
	}
	if e.newer != nil {
		e.newer.older = e.older
	} else {
		s.head = e.older
	}
	if e.older != nil {
		e.older.newer = e.newer
	} else {
		s.tail = e.newer
	}
	e.newer, e.older = nil, nil
	delete(s.m, e.key)
	if e.tags != nil {
		b.unindexLocked(e.key, e.tags)
		s.tagged--
	}
	if e.expireAt != 0 {
		s.withTTL--
	}
	b.count.Add(-1)
	if b.maxBytes > 0 {
		b.bytes.Add(-e.cost())
	}
}

// setExpireLocked changes the expiry of e. s.mu must be held.
func (s *shard) setExpireLocked(e *entry, expireAt int64) {
	if (e.expireAt != 0) != (expireAt != 0) {
		if expireAt != 0 {
			s.withTTL++
		} else {
			s.withTTL--
		}
	}
	e.expireAt = expireAt
}

// resizeLocked changes the recorded value size of e. The shard's lock must be held.
func (b *Backend) resizeLocked(e *entry, vsize int64) {
	if b.maxBytes > 0 {
		b.bytes.Add(vsize - e.vsize)
		e.vsize = vsize
	}
}

// renewLocked stores a new entry for key in place of old, an expired entry or nil: the key goes to
// the head of the queue as any new key does. s.mu must be held.
func (b *Backend) renewLocked(s *shard, old *entry, key string, k kind, value any, vsize, expireAt int64) *entry {
	if old != nil {
		b.removeLocked(s, old)
	}
	return b.insertLocked(s, key, k, value, vsize, expireAt)
}

// replaceLocked gives the live entry e a new value, kind and expiry. s.mu must be held.
func (b *Backend) replaceLocked(s *shard, e *entry, k kind, value any, vsize, expireAt int64) {
	b.resizeLocked(e, vsize)
	e.value, e.kind = value, k
	s.setExpireLocked(e, expireAt)
}

func (b *Backend) overLimit() bool {
	return (b.maxEntries > 0 && b.count.Load() > b.maxEntries) ||
		(b.maxBytes > 0 && b.bytes.Load() > b.maxBytes)
}

// evictLocked removes one entry of s other than keep, chosen by SIEVE, and reports whether there was
// one. s.mu must be held.
func (b *Backend) evictLocked(s *shard, keep *entry, c *clockReader) bool {
	if s.tail == nil || (s.tail == keep && s.head == keep) {
		return false
	}
	h := s.hand
	if h == nil {
		h = s.tail
	}
	for {
		if h != keep {
			if !h.visited.Load() || c.expired(h) {
				break
			}
			h.visited.Store(false)
		}
		if h = h.newer; h == nil {
			h = s.tail
		}
	}
	s.hand = h
	b.removeLocked(s, h) // moves the hand on to the next newer entry
	return true
}

// shrinkLocked evicts from s, sparing keep, while the store is over a bound. s.mu must be held.
func (b *Backend) shrinkLocked(s *shard, keep *entry, c *clockReader) {
	for b.overLimit() && b.evictLocked(s, keep, c) {
	}
}

// shrinkOthers evicts from every shard in turn, one entry per lock, while the store is over a
// bound. No lock may be held. It spares keep, the entry just written into from.
func (b *Backend) shrinkOthers(from *shard, keep *entry) {
	c := clockReader{b: b}
	for b.overLimit() {
		progress := false
		for range b.shards {
			if !b.overLimit() {
				return
			}
			s := &b.shards[b.evictNext.Add(1)&b.mask]
			k := (*entry)(nil)
			if s == from {
				k = keep
			}
			s.mu.Lock()
			if b.evictLocked(s, k, &c) {
				progress = true
			}
			s.mu.Unlock()
		}
		if !progress {
			return
		}
	}
}

// wrote finishes a write that may have grown the store: it evicts from s (locked) while over a
// bound, unlocks s, and evicts from other shards if s had nothing left to give.
func (b *Backend) wrote(s *shard, keep *entry, c *clockReader) {
	if b.maxEntries == 0 && b.maxBytes == 0 {
		s.mu.Unlock()
		return
	}
	b.shrinkLocked(s, keep, c)
	s.mu.Unlock()
	if b.overLimit() {
		b.shrinkOthers(s, keep)
	}
}
