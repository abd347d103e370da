package backendtest

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/cashews-go/cashews/backends"
)

// incr calls Incr and reports unless it returns want.
func (e *env) incr(key string, by int64, ttl time.Duration, want int64) {
	e.t.Helper()
	got, err := e.b.Incr(e.ctx(), key, by, ttl)
	if got != want || err != nil {
		e.t.Errorf("Incr(%q, %d, %v) = (%d, %v), want (%d, nil)", key, by, ttl, got, err, want)
	}
}

func testIncr(e *env) {
	k := e.key("n")
	e.incr(k, 1, 0, 1)
	e.incr(k, 5, 0, 6)
	e.incr(k, -10, 0, -4)
	e.incr(k, 0, 0, -4)
	e.check(e.hit(k, e.counter(-4)))

	k = e.key("from-missing-negative")
	e.incr(k, -3, 0, -3)

	k = e.key("large")
	e.incr(k, 1<<62, 0, 1<<62)
	e.incr(k, -(1 << 62), 0, 0)

	// Beyond 2^53, where a float64 (a Lua number, say) would round: exact with a TTL too.
	k = e.key("large-ttl")
	e.incr(k, 1<<62+1, time.Hour, 1<<62+1)
	e.incr(k, 2, time.Hour, 1<<62+3)

	// A counter written with Set: int64 in a Go value store, decimal text in a byte store.
	k = e.key("set")
	e.set(k, e.counter(41), 0)
	e.incr(k, 1, 0, 42)
	e.check(e.hit(k, e.counter(42)))
}

func testIncrTTL(e *env) {
	// A new key gets the TTL; a later Incr with another TTL does not change it.
	k := e.key("with-ttl")
	start := e.now()
	e.incr(k, 1, time.Minute, 1)
	e.check(e.ttlWithin(k, time.Minute, start))
	e.incr(k, 1, time.Hour, 2)
	e.check(e.ttlWithin(k, time.Minute, start))

	// A key without expiry keeps none.
	k = e.key("no-ttl")
	e.incr(k, 1, 0, 1)
	e.check(e.noExpiry(k))
	e.incr(k, 1, time.Minute, 2)
	e.check(e.noExpiry(k))

	// A value written with Set and no TTL keeps none either.
	k = e.key("set")
	e.set(k, e.counter(1), 0)
	e.incr(k, 1, time.Minute, 2)
	e.check(e.noExpiry(k))

	// The counter expires, and counts from zero again.
	k = e.key("expires")
	ttl := e.shortTTL()
	start = e.now()
	e.incr(k, 5, ttl, 5)
	e.afterExpiry(start, ttl, "counter created with a TTL", func() error { return e.miss(k) })
	e.incr(k, 1, 0, 1)
	e.check(e.noExpiry(k))
}

func testIncrNotInteger(e *env) {
	ctx := e.ctx()
	values := []any{[]byte("abc"), []byte("1.5"), []byte("")}
	if !e.bytes {
		values = []any{"abc", 1.5, point{1, 2}}
	}
	for i, v := range values {
		k := e.key("v" + string(rune('0'+i)))
		e.set(k, v, 0)
		_, err := e.b.Incr(ctx, k, 1, 0)
		e.wantErrIs(err, backends.ErrNotInteger, "Incr(%q) on the value %s", k, show(v))
		e.check(e.hit(k, v))
	}
	// A set is not an integer either; Redis reports such a key as the wrong type.
	k := e.key("set")
	_, err := e.b.SetAdd(ctx, k, 0, "m")
	e.must(err, "SetAdd(%q)", k)
	if _, err := e.b.Incr(ctx, k, 1, 0); !errors.Is(err, backends.ErrNotInteger) && !errors.Is(err, backends.ErrWrongType) {
		e.t.Errorf("Incr(%q) on a set: error = %v, want an error wrapping ErrNotInteger or ErrWrongType", k, err)
	}
	e.check(e.members(k, "m"))
}

func testIncrConcurrent(e *env) {
	const workers, each = 16, 100
	k := e.key("n")
	parallel(workers, func(int) {
		for range each {
			if _, err := e.b.Incr(e.ctx(), k, 1, 0); err != nil {
				e.t.Errorf("Incr(%q): %v", k, err)
				return
			}
		}
	})
	e.incr(k, 0, 0, workers*each)
}

