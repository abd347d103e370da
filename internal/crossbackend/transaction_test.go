package crossbackend_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends/backendtest"
)

var txModes = []cashews.TxMode{cashews.TxFast, cashews.TxLocked, cashews.TxSerializable}

// forEachTx runs test on every backend (without the signed twins, but with one signed Redis) and
// every transaction mode.
func forEachTx(t *testing.T, test func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, mode cashews.TxMode)) {
	forEachSetup(t, func(s *setup) bool { return !s.secret || s.name == "redis-secret" }, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, s *setup) {
		for _, mode := range txModes {
			t.Run(mode.String(), func(t *testing.T) {
				if err := c.Clear(context.Background()); err != nil {
					t.Fatal(err)
				}
				test(t, c, clock, mode)
			})
		}
	})
}

// txt is a test's view of one Cache: short helpers that fail the test on errors.
type txt struct {
	t *testing.T
	c *cashews.Cache
}

func (x txt) set(ctx context.Context, key, v string, ttl time.Duration, opts ...cashews.SetOption) bool {
	x.t.Helper()
	ok, err := x.c.Set(ctx, key, v, ttl, opts...)
	if err != nil {
		x.t.Fatalf("Set(%s): %v", key, err)
	}
	return ok
}

// get returns the string at key, or "<none>".
func (x txt) get(ctx context.Context, key string) string {
	x.t.Helper()
	v, found, err := cashews.Get[string](ctx, x.c, key)
	if err != nil {
		x.t.Fatalf("Get(%s): %v", key, err)
	}
	if !found {
		return "<none>"
	}
	return v
}

func (x txt) want(ctx context.Context, where string, kv ...string) {
	x.t.Helper()
	for i := 0; i < len(kv); i += 2 {
		if got := x.get(ctx, kv[i]); got != kv[i+1] {
			x.t.Errorf("%s: %s = %s; want %s", where, kv[i], got, kv[i+1])
		}
	}
}

func (x txt) incr(ctx context.Context, key string) int64 {
	x.t.Helper()
	n, err := x.c.Incr(ctx, key, 1, 0)
	if err != nil {
		x.t.Fatalf("Incr(%s): %v", key, err)
	}
	return n
}

// TestTransactionSet: writes are seen inside, applied on commit, dropped on error and on panic.
func TestTransactionSet(t *testing.T) {
	forEachTx(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, mode cashews.TxMode) {
		x, ctx := txt{t, c}, context.Background()
		x.set(ctx, "key1", "value1", time.Hour)
		x.set(ctx, "key2", "value2", time.Hour)
		inside := func(ctx context.Context) {
			x.set(ctx, "key1", "value2", time.Hour)
			x.set(ctx, "key", "value", 0)
			x.want(ctx, "inside", "key", "value", "key1", "value2", "key2", "value2")
			x.want(context.Background(), "outside, before the commit", "key", "<none>", "key1", "value1")
		}
		boom := errors.New("boom")
		err := c.Transaction(ctx, func(ctx context.Context) error { inside(ctx); return boom }, mode)
		if !errors.Is(err, boom) {
			t.Fatalf("Transaction: %v; want fn's error", err)
		}
		x.want(ctx, "after a rollback", "key", "<none>", "key1", "value1", "key2", "value2")

		func() {
			defer func() {
				if p := recover(); p != "panic" {
					t.Errorf("recovered %v; want the panic to go on", p)
				}
			}()
			c.Transaction(ctx, func(ctx context.Context) error { inside(ctx); panic("panic") }, mode)
		}()
		x.want(ctx, "after a panic", "key", "<none>", "key1", "value1")

		if err := c.Transaction(ctx, func(ctx context.Context) error { inside(ctx); return nil }, mode); err != nil {
			t.Fatal(err)
		}
		x.want(ctx, "after the commit", "key", "value", "key1", "value2", "key2", "value2")
		if ttl, found, _ := c.GetExpire(ctx, "key1"); !found || ttl <= 59*time.Minute {
			t.Errorf("key1 TTL %v, %v; want about an hour", ttl, found)
		}
		if ttl, found, _ := c.GetExpire(ctx, "key"); !found || ttl != cashews.NoExpiration {
			t.Errorf("key TTL %v, %v; want none", ttl, found)
		}
	})
}

