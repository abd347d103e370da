package strategies_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends/backendtest"
	"github.com/cashews-go/cashews/strategies"
)

// bfExists returns a "does item id exist" function over the set of existing ids, counting its runs.
func bfExists(runs *atomic.Int64, existing func(id int) bool) func(context.Context, int) (bool, error) {
	return func(_ context.Context, id int) (bool, error) {
		runs.Add(1)
		return existing(id), nil
	}
}

func bfEven(id int) bool { return id%2 == 0 }

// bfCall calls f and fails the test on an error.
func bfCall(t *testing.T, f func(context.Context, int) (bool, error), id int) bool {
	t.Helper()
	v, err := f(context.Background(), id)
	if err != nil {
		t.Fatalf("call(%d): %v", id, err)
	}
	return v
}

func TestBloomLearnsUntilReadyThenSkips(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, _ *backendtest.Clock) {
		ctx := context.Background()
		var runs atomic.Int64
		bf := strategies.Bloom(1000, 0.01)
		exists := cashews.MustWrap(c, bfExists(&runs, bfEven), cashews.Key("item:{.}"), bf)

		// Not ready: every call runs, and existing items are learned.
		for id := 1; id <= 10; id++ {
			if got, want := bfCall(t, exists, id), bfEven(id); got != want {
				t.Fatalf("before Ready: exists(%d) = %v; want %v", id, got, want)
			}
		}
		if n := runs.Load(); n != 10 {
			t.Fatalf("runs before Ready = %d; want 10 (an unready filter never turns a call away)", n)
		}
		for id := 1; id <= 10; id++ {
			in, err := bf.Contains(ctx, fmt.Sprintf("item:%d", id))
			if err != nil || in != bfEven(id) {
				t.Fatalf("Contains(item:%d) = %v, %v; want %v (learned only the items that exist)", id, in, err, bfEven(id))
			}
		}

		if err := bf.Ready(ctx); err != nil {
			t.Fatal(err)
		}
		for id := 1; id <= 10; id++ {
			if got, want := bfCall(t, exists, id), bfEven(id); got != want {
				t.Fatalf("after Ready: exists(%d) = %v; want %v", id, got, want)
			}
		}
		if n := runs.Load(); n != 15 {
			t.Fatalf("runs after Ready = %d; want 15 (only the 5 even ids ran again)", n)
		}

		// An item created after Ready is not known until it is added.
		if bfCall(t, exists, 12) {
			t.Fatal("exists(12) = true before Add; want false from the filter")
		}
		if n := runs.Load(); n != 15 {
			t.Fatalf("runs = %d; want 15 (the filter answered for 12)", n)
		}
		if err := bf.Add(ctx, "item:12"); err != nil {
			t.Fatal(err)
		}
		if !bfCall(t, exists, 12) {
			t.Fatal("exists(12) = false after Add; want true from the function")
		}
		if n := runs.Load(); n != 16 {
			t.Fatalf("runs = %d; want 16 (12 ran once it was added)", n)
		}
	})
}

func TestBloomDoesNotLearnZeroOrErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, _ *backendtest.Clock) {
		ctx := context.Background()
		boom := errors.New("boom")
		var runs atomic.Int64
		bf := strategies.Bloom(100, 0.01)
		get := cashews.MustWrap(c, func(_ context.Context, id int) (string, error) {
			runs.Add(1)
			switch id {
			case 1:
				return "", nil // zero: does not exist
			case 2:
				return "two", boom
			}
			return fmt.Sprint(id), nil
		}, cashews.Key("item:{.}"), bf)
		for _, id := range []int{1, 2, 3} {
			get(ctx, id)
		}
		for id, want := range map[int]bool{1: false, 2: false, 3: true} {
			if in, err := bf.Contains(ctx, fmt.Sprintf("item:%d", id)); err != nil || in != want {
				t.Errorf("Contains(item:%d) = %v, %v; want %v", id, in, err, want)
			}
		}
		bf.Ready(ctx)
		v, err := get(ctx, 2)
		if v != "" || err != nil {
			t.Fatalf("get(2) after Ready = %q, %v; want \"\", nil from the filter", v, err)
		}
		if v, err := get(ctx, 3); v != "3" || err != nil {
			t.Fatalf("get(3) = %q, %v; want \"3\", nil", v, err)
		}
		if n := runs.Load(); n != 4 {
			t.Fatalf("runs = %d; want 4", n)
		}
	})
}

