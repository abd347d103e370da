package redis

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews/backends"
)

// TestLockMutualExclusion: 10 lockers (each its own client, rueidis and go-redis in turn) take the
// same lock 100 times each around a non-atomic read-pause-write of a shared counter. The counter
// ends at exactly 1,000 and no two lockers ever hold the lock at once.
func TestLockMutualExclusion(t *testing.T) {
	srv := server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var (
		counter    int // deliberately unsynchronised but for the lock
		holders    atomic.Int32
		maxHolders atomic.Int32
		wg         sync.WaitGroup
		failed     atomic.Value
	)
	lockers := make([]*Backend, 10)
	for i := range lockers {
		params := relaxed
		if i%2 == 1 {
			params += "&driver=go-redis"
		}
		lockers[i] = openURL(t, withParams(srv.URL(), params))
	}
	// The counter is guarded by the Redis lock only; the race detector cannot see that, so the
	// counter lives behind a mutex that is never contended when the lock works.
	var guard sync.Mutex
	for i, b := range lockers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			token := "locker-" + strconv.Itoa(i)
			for n := 0; n < 100; n++ {
				for {
					ok, err := b.SetLock(ctx, "mutex", token, 5*time.Second)
					if err != nil {
						failed.Store("SetLock: " + err.Error())
						return
					}
					if ok {
						break
					}
					time.Sleep(time.Duration(100+rand.IntN(400)) * time.Microsecond)
				}
				h := holders.Add(1)
				for m := maxHolders.Load(); h > m && !maxHolders.CompareAndSwap(m, h); m = maxHolders.Load() {
				}
				if !guard.TryLock() {
					failed.Store("two lockers in the critical section")
				} else {
					v := counter
					time.Sleep(100 * time.Microsecond)
					counter = v + 1
					guard.Unlock()
				}
				holders.Add(-1)
				ok, err := b.Unlock(ctx, "mutex", token)
				if err != nil || !ok {
					failed.Store("Unlock by the holder: got " + strconv.FormatBool(ok) + ", " + errString(err))
					return
				}
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f != nil {
		t.Fatal(f)
	}
	if counter != 1000 || maxHolders.Load() != 1 {
		t.Fatalf("counter %d with at most %d holders at once; want 1000 and 1", counter, maxHolders.Load())
	}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

// TestLockExpiredNotReleasedByOldOwner: a lock whose TTL ran out and that another owner took is
// neither released nor extended by its old owner.
func TestLockExpiredNotReleasedByOldOwner(t *testing.T) {
	for _, e := range engines()[:2] {
		t.Run(e.name, func(t *testing.T) {
			srv := server(t)
			ctx := testCtx(t)
			old, next := e.open(t, srv.URL()), e.open(t, srv.URL())
			if ok, err := old.SetLock(ctx, "l", "old", 100*time.Millisecond); !ok || err != nil {
				t.Fatalf("SetLock by old: got %v, %v; want true, nil", ok, err)
			}
			if ok, _ := next.SetLock(ctx, "l", "next", time.Minute); ok {
				t.Fatal("SetLock by next while old holds it: got true, want false")
			}
			if !eventually(2*time.Second, func() bool { held, _ := next.IsLocked(ctx, "l"); return !held }) {
				t.Fatal("the lock with a 100ms TTL is still held after 2s")
			}
			if ok, err := next.SetLock(ctx, "l", "next", time.Minute); !ok || err != nil {
				t.Fatalf("SetLock by next after expiry: got %v, %v; want true, nil", ok, err)
			}
			if ok, err := old.Unlock(ctx, "l", "old"); ok || err != nil {
				t.Fatalf("Unlock by the old owner: got %v, %v; want false, nil", ok, err)
			}
			if ok, err := old.ExtendLock(ctx, "l", "old", time.Hour); ok || err != nil {
				t.Fatalf("ExtendLock by the old owner: got %v, %v; want false, nil", ok, err)
			}
			v, found, err := next.Get(ctx, "l")
			if err != nil || !found || string(v.([]byte)) != "next" {
				t.Fatalf("the lock after the old owner's attempts: got %q, %v, %v; want next's token", v, found, err)
			}
			if ttl := srv.MustDo("PTTL", "l").(int64); ttl <= 50_000 {
				t.Fatalf("the lock's TTL after the old owner's attempts: %dms, want next's minute", ttl)
			}
			if ok, err := next.Unlock(context.Background(), "l", "next"); !ok || err != nil {
				t.Fatalf("Unlock by next: got %v, %v; want true, nil", ok, err)
			}
			if _, err := next.ExtendLock(ctx, "l", "next", 0); !errors.Is(err, backends.ErrInvalidArgument) {
				t.Fatalf("ExtendLock with TTL 0: got %v, want ErrInvalidArgument", err)
			}
		})
	}
}
