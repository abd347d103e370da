package cashews_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/backends/backendtest"
	"github.com/cashews-go/cashews/detect"
	"github.com/cashews-go/cashews/internal/testenv"
	"github.com/cashews-go/cashews/strategies"
)

// errRefused stands for a driver's dial error: the cause that errors of the Cache keep.
var errRefused = errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")

// downBackend is a memory backend whose commands fail while down is set: an outage injected where
// the memory backend cannot produce one. With unavailable set, its errors match ErrUnavailable, as
// the Redis backend's do; otherwise they are the bare cause.
type downBackend struct {
	backends.Full
	down        atomic.Bool
	unavailable bool
	calls       atomic.Int64 // commands that reached the backend
}

func (d *downBackend) fail() error {
	d.calls.Add(1)
	if !d.down.Load() {
		return nil
	}
	if d.unavailable {
		return fmt.Errorf("injected: %w: %w", backends.ErrUnavailable, errRefused)
	}
	return errRefused
}

func (d *downBackend) Get(ctx context.Context, key string) (any, bool, error) {
	if err := d.fail(); err != nil {
		return nil, false, err
	}
	return d.Full.Get(ctx, key)
}

func (d *downBackend) Set(ctx context.Context, key string, v any, ttl time.Duration, m backends.SetMode) (bool, error) {
	if err := d.fail(); err != nil {
		return false, err
	}
	return d.Full.Set(ctx, key, v, ttl, m)
}

func (d *downBackend) Delete(ctx context.Context, key string) (bool, error) {
	if err := d.fail(); err != nil {
		return false, err
	}
	return d.Full.Delete(ctx, key)
}

func (d *downBackend) DeleteMany(ctx context.Context, keys []string) (int, error) {
	if err := d.fail(); err != nil {
		return 0, err
	}
	return d.Full.DeleteMany(ctx, keys)
}

func (d *downBackend) DeleteMatch(ctx context.Context, pattern string) (int, error) {
	if err := d.fail(); err != nil {
		return 0, err
	}
	return d.Full.DeleteMatch(ctx, pattern)
}

func (d *downBackend) Clear(ctx context.Context) error {
	if err := d.fail(); err != nil {
		return err
	}
	return d.Full.Clear(ctx)
}

func (d *downBackend) Ping(ctx context.Context) error {
	if err := d.fail(); err != nil {
		return err
	}
	return d.Full.Ping(ctx)
}

func (d *downBackend) SetLock(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	if err := d.fail(); err != nil {
		return false, err
	}
	return d.Full.SetLock(ctx, key, token, ttl)
}

func (d *downBackend) IsLocked(ctx context.Context, key string) (bool, error) {
	if err := d.fail(); err != nil {
		return false, err
	}
	return d.Full.IsLocked(ctx, key)
}

func (d *downBackend) Incr(ctx context.Context, key string, by int64, ttl time.Duration) (int64, error) {
	if err := d.fail(); err != nil {
		return 0, err
	}
	return d.Full.Incr(ctx, key, by, ttl)
}

func (d *downBackend) SliceIncr(ctx context.Context, key string, now time.Time, window time.Duration, limit int64) (int64, bool, error) {
	if err := d.fail(); err != nil {
		return 0, false, err
	}
	return d.Full.SliceIncr(ctx, key, now, window, limit)
}

func (d *downBackend) IncrBits(ctx context.Context, key string, size int, by int64, idx ...int64) ([]int64, error) {
	if err := d.fail(); err != nil {
		return nil, err
	}
	return d.Full.IncrBits(ctx, key, size, by, idx...)
}

// newDown returns a Cache on a downBackend set up with params, and the buffer its logs go to.
func newDown(t *testing.T, params string, unavailable bool, opts ...cashews.Option) (*cashews.Cache, *downBackend, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	clock := backendtest.NewClock()
	opts = append([]cashews.Option{cashews.WithClock(clock), cashews.WithLogger(slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil)))}, opts...)
	c := cashews.New(opts...)
	t.Cleanup(func() { c.Close() })
	d := &downBackend{Full: newMemory(t, clock), unavailable: unavailable}
	if err := c.SetupBackend(d, params); err != nil {
		t.Fatal(err)
	}
	return c, d, &logs
}

// syncWriter serializes writes to a buffer that background goroutines log to.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

