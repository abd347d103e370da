package redis_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends/redis"
	"github.com/cashews-go/cashews/detect"
	"github.com/cashews-go/cashews/internal/redistest"
	"github.com/cashews-go/cashews/internal/testenv"
)

// slack is what a call may take beyond the backend's timeout.
const slack = 50 * time.Millisecond

// cacheCall is one call of the load and how it went.
type cacheCall struct {
	start time.Time
	dur   time.Duration
	err   error
}

// cacheLoad runs 64 goroutines of 90% cashews.Get and 10% Cache.Set until stop is closed.
func cacheLoad(c *cashews.Cache, stop <-chan struct{}) (calls func() []cacheCall, wrong *atomic.Int64) {
	var (
		mu  sync.Mutex
		all []cacheCall
		wg  sync.WaitGroup
	)
	wrong = new(atomic.Int64)
	for g := 0; g < 64; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 2))
			var local []cacheCall
			defer func() {
				mu.Lock()
				all = append(all, local...)
				mu.Unlock()
			}()
			for {
				select {
				case <-stop:
					return
				default:
				}
				k := "load:" + strconv.Itoa(rng.IntN(1000))
				start := time.Now()
				var err error
				if rng.IntN(10) == 0 {
					_, err = c.Set(context.Background(), k, "value-"+k, time.Minute)
				} else {
					var v string
					var found bool
					v, found, err = cashews.Get[string](context.Background(), c, k)
					if err == nil && found && v != "value-"+k {
						wrong.Add(1)
					}
				}
				local = append(local, cacheCall{start, time.Since(start), err})
				// While the health breaker fails calls fast, a loop of them would hold both
				// cores, and a call that waits for the network would wait for the scheduler.
				runtime.Gosched()
			}
		}()
	}
	return func() []cacheCall { wg.Wait(); return all }, wrong
}

// probe writes and reads a key every 10ms until stop, and returns when the first round trip
// succeeded after since.
func probe(c *cashews.Cache, stop <-chan struct{}, since func() time.Time) <-chan time.Time {
	out := make(chan time.Time, 1)
	go func() {
		defer close(out)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			v := strconv.Itoa(i)
			ok, _ := c.Set(context.Background(), "probe", v, time.Minute)
			got, found, _ := cashews.Get[string](context.Background(), c, "probe")
			if s := since(); !s.IsZero() && ok && found && got == v {
				out <- time.Now()
				return
			}
		}
	}()
	return out
}

// checkCalls fails the test for any error that reached a caller or any call slower than the
// timeout plus 50ms beyond the machine's stalls, and logs the figures.
func checkCalls(t *testing.T, calls []cacheCall, wrong int64, stalls *redis.StallMeter) {
	t.Helper()
	var errs, slow int
	var worst time.Duration
	var first error
	for _, c := range calls {
		worst = max(worst, c.dur)
		if c.err != nil {
			errs++
			if first == nil {
				first = c.err
			}
		}
		if c.dur > redis.DefaultTimeout+slack {
			if stall := stalls.During(c.start, c.start.Add(c.dur)); c.dur > redis.DefaultTimeout+slack+stall {
				slow++
				if slow == 1 {
					t.Errorf("a call took %s, want at most the timeout %s + %s (+ %s of machine stalls)", c.dur, redis.DefaultTimeout, slack, stall)
				}
			}
		}
	}
	t.Logf("%d calls, %d errors reached callers, %d wrong values, slowest %s, %d slower than timeout+%s beyond the machine's stalls (worst stall %s)",
		len(calls), errs, wrong, worst, slow, slack, stalls.Worst())
	if errs > 0 {
		t.Errorf("%d errors reached callers with suppress=true, want 0; first: %v", errs, first)
	}
	if wrong > 0 {
		t.Errorf("%d reads returned another key's value", wrong)
	}
}

