package cashews_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/backends/memory"
)

func newMemory(t testing.TB, clock backends.Clock) backends.Full {
	b := memory.New(memory.Options{Clock: clock})
	t.Cleanup(func() { b.Close() })
	return b
}

type user struct {
	ID   int
	Name string
}

// Both value paths: Go values kept as they are, and values encoded (copy=true, with a secret and
// compression) as byte backends store them.
var valueModes = []string{"mem://", "mem://?copy=true&secret=k&compress=gzip&compress_min=1"}

func TestSetGetTyped(t *testing.T) {
	for _, url := range valueModes {
		t.Run(url, func(t *testing.T) {
			c, clock := newCache(t, url)
			ctx := context.Background()
			if ok, err := c.Set(ctx, "user:1", user{1, "Ann"}, time.Hour); !ok || err != nil {
				t.Fatalf("Set = %v, %v", ok, err)
			}
			u, found, err := cashews.Get[user](ctx, c, "user:1")
			if err != nil || !found || u != (user{1, "Ann"}) {
				t.Fatalf("Get = %+v, %v, %v; want {1 Ann}, true, nil", u, found, err)
			}
			if _, found, err := cashews.Get[user](ctx, c, "user:2"); found || err != nil {
				t.Fatalf("Get of a missing key = %v, %v; want false, nil", found, err)
			}
			clock.Advance(time.Hour + time.Second)
			if _, found, err := cashews.Get[user](ctx, c, "user:1"); found || err != nil {
				t.Fatalf("Get after the TTL = %v, %v; want a miss", found, err)
			}
		})
	}
}

func TestSetModesAndTTL(t *testing.T) {
	c, _ := newCache(t, "mem://")
	ctx := context.Background()
	if ok, _ := c.Set(ctx, "k", 1, 0, cashews.IfPresent()); ok {
		t.Fatal("IfPresent stored a missing key")
	}
	if ok, _ := c.Set(ctx, "k", 1, 0, cashews.IfAbsent()); !ok {
		t.Fatal("IfAbsent did not store a missing key")
	}
	if ok, _ := c.Set(ctx, "k", 2, 0, cashews.IfAbsent()); ok {
		t.Fatal("IfAbsent overwrote")
	}
	if ok, _ := c.Set(ctx, "k", 3, 0, cashews.IfPresent()); !ok {
		t.Fatal("IfPresent did not overwrite")
	}
	if v, _, _ := cashews.Get[int](ctx, c, "k"); v != 3 {
		t.Fatalf("Get = %d; want 3", v)
	}
	if _, err := c.Set(ctx, "k", 1, -time.Second); !errors.Is(err, cashews.ErrInvalidArgument) {
		t.Fatalf("negative TTL = %v; want ErrInvalidArgument", err)
	}
	ttl, found, err := c.GetExpire(ctx, "k")
	if ttl != cashews.NoExpiration || !found || err != nil {
		t.Fatalf("GetExpire without TTL = %v, %v, %v; want NoExpiration, true, nil", ttl, found, err)
	}
	c.Expire(ctx, "k", time.Minute)
	if ttl, found, _ := c.GetExpire(ctx, "k"); !found || ttl <= 0 || ttl > time.Minute {
		t.Fatalf("GetExpire = %v, %v; want (0, 1m]", ttl, found)
	}
	if ttl, found, err := c.GetExpire(ctx, "missing"); ttl != 0 || found || err != nil {
		t.Fatalf("GetExpire of a missing key = %v, %v, %v; want 0, false, nil", ttl, found, err)
	}
}

