package cashews_test

import (
	"context"
	"errors"
	"iter"
	"strings"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/backends/memory"
	"github.com/cashews-go/cashews/strategies"
)

// coreOnly is a backend with the core of the contract and nothing else, as a third-party store (a
// memcached client, say) may be: it forwards the seven methods of backends.Backend to a byte-mode
// memory backend and hides every capability.
type coreOnly struct{ b *memory.Backend }

func newCoreOnly(t testing.TB) coreOnly {
	b := memory.New(memory.Options{Copy: true})
	t.Cleanup(func() { b.Close() })
	return coreOnly{b}
}

func (c coreOnly) Get(ctx context.Context, key string) (any, bool, error) { return c.b.Get(ctx, key) }
func (c coreOnly) Set(ctx context.Context, key string, v any, ttl time.Duration, m backends.SetMode) (bool, error) {
	return c.b.Set(ctx, key, v, ttl, m)
}
func (c coreOnly) Delete(ctx context.Context, key string) (bool, error) { return c.b.Delete(ctx, key) }
func (c coreOnly) Exists(ctx context.Context, key string) (bool, error) { return c.b.Exists(ctx, key) }
func (c coreOnly) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	return c.b.Expire(ctx, key, ttl)
}
func (c coreOnly) GetExpire(ctx context.Context, key string) (time.Duration, bool, error) {
	return c.b.GetExpire(ctx, key)
}
func (c coreOnly) Close() error { return c.b.Close() }

// scanning is coreOnly plus Scan, from which the Cache derives DeleteMatch.
type scanning struct{ coreOnly }

func (s scanning) Scan(ctx context.Context, pattern string, batch int) iter.Seq2[[]string, error] {
	return s.b.Scan(ctx, pattern, batch)
}

var _ backends.Backend = coreOnly{}

type idArg struct{ ID int }

