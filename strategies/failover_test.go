package strategies_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends/backendtest"
	"github.com/cashews-go/cashews/detect"
	"github.com/cashews-go/cashews/strategies"
)

var (
	errFailoverUpstream = errors.New("upstream down")
	errFailoverOther    = errors.New("other failure")
	errFailoverThird    = errors.New("third failure")
)

// foSource is a loader whose next result the test sets; it counts its runs and, when it succeeds,
// returns "<id>:v<run>".
type foSource struct {
	runs atomic.Int64
	mu   sync.Mutex
	err  error
}

func (s *foSource) fail(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

func (s *foSource) load(ctx context.Context, id int) (string, error) {
	n := s.runs.Add(1)
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d:v%d", id, n), nil
}

// foCall calls get and checks its result and the number of runs of src so far.
func foCall(t *testing.T, ctx context.Context, get func(context.Context, int) (string, error), src *foSource, id int, want string, wantErr error, wantRuns int64) {
	t.Helper()
	got, err := get(ctx, id)
	if got != want || !errors.Is(err, wantErr) || (wantErr == nil && err != nil) {
		t.Fatalf("get(%d) = %q, %v; want %q, %v", id, got, err, want, wantErr)
	}
	if n := src.runs.Load(); n != wantRuns {
		t.Fatalf("after get(%d): runs = %d; want %d", id, n, wantRuns)
	}
}

func TestFailoverServesLastGoodResult(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		ctx := context.Background()
		src := &foSource{}
		get := cashews.MustWrap(c, src.load, cashews.TTL(time.Hour), cashews.Key("fo:{.}"), strategies.Failover())

		foCall(t, ctx, get, src, 1, "1:v1", nil, 1)
		foCall(t, ctx, get, src, 1, "1:v2", nil, 2) // the function runs on every call

		src.fail(errFailoverUpstream)
		dctx, d := detect.New(ctx)
		foCall(t, dctx, get, src, 1, "1:v2", nil, 3) // the last good result covers the error
		hits := d.Hits()
		if len(hits) != 1 {
			t.Fatalf("detect hits = %+v; want one", hits)
		}
		if h := hits[0]; h.Key != "fo:1" || h.Strategy != "failover" || !errors.Is(h.Err, errFailoverUpstream) || h.TTL != time.Hour || h.Backend == "" {
			t.Fatalf("detect hit = %+v; want key fo:1, strategy failover, Err %v, TTL 1h and a backend", h, errFailoverUpstream)
		}
		foCall(t, ctx, get, src, 2, "", errFailoverUpstream, 4) // nothing stored for 2: the error

		src.fail(nil)
		foCall(t, ctx, get, src, 1, "1:v5", nil, 5)
		src.fail(errFailoverUpstream)
		foCall(t, ctx, get, src, 1, "1:v5", nil, 6) // the newest good result

		clock.Advance(time.Hour - time.Second)
		foCall(t, ctx, get, src, 1, "1:v5", nil, 7)
		clock.Advance(time.Second) // the fallback's TTL is over
		foCall(t, ctx, get, src, 1, "", errFailoverUpstream, 8)
	})
}

func TestFailoverChosenErrors(t *testing.T) {
	circuit := fmt.Errorf("payments breaker: %w", cashews.ErrCircuitOpen)
	limited := fmt.Errorf("payments limiter: %w", cashews.ErrRateLimited)
	isOther := func(err error) bool { return errors.Is(err, errFailoverOther) }
	tests := []struct {
		name    string
		opts    []strategies.FailoverOption
		covered []error
		passed  []error
	}{
		{"default: every error", nil, []error{errFailoverUpstream, errFailoverOther, errFailoverThird, circuit, limited}, nil},
		{"FailoverOn", []strategies.FailoverOption{strategies.FailoverOn(errFailoverUpstream)},
			[]error{errFailoverUpstream, fmt.Errorf("wrapped: %w", errFailoverUpstream), circuit, limited}, []error{errFailoverOther, errFailoverThird}},
		{"FailoverIf", []strategies.FailoverOption{strategies.FailoverIf(isOther)},
			[]error{errFailoverOther, circuit, limited}, []error{errFailoverUpstream, errFailoverThird}},
		{"both", []strategies.FailoverOption{strategies.FailoverOn(errFailoverUpstream), strategies.FailoverIf(isOther)},
			[]error{errFailoverUpstream, errFailoverOther, circuit, limited}, []error{errFailoverThird}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
				ctx := context.Background()
				src := &foSource{}
				get := cashews.MustWrap(c, src.load, cashews.TTL(time.Hour), cashews.Key("fo:{.}"), strategies.Failover(tt.opts...))
				foCall(t, ctx, get, src, 1, "1:v1", nil, 1)
				runs := int64(1)
				for _, err := range tt.covered {
					src.fail(err)
					runs++
					foCall(t, ctx, get, src, 1, "1:v1", nil, runs)
				}
				for _, err := range tt.passed {
					src.fail(err)
					runs++
					foCall(t, ctx, get, src, 1, "", err, runs)
				}
			})
		})
	}
}

