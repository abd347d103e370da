package bench

import "fmt"

// HitRatio is the hit ratio of one library on one trace at one capacity.
type HitRatio struct {
	Lib      string
	Ours     bool
	Capacity int
	S        float64 // the Zipf exponent of the trace
	Requests int
	Ratio    float64 // hits / requests
	Bounded  bool    // false: the library has no size bound and kept every key
}

// HitRatioKeyspace is the number of distinct keys of the hit-ratio traces.
const HitRatioKeyspace = 100_000

// HitRatios replays seeded Zipf traces of requests keys over [HitRatioKeyspace] keys on every
// in-memory library at capacities 1,000 and 10,000, as a cache-aside client would (Get, and Set on
// a miss), and returns the hit ratios. It counts; it does not time. Caches that buffer writes
// (ristretto) are settled after each Set, so that no write is dropped for lack of time.
func HitRatios(requests int) ([]HitRatio, error) {
	var out []HitRatio
	for _, s := range []float64{1.01, 1.2} {
		tr := NewTrace(42, requests, HitRatioKeyspace, s, "k:")
		for _, capacity := range []int{1_000, 10_000} {
			for _, lib := range MemLibs() {
				r, err := replay(lib, capacity, tr.Keys)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", lib.Name, err)
				}
				out = append(out, HitRatio{Lib: lib.Name, Ours: lib.Ours, Capacity: capacity, S: s,
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