func TestCoreOnlyBackend(t *testing.T) {
	ctx := context.Background()
	c := cashews.New()
	t.Cleanup(func() { c.Close() })
	if err := c.SetupBackend(newCoreOnly(t), ""); err != nil {
		t.Fatalf("SetupBackend(core only) = %v", err)
	}

	// The core: Set, Get, Exists, Expire, Delete.
	if ok, err := c.Set(ctx, "k", user{1, "Ann"}, time.Hour); !ok || err != nil {
		t.Fatalf("Set = (%v, %v), want (true, nil)", ok, err)
	}
	if u, ok, err := cashews.Get[user](ctx, c, "k"); u != (user{1, "Ann"}) || !ok || err != nil {
		t.Fatalf("Get = (%v, %v, %v), want ({1 Ann}, true, nil)", u, ok, err)
	}
	if ok, err := c.Expire(ctx, "k", time.Minute); !ok || err != nil {
		t.Errorf("Expire = (%v, %v), want (true, nil)", ok, err)
	}
	if ok, err := c.Delete(ctx, "k"); !ok || err != nil {
		t.Errorf("Delete = (%v, %v), want (true, nil)", ok, err)
	}
	if ok, err := c.Exists(ctx, "k"); ok || err != nil {
		t.Errorf("Exists after Delete = (%v, %v), want (false, nil)", ok, err)
	}
	// Ping is derived (an Exists of a key nobody writes).
	if err := c.Ping(ctx); err != nil {
		t.Errorf("Ping = %v, want nil", err)
	}

	// Batches are derived as loops.
	if err := c.SetMany(ctx, map[string]any{"a": "A", "b": "B"}, time.Hour); err != nil {
		t.Fatalf("SetMany = %v", err)
	}
	got, err := cashews.GetMany[string](ctx, c, "a", "b", "missing")
	if err != nil || len(got) != 2 || got["a"] != "A" || got["b"] != "B" {
		t.Errorf("GetMany = (%v, %v), want (map[a:A b:B], nil)", got, err)
	}
	if n, err := c.DeleteMany(ctx, "a", "b", "missing"); n != 2 || err != nil {
		t.Errorf("DeleteMany = (%d, %v), want (2, nil)", n, err)
	}

	// Wrap with the simple strategy needs nothing more.
	calls := 0
	fetch := cashews.MustWrap(c, func(ctx context.Context, q idArg) (user, error) {
		calls++
		return user{q.ID, "Bob"}, nil
	}, cashews.TTL(time.Hour), cashews.Key("user:{ID}"))
	for range 2 {
		if u, err := fetch(ctx, idArg{2}); u != (user{2, "Bob"}) || err != nil {
			t.Fatalf("wrapped call = (%v, %v), want ({2 Bob}, nil)", u, err)
		}
	}
	if calls != 1 {
		t.Errorf("the wrapped function ran %d times for two calls with one key, want 1", calls)
	}

	// What cannot be derived exactly is an error naming the missing interface.
	for _, tc := range []struct {
		name, iface string
		call        func() error
	}{
		{"Incr", "Counter", func() error { _, err := c.Incr(ctx, "n", 1, 0); return err }},
		{"SetLock", "Locker", func() error { _, err := cashews.SetLock(ctx, c, "l", "t", time.Minute); return err }},
		{"TryLock", "Locker", func() error { _, _, err := c.TryLock(ctx, "l", time.Minute); return err }},
		{"SetAdd", "SetStore", func() error { _, err := c.SetAdd(ctx, "s", 0, "m"); return err }},
		{"GetBits", "BitStore", func() error { _, err := c.GetBits(ctx, "b", 1, 0); return err }},
		{"SliceIncr", "SlidingWindow", func() error { _, _, err := c.SliceIncr(ctx, "w", time.Minute, 1); return err }},
		{"KeysCount", "Admin", func() error { _, err := c.KeysCount(ctx); return err }},
		{"Clear", "Admin", func() error { return c.Clear(ctx) }},
		{"DeleteMatch", "MatchDeleter", func() error { _, err := c.DeleteMatch(ctx, "user:*"); return err }},
		{"Scan", "Scanner", func() error {
			for _, err := range c.Scan(ctx, "*") {
				return err
			}
			return errors.New("Scan yielded nothing")
		}},
		{"Set with tags", "Tagger", func() error { _, err := c.Set(ctx, "t", 1, 0, cashews.Tags("x")); return err }},
	} {
		err := tc.call()
		if !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), "backends."+tc.iface) {
			t.Errorf("%s on a core-only backend: error = %v, want one matching errors.ErrUnsupported that names backends.%s", tc.name, err, tc.iface)
		}
	}
	// The errors are the setup's, not the backend's: not counted as backend errors.
	if s := c.Stats().Total; s.Errors != 0 {
		t.Errorf("Stats().Total.Errors = %d after commands the backend lacks, want 0", s.Errors)
	}

	// A strategy that needs a capability the backend lacks fails at Wrap, naming it.
	for _, tc := range []struct {
		name, iface string
		opt         cashews.WrapOption
	}{
		{"locked", "Locker", strategies.Locked()},
		{"early", "Locker", strategies.Early(time.Minute)},
		{"hit", "Counter", strategies.Hit(3)},
		{"rate limit", "Counter", strategies.RateLimit(10, time.Minute)},
		{"sliding rate limit", "SlidingWindow", strategies.SlidingRateLimit(10, time.Minute)},
		{"circuit breaker", "Counter", strategies.CircuitBreaker(0.5, time.Minute, time.Minute)},
		{"bloom", "BitStore", strategies.Bloom(100, 0.01)},
	} {
		_, err := cashews.Wrap(c, func(ctx context.Context, q idArg) (int, error) { return q.ID, nil },
			cashews.TTL(time.Hour), cashews.Key("f:{ID}"), tc.opt)
		if !errors.Is(err, cashews.ErrConfig) || !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), "backends."+tc.iface) {
			t.Errorf("TryWrap with %s on a core-only backend: error = %v, want a configuration error (ErrConfig, errors.ErrUnsupported) naming backends.%s", tc.name, err, tc.iface)
		}
	}
	// WrapMany with early (which takes a lock to refresh) is refused too; simple is fine.
	many := func(ctx context.Context, ids []int) (map[int]int, error) { return nil, nil }
	if _, err := cashews.WrapMany(c, many, cashews.Name("many"), cashews.TTL(time.Hour), strategies.Early(time.Minute)); !errors.Is(err, cashews.ErrConfig) || !strings.Contains(err.Error(), "backends.Locker") {
		t.Errorf("TryWrapMany with early on a core-only backend: error = %v, want an ErrConfig naming backends.Locker", err)
	}
	loads := 0
	batch, err := cashews.WrapMany(c, func(ctx context.Context, ids []int) (map[int]int, error) {
		loads += len(ids)
		out := map[int]int{}
		for _, id := range ids {
			out[id] = id * 10
		}
		return out, nil
	}, cashews.Name("many"), cashews.TTL(time.Hour))
	if err != nil {
		t.Fatalf("TryWrapMany on a core-only backend = %v, want nil", err)
	}
	for range 2 { // the second call is served by the derived GetMany
		if got, err := batch(ctx, []int{1, 2, 3}); err != nil || len(got) != 3 || got[2] != 20 {
			t.Fatalf("batch(1, 2, 3) = (%v, %v), want (map[1:10 2:20 3:30], nil)", got, err)
		}
	}
	if loads != 3 {
		t.Errorf("the batch function loaded %d ids for two calls of the same 3, want 3", loads)
	}
	// Failover needs nothing more.
	if _, err := cashews.Wrap(c, func(ctx context.Context, q idArg) (int, error) { return q.ID, nil },
		cashews.TTL(time.Hour), cashews.Key("f:{ID}"), strategies.Failover()); err != nil {
		t.Errorf("TryWrap with failover on a core-only backend = %v, want nil", err)
	}
}

