package strategies_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends/backendtest"
	"github.com/cashews-go/cashews/strategies"
)

// pfLoader is a function whose latency the test sets: it advances the fake clock by it, counts its
// runs, and fails with err when err is set.
type pfLoader struct {
	clock   *backendtest.Clock
	latency atomic.Int64 // time.Duration
	runs    atomic.Int64
	err     error
}

func (l *pfLoader) search(_ context.Context, q string) (string, error) {
	l.runs.Add(1)
	l.clock.Advance(time.Duration(l.latency.Load()))
	if l.err != nil {
		return "", l.err
	}
	return "found " + q, nil
}

// pfCall sets the latency, calls f, and checks the run count after the call and whether the call
// was refused as degraded.
func pfCall(t *testing.T, l *pfLoader, f func(context.Context, string) (string, error), latency time.Duration, wantRuns int64, wantDegraded bool) {
	t.Helper()
	l.latency.Store(int64(latency))
	v, err := f(context.Background(), "q")
	if wantDegraded {
		if !errors.Is(err, cashews.ErrPerfDegraded) || v != "" {
			t.Fatalf("call = %q, %v; want \"\" and ErrPerfDegraded", v, err)
		}
	} else if err != nil || v != "found q" {
		t.Fatalf("call = %q, %v; want \"found q\", nil", v, err)
	}
	if n := l.runs.Load(); n != wantRuns {
		t.Fatalf("runs = %d; want %d", n, wantRuns)
	}
}

func TestPerfDegradesAndRecovers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		l := &pfLoader{clock: clock}
		search := cashews.MustWrap(c, l.search, cashews.Name("search"), strategies.Perf(time.Minute))
		ms := time.Millisecond
		for i := range 10 {
			pfCall(t, l, search, 100*ms, int64(i+1), false)
		}
		pfCall(t, l, search, 200*ms, 11, false) // twice the median is not slower than twice
		pfCall(t, l, search, 201*ms, 12, false) // slow: the call itself returns its result
		pfCall(t, l, search, 100*ms, 12, true)  // degraded: the function does not run

		_, err := search(context.Background(), "q")
		if msg := err.Error(); !strings.Contains(msg, "search took 201ms") || !strings.Contains(msg, "median 100ms") {
			t.Fatalf("error = %q; want it to say what took how long against which median", msg)
		}
		clock.Advance(time.Minute - time.Nanosecond)
		pfCall(t, l, search, 100*ms, 12, true)
		clock.Advance(time.Nanosecond)
		pfCall(t, l, search, 100*ms, 13, false) // degraded for exactly a minute after the slow call
		pfCall(t, l, search, 150*ms, 14, false) // the slow call did not join the record
	})
}

func TestPerfWaitsForAFullRecord(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		l := &pfLoader{clock: clock}
		search := cashews.MustWrap(c, l.search, cashews.Name("search"), strategies.Perf(time.Minute, strategies.PerfTrace(3)))
		pfCall(t, l, search, 10*time.Millisecond, 1, false)
		pfCall(t, l, search, time.Second, 2, false) // the record is not full: nothing is slow yet
		pfCall(t, l, search, 10*time.Millisecond, 3, false)
		pfCall(t, l, search, 30*time.Millisecond, 4, false) // median of 10ms, 1s, 10ms is 10ms: slow
		pfCall(t, l, search, 10*time.Millisecond, 4, true)
	})
}

func TestPerfErrorsDoNotCount(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		boom := errors.New("boom")
		l := &pfLoader{clock: clock}
		search := cashews.MustWrap(c, l.search, cashews.Name("search"), strategies.Perf(time.Minute, strategies.PerfTrace(2)))
		pfCall(t, l, search, time.Millisecond, 1, false)
		pfCall(t, l, search, time.Millisecond, 2, false)
		l.err = boom
		l.latency.Store(int64(time.Hour))
		if _, err := search(context.Background(), "q"); !errors.Is(err, boom) {
			t.Fatalf("err = %v; want the function's error", err)
		}
		l.err = nil
		pfCall(t, l, search, time.Millisecond, 4, false) // a slow failure is neither slow nor recorded
		pfCall(t, l, search, 3*time.Millisecond, 5, false)
		pfCall(t, l, search, time.Millisecond, 5, true)
	})
}

func TestPerfLastingSlowdownBecomesTheNormal(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		l := &pfLoader{clock: clock}
		search := cashews.MustWrap(c, l.search, cashews.Name("search"), strategies.Perf(time.Minute, strategies.PerfTrace(3)))
		for i := range 3 {
			pfCall(t, l, search, 100*time.Millisecond, int64(i+1), false)
		}
		pfCall(t, l, search, time.Second, 4, false) // slow 1
		pfCall(t, l, search, time.Second, 4, true)
		clock.Advance(time.Minute)
		pfCall(t, l, search, 100*time.Millisecond, 5, false) // fast: the run of slow calls ends
		pfCall(t, l, search, time.Second, 6, false)          // slow 1 again
		clock.Advance(time.Minute)
		pfCall(t, l, search, time.Second, 7, false) // slow 2
		pfCall(t, l, search, time.Second, 7, true)
		clock.Advance(time.Minute)
		pfCall(t, l, search, time.Second, 8, false) // slow 3
		pfCall(t, l, search, time.Second, 8, true)
		clock.Advance(time.Minute)
		pfCall(t, l, search, time.Second, 9, false) // slow 4 in a row, more than 3: the new normal
		pfCall(t, l, search, time.Second, 10, false)
		pfCall(t, l, search, 1500*time.Millisecond, 11, false)
		pfCall(t, l, search, 2001*time.Millisecond, 12, false) // slow against the new record
		pfCall(t, l, search, time.Second, 12, true)
	})
}

