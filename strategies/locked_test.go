package strategies_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends/backendtest"
	"github.com/cashews-go/cashews/internal/testenv"
	"github.com/cashews-go/cashews/strategies"
)

// errGuardDown is the error that a guardFault makes commands return.
var errGuardDown = errors.New("injected: backend down")

// guardFault makes chosen commands of a Cache fail while it is on, through a middleware: the
// memory backend cannot be made to fail otherwise.
type guardFault struct {
	on   atomic.Bool
	cmds map[cashews.Command]bool
}

func guardInject(c *cashews.Cache, cmds ...cashews.Command) *guardFault {
	f := &guardFault{cmds: make(map[cashews.Command]bool)}
	for _, cmd := range cmds {
		f.cmds[cmd] = true
	}
	c.Use(func(next cashews.Handler) cashews.Handler {
		return func(ctx context.Context, call *cashews.Call) (cashews.Result, error) {
			if f.on.Load() && f.cmds[call.Command()] {
				return cashews.Result{}, fmt.Errorf("%s %q: %w", call.Command(), call.Key(), errGuardDown)
			}
			return next(ctx, call)
		}
	})
	return f
}

// guardWait polls cond until it holds, and fails the test after a deadline.
func guardWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// lkCounter is incremented by a load and a later store with a yield between: two holders at once
// lose updates. The loads and stores are atomic so that -race stays quiet on backends whose
// synchronization the race detector cannot see (a server across the network); the increment as a
// whole is not.
type lkCounter struct {
	n, holders, maxHolders atomic.Int64
}

func (c *lkCounter) inc() {
	h := c.holders.Add(1)
	for {
		m := c.maxHolders.Load()
		if h <= m || c.maxHolders.CompareAndSwap(m, h) {
			break
		}
	}
	v := c.n.Load()
	runtime.Gosched()
	c.n.Store(v + 1)
	c.holders.Add(-1)
}

// lkSource is a function that counts its runs and returns "<id>:v<run>". Its first run after block
// waits until the gate closes; other runs do not, so that a run the test did not expect fails the
// test instead of hanging it.
type lkSource struct {
	runs    atomic.Int64
	mu      sync.Mutex
	gate    chan struct{}
	gateRun int64
	err     error
}

func (s *lkSource) block() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gate, s.gateRun = make(chan struct{}), s.runs.Load()+1
	return s.gate
}

func (s *lkSource) load(ctx context.Context, id int) (string, error) {
	n := s.runs.Add(1)
	s.mu.Lock()
	gate, err := s.gate, s.err
	if n != s.gateRun {
		gate = nil
	}
	s.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d:v%d", id, n), nil
}

func lkLocked(t *testing.T, c *cashews.Cache, key string) bool {
	t.Helper()
	held, err := lockHeld(context.Background(), c, key+strategies.LockSuffix)
	if err != nil {
		t.Fatalf("IsLocked: %v", err)
	}
	return held
}

func TestLockedSerializes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, _ *backendtest.Clock) {
		var counter lkCounter
		inc := cashews.MustWrap(c, func(ctx context.Context, id int) (int64, error) {
			counter.inc()
			return 0, nil
		}, strategies.Locked(), cashews.KeyPrefix(t.Name()+":"), cashews.Key("{.}"))

		const goroutines, calls = 10, 30
		var wg sync.WaitGroup
		errs := make(chan error, goroutines*calls)
		for range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range calls {
					if _, err := inc(context.Background(), 1); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("call failed: %v", err)
		}
		if got := counter.n.Load(); got != goroutines*calls {
			t.Fatalf("counter = %d; want %d (lost updates: two holders at once)", got, goroutines*calls)
		}
		if got := counter.maxHolders.Load(); got != 1 {
			t.Fatalf("at most %d holders at once; want 1", got)
		}
		if lkLocked(t, c, t.Name()+":1") {
			t.Fatal("the lock is still held after every call returned")
		}
	})
}

// TestLockedColdKeyOnce: 100 concurrent callers of a cold key, with in-process deduplication off,
// run the function once: the lock and the second look-up do it.
func TestLockedColdKeyOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, _ *backendtest.Clock) {
		var src lkSource
		get := cashews.MustWrap(c, src.load, strategies.Locked(), cashews.TTL(time.Hour), cashews.NoDedup(),
			cashews.KeyPrefix(t.Name()+":"), cashews.Key("{.}"))
		gate := src.block()

		const callers = 100
		var started atomic.Int64
		var wg sync.WaitGroup
		results := make([]string, callers)
		errs := make([]error, callers)
		for i := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				started.Add(1)
				results[i], errs[i] = get(context.Background(), 7)
			}()
		}
		guardWait(t, "every caller started and one runs the function", func() bool {
			return started.Load() == callers && src.runs.Load() == 1
		})
		if !lkLocked(t, c, t.Name()+":7") {
			t.Fatal("the function runs, but its lock is not held")
		}
		close(gate)
		wg.Wait()
		for i := range callers {
			if results[i] != "7:v1" || errs[i] != nil {
				t.Fatalf("caller %d got %q, %v; want %q, nil", i, results[i], errs[i], "7:v1")
			}
		}
		if n := src.runs.Load(); n != 1 {
			t.Fatalf("the function ran %d times; want 1", n)
		}
		if got, err := get(context.Background(), 7); got != "7:v1" || err != nil || src.runs.Load() != 1 {
			t.Fatalf("a later call = %q, %v after %d runs; want %q, nil from cache after 1 run", got, err, src.runs.Load(), "7:v1")
		}
		if lkLocked(t, c, t.Name()+":7") {
			t.Fatal("the lock is still held after every call returned")
		}
	})
}

