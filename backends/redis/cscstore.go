package redis

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// cachedCmd is the only command the backend reads through the client-side cache.
const cachedCmd = "GET"

// entryOverhead is what an entry costs on top of its key and reply, against client_side_size.
const entryOverhead = 160

// localStore is the client-side cache of one connection (a rueidis.CacheStore): GET replies by key,
// bounded in bytes, with SIEVE eviction (a hit only sets a flag under the read lock) and
// single-flight misses. rueidis calls it when it sends a cached read, receives the reply, receives
// an invalidation from Redis, and when the connection breaks (then it empties).
//
// Redis tells a connection about writes by other connections, but the backend's own writes travel
// on other connections of the same client, so their invalidation may come a moment after the write
// returns. For read-your-writes, the backend invalidates its own writes here as soon as they return
// (see storeSet): the cached value goes, and a read in flight, which may have read the old value,
// is neither cached nor joined by later reads.
//
// On Cluster a store also knows which node its connection goes to (see slotGuard): it caches a
// reply only while that node serves the key's slot and answers its health checks, and a value it
// holds stops counting as soon as either changes.
type localStore struct {
	set  *storeSet
	node atomic.Int32 // Cluster: the node of the connection (index in slotGuard.nodes); -1 until known

	mu               sync.RWMutex
	items            map[string]*lsEntry
	head, tail, hand *lsEntry // the cached values, newest at head
	size, max        int
	closed           bool
}

// lsEntry is one key: its cached value, if any, and its reads in flight, oldest first (Redis
// answers them in order on the connection).
type lsEntry struct {
	key     string
	val     rueidis.RedisMessage
	cur     atomic.Pointer[lsValue] // the value as Get returns it, while has (see storeSet.index)
	has     bool
	xat     int64 // local expiry, unix ms
	size    int
	slot    uint16 // Cluster: the key's hash slot
	gen     uint32 // Cluster: the slot's generation when the value was read (see slotGuard)
	visited atomic.Bool
	prev    *lsEntry
	next    *lsEntry
	flights []*flight
}

// lsValue is a cached value as the backend's Get returns it, set once when the value is cached and
// read without a lock: the reply's bytes (sharing the reply's string), boxed once.
type lsValue struct {
	v     any   // []byte; nil for a nil reply (a miss)
	found bool  // false for a nil reply
	xat   int64 // local expiry, unix ms
	gen   uint32
}

// newLSValue converts a GET reply for lsValue; ok is false for a reply GET cannot give.
func newLSValue(m rueidis.RedisMessage, xat int64, gen uint32) (*lsValue, bool) {
	if m.IsNil() {
		return &lsValue{xat: xat, gen: gen}, true
	}
	s, err := m.ToString()
	if err != nil {
		return nil, false
	}
	return &lsValue{v: stringBytes(s), found: true, xat: xat, gen: gen}, true
}

// flight is a read sent to Redis that other readers of the key may wait for.
type flight struct {
	ch    chan struct{}
	val   rueidis.RedisMessage
	err   error
	xat   int64  // when a value read now must leave the local cache at the latest
	stale bool   // a write by this backend returned while the read was in flight: do not cache it
	gen   uint32 // Cluster: the slot's generation when the read was sent
}

// Wait waits for the read's reply.
func (f *flight) Wait(ctx context.Context) (rueidis.RedisMessage, error) {
	select {
	case <-ctx.Done():
		return rueidis.RedisMessage{}, ctx.Err()
	case <-f.ch:
		return f.val, f.err
	}
}

func newLocalStore(max int, set *storeSet) *localStore {
	s := &localStore{set: set, items: make(map[string]*lsEntry), max: max}
	s.node.Store(-1)
	return s
}

// valid reports whether e's value still counts: always on a single server; on Cluster while the
// generation of its slot is the one it was read in.
func (s *localStore) valid(e *lsEntry, g *slotGuard) bool {
	return g == nil || g.gens[e.slot].Load() == e.gen
}