func TestGetWrongTypeAndConversions(t *testing.T) {
	c, _ := newCache(t, "mem://")
	ctx := context.Background()
	c.Set(ctx, "s", "text", 0)
	if _, _, err := cashews.Get[int](ctx, c, "s"); !errors.Is(err, cashews.ErrWrongType) {
		t.Fatalf("Get[int] of a string = %v; want ErrWrongType", err)
	}
	c.Incr(ctx, "n", 41, 0)
	c.Incr(ctx, "n", 1, 0)
	if v, found, err := cashews.Get[int](ctx, c, "n"); v != 42 || !found || err != nil {
		t.Fatalf("Get[int] of a counter = %v, %v, %v; want 42", v, found, err)
	}
	if v, _, err := cashews.Get[uint8](ctx, c, "n"); v != 42 || err != nil {
		t.Fatalf("Get[uint8] of a counter = %v, %v; want 42", v, err)
	}
	c.Incr(ctx, "big", 1000, 0)
	if _, _, err := cashews.Get[int8](ctx, c, "big"); !errors.Is(err, cashews.ErrWrongType) {
		t.Fatalf("Get[int8] of 1000 = %v; want ErrWrongType (overflow)", err)
	}
	c.Set(ctx, "nil", nil, 0)
	if v, found, err := cashews.Get[*user](ctx, c, "nil"); v != nil || !found || err != nil {
		t.Fatalf("Get[*user] of nil = %v, %v, %v; want nil, true, nil", v, found, err)
	}
}

func TestCountersOnByteBackends(t *testing.T) {
	c, _ := newCache(t, "mem://?copy=true&secret=k")
	ctx := context.Background()
	c.Incr(ctx, "n", 5, 0)
	if v, found, err := cashews.Get[int64](ctx, c, "n"); v != 5 || !found || err != nil {
		t.Fatalf("Get[int64] of a counter = %v, %v, %v; want 5", v, found, err)
	}
}

func TestTamperedValueIsNeverDecoded(t *testing.T) {
	c, _ := newCache(t, "mem://?copy=true&secret=k")
	ctx := context.Background()
	c.Set(ctx, "a", user{1, "Ann"}, 0)
	c.Set(ctx, "b", user{2, "Bob"}, 0)
	raw, _, _ := c.GetRaw(ctx, "a")
	// Copied to another key: rejected.
	c.SetRaw(ctx, "b", raw, 0)
	if _, _, err := cashews.Get[user](ctx, c, "b"); !errors.Is(err, cashews.ErrTampered) {
		t.Fatalf("Get of a value copied from another key = %v; want ErrTampered", err)
	}
	// One byte changed: rejected.
	bad := slices.Clone(raw.([]byte))
	bad[len(bad)-1] ^= 1
	c.SetRaw(ctx, "a", bad, 0)
	if _, _, err := cashews.Get[user](ctx, c, "a"); !errors.Is(err, cashews.ErrTampered) {
		t.Fatalf("Get of a changed value = %v; want ErrTampered", err)
	}
	// Foreign bytes: rejected.
	c.SetRaw(ctx, "a", `{"ID":1}`, 0)
	if _, _, err := cashews.Get[user](ctx, c, "a"); err == nil {
		t.Fatal("Get of a foreign value succeeded")
	}
}

func TestSetManyGetMany(t *testing.T) {
	for _, url := range valueModes {
		t.Run(url, func(t *testing.T) {
			c, _ := newCache(t, url, "u:="+url)
			ctx := context.Background()
			err := c.SetMany(ctx, map[string]any{"a": 1, "u:b": 2, "c": 3}, 0)
			if err != nil {
				t.Fatal(err)
			}
			got, err := cashews.GetMany[int](ctx, c, "a", "u:b", "missing", "c")
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]int{"a": 1, "u:b": 2, "c": 3}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("GetMany = %v; want %v", got, want)
			}
			n, err := c.DeleteMany(ctx, "a", "u:b", "missing")
			if n != 2 || err != nil {
				t.Fatalf("DeleteMany = %d, %v; want 2, nil", n, err)
			}
		})
	}
}

func TestExistsDelete(t *testing.T) {
	c, _ := newCache(t, "mem://")
	ctx := context.Background()
	c.Set(ctx, "k", 1, 0)
	if ok, err := c.Exists(ctx, "k"); !ok || err != nil {
		t.Fatalf("Exists = %v, %v", ok, err)
	}
	if ok, _ := c.Delete(ctx, "k"); !ok {
		t.Fatal("Delete of a present key = false")
	}
	if ok, _ := c.Delete(ctx, "k"); ok {
		t.Fatal("Delete of a missing key = true")
	}
	if ok, _ := c.Exists(ctx, "k"); ok {
		t.Fatal("Exists after Delete = true")
	}
}