// TestTransactionDeleteGetMany is cashews' test_transaction_set_delete_get_many.
func TestTransactionDeleteGetMany(t *testing.T) {
	forEachTx(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, mode cashews.TxMode) {
		x, ctx := txt{t, c}, context.Background()
		x.set(ctx, "key1", "value", time.Hour)
		x.set(ctx, "key2", "value2", time.Hour)
		many := func(ctx context.Context) map[string]string {
			m, err := cashews.GetMany[string](ctx, c, "key", "key1", "key2")
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		err := c.Transaction(ctx, func(ctx context.Context) error {
			if ok, err := c.Delete(ctx, "key1"); !ok || err != nil {
				t.Errorf("Delete(key1) = %v, %v; want true", ok, err)
			}
			x.want(ctx, "deleted", "key1", "<none>")
			if err := c.SetMany(ctx, map[string]any{"key1": "value1", "key3": "value3"}, time.Hour); err != nil {
				return err
			}
			if ok, _ := c.Delete(ctx, "key"); ok {
				t.Error("Delete of a missing key reported it present")
			}
			if n, err := c.DeleteMany(ctx, "key2", "key3"); n != 2 || err != nil {
				t.Errorf("DeleteMany = %d, %v; want 2", n, err)
			}
			x.want(ctx, "inside", "key", "<none>", "key1", "value1", "key2", "<none>", "key3", "<none>")
			x.set(ctx, "key2", "value2", 0)
			if m, w := many(ctx), map[string]string{"key1": "value1", "key2": "value2"}; !maps.Equal(m, w) {
				t.Errorf("GetMany inside: %v; want %v", m, w)
			}
			return nil
		}, mode)
		if err != nil {
			t.Fatal(err)
		}
		x.want(ctx, "after", "key", "<none>", "key1", "value1", "key2", "value2", "key3", "<none>")
		if m, w := many(ctx), map[string]string{"key1": "value1", "key2": "value2"}; !maps.Equal(m, w) {
			t.Errorf("GetMany after: %v; want %v", m, w)
		}
	})
}

// TestTransactionDeleteMatch is cashews' test_transaction_set_delete_match_get_many_match, with Scan.
func TestTransactionDeleteMatch(t *testing.T) {
	forEachTx(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, mode cashews.TxMode) {
		x, ctx := txt{t, c}, context.Background()
		x.set(ctx, "kek", "value", 0)
		x.set(ctx, "key1", "value", time.Hour)
		x.set(ctx, "key2", "value2", time.Hour)
		match := func(ctx context.Context) map[string]string {
			out := map[string]string{}
			for kv, err := range cashews.GetMatch[string](ctx, c, "k*") {
				if err != nil {
					t.Fatal(err)
				}
				out[kv.Key] = kv.Value
			}
			return out
		}
		scan := func(ctx context.Context) []string {
			var out []string
			for k, err := range c.Scan(ctx, "k*") {
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, k)
			}
			slices.Sort(out)
			return slices.Compact(out)
		}
		err := c.Transaction(ctx, func(ctx context.Context) error {
			x.set(ctx, "key1", "value1", time.Hour)
			x.set(ctx, "key3", "value3", 0)
			if n, err := c.DeleteMatch(ctx, "key*"); n != 3 || err != nil {
				t.Errorf("DeleteMatch = %d, %v; want 3", n, err)
			}
			x.want(ctx, "inside", "key1", "<none>", "key2", "<none>", "key3", "<none>")
			x.set(ctx, "key2", "value2", 0)
			if m, w := match(ctx), map[string]string{"kek": "value", "key2": "value2"}; !maps.Equal(m, w) {
				t.Errorf("GetMatch inside: %v; want %v", m, w)
			}
			if k, w := scan(ctx), []string{"kek", "key2"}; !slices.Equal(k, w) {
				t.Errorf("Scan inside: %v; want %v", k, w)
			}
			if k, w := scan(context.Background()), []string{"kek", "key1", "key2"}; !slices.Equal(k, w) {
				t.Errorf("Scan outside: %v; want %v (and no lock keys)", k, w)
			}
			return nil
		}, mode)
		if err != nil {
			t.Fatal(err)
		}
		x.want(ctx, "after", "key1", "<none>", "key2", "value2", "key3", "<none>")
		if m, w := match(ctx), map[string]string{"kek": "value", "key2": "value2"}; !maps.Equal(m, w) {
			t.Errorf("GetMatch after: %v; want %v", m, w)
		}
	})
}

