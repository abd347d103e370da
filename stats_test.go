package cashews_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/backends/backendtest"
	"github.com/cashews-go/cashews/strategies"
)

// backendStats returns the stats of c's backend with prefix.
func backendStats(t *testing.T, c *cashews.Cache, prefix string) cashews.BackendStats {
	t.Helper()
	for _, b := range c.Stats().Backends {
		if b.Prefix == prefix {
			return b
		}
	}
	t.Fatalf("no backend with prefix %q in Stats", prefix)
	return cashews.BackendStats{}
}

// counts returns the command counts of s, without its name, prefix and evictions.
func counts(s cashews.BackendStats) cashews.BackendStats {
	s.Name, s.Prefix, s.Evictions = "", "", backends.Evictions{}
	return s
}

// TestStatsBackendCounts drives a known sequence of commands on two backends and checks every
// counter of each, and the total.
func TestStatsBackendCounts(t *testing.T) {
	c, _ := newCache(t, "mem://", "u:=mem://?size=100")
	ctx := context.Background()
	must := func(results ...any) {
		t.Helper()
		if err, _ := results[len(results)-1].(error); err != nil {
			t.Fatal(err)
		}
	}
	must(c.Set(ctx, "a", 1, 0))                     // set 1
	must(c.Set(ctx, "a", 2, 0, cashews.IfAbsent())) // turned down: no set
	must(c.Set(ctx, "b", 2, 0, cashews.IfAbsent())) // set 2
	must(c.Set(ctx, "zz", 3, 0, cashews.IfPresent()))
	must(cashews.Get[int](ctx, c, "a"))                                                          // hit 1
	must(cashews.Get[int](ctx, c, "nope"))                                                       // miss 1
	must(cashews.GetMany[int](ctx, c, "a", "b", "nope"))                                         // hits 3, miss 2
	must(nil, c.SetMany(ctx, map[string]any{"c": 1, "d": 2}, time.Hour))                         // sets 4
	must(c.Delete(ctx, "a"))                                                                     // deletes 1
	must(c.Delete(ctx, "a"))                                                                     // absent: none
	must(c.DeleteMany(ctx, "b", "c", "nope"))                                                    // deletes 3
	must(c.DeleteMatch(ctx, "d*"))                                                               // deletes 4
	must(c.Set(ctx, "e", 5, 0, cashews.Tags("t")))                                               // set 5
	must(c.DeleteTags(ctx, "t"))                                                                 // deletes 5
	must(c.Exists(ctx, "e"))                                                                     // neither hit nor miss
	must(c.Incr(ctx, "n", 1, 0))                                                                 // nor a set
	must(cashews.GetOrSet(ctx, c, "g", 0, func(context.Context) (int, error) { return 7, nil })) // miss 3, set 6
	must(cashews.GetOrSet(ctx, c, "g", 0, func(context.Context) (int, error) { return 8, nil })) // hit 4

	// The other backend.
	must(c.Set(ctx, "u:1", 1, 0))
	must(cashews.Get[int](ctx, c, "u:1"))
	must(cashews.Get[int](ctx, c, "u:2"))

	want := cashews.BackendStats{Hits: 4, Misses: 3, Sets: 6, Deletes: 5}
	if got := counts(backendStats(t, c, "")); got != want {
		t.Errorf("default backend: %+v; want %+v", got, want)
	}
	wantU := cashews.BackendStats{Hits: 1, Misses: 1, Sets: 1}
	if got := counts(backendStats(t, c, "u:")); got != wantU {
		t.Errorf("u: backend: %+v; want %+v", got, wantU)
	}
	s := c.Stats()
	if got, want := counts(s.Total), (cashews.BackendStats{Hits: 5, Misses: 4, Sets: 7, Deletes: 5}); got != want {
		t.Errorf("Total: %+v; want %+v", got, want)
	}
	if len(s.Backends) != 2 || s.Backends[0].Name != "mem://" || s.Backends[1].Name != "mem://?size=100" {
		t.Errorf("Backends = %+v; want mem:// then mem://?size=100, in setup order", s.Backends)
	}

	// Disabled commands reach no backend and count nowhere.
	c.Disable(cashews.CmdGet)
	must(cashews.Get[int](ctx, c, "g"))
	c.Enable()
	if got := counts(backendStats(t, c, "")); got != want {
		t.Errorf("after a disabled get: %+v; want %+v", got, want)
	}
}