func TestScanAndDeleteMatchAcrossBackends(t *testing.T) {
	c, _ := newCache(t, "mem://", "user:=mem://?copy=true")
	ctx := context.Background()
	for i := range 250 {
		c.Set(ctx, fmt.Sprintf("user:%d", i), i, 0)
		c.Set(ctx, fmt.Sprintf("item:%d", i), i, 0)
	}
	c.Set(ctx, "user:x", -1, 0, cashews.Tags("t")) // tags are never yielded

	var keys []string
	for k, err := range c.Scan(ctx, "user:*", cashews.Batch(7)) {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if len(keys) != 251 {
		t.Fatalf("Scan(user:*) yielded %d keys; want 251", len(keys))
	}
	var all []string
	for k, err := range c.Scan(ctx, "*") {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, k)
	}
	if len(all) != 501 {
		t.Fatalf("Scan(*) yielded %d keys; want 501", len(all))
	}
	// Breaking out of the loop stops the scan.
	n := 0
	for range c.Scan(ctx, "*", cashews.Batch(10)) {
		n++
		if n == 3 {
			break
		}
	}
	if n != 3 {
		t.Fatalf("break after 3 yielded %d", n)
	}

	sum := 0
	for kv, err := range cashews.GetMatch[int](ctx, c, "item:1*", cashews.Batch(5)) {
		if err != nil {
			t.Fatal(err)
		}
		sum += kv.Value
	}
	want := 1 + 10 + 11 + 12 + 13 + 14 + 15 + 16 + 17 + 18 + 19
	for i := 100; i < 200; i++ {
		want += i
	}
	if sum != want {
		t.Fatalf("GetMatch(item:1*) summed %d; want %d", sum, want)
	}

	deleted, err := c.DeleteMatch(ctx, "user:1?")
	if deleted != 10 || err != nil {
		t.Fatalf("DeleteMatch(user:1?) = %d, %v; want 10", deleted, err)
	}
	if ok, _ := c.Exists(ctx, "user:15"); ok {
		t.Fatal("user:15 survived DeleteMatch")
	}
	if ok, _ := c.Exists(ctx, "user:150"); !ok {
		t.Fatal("DeleteMatch removed user:150, which does not match")
	}
}

func TestScanError(t *testing.T) {
	c, _ := newCache(t, "mem://")
	ctx, cancel := context.WithCancel(context.Background())
	for i := range 500 {
		c.Set(ctx, fmt.Sprint(i), i, 0)
	}
	cancel()
	var gotErr error
	for _, err := range c.Scan(ctx, "*", cashews.Batch(10)) {
		if err != nil {
			gotErr = err
		}
	}
	if !errors.Is(gotErr, context.Canceled) {
		t.Fatalf("Scan with a cancelled context ended with %v; want context.Canceled", gotErr)
	}
}

func TestTags(t *testing.T) {
	for _, url := range valueModes {
		t.Run(url, func(t *testing.T) {
			c, clock := newCache(t, url, "user:="+url)
			ctx := context.Background()
			c.Set(ctx, "user:1", 1, time.Minute, cashews.Tags("users", "vip"))
			c.Set(ctx, "user:2", 2, 0, cashews.Tags("users"))
			c.Set(ctx, "other", 3, 0, cashews.Tags("users"))
			c.Set(ctx, "free", 4, 0)

			keys, err := c.TagKeys(ctx, "users")
			sort.Strings(keys)
			if err != nil || fmt.Sprint(keys) != "[other user:1 user:2]" {
				t.Fatalf("TagKeys(users) = %v, %v", keys, err)
			}
			clock.Advance(2 * time.Minute) // user:1 expires; the tag no longer finds it
			keys, _ = c.TagKeys(ctx, "users")
			sort.Strings(keys)
			if fmt.Sprint(keys) != "[other user:2]" {
				t.Fatalf("TagKeys after expiry = %v", keys)
			}
			if keys, _ := c.TagKeys(ctx, "vip"); len(keys) != 0 {
				t.Fatalf("TagKeys(vip) after its only key expired = %v", keys)
			}
			n, err := c.DeleteTags(ctx, "users")
			if err != nil || n != 2 {
				t.Fatalf("DeleteTags = %d, %v; want 2 (user:2 and other)", n, err)
			}
			for _, k := range []string{"user:2", "other"} {
				if ok, _ := c.Exists(ctx, k); ok {
					t.Fatalf("%s survived DeleteTags", k)
				}
			}
			if ok, _ := c.Exists(ctx, "free"); !ok {
				t.Fatal("DeleteTags removed an untagged key")
			}
		})
	}
}