// TestTransactionIncr is cashews' test_transaction_incr.
func TestTransactionIncr(t *testing.T) {
	forEachTx(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, mode cashews.TxMode) {
		x, ctx := txt{t, c}, context.Background()
		x.incr(ctx, "key1")
		x.incr(ctx, "key3")
		x.incr(ctx, "key4")
		err := c.Transaction(ctx, func(ctx context.Context) error {
			for i, w := range []int64{2, 3} {
				if n := x.incr(ctx, "key1"); n != w {
					t.Errorf("incr %d of key1 = %d; want %d", i, n, w)
				}
			}
			if n := x.incr(ctx, "key2"); n != 1 {
				t.Errorf("incr key2 = %d; want 1", n)
			}
			c.Delete(ctx, "key3")
			if n := x.incr(ctx, "key3"); n != 1 {
				t.Errorf("incr of deleted key3 = %d; want 1", n)
			}
			if n := x.incr(ctx, "key4"); n != 2 {
				t.Errorf("incr key4 = %d; want 2", n)
			}
			c.Delete(ctx, "key4")
			x.set(ctx, "key5", "text", 0)
			if _, err := c.Incr(ctx, "key5", 1, 0); !errors.Is(err, cashews.ErrNotInteger) {
				t.Errorf("incr of text: %v; want ErrNotInteger", err)
			}
			if _, err := c.Set(ctx, "key6", 10, 0); err != nil {
				return err
			}
			if n, _ := c.Incr(ctx, "key6", 5, 0); n != 15 {
				t.Errorf("incr of a value set inside = %d; want 15", n)
			}
			if n, found, err := cashews.Get[int64](ctx, c, "key1"); n != 3 || !found || err != nil {
				t.Errorf("Get[int64](key1) inside = %d, %v, %v; want 3", n, found, err)
			}
			return nil
		}, mode)
		if err != nil {
			t.Fatal(err)
		}
		for key, w := range map[string]int64{"key1": 4, "key2": 2, "key3": 2, "key4": 1, "key6": 16} {
			if n := x.incr(ctx, key); n != w {
				t.Errorf("incr %s after = %d; want %d", key, n, w)
			}
		}
	})
}

