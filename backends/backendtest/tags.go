package backendtest

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cashews-go/cashews/backends"
)

// tagger returns the backend as a backends.Tagger, or skips the case for a backend without tags.
func (e *env) tagger() backends.Tagger {
	e.t.Helper()
	tg, ok := e.b.Backend.(backends.Tagger)
	if !ok {
		e.t.Skip("the backend does not implement backends.Tagger")
	}
	return tg
}

// setTagged stores v at key with ttl and tags, and stops the case if it cannot.
func (e *env) setTagged(tg backends.Tagger, key string, v any, ttl time.Duration, tags ...string) {
	e.t.Helper()
	ok, err := tg.SetTagged(e.ctx(), key, v, ttl, backends.SetAlways, tags)
	e.must(err, "SetTagged(%q, %s, %v, always, %q)", key, show(v), ttl, tags)
	if !ok {
		e.t.Fatalf("SetTagged(%q, %s, %v, always, %q) = false, want true", key, show(v), ttl, tags)
	}
}

// deleteTags returns nil when DeleteTags(tags...) removes want keys.
func (e *env) deleteTags(tg backends.Tagger, want int, tags ...string) error {
	n, err := tg.DeleteTags(e.ctx(), tags...)
	if err != nil || n != want {
		return fmt.Errorf("DeleteTags(%q) = (%d, %v), want (%d, nil)", tags, n, err, want)
	}
	return nil
}

// tagKeys returns nil when TagKeys(tag) returns exactly want, each once.
func (e *env) tagKeys(tg backends.Tagger, tag string, want ...string) error {
	got, err := tg.TagKeys(e.ctx(), tag)
	if err != nil || !sameSet(got, want) {
		return fmt.Errorf("TagKeys(%q) = (%q, %v), want (%q in any order, nil)", tag, sorted(got), err, sorted(want))
	}
	return nil
}

func testTags(e *env) {
	tg := e.tagger()
	ctx := e.ctx()
	// Tags are names of their own: the case's prefix keeps them apart from other cases.
	ta, tb, tc := e.key("tag-a"), e.key("tag-b"), e.key("tag-c")
	k1, k2, k3, k4 := e.key("k1"), e.key("k2"), e.key("k3"), e.key("k4")
	e.setTagged(tg, k1, e.val("1"), 0, ta, tb)
	e.setTagged(tg, k2, e.val("2"), 0, ta, ta) // a tag given twice is one tag
	e.setTagged(tg, k3, e.val("3"), time.Hour, tb)
	e.set(k4, e.val("4"), 0)
	e.check(all(e.hit(k1, e.val("1")), e.hit(k3, e.val("3"))))
	e.check(all(e.tagKeys(tg, ta, k1, k2), e.tagKeys(tg, tb, k1, k3), e.tagKeys(tg, tc)))
	e.check(e.deleteTags(tg, 2, ta))
	e.check(all(e.exists(k1, false), e.exists(k2, false), e.hit(k3, e.val("3")), e.hit(k4, e.val("4"))))
	e.check(all(e.tagKeys(tg, ta), e.tagKeys(tg, tb, k3)))
	e.check(e.deleteTags(tg, 0, ta, tc))

	// Conditional writes: a write that does not happen attaches no tag.
	if ok, err := tg.SetTagged(ctx, k4, e.val("x"), 0, backends.SetIfAbsent, []string{tc}); ok || err != nil {
		e.t.Errorf("SetTagged(present key, if-absent) = (%v, %v), want (false, nil)", ok, err)
	}
	if ok, err := tg.SetTagged(ctx, k1, e.val("x"), 0, backends.SetIfPresent, []string{tc}); ok || err != nil {
		e.t.Errorf("SetTagged(missing key, if-present) = (%v, %v), want (false, nil)", ok, err)
	}
	e.check(e.tagKeys(tg, tc))
	e.check(all(e.deleteTags(tg, 0, tc), e.hit(k4, e.val("4")), e.exists(k1, false)))
	// A conditional write that happens attaches its tags.
	if ok, err := tg.SetTagged(ctx, k4, e.val("5"), 0, backends.SetIfPresent, []string{tc}); !ok || err != nil {
		e.t.Errorf("SetTagged(present key, if-present) = (%v, %v), want (true, nil)", ok, err)
	}
	if ok, err := tg.SetTagged(ctx, k2, e.val("6"), 0, backends.SetIfAbsent, []string{tc}); !ok || err != nil {
		e.t.Errorf("SetTagged(missing key, if-absent) = (%v, %v), want (true, nil)", ok, err)
	}
	e.check(e.tagKeys(tg, tc, k2, k4))
	// SetTagged without tags is a plain Set.
	e.setTagged(tg, k1, e.val("7"), 0)
	e.check(e.hit(k1, e.val("7")))
	e.check(all(e.deleteTags(tg, 3, tb, tc), e.exists(k2, false), e.exists(k3, false), e.exists(k4, false), e.exists(k1, true)))
}