// TestStatsErrors: errors of the backend count, fast failures of its health breaker too, and the
// breaker's openings; errors that are the caller's mistake do not. Under suppress=true the hidden
// errors count as errors and as suppressed.
func TestStatsErrors(t *testing.T) {
	t.Run("plain", func(t *testing.T) {
		c, d, _ := newDown(t, "", true)
		ctx := context.Background()
		if _, err := c.Set(ctx, "s", "text", 0); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Incr(ctx, "s", 1, 0); !errors.Is(err, cashews.ErrNotInteger) {
			t.Fatalf("Incr of text = %v; want ErrNotInteger", err)
		}
		d.down.Store(true)
		for range 5 { // the fifth opens the breaker
			cashews.Get[int](ctx, c, "k")
		}
		for range 3 { // failed fast
			c.Set(ctx, "k", 1, 0)
		}
		want := cashews.BackendStats{Sets: 1, Errors: 8, BreakerOpens: 1}
		if got := counts(backendStats(t, c, "")); got != want {
			t.Errorf("%+v; want %+v", got, want)
		}
		// A caller that gave up is not the backend's failure.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		d.down.Store(false)
		c.Ping(ctx) // closes the breaker
		slow := &slowBackend{Full: newMemory(t, backends.SystemClock{})}
		c2 := cashews.New()
		defer c2.Close()
		if err := c2.SetupBackend(slow, ""); err != nil {
			t.Fatal(err)
		}
		if _, _, err := cashews.Get[int](cctx, c2, "k"); !errors.Is(err, context.Canceled) {
			t.Fatalf("Get with a cancelled context = %v; want context.Canceled", err)
		}
		if got := c2.Stats().Total.Errors; got != 0 {
			t.Errorf("Errors after a cancelled Get = %d; want 0", got)
		}
	})
	t.Run("suppress", func(t *testing.T) {
		c, d, _ := newDown(t, "suppress=true", true)
		ctx := context.Background()
		d.down.Store(true)
		for range 3 {
			if _, found, err := cashews.Get[int](ctx, c, "k"); found || err != nil {
				t.Fatalf("Get = %v, %v; want a suppressed miss", found, err)
			}
		}
		if _, err := c.Delete(ctx, "k"); !errors.Is(err, cashews.ErrUnavailable) { // never pretends: not suppressed
			t.Fatalf("Delete = %v; want ErrUnavailable", err)
		}
		want := cashews.BackendStats{Errors: 4, Suppressed: 3}
		if got := counts(backendStats(t, c, "")); got != want {
			t.Errorf("%+v; want %+v", got, want)
		}
		if got := c.Stats().Total.Suppressed; got != c.SuppressedErrors() || got != 3 {
			t.Errorf("Total.Suppressed = %d, SuppressedErrors = %d; want both 3", got, c.SuppressedErrors())
		}
	})
	t.Run("fail open", func(t *testing.T) {
		c, d, _ := newDown(t, "", true)
		ctx := context.Background()
		get := cashews.MustWrap(c, func(ctx context.Context, id int) (int, error) { return id, nil }, cashews.Key("k:{.}"), cashews.TTL(time.Hour))
		d.down.Store(true)
		get(ctx, 1) // the read fails, the function runs, the store fails: two errors routed around
		want := cashews.BackendStats{Errors: 2, Suppressed: 2}
		if got := counts(backendStats(t, c, "")); got != want {
			t.Errorf("%+v; want %+v", got, want)
		}
	})
}

// slowBackend answers a read only when its context ends, with the context's error.
type slowBackend struct{ backends.Full }

func (s *slowBackend) Get(ctx context.Context, key string) (any, bool, error) {
	<-ctx.Done()
	return nil, false, ctx.Err()
}

var errSource = errors.New("source down")

