package backendtest

import (
	"fmt"
	"reflect"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cashews-go/cashews/backends"
)

func testMiss(e *env) {
	ctx, k, k2 := e.ctx(), e.key("missing"), e.key("missing2")
	e.check(e.miss(k))
	entries, err := e.b.GetMany(ctx, []string{k, k2})
	if err != nil || len(entries) != 2 || entries[0].Found || entries[1].Found || entries[0].Value != nil || entries[1].Value != nil {
		e.t.Errorf("GetMany(two missing keys) = (%s, %v), want ([{nil false} {nil false}], nil)", showEntries(entries), err)
	}
	e.check(e.exists(k, false))
	if ttl, found, err := e.b.GetExpire(ctx, k); ttl != 0 || found || err != nil {
		e.t.Errorf("GetExpire(missing) = (%v, %v, %v), want (0, false, nil)", ttl, found, err)
	}
	if n, err := e.b.ValueSize(ctx, k); n != 0 || err != nil {
		e.t.Errorf("ValueSize(missing) = (%d, %v), want (0, nil)", n, err)
	}
	if ok, err := e.b.Delete(ctx, k); ok || err != nil {
		e.t.Errorf("Delete(missing) = (%v, %v), want (false, nil)", ok, err)
	}
	if n, err := e.b.DeleteMany(ctx, []string{k, k2}); n != 0 || err != nil {
		e.t.Errorf("DeleteMany(two missing keys) = (%d, %v), want (0, nil)", n, err)
	}
	if n, err := e.b.DeleteMany(ctx, nil); n != 0 || err != nil {
		e.t.Errorf("DeleteMany(no keys) = (%d, %v), want (0, nil)", n, err)
	}
	if ok, err := e.b.Expire(ctx, k, time.Minute); ok || err != nil {
		e.t.Errorf("Expire(missing, 1m) = (%v, %v), want (false, nil)", ok, err)
	}
	if ok, err := e.b.Set(ctx, k, e.val("v"), 0, backends.SetIfPresent); ok || err != nil {
		e.t.Errorf("Set(missing, if-present) = (%v, %v), want (false, nil)", ok, err)
	}
	e.check(e.members(k))
	if got, err := e.b.SetPop(ctx, k, 3); len(got) != 0 || err != nil {
		e.t.Errorf("SetPop(missing, 3) = (%q, %v), want ([], nil)", got, err)
	}
	if n, err := e.b.SetRemove(ctx, k, "a"); n != 0 || err != nil {
		e.t.Errorf("SetRemove(missing, a) = (%d, %v), want (0, nil)", n, err)
	}
	if got, err := e.b.GetBits(ctx, k, 4, 0, 7); err != nil || len(got) != 2 || got[0] != 0 || got[1] != 0 {
		e.t.Errorf("GetBits(missing, 4, 0, 7) = (%v, %v), want ([0 0], nil)", got, err)
	}
	if ok, err := e.b.IsLocked(ctx, k); ok || err != nil {
		e.t.Errorf("IsLocked(missing) = (%v, %v), want (false, nil)", ok, err)
	}
	if ok, err := e.b.Unlock(ctx, k, "token"); ok || err != nil {
		e.t.Errorf("Unlock(missing) = (%v, %v), want (false, nil)", ok, err)
	}
	if ok, err := e.b.ExtendLock(ctx, k, "token", time.Minute); ok || err != nil {
		e.t.Errorf("ExtendLock(missing) = (%v, %v), want (false, nil)", ok, err)
	}
	if entries, err := e.b.GetMany(ctx, nil); len(entries) != 0 || err != nil {
		e.t.Errorf("GetMany(no keys) = (%s, %v), want ([], nil)", showEntries(entries), err)
	}
	// None of the reads above may have created the key.
	e.check(e.exists(k, false))
	e.check(e.exists(k2, false))
}

type point struct{ X, Y int }

