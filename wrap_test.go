package cashews_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/detect"
)

type query struct {
	ID   int
	Lang string
}

// counted returns a loader that counts its runs and returns "user <ID> <Lang>".
func counted(runs *atomic.Int64) func(context.Context, query) (string, error) {
	return func(ctx context.Context, q query) (string, error) {
		runs.Add(1)
		return fmt.Sprintf("user %d %s", q.ID, q.Lang), nil
	}
}

func TestWrapCachesByTemplate(t *testing.T) {
	for _, url := range valueModes {
		t.Run(url, func(t *testing.T) {
			c, clock := newCache(t, url)
			ctx := context.Background()
			var runs atomic.Int64
			get := cashews.MustWrap(c, counted(&runs), cashews.TTL(time.Minute), cashews.Key("user:{ID}:{Lang:lower}"))

			for _, q := range []query{{1, "EN"}, {1, "en"}, {1, "En"}, {2, "en"}} {
				if _, err := get(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			if n := runs.Load(); n != 2 {
				t.Fatalf("runs = %d; want 2 (keys user:1:en and user:2:en)", n)
			}
			v, _ := get(ctx, query{1, "EN"})
			if v != "user 1 EN" {
				t.Fatalf("cached value = %q; want the first call's result", v)
			}
			if ok, _ := c.Exists(ctx, "user:1:en"); !ok {
				t.Fatal("key user:1:en not in the cache")
			}
			clock.Advance(time.Minute + time.Second)
			get(ctx, query{1, "en"})
			if n := runs.Load(); n != 3 {
				t.Fatalf("runs after the TTL = %d; want 3", n)
			}
		})
	}
}

func loadUser(ctx context.Context, q query) (string, error) { return fmt.Sprint(q.ID), nil }

func TestWrapDefaultKeyAndPrefix(t *testing.T) {
	c, _ := newCache(t, "mem://")
	ctx := context.Background()
	var keys []string
	c.OnCommand(func(ctx context.Context, call *cashews.Call, res cashews.Result, err error) {
		keys = append(keys, call.Key())
	}, cashews.CmdSet)
	get := cashews.MustWrap(c, loadUser, cashews.TTL(time.Minute), cashews.KeyPrefix("v1:"))
	get(ctx, query{7, "de"})
	if len(keys) != 1 || !strings.HasPrefix(keys[0], "v1:github.com/cashews-go/cashews_test.loadUser") ||
		!strings.Contains(keys[0], "7") || !strings.Contains(keys[0], "de") {
		t.Fatalf("default key = %q; want the prefix, the qualified name and the fields", keys)
	}
}

func TestWrapConfigMistakes(t *testing.T) {
	c, _ := newCache(t, "mem://")
	anon := func(ctx context.Context, q query) (string, error) { return "", nil }
	tests := []struct {
		name string
		opts []cashews.WrapOption
		fn   func(context.Context, query) (string, error)
		want string
	}{
		{"no TTL", nil, loadUser, "needs a TTL"},
		{"unknown field", []cashews.WrapOption{cashews.TTL(time.Minute), cashews.Key("user:{Nmae}")}, loadUser, "Nmae"},
		{"bad syntax", []cashews.WrapOption{cashews.TTL(time.Minute), cashews.Key("user:{ID")}, loadUser, "unclosed"},
		{"bad tag", []cashews.WrapOption{cashews.TTL(time.Minute), cashews.Tags("t:{Nope}")}, loadUser, "Nope"},
		{"negative TTL", []cashews.WrapOption{cashews.TTL(-time.Minute)}, loadUser, "negative TTL"},
		{"two strategies", []cashews.WrapOption{cashews.TTL(time.Minute), cashews.Simple(), cashews.Simple()}, loadUser, "two strategies"},
		{"anonymous", []cashews.WrapOption{cashews.TTL(time.Minute)}, anon, "anonymous function"},
		{"TTLFunc type", []cashews.WrapOption{cashews.TTLFunc(func(int) time.Duration { return time.Second })}, loadUser, "TTLFunc takes int"},
		{"StoreErrors()", []cashews.WrapOption{cashews.TTL(time.Minute), cashews.StoreErrors()}, loadUser, "StoreErrors() without errors"},
		{"OnlyStoreErrors()", []cashews.WrapOption{cashews.TTL(time.Minute), cashews.OnlyStoreErrors()}, loadUser, "OnlyStoreErrors() without errors"},
		{"StoreErrors(nil)", []cashews.WrapOption{cashews.TTL(time.Minute), cashews.StoreErrors(errGone, nil)}, loadUser, "error 2 is nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cashews.Wrap(c, tt.fn, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Wrap = %v; want an error containing %q", err, tt.want)
			}
			defer func() {
				if r := recover(); r == nil {
					t.Fatal("Wrap did not panic on a configuration mistake")
				}
			}()
			cashews.MustWrap(c, tt.fn, tt.opts...)
		})
	}
	// An anonymous function is fine with a name or a key.
	if _, err := cashews.Wrap(c, anon, cashews.TTL(time.Minute), cashews.Name("anon")); err != nil {
		t.Fatalf("anonymous with Name: %v", err)
	}
}

