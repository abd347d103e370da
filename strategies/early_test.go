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

const (
	earlyTTL  = time.Minute
	earlyFor  = 10 * time.Second // the early TTL of the tests
	earlyKey  = "early:1"
	earlyLock = earlyKey + strategies.EarlyLockSuffix
)

// earlyRefreshed waits until the refresh lock of earlyKey is free, which it is once a refresh ended.
func earlyRefreshed(t *testing.T, c *cashews.Cache) {
	t.Helper()
	locked, err := lockHeldAfter(context.Background(), c, earlyLock, 10*time.Second)
	if locked || err != nil {
		t.Fatalf("IsLocked(%q) after waiting = %v, %v; want false, nil (the refresh ended)", earlyLock, locked, err)
	}
}

func earlyWant(t *testing.T, ctx context.Context, get func(context.Context, int) (string, error), want string) {
	t.Helper()
	if got, err := get(ctx, 1); got != want || err != nil {
		t.Fatalf("get = %q, %v; want %q, nil", got, err, want)
	}
}

func earlyRuns(t *testing.T, runs *atomic.Int64, want int64) {
	t.Helper()
	if n := runs.Load(); n != want {
		t.Fatalf("runs = %d; want %d", n, want)
	}
}

func TestEarlyRefreshesOnceInTheBackground(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		ctx := context.Background()
		var runs atomic.Int64
		started, release := make(chan struct{}), make(chan struct{})
		load := func(ctx context.Context, id int) (string, error) {
			n := runs.Add(1)
			if n == 2 { // the first refresh waits for the test
				close(started)
				<-release
			}
			return fmt.Sprintf("v%d", n), nil
		}
		get := cashews.MustWrap(c, load, cashews.TTL(earlyTTL), cashews.Key("early:{.}"), strategies.Early(earlyFor))

		earlyWant(t, ctx, get, "v1")
		clock.Advance(earlyFor - time.Second)
		earlyWant(t, ctx, get, "v1") // fresh
		if locked, _ := lockHeld(ctx, c, earlyLock); locked {
			t.Fatal("a fresh entry took the refresh lock")
		}
		earlyRuns(t, &runs, 1)

		clock.Advance(time.Second) // stale
		const callers = 50
		var wg sync.WaitGroup
		got := make([]string, callers)
		hits := make([]int, callers)
		for i := range callers {
			wg.Go(func() {
				ctx, d := detect.New(ctx)
				got[i], _ = get(ctx, 1)
				hits[i] = d.Len()
			})
		}
		wg.Wait()
		for i := range callers {
			if got[i] != "v1" || hits[i] != 1 {
				t.Fatalf("caller %d got %q with %d detect hits; want the stale v1 with 1 hit", i, got[i], hits[i])
			}
		}
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("no refresh started")
		}
		earlyWant(t, ctx, get, "v1") // while the refresh runs
		if locked, _ := lockHeld(ctx, c, earlyLock); !locked {
			t.Fatal("the refresh runs without its lock")
		}
		earlyRuns(t, &runs, 2)

		close(release)
		earlyRefreshed(t, c)
		earlyWant(t, ctx, get, "v2")
		earlyWant(t, ctx, get, "v2")
		earlyRuns(t, &runs, 2)

		clock.Advance(earlyFor) // stale again: one more refresh
		earlyWant(t, ctx, get, "v2")
		earlyRefreshed(t, c)
		earlyWant(t, ctx, get, "v3")
		earlyRuns(t, &runs, 3)

		clock.Advance(earlyTTL) // expired: recomputed in the foreground
		earlyWant(t, ctx, get, "v4")
		earlyRuns(t, &runs, 4)
	})
}

// TestEarlyLockHeldElsewhere takes the refresh lock as another process would: while it is held, no
// refresh starts here.
func TestEarlyLockHeldElsewhere(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		ctx := context.Background()
		var runs atomic.Int64
		load := func(ctx context.Context, id int) (string, error) {
			return fmt.Sprintf("v%d", runs.Add(1)), nil
		}
		get := cashews.MustWrap(c, load, cashews.TTL(earlyTTL), cashews.Key("early:{.}"), strategies.Early(earlyFor))
		earlyWant(t, ctx, get, "v1")
		other, ok, err := c.TryLock(ctx, earlyLock, time.Minute) // as another process
		if !ok || err != nil {
			t.Fatalf("TryLock = %v, %v; want true, nil", ok, err)
		}
		clock.Advance(earlyFor)
		for range 10 {
			earlyWant(t, ctx, get, "v1")
		}
		if err := other.Unlock(ctx); err != nil {
			t.Fatalf("Unlock = %v; want nil (no refresh may have taken the lock)", err)
		}
		earlyWant(t, ctx, get, "v1") // starts the refresh
		earlyRefreshed(t, c)
		earlyWant(t, ctx, get, "v2")
		c.Close() // waits for background work: had the calls above started more refreshes, they ran
		earlyRuns(t, &runs, 2)
	})
}

type earlyCtxKey struct{}