func testSetGet(e *env) {
	type tc struct {
		name  string
		value any
	}
	var tcs []tc
	if e.bytes {
		binary := make([]byte, 256)
		for i := range binary {
			binary[i] = byte(i)
		}
		large := make([]byte, 1<<20)
		for i := range large {
			large[i] = byte(i * 7)
		}
		tcs = []tc{
			{"text", []byte("hello")},
			{"empty", []byte{}},
			{"binary", binary},
			{"1MiB", large},
		}
	} else {
		tcs = []tc{
			{"string", "hello"},
			{"int", 42},
			{"int64", int64(-7)},
			{"float", 1.5},
			{"struct", point{1, 2}},
			{"slice", []string{"a", "b"}},
			{"bytes", []byte("raw")},
			{"nil", nil},
		}
	}
	ctx := e.ctx()
	for _, c := range tcs {
		k := e.key("v:" + c.name)
		e.set(k, c.value, 0)
		e.check(e.hit(k, c.value))
		entries, err := e.b.GetMany(ctx, []string{k})
		if err != nil || len(entries) != 1 || !entries[0].Found || !equal(entries[0].Value, c.value) {
			e.t.Errorf("GetMany([%q]) = (%s, %v), want ([{%s true}], nil)", k, showEntries(entries), err, show(c.value))
		}
		e.check(e.exists(k, true))
	}
	k := e.key("overwrite")
	e.set(k, e.val("first"), 0)
	e.set(k, e.val("second"), 0)
	e.check(e.hit(k, e.val("second")))
}

func testByteValuesOwned(e *env) {
	if !e.bytes {
		e.t.Skip("the backend stores Go values, which it keeps as they are")
	}
	ctx, k := e.ctx(), e.key("owned")
	v := []byte("abc")
	e.set(k, v, 0)
	v[0] = 'X' // the caller reuses its buffer after Set
	e.check(e.hit(k, []byte("abc")))
	got, _, err := e.b.Get(ctx, k)
	e.must(err, "Get(%q)", k)
	if b, ok := got.([]byte); ok && len(b) > 0 {
		b[0] = 'Y' // the caller owns what Get returned
	}
	e.check(e.hit(k, []byte("abc")))
	entries, err := e.b.GetMany(ctx, []string{k})
	e.must(err, "GetMany(%q)", k)
	if b, ok := entries[0].Value.([]byte); ok && len(b) > 0 {
		b[0] = 'Z'
	}
	e.check(e.hit(k, []byte("abc")))

	k2 := e.key("owned-many")
	v2 := []byte("def")
	e.must(e.b.SetMany(ctx, []backends.Item{{Key: k2, Value: v2}}), "SetMany(%q)", k2)
	v2[0] = 'X'
	e.check(e.hit(k2, []byte("def")))
}

func testGoValuesKept(e *env) {
	if e.bytes {
		e.t.Skip("the backend stores []byte values")
	}
	k := e.key("pointer")
	p := &point{1, 2}
	e.set(k, p, 0)
	got, found, err := e.b.Get(e.ctx(), k)
	if err != nil || !found || got != any(p) {
		e.t.Errorf("Get(%q) = (%p, %v, %v), want (the pointer %p given to Set, true, nil)", k, got, found, err, p)
	}
	entries, err := e.b.GetMany(e.ctx(), []string{k})
	if err != nil || len(entries) != 1 || entries[0].Value != any(p) {
		e.t.Errorf("GetMany([%q]) = (%s, %v), want the pointer %p given to Set", k, showEntries(entries), err, p)
	}
}

func testTTLZero(e *env) {
	k := e.key("forever")
	e.set(k, e.val("v"), 0)
	e.check(e.noExpiry(k))
	if !e.realTime {
		e.clock.Advance(100 * 365 * 24 * time.Hour)
		e.check(e.hit(k, e.val("v")))
		e.check(e.noExpiry(k))
	}
}

