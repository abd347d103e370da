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

// entry is one key. Once an entry is in its shard's table, readers that take no lock (Get, GetMany,
// Exists) may read key, hash, val, expireAt and visited at any time: key and hash never change, the
// others are atomic. The value and its kind sit in a valueBox that is never changed once published:
// a write that gives the key a new value publishes a new box (see store); the first box is part of
// the entry, so an entry that is never updated costs one allocation and one cache line to read.
// The other fields are guarded by the shard's lock, and lock-free readers never touch them.
type entry struct {
	key      string
	hash     uint64 // maphash of key with the backend's seed
	val      atomic.Pointer[valueBox]
	visited  atomic.Bool
	expireAt atomic.Int64 // unix nanoseconds; 0 means never
	first    valueBox     // the box val points to until the value changes

	vsize        int64   // size of the value, when the backend is bounded by bytes
	newer, older *entry  // the shard's SIEVE queue
	tags         *tagSet // nil: none (see tags.go)
}

// valueBox is what an entry holds: a value and its kind. It never changes once published.
type valueBox struct {
	value any
	kind  kind
}

// stored returns e's value and kind.
func (e *entry) stored() *valueBox { return e.val.Load() }

// store gives e a new value and kind. The shard's lock must be held. Structures (sets, bit arrays,
// windows) change inside their value, under the lock, and keep their box.
func (e *entry) store(k kind, value any) { e.val.Store(&valueBox{value: value, kind: k}) }

// expiry returns when e expires, in unix nanoseconds; 0 means never.
func (e *entry) expiry() int64 { return e.expireAt.Load() }

// cost is what the entry counts against maxBytes.
func (e *entry) cost() int64 {
	c := int64(len(e.key)) + e.vsize + EntryOverhead
	if e.tags != nil {
		c += e.tags.cost
	}
	return c
}

// shard is one lock's worth of keys: their table, which readers search without the lock, and their
// SIEVE queue. The table pointer has a cache line of its own: the lock word and the counts next to
// it are written by every write to the shard, and readers should not have to fetch that line.
type shard struct {
	tab atomic.Pointer[table] // nil until the first write
	_   [56]byte

	mu            sync.RWMutex        // held by writers; readers of sets, bit arrays and windows take it shared
	entries, used int                 // entries in tab, and its slots holding an entry or a tombstone
	head, tail    *entry              // newest and oldest
	hand          *entry              // next eviction candidate; nil means the tail
	withTTL       int                 // entries with an expiry
	tagged        int                 // entries with tags
	ghost         ghost               // recently evicted keys (see ghost.go)
	gone          []backends.Deletion // deletions to report once the lock is released (see unlock)
	_             [64]byte
}

// find returns the entry at key (whose hash is h), expired or not, or nil. It takes no lock.
func (s *shard) find(key string, h uint64) *entry {
	t := s.tab.Load()
	if t == nil {
		return nil
	}
	return t.find(key, h)
}

// each calls f for every entry of s until f returns false. s.mu must be held.
func (s *shard) each(f func(*entry) bool) {
	if t := s.tab.Load(); t != nil {
		t.all(f)
	}
}

// addLocked puts e in the table, growing or rebuilding it first when it is 3/4 used. s.mu must be
// held.
func (s *shard) addLocked(e *entry) {
	t := s.tab.Load()
	if t == nil || 4*(s.used+1) > 3*len(t.slots) {
		n := newTable(s.entries + 1)
		if t != nil {
			t.all(func(e *entry) bool {
				n.add(e)
				return true
			})
		}
		s.used = s.entries
		s.tab.Store(n)
		t = n
	}
	if t.add(e) {
		s.used++
	}
	s.entries++
}

