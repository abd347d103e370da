package strategies_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends/backendtest"
	"github.com/cashews-go/cashews/strategies"
)

var (
	errBreakerDown  = errors.New("dependency down")
	errBreakerOther = errors.New("not found")
)

// cbSource is a function whose behaviour the test sets: "ok" returns "<id>:v<run>"; "fail",
// "other" and "canceled" return errBreakerDown, errBreakerOther and context.Canceled; "panic" panics. The
// runs that block chose block until the gate it returned closes; later runs do not block, so that a
// run the test did not expect fails the test instead of hanging it.
type cbSource struct {
	runs     atomic.Int64
	mode     atomic.Value
	mu       sync.Mutex
	gate     chan struct{}
	gateRuns [2]int64 // the first and last run that wait for gate
}

func (s *cbSource) set(mode string) { s.mode.Store(mode) }

// block makes the next n runs wait until the returned gate closes.
func (s *cbSource) block(n int64) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gate = make(chan struct{})
	first := s.runs.Load() + 1
	s.gateRuns = [2]int64{first, first + n - 1}
	return s.gate
}

func (s *cbSource) load(ctx context.Context, id int) (string, error) {
	n := s.runs.Add(1)
	s.mu.Lock()
	gate := s.gate
	if n < s.gateRuns[0] || n > s.gateRuns[1] {
		gate = nil
	}
	s.mu.Unlock()
	if gate != nil {
		<-gate
	}
	switch s.mode.Load() {
	case "fail":
		return "", errBreakerDown
	case "other":
		return "", errBreakerOther
	case "canceled":
		return "", context.Canceled
	case "panic":
		panic("cbSource panics")
	}
	return fmt.Sprintf("%d:v%d", id, n), nil
}

// cbStep moves the clock by advance, sets the function's mode and calls it; open means the call must
// be refused with ErrCircuitOpen, otherwise it must run and return what its mode says. runs is the
// number of runs after the call.
type cbStep struct {
	advance time.Duration
	mode    string
	open    bool
	runs    int64
}

func cbRun(t *testing.T, clock *backendtest.Clock, get func(context.Context, int) (string, error), src *cbSource, steps []cbStep) {
	t.Helper()
	for i, s := range steps {
		now := clock.Advance(s.advance)
		at := now.Sub(backendtest.ClockStart)
		src.set(s.mode)
		got, err := get(context.Background(), 1)
		switch {
		case s.open:
			if !errors.Is(err, cashews.ErrCircuitOpen) || got != "" {
				t.Fatalf("step %d at +%v: %q, %v; want an error matching ErrCircuitOpen", i+1, at, got, err)
			}
		case s.mode == "ok":
			if want := fmt.Sprintf("1:v%d", s.runs); got != want || err != nil {
				t.Fatalf("step %d at +%v: %q, %v; want %q, nil", i+1, at, got, err, want)
			}
		case s.mode == "fail":
			if !errors.Is(err, errBreakerDown) || errors.Is(err, cashews.ErrCircuitOpen) {
				t.Fatalf("step %d at +%v: %q, %v; want the function's error %v", i+1, at, got, err, errBreakerDown)
			}
		}
		if n := src.runs.Load(); n != s.runs {
			t.Fatalf("step %d at +%v: runs = %d; want %d", i+1, at, n, s.runs)
		}
	}
}

func cbWrap(t *testing.T, c *cashews.Cache, src *cbSource, s cashews.WrapOption) func(context.Context, int) (string, error) {
	return cashews.MustWrap(c, src.load, s, cashews.KeyPrefix(t.Name()+":"), cashews.Key("{.}"))
}

