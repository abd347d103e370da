package backendtest

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cashews-go/cashews/backends"
)

// lockCall reports unless got is want with a nil error.
func (e *env) lockCall(call string, got bool, err error, want bool) {
	e.t.Helper()
	if got != want || err != nil {
		e.t.Errorf("%s = (%v, %v), want (%v, nil)", call, got, err, want)
	}
}

// locked returns nil when IsLocked(key) reports want.
func (e *env) locked(key string, want bool) error {
	got, err := e.b.IsLocked(e.ctx(), key)
	if got != want || err != nil {
		return fmt.Errorf("IsLocked(%q) = (%v, %v), want (%v, nil)", key, got, err, want)
	}
	return nil
}

func testLock(e *env) {
	ctx, k := e.ctx(), e.key("lock")
	start := e.now()
	ok, err := e.b.SetLock(ctx, k, "t1", time.Minute)
	e.lockCall("SetLock(free, t1)", ok, err, true)
	e.check(e.ttlWithin(k, time.Minute, start))
	e.check(e.locked(k, true))
	ok, err = e.b.SetLock(ctx, k, "t2", time.Minute)
	e.lockCall("SetLock(held by t1, t2)", ok, err, false)
	ok, err = e.b.SetLock(ctx, k, "t1", time.Minute)
	e.lockCall("SetLock(held by t1, t1 again)", ok, err, false)
	ok, err = e.b.Unlock(ctx, k, "t2")
	e.lockCall("Unlock(held by t1, t2)", ok, err, false)
	e.check(e.locked(k, true))
	ok, err = e.b.Unlock(ctx, k, "t1")
	e.lockCall("Unlock(held by t1, t1)", ok, err, true)
	e.check(e.locked(k, false))
	ok, err = e.b.Unlock(ctx, k, "t1")
	e.lockCall("Unlock(released, t1)", ok, err, false)
	ok, err = e.b.SetLock(ctx, k, "t2", time.Minute)
	e.lockCall("SetLock(released, t2)", ok, err, true)
	e.check(e.locked(k, true))
}

func testLockExpiry(e *env) {
	ctx, k, ttl := e.ctx(), e.key("lock"), e.shortTTL()
	start := e.now()
	ok, err := e.b.SetLock(ctx, k, "old", ttl)
	e.lockCall("SetLock(free, old)", ok, err, true)
	e.beforeExpiry(start, ttl, "lock", func() error { return e.locked(k, true) })
	e.afterExpiry(start, ttl, "lock", func() error { return e.locked(k, false) })
	ok, err = e.b.SetLock(ctx, k, "new", time.Minute)
	e.lockCall("SetLock(expired, new)", ok, err, true)
	ok, err = e.b.Unlock(ctx, k, "old")
	e.lockCall("Unlock(taken over by new, old)", ok, err, false)
	e.check(e.locked(k, true))
	ok, err = e.b.ExtendLock(ctx, k, "old", time.Hour)
	e.lockCall("ExtendLock(taken over by new, old)", ok, err, false)
	ok, err = e.b.Unlock(ctx, k, "new")
	e.lockCall("Unlock(held by new, new)", ok, err, true)
	e.check(e.locked(k, false))
}

func testExtendLock(e *env) {
	ctx, k := e.ctx(), e.key("lock")
	start := e.now()
	ok, err := e.b.SetLock(ctx, k, "t1", time.Minute)
	e.lockCall("SetLock(free, t1, 1m)", ok, err, true)
	ok, err = e.b.ExtendLock(ctx, k, "t2", time.Hour)
	e.lockCall("ExtendLock(held by t1, t2, 1h)", ok, err, false)
	e.check(e.ttlWithin(k, time.Minute, start))
	ok, err = e.b.ExtendLock(ctx, k, "t1", time.Hour)
	e.lockCall("ExtendLock(held by t1, t1, 1h)", ok, err, true)
	e.check(e.ttlAbove(k, time.Minute, time.Hour))
	if !e.realTime {
		e.clock.Advance(2 * time.Minute)
		e.check(e.locked(k, true))
	}
	// Shortening works too.
	ok, err = e.b.ExtendLock(ctx, k, "t1", time.Minute)
	e.lockCall("ExtendLock(held by t1, t1, 1m)", ok, err, true)
	e.check(e.ttlWithin(k, time.Minute, e.now()))
	ok, err = e.b.Unlock(ctx, k, "t1")
	e.lockCall("Unlock(held by t1, t1)", ok, err, true)
	ok, err = e.b.ExtendLock(ctx, k, "t1", time.Hour)
	e.lockCall("ExtendLock(released, t1)", ok, err, false)
	e.check(e.locked(k, false))
}

func testLockInvalidTTL(e *env) {
	ctx, k := e.ctx(), e.key("lock")
	for _, ttl := range []time.Duration{0, -time.Second} {
		_, err := e.b.SetLock(ctx, k, "t", ttl)
		e.wantErrIs(err, backends.ErrInvalidArgument, "SetLock(%q, t, %v)", k, ttl)
		e.check(e.locked(k, false))
	}
	ok, err := e.b.SetLock(ctx, k, "t", time.Minute)
	e.lockCall("SetLock(free, t, 1m)", ok, err, true)
	start := e.now()
	for _, ttl := range []time.Duration{0, -time.Second} {
		_, err := e.b.ExtendLock(ctx, k, "t", ttl)
		e.wantErrIs(err, backends.ErrInvalidArgument, "ExtendLock(%q, t, %v)", k, ttl)
		e.check(e.locked(k, true))
		e.check(e.ttlWithin(k, time.Minute, start))
	}
}

func testLockOnValue(e *env) {
	k := e.key("k")
	e.set(k, e.val("v"), 0)
	ok, err := e.b.SetLock(e.ctx(), k, "t", time.Minute)
	e.lockCall("SetLock(key holding a value)", ok, err, false)
	e.check(e.hit(k, e.val("v")))
	e.check(e.noExpiry(k))
}

func testLockRace(e *env) {
	const rounds, workers = 20, 8
	for r := range rounds {
		k := e.key("lock:" + strconv.Itoa(r))
		var wins atomic.Int32
		var winner atomic.Value
		parallel(workers, func(i int) {
			tok := "token-" + strconv.Itoa(i)
			ok, err := e.b.SetLock(e.ctx(), k, tok, time.Minute)
			if err != nil {
				e.t.Errorf("SetLock(%q, %s) from goroutine %d: %v", k, tok, i, err)
			}
			if ok {
				wins.Add(1)
				winner.Store(tok)
			}
		})
		if n := wins.Load(); n != 1 {
			e.t.Errorf("round %d: %d of %d goroutines racing SetLock on one free lock won, want exactly 1", r, n, workers)
			continue
		}
		ok, err := e.b.Unlock(e.ctx(), k, winner.Load().(string))
		e.lockCall("Unlock(by the winner)", ok, err, true)
	}
}