func testExpire(e *env) {
	ctx := e.ctx()
	if ok, err := e.b.Expire(ctx, e.key("missing"), time.Minute); ok || err != nil {
		e.t.Errorf("Expire(missing, 1m) = (%v, %v), want (false, nil)", ok, err)
	}
	e.check(e.exists(e.key("missing"), false))

	k := e.key("k")
	e.set(k, e.val("v"), 0)
	e.check(e.noExpiry(k))
	start := e.now()
	if ok, err := e.b.Expire(ctx, k, time.Minute); !ok || err != nil {
		e.t.Errorf("Expire(present, 1m) = (%v, %v), want (true, nil)", ok, err)
	}
	e.check(e.ttlWithin(k, time.Minute, start))
	if ok, err := e.b.Expire(ctx, k, 0); !ok || err != nil {
		e.t.Errorf("Expire(present, 0) = (%v, %v), want (true, nil)", ok, err)
	}
	e.check(e.noExpiry(k))
	e.check(e.hit(k, e.val("v")))

	// Expire shortens a TTL as well as it lengthens one.
	k = e.key("shorten")
	e.set(k, e.val("v"), time.Hour)
	start = e.now()
	if ok, err := e.b.Expire(ctx, k, 10*time.Second); !ok || err != nil {
		e.t.Errorf("Expire(present, 10s) = (%v, %v), want (true, nil)", ok, err)
	}
	e.check(e.ttlWithin(k, 10*time.Second, start))

	// The key goes when its new TTL runs out.
	k = e.key("expires")
	e.set(k, e.val("v"), 0)
	ttl := e.shortTTL()
	start = e.now()
	if ok, err := e.b.Expire(ctx, k, ttl); !ok || err != nil {
		e.t.Errorf("Expire(present, %v) = (%v, %v), want (true, nil)", ttl, ok, err)
	}
	e.beforeExpiry(start, ttl, "key given a TTL by Expire", func() error { return e.hit(k, e.val("v")) })
	e.afterExpiry(start, ttl, "key given a TTL by Expire", func() error { return e.miss(k) })
	if ok, err := e.b.Expire(ctx, k, time.Minute); ok || err != nil {
		e.t.Errorf("Expire(expired, 1m) = (%v, %v), want (false, nil)", ok, err)
	}
}

func testPing(e *env) {
	if err := e.b.Ping(e.ctx()); err != nil {
		e.t.Errorf("Ping() = %v, want nil", err)
	}
}

func testValueSize(e *env) {
	ctx := e.ctx()
	type tc struct {
		name  string
		value any
		min   int64
	}
	tcs := []tc{{"small", e.val("x"), 1}, {"1000", e.val(string(make([]byte, 1000))), 1}}
	if e.bytes {
		tcs[1].min = 1000
	} else {
		tcs = append(tcs, tc{"struct", point{1, 2}, 1}, tc{"int", 42, 1})
	}
	for _, c := range tcs {
		k := e.key(c.name)
		e.set(k, c.value, 0)
		if n, err := e.b.ValueSize(ctx, k); n < c.min || err != nil {
			e.t.Errorf("ValueSize(%q) holding %s = (%d, %v), want (>= %d, nil)", k, show(c.value), n, err, c.min)
		}
	}
	if n, err := e.b.ValueSize(ctx, e.key("missing")); n != 0 || err != nil {
		e.t.Errorf("ValueSize(missing) = (%d, %v), want (0, nil)", n, err)
	}
}

// integerValues are the values of every Go integer type a Go value store counts from, each 10.
type namedInt int16

func integerValues() []any {
	return []any{10, int8(10), int16(10), int32(10), int64(10), uint(10), uint8(10), uint16(10), uint32(10), uint64(10), uintptr(10), namedInt(10)}
}

func testIncrSeededBySet(e *env) {
	ctx := e.ctx()
	// A counter seeded by Set: in a Go value store an integer of any Go integer type (the Cache
	// stores Set(ctx, key, 10) as it is); in a byte store the canonical decimal text (which the
	// Cache writes for an integer without a secret).
	seeds := []any{[]byte("10"), []byte("-10"), []byte("0"), []byte("9223372036854775806")}
	if !e.bytes {
		seeds = integerValues()
	}
	for i, v := range seeds {
		k := e.key("seed:" + string(rune('a'+i)))
		e.set(k, v, 0)
		n, err := e.b.Incr(ctx, k, 1, 0)
		want := int64(11)
		if p, ok := v.([]byte); ok {
			var perr error
			if want, perr = parseDecimal(p); perr != nil {
				e.t.Fatal(perr)
			}
			want++
		}
		if n != want || err != nil {
			e.t.Errorf("Incr(%q, 1) on %s stored with Set = (%d, %v), want (%d, nil)", k, show(v), n, err, want)
		}
		e.check(e.hit(k, e.counter(want)))
	}
	// What is not the canonical text of an integer, or not an integer at all, is not a counter:
	// Redis' INCR decides, and the other stores follow it.
	others := []any{[]byte("010"), []byte("+1"), []byte(" 1"), []byte("1 "), []byte("0x1"), []byte("1e3"), []byte("9223372036854775808")}
	if !e.bytes {
		others = []any{"10", []byte("10"), 10.0, float32(1), true}
	}
	for i, v := range others {
		k := e.key("other:" + string(rune('a'+i)))
		e.set(k, v, 0)
		_, err := e.b.Incr(ctx, k, 1, 0)
		e.wantErrIs(err, backends.ErrNotInteger, "Incr(%q) on %s", k, show(v))
		e.check(e.hit(k, v))
	}
}

func parseDecimal(p []byte) (int64, error) {
	var n int64
	_, err := fmt.Sscan(string(p), &n)
	return n, err
}