// TestEarlyRefreshDetachedAndBounded cancels the caller's context as soon as the call returns: the
// refresh goes on, with the caller's values, until its timeout.
func TestEarlyRefreshDetachedAndBounded(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		var runs atomic.Int64
		type seen struct {
			value any
			err   error
		}
		refresh := make(chan seen, 1)
		load := func(ctx context.Context, id int) (string, error) {
			n := runs.Add(1)
			if n == 2 {
				<-ctx.Done()
				refresh <- seen{ctx.Value(earlyCtxKey{}), ctx.Err()}
				return "", ctx.Err()
			}
			return fmt.Sprintf("v%d", n), nil
		}
		get := cashews.MustWrap(c, load, cashews.TTL(earlyTTL), cashews.Key("early:{.}"),
			strategies.Early(earlyFor, strategies.RefreshTimeout(50*time.Millisecond)))
		earlyWant(t, context.Background(), get, "v1")
		clock.Advance(earlyFor)

		ctx, cancel := context.WithCancel(context.WithValue(context.Background(), earlyCtxKey{}, "caller's value"))
		earlyWant(t, ctx, get, "v1")
		cancel()
		select {
		case s := <-refresh:
			if s.value != "caller's value" || !errors.Is(s.err, context.DeadlineExceeded) {
				t.Fatalf("the refresh saw value %v and ended with %v; want the caller's value and the timeout", s.value, s.err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the refresh did not end at its timeout")
		}
		earlyRefreshed(t, c)
		earlyWant(t, context.Background(), get, "v1") // the failed refresh left the stale entry; this call tries again
		earlyRefreshed(t, c)
		earlyWant(t, context.Background(), get, "v3")
		earlyRuns(t, &runs, 3)
	})
}

func TestEarlyCloseStopsRefresh(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		var runs, returned atomic.Int64
		started := make(chan struct{})
		var refreshErr error
		load := func(ctx context.Context, id int) (string, error) {
			n := runs.Add(1)
			if n == 2 {
				close(started)
				<-ctx.Done()
				refreshErr = ctx.Err()
				returned.Add(1)
				return "", ctx.Err()
			}
			return fmt.Sprintf("v%d", n), nil
		}
		get := cashews.MustWrap(c, load, cashews.TTL(earlyTTL), cashews.Key("early:{.}"), strategies.Early(earlyFor))
		earlyWant(t, context.Background(), get, "v1")
		clock.Advance(earlyFor)
		earlyWant(t, context.Background(), get, "v1")
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("no refresh started")
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if returned.Load() != 1 || !errors.Is(refreshErr, context.Canceled) {
			t.Fatalf("after Close: refresh returned %d times with %v; want once, with context.Canceled", returned.Load(), refreshErr)
		}
		if _, err := get(context.Background(), 1); !errors.Is(err, cashews.ErrClosed) {
			t.Fatalf("get after Close: error = %v; want ErrClosed", err)
		}
		earlyRuns(t, &runs, 2)
	})
}

func TestEarlyRefreshPanics(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		ctx := context.Background()
		var runs atomic.Int64
		load := func(ctx context.Context, id int) (string, error) {
			n := runs.Add(1)
			if n == 2 {
				panic("refresh blew up")
			}
			return fmt.Sprintf("v%d", n), nil
		}
		get := cashews.MustWrap(c, load, cashews.TTL(earlyTTL), cashews.Key("early:{.}"), strategies.Early(earlyFor))
		earlyWant(t, ctx, get, "v1")
		clock.Advance(earlyFor)
		earlyWant(t, ctx, get, "v1") // the refresh panics; the process goes on
		earlyRefreshed(t, c)
		earlyWant(t, ctx, get, "v1") // still stale: a new refresh
		earlyRefreshed(t, c)
		earlyWant(t, ctx, get, "v3")
		earlyRuns(t, &runs, 3)
	})
}

func TestEarlyConfig(t *testing.T) {
	c := cashews.New()
	defer c.Close()
	if err := c.Setup("mem://"); err != nil {
		t.Fatal(err)
	}
	load := (&foSource{}).load
	ttl := cashews.TTL(time.Minute)
	for name, opts := range map[string][]cashews.WrapOption{
		"no TTL":               {strategies.Early(time.Second)},
		"zero early TTL":       {ttl, strategies.Early(0)},
		"early TTL = TTL":      {ttl, strategies.Early(time.Minute)},
		"early TTL > TTL":      {ttl, strategies.Early(time.Hour)},
		"zero RefreshTimeout":  {ttl, strategies.Early(time.Second, strategies.RefreshTimeout(0))},
		"negative RefreshTime": {ttl, strategies.Early(time.Second, strategies.RefreshTimeout(-time.Second))},
	} {
		_, err := cashews.Wrap(c, load, append(opts, cashews.Key("early:{.}"))...)
		if !errors.Is(err, cashews.ErrConfig) {
			t.Errorf("%s: Wrap error = %v; want one matching ErrConfig", name, err)
		}
	}
}