// outage makes every command of c fail with an error matching ErrUnavailable while it is on,
// through a middleware.
func outage(c *cashews.Cache, cmds ...cashews.Command) *atomic.Bool {
	var on atomic.Bool
	c.Use(func(next cashews.Handler) cashews.Handler {
		return func(ctx context.Context, call *cashews.Call) (cashews.Result, error) {
			if on.Load() && (len(cmds) == 0 || slices.Contains(cmds, call.Command())) {
				return cashews.Result{}, fmt.Errorf("%s %q: %w: %w", call.Command(), call.Key(), cashews.ErrUnavailable, errRefused)
			}
			return next(ctx, call)
		}
	})
	return &on
}

// TestWrapFailsOpen: with the cache down, every caching strategy (and the guards, which fail open by
// default) returns the function's result; the failures are counted and logged once per burst.
// Locked keeps its documented default: a lock that cannot be taken is the caller's error. A strict
// Wrap, or a Wrap of a strict Cache, returns the cache's error instead.
func TestWrapFailsOpen(t *testing.T) {
	fn := func(ctx context.Context, id int) (string, error) { return fmt.Sprint("v", id), nil }
	for _, tc := range []struct {
		name    string
		opts    []cashews.WrapOption
		wantErr bool // the strategy's documented fail mode refuses
		caching bool // strict changes it
	}{
		{"simple", []cashews.WrapOption{cashews.TTL(time.Hour)}, false, true},
		{"early", []cashews.WrapOption{cashews.TTL(time.Hour), strategies.Early(time.Minute)}, false, true},
		{"soft", []cashews.WrapOption{cashews.TTL(time.Hour), strategies.Soft(time.Minute)}, false, true},
		{"hit", []cashews.WrapOption{cashews.TTL(time.Hour), strategies.Hit(3)}, false, true},
		{"failover", []cashews.WrapOption{cashews.TTL(time.Hour), strategies.Failover()}, false, false},
		{"locked", []cashews.WrapOption{cashews.TTL(time.Hour), strategies.Locked()}, true, true},
		{"locked/FailOpen", []cashews.WrapOption{cashews.TTL(time.Hour), strategies.Locked(strategies.FailOpen)}, false, false},
		{"rate limit", []cashews.WrapOption{strategies.RateLimit(10, time.Minute)}, false, false},
		{"sliding rate limit", []cashews.WrapOption{strategies.SlidingRateLimit(10, time.Minute)}, false, false},
		{"circuit breaker", []cashews.WrapOption{strategies.CircuitBreaker(50, time.Minute, time.Minute)}, false, false},
		{"bloom", nil, false, true}, // a filter per Wrap: see below
		{"perf", []cashews.WrapOption{strategies.Perf(time.Minute)}, false, true},
	} {
		for _, strict := range []string{"", "Strict", "WithStrict"} {
			t.Run(tc.name+"/"+strict, func(t *testing.T) {
				var copts []cashews.Option
				if strict == "WithStrict" {
					copts = append(copts, cashews.WithStrict())
				}
				var logs syncWriter
				logs.w = new(bytes.Buffer)
				c := cashews.New(append(copts, cashews.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))...)
				t.Cleanup(func() { c.Close() })
				if err := c.Setup("mem://"); err != nil {
					t.Fatal(err)
				}
				opts := append([]cashews.WrapOption{cashews.Key("fo:{.}")}, tc.opts...)
				if tc.name == "bloom" {
					opts = append(opts, strategies.Bloom(100, 0.01))
				}
				if strict == "Strict" {
					opts = append(opts, cashews.Strict())
				}
				get := cashews.MustWrap(c, fn, opts...)
				outage(c).Store(true)
				refuse := tc.wantErr || (strict != "" && tc.caching)
				for i := range 20 {
					got, err := get(context.Background(), i%3)
					if refuse {
						if !errors.Is(err, cashews.ErrUnavailable) || !errors.Is(err, errRefused) {
							t.Fatalf("call %d = %q, %v; want an error matching ErrUnavailable and keeping its cause", i, got, err)
						}
						continue
					}
					if want := fmt.Sprint("v", i%3); got != want || err != nil {
						t.Fatalf("call %d while the cache is down = %q, %v; want %q, nil (the function's result)", i, got, err, want)
					}
				}
				if refuse || strict != "" {
					return
				}
				if n := c.SuppressedErrors(); n < 20 {
					t.Fatalf("SuppressedErrors = %d after 20 calls routed around the cache; want at least 20", n)
				}
				if n := strings.Count(logs.String(), "cache error routed around"); n != 1 {
					t.Fatalf("logged %d records for one burst; want 1:\n%s", n, logs.String())
				}
			})
		}
	}
}