func TestBloomFalsePositiveRate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, _ *backendtest.Clock) {
		ctx := context.Background()
		const capacity, rate = 1000, 0.01
		var runs atomic.Int64
		bf := strategies.Bloom(capacity, rate)
		exists := cashews.MustWrap(c, bfExists(&runs, func(id int) bool { return id < capacity }),
			cashews.Key("k:{.}"), cashews.Name("exists"), bf)
		if got, want := bf.Key(), "_cashews:bloom:exists:9586:7:1"; got != want {
			t.Fatalf("Key() = %q; want %q (m = 9586 bits and k = 7 hashes for 1000 keys at 1%%)", got, want)
		}

		keys := make([]string, capacity)
		for i := range keys {
			keys[i] = fmt.Sprintf("k:%d", i)
		}
		if err := bf.Add(ctx, keys...); err != nil {
			t.Fatal(err)
		}
		if err := bf.Ready(ctx); err != nil {
			t.Fatal(err)
		}
		bfCallRange(t, exists, 0, capacity, true)
		if n := runs.Load(); n != capacity {
			t.Fatalf("runs for the added keys = %d; want %d (a Bloom filter has no false negatives)", n, capacity)
		}

		const others = 10000
		runs.Store(0)
		bfCallRange(t, exists, capacity, capacity+others, false)
		fp := float64(runs.Load()) / others
		t.Logf("false positive rate %.4f (configured %v)", fp, rate)
		if fp > 2*rate {
			t.Fatalf("false positive rate = %.4f over %d keys not added; want at most %v (twice the configured %v)", fp, others, 2*rate, rate)
		}
	})
}

