package crossbackend_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/backends/backendtest"
	"github.com/cashews-go/cashews/backends/disk"
	"github.com/cashews-go/cashews/strategies"
)

// backendCounts returns the command counts of the only backend of c, without name and evictions.
func backendCounts(t *testing.T, c *cashews.Cache) cashews.BackendStats {
	t.Helper()
	s := c.Stats()
	if len(s.Backends) != 1 {
		t.Fatalf("Stats has %d backends; want 1", len(s.Backends))
	}
	b := s.Backends[0]
	b.Name, b.Prefix, b.Evictions = "", "", backends.Evictions{}
	return b
}

// TestStatsEveryBackend drives one sequence of commands and wrapped calls on every backend and
// checks that each counts the same exact figures.
func TestStatsEveryBackend(t *testing.T) {
	forEachSetup(t, nil, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, s *setup) {
		ctx := context.Background()
		must := func(results ...any) {
			t.Helper()
			if err, _ := results[len(results)-1].(error); err != nil {
				t.Fatal(err)
			}
		}
		must(c.Set(ctx, "a", 1, 0))                                          // set 1
		must(c.Set(ctx, "a", 2, 0, cashews.IfAbsent()))                      // turned down
		must(c.Set(ctx, "b", 2, 0, cashews.IfAbsent()))                      // set 2
		must(c.Set(ctx, "zz", 3, 0, cashews.IfPresent()))                    // turned down
		must(cashews.Get[int](ctx, c, "a"))                                  // hit 1
		must(cashews.Get[int](ctx, c, "nope"))                               // miss 1
		must(cashews.GetMany[int](ctx, c, "a", "b", "nope"))                 // hits 3, miss 2
		must(nil, c.SetMany(ctx, map[string]any{"c": 1, "d": 2}, time.Hour)) // sets 4
		must(c.Delete(ctx, "a"))                                             // deletes 1
		must(c.Delete(ctx, "a"))                                             // absent
		must(c.DeleteMany(ctx, "b", "c", "nope"))                            // deletes 3
		must(c.DeleteMatch(ctx, "d*"))                                       // deletes 4
		must(c.Set(ctx, "e", 5, 0, cashews.Tags("t")))                       // set 5
		must(c.DeleteTags(ctx, "t"))                                         // deletes 5
		must(c.Exists(ctx, "e"))
		must(c.Incr(ctx, "n", 1, 0))
		must(cashews.GetOrSet(ctx, c, "g", 0, func(context.Context) (int, error) { return 7, nil })) // miss 3, set 6
		must(cashews.GetOrSet(ctx, c, "g", 0, func(context.Context) (int, error) { return 8, nil })) // hit 4

		get := cashews.MustWrap(c, func(ctx context.Context, id int) (int, error) {
			clock.Advance(3 * time.Millisecond)
			if id == 2 {
				return 0, errors.New("source down")
			}
			return id, nil
		}, cashews.Name("get"), cashews.Key("f:{.}"), cashews.TTL(time.Hour))
		get(ctx, 1) // miss 4, set 7
		get(ctx, 1) // hit 5
		get(ctx, 2) // miss 5, load error
		get(ctx, 1) // hit 6

		want := cashews.BackendStats{Hits: 6, Misses: 5, Sets: 7, Deletes: 5}
		if got := backendCounts(t, c); got != want {
			t.Errorf("backend: %+v;\nwant %+v", got, want)
		}
		f := c.Stats().Funcs["get"]
		lat := f.LoadLatency
		f.LoadLatency = cashews.Latency{}
		if want := (cashews.FuncStats{Calls: 4, Hits: 2, Misses: 2, Loads: 2, LoadErrors: 1}); f != want {
			t.Errorf("get: %+v;\nwant %+v", f, want)
		}
		if lat.Count != 2 || lat.Sum != 6*time.Millisecond || lat.Buckets[5] != 2 {
			t.Errorf("get's load latency: %+v; want two loads of 3ms", lat)
		}
	})
}

