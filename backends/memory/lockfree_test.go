package memory

import (
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestTableChurn inserts and removes many keys in one shard, so that the table grows, fills with
// tombstones and is rebuilt many times, and checks after each phase that every present key is found,
// every removed one is not, and the counts agree with the slots (checkInvariants).
func TestTableChurn(t *testing.T) {
	b := newTest(t, Options{Shards: 1, CheckInterval: -1})
	r := rand.New(rand.NewSource(1))
	present := map[string]bool{}
	for phase := range 20 {
		for range 500 {
			k := fmt.Sprint("k", r.Intn(2000))
			if r.Intn(3) == 0 {
				b.Delete(ctx, k)
				delete(present, k)
			} else {
				mustSet(t, b, k, phase, 0)
				present[k] = true
			}
		}
		checkInvariants(t, b)
		for i := range 2000 {
			k := fmt.Sprint("k", i)
			if got := exists(t, b, k); got != present[k] {
				t.Fatalf("phase %d: Exists(%q) = %v, want %v", phase, k, got, present[k])
			}
		}
	}
	if s := &b.shards[0]; len(s.tab.Load().slots) > 8*max(s.entries, 1) {
		t.Errorf("table of %d slots for %d entries: tombstones were not dropped", len(s.tab.Load().slots), s.entries)
	}
}

// TestLockFreeReadersNeverMissAPresentKey runs readers of keys that are always present against
// writers that insert and delete other keys of the same shard (so the table is rebuilt under the
// readers) and replace the values of the read keys (so entries are swapped under them): a reader
// must find every read key every time, with a value some writer stored.
func TestLockFreeReadersNeverMissAPresentKey(t *testing.T) {
	b := newTest(t, Options{Shards: 1, CheckInterval: -1})
	const stable = 64
	for i := range stable {
		mustSet(t, b, fmt.Sprint("stable", i), 0, time.Hour)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var misses, bad atomic.Int64
	for g := range 2 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				k := fmt.Sprint("stable", (i+g)%stable)
				v, ok, err := b.Get(ctx, k)
				if err != nil || !ok {
					misses.Add(1)
					continue
				}
				if n, isInt := v.(int); !isInt || n < 0 {
					bad.Add(1)
				}
			}
		})
	}
	n := 3000
	if raceEnabled {
		n = 600
	}
	for i := range n {
		k := fmt.Sprint("churn", i)
		mustSet(t, b, k, i, 0)
		if i >= 100 {
			b.Delete(ctx, fmt.Sprint("churn", i-100))
		}
		mustSet(t, b, fmt.Sprint("stable", i%stable), i, time.Hour) // swaps the entry
		if _, err := b.Incr(ctx, "counter", 1, 0); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if misses.Load() != 0 || bad.Load() != 0 {
		t.Errorf("readers missed a present key %d times and read a wrong value %d times; want 0 and 0", misses.Load(), bad.Load())
	}
	checkInvariants(t, b)
}

// TestCoarseClockTTL checks Get's expiry on the system clock (the bubble's fake time): a key read
// throughout its TTL is a miss once the TTL and the clock's resolution have passed.
func TestCoarseClockTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(Options{CheckInterval: -1})
		defer b.Close()
		mustSet(t, b, "k", "v", 10*time.Millisecond)
		for range 9 {
			if _, ok := get(t, b, "k"); !ok {
				t.Fatal("the key expired early")
			}
			time.Sleep(time.Millisecond)
		}
		time.Sleep(time.Millisecond + coarseResolution)
		if _, ok := get(t, b, "k"); ok {
			t.Error("Get found the key a resolution after its TTL; want a miss")
		}
		if exists(t, b, "k") {
			t.Error("Exists found the key a resolution after its TTL; want false")
		}
	})
}