// TestDeleteMatchDerivedFromScan: a backend with Scan but no DeleteMatch gets DeleteMatch as Scan
// plus Delete, exactly.
func TestDeleteMatchDerivedFromScan(t *testing.T) {
	ctx := context.Background()
	c := cashews.New()
	t.Cleanup(func() { c.Close() })
	if err := c.SetupBackend(scanning{newCoreOnly(t)}, ""); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"user:1", "user:2", "user:3", "item:1"} {
		if _, err := c.Set(ctx, k, k, 0); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := c.DeleteMatch(ctx, "user:*"); n != 3 || err != nil {
		t.Fatalf("DeleteMatch(user:*) = (%d, %v), want (3, nil)", n, err)
	}
	for k, want := range map[string]bool{"user:1": false, "user:2": false, "user:3": false, "item:1": true} {
		if ok, err := c.Exists(ctx, k); ok != want || err != nil {
			t.Errorf("Exists(%s) after DeleteMatch = (%v, %v), want (%v, nil)", k, ok, err, want)
		}
	}
	if err := c.Require("*", "MatchDeleter", "Scanner"); err != nil {
		t.Errorf("Require(MatchDeleter, Scanner) on a backend with Scan = %v, want nil", err)
	}
	if err := c.Require("*", "Counter"); !errors.Is(err, cashews.ErrConfig) || !strings.Contains(err.Error(), "backends.Counter") {
		t.Errorf("Require(Counter) on a backend without it = %v, want an ErrConfig naming backends.Counter", err)
	}
	if err := c.Require("*", "Countr"); !errors.Is(err, cashews.ErrInvalidArgument) {
		t.Errorf("Require(Countr) = %v, want ErrInvalidArgument", err)
	}
}

// TestRequireRoutes: Require looks only at the backends the pattern's keys may go to.
func TestRequireRoutes(t *testing.T) {
	c := cashews.New()
	t.Cleanup(func() { c.Close() })
	if err := c.Setup("mem://"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetupBackend(newCoreOnly(t), "", cashews.WithPrefix("core:")); err != nil {
		t.Fatal(err)
	}
	if err := c.Require("user:*", "Counter", "Locker"); err != nil {
		t.Errorf("Require for keys of mem:// = %v, want nil", err)
	}
	if err := c.Require("core:*", "Counter"); err == nil {
		t.Error("Require for keys of the core-only backend = nil, want an error")
	}
	if err := c.Require("*", "Counter"); err == nil {
		t.Error("Require for every key = nil, want an error (some go to the core-only backend)")
	}
	// Wrap with a strategy that needs counters works on mem:// keys and fails on core: keys.
	fn := func(ctx context.Context, q idArg) (int, error) { return q.ID, nil }
	if _, err := cashews.Wrap(c, fn, cashews.TTL(time.Hour), cashews.Key("user:{ID}"), strategies.Hit(3)); err != nil {
		t.Errorf("TryWrap(hit) for mem:// keys = %v, want nil", err)
	}
	if _, err := cashews.Wrap(c, fn, cashews.TTL(time.Hour), cashews.Key("core:{ID}"), strategies.Hit(3)); !errors.Is(err, cashews.ErrConfig) {
		t.Errorf("TryWrap(hit) for keys of the core-only backend = %v, want ErrConfig", err)
	}
}