// TestWrapFailsOpenOnStore: a result that cannot be stored is returned all the same.
func TestWrapFailsOpenOnStore(t *testing.T) {
	c, _ := newCache(t, "mem://")
	var runs atomic.Int64
	get := cashews.MustWrap(c, counted(&runs), cashews.TTL(time.Hour), cashews.Key("st:{ID}"))
	outage(c, cashews.CmdSet).Store(true)
	for i := range 3 {
		if got, err := get(context.Background(), query{ID: 1}); got != "user 1 " || err != nil {
			t.Fatalf("call %d = %q, %v; want the result with a nil error", i, got, err)
		}
	}
	if runs.Load() != 3 || c.SuppressedErrors() != 3 {
		t.Fatalf("runs = %d, SuppressedErrors = %d; want 3 and 3 (nothing stored, every store failure counted)", runs.Load(), c.SuppressedErrors())
	}
}

// TestGetOrSetFailsOpen: GetOrSet runs its loader when the read fails and returns the value when
// the store fails; with WithStrict both are errors.
func TestGetOrSetFailsOpen(t *testing.T) {
	for _, strict := range []bool{false, true} {
		t.Run(fmt.Sprint("strict=", strict), func(t *testing.T) {
			var opts []cashews.Option
			if strict {
				opts = append(opts, cashews.WithStrict())
			}
			c, d, _ := newDown(t, "", true, opts...)
			load := func(ctx context.Context) (int, error) { return 7, nil }
			d.down.Store(true)
			v, err := cashews.GetOrSet(context.Background(), c, "k", time.Minute, load)
			if strict {
				if !errors.Is(err, cashews.ErrUnavailable) {
					t.Fatalf("strict GetOrSet while down = %v, %v; want ErrUnavailable", v, err)
				}
				return
			}
			if v != 7 || err != nil {
				t.Fatalf("GetOrSet while down = %v, %v; want 7, nil", v, err)
			}
			if c.SuppressedErrors() != 2 {
				t.Fatalf("SuppressedErrors = %d; want 2 (the read and the store)", c.SuppressedErrors())
			}
		})
	}
	// Only the store fails.
	c, _ := newCache(t, "mem://")
	outage(c, cashews.CmdSet).Store(true)
	if v, err := cashews.GetOrSet(context.Background(), c, "k", time.Minute, func(context.Context) (int, error) { return 8, nil }); v != 8 || err != nil {
		t.Fatalf("GetOrSet with a failing store = %v, %v; want 8, nil", v, err)
	}
}