func TestPerfStateIsShared(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		// Two Wraps of one function with the same name are what two processes sharing the backend
		// see: each learns its own record, and they share the degraded state.
		a, b := &pfLoader{clock: clock}, &pfLoader{clock: clock}
		searchA := cashews.MustWrap(c, a.search, cashews.Name("search"), strategies.Perf(time.Minute, strategies.PerfTrace(2)))
		searchB := cashews.MustWrap(c, b.search, cashews.Name("search"), strategies.Perf(time.Minute, strategies.PerfTrace(2)))
		pfCall(t, a, searchA, time.Millisecond, 1, false)
		pfCall(t, b, searchB, time.Millisecond, 1, false)
		pfCall(t, a, searchA, time.Millisecond, 2, false)
		pfCall(t, a, searchA, 5*time.Millisecond, 3, false) // A is slow
		pfCall(t, b, searchB, time.Millisecond, 1, true)    // and B is degraded too
		if ok, err := c.Exists(context.Background(), "_cashews:perf:search"); !ok || err != nil {
			t.Fatalf("Exists(_cashews:perf:search) = %v, %v; want the degraded state in the backend", ok, err)
		}
		if _, err := c.Delete(context.Background(), "_cashews:perf:search"); err != nil {
			t.Fatal(err)
		}
		pfCall(t, b, searchB, time.Millisecond, 2, false) // deleting the state ends it
	})
}

func TestPerfCondition(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		l := &pfLoader{clock: clock}
		var seen []time.Duration
		overMax := func(took time.Duration, record []time.Duration) bool {
			seen = append(seen[:0], record...)
			return took > max(record[0], record[1])
		}
		search := cashews.MustWrap(c, l.search, cashews.Name("search"),
			strategies.Perf(time.Minute, strategies.PerfTrace(2), strategies.PerfCondition(overMax), strategies.PerfFactor(0)))
		pfCall(t, l, search, 3*time.Millisecond, 1, false)
		pfCall(t, l, search, 5*time.Millisecond, 2, false)
		pfCall(t, l, search, 4*time.Millisecond, 3, false)
		if len(seen) != 2 || seen[0] != 3*time.Millisecond || seen[1] != 5*time.Millisecond {
			t.Fatalf("record given to the condition = %v; want [3ms 5ms], oldest first", seen)
		}
		pfCall(t, l, search, 6*time.Millisecond, 4, false) // over max(5ms, 4ms)
		pfCall(t, l, search, time.Millisecond, 4, true)
	})
}

func TestPerfConfigMistakes(t *testing.T) {
	c, _ := bfNewCache(t)
	search := func(context.Context, string) (string, error) { return "", nil }
	for name, s := range map[string]cashews.WrapOption{
		"zero duration":   strategies.Perf(0),
		"negative trace":  strategies.Perf(time.Second, strategies.PerfTrace(-1)),
		"factor 1":        strategies.Perf(time.Second, strategies.PerfFactor(1)),
		"factor NaN":      strategies.Perf(time.Second, strategies.PerfFactor(math.NaN())),
		"factor infinite": strategies.Perf(time.Second, strategies.PerfFactor(math.Inf(1))),
	} {
		_, err := cashews.Wrap(c, search, cashews.Name("search"), s)
		if !errors.Is(err, cashews.ErrConfig) || !strings.Contains(err.Error(), "perf") {
			t.Errorf("%s: Wrap error = %v; want ErrConfig naming perf", name, err)
		}
	}
}

func TestPerfBackendErrorAndKey(t *testing.T) {
	c, clock := bfNewCache(t, cashews.WithPrefix("app:"))
	l := &pfLoader{clock: clock}
	unrouted := cashews.MustWrap(c, l.search, cashews.Name("search"), strategies.Perf(time.Minute))
	if _, err := unrouted(context.Background(), "q"); !errors.Is(err, cashews.ErrNoBackend) {
		t.Fatalf("err = %v; want ErrNoBackend for the unrouted state key", err)
	}
	if n := l.runs.Load(); n != 0 {
		t.Fatalf("runs = %d; want 0 (a backend error is returned, not a run)", n)
	}
	search := cashews.MustWrap(c, l.search, cashews.Name("search"),
		strategies.Perf(time.Minute, strategies.PerfTrace(1), strategies.PerfKey("app:perf:search")))
	pfCall(t, l, search, time.Millisecond, 1, false)
	pfCall(t, l, search, 3*time.Millisecond, 2, false)
	pfCall(t, l, search, time.Millisecond, 2, true)
	if ok, _ := c.Exists(context.Background(), "app:perf:search"); !ok {
		t.Fatal("the state is not at the PerfKey key")
	}
}

func TestPerfConcurrent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		l := &pfLoader{clock: clock} // no latency: nothing is ever slow
		search := cashews.MustWrap(c, l.search, cashews.Name("search"), strategies.Perf(time.Minute, strategies.PerfTrace(5)))
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 50 {
					if _, err := search(context.Background(), "q"); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		if n := l.runs.Load(); n != 400 {
			t.Fatalf("runs = %d; want 400", n)
		}
	})
}