func testTagsOverwrite(e *env) {
	tg := e.tagger()
	ctx := e.ctx()
	t1, t2 := e.key("t1"), e.key("t2")
	plain, many, retag, cond := e.key("plain"), e.key("many"), e.key("retag"), e.key("cond")
	for _, k := range []string{plain, many, retag, cond} {
		e.setTagged(tg, k, e.val("old"), 0, t1)
	}
	e.set(plain, e.val("new"), 0)
	e.must(e.b.SetMany(ctx, []backends.Item{{Key: many, Value: e.val("new")}}), "SetMany(%q)", many)
	e.setTagged(tg, retag, e.val("new"), 0, t2)
	if ok, err := e.b.Set(ctx, cond, e.val("new"), 0, backends.SetIfPresent); !ok || err != nil {
		e.t.Fatalf("Set(%q, if-present) = (%v, %v), want (true, nil)", cond, ok, err)
	}
	e.check(e.tagKeys(tg, t1))
	e.check(e.deleteTags(tg, 0, t1))
	for _, k := range []string{plain, many, retag, cond} {
		e.check(e.hit(k, e.val("new")))
	}
	e.check(e.tagKeys(tg, t2, retag))
	e.check(all(e.deleteTags(tg, 1, t2), e.exists(retag, false)))
}

func testTagsDelete(e *env) {
	tg := e.tagger()
	ctx := e.ctx()
	tag := e.key("tag")
	one, many, match := e.key("one"), e.key("many"), e.key("match:x")
	for _, k := range []string{one, many, match} {
		e.setTagged(tg, k, e.val("v1"), 0, tag)
	}
	_, err := e.b.Delete(ctx, one)
	e.must(err, "Delete(%q)", one)
	_, err = e.b.DeleteMany(ctx, []string{many})
	e.must(err, "DeleteMany(%q)", many)
	_, err = e.b.DeleteMatch(ctx, e.key("match:*"))
	e.must(err, "DeleteMatch(%q)", e.key("match:*"))
	for _, k := range []string{one, many, match} {
		e.set(k, e.val("v2"), 0) // without the tag
	}
	e.check(e.tagKeys(tg, tag))
	e.check(e.deleteTags(tg, 0, tag))
	for _, k := range []string{one, many, match} {
		e.check(e.hit(k, e.val("v2")))
	}
}

func testTagsExpire(e *env) {
	tg := e.tagger()
	ctx := e.ctx()
	tag := e.key("tag")
	gone, kept, counter := e.key("gone"), e.key("kept"), e.key("counter")
	ttl := e.shortTTL()
	start := e.now()
	// kept must still be alive when its TTL is removed below. On the fake clock nothing moves until
	// the kit says so; in real time a loaded machine can take longer than the short TTL for the
	// writes in between, so there kept starts with a TTL that cannot run out first.
	keptTTL := ttl
	if e.realTime {
		keptTTL = time.Minute
	}
	e.setTagged(tg, gone, e.val("v1"), ttl, tag)
	e.setTagged(tg, kept, e.val("v1"), keptTTL, tag)
	seed := e.val("5")
	if !e.bytes {
		seed = int64(5)
	}
	e.setTagged(tg, counter, seed, 0, tag)
	// Expire and Incr change a live key in place: it keeps its tags, for as long as it lives.
	if ok, err := e.b.Expire(ctx, kept, 0); !ok || err != nil {
		e.t.Fatalf("Expire(%q, 0) = (%v, %v), want (true, nil)", kept, ok, err)
	}
	if n, err := e.b.Incr(ctx, counter, 1, 0); n != 6 || err != nil {
		e.t.Fatalf("Incr(%q, 1) = (%d, %v), want (6, nil)", counter, n, err)
	}
	e.afterExpiry(start, ttl, "a tagged key", func() error { return e.exists(gone, false) })
	// A later write without the tag is not the tagged key any more.
	e.set(gone, e.val("v2"), 0)
	e.check(all(e.exists(kept, true), e.tagKeys(tg, tag, kept, counter)))
	e.check(e.deleteTags(tg, 2, tag))
	e.check(all(e.hit(gone, e.val("v2")), e.exists(kept, false), e.exists(counter, false)))
}