// TestTamperedEntryIsRecomputed: an entry whose bytes were changed in the store is a miss for a
// wrapped function and for GetOrSet: the function runs, its result replaces the bad bytes, and the
// event is logged and counted; the next call is a hit again.
func TestTamperedEntryIsRecomputed(t *testing.T) {
	var logs syncWriter
	logs.w = new(bytes.Buffer)
	c := cashews.New(cashews.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	t.Cleanup(func() { c.Close() })
	if err := c.Setup("mem://?copy=true&secret=k"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tamper := func(key string) {
		t.Helper()
		raw, found, err := c.GetRaw(ctx, key)
		if err != nil || !found {
			t.Fatalf("GetRaw(%s) = %v, %v", key, found, err)
		}
		bad := slices.Clone(raw.([]byte))
		bad[len(bad)-1] ^= 1
		if _, err := c.SetRaw(ctx, key, bad, 0); err != nil {
			t.Fatal(err)
		}
	}

	var runs atomic.Int64
	get := cashews.MustWrap(c, counted(&runs), cashews.TTL(time.Hour), cashews.Key("t:{ID}"))
	for _, want := range []int64{1, 1} {
		if got, err := get(ctx, query{ID: 5}); got != "user 5 " || err != nil || runs.Load() != want {
			t.Fatalf("call = %q, %v, runs %d; want the result, nil, runs %d", got, err, runs.Load(), want)
		}
	}
	tamper("t:5")
	if got, err := get(ctx, query{ID: 5}); got != "user 5 " || err != nil || runs.Load() != 2 {
		t.Fatalf("call on a tampered entry = %q, %v, runs %d; want 5, nil and a second run", got, err, runs.Load())
	}
	if got, err := get(ctx, query{ID: 5}); got != "user 5 " || err != nil || runs.Load() != 2 {
		t.Fatalf("call after the entry was replaced = %q, %v, runs %d; want a hit", got, err, runs.Load())
	}

	loads := 0
	load := func(context.Context) (int, error) { loads++; return 9, nil }
	cashews.GetOrSet(ctx, c, "g", time.Hour, load)
	tamper("g")
	if v, err := cashews.GetOrSet(ctx, c, "g", time.Hour, load); v != 9 || err != nil || loads != 2 {
		t.Fatalf("GetOrSet on a tampered value = %v, %v, loads %d; want 9, nil, 2", v, err, loads)
	}
	if v, found, err := cashews.Get[int](ctx, c, "g"); v != 9 || !found || err != nil {
		t.Fatalf("Get after GetOrSet replaced the value = %v, %v, %v; want 9", v, found, err)
	}
	if n := c.SuppressedErrors(); n != 2 {
		t.Fatalf("SuppressedErrors = %d; want 2 (one tampered entry each)", n)
	}
	if n := strings.Count(logs.String(), "failed to decode"); n != 1 || !strings.Contains(logs.String(), "tampered") {
		t.Fatalf("want one record (one burst) naming the tampering:\n%s", logs.String())
	}
}

// TestHealthBreaker: after 5 commands in a row fail with ErrUnavailable, commands fail at once
// without reaching the backend, under suppress they miss, and the breaker closes when the backend
// answers again: at once through Ping, or by its background probe within a second.
func TestHealthBreaker(t *testing.T) {
	c, d, logs := newDown(t, "", true)
	ctx := context.Background()
	d.down.Store(true)
	for i := range 5 {
		if _, _, err := cashews.Get[int](ctx, c, "k"); !errors.Is(err, cashews.ErrUnavailable) || !errors.Is(err, errRefused) {
			t.Fatalf("Get %d while down = %v; want the backend's error, matching ErrUnavailable and its cause", i, err)
		}
	}
	reached := d.calls.Load()
	for i := range 1000 {
		if _, _, err := cashews.Get[int](ctx, c, "k"); !errors.Is(err, cashews.ErrUnavailable) {
			t.Fatalf("Get %d after the breaker opened = %v; want ErrUnavailable", i, err)
		}
		if _, err := c.Set(ctx, "k", 1, 0); !errors.Is(err, cashews.ErrUnavailable) {
			t.Fatalf("Set %d after the breaker opened = %v; want ErrUnavailable", i, err)
		}
	}
	// Only the probe reaches the backend now, a few times a second.
	if n := d.calls.Load() - reached; n > 100 {
		t.Fatalf("%d commands reached the backend after the breaker opened; want only the probe's pings", n)
	}
	if err := c.Ping(ctx); !errors.Is(err, cashews.ErrUnavailable) {
		t.Fatalf("Ping while down = %v; want ErrUnavailable", err)
	}
	// Back: Ping closes the breaker at once.
	d.down.Store(false)
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping when back = %v", err)
	}
	if _, err := c.Set(ctx, "k", 1, 0); err != nil {
		t.Fatalf("Set after Ping saw the backend back = %v; want nil", err)
	}
	if !strings.Contains(logs.String(), "failing fast") || !strings.Contains(logs.String(), "answers again") {
		t.Fatalf("want the breaker's opening and closing logged:\n%s", logs.String())
	}

	// Down again; this time the probe closes it.
	d.down.Store(true)
	for range 5 {
		c.Set(ctx, "k", 1, 0)
	}
	if _, err := c.Set(ctx, "k", 1, 0); !errors.Is(err, cashews.ErrUnavailable) || !strings.Contains(err.Error(), "failing fast") {
		t.Fatalf("Set after 5 failures = %v; want the breaker's error", err)
	}
	d.down.Store(false)
	back := time.Now()
	for {
		if _, err := c.Set(ctx, "k", 2, 0); err == nil {
			break
		}
		if time.Since(back) > 10*time.Second {
			t.Fatal("the breaker did not close within 10s of the backend's return")
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("the probe closed the breaker %v after the backend came back", time.Since(back))
	if d := time.Since(back); d > time.Second && testenv.Timing() {
		t.Fatalf("the breaker closed %v after the backend came back; want within 1s", d)
	}
}

// TestHealthBreakerUnderSuppress: with suppress=true the breaker's fast failures are misses and
// false, counted like the backend's own errors.
func TestHealthBreakerUnderSuppress(t *testing.T) {
	c, d, _ := newDown(t, "suppress=true", true)
	ctx := context.Background()
	d.down.Store(true)
	for i := range 100 {
		if _, found, err := cashews.Get[int](ctx, c, "k"); found || err != nil {
			t.Fatalf("Get %d = %v, %v; want a miss", i, found, err)
		}
	}
	if n := d.calls.Load(); n > 50 {
		t.Fatalf("%d of 100 Gets reached the backend; want the breaker to fail most of them fast", n)
	}
	if n := c.SuppressedErrors(); n != 100 {
		t.Fatalf("SuppressedErrors = %d; want 100", n)
	}
}

// TestLocksAndCountersNeverPretend: under suppress, lock commands and counters answer a backend
// failure with an error matching ErrUnavailable (and the cause), never with an answer that looks
// real; Lock returns instead of waiting for ever.
func TestLocksAndCountersNeverPretend(t *testing.T) {
	c, d, _ := newDown(t, "suppress=true", false)
	ctx := context.Background()
	d.down.Store(true)
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, cashews.ErrUnavailable) || !errors.Is(err, errRefused) {
			t.Fatalf("%s while down under suppress = %v; want ErrUnavailable wrapping the cause", what, err)
		}
	}
	l, ok, err := c.TryLock(ctx, "lk", time.Minute)
	if l != nil || ok {
		t.Fatalf("TryLock while down = %v, %v; want no lock", l, ok)
	}
	check("TryLock", err)
	done := make(chan error, 1)
	go func() { _, err := c.Lock(context.Background(), "lk", time.Minute); done <- err }()
	select {
	case err := <-done:
		check("Lock", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Lock with context.Background() did not return while the backend is down")
	}
	_, err = c.Incr(ctx, "n", 1, 0)
	check("Incr", err)
	_, _, err = c.SliceIncr(ctx, "s", time.Minute, 5)
	check("SliceIncr", err)
	_, err = c.IncrBits(ctx, "b", 1, 1, 3)
	check("IncrBits", err)
	_, err = cashews.IsLocked(ctx, c, "lk", 0)
	check("IsLocked", err)
	// Reads and writes still miss and report false.
	if _, found, err := cashews.Get[int](ctx, c, "k"); found || err != nil {
		t.Fatalf("Get under suppress = %v, %v; want a miss", found, err)
	}
}

// TestInvalidationsNeverPretend: under suppress, a delete that fails says so with an error matching
// ErrUnavailable (and the cause): "deleted" or "nothing there" would leave the old value to be served
// once the backend answers again, an invalidation that silently missed.
func TestInvalidationsNeverPretend(t *testing.T) {
	c, d, _ := newDown(t, "suppress=true", false)
	ctx := context.Background()
	if _, err := c.Set(ctx, "k", 1, 0); err != nil {
		t.Fatal(err)
	}
	d.down.Store(true)
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, cashews.ErrUnavailable) || !errors.Is(err, errRefused) {
			t.Errorf("%s while down under suppress = %v; want ErrUnavailable wrapping the cause", what, err)
		}
	}
	_, err := c.Delete(ctx, "k")
	check("Delete", err)
	_, err = c.DeleteMany(ctx, "k", "k2")
	check("DeleteMany", err)
	_, err = c.DeleteMatch(ctx, "k*")
	check("DeleteMatch", err)
	check("Clear", c.Clear(ctx))
	d.down.Store(false)
	if v, found, err := cashews.Get[int](ctx, c, "k"); !found || v != 1 || err != nil {
		t.Fatalf("Get after the failed deletes = %v, %v, %v; want the value still there (1, true, nil)", v, found, err)
	}
}