// TestTagsNeverMiss runs the invalidation cases of issue 13 through the Cache, on bounded memory
// stores too (the kit holds every backend to the same rules; see backends/backendtest).
func TestTagsNeverMiss(t *testing.T) {
	for _, url := range append(valueModes, "mem://?size=4&shards=1", "mem://?size=3&shards=1&copy=true", "mem://?suppress=true") {
		t.Run(url, func(t *testing.T) {
			c, _ := newCache(t, url)
			ctx := context.Background()
			// A bounded store keeps an often-read tagged key; its tag must still find it.
			c.Set(ctx, "user:1", "stale", 0, cashews.Tags("user:1"))
			for i := range 10 {
				if _, _, err := cashews.Get[string](ctx, c, "user:1"); err != nil {
					t.Fatal(err)
				}
				c.Set(ctx, fmt.Sprint("other:", i), i, 0)
			}
			alive, _ := c.Exists(ctx, "user:1")
			n, err := c.DeleteTags(ctx, "user:1")
			if err != nil || (alive && n != 1) {
				t.Fatalf("DeleteTags(user:1) = %d, %v; want 1 (the key was alive: %v)", n, err, alive)
			}
			if v, found, _ := cashews.Get[string](ctx, c, "user:1"); found {
				t.Fatalf("after DeleteTags, Get(user:1) = %q: the stale value is still served", v)
			}
			// Tags are not entries: a bound of 3 keeps 3 tagged keys.
			c.Clear(ctx)
			for i := range 3 {
				c.Set(ctx, fmt.Sprint("k", i), i, 0, cashews.Tags("all", fmt.Sprint("t", i)))
			}
			if n, _ := c.KeysCount(ctx); n != 3 {
				t.Errorf("KeysCount after 3 tagged Sets = %d, want 3", n)
			}
			// Delete ends a key's tags: the same key written again without them survives.
			c.Set(ctx, "key", "value", 0, cashews.Tags("tag"))
			c.Delete(ctx, "key")
			c.Set(ctx, "key", "value2", 0)
			// And so does an overwrite without the tag.
			c.Set(ctx, "over", "value", 0, cashews.Tags("tag"))
			c.Set(ctx, "over", "value2", 0)
			if n, err := c.DeleteTags(ctx, "tag"); n != 0 || err != nil {
				t.Errorf("DeleteTags(tag) = %d, %v; want 0: neither key carries the tag any more", n, err)
			}
			for _, k := range []string{"key", "over"} {
				if v, _, _ := cashews.Get[string](ctx, c, k); v != "value2" {
					t.Errorf("Get(%s) = %q, want value2", k, v)
				}
			}
		})
	}
}

// TestTagsOnBackendWithoutTagger checks that a Set with tags on a backend that cannot keep them
// fails, instead of storing a value that no DeleteTags would find.
func TestTagsOnBackendWithoutTagger(t *testing.T) {
	c := cashews.New()
	t.Cleanup(func() { c.Close() })
	if err := c.SetupBackend(noTags{newMemory(t, nil)}, ""); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ok, err := c.Set(ctx, "k", 1, 0, cashews.Tags("t"))
	if ok || !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Set with tags on a backend without tags = %v, %v; want false and errors.ErrUnsupported", ok, err)
	}
	if found, _ := c.Exists(ctx, "k"); found {
		t.Fatal("the value was stored although its tags could not be")
	}
	if n, err := c.DeleteTags(ctx, "t"); n != 0 || err != nil {
		t.Fatalf("DeleteTags = %d, %v; want 0, nil", n, err)
	}
}