// listUsers and countUsers return iterators, which Wrap refuses: it would cache the iterator (a
// closure on mem://, nothing on a byte backend), not what it yields.
func listUsers(ctx context.Context, n int) (iter.Seq[string], error) {
	return slices.Values([]string{"a", "b"}[:n]), nil
}

func countUsers(ctx context.Context, n int) (iter.Seq2[string, int], error) {
	return maps.All(map[string]int{"a": n}), nil
}

type userSeq func(yield func(string) bool)

func namedSeq(ctx context.Context, n int) (userSeq, error) { return nil, nil }

func TestWrapRejectsIterators(t *testing.T) {
	c, _ := newCache(t, "mem://")
	for name, try := range map[string]func() error{
		"iter.Seq":  func() error { _, err := cashews.Wrap(c, listUsers, cashews.TTL(time.Minute)); return err },
		"iter.Seq2": func() error { _, err := cashews.Wrap(c, countUsers, cashews.TTL(time.Minute)); return err },
		"named":     func() error { _, err := cashews.Wrap(c, namedSeq, cashews.TTL(time.Minute)); return err },
		"Wrap0": func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					err, _ = r.(error)
				}
			}()
			cashews.MustWrap0(c, func(context.Context) (iter.Seq[int], error) { return nil, nil }, cashews.TTL(time.Minute))
			return nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			err := try()
			if !errors.Is(err, cashews.ErrConfig) || !strings.Contains(err.Error(), "iterator") {
				t.Fatalf("Wrap of a function returning an iterator: err = %v; want ErrConfig naming the iterator", err)
			}
		})
	}
	// A function value that is not an iterator is not refused for its shape.
	if _, err := cashews.Wrap(c, func(context.Context, int) (func() bool, error) { return nil, nil }, cashews.TTL(time.Minute), cashews.Name("f")); err != nil && strings.Contains(err.Error(), "iterator") {
		t.Fatalf("a func() bool result was taken for an iterator: %v", err)
	}
}

func TestWrapDedup(t *testing.T) {
	c, _ := newCache(t, "mem://")
	var runs atomic.Int64
	release := make(chan struct{})
	slow := func(ctx context.Context, id int) (int, error) {
		runs.Add(1)
		<-release
		return id * 10, nil
	}
	get := cashews.MustWrap(c, slow, cashews.TTL(time.Minute), cashews.Key("n:{.}"))
	var wg sync.WaitGroup
	var wrong atomic.Int64
	for range 1000 {
		wg.Go(func() {
			if v, err := get(context.Background(), 4); v != 40 || err != nil {
				wrong.Add(1)
			}
		})
	}
	// The load runs for the callers above; one more caller that gives up leaves it running for them.
	// (When every caller has given up, the load is cancelled: see TestHungSourceDeadlines.)
	for runs.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := get(cctx, 4); done <- err }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller = %v; want context.Canceled", err)
	}
	close(release)
	wg.Wait()
	if runs.Load() != 1 || wrong.Load() != 0 {
		t.Fatalf("runs = %d, wrong results = %d; want 1 and 0", runs.Load(), wrong.Load())
	}
}

func TestWrapPanicReachesEveryWaiter(t *testing.T) {
	c, _ := newCache(t, "mem://")
	release := make(chan struct{})
	boom := func(ctx context.Context, id int) (int, error) {
		<-release
		panic("boom")
	}
	get := cashews.MustWrap(c, boom, cashews.TTL(time.Minute), cashews.Key("p:{.}"))
	var wg sync.WaitGroup
	var panics atomic.Int64
	for range 10 {
		wg.Go(func() {
			_, err := get(context.Background(), 1)
			var pe *cashews.PanicError
			if errors.As(err, &pe) && pe.Value == "boom" {
				panics.Add(1)
			}
		})
	}
	close(release)
	wg.Wait()
	if panics.Load() != 10 {
		t.Fatalf("%d of 10 callers got the panic as an error", panics.Load())
	}
}