// TestLockedColdKeyAcrossWraps: four Wraps of the same function and key stand for four processes,
// each with deduplication on; 25 callers each run the function once in all.
func TestLockedColdKeyAcrossWraps(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, _ *backendtest.Clock) {
		var src lkSource
		gate := src.block()
		const processes, callers = 4, 25
		var started atomic.Int64
		var wg sync.WaitGroup
		var failed atomic.Value
		for range processes {
			get := cashews.MustWrap(c, src.load, strategies.Locked(), cashews.TTL(time.Hour),
				cashews.KeyPrefix(t.Name()+":"), cashews.Key("{.}"))
			for range callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					started.Add(1)
					if got, err := get(context.Background(), 3); got != "3:v1" || err != nil {
						failed.Store(fmt.Sprintf("got %q, %v; want %q, nil", got, err, "3:v1"))
					}
				}()
			}
		}
		guardWait(t, "every caller started and one runs the function", func() bool {
			return started.Load() == processes*callers && src.runs.Load() == 1
		})
		close(gate)
		wg.Wait()
		if msg := failed.Load(); msg != nil {
			t.Fatal(msg)
		}
		if n := src.runs.Load(); n != 1 {
			t.Fatalf("the function ran %d times; want 1", n)
		}
	})
}

func TestLockedWaiterDeadline(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts []cashews.WrapOption
	}{
		{"serialized", nil},
		{"cached", []cashews.WrapOption{cashews.TTL(time.Hour)}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, c *cashews.Cache, _ *backendtest.Clock) {
				var src lkSource
				opts := append([]cashews.WrapOption{strategies.Locked(), cashews.KeyPrefix(t.Name() + ":"), cashews.Key("{.}")}, mode.opts...)
				// Two Wraps of one key stand for two processes: the waiter does not join the
				// holder's in-process call, it waits for the lock.
				holderGet := cashews.MustWrap(c, src.load, opts...)
				waiterGet := cashews.MustWrap(c, src.load, opts...)
				gate := src.block()
				held := make(chan error, 1)
				go func() {
					got, err := holderGet(context.Background(), 1)
					if err == nil && got != "1:v1" {
						err = fmt.Errorf("holder got %q; want %q", got, "1:v1")
					}
					held <- err
				}()
				guardWait(t, "the holder runs the function", func() bool { return src.runs.Load() == 1 })

				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				defer cancel()
				start := time.Now()
				got, err := waiterGet(ctx, 1)
				if !errors.Is(err, context.DeadlineExceeded) || got != "" {
					t.Fatalf("waiter = %q, %v; want \"\", an error matching context.DeadlineExceeded", got, err)
				}
				if d := time.Since(start); d > 5*time.Second && testenv.Timing() {
					t.Fatalf("the waiter returned after %v, long after its deadline", d)
				}
				if n := src.runs.Load(); n != 1 {
					t.Fatalf("runs = %d while the lock was held; want 1", n)
				}
				close(gate)
				if err := <-held; err != nil {
					t.Fatal(err)
				}

				want, wantRuns := "1:v2", int64(2) // serialized: every call runs
				if len(mode.opts) > 0 {
					want, wantRuns = "1:v1", 1 // cached: the holder stored the result
				}
				if got, err := waiterGet(context.Background(), 1); got != want || err != nil {
					t.Fatalf("waiter after the holder = %q, %v; want %q, nil", got, err, want)
				}
				if n := src.runs.Load(); n != wantRuns {
					t.Fatalf("runs = %d; want %d", n, wantRuns)
				}
			})
		})
	}
}