// TestLockReturnsWhenContextEnds: Lock waiting for a held lock returns when its context ends.
func TestLockReturnsWhenContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := cashews.New()
		defer c.Close()
		if err := c.Setup("mem://"); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, ok, _ := c.TryLock(ctx, "lk", time.Hour); !ok {
			t.Fatal("TryLock of a free lock failed")
		}
		wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.Lock(wctx, "lk", time.Hour)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 300*time.Millisecond {
			t.Fatalf("Lock of a held lock = %v after %v; want DeadlineExceeded after 300ms", err, time.Since(start))
		}
	})
}

// TestHungSourceDeadlines: a source that hangs until its context ends never pins its key. A caller
// with a 100 ms deadline fails at 100 ms; having been the only waiter, it takes the load with it
// (the source sees its context end then), so the next call runs the function again. With
// LoadTimeout(50ms), or a Cache-wide WithLoadTimeout, the source sees its context end at 50 ms.
func TestHungSourceDeadlines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := cashews.New()
		defer c.Close()
		if err := c.Setup("mem://"); err != nil {
			t.Fatal(err)
		}
		var runs atomic.Int64
		var ended atomic.Int64 // when the source last saw its context end, since start
		var start time.Time
		hang := func(ctx context.Context, id int) (int, error) {
			runs.Add(1)
			<-ctx.Done()
			ended.Store(int64(time.Since(start)))
			return 0, ctx.Err()
		}
		call := func(get func(context.Context, int) (int, error), deadline time.Duration) (time.Duration, error) {
			ctx := context.Background()
			if deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, deadline)
				defer cancel()
			}
			start = time.Now()
			_, err := get(ctx, 1)
			took := time.Since(start)
			synctest.Wait() // the source returns once its context ends
			return took, err
		}

		get := cashews.MustWrap(c, hang, cashews.TTL(time.Minute), cashews.Key("hang:{.}"))
		took, err := call(get, 100*time.Millisecond)
		if !errors.Is(err, context.DeadlineExceeded) || took != 100*time.Millisecond {
			t.Fatalf("call with a 100ms deadline = %v after %v; want DeadlineExceeded after 100ms", err, took)
		}
		if runs.Load() != 1 || time.Duration(ended.Load()) != 100*time.Millisecond {
			t.Fatalf("runs = %d, the source's context ended at %v; want 1 run, ended at 100ms (its only waiter gave up)", runs.Load(), time.Duration(ended.Load()))
		}
		if _, err := call(get, 100*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) || runs.Load() != 2 {
			t.Fatalf("second call = %v, runs %d; want a new run of the function", err, runs.Load())
		}

		bounded := cashews.MustWrap(c, hang, cashews.TTL(time.Minute), cashews.Key("bounded:{.}"), cashews.LoadTimeout(50*time.Millisecond))
		took, err = call(bounded, 0)
		if !errors.Is(err, context.DeadlineExceeded) || took != 50*time.Millisecond || time.Duration(ended.Load()) != 50*time.Millisecond {
			t.Fatalf("call with LoadTimeout(50ms) = %v after %v, source ended at %v; want DeadlineExceeded, all at 50ms", err, took, time.Duration(ended.Load()))
		}

		// A Cache-wide default, for Wrap and GetOrSet.
		c2 := cashews.New(cashews.WithLoadTimeout(50 * time.Millisecond))
		defer c2.Close()
		if err := c2.Setup("mem://"); err != nil {
			t.Fatal(err)
		}
		took, err = call(cashews.MustWrap(c2, hang, cashews.TTL(time.Minute), cashews.Key("d:{.}")), 0)
		if !errors.Is(err, context.DeadlineExceeded) || took != 50*time.Millisecond {
			t.Fatalf("Wrap of a Cache WithLoadTimeout(50ms) = %v after %v; want DeadlineExceeded at 50ms", err, took)
		}
		took, err = call(func(ctx context.Context, id int) (int, error) {
			return cashews.GetOrSet(ctx, c2, "g", time.Minute, func(ctx context.Context) (int, error) { return hang(ctx, id) })
		}, 0)
		if !errors.Is(err, context.DeadlineExceeded) || took != 50*time.Millisecond || time.Duration(ended.Load()) != 50*time.Millisecond {
			t.Fatalf("GetOrSet of a Cache WithLoadTimeout(50ms) = %v after %v; want DeadlineExceeded at 50ms", err, took)
		}
		// A GetOrSet whose only caller gives up cancels its load too.
		took, err = call(func(ctx context.Context, id int) (int, error) {
			return cashews.GetOrSet(ctx, c, "g", time.Minute, func(ctx context.Context) (int, error) { return hang(ctx, id) })
		}, 100*time.Millisecond)
		if !errors.Is(err, context.DeadlineExceeded) || time.Duration(ended.Load()) != 100*time.Millisecond {
			t.Fatalf("GetOrSet with a 100ms deadline = %v after %v, source ended at %v; want both at 100ms", err, took, time.Duration(ended.Load()))
		}
	})
}