// TestTransactionExpireExists is cashews' test_transaction_expire and test_transaction_exist.
func TestTransactionExpireExists(t *testing.T) {
	forEachTx(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, mode cashews.TxMode) {
		x, ctx := txt{t, c}, context.Background()
		x.set(ctx, "key1", "value1", 0)
		x.set(ctx, "key3", "value3", 0)
		x.set(ctx, "key4", "value4", 0)
		expire := func(ctx context.Context, key string) (time.Duration, bool) {
			ttl, found, err := c.GetExpire(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			return ttl, found
		}
		check := func(ctx context.Context, where string) {
			if ttl, found := expire(ctx, "key1"); !found || ttl <= 6*time.Second || ttl > 11*time.Second { // Redis counts down by its clock
				t.Errorf("%s: key1 TTL %v, %v; want 11s", where, ttl, found)
			}
			if ttl, found := expire(ctx, "key2"); !found || ttl <= 7*time.Second || ttl > 12*time.Second {
				t.Errorf("%s: key2 TTL %v, %v; want 12s", where, ttl, found)
			}
			if _, found := expire(ctx, "key3"); found {
				t.Errorf("%s: key3 found", where)
			}
			if ttl, found := expire(ctx, "key4"); !found || ttl != cashews.NoExpiration {
				t.Errorf("%s: key4 TTL %v, %v; want none", where, ttl, found)
			}
			for key, w := range map[string]bool{"key1": true, "key2": true, "key3": false, "key5": false} {
				if ok, err := c.Exists(ctx, key); ok != w || err != nil {
					t.Errorf("%s: Exists(%s) = %v, %v; want %v", where, key, ok, err, w)
				}
			}
		}
		err := c.Transaction(ctx, func(ctx context.Context) error {
			c.Delete(ctx, "key3")
			x.set(ctx, "key2", "value2", 100*time.Second)
			for key, ttl := range map[string]time.Duration{"key1": 11 * time.Second, "key2": 12 * time.Second} {
				if ok, err := c.Expire(ctx, key, ttl); !ok || err != nil {
					t.Errorf("Expire(%s) = %v, %v", key, ok, err)
				}
			}
			if ok, _ := c.Expire(ctx, "key3", 13*time.Second); ok {
				t.Error("Expire of a deleted key reported it present")
			}
			check(ctx, "inside")
			return nil
		}, mode)
		if err != nil {
			t.Fatal(err)
		}
		check(ctx, "after")
	})
}

// TestTransactionIsolation is cashews' test_isolation: concurrent transactions that increment, set
// and fail. Every mode keeps every committed increment (fast applies increments as Incr by their
// sum); locked and serializable also leave the keys one transaction wrote together consistent.
func TestTransactionIsolation(t *testing.T) {
	forEachTx(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, mode cashews.TxMode) {
		x, ctx := txt{t, c}, context.Background()
		x.set(ctx, "key1", "value1", 0)
		x.set(ctx, "key2", "value2", 0)
		do := func(value string) error {
			return c.Transaction(ctx, func(ctx context.Context) error {
				if _, err := c.Incr(ctx, "incr", 1, 0); err != nil {
					return err
				}
				if _, err := c.Set(ctx, "key1", "value", 0); err != nil {
					return err
				}
				if value == "v4" {
					return errors.New("rollback")
				}
				if _, err := c.Set(ctx, "key2", value, 0); err != nil {
					return err
				}
				time.Sleep(time.Millisecond) // let the others run
				if _, err := c.Incr(ctx, "incr", 1, 0); err != nil {
					return err
				}
				_, err := c.Set(ctx, "key1", value, 0)
				return err
			}, mode)
		}
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i, v := range []string{"v1", "v2", "v3", "v4"} {
			wg.Go(func() { errs[i] = do(v) })
		}
		wg.Wait()
		for i, err := range errs[:3] {
			if err != nil {
				t.Errorf("transaction %d: %v", i+1, err)
			}
		}
		if n, _, _ := cashews.Get[int64](ctx, c, "incr"); n != 6 {
			t.Errorf("incr = %d; want 6", n)
		}
		if mode != cashews.TxFast {
			if k1, k2 := x.get(ctx, "key1"), x.get(ctx, "key2"); k1 != k2 {
				t.Errorf("key1 = %s, key2 = %s: want one transaction's pair", k1, k2)
			}
		}
	})
}

