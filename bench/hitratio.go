package bench

import (
	"fmt"
	"math/rand"
)

// HitRatio is the hit ratio of one library on one trace at one capacity.
type HitRatio struct {
	Lib      string
	Ours     bool
	Trace    string // the trace's name (see [HitRatioTraces])
	Capacity int
	Requests int
	Ratio    float64 // hits / requests
	Bounded  bool    // false: the library has no size bound and kept every key
}

// HitRatioKeyspace is the number of distinct keys of the Zipf hit-ratio traces.
const HitRatioKeyspace = 100_000

// HitRatioCapacities are the capacities every trace is replayed at.
var HitRatioCapacities = []int{1_000, 10_000}

// A HitTrace is a seeded sequence of keys for the hit-ratio count; Keys builds it for a capacity
// (some traces are shaped by the capacity, as a loop just longer than the cache is).
type HitTrace struct {
	Name string // short, for the table's column
	Doc  string // one sentence: what the trace is and what it tests
	Keys func(requests, capacity int) []string
}

// HitRatioTraces returns the traces of the hit-ratio count: two Zipf traces (frequency: a few keys
// take most requests), a loop just longer than the cache (a scan that LRU gets wrong every time), a
// shifting hot set and a recency trace drawn from an LRU stack (recent keys come back; in the
// latter, frequency says nothing and LRU is the best policy there is), so that no policy wins by
// being tuned to one shape.
func HitRatioTraces() []HitTrace {
	return []HitTrace{
		{Name: "Zipf s=1.01", Doc: fmt.Sprintf("Zipf-distributed keys (s = 1.01, seed 42) over %d keys.", HitRatioKeyspace),
			Keys: func(n, _ int) []string { return NewTrace(42, n, HitRatioKeyspace, 1.01, "k:").Keys }},
		{Name: "Zipf s=1.20", Doc: fmt.Sprintf("Zipf-distributed keys (s = 1.20, seed 42) over %d keys.", HitRatioKeyspace),
			Keys: func(n, _ int) []string { return NewTrace(42, n, HitRatioKeyspace, 1.2, "k:").Keys }},
		{Name: "loop", Doc: "A loop over 1.25 × capacity keys, k0, k1, ... again and again: LRU (and FIFO) evict each key just before it comes back and never hit; a policy that keeps part of the loop hits on that part.",
			Keys: func(n, capacity int) []string { return LoopTrace(n, capacity+capacity/4) }},
		{Name: "drift", Doc: "A shifting hot set (seed 42): Zipf-distributed keys (s = 1.1) over a window of 4 × capacity keys that moves on by one key every 20 requests, so that yesterday's favourites fade: frequency goes stale, recency tells.",
			Keys: func(n, capacity int) []string { return DriftTrace(42, n, 4*capacity, 20, 1.1) }},
		{Name: "recency", Doc: "An LRU stack model (seed 42): 80% of requests go back to the key at an exponentially distributed depth (mean capacity / 2) of the stack of keys by last use, 20% to a new key. Recency is everything here, frequency nothing: LRU's own ground.",
			Keys: func(n, capacity int) []string { return RecencyTrace(42, n, 0.8, float64(capacity)/2) }},
	}
}

// LoopTrace returns n requests that cycle through length keys in order.
func LoopTrace(n, length int) []string {
	names := make([]string, length)
	for i := range names {
		names[i] = fmt.Sprintf("l:%d", i)
	}
	keys := make([]string, n)
	for i := range keys {
		keys[i] = names[i%length]
	}
	return keys
}

// DriftTrace returns n requests drawn from a Zipf distribution with exponent s over a window of
// window keys that moves on by one key every every requests; the key at each rank of the window is
// fixed by a seeded permutation, so the hottest key of the window is not always its newest. The
// same arguments give the same trace.
func DriftTrace(seed int64, n, window, every int, s float64) []string {
	r := rand.New(rand.NewSource(seed))
	z := rand.NewZipf(r, s, 1, uint64(window-1))
	perm := r.Perm(window)
	keys := make([]string, n)
	names := map[int]string{}
	for i := range keys {
		id := i/every + perm[z.Uint64()]
		name, ok := names[id]
		if !ok {
			name = fmt.Sprintf("d:%d", id)
			names[id] = name
		}
		keys[i] = name
	}
	return keys
}

// RecencyTrace returns n requests drawn from an LRU stack model: with probability reuse a request
// goes back to the key at depth d of the stack of keys ordered by last use (d exponentially
// distributed with the given mean; a depth past the stack's bottom asks for a new key), otherwise
// to a key never seen before. The same arguments give the same trace.
func RecencyTrace(seed int64, n int, reuse, meanDepth float64) []string {
	r := rand.New(rand.NewSource(seed))
	// Each key is stamped with the request index of its last use; a Fenwick tree over the indexes
	// finds the key at a given depth (the depth-th most recent stamp) in O(log n).
	tree := make([]int32, n+1)
	add := func(i, v int) {
		for i++; i <= n; i += i & -i {
			tree[i] += int32(v)
		}
	}
	// kth returns the index of the k-th (1-based) stamp in increasing order.
	kth := func(k int) int {
		pos, step := 0, 1
		for step*2 <= n {
			step *= 2
		}
		for ; step > 0; step /= 2 {
			if pos+step <= n && int(tree[pos+step]) < k {
				pos += step
				k -= int(tree[pos])
			}
		}
		return pos // 0-based index of the stamp
	}
	owner := make([]int32, n) // stamp index → key id
	last := []int{}           // key id → its stamp index
	live := 0                 // keys on the stack
	keys := make([]string, n)
	names := []string{}
	for i := range keys {
		id := -1
		if live > 0 && r.Float64() < reuse {
			if d := int(r.ExpFloat64() * meanDepth); d < live {
				id = int(owner[kth(live-d)]) // depth 0 is the most recent stamp
			}
		}
		if id < 0 {
			id = len(last)
			last = append(last, -1)
			names = append(names, fmt.Sprintf("r:%d", id))
			live++
		} else {
			add(last[id], -1)
		}
		last[id] = i
		owner[i] = int32(id)
		add(i, 1)
		keys[i] = names[id]
	}
	return keys
}

// HitRatios replays every trace of [HitRatioTraces] (requests keys each) on every in-memory library
// at every capacity of [HitRatioCapacities], as a cache-aside client would (Get, and Set on a miss),
// and returns the hit ratios. It counts; it does not time. Caches that buffer writes (ristretto) are
// settled after each Set, so that no write is dropped for lack of time.
func HitRatios(requests int) ([]HitRatio, error) {
	var out []HitRatio
	for _, tr := range HitRatioTraces() {
		for _, capacity := range HitRatioCapacities {
			keys := tr.Keys(requests, capacity)
			for _, lib := range MemLibs() {
				r, err := replay(lib, capacity, keys)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", lib.Name, err)
				}
				out = append(out, HitRatio{Lib: lib.Name, Ours: lib.Ours, Trace: tr.Name, Capacity: capacity,
					Requests: requests, Ratio: r, Bounded: lib.Bounded})
			}
		}
	}
	return out, nil
}

func replay(lib MemLib, capacity int, keys []string) (float64, error) {
	c, err := lib.New(capacity)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	v := &Value{}
	hits := 0
	for _, k := range keys {
		if _, ok := c.Get(k); ok {
			hits++
			continue
		}
		c.Set(k, v)
		Settle(c)
	}
	return float64(hits) / float64(len(keys)), nil
}