func TestLockedReleasesOnErrorAndPanic(t *testing.T) {
	errBoom := errors.New("boom")
	for _, mode := range []struct {
		name string
		opts []cashews.WrapOption
	}{
		{"serialized", nil},
		{"cached", []cashews.WrapOption{cashews.TTL(time.Hour)}},
		{"cached-nodedup", []cashews.WrapOption{cashews.TTL(time.Hour), cashews.NoDedup()}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, c *cashews.Cache, _ *backendtest.Clock) {
				var runs atomic.Int64
				var what atomic.Value // "error", "panic" or "ok"
				fn := func(ctx context.Context, id int) (string, error) {
					runs.Add(1)
					switch what.Load() {
					case "error":
						return "", errBoom
					case "panic":
						panic("boom")
					}
					return "ok", nil
				}
				opts := append([]cashews.WrapOption{strategies.Locked(), cashews.KeyPrefix(t.Name() + ":"), cashews.Key("{.}")}, mode.opts...)
				get := cashews.MustWrap(c, fn, opts...)
				key := t.Name() + ":1"

				what.Store("error")
				if _, err := get(context.Background(), 1); !errors.Is(err, errBoom) {
					t.Fatalf("error call: err = %v; want %v", err, errBoom)
				}
				if lkLocked(t, c, key) {
					t.Fatal("the lock is held after the function returned an error")
				}

				what.Store("panic")
				func() {
					defer func() { _ = recover() }()
					_, err := get(context.Background(), 1)
					if err == nil || !strings.Contains(err.Error(), "boom") {
						t.Fatalf("panic call: err = %v; want the panic as an error (or the panic itself)", err)
					}
				}()
				if lkLocked(t, c, key) {
					t.Fatal("the lock is held after the function panicked")
				}

				what.Store("ok")
				if got, err := get(context.Background(), 1); got != "ok" || err != nil {
					t.Fatalf("call after = %q, %v; want %q, nil", got, err, "ok")
				}
				if n := runs.Load(); n != 3 {
					t.Fatalf("runs = %d; want 3", n)
				}
			})
		})
	}
}

func TestLockedFailModes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    []strategies.LockOption
		ttl     bool
		disable bool // hide the failure as suppress=true does, instead of an error
		wantRun bool
	}{
		{"error/default", nil, false, false, false},
		{"error/default/cached", nil, true, false, false},
		{"error/open", []strategies.LockOption{strategies.FailOpen}, false, false, true},
		{"error/open/cached", []strategies.LockOption{strategies.FailOpen}, true, false, true},
		{"error/closed", []strategies.LockOption{strategies.FailClosed}, false, false, false},
		{"noanswer/default", nil, false, true, true},
		{"noanswer/default/cached", nil, true, true, true},
		{"noanswer/open", []strategies.LockOption{strategies.FailOpen}, false, true, true},
		{"noanswer/closed", []strategies.LockOption{strategies.FailClosed}, false, true, false},
		{"noanswer/closed/cached", []strategies.LockOption{strategies.FailClosed}, true, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, c *cashews.Cache, _ *backendtest.Clock) {
				var src lkSource
				opts := []cashews.WrapOption{strategies.Locked(tc.opts...), cashews.KeyPrefix(t.Name() + ":"), cashews.Key("{.}")}
				if tc.ttl {
					opts = append(opts, cashews.TTL(time.Hour))
				}
				get := cashews.MustWrap(c, src.load, opts...)
				fault := guardInject(c, cashews.CmdSetLock)
				if tc.disable {
					c.Disable(cashews.CmdSetLock, cashews.CmdIsLocked, cashews.CmdIncr)
				} else {
					fault.on.Store(true)
				}
				got, err := get(context.Background(), 1)
				if tc.wantRun {
					if got != "1:v1" || err != nil {
						t.Fatalf("call = %q, %v; want %q, nil (run without the lock)", got, err, "1:v1")
					}
				} else {
					if err == nil || got != "" {
						t.Fatalf("call = %q, %v; want an error", got, err)
					}
					if !tc.disable && !errors.Is(err, errGuardDown) {
						t.Fatalf("err = %v; want it to wrap the backend's error", err)
					}
				}
				if n, want := src.runs.Load(), map[bool]int64{true: 1, false: 0}[tc.wantRun]; n != want {
					t.Fatalf("runs = %d; want %d", n, want)
				}
			})
		})
	}
}

func TestLockedConfig(t *testing.T) {
	c := cashews.New()
	t.Cleanup(func() { c.Close() })
	if err := c.Setup("mem://"); err != nil {
		t.Fatal(err)
	}
	fn := func(ctx context.Context, id int) (int, error) { return id, nil }
	for _, tc := range []struct {
		name string
		s    cashews.WrapOption
		want string
	}{
		{"zero TTL", strategies.Locked(strategies.LockTTL(0)), "lock TTL 0s must be positive"},
		{"negative TTL", strategies.Locked(strategies.LockTTL(-time.Second)), "lock TTL -1s must be positive"},
		{"zero backoff", strategies.Locked(strategies.LockBackoff(0, time.Second)), "backoff"},
		{"shrinking backoff", strategies.Locked(strategies.LockBackoff(time.Second, time.Millisecond)), "backoff"},
		{"bad fail mode", strategies.Locked(strategies.FailMode(9)), "FailMode(9)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cashews.Wrap(c, fn, tc.s, cashews.Name("lkfn"))
			if !errors.Is(err, cashews.ErrConfig) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "locked") || !strings.Contains(err.Error(), "lkfn") {
				t.Fatalf("Wrap error = %v; want ErrConfig naming lkfn, locked and %q", err, tc.want)
			}
		})
	}
}
