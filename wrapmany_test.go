package cashews_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/strategies"
)

// byID returns "v<id>" for every id, counting the calls and the ids it was asked for.
func byID(calls, ids *atomic.Int64) func(context.Context, []int) (map[int]string, error) {
	return func(ctx context.Context, in []int) (map[int]string, error) {
		calls.Add(1)
		ids.Add(int64(len(in)))
		out := make(map[int]string, len(in))
		for _, id := range in {
			out[id] = fmt.Sprintf("v%d", id)
		}
		return out, nil
	}
}

func TestWrapManyConfigErrors(t *testing.T) {
	c, _ := newCache(t, "mem://")
	var calls, ids atomic.Int64
	fn := byID(&calls, &ids)
	for _, tc := range []struct {
		name string
		opts []cashews.WrapOption
		want string
	}{
		{"no TTL", []cashews.WrapOption{cashews.Name("x")}, "needs a TTL"},
		{"anonymous", []cashews.WrapOption{cashews.TTL(time.Hour)}, "anonymous function"},
		{"another strategy", []cashews.WrapOption{cashews.Name("x"), cashews.TTL(time.Hour), strategies.Failover()}, "simple or the early strategy"},
		{"store errors", []cashews.WrapOption{cashews.Name("x"), cashews.TTL(time.Hour), cashews.StoreErrors(errors.New("e"))}, "does not store errors"},
		{"TTLFunc of another type", []cashews.WrapOption{cashews.Name("x"), cashews.TTLFunc(func(string) time.Duration { return 1 })}, "TTLFunc takes string, but the function takes int"},
		{"ResultTTL of another type", []cashews.WrapOption{cashews.Name("x"), cashews.ResultTTL(func(int, error) time.Duration { return 1 })}, "ResultTTL takes int, but the function returns string"},
		{"ResultTTL and TTL", []cashews.WrapOption{cashews.Name("x"), cashews.TTL(time.Hour), cashews.ResultTTL(func(string, error) time.Duration { return 1 })}, "give one way"},
		{"bad template", []cashews.WrapOption{cashews.Name("x"), cashews.TTL(time.Hour), cashews.Key("u:{Nope}")}, "Nope"},
		{"early TTL too long", []cashews.WrapOption{cashews.Name("x"), cashews.TTL(time.Minute), strategies.Early(time.Hour)}, "must be shorter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cashews.WrapMany(c, fn, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("WrapMany: %v; want an error containing %q", err, tc.want)
			}
			if !errors.Is(err, cashews.ErrConfig) && !strings.Contains(tc.want, "Nope") {
				t.Errorf("%v does not match ErrConfig", err)
			}
		})
	}
	if _, err := cashews.WrapMany[int, string](c, nil, cashews.TTL(time.Hour)); !errors.Is(err, cashews.ErrConfig) {
		t.Errorf("nil function: %v", err)
	}
	defer func() {
		if r := recover(); r == nil {
			t.Error("WrapMany with a mistake did not panic")
		}
	}()
	cashews.MustWrapMany(c, fn)
}

func TestWrapManyFunctionError(t *testing.T) {
	c, _ := newCache(t, "mem://")
	ctx := context.Background()
	boom := errors.New("boom")
	fail := false
	get := cashews.MustWrapMany(c, func(ctx context.Context, ids []int) (map[int]string, error) {
		if fail {
			return map[int]string{ids[0]: "partial"}, boom
		}
		return map[int]string{ids[0]: "ok"}, nil
	}, cashews.Name("f"), cashews.Key("f:{.}"), cashews.TTL(time.Hour))
	if _, err := get(ctx, []int{1}); err != nil {
		t.Fatal(err)
	}
	fail = true
	got, err := get(ctx, []int{1, 2})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v; want boom", err)
	}
	if w := map[int]string{1: "ok"}; !maps.Equal(got, w) {
		t.Errorf("with an error: %v; want what the cache had: %v", got, w)
	}
	if _, found, _ := cashews.Get[string](ctx, c, "f:2"); found {
		t.Error("the result of a failed batch was stored")
	}
}

func TestWrapManyPanic(t *testing.T) {
	c, _ := newCache(t, "mem://")
	get := cashews.MustWrapMany(c, func(ctx context.Context, ids []int) (map[int]string, error) {
		panic("bad batch")
	}, cashews.Name("p"), cashews.TTL(time.Hour))
	_, err := get(context.Background(), []int{1})
	if err == nil || !strings.Contains(err.Error(), "bad batch") {
		t.Fatalf("a panicking function: %v; want its panic as an error", err)
	}
}