// bfCallRange calls f for the ids in [from, to) from 8 goroutines, so that backend round trips
// overlap, and checks every answer.
func bfCallRange(t *testing.T, f func(context.Context, int) (bool, error), from, to int, want bool) {
	t.Helper()
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for id := int(next.Add(1) - 1); id < to; id = int(next.Add(1) - 1) {
				if v, err := f(context.Background(), id); v != want || err != nil {
					t.Errorf("exists(%d) = %v, %v; want %v, nil", id, v, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestBloomCountingRemove(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, _ *backendtest.Clock) {
		ctx := context.Background()
		var runs atomic.Int64
		bf := strategies.Bloom(100, 0.01, strategies.BloomCounting())
		exists := cashews.MustWrap(c, bfExists(&runs, func(int) bool { return true }), cashews.Key("item:{.}"), bf)
		if !strings.HasSuffix(bf.Key(), ":4") {
			t.Fatalf("Key() = %q; want a key ending in :4 for 4-bit counters", bf.Key())
		}
		if err := bf.Add(ctx, "item:1", "item:2"); err != nil {
			t.Fatal(err)
		}
		bf.Ready(ctx)
		bfCall(t, exists, 1)
		bfCall(t, exists, 2)
		if err := bf.Remove(ctx, "item:1"); err != nil {
			t.Fatal(err)
		}
		if bfCall(t, exists, 1) {
			t.Fatal("exists(1) = true after Remove; want false from the filter")
		}
		bfCall(t, exists, 2)
		if n := runs.Load(); n != 3 {
			t.Fatalf("runs = %d; want 3 (1 once before Remove, 2 twice)", n)
		}
	})
}

func TestBloomMisuse(t *testing.T) {
	ctx := context.Background()
	bf := strategies.Bloom(100, 0.01)
	if bf.Key() != "" {
		t.Fatalf("Key() before Wrap = %q; want \"\"", bf.Key())
	}
	for name, err := range map[string]error{
		"Add":    bf.Add(ctx, "k"),
		"Ready":  bf.Ready(ctx),
		"Remove": strategies.Bloom(100, 0.01, strategies.BloomCounting()).Remove(ctx, "k"),
	} {
		if !errors.Is(err, cashews.ErrConfig) || !strings.Contains(err.Error(), "before cashews.Wrap") {
			t.Errorf("%s before Wrap = %v; want ErrConfig saying it is before Wrap", name, err)
		}
	}
	if _, err := bf.Contains(ctx, "k"); !errors.Is(err, cashews.ErrConfig) {
		t.Errorf("Contains before Wrap = %v; want ErrConfig", err)
	}

	c, _ := bfNewCache(t)
	exists := func(context.Context, int) (bool, error) { return true, nil }
	if _, err := cashews.Wrap(c, exists, cashews.Key("a:{.}"), bf); err != nil {
		t.Fatal(err)
	}
	if err := bf.Remove(ctx, "a:1"); !errors.Is(err, cashews.ErrConfig) || !strings.Contains(err.Error(), "BloomCounting") {
		t.Errorf("Remove on a filter of bits = %v; want ErrConfig naming BloomCounting", err)
	}
	bad := map[string]cashews.WrapOption{
		"capacity 0":     strategies.Bloom(0, 0.01),
		"rate 0":         strategies.Bloom(10, 0),
		"rate 1":         strategies.Bloom(10, 1),
		"rate NaN":       strategies.Bloom(10, math.NaN()),
		"too large":      strategies.Bloom(1<<40, 0.01),
		"too large x4":   strategies.Bloom(300_000_000, 0.01, strategies.BloomCounting()),
		"second Wrap":    bf,
		"two strategies": strategies.Bloom(10, 0.1),
	}
	for name, opt := range bad {
		opts := []cashews.WrapOption{cashews.Key("b:{.}"), opt}
		if name == "two strategies" {
			opts = append(opts, strategies.Bloom(10, 0.1))
		}
		_, err := cashews.Wrap(c, exists, opts...)
		if !errors.Is(err, cashews.ErrConfig) {
			t.Errorf("%s: Wrap error = %v; want ErrConfig", name, err)
		}
	}
}

// bfNewCache returns a Cache on mem:// with a fake clock.
func bfNewCache(t *testing.T, opts ...cashews.SetupOption) (*cashews.Cache, *backendtest.Clock) {
	clock := backendtest.NewClock()
	c := cashews.New(cashews.WithClock(clock))
	t.Cleanup(func() { c.Close() })
	if err := c.Setup("mem://", opts...); err != nil {
		t.Fatal(err)
	}
	return c, clock
}

func TestBloomKeyRoutesAndBackendErrors(t *testing.T) {
	ctx := context.Background()
	c, _ := bfNewCache(t, cashews.WithPrefix("item:"))
	var runs atomic.Int64

	// The default key starts with "_cashews:", which no backend of this Cache takes.
	unrouted := cashews.MustWrap(c, bfExists(&runs, bfEven), cashews.Key("item:{.}"), strategies.Bloom(10, 0.01))
	if _, err := unrouted(ctx, 2); !errors.Is(err, cashews.ErrNoBackend) {
		t.Fatalf("call with an unrouted filter key: err = %v; want ErrNoBackend", err)
	}
	if n := runs.Load(); n != 0 {
		t.Fatalf("runs = %d; want 0 (a backend error is returned, not a run)", n)
	}

	bf := strategies.Bloom(10, 0.01, strategies.BloomKey("item:_bloom"))
	routed := cashews.MustWrap(c, bfExists(&runs, bfEven), cashews.Key("item:{.}"), bf)
	if !strings.HasPrefix(bf.Key(), "item:_bloom:") {
		t.Fatalf("Key() = %q; want it to start with the BloomKey base", bf.Key())
	}
	if !bfCall(t, routed, 2) || bfCall(t, routed, 3) {
		t.Fatal("routed filter answered wrong")
	}
	if ok, _ := c.Exists(ctx, bf.Key()); !ok {
		t.Fatalf("the filter's key %q is not in the backend", bf.Key())
	}
}

func TestBloomConcurrent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, _ *backendtest.Clock) {
		ctx := context.Background()
		var runs atomic.Int64
		bf := strategies.Bloom(1000, 0.01)
		exists := cashews.MustWrap(c, bfExists(&runs, bfEven), cashews.Key("item:{.}"), bf)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 50 {
					id := g*100 + i
					if g%2 == 0 {
						bf.Add(ctx, fmt.Sprintf("item:%d", id))
					}
					if v, err := exists(ctx, id); err != nil || v != bfEven(id) {
						t.Errorf("exists(%d) = %v, %v; want %v", id, v, err, bfEven(id))
					}
				}
			})
		}
		wg.Wait()
		if n := runs.Load(); n != 400 {
			t.Fatalf("runs = %d; want 400 (the filter is not ready, so every call runs)", n)
		}
	})
}
