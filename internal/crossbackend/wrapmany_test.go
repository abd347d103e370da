package crossbackend_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends/backendtest"
	"github.com/cashews-go/cashews/detect"
	"github.com/cashews-go/cashews/strategies"
)

// source is a batch loader that records the ids of every call. It knows the ids below limit.
type source struct {
	mu    sync.Mutex
	calls [][]int
	limit int
	err   error
	hook  func(ids []int) // runs first, if set
}

func (s *source) load(ctx context.Context, ids []int) (map[int]string, error) {
	if s.hook != nil {
		s.hook(ids)
	}
	s.mu.Lock()
	s.calls = append(s.calls, slices.Sorted(slices.Values(ids)))
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	out := map[int]string{}
	for _, id := range ids {
		if id < s.limit {
			out[id] = fmt.Sprintf("v%d", id)
		}
	}
	return out, nil
}

func (s *source) took() [][]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.calls
	s.calls = nil
	return out
}

// commands counts the commands of c by name.
func commands(t *testing.T, c *cashews.Cache) func() map[string]int {
	var mu sync.Mutex
	n := map[string]int{}
	if err := c.OnCommand(func(ctx context.Context, call *cashews.Call, res cashews.Result, err error) {
		mu.Lock()
		n[call.Command().String()]++
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	return func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		out := maps.Clone(n)
		clear(n)
		return out
	}
}

func want(ids ...int) map[int]string {
	out := map[int]string{}
	for _, id := range ids {
		out[id] = fmt.Sprintf("v%d", id)
	}
	return out
}

// TestWrapManyEveryBackend: one batched read per call, the function called with the misses only,
// one batched write, ids the source does not know absent and never stored, per-id TTLs, detect and
// stats, on every backend.
func TestWrapManyEveryBackend(t *testing.T) {
	forEachSetup(t, nil, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, s *setup) {
		ctx := context.Background()
		src := &source{limit: 100}
		get := cashews.MustWrapMany(c, src.load, cashews.Name("users"), cashews.Key("user:{.}"),
			cashews.TTLFunc(func(id int) time.Duration { return time.Duration(id) * time.Minute }))
		count := commands(t, c)

		got, err := get(ctx, []int{1, 2, 3, 200, 2})
		if err != nil {
			t.Fatal(err)
		}
		if w := want(1, 2, 3); !maps.Equal(got, w) {
			t.Fatalf("first call: %v; want %v", got, w)
		}
		if calls, w := src.took(), [][]int{{1, 2, 3, 200}}; !slices.EqualFunc(calls, w, slices.Equal) {
			t.Errorf("source calls %v; want %v (each id once)", calls, w)
		}
		if n, w := count(), map[string]int{"get_many": 1, "set_many": 1}; !maps.Equal(n, w) {
			t.Errorf("commands %v; want %v", n, w)
		}

		ctx2, d := detect.New(ctx)
		got, err = get(ctx2, []int{4, 3, 2, 1, 200})
		if err != nil {
			t.Fatal(err)
		}
		if w := want(1, 2, 3, 4); !maps.Equal(got, w) {
			t.Fatalf("second call: %v; want %v", got, w)
		}
		if calls, w := src.took(), [][]int{{4, 200}}; !slices.EqualFunc(calls, w, slices.Equal) {
			t.Errorf("source calls %v; want %v (the misses only; 200 was never stored)", calls, w)
		}
		if n, w := count(), map[string]int{"get_many": 1, "set_many": 1}; !maps.Equal(n, w) {
			t.Errorf("commands %v; want %v", n, w)
		}
		var hit []string
		for _, h := range d.Hits() {
			hit = append(hit, h.Key)
			if h.Strategy != "many" || h.Backend == "" {
				t.Errorf("hit %+v: want strategy many and a backend", h)
			}
		}
		sort.Strings(hit)
		if w := []string{"user:1", "user:2", "user:3"}; !slices.Equal(hit, w) {
			t.Errorf("detect hits %v; want %v", hit, w)
		}
		if v, found, err := cashews.Get[string](ctx, c, "user:3"); err != nil || !found || v != "v3" {
			t.Errorf("Get(user:3) = %q, %v, %v; want v3 stored under its own key", v, found, err)
		}

		// Each id has its own TTL: after 90s only id 1 (a minute) has expired.
		clock.Advance(90 * time.Second)
		if got, err = get(ctx, []int{1, 2, 3}); err != nil || !maps.Equal(got, want(1, 2, 3)) {
			t.Fatalf("after 90s: %v, %v", got, err)
		}
		if calls, w := src.took(), [][]int{{1}}; !slices.EqualFunc(calls, w, slices.Equal) {
			t.Errorf("source calls after 90s %v; want %v", calls, w)
		}

		f := c.Stats().Funcs["users"]
		f.LoadLatency = cashews.Latency{}
		// Calls and hits count ids: 4 + 5 + 3 ids; hits 3 + 2; 3 batch loads.
		if w := (cashews.FuncStats{Calls: 12, Hits: 5, Misses: 7, Loads: 3}); f != w {
			t.Errorf("stats %+v;\nwant %+v", f, w)
		}
	})
}