// TestStatsRedisOutage: on a real Redis that is killed, every failed command counts as an error,
// the health breaker's opening counts once, and its fast failures count as errors too; with
// suppress=true they count as suppressed as well.
func TestStatsRedisOutage(t *testing.T) {
	for _, suppress := range []bool{false, true} {
		t.Run(fmt.Sprintf("suppress=%v", suppress), func(t *testing.T) {
			forEachSetup(t, func(s *setup) bool { return s.name == "redis" }, func(t *testing.T, _ *cashews.Cache, _ *backendtest.Clock, s *setup) {
				ctx := context.Background()
				u := s.redis().URL() + "?timeout=2s&dial_timeout=2s"
				if suppress {
					u += "&suppress=true"
				}
				c, _ := newCache(t, u)
				mustSet(t, c, "k", 1)
				if _, _, err := cashews.Get[int](ctx, c, "k"); err != nil {
					t.Fatal(err)
				}
				s.redis().Kill()
				for i := range 5 { // the fifth opens the breaker
					if _, _, err := cashews.Get[int](ctx, c, "k"); (err == nil) != suppress {
						t.Fatalf("Get %d while Redis is down = %v; want an error unless suppressed", i, err)
					}
				}
				for range 3 { // failed fast
					c.Set(ctx, "k", 2, 0)
				}
				want := cashews.BackendStats{Hits: 1, Sets: 1, Errors: 8, BreakerOpens: 1}
				if suppress {
					want.Suppressed = 8
				}
				if got := backendCounts(t, c); got != want {
					t.Errorf("%+v;\nwant %+v", got, want)
				}
			})
		})
	}
}

// faultyDisk is a disk backend whose reads fail while down is set: a disk that cannot answer,
// which a real SQLite file cannot be made to be on demand.
type faultyDisk struct {
	*disk.Backend
	down bool
}

func (f *faultyDisk) Get(ctx context.Context, key string) (any, bool, error) {
	if f.down {
		return nil, false, fmt.Errorf("disk: %w: injected I/O error", backends.ErrUnavailable)
	}
	return f.Backend.Get(ctx, key)
}