// TestCacheSuppressKillUnderLoad: a Cache set up with suppress=true over Redis, under the load of
// 64 goroutines, while redis-server is killed and restarted: no error reaches a caller, no call
// takes longer than the timeout plus 50ms, the failures are counted, and a write then read
// succeeds within 2s of the restart.
func TestCacheSuppressKillUnderLoad(t *testing.T) {
	testenv.RequireTiming(t)
	for _, params := range []string{"", "&client_side=true", "&driver=go-redis"} {
		t.Run("suppress=true"+params, func(t *testing.T) {
			srv := redistest.Start(t)
			c := cashews.New()
			defer c.Close()
			if err := c.Setup(srv.URL() + "?suppress=true" + params); err != nil {
				t.Fatalf("Setup: %v", err)
			}
			stalls := redis.StartStallMeter(t)
			stop := make(chan struct{})
			calls, wrong := cacheLoad(c, stop)
			var restarted atomic.Value
			restarted.Store(time.Time{})
			back := probe(c, stop, func() time.Time { return restarted.Load().(time.Time) })
			time.Sleep(500 * time.Millisecond)
			srv.Kill()
			time.Sleep(500 * time.Millisecond)
			srv.Restart()
			at := time.Now()
			restarted.Store(at)
			// Recovery must show within 2s, plus the time the machine stood still meanwhile.
			var (
				when time.Time
				ok   bool
			)
		wait:
			for {
				select {
				case when, ok = <-back:
					break wait
				case <-time.After(50 * time.Millisecond):
				}
				if now := time.Now(); now.Sub(at) > 2*time.Second+stalls.During(at, now)+200*time.Millisecond {
					break
				}
			}
			close(stop)
			checkCalls(t, calls(), wrong.Load(), stalls)
			if c.SuppressedErrors() == 0 {
				t.Error("SuppressedErrors is 0 after Redis was down, want the failures counted")
			}
			if !ok {
				t.Fatalf("no write and read succeeded within 2s of the restart (machine stalls meanwhile: %s)", stalls.During(at, time.Now()))
			}
			t.Logf("%d failures suppressed; first write and read %s after the restart", c.SuppressedErrors(), when.Sub(at))
			if d := when.Sub(at); d > 2*time.Second+stalls.During(at, when) {
				t.Errorf("first write and read %s after the restart, want within 2s", d)
			}
		})
	}
}

// TestCacheSuppressFrozen: with the server stopped (SIGSTOP), every call of a suppressing Cache
// returns within the timeout plus 50ms with a miss or false, never an error.
func TestCacheSuppressFrozen(t *testing.T) {
	testenv.RequireTiming(t)
	srv := redistest.Start(t)
	c := cashews.New()
	defer c.Close()
	if err := c.Setup(srv.URL() + "?suppress=true"); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	stalls := redis.StartStallMeter(t)
	stop := make(chan struct{})
	calls, wrong := cacheLoad(c, stop)
	time.Sleep(300 * time.Millisecond)
	srv.Freeze()
	time.Sleep(time.Second)
	srv.Thaw()
	time.Sleep(500 * time.Millisecond)
	close(stop)
	checkCalls(t, calls(), wrong.Load(), stalls)
	if c.SuppressedErrors() == 0 {
		t.Error("SuppressedErrors is 0 after Redis froze, want the failures counted")
	}
}

// TestCacheSetup: the Cache takes its own parameters and hands the rest to the backend, which
// rejects the unknown ones by name.
func TestCacheSetup(t *testing.T) {
	srv := redistest.Start(t)
	c := cashews.New()
	defer c.Close()
	if err := c.Setup(srv.URL() + "?suppress=true&timeout=1s&codec=json&client_side=true"); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	ctx := context.Background()
	if _, err := c.Set(ctx, "k", map[string]int{"a": 1}, time.Minute); err != nil {
		t.Fatal(err)
	}
	got, found, err := cashews.Get[map[string]int](ctx, c, "k")
	if err != nil || !found || got["a"] != 1 {
		t.Fatalf("Get: got %v, %v, %v; want map[a:1]", got, found, err)
	}
	err = cashews.New().Setup(srv.URL() + "?bogus=1")
	if err == nil || !strings.Contains(err.Error(), `"bogus"`) {
		t.Fatalf("Setup with an unknown parameter: got %v, want an error naming it", err)
	}
}

// syncBuffer is a buffer that background goroutines log to.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond every millisecond until it holds or d passed, and reports whether it held.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// faultParams are the ways the Cache-level fault tests set Redis up: both drivers, and
// client-side caching.
var faultParams = []string{"", "driver=go-redis", "client_side=true"}

func faultName(params string) string {
	if params == "" {
		return "rueidis"
	}
	return params
}