func TestWrapNoDedup(t *testing.T) {
	c, _ := newCache(t, "mem://")
	var runs atomic.Int64
	var started sync.WaitGroup
	started.Add(5)
	release := make(chan struct{})
	f := func(ctx context.Context, id int) (int, error) {
		runs.Add(1)
		started.Done()
		<-release
		return id, nil
	}
	get := cashews.MustWrap(c, f, cashews.TTL(time.Minute), cashews.Key("nd:{.}"), cashews.NoDedup())
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() { get(context.Background(), 1) })
	}
	started.Wait() // all five run at once: no dedup
	close(release)
	wg.Wait()
	if runs.Load() != 5 {
		t.Fatalf("runs = %d; want 5", runs.Load())
	}
}

var errGone = errors.New("gone")

func TestWrapConditions(t *testing.T) {
	for _, url := range valueModes {
		t.Run(url, func(t *testing.T) {
			c, _ := newCache(t, url)
			ctx := context.Background()
			var runs atomic.Int64
			f := func(ctx context.Context, id int) (int, error) {
				runs.Add(1)
				switch id {
				case 0:
					return 0, nil
				case 1:
					return 0, fmt.Errorf("user %d: %w", id, errGone)
				case 2:
					return 0, errors.New("transient")
				}
				return id, nil
			}
			notZero := cashews.MustWrap(c, f, cashews.TTL(time.Minute), cashews.Key("nz:{.}"), cashews.StoreIf(cashews.NotZero))
			notZero(ctx, 0)
			notZero(ctx, 0)
			notZero(ctx, 5)
			notZero(ctx, 5)
			if runs.Load() != 3 {
				t.Fatalf("NotZero: runs = %d; want 3 (zero not stored)", runs.Load())
			}

			runs.Store(0)
			withErrs := cashews.MustWrap(c, f, cashews.TTL(time.Minute), cashews.Key("se:{.}"), cashews.StoreErrors(errGone))
			for range 3 {
				_, err := withErrs(ctx, 1)
				if !errors.Is(err, errGone) || err.Error() != "user 1: gone" {
					t.Fatalf("replayed error = %v; want one matching errGone with the original message", err)
				}
			}
			withErrs(ctx, 2)
			withErrs(ctx, 2)
			if runs.Load() != 3 {
				t.Fatalf("StoreErrors: runs = %d; want 3 (errGone stored once, the transient error never)", runs.Load())
			}

			runs.Store(0)
			onlyErrs := cashews.MustWrap(c, f, cashews.TTL(time.Minute), cashews.Key("oe:{.}"), cashews.OnlyStoreErrors(errGone))
			onlyErrs(ctx, 1)
			onlyErrs(ctx, 1)
			onlyErrs(ctx, 7)
			onlyErrs(ctx, 7)
			if runs.Load() != 3 {
				t.Fatalf("OnlyStoreErrors: runs = %d; want 3 (errors stored, results not)", runs.Load())
			}
		})
	}
}

func TestWrapMinLatency(t *testing.T) {
	c, clock := newCache(t, "mem://")
	ctx := context.Background()
	var runs atomic.Int64
	f := func(ctx context.Context, ms int) (int, error) {
		runs.Add(1)
		clock.Advance(time.Duration(ms) * time.Millisecond)
		return ms, nil
	}
	get := cashews.MustWrap(c, f, cashews.TTL(time.Minute), cashews.Key("ml:{.}"), cashews.MinLatency(50*time.Millisecond))
	get(ctx, 10)
	get(ctx, 10)
	get(ctx, 100)
	get(ctx, 100)
	if runs.Load() != 3 {
		t.Fatalf("runs = %d; want 3 (the fast result is not stored)", runs.Load())
	}
}

func TestWrapTTLFuncAndTags(t *testing.T) {
	c, _ := newCache(t, "mem://")
	ctx := context.Background()
	var runs atomic.Int64
	get := cashews.MustWrap(c, counted(&runs), cashews.Key("user:{ID}"),
		cashews.TTLFunc(func(q query) time.Duration { return time.Duration(q.ID) * time.Minute }),
		cashews.Tags("lang:{Lang}"))
	get(ctx, query{3, "en"})
	get(ctx, query{4, "en"})
	get(ctx, query{5, "de"})
	if ttl, _, _ := c.GetExpire(ctx, "user:3"); ttl <= 2*time.Minute || ttl > 3*time.Minute {
		t.Fatalf("TTL of user:3 = %v; want 3m from TTLFunc", ttl)
	}
	n, err := c.DeleteTags(ctx, "lang:en")
	if n != 2 || err != nil {
		t.Fatalf("DeleteTags(lang:en) = %d, %v; want 2", n, err)
	}
	get(ctx, query{3, "en"})
	get(ctx, query{5, "de"})
	if runs.Load() != 4 {
		t.Fatalf("runs = %d; want 4 (user:3 recomputed after its tag was deleted, user:5 cached)", runs.Load())
	}
}