// TestStatsDiskErrors: a disk that fails counts errors and opens the breaker as the others do.
func TestStatsDiskErrors(t *testing.T) {
	b, err := disk.New(disk.Options{Dir: t.TempDir(), Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	f := &faultyDisk{Backend: b}
	c, _ := newCache(t)
	if err := c.SetupBackend(f, ""); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mustSet(t, c, "k", 1)
	f.down = true
	for range 6 {
		cashews.Get[int](ctx, c, "k")
	}
	if got, want := backendCounts(t, c), (cashews.BackendStats{Sets: 1, Errors: 6, BreakerOpens: 1}); got != want {
		t.Errorf("%+v; want %+v", got, want)
	}
}

// TestStatsEvictions: mem:// and disk:// count what they evict, by cause, through the Cache.
func TestStatsEvictions(t *testing.T) {
	ctx := context.Background()
	waitEvictions := func(t *testing.T, c *cashews.Cache, ok func(backends.Evictions) bool) backends.Evictions {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			ev := c.Stats().Backends[0].Evictions
			if ok(ev) {
				return ev
			}
			if time.Now().After(deadline) {
				t.Fatalf("Evictions = %+v after 10s", ev)
			}
			time.Sleep(time.Millisecond)
		}
	}
	t.Run("mem", func(t *testing.T) {
		c, clock := newCache(t, "mem://?size=10&shards=1&check_interval=1ms")
		for i := range 15 {
			mustSet(t, c, fmt.Sprint("k", i), i)
		}
		if got, want := c.Stats().Backends[0].Evictions, (backends.Evictions{Size: 5}); got != want {
			t.Errorf("Evictions = %+v; want %+v", got, want)
		}
		for i := range 3 {
			if _, err := c.Set(ctx, fmt.Sprint("t", i), i, time.Second); err != nil {
				t.Fatal(err)
			}
		}
		clock.Advance(2 * time.Second)
		// The three writes evicted three more for size (or the purge got there first); then
		// the purge removes the expired ones that are left.
		ev := waitEvictions(t, c, func(ev backends.Evictions) bool { return ev.Size+ev.Expired == 11 })
		if ev.Size < 5 || ev.Bytes != 0 {
			t.Errorf("Evictions = %+v; want 8 for size and 3 expired, or fewer for size and more expired", ev)
		}
	})
	t.Run("disk", func(t *testing.T) {
		c, clock := newCache(t, diskURL(t, "&size_limit=20000&check_interval=1ms"))
		val := strings.Repeat("x", 1000)
		for i := range 100 {
			mustSet(t, c, fmt.Sprint("k", i), val)
		}
		// The culling runs every millisecond in the background and counts a cull after it commits:
		// compare the figures once they settle (the count read between two equal snapshots of the
		// evictions), giving up after 10 s.
		var ev backends.Evictions
		var n int64
		for deadline := time.Now().Add(10 * time.Second); ; {
			ev = waitEvictions(t, c, func(ev backends.Evictions) bool { return ev.Bytes > 0 })
			var err error
			if n, err = c.KeysCount(ctx); err != nil {
				t.Fatal(err)
			}
			stable := c.Stats().Backends[0].Evictions == ev
			if (stable && ev.Bytes == 100-n) || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		if ev.Bytes != 100-n || ev.Size != 0 || ev.Expired != 0 {
			t.Errorf("Evictions = %+v with %d keys left of 100; want every key gone evicted for bytes", ev, n)
		}
		if err := c.Clear(ctx); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if _, err := c.Set(ctx, fmt.Sprint("t", i), 1, time.Second); err != nil {
				t.Fatal(err)
			}
		}
		clock.Advance(2 * time.Second)
		waitEvictions(t, c, func(ev backends.Evictions) bool { return ev.Expired == 3 })
	})
}

// TestStatsWrapEveryStrategyOnRedis: the strategies count the same on Redis as on mem:// (the root
// package's TestStatsWrapCounts), for those whose state lives in the backend.
func TestStatsWrapEveryStrategyOnRedis(t *testing.T) {
	forEachSetup(t, func(s *setup) bool { return s.name == "redis" || s.name == "disk" }, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, s *setup) {
		ctx := context.Background()
		fail := false
		fn := func(ctx context.Context, id int) (int, error) {
			if fail {
				return 0, errors.New("down")
			}
			return id, nil
		}
		limited := cashews.MustWrap(c, fn, cashews.Name("limited"), cashews.Key("rl:{.}"), strategies.RateLimit(2, time.Minute))
		for range 5 {
			limited(ctx, 1)
		}
		hits := cashews.MustWrap(c, fn, cashews.Name("hits"), cashews.Key("h:{.}"), cashews.TTL(time.Hour), strategies.Hit(1))
		hits(ctx, 1)
		hits(ctx, 1)
		hits(ctx, 1)
		over := cashews.MustWrap(c, fn, cashews.Name("over"), cashews.Key("fo:{.}"), cashews.TTL(time.Hour), strategies.Failover())
		over(ctx, 1)
		fail = true
		over(ctx, 1)
		fs := c.Stats().Funcs
		for name, want := range map[string]cashews.FuncStats{
			"limited": {Calls: 5, Loads: 2, RateLimited: 3},
			"hits":    {Calls: 3, Hits: 1, Misses: 2, Loads: 2},
			"over":    {Calls: 2, Loads: 2, LoadErrors: 1, StaleFailover: 1},
		} {
			got := fs[name]
			got.LoadLatency = cashews.Latency{}
			if got != want {
				t.Errorf("%s: %+v;\nwant %+v", name, got, want)
			}
		}
	})
}
