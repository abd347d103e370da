package backendtest

import (
	"slices"
	"time"

	"github.com/cashews-go/cashews/backends"
)

func testSetAddRemove(e *env) {
	ctx, k := e.ctx(), e.key("set")
	add := func(want int, members ...string) {
		e.t.Helper()
		if n, err := e.b.SetAdd(ctx, k, 0, members...); n != want || err != nil {
			e.t.Errorf("SetAdd(%q, 0, %q) = (%d, %v), want (%d, nil)", k, members, n, err, want)
		}
	}
	remove := func(want int, members ...string) {
		e.t.Helper()
		if n, err := e.b.SetRemove(ctx, k, members...); n != want || err != nil {
			e.t.Errorf("SetRemove(%q, %q) = (%d, %v), want (%d, nil)", k, members, n, err, want)
		}
	}
	add(3, "a", "b", "c")
	add(1, "b", "c", "d")
	add(1, "e", "e") // a member given twice is one new member
	add(0, "a")
	add(0)
	add(3, "", "with space", "ünï*?")
	e.check(e.members(k, "a", "b", "c", "d", "e", "", "with space", "ünï*?"))
	remove(2, "a", "x", "b")
	remove(0, "x")
	remove(0)
	e.check(e.members(k, "c", "d", "e", "", "with space", "ünï*?"))
	e.check(e.exists(k, true))
	e.check(e.noExpiry(k))
}

func testSetPop(e *env) {
	ctx, k := e.ctx(), e.key("set")
	members := []string{"a", "b", "c", "d", "e"}
	if _, err := e.b.SetAdd(ctx, k, 0, members...); err != nil {
		e.t.Fatalf("SetAdd(%q, 0, %q): %v", k, members, err)
	}
	left := slices.Clone(members)
	pop := func(count, want int) {
		e.t.Helper()
		got, err := e.b.SetPop(ctx, k, count)
		if err != nil || len(got) != want {
			e.t.Errorf("SetPop(%q, %d) from %d members = (%q, %v), want (%d members, nil)", k, count, len(left), got, err, want)
			return
		}
		for _, m := range got {
			i := slices.Index(left, m)
			if i < 0 {
				e.t.Errorf("SetPop(%q, %d) = %q: %q is not a member left in the set %q (popped twice, or invented)", k, count, got, m, left)
				return
			}
			left = slices.Delete(left, i, i+1)
		}
		e.check(e.members(k, left...))
	}
	pop(2, 2)
	pop(0, 0)
	pop(1, 1)
	pop(10, 2)
	pop(1, 0)
	if got, err := e.b.SetPop(ctx, e.key("missing"), 2); len(got) != 0 || err != nil {
		e.t.Errorf("SetPop(missing, 2) = (%q, %v), want ([], nil)", got, err)
	}
}

func testSetTTL(e *env) {
	ctx := e.ctx()
	add := func(k string, ttl time.Duration, m string) {
		e.t.Helper()
		_, err := e.b.SetAdd(ctx, k, ttl, m)
		e.must(err, "SetAdd(%q, %v, %q)", k, ttl, m)
	}
	// A later expiry is kept.
	k := e.key("later-kept")
	start := e.now()
	add(k, time.Hour, "a")
	add(k, time.Minute, "b")
	e.check(e.ttlAbove(k, time.Hour-e.now().Sub(start)-ttlSlack, time.Hour))

	// An earlier expiry is pushed back.
	k = e.key("pushed-back")
	add(k, time.Minute, "a")
	start = e.now()
	add(k, time.Hour, "b")
	e.check(e.ttlAbove(k, time.Hour-e.now().Sub(start)-ttlSlack, time.Hour))

	// A new set with ttl 0 never expires.
	k = e.key("persistent")
	add(k, 0, "a")
	e.check(e.noExpiry(k))

	// A set with a TTL expires.
	k = e.key("expires")
	ttl := e.shortTTL()
	start = e.now()
	add(k, ttl, "a")
	e.beforeExpiry(start, ttl, "set with a TTL", func() error { return all(e.members(k, "a"), e.ttlWithin(k, ttl, start)) })
	e.afterExpiry(start, ttl, "set with a TTL", func() error { return all(e.members(k), e.exists(k, false)) })
	// A set re-created after expiry is new: its old members are gone.
	add(k, 0, "b")
	e.check(e.members(k, "b"))
	e.check(e.noExpiry(k))
}

func testSetWrongType(e *env) {
	ctx := e.ctx()
	s := e.key("set")
	_, err := e.b.SetAdd(ctx, s, 0, "m")
	e.must(err, "SetAdd(%q)", s)
	_, _, err = e.b.Get(ctx, s)
	e.wantErrIs(err, backends.ErrWrongType, "Get(%q) on a set", s)

	v := e.key("value")
	e.set(v, e.val("v"), 0)
	_, err = e.b.SetAdd(ctx, v, 0, "m")
	e.wantErrIs(err, backends.ErrWrongType, "SetAdd(%q) on a value", v)
	_, err = e.b.SetMembers(ctx, v)
	e.wantErrIs(err, backends.ErrWrongType, "SetMembers(%q) on a value", v)
	e.check(e.hit(v, e.val("v")))
	e.check(e.members(s, "m"))
}