// TestWrapKillUnderLoad is the outage test of a wrapped function with default options: 64
// goroutines call it while redis-server is killed and restarted. Every call returns the function's
// result, before, during and after the outage; once the health breaker opens, 1,000 calls (made in
// sequence while the load pauses) cost less than 1 s on top of the function's own time; within 1 s
// of the restart the cache serves hits again.
func TestWrapKillUnderLoad(t *testing.T) {
	testenv.RequireTiming(t)
	for _, params := range faultParams {
		t.Run(faultName(params), func(t *testing.T) {
			srv := redistest.Start(t)
			var logs syncBuffer
			c := cashews.New(cashews.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			defer c.Close()
			url := srv.URL()
			if params != "" {
				url += "?" + params
			}
			if err := c.Setup(url); err != nil {
				t.Fatalf("Setup: %v", err)
			}
			// The source: 200µs of work of its own, timed.
			work := func(spent *atomic.Int64) func(ctx context.Context, id int) (string, error) {
				return func(ctx context.Context, id int) (string, error) {
					start := time.Now()
					time.Sleep(200 * time.Microsecond)
					spent.Add(int64(time.Since(start)))
					return "v" + strconv.Itoa(id), nil
				}
			}
			var loadSpent, measSpent, probeSpent atomic.Int64
			get := cashews.MustWrap(c, work(&loadSpent), cashews.TTL(time.Minute), cashews.Key("w:{.}"))

			stop := make(chan struct{})
			var wg sync.WaitGroup
			var calls, wrongs atomic.Int64
			var firstBad atomic.Value
			var paused atomic.Bool // while the overhead is measured, the load waits
			for g := range 64 {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(g), 3))
					for {
						select {
						case <-stop:
							return
						default:
						}
						if paused.Load() {
							time.Sleep(time.Millisecond)
							continue
						}
						id := rng.IntN(1000)
						v, err := get(context.Background(), id)
						calls.Add(1)
						if err != nil || v != "v"+strconv.Itoa(id) {
							wrongs.Add(1)
							firstBad.CompareAndSwap(nil, fmt.Sprintf("get(%d) = %q, %v", id, v, err))
						}
						runtime.Gosched()
					}
				})
			}
			time.Sleep(500 * time.Millisecond)
			srv.Kill()
			killed := time.Now()
			breakerOpen := func() bool {
				_, err := c.Exists(context.Background(), "any")
				return err != nil && strings.Contains(err.Error(), "failing fast")
			}
			if !waitFor(5*time.Second, breakerOpen) {
				t.Fatalf("the health breaker did not open within 5s of the kill:\n%s", logs.String())
			}
			opened := time.Since(killed)

			// The cost of the cache while the breaker is open: 1,000 calls of fresh keys, in sequence,
			// with the load paused so that the figure is the cache's, not the scheduler's.
			meas := cashews.MustWrap(c, work(&measSpent), cashews.TTL(time.Minute), cashews.Key("m:{.}"))
			paused.Store(true)
			time.Sleep(10 * time.Millisecond)
			if !breakerOpen() {
				t.Fatal("the health breaker closed while Redis is down")
			}
			start := time.Now()
			for i := range 1000 {
				if v, err := meas(context.Background(), i); err != nil || v != "v"+strconv.Itoa(i) {
					t.Fatalf("call %d while Redis is down = %q, %v; want the function's result", i, v, err)
				}
			}
			elapsed := time.Since(start)
			overhead := elapsed - time.Duration(measSpent.Load())
			paused.Store(false)

			time.Sleep(300 * time.Millisecond)
			srv.Restart()
			restarted := time.Now()
			// Hits again: a key nobody else uses is served from cache.
			hot := cashews.MustWrap(c, work(&probeSpent), cashews.TTL(time.Minute), cashews.Key("hot:{.}"))
			var hitAfter time.Duration
			for {
				ctx, d := detect.New(context.Background())
				if v, err := hot(ctx, 1); err != nil || v != "v1" {
					t.Fatalf("probe = %q, %v", v, err)
				}
				if len(d.Hits()) > 0 {
					hitAfter = time.Since(restarted)
					break
				}
				if time.Since(restarted) > 10*time.Second {
					t.Fatal("no hit within 10s of the restart")
				}
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(200 * time.Millisecond)
			close(stop)
			wg.Wait()

			t.Logf("%d calls of 64 goroutines, %d without the function's result; breaker open %v after the kill; "+
				"1,000 calls while open: %v, of which the function %v, overhead %v (%v per call); hits again %v after the restart; %d failures routed around",
				calls.Load(), wrongs.Load(), opened.Round(time.Millisecond), elapsed.Round(time.Millisecond),
				time.Duration(measSpent.Load()).Round(time.Millisecond), overhead.Round(time.Millisecond),
				(overhead / 1000).Round(time.Microsecond), hitAfter.Round(time.Millisecond), c.SuppressedErrors())
			if n := wrongs.Load(); n > 0 {
				t.Errorf("%d calls did not return the function's result; first: %v", n, firstBad.Load())
			}
			if overhead > time.Second {
				t.Errorf("1,000 calls while the breaker is open cost %v on top of the function; want under 1s", overhead)
			}
			if hitAfter > time.Second {
				t.Errorf("hits served again %v after the restart; want within 1s", hitAfter)
			}
		})
	}
}