// TestInjectedClockIsReadDirectly checks that a backend with an injected clock has no coarse clock:
// a key expires the moment the clock passes its TTL.
func TestInjectedClockIsReadDirectly(t *testing.T) {
	clock := newFakeClock()
	b := newTest(t, Options{Clock: clock, CheckInterval: -1})
	if b.coarse != nil {
		t.Fatal("a backend with an injected clock started a coarse clock")
	}
	mustSet(t, b, "k", "v", time.Second)
	clock.Advance(time.Second - 1)
	if _, ok := get(t, b, "k"); !ok {
		t.Fatal("the key expired a nanosecond early")
	}
	clock.Advance(1)
	if _, ok := get(t, b, "k"); ok {
		t.Error("the key is still there at its TTL")
	}
}

// recencyTrace is an LRU stack model: with probability reuse a request goes back to the key at an
// exponentially distributed depth (mean meanDepth) of the stack of keys by last use, otherwise to a
// new key. (A simple O(depth) version of bench.RecencyTrace, for short traces.)
func recencyTrace(seed int64, n int, reuse, meanDepth float64) []string {
	r := rand.New(rand.NewSource(seed))
	var stack []string // most recent last
	out := make([]string, n)
	for i := range out {
		k := ""
		if len(stack) > 0 && r.Float64() < reuse {
			if d := int(r.ExpFloat64() * meanDepth); d < len(stack) {
				j := len(stack) - 1 - d
				k = stack[j]
				stack = append(stack[:j], stack[j+1:]...)
			}
		}
		if k == "" {
			k = fmt.Sprint("r", i)
		}
		stack = append(stack, k)
		out[i] = k
	}
	return out
}

// TestHitRatioRecency checks the ghost admission: on an LRU stack trace, where a key evicted as a
// newcomer is the one most likely to come back, SIEVE with the ghost stays within 10% of LRU (it
// reaches 93-95%; plain SIEVE 62-79%, which fails this test).
func TestHitRatioRecency(t *testing.T) {
	n := 60_000
	if testing.Short() || raceEnabled {
		n = 20_000
	}
	trace := recencyTrace(42, n, 0.8, 250)
	base := newLRU(500)
	hits := 0
	for _, k := range trace {
		if base.access(k) {
			hits++
		}
	}
	lruRatio := float64(hits) / float64(n)
	for _, shards := range []int{1, 0} {
		b := newTest(t, Options{MaxEntries: 500, Shards: shards, CheckInterval: -1})
		got := hitRatio(t, b, trace)
		t.Logf("recency trace, capacity 500, %d shards: LRU %.4f, SIEVE with ghost %.4f", len(b.shards), lruRatio, got)
		if got < 0.9*lruRatio {
			t.Errorf("%d shards: hit ratio %.4f, want at least 90%% of LRU's %.4f", len(b.shards), got, lruRatio)
		}
	}
}

// TestGhost checks the filter: keys added are found in the current and the previous generation and
// forgotten after two rotations, and unrelated keys are rarely claimed.
func TestGhost(t *testing.T) {
	var g ghost
	r := rand.New(rand.NewSource(3))
	first := make([]uint64, 100)
	for i := range first {
		first[i] = r.Uint64()
		g.add(first[i], 100)
	}
	for _, h := range first {
		if !g.has(h) {
			t.Fatalf("key %x added to the current generation is not found", h)
		}
	}
	for range 100 { // fills the next generation: the first one is now the previous
		g.add(r.Uint64(), 100)
	}
	for _, h := range first {
		if !g.has(h) {
			t.Fatalf("key %x of the previous generation is not found", h)
		}
	}
	for range 200 { // two more rotations: the first generation is gone
		g.add(r.Uint64(), 100)
	}
	found := 0
	for _, h := range first {
		if g.has(h) {
			found++
		}
	}
	stranger := 0
	for range 10_000 {
		if g.has(r.Uint64()) {
			stranger++
		}
	}
	if found > 10 || stranger > 500 {
		t.Errorf("after two rotations %d of 100 old keys are still claimed, and %d of 10000 strangers; want at most 10 and 500 (false positives only)", found, stranger)
	}
}
