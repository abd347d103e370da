package memory

import (
	"container/list"
	"fmt"
	"math/rand"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews/backends"
)

// zipfKeys returns n keys drawn from a seeded Zipf distribution over keyspace keys.
func zipfKeys(seed int64, n int, keyspace uint64, s float64) []string {
	r := rand.New(rand.NewSource(seed))
	z := rand.NewZipf(r, s, 1, keyspace-1)
	names := make([]string, keyspace)
	for i := range names {
		names[i] = fmt.Sprintf("key:%d", i)
	}
	keys := make([]string, n)
	for i := range keys {
		keys[i] = names[z.Uint64()]
	}
	return keys
}

// lru is a plain LRU of keys, the baseline for the hit-ratio comparison.
type lru struct {
	cap   int
	order *list.List
	items map[string]*list.Element
}

func newLRU(capacity int) *lru {
	return &lru{cap: capacity, order: list.New(), items: make(map[string]*list.Element)}
}

// access reports a hit, or inserts the key on a miss.
func (l *lru) access(key string) bool {
	if e, ok := l.items[key]; ok {
		l.order.MoveToFront(e)
		return true
	}
	l.items[key] = l.order.PushFront(key)
	if l.order.Len() > l.cap {
		old := l.order.Back()
		l.order.Remove(old)
		delete(l.items, old.Value.(string))
	}
	return false
}

// hitRatio replays the trace on the backend as a cache-aside client would: Get, and Set on a miss.
func hitRatio(t testing.TB, b *Backend, trace []string) float64 {
	hits := 0
	for _, k := range trace {
		if _, ok, _ := b.Get(ctx, k); ok {
			hits++
		} else {
			mustSet(t, b, k, 1, 0)
		}
	}
	return float64(hits) / float64(len(trace))
}

// TestHitRatioZipf compares SIEVE with LRU on a seeded Zipf trace, capacity 1000 over 100k keys.
// SIEVE in one shard must do at least as well as LRU; the sharded default is reported.
func TestHitRatioZipf(t *testing.T) {
	n := 200_000
	if testing.Short() || raceEnabled {
		n = 50_000
	}
	for _, s := range []float64{1.01, 1.2} {
		trace := zipfKeys(42, n, 100_000, s)
		base := newLRU(1000)
		hits := 0
		for _, k := range trace {
			if base.access(k) {
				hits++
			}
		}
		lruRatio := float64(hits) / float64(len(trace))

		one := newTest(t, Options{MaxEntries: 1000, Shards: 1, CheckInterval: -1})
		sieve := hitRatio(t, one, trace)
		sharded := newTest(t, Options{MaxEntries: 1000, CheckInterval: -1})
		sieveSharded := hitRatio(t, sharded, trace)
		t.Logf("Zipf s=%.2f, %d requests, capacity 1000 of 100000 keys: LRU %.4f, SIEVE 1 shard %.4f, SIEVE %d shards %.4f",
			s, n, lruRatio, sieve, len(sharded.shards), sieveSharded)
		if sieve < lruRatio {
			t.Errorf("s=%.2f: SIEVE hit ratio %.4f, want at least LRU's %.4f", s, sieve, lruRatio)
		}
		if sieveSharded < lruRatio*0.97 {
			t.Errorf("s=%.2f: sharded SIEVE hit ratio %.4f, want within 3%% of LRU's %.4f", s, sieveSharded, lruRatio)
		}
	}
}

const benchKeyspace = 1 << 16

var benchTrace = sync.OnceValue(func() []string { return zipfKeys(7, 1<<20, benchKeyspace, 1.01) })

// populated returns a backend holding every key of the benchmark keyspace.
func populated(b *testing.B, opts Options, ttl time.Duration) (*Backend, []string) {
	trace := benchTrace()
	opts.CheckInterval = -1
	c := newTest(b, opts)
	for i := range benchKeyspace {
		mustSet(b, c, fmt.Sprintf("key:%d", i), i, ttl)
	}
	return c, trace
}