// noTags hides every optional interface of a backend, Tagger included.
type noTags struct{ backends.Full }

func TestIncrSetsBitsSlices(t *testing.T) {
	c, clock := newCache(t, "mem://")
	ctx := context.Background()
	if n, _ := c.Incr(ctx, "n", 5, time.Minute); n != 5 {
		t.Fatalf("Incr = %d; want 5", n)
	}
	if n, _ := c.Incr(ctx, "n", -2, time.Hour); n != 3 {
		t.Fatalf("Incr = %d; want 3", n)
	}
	if ttl, _, _ := c.GetExpire(ctx, "n"); ttl > time.Minute {
		t.Fatalf("TTL after a second Incr = %v; want the first TTL kept", ttl)
	}
	c.Set(ctx, "s", "x", 0)
	if _, err := c.Incr(ctx, "s", 1, 0); !errors.Is(err, cashews.ErrNotInteger) {
		t.Fatalf("Incr of a string = %v; want ErrNotInteger", err)
	}

	if n, _ := c.SetAdd(ctx, "set", 0, "a", "b", "a"); n != 2 {
		t.Fatalf("SetAdd = %d; want 2", n)
	}
	if n, _ := c.SetRemove(ctx, "set", "a", "z"); n != 1 {
		t.Fatalf("SetRemove = %d; want 1", n)
	}
	if m, _ := c.SetMembers(ctx, "set"); fmt.Sprint(m) != "[b]" {
		t.Fatalf("SetMembers = %v; want [b]", m)
	}
	if p, _ := c.SetPop(ctx, "set", 5); fmt.Sprint(p) != "[b]" {
		t.Fatalf("SetPop = %v; want [b]", p)
	}

	if v, _ := c.IncrBits(ctx, "bits", 2, 3, 1, 5); fmt.Sprint(v) != "[3 3]" {
		t.Fatalf("IncrBits = %v; want [3 3]", v)
	}
	if v, _ := c.IncrBits(ctx, "bits", 2, 1, 1); fmt.Sprint(v) != "[3]" {
		t.Fatalf("IncrBits past the top = %v; want [3] (saturated)", v)
	}
	if v, _ := c.GetBits(ctx, "bits", 2, 0, 1, 5); fmt.Sprint(v) != "[0 3 3]" {
		t.Fatalf("GetBits = %v; want [0 3 3]", v)
	}

	for i := 1; i <= 4; i++ {
		n, rec, err := c.SliceIncr(ctx, "rate", time.Minute, 3)
		if err != nil || n != int64(min(i, 3)) || rec != (i <= 3) {
			t.Fatalf("SliceIncr #%d = %d, %v, %v; want %d, %v", i, n, rec, err, min(i, 3), i <= 3)
		}
	}
	clock.Advance(time.Minute + time.Millisecond)
	if n, rec, _ := c.SliceIncr(ctx, "rate", time.Minute, 3); n != 1 || !rec {
		t.Fatalf("SliceIncr after the window = %d, %v; want 1, true", n, rec)
	}
	if _, _, err := c.SliceIncr(ctx, "rate", 0, 3); !errors.Is(err, cashews.ErrInvalidArgument) {
		t.Fatalf("SliceIncr with a zero window = %v; want ErrInvalidArgument", err)
	}
	if n, rec, err := c.SliceIncr(ctx, "rate", time.Minute, 0); n != 0 || rec || !errors.Is(err, cashews.ErrInvalidArgument) {
		t.Fatalf("SliceIncr with a limit of 0 = %d, %v, %v; want 0, false, ErrInvalidArgument", n, rec, err)
	}
}

