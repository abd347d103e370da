package cashews_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/internal/testenv"
)

func TestLockOwnership(t *testing.T) {
	c, clock := newCache(t, "mem://")
	ctx := context.Background()
	l, ok, err := c.TryLock(ctx, "job", time.Minute)
	if !ok || err != nil {
		t.Fatalf("TryLock of a free lock = %v, %v", ok, err)
	}
	if _, ok, _ := c.TryLock(ctx, "job", time.Minute); ok {
		t.Fatal("TryLock of a held lock succeeded")
	}
	if ok, _ := cashews.Unlock(ctx, c, "job", "not-the-owner"); ok {
		t.Fatal("Unlock by a stranger released the lock")
	}
	if locked, _ := cashews.IsLocked(ctx, c, "job", 0); !locked {
		t.Fatal("IsLocked = false while held")
	}
	// The lock expires; a new owner takes it; the old owner cannot release or extend it.
	clock.Advance(time.Minute + time.Second)
	l2, ok, _ := c.TryLock(ctx, "job", time.Minute)
	if !ok {
		t.Fatal("TryLock after expiry failed")
	}
	if err := l.Unlock(ctx); !errors.Is(err, cashews.ErrLockNotHeld) {
		t.Fatalf("old owner's Unlock = %v; want ErrLockNotHeld", err)
	}
	if err := l.Extend(ctx, time.Hour); !errors.Is(err, cashews.ErrLockNotHeld) {
		t.Fatalf("old owner's Extend = %v; want ErrLockNotHeld", err)
	}
	if locked, _ := cashews.IsLocked(ctx, c, "job", 0); !locked {
		t.Fatal("the old owner released the new owner's lock")
	}
	if err := l2.Extend(ctx, time.Hour); err != nil {
		t.Fatalf("owner's Extend = %v", err)
	}
	if err := l2.Unlock(ctx); err != nil {
		t.Fatalf("owner's Unlock = %v", err)
	}
	if _, err := cashews.SetLock(ctx, c, "x", "t", 0); !errors.Is(err, cashews.ErrInvalidArgument) {
		t.Fatalf("SetLock with a zero TTL = %v; want ErrInvalidArgument", err)
	}
}

func TestLockWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := cashews.New()
		defer c.Close()
		if err := c.Setup("mem://"); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		held, _ := c.Lock(ctx, "k", time.Hour)

		// A waiter whose context ends first gives up with the context's error.
		tctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if _, err := c.Lock(tctx, "k", time.Hour); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Lock on a held lock with a 1s deadline = %v; want DeadlineExceeded", err)
		}

		// IsLocked with a wait reports the lock released during the wait.
		go func() {
			time.Sleep(3 * time.Second) // fake time inside the bubble
			held.Unlock(ctx)
		}()
		if locked, err := cashews.IsLocked(ctx, c, "k", 10*time.Second); locked || err != nil {
			t.Fatalf("IsLocked with a wait = %v, %v; want false after the release", locked, err)
		}
		start := time.Now()
		held, _ = c.Lock(ctx, "k", time.Hour)
		go func() {
			time.Sleep(5 * time.Second)
			held.Unlock(ctx)
		}()
		l, err := c.Lock(ctx, "k", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited < 5*time.Second || (waited > 5*time.Second+200*time.Millisecond && testenv.Timing()) {
			t.Fatalf("Lock waited %v; want about 5s (the holder's time plus at most one backoff)", waited)
		}
		l.Unlock(ctx)
	})
}

func TestWithLockExcludes(t *testing.T) {
	c, _ := newCache(t, "mem://")
	ctx := context.Background()
	counter, holders, maxHolders := 0, 0, 0
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			for range 100 {
				err := c.WithLock(ctx, "counter", time.Minute, func(ctx context.Context) error {
					mu.Lock()
					holders++
					maxHolders = max(maxHolders, holders)
					mu.Unlock()
					v := counter // a non-atomic read-modify-write that only the lock protects
					counter = v + 1
					mu.Lock()
					holders--
					mu.Unlock()
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if counter != 1000 || maxHolders != 1 {
		t.Fatalf("counter = %d, most holders at once = %d; want 1000 and 1", counter, maxHolders)
	}
}

func TestWithLockReleasesOnPanicAndError(t *testing.T) {
	c, _ := newCache(t, "mem://")
	ctx := context.Background()
	boom := errors.New("boom")
	if err := c.WithLock(ctx, "k", time.Minute, func(context.Context) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("WithLock = %v; want fn's error", err)
	}
	func() {
		defer func() { recover() }()
		c.WithLock(ctx, "k", time.Minute, func(context.Context) error { panic("x") })
	}()
	if locked, _ := cashews.IsLocked(ctx, c, "k", 0); locked {
		t.Fatal("the lock is held after fn failed")
	}
}