// TestWrapManySharedIDs: concurrent batches that share ids load each id once, on every backend,
// and every caller gets every id it asked for.
func TestWrapManySharedIDs(t *testing.T) {
	forEachSetup(t, func(s *setup) bool { return !s.secret }, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, s *setup) {
		var loaded sync.Map // id → times loaded
		var dup atomic.Int64
		src := &source{limit: 1000, hook: func(ids []int) {
			for _, id := range ids {
				if _, again := loaded.LoadOrStore(id, true); again {
					dup.Add(1)
				}
			}
		}}
		get := cashews.MustWrapMany(c, src.load, cashews.Name("shared"), cashews.Key("s:{.}"), cashews.TTL(time.Hour))
		const batches, size, ids = 20, 30, 100
		var wg sync.WaitGroup
		errs := make(chan error, batches)
		for b := range batches {
			wg.Go(func() {
				var req []int
				for i := range size {
					req = append(req, (b*7+i*3)%ids)
				}
				got, err := get(context.Background(), req)
				if err != nil {
					errs <- err
					return
				}
				for _, id := range req {
					if got[id] != fmt.Sprintf("v%d", id) {
						errs <- fmt.Errorf("batch %d: id %d = %q", b, id, got[id])
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := dup.Load(); n != 0 {
			t.Errorf("%d ids loaded more than once; want each once", n)
		}
	})
}

// TestWrapManyEarly: stale ids are served and refreshed together in one background batch.
func TestWrapManyEarly(t *testing.T) {
	forEachSetup(t, func(s *setup) bool { return !s.secret }, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, s *setup) {
		ctx := context.Background()
		refreshed := make(chan []int, 4)
		src := &source{limit: 100}
		get := cashews.MustWrapMany(c, func(ctx context.Context, ids []int) (map[int]string, error) {
			m, err := src.load(ctx, ids)
			refreshed <- slices.Sorted(slices.Values(ids))
			return m, err
		}, cashews.Name("early"), cashews.Key("e:{.}"), cashews.TTL(time.Hour), strategies.Early(10*time.Minute))
		if _, err := get(ctx, []int{1, 2}); err != nil {
			t.Fatal(err)
		}
		<-refreshed
		clock.Advance(5 * time.Minute)
		if _, err := get(ctx, []int{3}); err != nil {
			t.Fatal(err)
		}
		<-refreshed
		clock.Advance(6 * time.Minute) // 1 and 2 are stale, 3 is not

		ctx2, d := detect.New(ctx)
		got, err := get(ctx2, []int{1, 2, 3, 4})
		if err != nil || !maps.Equal(got, want(1, 2, 3, 4)) {
			t.Fatalf("stale call: %v, %v", got, err)
		}
		// Two source calls: the foreground load of 4, and one background batch of 1 and 2.
		var calls [][]int
		for range 2 {
			select {
			case ids := <-refreshed:
				calls = append(calls, ids)
			case <-time.After(10 * time.Second):
				t.Fatalf("calls so far %v; the background refresh did not run", calls)
			}
		}
		slices.SortFunc(calls, func(a, b []int) int { return len(b) - len(a) })
		if w := [][]int{{1, 2}, {4}}; !slices.EqualFunc(calls, w, slices.Equal) {
			t.Errorf("source calls %v; want %v", calls, w)
		}
		if n := len(d.Hits()); n != 3 {
			t.Errorf("%d detect hits; want 3 (stale ones included)", n)
		}
		c.Close() // waits for the refresh to have stored
		st := c.Stats().Funcs["early"]
		if st.StaleEarly != 2 || st.Refreshes != 2 {
			t.Errorf("stale %d refreshes %d; want 2 and 2 (counted per id)", st.StaleEarly, st.Refreshes)
		}
	})
}

// TestWrapManyRedisDown: a batch whose cache is down is loaded whole from the function (fail
// open), and a Strict one returns the error.
func TestWrapManyRedisDown(t *testing.T) {
	forEachSetup(t, func(s *setup) bool { return s.name == "redis" }, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, s *setup) {
		ctx := context.Background()
		src := &source{limit: 100}
		get := cashews.MustWrapMany(c, src.load, cashews.Name("down"), cashews.Key("d:{.}"), cashews.TTL(time.Hour))
		strict := cashews.MustWrapMany(c, src.load, cashews.Name("strict"), cashews.Key("d:{.}"), cashews.TTL(time.Hour), cashews.Strict())
		if _, err := get(ctx, []int{1}); err != nil {
			t.Fatal(err)
		}
		src.took()
		s.redis().Kill()
		before := c.SuppressedErrors()
		got, err := get(ctx, []int{1, 2})
		if err != nil || !maps.Equal(got, want(1, 2)) {
			t.Fatalf("with Redis down: %v, %v; want every value from the function", got, err)
		}
		if calls, w := src.took(), [][]int{{1, 2}}; !slices.EqualFunc(calls, w, slices.Equal) {
			t.Errorf("source calls %v; want %v", calls, w)
		}
		if c.SuppressedErrors() <= before {
			t.Errorf("SuppressedErrors %d; want more than %d", c.SuppressedErrors(), before)
		}
		if _, err := strict(ctx, []int{1}); !errors.Is(err, cashews.ErrUnavailable) {
			t.Errorf("strict with Redis down: %v; want ErrUnavailable", err)
		}
	})
}

// TestResultTTLEveryBackend: the TTL comes from the result; zero stores nothing.
func TestResultTTLEveryBackend(t *testing.T) {
	type token struct {
		Value   string
		Expires time.Time
	}
	forEachSetup(t, func(s *setup) bool { return !s.secret }, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, s *setup) {
		ctx := context.Background()
		var runs atomic.Int64
		fetch := cashews.MustWrap(c, func(ctx context.Context, user string) (token, error) {
			runs.Add(1)
			if user == "" {
				return token{}, nil
			}
			return token{Value: "t-" + user, Expires: clock.Now().Add(10 * time.Minute)}, nil
		}, cashews.Name("token"), cashews.Key("tok:{.}"), cashews.ResultTTL(func(t token, err error) time.Duration {
			if t.Value == "" {
				return 0 // an empty result is not stored
			}
			return t.Expires.Sub(clock.Now()) - time.Minute // renewed a minute before it expires
		}))
		for range 2 {
			if _, err := fetch(ctx, "ann"); err != nil {
				t.Fatal(err)
			}
			if _, err := fetch(ctx, ""); err != nil {
				t.Fatal(err)
			}
		}
		if n := runs.Load(); n != 3 {
			t.Errorf("%d runs; want 3 (ann once, the empty result twice)", n)
		}
		// Redis counts the TTL down by its own clock, the others by the Cache's (which stands still).
		ttl, found, err := c.GetExpire(ctx, "tok:ann")
		if err != nil || !found || ttl <= 9*time.Minute-5*time.Second || ttl > 9*time.Minute {
			t.Errorf("GetExpire(tok:ann) = %v, %v, %v; want 9m", ttl, found, err)
		}
		clock.Advance(9*time.Minute + time.Second)
		fetch(ctx, "ann")
		if n := runs.Load(); n != 4 {
			t.Errorf("%d runs after 9m; want 4", n)
		}

		// WrapMany takes it per id.
		many := cashews.MustWrapMany(c, func(ctx context.Context, ids []int) (map[int]int, error) {
			out := map[int]int{}
			for _, id := range ids {
				out[id] = id
			}
			return out, nil
		}, cashews.Name("many"), cashews.Key("m:{.}"), cashews.ResultTTL(func(v int, err error) time.Duration { return time.Duration(v) * time.Minute }))
		if _, err := many(ctx, []int{0, 2}); err != nil {
			t.Fatal(err)
		}
		if _, found, _ := c.GetExpire(ctx, "m:0"); found {
			t.Error("m:0 stored with a TTL of zero; want nothing stored")
		}
		if ttl, found, _ := c.GetExpire(ctx, "m:2"); !found || ttl <= 2*time.Minute-5*time.Second || ttl > 2*time.Minute {
			t.Errorf("m:2 TTL %v, %v; want 2m", ttl, found)
		}
	})
}

// TestWrapManyFigures measures, on Redis, 100 concurrent batches of 50 ids drawn from 1,000 ids:
// the backend round trips (commands, counted by an OnCommand hook; a get_many or set_many is one
// pipelined round trip on one Redis) and the calls of the source, for WrapMany and for the same
// load made with a loop of single Wrap calls. Run it with -v to see the figures:
//
//	CASHEWS_REQUIRE_REDIS=1 go test -count=1 -v -run TestWrapManyFigures ./internal/crossbackend/
func TestWrapManyFigures(t *testing.T) {
	const batches, size, universe = 100, 50, 1000
	rng := rand.New(rand.NewPCG(1, 2))
	reqs := make([][]int, batches)
	distinct := map[int]bool{}
	for b := range reqs {
		reqs[b] = rng.Perm(universe)[:size]
		for _, id := range reqs[b] {
			distinct[id] = true
		}
	}
	type figures struct {
		commands map[string]int
		calls    int64 // calls of the source
		ids      int64 // ids the source was asked for
		took     time.Duration
	}
	run := func(t *testing.T, batch bool) figures {
		var f figures
		forEachSetup(t, func(s *setup) bool { return s.name == "redis" }, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, s *setup) {
			var calls, ids atomic.Int64
			load := func(ctx context.Context, in []int) (map[int]string, error) {
				calls.Add(1)
				ids.Add(int64(len(in)))
				out := make(map[int]string, len(in))
				for _, id := range in {
					out[id] = fmt.Sprintf("v%d", id)
				}
				return out, nil
			}
			get := func(ctx context.Context, in []int) (map[int]string, error) { return nil, nil }
			if batch {
				get = cashews.MustWrapMany(c, load, cashews.Name("figures"), cashews.Key("u:{.}"), cashews.TTL(time.Hour))
			} else {
				one := cashews.MustWrap(c, func(ctx context.Context, id int) (string, error) {
					m, err := load(ctx, []int{id})
					return m[id], err
				}, cashews.Name("figures"), cashews.Key("u:{.}"), cashews.TTL(time.Hour))
				get = func(ctx context.Context, in []int) (map[int]string, error) {
					out := make(map[int]string, len(in))
					for _, id := range in {
						v, err := one(ctx, id)
						if err != nil {
							return nil, err
						}
						out[id] = v
					}
					return out, nil
				}
			}
			count := commands(t, c)
			start := time.Now()
			var wg sync.WaitGroup
			for _, req := range reqs {
				wg.Go(func() {
					got, err := get(context.Background(), req)
					if err != nil || len(got) != len(req) {
						t.Errorf("batch: %d values, %v", len(got), err)
					}
				})
			}
			wg.Wait()
			f = figures{commands: count(), calls: calls.Load(), ids: ids.Load(), took: time.Since(start)}
		})
		return f
	}
	many, single := run(t, true), run(t, false)
	total := func(m map[string]int) (n int) {
		for _, v := range m {
			n += v
		}
		return n
	}
	t.Logf("%d batches of %d ids over %d ids (%d distinct asked for), on one Redis:", batches, size, universe, len(distinct))
	t.Logf("WrapMany:          %4d round trips %v, %4d source calls for %d ids, %v", total(many.commands), many.commands, many.calls, many.ids, many.took.Round(time.Millisecond))
	t.Logf("loop of Wrap:      %4d round trips %v, %4d source calls for %d ids, %v", total(single.commands), single.commands, single.calls, single.ids, single.took.Round(time.Millisecond))
	if many.ids != int64(len(distinct)) {
		t.Errorf("WrapMany loaded %d ids; want each of the %d once", many.ids, len(distinct))
	}
	if n := total(many.commands); n > 2*batches {
		t.Errorf("WrapMany: %d round trips; want at most %d (one read and at most one write per batch)", n, 2*batches)
	}
	if many.calls > batches {
		t.Errorf("WrapMany: %d source calls; want at most %d", many.calls, batches)
	}
}