func TestKeysCountValueSizePingClear(t *testing.T) {
	c, _ := newCache(t, "mem://", "a:=mem://")
	ctx := context.Background()
	c.Set(ctx, "x", "12345", 0)
	c.Set(ctx, "a:y", []byte("123"), 0)
	if n, err := c.KeysCount(ctx); n != 2 || err != nil {
		t.Fatalf("KeysCount = %d, %v; want 2", n, err)
	}
	if n, _ := c.ValueSize(ctx, "x"); n < 5 {
		t.Fatalf("ValueSize = %d; want >= 5", n)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.KeysCount(ctx); n != 0 {
		t.Fatalf("KeysCount after Clear = %d", n)
	}
}

func TestGetOrSetLoadsOnce(t *testing.T) {
	c, _ := newCache(t, "mem://")
	ctx := context.Background()
	var runs atomic.Int64
	release := make(chan struct{})
	load := func(ctx context.Context) (int, error) {
		runs.Add(1)
		<-release
		return 7, nil
	}
	const callers = 1000
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			v, err := cashews.GetOrSet(ctx, c, "k", time.Minute, load)
			if err != nil || v != 7 {
				errs <- fmt.Errorf("GetOrSet = %v, %v; want 7, nil", v, err)
			}
		})
	}
	// A caller whose context is cancelled while it waits fails alone (the load runs for the others).
	for runs.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancelled := make(chan error, 1)
	go func() {
		_, err := cashews.GetOrSet(cctx, c, "k", time.Minute, load)
		cancelled <- err
	}()
	cancel()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v; want context.Canceled", err)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("load ran %d times for %d concurrent callers; want 1", n, callers)
	}
	if v, found, _ := cashews.Get[int](ctx, c, "k"); v != 7 || !found {
		t.Fatalf("stored value = %v, %v; want 7", v, found)
	}
}

func TestGetOrSetErrorsAndPanics(t *testing.T) {
	c, _ := newCache(t, "mem://")
	ctx := context.Background()
	_, err := cashews.GetOrSet(ctx, c, "nf", time.Minute, func(ctx context.Context) (int, error) {
		return 0, cashews.ErrNotFound
	})
	if !errors.Is(err, cashews.ErrNotFound) {
		t.Fatalf("GetOrSet with a not-found loader = %v; want ErrNotFound", err)
	}
	if ok, _ := c.Exists(ctx, "nf"); ok {
		t.Fatal("a not-found result was stored")
	}
	_, err = cashews.GetOrSet(ctx, c, "p", time.Minute, func(ctx context.Context) (int, error) {
		panic("boom")
	})
	var pe *cashews.PanicError
	if !errors.As(err, &pe) || pe.Value != "boom" {
		t.Fatalf("GetOrSet with a panicking loader = %v; want a PanicError with boom", err)
	}
}

// TestCallShowsValueAndTags checks what a command middleware sees of a set, and that a Call is
// read-only: changing the keys it returns changes nothing.
func TestCallShowsValueAndTags(t *testing.T) {
	for _, url := range valueModes {
		t.Run(url, func(t *testing.T) {
			c, _ := newCache(t, url)
			ctx := context.Background()
			var value any
			var tags []string
			c.Use(func(next cashews.Handler) cashews.Handler {
				return func(ctx context.Context, call *cashews.Call) (cashews.Result, error) {
					switch call.Command() {
					case cashews.CmdSet:
						value, tags = call.Value(), call.Tags()
					case cashews.CmdDeleteMany:
						keys := call.Keys()
						keys[0] = "other" // a copy: the command still deletes its own keys
					}
					return next(ctx, call)
				}
			})
			c.Set(ctx, "k", "v", 0, cashews.Tags("a", "b"))
			if fmt.Sprint(tags) != "[a b]" {
				t.Errorf("Call.Tags() of set = %v, want [a b]", tags)
			}
			raw, _, _ := c.GetRaw(ctx, "k")
			if fmt.Sprint(value) != fmt.Sprint(raw) {
				t.Errorf("Call.Value() of set = %v, want what the backend stores: %v", value, raw)
			}
			c.Set(ctx, "other", 1, 0)
			if n, _ := c.DeleteMany(ctx, "k"); n != 1 {
				t.Errorf("DeleteMany(k) = %d, want 1", n)
			}
			if ok, _ := c.Exists(ctx, "other"); !ok {
				t.Error("changing Call.Keys() in a middleware changed the keys deleted")
			}
		})
	}
}