func testTTLExpires(e *env) {
	ctx, k, ttl := e.ctx(), e.key("short"), e.shortTTL()
	start := e.now()
	e.set(k, e.val("v"), ttl)
	e.beforeExpiry(start, ttl, "key with a TTL", func() error {
		return all(e.hit(k, e.val("v")), e.exists(k, true))
	})
	e.afterExpiry(start, ttl, "key with a TTL", func() error { return e.miss(k) })
	e.check(e.exists(k, false))
	if got, found, err := e.b.GetExpire(ctx, k); got != 0 || found || err != nil {
		e.t.Errorf("GetExpire(expired) = (%v, %v, %v), want (0, false, nil)", got, found, err)
	}
	if entries, err := e.b.GetMany(ctx, []string{k}); err != nil || len(entries) != 1 || entries[0].Found {
		e.t.Errorf("GetMany([expired]) = (%s, %v), want ([{nil false}], nil)", showEntries(entries), err)
	}
	if ok, err := e.b.Set(ctx, k, e.val("present?"), 0, backends.SetIfPresent); ok || err != nil {
		e.t.Errorf("Set(expired, if-present) = (%v, %v), want (false, nil)", ok, err)
	}
	if ok, err := e.b.Set(ctx, k, e.val("new"), 0, backends.SetIfAbsent); !ok || err != nil {
		e.t.Errorf("Set(expired, if-absent) = (%v, %v), want (true, nil)", ok, err)
	}
	e.check(e.hit(k, e.val("new")))
	e.check(e.noExpiry(k))
}

func testSetReplacesTTL(e *env) {
	k := e.key("k")
	e.set(k, e.val("a"), time.Hour)
	e.set(k, e.val("b"), 0)
	e.check(e.noExpiry(k))
	start := e.now()
	e.set(k, e.val("c"), time.Minute)
	e.check(e.ttlWithin(k, time.Minute, start))
	start = e.now()
	ok, err := e.b.Set(e.ctx(), k, e.val("d"), 10*time.Second, backends.SetIfPresent)
	e.must(err, "Set(%q, if-present)", k)
	if !ok {
		e.t.Errorf("Set(present, if-present) = false, want true")
	}
	e.check(e.ttlWithin(k, 10*time.Second, start))
}

func testNegativeTTL(e *env) {
	ctx := e.ctx()
	for _, mode := range []backends.SetMode{backends.SetAlways, backends.SetIfAbsent, backends.SetIfPresent} {
		k := e.key("set-" + mode.String())
		if mode == backends.SetIfPresent {
			e.set(k, e.val("old"), 0)
		}
		_, err := e.b.Set(ctx, k, e.val("v"), -time.Second, mode)
		e.wantErrIs(err, backends.ErrInvalidArgument, "Set(%q, ttl -1s, %v)", k, mode)
		if mode == backends.SetIfPresent {
			e.check(e.hit(k, e.val("old")))
		} else {
			e.check(e.exists(k, false))
		}
	}
	k := e.key("many")
	err := e.b.SetMany(ctx, []backends.Item{{Key: k, Value: e.val("v"), TTL: -time.Second}})
	e.wantErrIs(err, backends.ErrInvalidArgument, "SetMany(item with ttl -1s)")
	e.check(e.exists(k, false))

	k = e.key("incr")
	_, err = e.b.Incr(ctx, k, 1, -time.Second)
	e.wantErrIs(err, backends.ErrInvalidArgument, "Incr(%q, 1, ttl -1s)", k)
	e.check(e.exists(k, false))

	k = e.key("setadd")
	_, err = e.b.SetAdd(ctx, k, -time.Second, "a")
	e.wantErrIs(err, backends.ErrInvalidArgument, "SetAdd(%q, ttl -1s, a)", k)
	e.check(e.exists(k, false))

	k = e.key("expire")
	e.set(k, e.val("v"), 0)
	_, err = e.b.Expire(ctx, k, -time.Second)
	e.wantErrIs(err, backends.ErrInvalidArgument, "Expire(%q, -1s)", k)
	e.check(e.hit(k, e.val("v")))
	e.check(e.noExpiry(k))
}

func testSetModes(e *env) {
	ctx, k := e.ctx(), e.key("k")
	step := func(v string, mode backends.SetMode, want bool, then string) {
		e.t.Helper()
		ok, err := e.b.Set(ctx, k, e.val(v), 0, mode)
		if ok != want || err != nil {
			e.t.Errorf("Set(%q, %q, %v) = (%v, %v), want (%v, nil)", k, v, mode, ok, err, want)
		}
		if then == "" {
			e.check(e.miss(k))
		} else {
			e.check(e.hit(k, e.val(then)))
		}
	}
	step("a", backends.SetIfPresent, false, "")
	step("b", backends.SetIfAbsent, true, "b")
	step("c", backends.SetIfAbsent, false, "b")
	step("d", backends.SetIfPresent, true, "d")
	step("e", backends.SetAlways, true, "e")

	// A set is a present key too.
	s := e.key("set")
	_, err := e.b.SetAdd(ctx, s, 0, "m")
	e.must(err, "SetAdd(%q)", s)
	if ok, err := e.b.Set(ctx, s, e.val("v"), 0, backends.SetIfAbsent); ok || err != nil {
		e.t.Errorf("Set(set key, if-absent) = (%v, %v), want (false, nil)", ok, err)
	}
	e.check(e.members(s, "m"))
}