func TestCircuitBreakerTransitions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		var src cbSource
		get := cbWrap(t, c, &src, strategies.CircuitBreaker(50, 10*time.Minute, 30*time.Second, strategies.BreakerMinCalls(4)))
		cbRun(t, clock, get, &src, []cbStep{
			{0, "fail", false, 1},
			{0, "fail", false, 2},
			{0, "fail", false, 3}, // 3 of 3 failed, but fewer than MinCalls
			{0, "ok", false, 4},
			{0, "fail", false, 5}, // 4 of 5 failed: open until +30s
			{0, "ok", true, 5},
			{30*time.Second - 1, "ok", true, 5},
			{1, "fail", false, 6}, // half-open: the trial fails, open again until +60s
			{0, "ok", true, 6},
			{30*time.Second - 1, "ok", true, 6},
			{1, "ok", false, 7}, // the trial succeeds: closed, with fresh counts (trials count in none)
			{0, "ok", false, 8},
			{0, "ok", false, 9},
			{0, "fail", false, 10},
			{0, "ok", false, 11},   // 1 of 4 failed
			{0, "fail", false, 12}, // 2 of 5
			{0, "fail", false, 13}, // 3 of 6: 50% reaches the rate: open until +90s
			{0, "ok", true, 13},
			{30 * time.Second, "ok", false, 14}, // the trial succeeds
			{0, "fail", false, 15},
			{0, "ok", false, 16},
		})
	})
}

func TestCircuitBreakerPeriod(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		var src cbSource
		get := cbWrap(t, c, &src, strategies.CircuitBreaker(100, time.Minute, time.Minute, strategies.BreakerMinCalls(3)))
		cbRun(t, clock, get, &src, []cbStep{
			{0, "fail", false, 1},
			{59 * time.Second, "fail", false, 2},
			{time.Second, "fail", false, 3}, // a new period: 1 of 1 failed
			{0, "fail", false, 4},
			{59 * time.Second, "fail", false, 5}, // 3 of 3: open until +119s+1m
			{0, "ok", true, 5},
			{time.Minute, "ok", false, 6},
		})
	})
}

func TestCircuitBreakerHalfOpenCalls(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		var src cbSource
		get := cbWrap(t, c, &src, strategies.CircuitBreaker(100, time.Minute, time.Minute,
			strategies.BreakerMinCalls(1), strategies.BreakerHalfOpenCalls(2)))
		cbRun(t, clock, get, &src, []cbStep{{0, "fail", false, 1}, {0, "ok", true, 1}})
		clock.Advance(time.Minute)

		gate := src.block(2)
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := get(context.Background(), 1); err != nil {
					errs <- err
				}
			}()
		}
		guardWait(t, "two trial calls run", func() bool { return src.runs.Load() == 3 })
		if _, err := get(context.Background(), 1); !errors.Is(err, cashews.ErrCircuitOpen) || !strings.Contains(err.Error(), "half-open") {
			t.Fatalf("a third call while two trials run: err = %v; want ErrCircuitOpen, half-open", err)
		}
		close(gate)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("trial call: %v", err)
		}
		cbRun(t, clock, get, &src, []cbStep{{0, "ok", false, 4}, {0, "ok", false, 5}})
	})
}

// TestCircuitBreakerLostTrial: a trial that never ends (its process died) blocks the half-open
// breaker for ttl only; a trial whose caller gave up gives its place back at once.
func TestCircuitBreakerLostTrial(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		var src cbSource
		get := cbWrap(t, c, &src, strategies.CircuitBreaker(100, time.Minute, time.Minute, strategies.BreakerMinCalls(1)))
		cbRun(t, clock, get, &src, []cbStep{
			{0, "fail", false, 1},
			{time.Minute, "canceled", false, 2}, // the trial's caller gave up: no decision
			{0, "fail", false, 3},               // another trial: it fails, open again until +2m
			{0, "ok", true, 3},
		})
		clock.Advance(time.Minute)
		gate := src.block(1)
		lost := make(chan error, 1)
		go func() {
			_, err := get(context.Background(), 1)
			lost <- err
		}()
		guardWait(t, "the trial runs", func() bool { return src.runs.Load() == 4 })
		if _, err := get(context.Background(), 1); !errors.Is(err, cashews.ErrCircuitOpen) {
			t.Fatalf("a call while the trial runs: err = %v; want ErrCircuitOpen", err)
		}
		cbRun(t, clock, get, &src, []cbStep{
			{time.Minute - 1, "ok", true, 4},
			{1, "ok", false, 5}, // a ttl later, a new trial may run: it succeeds and closes
			{0, "ok", false, 6},
		})
		close(gate) // the lost trial ends late; the breaker already moved on
		if err := <-lost; err != nil {
			t.Fatalf("the late trial: %v", err)
		}
		cbRun(t, clock, get, &src, []cbStep{{0, "ok", false, 7}})
	})
}

func TestCircuitBreakerWhichErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		t.Run("canceled", func(t *testing.T) {
			var src cbSource
			get := cbWrap(t, c, &src, strategies.CircuitBreaker(100, time.Minute, time.Minute, strategies.BreakerMinCalls(1)))
			cbRun(t, clock, get, &src, []cbStep{
				{0, "canceled", false, 1}, // not a failure
				{0, "ok", false, 2},
				{0, "fail", false, 3}, // 1 of 3 is not 100%
				{0, "fail", false, 4},
				{0, "ok", false, 5},
			})
		})
		t.Run("panic", func(t *testing.T) {
			var src cbSource
			get := cbWrap(t, c, &src, strategies.CircuitBreaker(100, time.Minute, time.Minute, strategies.BreakerMinCalls(1)))
			src.set("panic")
			func() {
				defer func() {
					if r := recover(); r == nil {
						t.Fatal("the panic did not reach the caller")
					}
				}()
				_, _ = get(context.Background(), 1)
			}()
			cbRun(t, clock, get, &src, []cbStep{{0, "ok", true, 1}})
		})
		t.Run("FailOn", func(t *testing.T) {
			var src cbSource
			get := cbWrap(t, c, &src, strategies.CircuitBreaker(50, time.Minute, time.Minute,
				strategies.BreakerMinCalls(1), strategies.BreakerFailOn(errBreakerDown)))
			cbRun(t, clock, get, &src, []cbStep{
				{0, "other", false, 1}, // a success
				{0, "fail", false, 2},  // 1 of 2: open
				{0, "ok", true, 2},
			})
		})
		t.Run("FailIf", func(t *testing.T) {
			var src cbSource
			get := cbWrap(t, c, &src, strategies.CircuitBreaker(100, time.Minute, time.Minute,
				strategies.BreakerMinCalls(1), strategies.BreakerFailIf(func(err error) bool { return errors.Is(err, errBreakerOther) })))
			cbRun(t, clock, get, &src, []cbStep{
				{0, "fail", false, 1}, // a success by the predicate
				{0, "other", false, 2},
				{0, "ok", false, 3}, // 1 of 2 is not 100%
			})
		})
	})
}

// TestCircuitBreakerSharedState: two Wraps of the same function and key stand for two processes
// sharing the backend; they share the breaker.
func TestCircuitBreakerSharedState(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		var src cbSource
		s := strategies.CircuitBreaker(50, time.Minute, time.Minute, strategies.BreakerMinCalls(2))
		a := cbWrap(t, c, &src, s)
		b := cbWrap(t, c, &src, s)
		cbRun(t, clock, a, &src, []cbStep{{0, "fail", false, 1}})
		cbRun(t, clock, b, &src, []cbStep{{0, "fail", false, 2}}) // 2 of 2 across both: open
		cbRun(t, clock, a, &src, []cbStep{{0, "ok", true, 2}})
		cbRun(t, clock, b, &src, []cbStep{{0, "ok", true, 2}})
		cbRun(t, clock, b, &src, []cbStep{{time.Minute, "ok", false, 3}}) // b's trial closes it for both
		cbRun(t, clock, a, &src, []cbStep{{0, "ok", false, 4}})
	})
}