// TestTransactionNested is cashews' test_inner_transaction_commit_outer_rollback, and an inner
// failure that the outer transaction survives.
func TestTransactionNested(t *testing.T) {
	forEachTx(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, mode cashews.TxMode) {
		x, ctx := txt{t, c}, context.Background()
		x.set(ctx, "key1", "value1", 0)
		x.set(ctx, "key2", "value2", 0)
		err := c.Transaction(ctx, func(ctx context.Context) error {
			c.Delete(ctx, "key2")
			x.set(ctx, "key1", "value2", 0)
			if err := c.Transaction(ctx, func(ctx context.Context) error { x.set(ctx, "key1", "value3", 0); return nil }, mode); err != nil {
				t.Errorf("inner: %v", err)
			}
			x.want(ctx, "after the inner commit", "key1", "value3")
			return errors.New("rollback")
		}, mode)
		if err == nil {
			t.Fatal("the outer transaction did not fail")
		}
		x.want(ctx, "after the outer rollback", "key1", "value1", "key2", "value2")

		err = c.Transaction(ctx, func(ctx context.Context) error {
			x.set(ctx, "key1", "outer", 0)
			inner := c.Transaction(ctx, func(ctx context.Context) error {
				x.set(ctx, "key1", "inner", 0)
				c.Delete(ctx, "key2")
				return errors.New("inner fails")
			})
			if inner == nil {
				t.Error("the inner transaction's error was lost")
			}
			x.want(ctx, "after the inner rollback", "key1", "outer", "key2", "value2")
			return nil
		}, mode)
		if err != nil {
			t.Fatal(err)
		}
		x.want(ctx, "after the outer commit", "key1", "outer", "key2", "value2")
	})
}

// TestTransactionConcurrentCommands is cashews' test_gather: goroutines sharing one transaction.
func TestTransactionConcurrentCommands(t *testing.T) {
	forEachTx(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, mode cashews.TxMode) {
		x, ctx := txt{t, c}, context.Background()
		x.set(ctx, "key1", "value1", 0)
		x.set(ctx, "key2", "value1", 0)
		err := c.Transaction(ctx, func(ctx context.Context) error {
			var wg sync.WaitGroup
			wg.Go(func() { c.Set(ctx, "key1", "value3", 0) })
			wg.Go(func() { c.Set(ctx, "key1", "value4", 0) })
			wg.Go(func() { c.Delete(ctx, "key2") })
			for range 10 {
				wg.Go(func() { c.Incr(ctx, "key3", 1, 0) })
			}
			wg.Wait()
			return nil
		}, mode)
		if err != nil {
			t.Fatal(err)
		}
		if v := x.get(ctx, "key1"); v != "value3" && v != "value4" {
			t.Errorf("key1 = %s", v)
		}
		x.want(ctx, "after", "key2", "<none>")
		if n, _, _ := cashews.Get[int64](ctx, c, "key3"); n != 10 {
			t.Errorf("key3 = %d; want 10", n)
		}
	})
}

// TestTransactionReadersRacingCommit: readers outside the transaction see the old values until the
// commit, never a buffered one before, and every new one once Transaction has returned.
func TestTransactionReadersRacingCommit(t *testing.T) {
	forEachTx(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, mode cashews.TxMode) {
		x, ctx := txt{t, c}, context.Background()
		const n = 20
		for i := range n {
			x.set(ctx, fmt.Sprint("r", i), "old", 0)
		}
		var committed atomic.Bool
		stop := make(chan struct{})
		var readers sync.WaitGroup
		var bad atomic.Int64
		for range 4 {
			readers.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					for i := range n {
						v, _, err := cashews.Get[string](ctx, c, fmt.Sprint("r", i))
						if err != nil || (v != "old" && v != "new") {
							bad.Add(1)
						}
					}
				}
			})
		}
		err := c.Transaction(ctx, func(tctx context.Context) error {
			for i := range n {
				x.set(tctx, fmt.Sprint("r", i), "new", 0)
			}
			time.Sleep(5 * time.Millisecond) // readers run while the writes are buffered
			for i := range n {
				if v := x.get(ctx, fmt.Sprint("r", i)); v != "old" {
					t.Errorf("r%d = %s outside before the commit; want old", i, v)
				}
			}
			return nil
		}, mode)
		committed.Store(true)
		close(stop)
		readers.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if bad.Load() > 0 {
			t.Errorf("%d reads failed or saw a value that was never written", bad.Load())
		}
		for i := range n {
			if v := x.get(ctx, fmt.Sprint("r", i)); v != "new" {
				t.Errorf("r%d = %s after the commit; want new", i, v)
			}
		}
	})
}

