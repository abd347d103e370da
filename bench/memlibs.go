package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/jellydator/ttlcache/v3"
	"github.com/maypok86/otter/v2"
	gocache "github.com/patrickmn/go-cache"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/backends/memory"
)

// MemCache is the common shape of the in-memory caches compared: a get and a set of a *Value
// with the [TTL]. Each library is used through its own typed API, with its defaults except where
// a setting is needed to bound it or to keep it from dropping writes.
type MemCache interface {
	Get(key string) (*Value, bool)
	Set(key string, v *Value)
	Close()
}

// MemLib is one in-memory cache library.
type MemLib struct {
	Name    string
	Ours    bool // cashews itself, not a peer
	Bounded bool // New honours the capacity (go-cache has no bound)
	// New returns an empty cache that holds at most capacity entries (when Bounded).
	New func(capacity int) (MemCache, error)
}

// MemLibs returns the in-memory caches compared, ours first.
func MemLibs() []MemLib {
	return []MemLib{
		{Name: "cashews", Ours: true, Bounded: true, New: newCashewsMem},
		{Name: "cashews-backend", Ours: true, Bounded: true, New: newMemoryBackend},
		{Name: "otter", Bounded: true, New: newOtter},
		{Name: "otter-coarse", Bounded: true, New: newOtterCoarse},
		{Name: "ristretto", Bounded: true, New: newRistretto},
		{Name: "golang-lru", Bounded: true, New: newGolangLRU},
		{Name: "ttlcache", Bounded: true, New: newTTLCache},
		{Name: "go-cache", Bounded: false, New: newGoCache},
	}
}

var bg = context.Background()

// cashews through the Cache: mem://?size=N, cashews.Get[*Value] and c.Set.
type cashewsMem struct{ c *cashews.Cache }

func newCashewsMem(capacity int) (MemCache, error) {
	c := cashews.New()
	if err := c.Setup(fmt.Sprintf("mem://?size=%d", capacity)); err != nil {
		c.Close()
		return nil, err
	}
	return cashewsMem{c}, nil
}

func (m cashewsMem) Get(key string) (*Value, bool) {
	v, ok, _ := cashews.Get[*Value](bg, m.c, key)
	return v, ok
}
func (m cashewsMem) Set(key string, v *Value) { m.c.Set(bg, key, v, TTL) }
func (m cashewsMem) Close()                   { m.c.Close() }

// The bare memory backend, without the Cache in front.
type memoryBackend struct{ b *memory.Backend }

func newMemoryBackend(capacity int) (MemCache, error) {
	return memoryBackend{memory.New(memory.Options{MaxEntries: int64(capacity)})}, nil
}

func (m memoryBackend) Get(key string) (*Value, bool) {
	v, ok, _ := m.b.Get(bg, key)
	if !ok {
		return nil, false
	}
	return v.(*Value), true
}
func (m memoryBackend) Set(key string, v *Value) { m.b.Set(bg, key, v, TTL, backends.SetAlways) }
func (m memoryBackend) Close()                   { m.b.Close() }

// otter v2: MaximumSize and ExpiryWriting(TTL).
type otterCache struct {
	c     *otter.Cache[string, *Value]
	clock *otter.CoarseClock // nil: otter's default clock
}

func newOtter(capacity int) (MemCache, error) {
	c, err := otter.New(&otter.Options[string, *Value]{
		MaximumSize:      capacity,
		ExpiryCalculator: otter.ExpiryWriting[string, *Value](TTL),
	})
	if err != nil {
		return nil, err
	}
	return otterCache{c: c}, nil
}

// otter v2 as above, with its CoarseClock (read once per millisecond by a goroutine) in place of the
// default clock, which reads the time on every Get: otter's own advice for read-heavy caches with
// expiry, and the closest to the memory backend's coarse clock.
func newOtterCoarse(capacity int) (MemCache, error) {
	clock := otter.NewCoarseClock(time.Millisecond)
	c, err := otter.New(&otter.Options[string, *Value]{
		MaximumSize:      capacity,
		ExpiryCalculator: otter.ExpiryWriting[string, *Value](TTL),
		Clock:            clock,
	})
	if err != nil {
		clock.Stop()
		return nil, err
	}
	return otterCache{c: c, clock: clock}, nil
}