// TestFailoverAroundWrappedBreaker stacks a failover Wrap around a Wrap of a function that reports an
// open circuit or a rate limit, as a breaker or limiter Wrap does: the outer failover serves the
// cached result although it was told to cover only another error.
func TestFailoverAroundWrappedBreaker(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		ctx := context.Background()
		src := &foSource{}
		inner := cashews.MustWrap(c, src.load, cashews.TTL(time.Second), cashews.Key("inner:{.}"))
		outer := cashews.MustWrap(c, inner, cashews.TTL(time.Hour), cashews.Key("outer:{.}"),
			strategies.Failover(strategies.FailoverOn(errFailoverOther)))

		foCall(t, ctx, outer, src, 7, "7:v1", nil, 1)
		foCall(t, ctx, outer, src, 7, "7:v1", nil, 1) // the inner Wrap's cache

		for i, err := range []error{
			fmt.Errorf("payments breaker: %w", cashews.ErrCircuitOpen),
			fmt.Errorf("payments limiter: %w", cashews.ErrRateLimited),
		} {
			src.fail(err)
			clock.Advance(2 * time.Second) // the inner entry expired: the inner function runs and fails
			dctx, d := detect.New(ctx)
			foCall(t, dctx, outer, src, 7, "7:v1", nil, int64(2+i))
			hits := d.Hits()
			if len(hits) != 1 || hits[0].Key != "outer:7" || hits[0].Strategy != "failover" || !errors.Is(hits[0].Err, err) {
				t.Fatalf("detect hits = %+v; want one failover hit for outer:7 covering %v", hits, err)
			}
		}
		src.fail(errFailoverUpstream) // neither chosen nor a breaker's
		clock.Advance(2 * time.Second)
		foCall(t, ctx, outer, src, 7, "", errFailoverUpstream, 4)
	})
}

func TestFailoverDoesNotCoverCallerCancellation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		var runs atomic.Int64
		load := func(ctx context.Context, id int) (string, error) {
			runs.Add(1)
			if err := ctx.Err(); err != nil {
				return "", err
			}
			return "fresh", nil
		}
		get := cashews.MustWrap(c, load, cashews.TTL(time.Hour), cashews.Key("fo:{.}"), strategies.Failover(), cashews.NoDedup())
		if v, err := get(context.Background(), 1); v != "fresh" || err != nil {
			t.Fatalf("get = %q, %v; want fresh, nil", v, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if v, err := get(ctx, 1); v != "" || !errors.Is(err, context.Canceled) {
			t.Fatalf("get with a cancelled context = %q, %v; want \"\", context.Canceled", v, err)
		}
		if n := runs.Load(); n != 2 {
			t.Fatalf("runs = %d; want 2", n)
		}
	})
}

// TestFailoverStoresOnlyGoodResults uses a condition that would store an error: failover stores only
// results, so the last good one stays the fallback.
func TestFailoverStoresOnlyGoodResults(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		ctx := context.Background()
		src := &foSource{}
		storeAll := func(v any, err error) cashews.Decision {
			if err != nil {
				return cashews.StoreError
			}
			return cashews.StoreValue
		}
		get := cashews.MustWrap(c, src.load, cashews.TTL(time.Hour), cashews.Key("fo:{.}"),
			strategies.Failover(), cashews.StoreIf(storeAll))
		foCall(t, ctx, get, src, 1, "1:v1", nil, 1)
		src.fail(errFailoverOther)
		foCall(t, ctx, get, src, 1, "1:v1", nil, 2)
		foCall(t, ctx, get, src, 1, "1:v1", nil, 3)
	})
}

func TestFailoverConfig(t *testing.T) {
	c := cashews.New()
	defer c.Close()
	if err := c.Setup("mem://"); err != nil {
		t.Fatal(err)
	}
	load := (&foSource{}).load
	for name, opts := range map[string][]cashews.WrapOption{
		"no TTL":          {strategies.Failover()},
		"nil predicate":   {cashews.TTL(time.Minute), strategies.Failover(strategies.FailoverIf(nil))},
		"two strategies":  {cashews.TTL(time.Minute), strategies.Failover(), cashews.Simple()},
		"StoreErrors":     {cashews.TTL(time.Minute), strategies.Failover(), cashews.StoreErrors(errFailoverOther)},
		"OnlyStoreErrors": {cashews.TTL(time.Minute), strategies.Failover(), cashews.OnlyStoreErrors(errFailoverOther)},
	} {
		_, err := cashews.Wrap(c, load, append(opts, cashews.Key("fo:{.}"))...)
		if !errors.Is(err, cashews.ErrConfig) {
			t.Errorf("%s: Wrap error = %v; want one matching ErrConfig", name, err)
		}
	}
}