// TestSharedLoadOutlivesOneWaiter: a load goes on while one of its waiters is still there, and keeps
// the first caller's context values.
func TestSharedLoadOutlivesOneWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := cashews.New()
		defer c.Close()
		if err := c.Setup("mem://"); err != nil {
			t.Fatal(err)
		}
		type userKey struct{}
		var runs atomic.Int64
		slow := func(ctx context.Context, id int) (string, error) {
			runs.Add(1)
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
				return "", ctx.Err()
			}
			u, _ := ctx.Value(userKey{}).(string)
			return u, nil
		}
		get := cashews.MustWrap(c, slow, cashews.TTL(time.Minute), cashews.Key("s:{.}"))
		first, cancel := context.WithTimeout(context.WithValue(context.Background(), userKey{}, "ann"), 100*time.Millisecond)
		defer cancel()
		errc := make(chan error, 1)
		go func() { _, err := get(first, 1); errc <- err }()
		synctest.Wait()
		got, err := get(context.Background(), 1) // joins, and stays after the first gives up
		if err != nil || got != "ann" || runs.Load() != 1 {
			t.Fatalf("second waiter = %q, %v, runs %d; want the load's result with the first caller's value, one run", got, err, runs.Load())
		}
		if err := <-errc; !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("first caller = %v; want its own deadline", err)
		}
	})
}