func BenchmarkGet(b *testing.B) {
	for _, ttl := range []time.Duration{0, time.Hour} {
		b.Run(fmt.Sprint("ttl=", ttl), func(b *testing.B) {
			c, trace := populated(b, Options{}, ttl)
			mask := len(trace) - 1
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				c.Get(ctx, trace[i&mask])
				i++
			}
		})
	}
}

func BenchmarkGetParallel(b *testing.B) {
	c, trace := populated(b, Options{}, 0)
	mask := len(trace) - 1
	var seed atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(1)) * 9973
		for pb.Next() {
			c.Get(ctx, trace[i&mask])
			i++
		}
	})
}

// values are boxed once so that Set benchmarks measure the store, not the boxing of ints.
var benchValues = func() []any {
	v := make([]any, 1024)
	for i := range v {
		v[i] = i * 1000
	}
	return v
}()

func BenchmarkSet(b *testing.B) {
	// Bounded at a quarter of the keyspace, so most sets insert and evict.
	c, trace := populated(b, Options{MaxEntries: benchKeyspace / 4}, 0)
	mask := len(trace) - 1
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Set(ctx, trace[i&mask], benchValues[i&1023], 0, backends.SetAlways)
		i++
	}
}

func BenchmarkSetParallel(b *testing.B) {
	c, trace := populated(b, Options{MaxEntries: benchKeyspace / 4}, 0)
	mask := len(trace) - 1
	var seed atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(1)) * 9973
		for pb.Next() {
			c.Set(ctx, trace[i&mask], benchValues[i&1023], 0, backends.SetAlways)
			i++
		}
	})
}

// BenchmarkMixed is 75% Get and 25% Set on the Zipf stream, bounded at a quarter of the keyspace;
// it reports the hit ratio next to the speed.
func BenchmarkMixed(b *testing.B) {
	for _, parallel := range []bool{false, true} {
		b.Run(fmt.Sprint("parallel=", parallel), func(b *testing.B) {
			c, trace := populated(b, Options{MaxEntries: benchKeyspace / 4}, 0)
			mask := len(trace) - 1
			var seed, hits, gets atomic.Int64
			op := func(i int, h, g *int64) {
				k := trace[i&mask]
				if i&3 == 3 {
					c.Set(ctx, k, benchValues[i&1023], 0, backends.SetAlways)
					return
				}
				*g++
				if _, ok, _ := c.Get(ctx, k); ok {
					*h++
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			if parallel {
				b.RunParallel(func(pb *testing.PB) {
					i := int(seed.Add(1)) * 9973
					var h, g int64
					for pb.Next() {
						op(i, &h, &g)
						i++
					}
					hits.Add(h)
					gets.Add(g)
				})
			} else {
				var h, g int64
				for i := 0; i < b.N; i++ {
					op(i, &h, &g)
				}
				hits.Add(h)
				gets.Add(g)
			}
			if g := gets.Load(); g > 0 {
				b.ReportMetric(float64(hits.Load())/float64(g), "hit-ratio")
			}
		})
	}
}

// BenchmarkMemory100k reports the live heap of 100,000 entries with 32-byte keys and 32-byte values
// and a TTL, as otter's memory benchmark measures (otter: 10.95 MB).
func BenchmarkMemory100k(b *testing.B) {
	const n = 100_000
	keys := make([]string, n)
	vals := make([][]byte, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%032d", i)
		vals[i] = []byte(fmt.Sprintf("%032d", i))
	}
	var heap float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		c := New(Options{MaxEntries: n, CheckInterval: -1})
		for i := range keys {
			c.Set(ctx, keys[i], vals[i], time.Hour, backends.SetAlways)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap = float64(after.HeapAlloc-before.HeapAlloc) / 1e6
		runtime.KeepAlive(c)
		c.Close()
	}
	b.ReportMetric(heap, "MB-live")
}