// TestWrapManyCallerGivesUp: a caller's context bounds its own wait; the load goes on for the other
// callers, and a load that every caller gave up is cancelled.
func TestWrapManyCallerGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := cashews.New()
		defer c.Close()
		if err := c.Setup("mem://"); err != nil {
			t.Fatal(err)
		}
		release := make(chan struct{})
		var starts, cancels atomic.Int64
		get := cashews.MustWrapMany(c, func(ctx context.Context, ids []int) (map[int]string, error) {
			starts.Add(1)
			select {
			case <-release:
				return map[int]string{ids[0]: "v"}, nil
			case <-ctx.Done():
				cancels.Add(1)
				return nil, ctx.Err()
			}
		}, cashews.Name("g"), cashews.Key("g:{.}"), cashews.TTL(time.Hour))

		// Two callers share the load of 1; the first gives up, the second gets the value.
		ctx1, cancel1 := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { _, err := get(ctx1, []int{1}); errc <- err }()
		synctest.Wait()
		second := make(chan map[int]string, 1)
		go func() { m, _ := get(context.Background(), []int{1}); second <- m }()
		synctest.Wait() // the second caller waits for the running load
		cancel1()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("first caller: %v; want context.Canceled", err)
		}
		close(release)
		if m := <-second; m[1] != "v" {
			t.Errorf("second caller got %v; want the shared load's value", m)
		}
		if n := starts.Load(); n != 1 {
			t.Errorf("%d loads; want 1", n)
		}

		// A load nobody waits for any more is cancelled, and the next caller starts a new one.
		block := make(chan struct{})
		get2 := cashews.MustWrapMany(c, func(ctx context.Context, ids []int) (map[int]string, error) {
			starts.Add(1)
			select {
			case <-block:
				return map[int]string{ids[0]: "w"}, nil
			case <-ctx.Done():
				cancels.Add(1)
				return nil, ctx.Err()
			}
		}, cashews.Name("h"), cashews.Key("h:{.}"), cashews.TTL(time.Hour))
		ctx3, cancel3 := context.WithCancel(context.Background())
		go func() { _, err := get2(ctx3, []int{1}); errc <- err }()
		synctest.Wait()
		cancel3()
		<-errc
		synctest.Wait()
		if n := cancels.Load(); n != 1 {
			t.Errorf("%d loads cancelled; want 1 (the one every caller gave up)", n)
		}
		close(block)
		if m, err := get2(context.Background(), []int{1}); err != nil || m[1] != "w" {
			t.Errorf("after the cancelled load: %v, %v; want a new load", m, err)
		}
		if n := starts.Load(); n != 3 {
			t.Errorf("%d loads; want 3", n)
		}
	})
}

// TestWrapManyTags: with tags, each id's entry carries its tags, and DeleteTags removes them.
func TestWrapManyTags(t *testing.T) {
	c, _ := newCache(t, "mem://")
	ctx := context.Background()
	var calls, ids atomic.Int64
	get := cashews.MustWrapMany(c, byID(&calls, &ids), cashews.Name("t"), cashews.Key("t:{.}"), cashews.TTL(time.Hour), cashews.Tags("id:{.}", "all"))
	if _, err := get(ctx, []int{1, 2}); err != nil {
		t.Fatal(err)
	}
	if n, err := c.DeleteTags(ctx, "id:1"); err != nil || n != 1 {
		t.Fatalf("DeleteTags(id:1) = %d, %v; want 1", n, err)
	}
	if _, err := get(ctx, []int{1, 2}); err != nil {
		t.Fatal(err)
	}
	if n := ids.Load(); n != 3 {
		t.Errorf("%d ids loaded; want 3 (1 again after its tag was deleted)", n)
	}
}

// TestWrapManyNoDedup: with NoDedup each call loads its own misses.
func TestWrapManyNoDedup(t *testing.T) {
	c, _ := newCache(t, "mem://")
	var calls, ids atomic.Int64
	gate := make(chan struct{})
	var entered sync.WaitGroup
	entered.Add(2)
	inner := byID(&calls, &ids)
	get := cashews.MustWrapMany(c, func(ctx context.Context, in []int) (map[int]string, error) {
		entered.Done()
		<-gate
		return inner(ctx, in)
	}, cashews.Name("n"), cashews.Key("n:{.}"), cashews.TTL(time.Hour), cashews.NoDedup())
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { get(context.Background(), []int{1, 2}) })
	}
	entered.Wait() // both callers are in the function: neither waited for the other
	close(gate)
	wg.Wait()
	if n := calls.Load(); n != 2 {
		t.Errorf("%d calls; want 2", n)
	}
}

// TestWrapManyRecompute: in a Recompute context every id is loaded again.
func TestWrapManyRecompute(t *testing.T) {
	c, _ := newCache(t, "mem://")
	ctx := context.Background()
	var calls, ids atomic.Int64
	get := cashews.MustWrapMany(c, byID(&calls, &ids), cashews.Name("r"), cashews.TTL(time.Hour))
	get(ctx, []int{1, 2})
	get(cashews.Recompute(ctx), []int{1, 2})
	if n := ids.Load(); n != 4 {
		t.Errorf("%d ids loaded; want 4", n)
	}
}