func testSetIfAbsentRace(e *env) {
	const rounds, workers = 10, 8
	for r := range rounds {
		k := e.key("race:" + strconv.Itoa(r))
		var wins atomic.Int32
		parallel(workers, func(i int) {
			ok, err := e.b.Set(e.ctx(), k, e.val(strconv.Itoa(i)), 0, backends.SetIfAbsent)
			if err != nil {
				e.t.Errorf("Set(%q, if-absent) from goroutine %d: %v", k, i, err)
			}
			if ok {
				wins.Add(1)
			}
		})
		if n := wins.Load(); n != 1 {
			e.t.Errorf("round %d: %d of %d goroutines racing Set(if-absent) on one key wrote, want exactly 1", r, n, workers)
		}
	}
}

func testSetManyGetMany(e *env) {
	ctx := e.ctx()
	a, b, c, d, missing := e.key("a"), e.key("b"), e.key("c"), e.key("d"), e.key("missing")
	e.set(a, e.val("old"), time.Hour) // SetMany overwrites it, TTL included
	ttl := e.shortTTL()
	items := []backends.Item{
		{Key: a, Value: e.val("va")},
		{Key: b, Value: e.val("vb"), TTL: ttl},
		{Key: c, Value: e.val("vc"), TTL: time.Hour},
	}
	var dValue any = e.val("vd")
	if !e.bytes {
		dValue = nil // a stored nil is Found with a nil Value
	}
	items = append(items, backends.Item{Key: d, Value: dValue})
	start := e.now()
	e.must(e.b.SetMany(ctx, items), "SetMany(4 items)")
	e.must(e.b.SetMany(ctx, nil), "SetMany(no items)")

	keys := []string{a, missing, b, c, d, a}
	hit := func(v any) backends.Entry { return backends.Entry{Value: v, Found: true} }
	want := []backends.Entry{hit(e.val("va")), {}, hit(e.val("vb")), hit(e.val("vc")), hit(dValue), hit(e.val("va"))}
	matches := func(got []backends.Entry, want []backends.Entry) bool {
		if len(got) != len(want) {
			return false
		}
		for i := range got {
			if got[i].Found != want[i].Found || !equal(got[i].Value, want[i].Value) {
				return false
			}
		}
		return true
	}
	e.beforeExpiry(start, ttl, "GetMany", func() error {
		got, err := e.b.GetMany(ctx, keys)
		if err != nil || !matches(got, want) {
			return fmt.Errorf("GetMany(a, missing, b, c, d, a) = (%s, %v), want (%s, nil)", showEntries(got), err, showEntries(want))
		}
		return nil
	})
	e.check(e.noExpiry(a))
	e.check(e.ttlAbove(c, time.Hour-e.now().Sub(start)-ttlSlack, time.Hour))

	want[2] = backends.Entry{}
	e.afterExpiry(start, ttl, "GetMany after b's TTL", func() error {
		got, err := e.b.GetMany(ctx, keys)
		if err != nil || !matches(got, want) {
			return fmt.Errorf("GetMany(a, missing, b, c, d, a) = (%s, %v), want (%s, nil)", showEntries(got), err, showEntries(want))
		}
		return nil
	})
}