func (o otterCache) Get(key string) (*Value, bool) { return o.c.GetIfPresent(key) }
func (o otterCache) Set(key string, v *Value)      { o.c.Set(key, v) }
func (o otterCache) Close() {
	o.c.StopAllGoroutines()
	if o.clock != nil {
		o.clock.Stop()
	}
}

// Wait runs otter's pending maintenance (its writes reach the eviction policy through a buffer that
// another goroutine drains), so that the hit-ratio replay sees otter at its bound, not above it.
func (o otterCache) Wait() { o.c.CleanUp() }

// ristretto v2: cost 1 per entry, MaxCost = capacity, NumCounters = 10 x capacity as its README
// advises, IgnoreInternalCost so that the cost is the entry count (ristretto#363).
type ristrettoCache struct {
	c *ristretto.Cache[string, *Value]
}

func newRistretto(capacity int) (MemCache, error) {
	c, err := ristretto.NewCache(&ristretto.Config[string, *Value]{
		NumCounters:        int64(capacity) * 10,
		MaxCost:            int64(capacity),
		BufferItems:        64,
		IgnoreInternalCost: true,
	})
	if err != nil {
		return nil, err
	}
	return ristrettoCache{c}, nil
}

func (r ristrettoCache) Get(key string) (*Value, bool) { return r.c.Get(key) }
func (r ristrettoCache) Set(key string, v *Value)      { r.c.SetWithTTL(key, v, 1, TTL) }
func (r ristrettoCache) Close()                        { r.c.Close() }

// Wait makes ristretto's buffered sets visible (used while warming and for the hit ratio).
func (r ristrettoCache) Wait() { r.c.Wait() }

// golang-lru v2 expirable.LRU: one TTL for the whole cache. Its expiry goroutine never stops
// (documented by the library).
type lruCache struct {
	c *expirable.LRU[string, *Value]
}

func newGolangLRU(capacity int) (MemCache, error) {
	return lruCache{expirable.NewLRU[string, *Value](capacity, nil, TTL)}, nil
}

func (l lruCache) Get(key string) (*Value, bool) { return l.c.Get(key) }
func (l lruCache) Set(key string, v *Value)      { l.c.Add(key, v) }
func (l lruCache) Close()                        {}

// ttlcache v3: WithCapacity and WithTTL; its defaults otherwise (a hit extends the TTL).
type ttlCache struct {
	c *ttlcache.Cache[string, *Value]
}

func newTTLCache(capacity int) (MemCache, error) {
	return ttlCache{ttlcache.New(
		ttlcache.WithTTL[string, *Value](TTL),
		ttlcache.WithCapacity[string, *Value](uint64(capacity)),
	)}, nil
}

func (t ttlCache) Get(key string) (*Value, bool) {
	it := t.c.Get(key)
	if it == nil {
		return nil, false
	}
	return it.Value(), true
}
func (t ttlCache) Set(key string, v *Value) { t.c.Set(key, v, ttlcache.DefaultTTL) }
func (t ttlCache) Close()                   {}

// go-cache: a map with a janitor; it has no size bound, so capacity is ignored.
type goCache struct{ c *gocache.Cache }

func newGoCache(int) (MemCache, error) {
	return goCache{gocache.New(TTL, time.Minute)}, nil
}

func (g goCache) Get(key string) (*Value, bool) {
	v, ok := g.c.Get(key)
	if !ok {
		return nil, false
	}
	return v.(*Value), true
}
func (g goCache) Set(key string, v *Value) { g.c.Set(key, v, gocache.DefaultExpiration) }
func (g goCache) Close()                   {}

// waiter is implemented by caches whose writes become visible, or reach their bound, asynchronously
// (ristretto, otter).
type waiter interface{ Wait() }

// Settle waits until c's pending writes are visible, for the caches that buffer them.
func Settle(c MemCache) {
	if w, ok := c.(waiter); ok {
		w.Wait()
	}
}