func TestWrapVersionAndShape(t *testing.T) {
	for _, url := range valueModes {
		t.Run(url, func(t *testing.T) {
			c, _ := newCache(t, url)
			ctx := context.Background()
			var runs atomic.Int64
			v1 := cashews.MustWrap(c, counted(&runs), cashews.TTL(time.Minute), cashews.Key("u:{ID}"), cashews.Version("1"))
			v1(ctx, query{1, "en"})
			v1(ctx, query{1, "en"})
			v2 := cashews.MustWrap(c, counted(&runs), cashews.TTL(time.Minute), cashews.Key("u:{ID}"), cashews.Version("2"))
			v2(ctx, query{1, "en"})
			if runs.Load() != 2 {
				t.Fatalf("runs = %d; want 2 (a new version misses)", runs.Load())
			}
			// A result type of another shape under the same key misses instead of decoding wrongly.
			type userV2 struct{ ID, Age int }
			other := cashews.MustWrap(c, func(ctx context.Context, q query) (userV2, error) {
				runs.Add(1)
				return userV2{q.ID, 30}, nil
			}, cashews.TTL(time.Minute), cashews.Key("u:{ID}"), cashews.Version("2"))
			u, err := other(ctx, query{1, "en"})
			if err != nil || u != (userV2{1, 30}) || runs.Load() != 3 {
				t.Fatalf("other shape = %+v, %v, runs %d; want a recompute", u, err, runs.Load())
			}
		})
	}
}

func TestWrapRecomputeAndDisabled(t *testing.T) {
	c, _ := newCache(t, "mem://")
	ctx := context.Background()
	var runs atomic.Int64
	get := cashews.MustWrap(c, counted(&runs), cashews.TTL(time.Minute), cashews.Key("u:{ID}"))
	get(ctx, query{1, "en"})
	get(cashews.Recompute(ctx), query{1, "en"})
	get(ctx, query{1, "en"})
	if runs.Load() != 2 {
		t.Fatalf("runs = %d; want 2 (one recompute, then the new value from cache)", runs.Load())
	}
	off := cashews.WithDisabled(ctx)
	get(off, query{1, "en"})
	get(off, query{1, "en"})
	if runs.Load() != 4 {
		t.Fatalf("runs with the cache off = %d; want 4", runs.Load())
	}
}

func TestWrap0AndNesting(t *testing.T) {
	c, _ := newCache(t, "mem://")
	ctx := context.Background()
	var runs atomic.Int64
	config := cashews.MustWrap0(c, func(ctx context.Context) (string, error) {
		runs.Add(1)
		return "cfg", nil
	}, cashews.TTL(time.Minute), cashews.Name("config"))
	config(ctx)
	if v, _ := config(ctx); v != "cfg" || runs.Load() != 1 {
		t.Fatalf("Wrap0 = %q, runs %d; want cfg, 1", v, runs.Load())
	}
	// Nesting: an outer Wrap around an inner wrapped function.
	inner := cashews.MustWrap(c, counted(&runs), cashews.TTL(time.Second), cashews.Key("in:{ID}"))
	outer := cashews.MustWrap(c, inner, cashews.TTL(time.Hour), cashews.Key("out:{ID}"))
	outer(ctx, query{1, "x"})
	outer(ctx, query{1, "x"})
	if runs.Load() != 2 {
		t.Fatalf("runs = %d; want 2", runs.Load())
	}
	for _, k := range []string{"in:1", "out:1"} {
		if ok, _ := c.Exists(ctx, k); !ok {
			t.Fatalf("%s not stored", k)
		}
	}
}