func testGetManyNonValues(e *env) {
	ctx := e.ctx()
	val, ctr, set, win, bits, lock, missing := e.key("value"), e.key("counter"), e.key("set"), e.key("window"), e.key("bits"), e.key("lock"), e.key("missing")
	e.set(val, e.val("v"), 0)
	e.incr(ctr, 5, 0, 5)
	_, err := e.b.SetAdd(ctx, set, 0, "m")
	e.must(err, "SetAdd(%q)", set)
	_, _, err = e.b.SliceIncr(ctx, win, e.now(), time.Minute, 10)
	e.must(err, "SliceIncr(%q)", win)
	_, err = e.b.IncrBits(ctx, bits, 1, 1, 0, 7)
	e.must(err, "IncrBits(%q)", bits)
	ok, err := e.b.SetLock(ctx, lock, "token", time.Minute)
	e.must(err, "SetLock(%q)", lock)
	if !ok {
		e.t.Fatalf("SetLock(%q) = false, want true", lock)
	}

	keys := []string{val, ctr, set, win, bits, lock, missing, val}
	got, err := e.b.GetMany(ctx, keys)
	if err != nil || len(got) != len(keys) {
		e.t.Fatalf("GetMany(value, counter, set, window, bits, lock, missing, value) = (%s, %v), want %d entries and no error: keys that hold no value are not found, as MGET reports them", showEntries(got), err, len(keys))
	}
	want := []backends.Entry{
		{Value: e.val("v"), Found: true},
		{Value: e.counter(5), Found: true},
		{}, {}, // the set and the sliding window hold no value
		{}, // the bit array and the lock: checked below
		{},
		{},
		{Value: e.val("v"), Found: true},
	}
	for i, w := range want {
		if i == 4 || i == 5 {
			continue
		}
		if got[i].Found != w.Found || !equal(got[i].Value, w.Value) {
			e.t.Errorf("GetMany: entry %d (%s) = %s, want %s", i, keys[i], showEntries(got[i:i+1]), showEntries(want[i:i+1]))
		}
	}
	// A bit array is not found where the store keeps it apart from values; a store that keeps bit
	// arrays in strings (Redis, disk) returns the bytes, which the Cache does not take for a value.
	if b := got[4]; b.Found {
		if _, isBytes := b.Value.([]byte); !isBytes || !e.bytes {
			e.t.Errorf("GetMany: the bit array = %s, want not found, or its bytes from a byte store", showEntries(got[4:5]))
		}
	}
	// The contract leaves open whether a lock is a value: either not found, or its token.
	if l := got[5]; l.Found && !equal(l.Value, e.val("token")) {
		e.t.Errorf("GetMany: the lock = %s, want not found, or its token %s", showEntries(got[5:6]), show(e.val("token")))
	}
	// Get on a key that holds no value is still an error: a single read names the problem.
	for _, k := range []string{set, win} {
		_, _, err := e.b.Get(ctx, k)
		e.wantErrIs(err, backends.ErrWrongType, "Get(%q) on a key that holds no value", k)
	}
}

// testValuesKeepTheirType checks the backend's part of typed reads: the Cache answers Get[T] from
// the type a value was stored with, so a Go value store must hand back a value of the very type it
// was given (an int32 stays an int32, a named type stays named), and a byte store the very bytes
// (the Cache's header, which records the type, included).
func testValuesKeepTheirType(e *env) {
	ctx := e.ctx()
	var values []any
	if e.bytes {
		values = []any{
			[]byte("\x01\xc0\x00\x00typed header"), // the start of a value the Cache signed
			[]byte("\x01\x40\x01" + "42"),          // an integer in the Cache's header
			[]byte("-17"),                          // a counter
		}
	} else {
		type named struct{ A int }
		values = []any{int32(5), namedInt(5), time.Duration(5), uint8(5), 5.0, float32(5), "5", []byte("5"),
			named{5}, &named{5}, map[string]named{"a": {5}}, []named{{5}}}
	}
	for i, v := range values {
		k := e.key("t" + strconv.Itoa(i))
		e.set(k, v, 0)
		got, found, err := e.b.Get(ctx, k)
		if err != nil || !found || reflect.TypeOf(got) != reflect.TypeOf(v) || !equal(got, v) {
			e.t.Errorf("Get(%q) = (%s of type %T, %v, %v), want %s of type %T: the type a value was stored with is how the Cache reads it", k, show(got), got, found, err, show(v), v)
		}
		entries, err := e.b.GetMany(ctx, []string{k})
		if err != nil || len(entries) != 1 || reflect.TypeOf(entries[0].Value) != reflect.TypeOf(v) {
			e.t.Errorf("GetMany([%q]) = (%s, %v), want one %T", k, showEntries(entries), err, v)
		}
	}
}
