package redis_test

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends/redis"
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