// TestTransactionLocks: in locked and serializable modes a key written by one transaction is locked
// for the others, across Caches sharing a backend, until it ends; a transaction past its timeout is
// not committed.
func TestTransactionLocks(t *testing.T) {
	forEachSetup(t, func(s *setup) bool { return !s.secret }, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, s *setup) {
		ctx := context.Background()
		// A second Cache on the same store, as another process would have (mem:// has no other).
		other := c
		if !strings.HasPrefix(s.name, "mem") { // a second mem:// would be another store
			other = cashews.New(cashews.WithClock(clock))
			t.Cleanup(func() { other.Close() })
			if err := other.Setup(s.url0); err != nil {
				t.Fatal(err)
			}
		}
		for _, mode := range []cashews.TxMode{cashews.TxLocked, cashews.TxSerializable} {
			t.Run(mode.String(), func(t *testing.T) {
				holding, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
				go func() {
					done <- c.Transaction(ctx, func(ctx context.Context) error {
						if _, err := c.Set(ctx, "locked", "first", 0); err != nil {
							return err
						}
						close(holding)
						<-release
						return nil
					}, mode)
				}()
				<-holding
				err := other.Transaction(ctx, func(ctx context.Context) error {
					_, err := other.Set(ctx, "locked", "second", 0)
					return err
				}, mode, cashews.TxTimeout(50*time.Millisecond))
				if !errors.Is(err, cashews.ErrTxLocked) {
					t.Errorf("a write of a locked key: %v; want ErrTxLocked", err)
				}
				// A key the first transaction did not write is free (locked mode; serializable
				// transactions of the same Cache wait for each other).
				if mode == cashews.TxLocked {
					if err := other.Transaction(ctx, func(ctx context.Context) error {
						_, err := other.Set(ctx, "free", "x", 0)
						return err
					}, mode, cashews.TxTimeout(5*time.Second)); err != nil {
						t.Errorf("a write of another key: %v", err)
					}
				}
				close(release)
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				if v, _, _ := cashews.Get[string](ctx, c, "locked"); v != "first" {
					t.Errorf("locked = %s; want first", v)
				}
				// Released: the next transaction writes.
				if err := other.Transaction(ctx, func(ctx context.Context) error {
					_, err := other.Set(ctx, "locked", "third", 0)
					return err
				}, mode); err != nil {
					t.Errorf("after the release: %v", err)
				}
			})
		}
		// A transaction that runs past its timeout is not committed.
		err := c.Transaction(ctx, func(ctx context.Context) error {
			c.Set(ctx, "late", "x", 0)
			<-ctx.Done()
			return nil
		}, cashews.TxTimeout(20*time.Millisecond))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a transaction past its timeout: %v; want DeadlineExceeded", err)
		}
		if _, found, _ := cashews.Get[string](ctx, c, "late"); found {
			t.Error("the late transaction was committed")
		}
	})
}