func TestResultTTLWithStoreErrors(t *testing.T) {
	c, clock := newCache(t, "mem://")
	ctx := context.Background()
	gone := errors.New("gone")
	var runs atomic.Int64
	get := cashews.MustWrap(c, func(ctx context.Context, id int) (string, error) {
		runs.Add(1)
		if id == 0 {
			return "", gone
		}
		return "x", nil
	}, cashews.Name("se"), cashews.StoreErrors(gone), cashews.ResultTTL(func(v string, err error) time.Duration {
		if err != nil {
			return time.Second // errors are remembered briefly
		}
		return time.Hour
	}))
	get(ctx, 0)
	get(ctx, 0)
	get(ctx, 1)
	clock.Advance(2 * time.Second)
	get(ctx, 0)
	get(ctx, 1)
	if n := runs.Load(); n != 3 {
		t.Errorf("%d runs; want 3 (the error again after a second, the value not)", n)
	}
	if _, err := cashews.Wrap(c, func(ctx context.Context, id int) (string, error) { return "", nil },
		cashews.Name("h"), cashews.ResultTTL(func(string, error) time.Duration { return 1 }), strategies.Hit(3)); err == nil || !strings.Contains(err.Error(), "ResultTTL") {
		t.Errorf("hit with ResultTTL: %v; want a configuration error", err)
	}
}

func TestResultTTLEarly(t *testing.T) {
	c, clock := newCache(t, "mem://")
	ctx := context.Background()
	var runs atomic.Int64
	done := make(chan struct{}, 4)
	get := cashews.MustWrap(c, func(ctx context.Context, id int) (int, error) {
		defer func() { done <- struct{}{} }()
		return int(runs.Add(1)), nil
	}, cashews.Name("re"), cashews.ResultTTL(func(int, error) time.Duration { return time.Hour }), strategies.Early(time.Minute))
	get(ctx, 1)
	<-done
	clock.Advance(2 * time.Minute)
	if v, _ := get(ctx, 1); v != 1 {
		t.Errorf("stale call: %d; want the stored 1", v)
	}
	<-done // the background refresh ran
	if runs.Load() != 2 {
		t.Errorf("%d runs; want 2", runs.Load())
	}
}

// TestWrapManyTwoBackends: a batch whose keys go to two backends reads each in one get_many and
// writes each in one set_many.
func TestWrapManyTwoBackends(t *testing.T) {
	c, _ := newCache(t, "mem://", "a:=mem://")
	ctx := context.Background()
	var mu sync.Mutex
	n := map[string]int{}
	c.OnCommand(func(ctx context.Context, call *cashews.Call, res cashews.Result, err error) {
		mu.Lock()
		n[call.Command().String()+" "+call.Prefix()]++
		mu.Unlock()
	})
	var loads atomic.Int64
	get := cashews.MustWrapMany(c, func(ctx context.Context, ids []string) (map[string]string, error) {
		loads.Add(int64(len(ids)))
		out := map[string]string{}
		for _, id := range ids {
			out[id] = "v" + id
		}
		return out, nil
	}, cashews.Name("two"), cashews.Key("{.}"), cashews.TTL(time.Hour))
	ids := []string{"a:1", "b:1", "a:2", "b:2"}
	for range 2 {
		got, err := get(ctx, ids)
		if err != nil || len(got) != 4 || got["a:2"] != "va:2" {
			t.Fatalf("%v, %v", got, err)
		}
	}
	if loads.Load() != 4 {
		t.Errorf("%d ids loaded; want 4", loads.Load())
	}
	want := map[string]int{"get_many a:": 2, "get_many ": 2, "set_many a:": 1, "set_many ": 1}
	if !maps.Equal(n, want) {
		t.Errorf("commands %v; want %v", n, want)
	}
}

// TestWrapManyCloseStopsRefresh: Close cancels a background batch refresh and waits for it.
func TestWrapManyCloseStopsRefresh(t *testing.T) {
	c, clock := newCache(t, "mem://")
	ctx := context.Background()
	started, stopped := make(chan struct{}), make(chan struct{})
	first := true
	get := cashews.MustWrapMany(c, func(ctx context.Context, ids []int) (map[int]string, error) {
		if first {
			first = false
			return map[int]string{1: "v"}, nil
		}
		close(started)
		<-ctx.Done() // the refresh waits until Close cancels it
		close(stopped)
		return nil, ctx.Err()
	}, cashews.Name("cl"), cashews.TTL(time.Hour), strategies.Early(time.Minute))
	get(ctx, []int{1})
	clock.Advance(2 * time.Minute)
	if got, err := get(ctx, []int{1}); err != nil || got[1] != "v" {
		t.Fatalf("stale call: %v, %v; want the stale value", got, err)
	}
	<-started
	c.Close() // returns once the refresh has returned
	select {
	case <-stopped:
	default:
		t.Error("Close returned before the refresh ended")
	}
}