// TestStatsWrapCounts drives each strategy through a known sequence of calls and checks every
// counter of the wrapped function.
func TestStatsWrapCounts(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		opts []cashews.WrapOption
		run  func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, call func(int) error)
		want cashews.FuncStats // LoadLatency is checked apart
	}{
		{
			name: "simple",
			opts: []cashews.WrapOption{cashews.TTL(time.Hour)},
			run: func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, call func(int) error) {
				call(1) // miss, load
				call(1) // hit
				call(2) // miss, load error
				call(3) // miss, load of ErrNotFound: not an error
				call(1) // hit
			},
			want: cashews.FuncStats{Calls: 5, Hits: 2, Misses: 3, Loads: 3, LoadErrors: 1},
		},
		{
			name: "early",
			opts: []cashews.WrapOption{cashews.TTL(time.Hour), strategies.Early(time.Minute)},
			run: func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, call func(int) error) {
				call(1) // miss, load
				call(1) // hit, fresh
				clock.Advance(2 * time.Minute)
				call(1) // hit, stale: refresh 1
				waitLoads(t, c, "early", 2)
				call(1) // hit, fresh again
			},
			want: cashews.FuncStats{Calls: 4, Hits: 3, Misses: 1, Loads: 2, StaleEarly: 1, Refreshes: 1},
		},
		{
			name: "soft",
			opts: []cashews.WrapOption{cashews.TTL(time.Hour), strategies.Soft(time.Minute)},
			run: func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, call func(int) error) {
				call(1) // miss, load
				call(1) // hit
				clock.Advance(2 * time.Minute)
				call(1) // stale: a miss that loads again, and succeeds
				clock.Advance(2 * time.Minute)
				failSource.Store(true)
				call(1) // stale: a miss, the load fails, the stale result is served
			},
			want: cashews.FuncStats{Calls: 4, Hits: 1, Misses: 3, Loads: 3, LoadErrors: 1, StaleSoft: 1},
		},
		{
			name: "failover",
			opts: []cashews.WrapOption{cashews.TTL(time.Hour), strategies.Failover()},
			run: func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, call func(int) error) {
				call(1) // load
				call(1) // load
				failSource.Store(true)
				call(1) // load fails: the last good result
				call(4) // load fails, nothing stored: the error
			},
			want: cashews.FuncStats{Calls: 4, Loads: 4, LoadErrors: 2, StaleFailover: 1},
		},
		{
			name: "hit",
			opts: []cashews.WrapOption{cashews.TTL(time.Hour), strategies.Hit(2, strategies.UpdateAfter(2))},
			run: func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, call func(int) error) {
				call(1) // miss, load
				call(1) // hit 1
				call(1) // hit 2: refresh
				waitLoads(t, c, "hit", 2)
				call(1) // hit 1 of the new entry
			},
			want: cashews.FuncStats{Calls: 4, Hits: 3, Misses: 1, Loads: 2, Refreshes: 1},
		},
		{
			name: "hit used up",
			opts: []cashews.WrapOption{cashews.TTL(time.Hour), strategies.Hit(1)},
			run: func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, call func(int) error) {
				call(1) // miss
				call(1) // hit
				call(1) // used up: miss
			},
			want: cashews.FuncStats{Calls: 3, Hits: 1, Misses: 2, Loads: 2},
		},
		{
			name: "locked",
			opts: []cashews.WrapOption{cashews.TTL(time.Hour), strategies.Locked()},
			run: func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, call func(int) error) {
				call(1) // miss, load
				call(1) // hit
				call(2) // miss, load error
			},
			want: cashews.FuncStats{Calls: 3, Hits: 1, Misses: 2, Loads: 2, LoadErrors: 1},
		},
		{
			name: "rate limit",
			opts: []cashews.WrapOption{strategies.RateLimit(2, time.Minute)},
			run: func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, call func(int) error) {
				for range 5 {
					call(1)
				}
			},
			want: cashews.FuncStats{Calls: 5, Loads: 2, RateLimited: 3},
		},
		{
			name: "circuit breaker",
			opts: []cashews.WrapOption{strategies.CircuitBreaker(50, time.Minute, time.Minute, strategies.BreakerMinCalls(2))},
			run: func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, call func(int) error) {
				call(1)
				failSource.Store(true)
				call(1) // 1 of 2 failed: opens
				call(1) // refused
				call(1) // refused
			},
			want: cashews.FuncStats{Calls: 4, Loads: 2, LoadErrors: 1, BreakerRefused: 2},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			failSource.Store(false)
			c, clock := newCache(t, "mem://")
			fn := func(ctx context.Context, id int) (int, error) {
				clock.Advance(3 * time.Millisecond)
				switch {
				case id == 2 || failSource.Load():
					return 0, errSource
				case id == 3:
					return 0, cashews.ErrNotFound
				}
				return id, nil
			}
			wrapped := cashews.MustWrap(c, fn, append([]cashews.WrapOption{cashews.Name(tc.name), cashews.Key("k:{.}")}, tc.opts...)...)
			tc.run(t, c, clock, func(id int) error { _, err := wrapped(ctx, id); return err })
			got, ok := c.Stats().Funcs[tc.name]
			if !ok {
				t.Fatalf("no stats for %q in %v", tc.name, c.Stats().Funcs)
			}
			lat := got.LoadLatency
			got.LoadLatency = cashews.Latency{}
			if got != tc.want {
				t.Errorf("%+v;\nwant %+v", got, tc.want)
			}
			// Every load took 3ms by the Cache's clock: the bucket up to 5ms.
			var buckets [len(lat.Buckets)]int64
			buckets[5] = tc.want.Loads
			wantLat := cashews.Latency{Count: tc.want.Loads, Sum: time.Duration(tc.want.Loads) * 3 * time.Millisecond,
				Min: 3 * time.Millisecond, Max: 3 * time.Millisecond, Buckets: buckets}
			if lat != wantLat {
				t.Errorf("LoadLatency = %+v;\nwant %+v", lat, wantLat)
			}
		})
	}
}

