package backendtest

import (
	"math"
	"strconv"
	"time"

	"github.com/cashews-go/cashews/backends"
)

// longTTLs are TTLs past backends.MaxTTL: the largest Duration, one past the point where now + ttl
// in nanoseconds overflows an int64 (about 237 years from 2025), and one just over MaxTTL.
var longTTLs = []time.Duration{time.Duration(math.MaxInt64), 250 * 365 * 24 * time.Hour, backends.MaxTTL + time.Hour}

// testLongTTL checks that TTLs longer than MaxTTL are stored as MaxTTL by every command that takes a
// TTL or a window: nothing vanishes, counts stay counts, a lock stays held against other owners.
func testLongTTL(e *env) {
	ctx := e.ctx()
	start := e.now()
	for i, ttl := range longTTLs {
		k := e.key("value" + strconv.Itoa(i))
		e.set(k, e.val("v"), ttl)
		e.check(all(e.hit(k, e.val("v")), e.ttlWithin(k, backends.MaxTTL, start)))
	}

	ttl := longTTLs[0]
	many := e.key("many")
	e.must(e.b.SetMany(ctx, []backends.Item{{Key: many, Value: e.val("m"), TTL: ttl}}), "SetMany(%q, ttl %v)", many, ttl)
	e.check(all(e.hit(many, e.val("m")), e.ttlWithin(many, backends.MaxTTL, start)))

	counter := e.key("counter")
	for want := int64(1); want <= 3; want++ {
		n, err := e.b.Incr(ctx, counter, 1, ttl)
		e.must(err, "Incr(%q, 1, %v)", counter, ttl)
		if n != want {
			e.t.Errorf("Incr(%q, 1, %v) = %d, want %d: the counter must survive a TTL over MaxTTL", counter, ttl, n, want)
		}
	}
	e.check(e.ttlWithin(counter, backends.MaxTTL, start))

	expiring := e.key("expire")
	e.set(expiring, e.val("x"), time.Minute)
	ok, err := e.b.Expire(ctx, expiring, ttl)
	e.must(err, "Expire(%q, %v)", expiring, ttl)
	if !ok {
		e.t.Errorf("Expire(%q, %v) = false, want true", expiring, ttl)
	}
	e.check(all(e.hit(expiring, e.val("x")), e.ttlWithin(expiring, backends.MaxTTL, start)))

	set := e.key("set")
	for _, m := range []string{"a", "b"} {
		_, err := e.b.SetAdd(ctx, set, ttl, m)
		e.must(err, "SetAdd(%q, %v, %q)", set, ttl, m)
	}
	e.check(all(e.members(set, "a", "b"), e.ttlWithin(set, backends.MaxTTL, start)))

	lock := e.key("lock")
	ok, err = e.b.SetLock(ctx, lock, "first", ttl)
	e.must(err, "SetLock(%q, first, %v)", lock, ttl)
	if !ok {
		e.t.Fatalf("SetLock(%q, first, %v) = false on a free lock, want true", lock, ttl)
	}
	ok, err = e.b.SetLock(ctx, lock, "second", time.Minute)
	e.must(err, "SetLock(%q, second, 1m)", lock)
	if ok {
		e.t.Errorf("SetLock(%q, second) = true while first holds it with a TTL of %v, want false", lock, ttl)
	}
	ok, err = e.b.ExtendLock(ctx, lock, "first", ttl)
	e.must(err, "ExtendLock(%q, first, %v)", lock, ttl)
	if !ok {
		e.t.Errorf("ExtendLock(%q, first, %v) = false, want true", lock, ttl)
	}
	locked, err := e.b.IsLocked(ctx, lock)
	e.must(err, "IsLocked(%q)", lock)
	if !locked {
		e.t.Errorf("IsLocked(%q) = false after SetLock and ExtendLock with %v, want true", lock, ttl)
	}
	e.check(e.ttlWithin(lock, backends.MaxTTL, start))

	window := e.key("window")
	at := e.now()
	for i, want := range []struct {
		count    int64
		recorded bool
	}{{1, true}, {2, true}, {2, false}} {
		count, recorded, err := e.b.SliceIncr(ctx, window, at, ttl, 2)
		e.must(err, "SliceIncr(%q, window %v, limit 2)", window, ttl)
		if count != want.count || recorded != want.recorded {
			e.t.Errorf("SliceIncr(%q, window %v, limit 2) call %d = (%d, %v), want (%d, %v)", window, ttl, i+1, count, recorded, want.count, want.recorded)
		}
	}
	e.check(e.ttlWithin(window, backends.MaxTTL, start))

	if !e.realTime {
		// A year later everything is still there.
		e.clock.Advance(365 * 24 * time.Hour)
		e.check(all(e.hit(e.key("value0"), e.val("v")), e.hit(counter, e.counter(3)), e.members(set, "a", "b"), e.exists(lock, true)))
	}
}