func TestCircuitBreakerFailModes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    []strategies.BreakerOption
		disable bool
		wantRun bool
	}{
		{"error/default", nil, false, true},
		{"error/open", []strategies.BreakerOption{strategies.FailOpen}, false, true},
		{"error/closed", []strategies.BreakerOption{strategies.FailClosed}, false, false},
		{"noanswer/default", nil, true, true},
		{"noanswer/closed", []strategies.BreakerOption{strategies.FailClosed}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
				var src cbSource
				opts := append([]strategies.BreakerOption{strategies.BreakerMinCalls(1)}, tc.opts...)
				get := cbWrap(t, c, &src, strategies.CircuitBreaker(100, time.Minute, time.Minute, opts...))
				fault := guardInject(c, cashews.CmdIncr)
				if tc.disable {
					c.Disable(cashews.CmdIncr)
				} else {
					fault.on.Store(true)
				}
				src.set("fail") // uncounted failures open nothing
				for i := 1; i <= 2; i++ {
					got, err := get(context.Background(), 1)
					if tc.wantRun {
						if !errors.Is(err, errBreakerDown) {
							t.Fatalf("call %d = %q, %v; want the function's error (run uncounted)", i, got, err)
						}
						continue
					}
					if !errors.Is(err, cashews.ErrCircuitOpen) || got != "" {
						t.Fatalf("call %d = %q, %v; want an error matching ErrCircuitOpen", i, got, err)
					}
					if !tc.disable && !errors.Is(err, errGuardDown) {
						t.Fatalf("call %d: err = %v; want it to wrap the backend's error", i, err)
					}
				}
				if n, want := src.runs.Load(), map[bool]int64{true: 2, false: 0}[tc.wantRun]; n != want {
					t.Fatalf("runs = %d; want %d", n, want)
				}
				fault.on.Store(false)
				c.Enable()
				cbRun(t, clock, get, &src, []cbStep{{0, "ok", false, src.runs.Load() + 1}})
			})
		})
	}
}

func TestCircuitBreakerConfig(t *testing.T) {
	c := cashews.New()
	t.Cleanup(func() { c.Close() })
	if err := c.Setup("mem://"); err != nil {
		t.Fatal(err)
	}
	fn := func(ctx context.Context, id int) (int, error) { return id, nil }
	ok := []time.Duration{time.Minute, time.Minute}
	for _, tc := range []struct {
		name  string
		s     cashews.WrapOption
		extra []cashews.WrapOption
		want  string
	}{
		{"zero rate", strategies.CircuitBreaker(0, ok[0], ok[1]), nil, "error rate 0%"},
		{"rate over 100", strategies.CircuitBreaker(101, ok[0], ok[1]), nil, "error rate 101%"},
		{"zero period", strategies.CircuitBreaker(50, 0, ok[1]), nil, "period 0s must be positive"},
		{"zero ttl", strategies.CircuitBreaker(50, ok[0], 0), nil, "open time 0s must be positive"},
		{"zero min calls", strategies.CircuitBreaker(50, ok[0], ok[1], strategies.BreakerMinCalls(0)), nil, "BreakerMinCalls(0)"},
		{"zero half-open calls", strategies.CircuitBreaker(50, ok[0], ok[1], strategies.BreakerHalfOpenCalls(0)), nil, "BreakerHalfOpenCalls(0)"},
		{"nil FailIf", strategies.CircuitBreaker(50, ok[0], ok[1], strategies.BreakerFailIf(nil)), nil, "BreakerFailIf(nil)"},
		{"empty FailOn", strategies.CircuitBreaker(50, ok[0], ok[1], strategies.BreakerFailOn()), nil, "BreakerFailOn with no error"},
		{"bad fail mode", strategies.CircuitBreaker(50, ok[0], ok[1], strategies.FailMode(3)), nil, "FailMode(3)"},
		{"TTL", strategies.CircuitBreaker(50, ok[0], ok[1]), []cashews.WrapOption{cashews.TTL(time.Minute)}, "stores no results"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cashews.Wrap(c, fn, append([]cashews.WrapOption{tc.s, cashews.Name("cbfn")}, tc.extra...)...)
			if !errors.Is(err, cashews.ErrConfig) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "circuit_breaker") || !strings.Contains(err.Error(), "cbfn") {
				t.Fatalf("Wrap error = %v; want ErrConfig naming cbfn, circuit_breaker and %q", err, tc.want)
			}
		})
	}
}