func TestWrapDetect(t *testing.T) {
	c, _ := newCache(t, "mem://")
	var runs atomic.Int64
	get := cashews.MustWrap(c, counted(&runs), cashews.TTL(time.Minute), cashews.Key("u:{ID}"))
	ctx, d := detect.New(context.Background())
	get(ctx, query{1, "en"})
	if d.Len() != 0 {
		t.Fatalf("a miss was recorded: %+v", d.Hits())
	}
	get(ctx, query{1, "en"})
	hits := d.Hits()
	if len(hits) != 1 || hits[0].Key != "u:1" || hits[0].Strategy != "simple" || hits[0].Backend != "mem://" ||
		hits[0].TTL <= 0 || hits[0].TTL > time.Minute {
		t.Fatalf("hits = %+v; want one hit on u:1 by simple on mem:// with a TTL up to 1m", hits)
	}
}

func TestWrapHitAllocations(t *testing.T) {
	c, _ := newCache(t, "mem://")
	ctx := context.Background()
	var runs atomic.Int64
	get := cashews.MustWrap(c, counted(&runs), cashews.TTL(time.Hour), cashews.Key("user:{ID}:{Lang:lower}"))
	q := query{1, "EN"}
	get(ctx, q)
	// The key comes from the Wrap's key table; the argument, a struct, goes to the strategies in an
	// interface (WrapCall.Arg), which allocates.
	if n := testing.AllocsPerRun(1000, func() { get(ctx, q) }); n > 1 {
		t.Fatalf("a Wrap hit allocates %v times; want at most 1", n)
	}
	// A pointer in an interface allocates nothing: neither does the hit.
	byPtr := cashews.MustWrap(c, func(ctx context.Context, q *query) (string, error) {
		runs.Add(1)
		return q.Lang, nil
	}, cashews.TTL(time.Hour), cashews.Key("ptr:{ID}:{Lang:lower}"))
	byPtr(ctx, &q)
	before := runs.Load()
	if n := testing.AllocsPerRun(1000, func() { byPtr(ctx, &q) }); n != 0 {
		t.Fatalf("a Wrap hit with a pointer argument allocates %v times; want none", n)
	}
	if runs.Load() != before {
		t.Fatalf("the function ran %d times on hits", runs.Load()-before)
	}
}

// TestWrapKeysOwned: the keys a Wrap renders are strings of their own, never views of a buffer it
// reuses: the keys stored in the backend stay those of their calls after many other calls, also
// when keys are longer than the stack buffer or collide in the key table.
func TestWrapKeysOwned(t *testing.T) {
	c, _ := newCache(t, "mem://")
	ctx := context.Background()
	var runs atomic.Int64
	long := strings.Repeat("x", 200)
	get := cashews.MustWrap(c, counted(&runs), cashews.TTL(time.Hour), cashews.Key("k:{ID}:{Lang}"))
	const n = 5000 // more keys than the table holds
	for i := range n {
		lang := "en"
		if i%7 == 0 {
			lang = long
		}
		if _, err := get(ctx, query{i, lang}); err != nil {
			t.Fatal(err)
		}
	}
	if runs.Load() != n {
		t.Fatalf("%d runs for %d distinct keys", runs.Load(), n)
	}
	var keys []string
	for k, err := range c.Scan(ctx, "k:*") {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	want := map[string]bool{}
	for i := range n {
		lang := "en"
		if i%7 == 0 {
			lang = long
		}
		want[fmt.Sprintf("k:%d:%s", i, lang)] = true
	}
	if len(keys) != n {
		t.Fatalf("%d keys stored, want %d", len(keys), n)
	}
	for _, k := range keys {
		if !want[k] {
			t.Fatalf("stored key %.40q is no call's key", k)
		}
		delete(want, k)
	}
	for i := range n { // every call hits its own entry
		lang := "en"
		if i%7 == 0 {
			lang = long
		}
		if v, err := get(ctx, query{i, lang}); err != nil || v != fmt.Sprintf("user %d %s", i, lang) {
			t.Fatalf("get(%d) = %.40q, %v", i, v, err)
		}
	}
	if runs.Load() != n {
		t.Fatalf("%d runs after the hits, want %d", runs.Load(), n)
	}
}

func BenchmarkWrapHit(b *testing.B) {
	c, _ := newCache(b, "mem://")
	ctx := context.Background()
	var runs atomic.Int64
	get := cashews.MustWrap(c, counted(&runs), cashews.TTL(time.Hour), cashews.Key("user:{ID}:{Lang:lower}"))
	qs := make([]query, 1024)
	for i := range qs {
		qs[i] = query{i, "EN"}
		get(ctx, qs[i])
	}
	b.Run("sequential", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			get(ctx, qs[i&1023])
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				get(ctx, qs[i&1023])
				i++
			}
		})
	})
}