// TestTransactionWrapAndTags: a wrapped function's result computed inside a transaction is stored
// at the commit, and not on a rollback; tags written inside are seen by TagKeys and DeleteTags.
func TestTransactionWrapAndTags(t *testing.T) {
	forEachTx(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, mode cashews.TxMode) {
		x, ctx := txt{t, c}, context.Background()
		var runs atomic.Int64
		get := cashews.MustWrap(c, func(ctx context.Context, id int) (string, error) {
			runs.Add(1)
			return fmt.Sprint("u", id), nil
		}, cashews.Name("user"), cashews.Key("user:{.}"), cashews.TTL(time.Hour))
		c.Transaction(ctx, func(ctx context.Context) error {
			get(ctx, 1)
			get(ctx, 1) // a hit from the transaction's writes
			return errors.New("rollback")
		}, mode)
		x.want(ctx, "after a rollback", "user:1", "<none>")
		if runs.Load() != 1 {
			t.Errorf("%d runs inside; want 1", runs.Load())
		}
		if err := c.Transaction(ctx, func(ctx context.Context) error { _, err := get(ctx, 1); return err }, mode); err != nil {
			t.Fatal(err)
		}
		x.want(ctx, "after the commit", "user:1", "u1")

		// WrapMany stores its batch at the commit too.
		src := &source{limit: 100}
		many := cashews.MustWrapMany(c, src.load, cashews.Name("many"), cashews.Key("m:{.}"), cashews.TTL(time.Hour))
		c.Transaction(ctx, func(ctx context.Context) error {
			if got, err := many(ctx, []int{1, 2}); err != nil || len(got) != 2 {
				t.Errorf("WrapMany inside: %v, %v", got, err)
			}
			x.want(ctx, "WrapMany inside", "m:1", "v1")
			return errors.New("rollback")
		}, mode)
		x.want(ctx, "WrapMany after a rollback", "m:1", "<none>", "m:2", "<none>")
		if err := c.Transaction(ctx, func(ctx context.Context) error { _, err := many(ctx, []int{1, 2}); return err }, mode); err != nil {
			t.Fatal(err)
		}
		x.want(ctx, "WrapMany after the commit", "m:1", "v1", "m:2", "v2")

		x.set(ctx, "t1", "a", 0, cashews.Tags("t"))
		x.set(ctx, "t2", "b", 0, cashews.Tags("t"))
		err := c.Transaction(ctx, func(ctx context.Context) error {
			x.set(ctx, "t3", "c", 0, cashews.Tags("t"))
			x.set(ctx, "t2", "b", 0) // no tag any more
			keys, err := c.TagKeys(ctx, "t")
			if slices.Sort(keys); err != nil || !slices.Equal(keys, []string{"t1", "t3"}) {
				t.Errorf("TagKeys inside = %v, %v; want [t1 t3]", keys, err)
			}
			if n, err := c.DeleteTags(ctx, "t"); n != 2 || err != nil {
				t.Errorf("DeleteTags inside = %d, %v; want 2", n, err)
			}
			x.set(ctx, "t4", "d", 0, cashews.Tags("t"))
			return nil
		}, mode)
		if err != nil {
			t.Fatal(err)
		}
		x.want(ctx, "after", "t1", "<none>", "t2", "b", "t3", "<none>", "t4", "d")
		if keys, _ := c.TagKeys(ctx, "t"); !slices.Equal(keys, []string{"t4"}) {
			t.Errorf("TagKeys after = %v; want [t4]", keys)
		}
	})
}

// TestTransactionMisuse: conditional sets decide inside, Clear is refused, and a transaction's
// context is refused once it has ended.
func TestTransactionMisuse(t *testing.T) {
	forEachTx(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, mode cashews.TxMode) {
		x, ctx := txt{t, c}, context.Background()
		x.set(ctx, "present", "p", 0)
		var leaked context.Context
		err := c.Transaction(ctx, func(ctx context.Context) error {
			leaked = ctx
			if !x.set(ctx, "absent", "a", 0, cashews.IfAbsent()) || x.set(ctx, "absent", "b", 0, cashews.IfAbsent()) {
				t.Error("IfAbsent inside does not see the transaction's write")
			}
			if x.set(ctx, "present", "q", 0, cashews.IfAbsent()) || !x.set(ctx, "present", "r", 0, cashews.IfPresent()) {
				t.Error("IfAbsent/IfPresent inside do not see the backend's key")
			}
			if err := c.Clear(ctx); !errors.Is(err, cashews.ErrInvalidArgument) {
				t.Errorf("Clear inside: %v; want ErrInvalidArgument", err)
			}
			return nil
		}, mode)
		if err != nil {
			t.Fatal(err)
		}
		x.want(ctx, "after", "absent", "a", "present", "r")
		if _, err := c.Set(leaked, "k", "v", 0); !errors.Is(err, cashews.ErrTxDone) {
			t.Errorf("Set with an ended transaction's context: %v; want ErrTxDone", err)
		}
		if err := c.Transaction(ctx, nil); !errors.Is(err, cashews.ErrInvalidArgument) {
			t.Errorf("nil function: %v", err)
		}
		if err := c.Transaction(ctx, func(context.Context) error { return nil }, cashews.TxTimeout(0)); !errors.Is(err, cashews.ErrInvalidArgument) {
			t.Errorf("zero timeout: %v", err)
		}
	})
}