var failSource atomic.Bool

// waitLoads waits until the function named name loaded n times (a background refresh runs in a
// goroutine of the Cache).
func waitLoads(t *testing.T, c *cashews.Cache, name string, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.Stats().Funcs[name].Loads < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s loaded %d times; want %d", name, c.Stats().Funcs[name].Loads, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestStatsWrapPanicAndShared: a panic is a load error; concurrent callers of a cold key are misses
// that share one load.
func TestStatsWrapPanicAndShared(t *testing.T) {
	c, _ := newCache(t, "mem://")
	ctx := context.Background()
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	slow := cashews.MustWrap(c, func(ctx context.Context, id int) (int, error) {
		started <- struct{}{}
		<-release
		return id, nil
	}, cashews.Name("slow"), cashews.Key("slow:{.}"), cashews.TTL(time.Hour))
	done := make(chan struct{})
	for range 10 {
		go func() { slow(ctx, 1); done <- struct{}{} }()
	}
	<-started
	deadline := time.Now().Add(10 * time.Second)
	for c.Stats().Funcs["slow"].Misses < 10 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(release)
	for range 10 {
		<-done
	}
	if got, want := c.Stats().Funcs["slow"], (cashews.FuncStats{Calls: 10, Misses: 10, Loads: 1}); got.Calls != want.Calls || got.Misses != want.Misses || got.Loads != want.Loads {
		t.Errorf("slow: %+v; want %+v", got, want)
	}

	boom := cashews.MustWrap(c, func(ctx context.Context, id int) (int, error) { panic("boom") },
		cashews.Name("boom"), cashews.Key("boom:{.}"), cashews.TTL(time.Hour))
	var pe *cashews.PanicError
	if _, err := boom(ctx, 1); !errors.As(err, &pe) {
		t.Fatalf("boom = %v; want a *PanicError", err)
	}
	if got := c.Stats().Funcs["boom"]; got.Loads != 1 || got.LoadErrors != 1 {
		t.Errorf("boom: %+v; want 1 load, 1 load error", got)
	}
}

// TestStatsFuncNames: the Name option names a function's stats, a named function its own name, an
// anonymous one its key template; Wraps that share a name share their counts.
func TestStatsFuncNames(t *testing.T) {
	c, _ := newCache(t, "mem://")
	ctx := context.Background()
	named := cashews.MustWrap(c, strconv, cashews.TTL(time.Hour))
	again := cashews.MustWrap(c, strconv, cashews.TTL(time.Hour), cashews.KeyPrefix("v2:"))
	anon := cashews.MustWrap(c, func(ctx context.Context, id int) (string, error) { return "", nil }, cashews.Key("anon:{.}"), cashews.TTL(time.Hour))
	inner := cashews.MustWrap(c, strconv, cashews.Name("inner"), cashews.Key("in:{.}"), strategies.RateLimit(10, time.Minute))
	outer := cashews.MustWrap(c, inner, cashews.Key("out:{.}"), cashews.TTL(time.Hour))
	named(ctx, 1)
	again(ctx, 1)
	anon(ctx, 1)
	outer(ctx, 1)
	outer(ctx, 1)
	got := map[string]int64{}
	for name, f := range c.Stats().Funcs {
		got[name] = f.Calls
	}
	want := map[string]int64{
		"github.com/cashews-go/cashews_test.strconv": 2,
		"anon:{.}": 1,
		"inner":    1,
		"out:{.}":  2,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("calls by name = %v; want %v", got, want)
	}
}

func strconv(ctx context.Context, id int) (string, error) { return fmt.Sprint(id), nil }

// TestStatsRoutes: the counters a route gets from RouteCounter are its Stats.
func TestStatsRoutes(t *testing.T) {
	c, _ := newCache(t, "mem://")
	r := c.RouteCounter("users")
	if c.RouteCounter("users") != r {
		t.Fatal("RouteCounter returned another counter for the same route")
	}
	r.Hit()
	r.Hit()
	r.Stale()
	r.Miss()
	r.Revalidation()
	r.Bypass()
	r.Bypass()
	if got, want := c.Stats().Routes["users"], (cashews.RouteStats{Hits: 2, Stale: 1, Misses: 1, Revalidations: 1, Bypasses: 2}); got != want {
		t.Errorf("users: %+v; want %+v", got, want)
	}
	var none *cashews.Cache // nil: counts nowhere, and never panics
	none.RouteCounter("users").Hit()
	if s := none.Stats(); len(s.Backends) != 0 || len(s.Routes) != 0 {
		t.Errorf("Stats of a nil Cache = %+v; want nothing", s)
	}
}

func TestLatencyBounds(t *testing.T) {
	b := cashews.LatencyBounds()
	if len(b)+1 != len(cashews.Latency{}.Buckets) || b[0] != 100*time.Microsecond || b[len(b)-1] != 10*time.Second {
		t.Fatalf("LatencyBounds = %v; want 100µs to 10s, one fewer than the buckets", b)
	}
	b[0] = 0
	if cashews.LatencyBounds()[0] != 100*time.Microsecond {
		t.Fatal("LatencyBounds returned the package's own slice")
	}
	if m := (cashews.Latency{Count: 4, Sum: time.Second}).Mean(); m != 250*time.Millisecond {
		t.Errorf("Mean = %v; want 250ms", m)
	}
}

// TestOnDeletionSetup: a callback given at Setup sees what leaves mem://, a wrapped function's
// entry as its result; backends that cannot tell, and a nil callback, are errors.
func TestOnDeletionSetup(t *testing.T) {
	ctx := context.Background()
	clock := backendtest.NewClock()
	c := cashews.New(cashews.WithClock(clock))
	defer c.Close()
	var got []string
	err := c.Setup("mem://?size=2&shards=1&check_interval=0", cashews.OnDeletion(func(d backends.Deletion) {
		got = append(got, fmt.Sprintf("%s=%v %s", d.Key, d.Value, d.Cause))
	}))
	if err != nil {
		t.Fatal(err)
	}
	get := cashews.MustWrap(c, func(ctx context.Context, id int) (string, error) { return fmt.Sprint("user ", id), nil },
		cashews.Key("u:{.}"), cashews.TTL(time.Second))
	get(ctx, 1)
	c.Set(ctx, "a", 1, 0)
	c.Set(ctx, "a", 2, 0)
	clock.Advance(2 * time.Second)
	get(ctx, 1) // expired: stored again
	c.Delete(ctx, "a")
	want := []string{"a=1 replaced", "u:1=user 1 expired", "a=2 deleted"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("deletions = %q; want %q", got, want)
	}
	if got, want := backendStats(t, c, "").Evictions, (backends.Evictions{Expired: 1}); got != want {
		t.Errorf("Evictions = %+v; want %+v", got, want)
	}
	c.Set(ctx, "x", 1, 0)
	c.Set(ctx, "y", 1, 0) // three entries over a bound of two
	if got := c.Stats().Total.Evictions; got.Size != 1 {
		t.Errorf("Total.Evictions = %+v; want one for size", got)
	}

	if err := c.Setup("mem://", cashews.WithPrefix("n:"), cashews.OnDeletion(nil)); !errors.Is(err, cashews.ErrInvalidArgument) {
		t.Errorf("OnDeletion(nil) = %v; want ErrInvalidArgument", err)
	}
	if err := c.SetupBackend(&slowBackend{Full: newMemory(t, clock)}, "", cashews.WithPrefix("s:"), cashews.OnDeletion(func(backends.Deletion) {})); err == nil || !strings.Contains(err.Error(), "DeletionNotifier") {
		t.Errorf("OnDeletion on a backend that cannot tell = %v; want an error naming backends.DeletionNotifier", err)
	}
}