// Flight returns the cached reply for a hit; otherwise a read in flight to wait for, or neither,
// and then rueidis sends the read and reports its reply with Update or Cancel.
func (s *localStore) Flight(key, cmd string, ttl time.Duration, now time.Time) (rueidis.RedisMessage, rueidis.CacheEntry) {
	if cmd != cachedCmd {
		return rueidis.RedisMessage{}, nil // not cached: Update and Cancel ignore it
	}
	g := s.set.slots.Load()
	if g != nil && g.probe(s, key) {
		return rueidis.RedisMessage{}, nil // a probe of the connection's node: read, never cached
	}
	ms := now.UnixMilli()
	s.mu.RLock()
	if e := s.items[key]; e != nil && e.has && ms < e.xat && s.valid(e, g) {
		e.visited.Store(true)
		v := e.val
		s.mu.RUnlock()
		return v, nil
	}
	s.mu.RUnlock()

	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.items[key]
	if e != nil && e.has {
		if ms < e.xat && s.valid(e, g) {
			e.visited.Store(true)
			return e.val, nil
		}
		s.dropValue(e)
	}
	if s.closed {
		return rueidis.RedisMessage{}, nil
	}
	if e == nil {
		e = &lsEntry{key: key}
		if g != nil {
			e.slot = keySlot(key)
		}
		s.items[key] = e
	}
	var gen uint32
	if g != nil {
		gen = g.gens[e.slot].Load()
	}
	if n := len(e.flights); n > 0 && !e.flights[n-1].stale && e.flights[n-1].gen == gen {
		return rueidis.RedisMessage{}, e.flights[n-1]
	}
	e.flights = append(e.flights, &flight{ch: make(chan struct{}), xat: now.Add(ttl).UnixMilli(), gen: gen})
	return rueidis.RedisMessage{}, nil
}