// TestWrapOneReadPerMiss: a miss costs one get and one set, a hit one get; callers whose reads
// missed while a load was under way take its result even when the load finished before they asked
// for it, so the function runs once.
func TestWrapOneReadPerMiss(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := cashews.New()
		defer c.Close()
		if err := c.Setup("mem://"); err != nil {
			t.Fatal(err)
		}
		var gets, sets atomic.Int64
		c.OnCommand(func(ctx context.Context, call *cashews.Call, res cashews.Result, err error) {
			switch call.Command() {
			case cashews.CmdGet:
				gets.Add(1)
			case cashews.CmdSet:
				sets.Add(1)
			}
		})
		// Reads answer after 20ms (the backend looked at the start), the function takes 5ms:
		// callers starting 2ms apart read a miss while the first load runs and ask for the load
		// after it finished.
		c.Use(func(next cashews.Handler) cashews.Handler {
			return func(ctx context.Context, call *cashews.Call) (cashews.Result, error) {
				res, err := next(ctx, call)
				if call.Command() == cashews.CmdGet {
					time.Sleep(20 * time.Millisecond)
				}
				return res, err
			}
		})
		var runs atomic.Int64
		fn := func(ctx context.Context, id int) (int, error) {
			runs.Add(1)
			time.Sleep(5 * time.Millisecond)
			return id, nil
		}
		get := cashews.MustWrap(c, fn, cashews.TTL(time.Minute), cashews.Key("r:{.}"))
		ctx := context.Background()
		get(ctx, 0)
		if gets.Load() != 1 || sets.Load() != 1 {
			t.Fatalf("a miss cost %d gets and %d sets; want 1 and 1", gets.Load(), sets.Load())
		}
		get(ctx, 0)
		if gets.Load() != 2 || sets.Load() != 1 || runs.Load() != 1 {
			t.Fatalf("a hit: gets %d, sets %d, runs %d; want 2, 1, 1", gets.Load(), sets.Load(), runs.Load())
		}
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				time.Sleep(time.Duration(2*i) * time.Millisecond)
				if v, err := get(ctx, 1); v != 1 || err != nil {
					t.Errorf("caller %d = %d, %v", i, v, err)
				}
			})
		}
		wg.Wait()
		if runs.Load() != 2 {
			t.Fatalf("runs = %d; want 2 (one per key): callers whose reads missed while the load ran take its result", runs.Load())
		}
		if sets.Load() != 2 {
			t.Fatalf("sets = %d; want 2", sets.Load())
		}
	})
}

// TestScanIsOneCommand: middlewares see a scan of a backend as one command, however many batches it
// takes.
func TestScanIsOneCommand(t *testing.T) {
	c, _ := newCache(t, "mem://")
	ctx := context.Background()
	for i := range 250 {
		c.Set(ctx, fmt.Sprint("s:", i), i, 0)
	}
	var scans atomic.Int64
	var yielded int
	c.OnCommand(func(ctx context.Context, call *cashews.Call, res cashews.Result, err error) {
		scans.Add(1)
		yielded, _ = res.Value.(int)
	}, cashews.CmdScan)
	n := 0
	for _, err := range c.Scan(ctx, "s:*", cashews.Batch(10)) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 250 || scans.Load() != 1 || yielded != 250 {
		t.Fatalf("scan yielded %d keys in %d commands (result %d); want 250 keys in 1 command", n, scans.Load(), yielded)
	}
}