// TestSetupWhileRedisDown: Setup succeeds while Redis is unreachable, Ping reports the outage with
// an error matching ErrUnavailable, wrapped functions answer meanwhile, and once Redis starts the
// commands work without a new Setup.
func TestSetupWhileRedisDown(t *testing.T) {
	for _, params := range faultParams {
		t.Run(faultName(params), func(t *testing.T) {
			srv := redistest.Start(t)
			srv.Kill()
			c := cashews.New()
			defer c.Close()
			url := srv.URL()
			if params != "" {
				url += "?" + params
			}
			start := time.Now()
			if err := c.Setup(url); err != nil {
				t.Fatalf("Setup with Redis down = %v; want nil", err)
			}
			setupTook := time.Since(start)
			ctx := context.Background()
			if err := c.Ping(ctx); !errors.Is(err, cashews.ErrUnavailable) {
				t.Fatalf("Ping with Redis down = %v; want an error matching ErrUnavailable", err)
			}
			get := cashews.MustWrap(c, func(ctx context.Context, id int) (int, error) { return id * 2, nil },
				cashews.TTL(time.Minute), cashews.Key("sd:{.}"))
			if v, err := get(ctx, 21); v != 42 || err != nil {
				t.Fatalf("wrapped call with Redis down = %v, %v; want 42, nil", v, err)
			}
			strict := cashews.New()
			defer strict.Close()
			if err := strict.Setup(url + map[bool]string{true: "&", false: "?"}[params != ""] + "connect_at_setup=true"); err == nil {
				t.Fatal("Setup with connect_at_setup=true and Redis down succeeded; want an error")
			}

			srv.Restart()
			restarted := time.Now()
			if !waitFor(10*time.Second, func() bool {
				if ok, err := c.Set(ctx, "k", "v", time.Minute); !ok || err != nil {
					return false
				}
				v, found, err := cashews.Get[string](ctx, c, "k")
				return err == nil && found && v == "v"
			}) {
				t.Fatalf("commands still fail 10s after Redis started (Ping: %v)", c.Ping(ctx))
			}
			if err := c.Ping(ctx); err != nil {
				t.Fatalf("Ping after Redis started = %v", err)
			}
			t.Logf("Setup returned nil after %v with Redis down; commands work %v after Redis started",
				setupTook.Round(time.Millisecond), time.Since(restarted).Round(time.Millisecond))
		})
	}
}

// TestGoredisLogsThroughLogger: go-redis's own messages (a dial that failed) reach the Cache's
// logger, once per burst, instead of the standard logger.
func TestGoredisLogsThroughLogger(t *testing.T) {
	srv := redistest.Start(t)
	var logs syncBuffer
	c := cashews.New(cashews.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	defer c.Close()
	if err := c.Setup(srv.URL() + "?driver=go-redis&suppress=true"); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	ctx := context.Background()
	if !waitFor(5*time.Second, func() bool {
		c.Set(ctx, "k", "v", 0)
		c.Ping(ctx)
		return strings.Contains(logs.String(), "go-redis: redis: connection pool")
	}) {
		t.Fatalf("no go-redis message reached the Cache's logger:\n%s", logs.String())
	}
	for range 20 {
		c.Ping(ctx)
	}
	if n := strings.Count(logs.String(), "go-redis:"); n != 1 {
		t.Fatalf("%d records of go-redis messages for one burst; want 1:\n%s", n, logs.String())
	}
}

// TestCacheGetAllocations holds the allocations of a Get[[]byte] through the Cache with the raw
// codec: on the rueidis engine, the reply's string and the []byte in an interface (the reply's
// bytes are returned once, without a deadline context or a command slice); with client-side
// caching, none on a hit, which returns the local copy (signed values too).
func TestCacheGetAllocations(t *testing.T) {
	if redis.RaceEnabled {
		t.Skip("the race detector changes allocations")
	}
	srv := redistest.Start(t)
	for _, c := range []struct {
		params string
		want   float64
	}{
		{"codec=raw", 2},
		{"codec=raw&client_side=true", 0},
		{"codec=raw&client_side=true&secret=0123456789abcdef0123456789abcdef", 0},
	} {
		cache := cashews.New()
		if err := cache.Setup(srv.URL() + "?timeout=15s&" + c.params); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := cache.Set(ctx, "k", []byte("value"), time.Hour); err != nil {
			t.Fatal(err)
		}
		get := func() {
			if v, found, err := cashews.Get[[]byte](ctx, cache, "k"); err != nil || !found || string(v) != "value" {
				t.Fatalf("%s: Get = (%q, %v, %v), want value", c.params, v, found, err)
			}
		}
		get()
		if n := testing.AllocsPerRun(200, get); n > c.want {
			t.Errorf("%s: Get[[]byte] allocates %v times, want at most %v", c.params, n, c.want)
		}
		cache.Close()
	}
}