// Update receives the reply of the oldest read in flight for key, hands it to its waiters and
// caches it, until the key's TTL or the read's local TTL, whichever ends first.
func (s *localStore) Update(key, cmd string, val rueidis.RedisMessage) int64 {
	pxat := val.CachePXAT()
	if cmd != cachedCmd {
		return pxat
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.items[key]
	if e == nil || len(e.flights) == 0 {
		return pxat
	}
	f := e.flights[0]
	e.flights[0] = nil
	e.flights = e.flights[1:]
	xat := f.xat
	if pxat > 0 && pxat < xat {
		xat = pxat
	}
	f.val = val
	close(f.ch)
	if f.stale || len(e.flights) > 0 || s.closed || !s.set.slots.Load().mayCache(s, e.slot, f.gen) {
		s.forgetIfEmpty(e)
		return xat
	}
	if e.has {
		s.dropValue(e)
	}
	e.val, e.has, e.xat, e.gen = val, true, xat, f.gen
	e.size = len(key) + val.CacheSize() + entryOverhead
	e.visited.Store(false)
	if v, ok := newLSValue(val, xat, f.gen); ok {
		e.cur.Store(v)
		s.set.index.Store(key, e)
	}
	s.pushFront(e)
	s.size += e.size
	for s.size > s.max && s.tail != nil {
		s.evict()
	}
	return xat
}

// Cancel fails the oldest read in flight for key.
func (s *localStore) Cancel(key, cmd string, err error) {
	if cmd != cachedCmd {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.items[key]
	if e == nil || len(e.flights) == 0 {
		return
	}
	f := e.flights[0]
	e.flights[0] = nil
	e.flights = e.flights[1:]
	f.err = err
	close(f.ch)
	s.forgetIfEmpty(e)
}

// Delete applies Redis' invalidations: the cached values of keys go (all of them for nil keys, as
// after FLUSHDB); reads in flight stay, as Redis answered them after the change.
func (s *localStore) Delete(keys []rueidis.RedisMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if keys == nil {
		for _, e := range s.items {
			if e.has {
				s.dropValue(e)
			}
			s.forgetIfEmpty(e)
		}
		return
	}
	for _, k := range keys {
		key, err := k.ToString()
		if err != nil {
			continue
		}
		if e := s.items[key]; e != nil {
			if e.has {
				s.dropValue(e)
			}
			s.forgetIfEmpty(e)
		}
	}
}

// Close empties the store when its connection breaks (invalidations may have been lost) and fails
// the reads in flight. rueidis never uses the store again.
func (s *localStore) Close(err error) {
	s.mu.Lock()
	items := s.items
	for _, e := range items {
		if e.has {
			s.dropValue(e)
		}
	}
	s.items = make(map[string]*lsEntry)
	s.head, s.tail, s.hand, s.size, s.closed = nil, nil, nil, 0, true
	s.mu.Unlock()
	for _, e := range items {
		for _, f := range e.flights {
			f.err = err
			close(f.ch)
		}
	}
	s.set.remove(s)
}

// invalidate is the backend's own write of keys (all keys when all is true): their cached values
// go, and their reads in flight are not cached nor joined.
func (s *localStore) invalidate(keys []string, all bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	drop := func(e *lsEntry) {
		if e.has {
			s.dropValue(e)
		}
		for _, f := range e.flights {
			f.stale = true
		}
		s.forgetIfEmpty(e)
	}
	if all {
		for _, e := range s.items {
			drop(e)
		}
		return
	}
	for _, k := range keys {
		if e := s.items[k]; e != nil {
			drop(e)
		}
	}
}

// dropValue removes e's cached value. s.mu must be held.
func (s *localStore) dropValue(e *lsEntry) {
	s.unlink(e)
	s.size -= e.size
	e.val, e.has, e.size = rueidis.RedisMessage{}, false, 0
	e.cur.Store(nil)
	s.set.index.CompareAndDelete(e.key, e)
}

// forgetIfEmpty removes e from the map when it holds nothing. s.mu must be held.
func (s *localStore) forgetIfEmpty(e *lsEntry) {
	if !e.has && len(e.flights) == 0 && s.items[e.key] == e {
		delete(s.items, e.key)
	}
}

func (s *localStore) pushFront(e *lsEntry) {
	e.prev, e.next = nil, s.head
	if s.head != nil {
		s.head.prev = e
	}
	s.head = e
	if s.tail == nil {
		s.tail = e
	}
}

func (s *localStore) unlink(e *lsEntry) {
	if s.hand == e {
		s.hand = e.prev
	}
	if e.prev != nil {
		e.prev.next = e.next
	} else if s.head == e {
		s.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else if s.tail == e {
		s.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

// evict removes one value by SIEVE: the hand walks from the oldest value towards the newest,
// clearing visited flags, and evicts the first value not visited since the hand last passed.
func (s *localStore) evict() {
	e := s.hand
	if e == nil {
		e = s.tail
	}
	for e.visited.Load() {
		e.visited.Store(false)
		if e = e.prev; e == nil {
			e = s.tail
		}
	}
	s.hand = e.prev
	s.dropValue(e)
	s.forgetIfEmpty(e)
}

// storeSet holds the live stores of one client (one per connection), to serve hits without going
// through the driver and to apply the backend's own writes to them.
//
// Its index maps each key to the entry of the store that cached it last: a hit is one lock-free
// lookup (sync.Map reads take no lock and write nothing shared), instead of a lookup under the read
// lock of every store. A store sets the index when it caches a value and removes its own entry (only
// its own) when the value goes, under its lock, before the write or invalidation that removed it
// returns. A key missing from the index is read through the driver, which asks the key's store.
type storeSet struct {
	mu     sync.Mutex                    // serialises changes of stores
	stores atomic.Pointer[[]*localStore] // copied on change, so readers take no lock
	slots  atomic.Pointer[slotGuard]     // Cluster: which node serves each slot (nil on one server)
	index  sync.Map                      // key -> *lsEntry holding a value
}

func newStoreSet() *storeSet {
	ss := &storeSet{}
	ss.stores.Store(new([]*localStore))
	return ss
}

// newStore is the client's NewCacheStoreFn.
func (ss *storeSet) newStore(max int) rueidis.CacheStore {
	s := newLocalStore(max, ss)
	ss.mu.Lock()
	next := append(append([]*localStore(nil), *ss.stores.Load()...), s)
	ss.stores.Store(&next)
	ss.mu.Unlock()
	if g := ss.slots.Load(); g != nil {
		g.newStore() // the store caches nothing until a probe tells it its node
	}
	return s
}

func (ss *storeSet) remove(s *localStore) {
	ss.mu.Lock()
	cur := *ss.stores.Load()
	next := make([]*localStore, 0, len(cur))
	for _, o := range cur {
		if o != s {
			next = append(next, o)
		}
	}
	ss.stores.Store(&next)
	ss.mu.Unlock()
}

// peek returns key's cached value from the index, as Flight would for a hit: while its local expiry
// has not passed and, on Cluster, its slot's generation is the one it was read in (see slotGuard). A
// key is read through one connection per node, so at most one store holds a value that counts.
func (ss *storeSet) peek(key string, now time.Time) (*lsValue, bool) {
	x, ok := ss.index.Load(key)
	if !ok {
		return nil, false
	}
	e := x.(*lsEntry)
	v := e.cur.Load()
	if v == nil || now.UnixMilli() >= v.xat {
		return nil, false
	}
	if g := ss.slots.Load(); g != nil && g.gens[e.slot].Load() != v.gen {
		return nil, false
	}
	if !e.visited.Load() { // a write only when the flag changes: hits share no cache line
		e.visited.Store(true)
	}
	return v, true
}

// guard returns the Cluster slot guard, or nil (also for a nil set).
func (ss *storeSet) guard() *slotGuard {
	if ss == nil {
		return nil
	}
	return ss.slots.Load()
}

// invalidate applies the backend's own write of keys (of everything when all) to every store.
func (ss *storeSet) invalidate(keys []string, all bool) {
	for _, s := range *ss.stores.Load() {
		s.invalidate(keys, all)
	}
}

var _ rueidis.CacheStore = (*localStore)(nil)