// TestBreakerDefaultKeyPerFunction: the circuit breaker's default key is the function's name, so
// a dependency failing for many distinct arguments opens it; a Key template makes it per key.
func TestBreakerDefaultKeyPerFunction(t *testing.T) {
	failing := func(ctx context.Context, id int) (int, error) { return 0, errors.New("dependency down") }
	for _, tc := range []struct {
		name        string
		opts        []cashews.WrapOption
		wantRefused bool
	}{
		{"default", []cashews.WrapOption{cashews.Name("dep")}, true},
		{"per argument", []cashews.WrapOption{cashews.Key("dep:{.}")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newCache(t, "mem://")
			get := cashews.MustWrap(c, failing, append(tc.opts, strategies.CircuitBreaker(50, time.Minute, time.Minute))...)
			refused := 0
			for id := range 200 {
				if _, err := get(context.Background(), id); errors.Is(err, cashews.ErrCircuitOpen) {
					refused++
				}
			}
			if got := refused > 0; got != tc.wantRefused {
				t.Fatalf("%d of 200 calls over 200 ids refused; want refusals: %v", refused, tc.wantRefused)
			}
			t.Logf("%d of 200 calls over 200 ids refused", refused)
		})
	}
}

// TestDetectStillSeesHitsAfterOutage: after the cache comes back, hits are served from it again.
func TestDetectStillSeesHitsAfterOutage(t *testing.T) {
	c, _ := newCache(t, "mem://")
	var runs atomic.Int64
	get := cashews.MustWrap(c, counted(&runs), cashews.TTL(time.Hour), cashews.Key("d:{ID}"))
	down := outage(c)
	down.Store(true)
	get(context.Background(), query{ID: 1})
	down.Store(false)
	get(context.Background(), query{ID: 1})
	ctx, d := detect.New(context.Background())
	if got, err := get(ctx, query{ID: 1}); got != "user 1 " || err != nil || len(d.Hits()) != 1 || runs.Load() != 2 {
		t.Fatalf("after the outage: %q, %v, hits %v, runs %d; want a hit", got, err, d.Hits(), runs.Load())
	}
}

// TestBuiltinHooksAroundUserHooks: the built-in hooks sit on the chain the user extends, in the
// documented order: the switches outside the user's hooks, suppression and the health breaker with
// the stats inside them.
func TestBuiltinHooksAroundUserHooks(t *testing.T) {
	c, d, _ := newDown(t, "suppress=true", true)
	ctx := context.Background()
	type seen struct {
		cmd cashews.Command
		ok  bool
		err error
	}
	var calls []seen
	if err := c.OnCommand(func(ctx context.Context, call *cashews.Call, res cashews.Result, err error) {
		calls = append(calls, seen{call.Command(), res.OK, err})
	}); err != nil {
		t.Fatal(err)
	}
	d.down.Store(true)
	if _, found, err := c.GetRaw(ctx, "k"); found || err != nil {
		t.Fatalf("GetRaw on a failing backend under suppress=true = (found %v, %v), want a miss", found, err)
	}
	if len(calls) != 1 || calls[0] != (seen{cashews.CmdGet, false, nil}) {
		t.Errorf("the user's hook saw %v, want one get that missed without an error (suppression is inside the user's hooks)", calls)
	}
	if s := c.Stats().Total; s.Errors != 1 || s.Suppressed != 1 {
		t.Errorf("Stats: Errors %d, Suppressed %d, want 1 and 1 (the health hook counts under suppression)", s.Errors, s.Suppressed)
	}
	calls = nil
	c.Disable(cashews.CmdGet)
	if _, found, err := c.GetRaw(ctx, "k"); found || err != nil {
		t.Fatalf("GetRaw disabled = (found %v, %v), want a miss", found, err)
	}
	if _, err := c.Exists(cashews.WithDisabled(ctx, cashews.CmdExists), "k"); err != nil {
		t.Fatalf("Exists disabled in the context = %v, want nil", err)
	}
	if len(calls) != 0 {
		t.Errorf("the user's hook saw %v for disabled commands, want nothing (the switches are outside it)", calls)
	}
	if s := c.Stats().Total; s.Errors != 1 {
		t.Errorf("Stats().Total.Errors = %d after disabled commands, want still 1", s.Errors)
	}
}