// shardFor returns the shard of key and the key's hash.
func (b *Backend) shardFor(key string) (*shard, uint64) {
	h := maphash.String(b.seed, key)
	return &b.shards[h&b.mask], h
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

// readNow returns the time for the TTL checks of the lock-free readers: the coarse clock's when the
// backend runs on the system clock (see clock.go), the injected clock's otherwise.
func (b *Backend) readNow() int64 {
	if b.coarse != nil {
		return b.coarse.Read()
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
	exp := e.expiry()
	return exp != 0 && c.now() >= exp
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

// live returns the entry at key (whose hash is h) if it is present and not expired. s.mu must be
// held.
func (s *shard) live(key string, h uint64, c *clockReader) *entry {
	e := s.find(key, h)
	if e == nil || c.expired(e) {
		return nil
	}
	return e
}

// insertLocked adds a new entry at the head of s's queue. A key evicted a short while ago (see
// ghost.go) comes back already visited. s.mu must be held.
func (b *Backend) insertLocked(s *shard, key string, h uint64, k kind, value any, vsize, expireAt int64) *entry {
	e := &entry{key: key, hash: h, first: valueBox{value: value, kind: k}}
	e.val.Store(&e.first)
	e.expireAt.Store(expireAt)
	if s.ghost.has(h) {
		e.visited.Store(true)
	}
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
	s.addLocked(e)
	b.count.Add(1)
	return e
}

// removeLocked removes e from s, which leaves for cause: it counts an eviction, and records the
// deletion for OnDeletion. s.mu must be held.
func (b *Backend) removeLocked(s *shard, e *entry, cause backends.Cause) {
	switch cause {
	case backends.CauseSize:
		b.evictedSize.Add(1)
	case backends.CauseBytes:
		b.evictedBytes.Add(1)
	case backends.CauseExpired:
		b.evictedExpired.Add(1)
	}
	b.goneLocked(s, e, e.stored(), cause)
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
	s.tab.Load().remove(e)
	s.entries--
	if e.tags != nil {
		b.unindexLocked(e.key, e.tags)
		s.tagged--
	}
	if e.expiry() != 0 {
		s.withTTL--
	}
	b.count.Add(-1)
	if b.maxBytes > 0 {
		b.bytes.Add(-e.cost())
	}
}

// goneLocked records that the value box of e leaves for cause, when deletions are reported: values
// only, not sets, bit arrays or sliding windows. s.mu must be held.
func (b *Backend) goneLocked(s *shard, e *entry, box *valueBox, cause backends.Cause) {
	if b.onDeletion.Load() == nil || box.kind != kindValue {
		return
	}
	s.gone = append(s.gone, backends.Deletion{Key: e.key, Value: b.out(box.value), Cause: cause})
}

// unlock releases s.mu, held for writing, then reports the deletions recorded meanwhile, so that
// OnDeletion's function runs outside the backend's locks.
func (b *Backend) unlock(s *shard) {
	if s.gone == nil {
		s.mu.Unlock()
		return
	}
	gone := s.gone
	s.gone = nil
	s.mu.Unlock()
	if fn := b.onDeletion.Load(); fn != nil {
		for _, d := range gone {
			(*fn)(d)
		}
	}
}

// setExpireLocked changes the expiry of e. s.mu must be held.
func (s *shard) setExpireLocked(e *entry, expireAt int64) {
	if (e.expiry() != 0) != (expireAt != 0) {
		if expireAt != 0 {
			s.withTTL++
		} else {
			s.withTTL--
		}
	}
	e.expireAt.Store(expireAt)
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
func (b *Backend) renewLocked(s *shard, old *entry, key string, h uint64, k kind, value any, vsize, expireAt int64) *entry {
	if old != nil {
		b.removeLocked(s, old, backends.CauseExpired)
	}
	return b.insertLocked(s, key, h, k, value, vsize, expireAt)
}

// replaceLocked gives the live entry e a new value, kind and expiry, and records the replaced value
// for OnDeletion. s.mu must be held.
func (b *Backend) replaceLocked(s *shard, e *entry, k kind, value any, vsize, expireAt int64) {
	b.goneLocked(s, e, e.stored(), backends.CauseReplaced)
	e.store(k, value)
	b.resizeLocked(e, vsize)
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
	cause := backends.CauseExpired
	if !c.expired(h) {
		s.ghost.add(h.hash, s.entries)
		cause = backends.CauseBytes
		if b.maxEntries > 0 && b.count.Load() > b.maxEntries {
			cause = backends.CauseSize
		}
	}
	b.removeLocked(s, h, cause) // moves the hand on to the next newer entry
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
			b.unlock(s)
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
		b.unlock(s)
		return
	}
	b.shrinkLocked(s, keep, c)
	b.unlock(s)
	if b.overLimit() {
		b.shrinkOthers(s, keep)
	}
}