// asBytes returns the bytes of a []byte or string value.
func asBytes(v any) ([]byte, bool) {
	switch x := v.(type) {
	case []byte:
		return x, true
	case string:
		return []byte(x), true
	}
	return nil, false
}

func testCompareAndSwap(e *env) {
	cas, ok := e.b.Backend.(backends.CompareAndSwapper)
	if !ok {
		e.t.Skip("the backend does not implement backends.CompareAndSwapper")
	}
	ctx := e.ctx()
	swap := func(key, old, new string, want bool, wantCur any) {
		e.t.Helper()
		oldB, newB := []byte(old), []byte(new)
		swapped, cur, err := cas.CompareAndSwap(ctx, key, oldB, newB)
		wantEntry := backends.Entry{}
		if wantCur != nil {
			wantEntry = backends.Entry{Value: wantCur, Found: true}
		}
		if swapped != want || err != nil || cur.Found != wantEntry.Found || !equal(cur.Value, wantEntry.Value) {
			e.t.Errorf("CompareAndSwap(%q, %q, %q) = (%v, %s, %v), want (%v, %s, nil)", key, old, new, swapped, showEntries([]backends.Entry{cur}), err, want, showEntries([]backends.Entry{wantEntry}))
		}
		// The backend keeps neither buffer: the caller may reuse them.
		for i := range oldB {
			oldB[i] = '#'
		}
		for i := range newB {
			newB[i] = '#'
		}
	}

	k := e.key("missing")
	swap(k, "a", "b", false, nil)
	e.check(e.exists(k, false))

	// A key with a TTL keeps it; a swap needs the very bytes.
	k = e.key("ttl")
	start := e.now()
	e.set(k, e.val("a"), time.Hour)
	swap(k, "x", "b", false, e.val("a"))
	swap(k, "", "b", false, e.val("a"))
	swap(k, "a ", "b", false, e.val("a"))
	e.check(e.hit(k, e.val("a")))
	swap(k, "a", "b", true, nil)
	e.check(e.hit(k, []byte("b")))
	e.check(e.ttlWithin(k, time.Hour, start))
	swap(k, "a", "c", false, []byte("b"))

	// A key without a TTL keeps none; an empty value is a value.
	k = e.key("no-ttl")
	e.set(k, e.val(""), 0)
	swap(k, "", "1", true, nil)
	e.check(e.noExpiry(k))
	swap(k, "1", "", true, nil)
	e.check(e.hit(k, []byte{}))

	// A swap changes the value in place, as Incr does: a tagged key keeps its tags.
	if tg, ok := e.b.Backend.(backends.Tagger); ok {
		k = e.key("tagged")
		tag := e.key("tag")
		if ok, err := tg.SetTagged(ctx, k, e.val("a"), 0, backends.SetAlways, []string{tag}); !ok || err != nil {
			e.t.Fatalf("SetTagged(%q) = %v, %v", k, ok, err)
		}
		swap(k, "a", "b", true, nil)
		if keys, err := tg.TagKeys(ctx, tag); err != nil || len(keys) != 1 || keys[0] != k {
			e.t.Errorf("after a swap, TagKeys(%q) = %q, %v; want [%q]", tag, keys, err, k)
		}
	}

	// A key that holds no value is not swapped, and not reported as a value.
	k = e.key("set")
	_, err := e.b.SetAdd(ctx, k, 0, "a")
	e.must(err, "SetAdd(%q)", k)
	swap(k, "a", "b", false, nil)
	e.check(e.members(k, "a"))

	// An expired key is missing.
	k = e.key("expires")
	ttl := e.shortTTL()
	start = e.now()
	e.set(k, e.val("a"), ttl)
	e.afterExpiry(start, ttl, "value with a TTL", func() error { return e.miss(k) })
	swap(k, "a", "b", false, nil)
	e.check(e.exists(k, false))

	// Atomic: read-modify-write loops over CompareAndSwap lose no increment.
	k = e.key("counter")
	e.set(k, e.val("0"), 0)
	const workers, each = 8, 25
	parallel(workers, func(int) {
		v, _, err := e.b.Get(ctx, k)
		if err != nil {
			e.t.Errorf("Get(%q): %v", k, err)
			return
		}
		for done := 0; done < each; {
			old, ok := asBytes(v)
			if !ok {
				e.t.Errorf("Get(%q) = %s, want []byte or string", k, show(v))
				return
			}
			n, err := parseDecimal(old)
			if err != nil {
				e.t.Errorf("counter %q: %v", old, err)
				return
			}
			swapped, cur, err := cas.CompareAndSwap(ctx, k, old, []byte(strconv.FormatInt(n+1, 10)))
			if err != nil || (!swapped && !cur.Found) {
				e.t.Errorf("CompareAndSwap(%q) = (%v, %s, %v)", k, swapped, showEntries([]backends.Entry{cur}), err)
				return
			}
			if swapped {
				done++
				v = []byte(strconv.FormatInt(n+1, 10))
			} else {
				v = cur.Value
			}
		}
	})
	e.check(e.hit(k, []byte(strconv.Itoa(workers*each))))
}