func testTagsConcurrent(e *env) {
	tg := e.tagger()
	ctx := e.ctx()
	tag, shared := e.key("tag"), e.key("shared")
	const writers, rounds = 8, 25
	var mu sync.Mutex
	var failures []string
	fail := func(format string, args ...any) {
		mu.Lock()
		failures = append(failures, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	// One goroutine deletes the tag over and over; started and finished number its calls.
	var started, finished atomic.Int64
	stop := make(chan struct{})
	deleted := make(chan struct{})
	go func() {
		defer close(deleted)
		for {
			select {
			case <-stop:
				return
			default:
			}
			n := started.Add(1)
			if _, err := tg.DeleteTags(ctx, tag); err != nil {
				fail("DeleteTags(%q): %v", tag, err)
			}
			finished.Store(n)
		}
	}()
	parallel(writers, func(w int) {
		for r := range rounds {
			own := e.key("w" + strconv.Itoa(w) + ":" + strconv.Itoa(r))
			if _, err := tg.SetTagged(ctx, own, e.val("v"), 0, backends.SetAlways, []string{tag}); err != nil {
				fail("SetTagged(%q): %v", own, err)
				return
			}
			// The calls after the ones started by now start after SetTagged returned: once one of
			// them is done, own must be gone, whatever the other writers do meanwhile.
			after := started.Load()
			for finished.Load() <= after {
				if ctx.Err() != nil {
					return
				}
				time.Sleep(50 * time.Microsecond)
			}
			if ok, err := e.b.Exists(ctx, own); ok || err != nil {
				fail("Exists(%q) after a DeleteTags that started after its SetTagged returned = (%v, %v), want (false, nil)", own, ok, err)
			}
			// Every writer also rewrites one shared key with the tag, racing the DeleteTags.
			if _, err := tg.SetTagged(ctx, shared, e.val(strconv.Itoa(w)), 0, backends.SetAlways, []string{tag}); err != nil {
				fail("SetTagged(%q): %v", shared, err)
				return
			}
		}
	})
	close(stop)
	<-deleted
	for _, f := range failures {
		e.t.Error(f)
	}
	// Every write of the shared key carried the tag: once the writers are done, one more DeleteTags
	// must leave no key with the tag, whichever write came last and whatever DeleteTags raced it.
	_, err := tg.DeleteTags(ctx, tag)
	e.must(err, "DeleteTags(%q)", tag)
	e.check(all(e.exists(shared, false), e.tagKeys(tg, tag)))
}

// testTagsLeaveNothing checks that the bookkeeping of tags goes with the keys it describes, as far
// as KeysCount and Scan can see it: a backend that keeps it in keys of its own (Redis) counts them.
func testTagsLeaveNothing(e *env) {
	tg := e.tagger()
	ctx := e.ctx()
	count := func(want int64) error {
		n, err := e.b.KeysCount(ctx)
		if err != nil || n != want {
			return fmt.Errorf("KeysCount() = (%d, %v), want (%d, nil)", n, err, want)
		}
		return nil
	}
	scan := func(want []string) error {
		var got []string
		for keys, err := range e.b.Scan(ctx, "*", 100) {
			if err != nil {
				return fmt.Errorf("Scan(*): %v", err)
			}
			got = append(got, keys...)
		}
		if !sameSet(slices.Compact(sorted(got)), want) {
			return fmt.Errorf("Scan(*) = %q, want exactly the keys %q", sorted(got), sorted(want))
		}
		return nil
	}
	all150 := e.key("all")
	var keys []string
	for i := range 150 {
		k := e.key("user:" + strconv.Itoa(i))
		keys = append(keys, k)
		e.setTagged(tg, k, e.val("v"), 0, all150, e.key("tag:user:"+strconv.Itoa(i)))
	}
	e.check(scan(keys))
	e.check(e.deleteTags(tg, 150, all150))
	e.check(count(0))

	// Deleted one by one, in a batch, by pattern, or overwritten without tags: the same.
	keys = keys[:0]
	for i := range 40 {
		k := e.key("k:" + strconv.Itoa(i))
		keys = append(keys, k)
		e.setTagged(tg, k, e.val("v"), 0, e.key("t:"+strconv.Itoa(i%3)), e.key("t:"+strconv.Itoa(i)))
	}
	for _, k := range keys[:10] {
		_, err := e.b.Delete(ctx, k)
		e.must(err, "Delete(%q)", k)
	}
	_, err := e.b.DeleteMany(ctx, keys[10:20])
	e.must(err, "DeleteMany")
	for _, k := range keys[20:30] {
		e.set(k, e.val("plain"), 0)
	}
	e.check(scan(keys[20:])) // ten of them keep their tags: how a backend counts those is its own

	_, err = e.b.DeleteMatch(ctx, "*")
	e.must(err, "DeleteMatch(*)")
	e.check(count(0))

	// Expired: the bookkeeping goes too (a backend may take until it collects expired keys).
	ttl := e.shortTTL()
	start := e.now()
	for i := range 20 {
		e.setTagged(tg, e.key("exp:"+strconv.Itoa(i)), e.val("v"), ttl, e.key("t:"+strconv.Itoa(i%3)), e.key("e:"+strconv.Itoa(i)))
	}
	e.afterExpiry(start, ttl, "tagged keys and their tags", func() error { return count(0) })
}
