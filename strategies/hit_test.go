package strategies_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends/backendtest"
	"github.com/cashews-go/cashews/detect"
	"github.com/cashews-go/cashews/strategies"
)

// hitSource is a loader that counts its runs and returns "v<run>", or the error the test sets.
type hitSource struct {
	runs atomic.Int64
	mu   sync.Mutex
	err  error
}

func (s *hitSource) fail(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

func (s *hitSource) load(ctx context.Context, id int) (string, error) {
	n := s.runs.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return "", s.err
	}
	return "v" + strconv.FormatInt(n, 10), nil
}

// hitStep is one call and what it must give: the value and the runs of the loader so far (-1: not
// checked, for a call that starts a background refresh).
type hitStep struct {
	want string
	runs int64
}

func hitRun(t *testing.T, ctx context.Context, get func(context.Context, int) (string, error), src *hitSource, steps []hitStep) {
	t.Helper()
	for i, s := range steps {
		got, err := get(ctx, 1)
		if err != nil || got != s.want {
			t.Fatalf("call %d = %q, %v; want %q, nil", i+1, got, err, s.want)
		}
		if n := src.runs.Load(); s.runs >= 0 && n != s.runs {
			t.Fatalf("after call %d: runs = %d; want %d", i+1, n, s.runs)
		}
	}
}

// hitStored returns a channel that receives the key of every entry the Cache stores under key.
func hitStored(c *cashews.Cache, key string) <-chan string {
	ch := make(chan string, 100)
	c.OnCommand(func(ctx context.Context, call *cashews.Call, res cashews.Result, err error) {
		if call.Key() == key && err == nil && res.OK {
			ch <- call.Key()
		}
	}, cashews.CmdSet)
	return ch
}

func hitWait(t *testing.T, ch <-chan string, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func TestHitExpiresAfterNHits(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		src := &hitSource{}
		get := cashews.MustWrap(c, src.load, cashews.TTL(time.Hour), cashews.Key("hit:{.}"), strategies.Hit(3))
		ctx, d := detect.New(context.Background())
		hitRun(t, ctx, get, src, []hitStep{
			{"v1", 1},                       // a miss: runs and stores
			{"v1", 1}, {"v1", 1}, {"v1", 1}, // three hits
			{"v2", 2}, // the entry is used up: runs again
			{"v2", 2}, {"v2", 2}, {"v2", 2},
			{"v3", 3},
		})
		hits := d.Hits()
		if len(hits) != 6 {
			t.Fatalf("detect hits = %d; want 6", len(hits))
		}
		for _, h := range hits {
			if h.Key != "hit:1" || h.Strategy != "hit" {
				t.Fatalf("detect hit = %+v; want key hit:1, strategy hit", h)
			}
		}
	})
}

func TestHitExpiresAtTTL(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		ctx := context.Background()
		src := &hitSource{}
		get := cashews.MustWrap(c, src.load, cashews.TTL(time.Minute), cashews.Key("hit:{.}"), strategies.Hit(3))
		hitRun(t, ctx, get, src, []hitStep{{"v1", 1}, {"v1", 1}})
		clock.Advance(time.Minute)
		hitRun(t, ctx, get, src, []hitStep{{"v2", 2}, {"v2", 2}, {"v2", 2}, {"v2", 2}, {"v3", 3}})
	})
}

// TestHitCountsInTheBackend uses two Wraps of one function on one Cache, as two processes sharing a
// backend do: each has its own in-process state, and they share one budget of hits.
func TestHitCountsInTheBackend(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		ctx := context.Background()
		src := &hitSource{}
		a := cashews.MustWrap(c, src.load, cashews.TTL(time.Hour), cashews.Key("hit:{.}"), strategies.Hit(3))
		b := cashews.MustWrap(c, src.load, cashews.TTL(time.Hour), cashews.Key("hit:{.}"), strategies.Hit(3))
		steps := []struct {
			get  func(context.Context, int) (string, error)
			want string
			runs int64
		}{{a, "v1", 1}, {b, "v1", 1}, {a, "v1", 1}, {b, "v1", 1}, {a, "v2", 2}, {b, "v2", 2}, {b, "v2", 2}, {a, "v2", 2}, {b, "v3", 3}}
		for i, s := range steps {
			got, err := s.get(ctx, 1)
			if err != nil || got != s.want || src.runs.Load() != s.runs {
				t.Fatalf("call %d = %q, %v with %d runs; want %q, nil with %d runs", i+1, got, err, src.runs.Load(), s.want, s.runs)
			}
		}
	})
}

