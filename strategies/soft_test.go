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

// softSource is a loader that counts its runs and returns "v<run>", or the error the test sets.
type softSource struct {
	runs atomic.Int64
	mu   sync.Mutex
	err  error
}

func (s *softSource) fail(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

func (s *softSource) load(ctx context.Context, id int) (string, error) {
	n := s.runs.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return "", s.err
	}
	return fmt.Sprintf("v%d", n), nil
}

func softCall(t *testing.T, ctx context.Context, get func(context.Context, int) (string, error), src *softSource, want string, wantErr error, wantRuns int64) {
	t.Helper()
	got, err := get(ctx, 1)
	if got != want || !errors.Is(err, wantErr) || (wantErr == nil && err != nil) {
		t.Fatalf("get = %q, %v; want %q, %v", got, err, want, wantErr)
	}
	if n := src.runs.Load(); n != wantRuns {
		t.Fatalf("runs = %d; want %d", n, wantRuns)
	}
}

func TestSoftRecomputesAfterSoftTTL(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		ctx := context.Background()
		src := &softSource{}
		get := cashews.MustWrap(c, src.load, cashews.TTL(time.Minute), cashews.Key("soft:{.}"), strategies.Soft(10*time.Second))

		softCall(t, ctx, get, src, "v1", nil, 1)
		clock.Advance(10*time.Second - time.Nanosecond)
		softCall(t, ctx, get, src, "v1", nil, 1) // fresh
		clock.Advance(time.Nanosecond)
		softCall(t, ctx, get, src, "v2", nil, 2) // stale: recomputed in the foreground, stored
		softCall(t, ctx, get, src, "v2", nil, 2) // fresh again

		clock.Advance(10 * time.Second)
		src.fail(errFailoverUpstream)
		dctx, d := detect.New(ctx)
		softCall(t, dctx, get, src, "v2", nil, 3) // the recompute failed: the stale value
		hits := d.Hits()
		if len(hits) != 1 || hits[0].Key != "soft:1" || hits[0].Strategy != "soft" || !errors.Is(hits[0].Err, errFailoverUpstream) ||
			hits[0].TTL != 50*time.Second {
			t.Fatalf("detect hits = %+v; want one soft hit for soft:1 covering %v with 50s left", hits, errFailoverUpstream)
		}
		softCall(t, ctx, get, src, "v2", nil, 4) // still stale: tries again

		clock.Advance(50*time.Second - time.Nanosecond)
		softCall(t, ctx, get, src, "v2", nil, 5) // the last moment of the hard TTL
		clock.Advance(time.Nanosecond)
		softCall(t, ctx, get, src, "", errFailoverUpstream, 6) // expired: the error

		src.fail(nil)
		softCall(t, ctx, get, src, "v7", nil, 7)
		softCall(t, ctx, get, src, "v7", nil, 7)
	})
}

func TestSoftChosenErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		ctx := context.Background()
		src := &softSource{}
		get := cashews.MustWrap(c, src.load, cashews.TTL(time.Minute), cashews.Key("soft:{.}"),
			strategies.Soft(10*time.Second, strategies.SoftOn(errFailoverUpstream), strategies.SoftIf(func(err error) bool {
				return errors.Is(err, errFailoverThird)
			})))
		softCall(t, ctx, get, src, "v1", nil, 1)
		clock.Advance(10 * time.Second)
		runs := int64(1)
		for _, err := range []error{errFailoverUpstream, errFailoverThird, fmt.Errorf("breaker: %w", cashews.ErrCircuitOpen), fmt.Errorf("limiter: %w", cashews.ErrRateLimited)} {
			src.fail(err)
			runs++
			softCall(t, ctx, get, src, "v1", nil, runs)
		}
		src.fail(errFailoverOther)
		softCall(t, ctx, get, src, "", errFailoverOther, runs+1)
	})
}

func TestSoftDoesNotCoverCallerCancellation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		var runs atomic.Int64
		load := func(ctx context.Context, id int) (string, error) {
			runs.Add(1)
			if err := ctx.Err(); err != nil {
				return "", err
			}
			return "fresh", nil
		}
		get := cashews.MustWrap(c, load, cashews.TTL(time.Minute), cashews.Key("soft:{.}"), strategies.Soft(time.Second), cashews.NoDedup())
		if v, err := get(context.Background(), 1); v != "fresh" || err != nil {
			t.Fatalf("get = %q, %v; want fresh, nil", v, err)
		}
		clock.Advance(time.Second)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if v, err := get(ctx, 1); v != "" || !errors.Is(err, context.Canceled) {
			t.Fatalf("get with a cancelled context = %q, %v; want \"\", context.Canceled", v, err)
		}
		// A backend that honours the cancelled context up front (Redis, disk) fails the lookup before
		// the function runs; one that answers anyway (memory) runs it, and it sees the cancellation.
		if n := runs.Load(); n != 1 && n != 2 {
			t.Fatalf("runs = %d; want 1 or 2", n)
		}
	})
}

// TestSoftStaleStoredError: an error stored by StoreErrors is replayed while fresh; once stale, a new
// failure is returned as it is, not covered by the old error.
func TestSoftStaleStoredError(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		ctx := context.Background()
		src := &softSource{}
		get := cashews.MustWrap(c, src.load, cashews.TTL(time.Minute), cashews.Key("soft:{.}"),
			strategies.Soft(10*time.Second), cashews.StoreErrors(errFailoverOther))
		src.fail(errFailoverOther)
		softCall(t, ctx, get, src, "", errFailoverOther, 1)
		softCall(t, ctx, get, src, "", errFailoverOther, 1) // replayed from cache
		clock.Advance(10 * time.Second)
		src.fail(errFailoverUpstream)
		softCall(t, ctx, get, src, "", errFailoverUpstream, 2)
	})
}

func TestSoftConfig(t *testing.T) {
	c := cashews.New()
	defer c.Close()
	if err := c.Setup("mem://"); err != nil {
		t.Fatal(err)
	}
	load := (&softSource{}).load
	ttl := cashews.TTL(time.Minute)
	for name, opts := range map[string][]cashews.WrapOption{
		"no TTL":         {strategies.Soft(time.Second)},
		"zero soft TTL":  {ttl, strategies.Soft(0)},
		"soft TTL = TTL": {ttl, strategies.Soft(time.Minute)},
		"nil predicate":  {ttl, strategies.Soft(time.Second, strategies.SoftIf(nil))},
	} {
		_, err := cashews.Wrap(c, load, append(opts, cashews.Key("soft:{.}"))...)
		if !errors.Is(err, cashews.ErrConfig) {
			t.Errorf("%s: Wrap error = %v; want one matching ErrConfig", name, err)
		}
	}
	if _, err := cashews.Wrap(c, load, cashews.TTLFunc(func(int) time.Duration { return time.Second }),
		strategies.Soft(time.Minute), cashews.Key("soft:{.}")); err != nil {
		t.Errorf("TTLFunc with a longer soft TTL: Wrap error = %v; want nil (checked per call)", err)
	}
}