// TestHitConcurrentCallers: of many concurrent callers, exactly n are served the stored entry, as
// the counter gives each of the counts 1 to n to one caller.
func TestHitConcurrentCallers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		ctx := context.Background()
		src := &hitSource{}
		get := cashews.MustWrap(c, src.load, cashews.TTL(time.Hour), cashews.Key("hit:{.}"), strategies.Hit(10))
		hitRun(t, ctx, get, src, []hitStep{{"v1", 1}})
		const callers = 50
		got := make([]string, callers)
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				var err error
				if got[i], err = get(ctx, 1); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		old := 0
		for _, v := range got {
			if v == "v1" {
				old++
			}
		}
		if old != 10 {
			t.Fatalf("%d callers got the first entry; want 10 (its hits); all got %q", old, got)
		}
	})
}

// TestHitCounterKey checks the documented bookkeeping: one counter per stored entry, named after
// the entry's expiry, holding the number of hits and expiring with the entry.
func TestHitCounterKey(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		ctx := context.Background()
		src := &hitSource{}
		get := cashews.MustWrap(c, src.load, cashews.TTL(time.Minute), cashews.Key("hit:{.}"), strategies.Hit(5))
		hitRun(t, ctx, get, src, []hitStep{{"v1", 1}, {"v1", 1}, {"v1", 1}})
		counter := "hit:1" + strategies.HitCounterSuffix + strconv.FormatInt(clock.Now().Add(time.Minute).UnixNano(), 10)
		if n, err := c.Incr(ctx, counter, 0, 0); n != 2 || err != nil {
			t.Fatalf("counter %q = %d, %v; want 2 hits", counter, n, err)
		}
		var keys []string
		for k, err := range c.Scan(ctx, "hit:1:*") {
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k)
		}
		if len(keys) != 1 || keys[0] != counter {
			t.Fatalf("keys under hit:1: = %q; want only %q", keys, counter)
		}
		if strings.HasPrefix(c.BackendName(counter), "redis") {
			// Redis expires keys on its own clock, which the test cannot move: check only that the
			// counter got the entry's TTL.
			if ttl, found, err := c.GetExpire(ctx, counter); !found || err != nil || ttl <= 0 || ttl > time.Minute {
				t.Fatalf("GetExpire(counter) = %v, %v, %v; want (0, 1m], true, nil", ttl, found, err)
			}
			return
		}
		clock.Advance(30 * time.Second)
		if ttl, found, err := c.GetExpire(ctx, counter); !found || err != nil || ttl != 30*time.Second {
			t.Fatalf("GetExpire(counter) = %v, %v, %v; want 30s, true, nil (the entry's remaining TTL)", ttl, found, err)
		}
		clock.Advance(30 * time.Second)
		if ok, err := c.Exists(ctx, counter); ok || err != nil {
			t.Fatalf("Exists(counter) after the entry's TTL = %v, %v; want false, nil", ok, err)
		}
	})
}

func TestHitUpdateAfter(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		ctx := context.Background()
		src := &hitSource{}
		stored := hitStored(c, "hit:1")
		get := cashews.MustWrap(c, src.load, cashews.TTL(time.Hour), cashews.Key("hit:{.}"),
			strategies.Hit(5, strategies.UpdateAfter(2)))
		hitRun(t, ctx, get, src, []hitStep{{"v1", 1}})
		hitWait(t, stored, "the first store")
		hitRun(t, ctx, get, src, []hitStep{{"v1", 1}, {"v1", -1}}) // the second hit starts a refresh
		hitWait(t, stored, "the background refresh")
		hitRun(t, ctx, get, src, []hitStep{{"v2", 2}, {"v2", -1}}) // a new entry, counted from zero
		hitWait(t, stored, "the second background refresh")
		// One call only: a second would be the entry's second hit and start the next refresh in the
		// background, racing with the run count checked here.
		hitRun(t, ctx, get, src, []hitStep{{"v3", 3}})
		select {
		case <-stored:
			t.Fatal("a store nobody asked for")
		default:
		}
	})
}

func TestHitUpdateAfterFailureKeepsEntry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		ctx := context.Background()
		var runs atomic.Int64
		refreshDone := make(chan struct{})
		load := func(ctx context.Context, id int) (string, error) {
			switch runs.Add(1) {
			case 1:
				return "v1", nil
			case 2: // the background refresh
				defer close(refreshDone)
				return "", errFailoverUpstream
			default:
				return "v3", nil
			}
		}
		get := cashews.MustWrap(c, load, cashews.TTL(time.Hour), cashews.Key("hit:{.}"),
			strategies.Hit(3, strategies.UpdateAfter(1)))
		for i, want := range []string{"v1", "v1"} {
			if got, err := get(ctx, 1); got != want || err != nil {
				t.Fatalf("call %d = %q, %v; want %q, nil", i+1, got, err, want)
			}
		}
		select {
		case <-refreshDone:
		case <-time.After(10 * time.Second):
			t.Fatal("timed out waiting for the background refresh")
		}
		// The failed refresh stored nothing: the entry serves its remaining hits, then is used up.
		for i, want := range []string{"v1", "v1", "v3"} {
			if got, err := get(ctx, 1); got != want || err != nil {
				t.Fatalf("call %d = %q, %v; want %q, nil", i+3, got, err, want)
			}
		}
		if n := runs.Load(); n != 3 {
			t.Fatalf("runs = %d; want 3", n)
		}
	})
}

func TestHitErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		ctx := context.Background()
		src := &hitSource{}
		src.fail(errFailoverUpstream)
		get := cashews.MustWrap(c, src.load, cashews.TTL(time.Hour), cashews.Key("hit:{.}"), strategies.Hit(2))
		for i := range 2 { // errors are not stored by default
			if _, err := get(ctx, 1); !errors.Is(err, errFailoverUpstream) {
				t.Fatalf("call %d error = %v; want %v", i+1, err, errFailoverUpstream)
			}
		}
		if n := src.runs.Load(); n != 2 {
			t.Fatalf("runs = %d; want 2", n)
		}

		zero := cashews.MustWrap(c, src.load, cashews.TTLFunc(func(int) time.Duration { return 0 }),
			cashews.Key("hit0:{.}"), strategies.Hit(2))
		if _, err := zero(ctx, 1); !errors.Is(err, cashews.ErrConfig) {
			t.Fatalf("call with a zero TTL: error = %v; want one matching ErrConfig", err)
		}
	})
}

func TestHitConfig(t *testing.T) {
	c := cashews.New()
	defer c.Close()
	if err := c.Setup("mem://"); err != nil {
		t.Fatal(err)
	}
	load := (&hitSource{}).load
	ttl := cashews.TTL(time.Minute)
	for name, opts := range map[string][]cashews.WrapOption{
		"no TTL":           {strategies.Hit(3)},
		"zero hits":        {ttl, strategies.Hit(0)},
		"UpdateAfter(-1)":  {ttl, strategies.Hit(3, strategies.UpdateAfter(-1))},
		"UpdateAfter > n":  {ttl, strategies.Hit(3, strategies.UpdateAfter(4))},
		"RefreshTimeout 0": {ttl, strategies.Hit(3, strategies.RefreshTimeout(0))},
	} {
		_, err := cashews.Wrap(c, load, append(opts, cashews.Key("hit:{.}"))...)
		if !errors.Is(err, cashews.ErrConfig) {
			t.Errorf("%s: Wrap error = %v; want one matching ErrConfig", name, err)
		}
	}
	if _, err := cashews.Wrap(c, load, ttl, cashews.Key("hit:{.}"), strategies.Hit(3, strategies.UpdateAfter(3))); err != nil {
		t.Errorf("UpdateAfter(n): Wrap error = %v; want nil", err)
	}
}
