package backendtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/cashews-go/cashews/backends"
)

func testExistsDelete(e *env) {
	ctx, k := e.ctx(), e.key("k")
	e.set(k, e.val("v"), 0)
	e.check(e.exists(k, true))
	if ok, err := e.b.Delete(ctx, k); !ok || err != nil {
		e.t.Errorf("Delete(present) = (%v, %v), want (true, nil)", ok, err)
	}
	e.check(e.exists(k, false))
	e.check(e.miss(k))
	if ok, err := e.b.Delete(ctx, k); ok || err != nil {
		e.t.Errorf("Delete(deleted) = (%v, %v), want (false, nil)", ok, err)
	}
}

func testDeleteMany(e *env) {
	ctx := e.ctx()
	a, b, c, missing := e.key("a"), e.key("b"), e.key("c"), e.key("missing")
	for _, k := range []string{a, b, c} {
		e.set(k, e.val("v"), 0)
	}
	if n, err := e.b.DeleteMany(ctx, []string{a, missing, b}); n != 2 || err != nil {
		e.t.Errorf("DeleteMany(a, missing, b) = (%d, %v), want (2, nil)", n, err)
	}
	e.check(all(e.exists(a, false), e.exists(b, false), e.exists(c, true)))
	if n, err := e.b.DeleteMany(ctx, []string{a, b}); n != 0 || err != nil {
		e.t.Errorf("DeleteMany(deleted keys) = (%d, %v), want (0, nil)", n, err)
	}
}

// kinds writes one key of each kind under sub and returns them.
func (e *env) kinds(sub string) []string {
	e.t.Helper()
	ctx := e.ctx()
	value, set, counter, lock, bits, window := e.key(sub+"value"), e.key(sub+"set"), e.key(sub+"counter"),
		e.key(sub+"lock"), e.key(sub+"bits"), e.key(sub+"window")
	e.set(value, e.val("v"), 0)
	_, err := e.b.SetAdd(ctx, set, 0, "m")
	e.must(err, "SetAdd(%q)", set)
	_, err = e.b.Incr(ctx, counter, 1, 0)
	e.must(err, "Incr(%q)", counter)
	_, err = e.b.SetLock(ctx, lock, "token", time.Hour)
	e.must(err, "SetLock(%q)", lock)
	_, err = e.b.IncrBits(ctx, bits, 4, 1, 3)
	e.must(err, "IncrBits(%q)", bits)
	_, _, err = e.b.SliceIncr(ctx, window, e.now(), time.Hour, 10)
	e.must(err, "SliceIncr(%q)", window)
	return []string{value, set, counter, lock, bits, window}
}

func testKeyKinds(e *env) {
	ctx := e.ctx()
	keys := e.kinds("a:")
	for _, k := range keys {
		e.check(e.exists(k, true))
	}
	e.checkScanned(e.key("a:*"), e.scan(e.key("a:*"), 1000), keys)
	for _, k := range keys {
		start := e.now()
		if ok, err := e.b.Expire(ctx, k, time.Minute); !ok || err != nil {
			e.t.Errorf("Expire(%q, 1m) = (%v, %v), want (true, nil)", k, ok, err)
		}
		e.check(e.ttlWithin(k, time.Minute, start))
	}
	for _, k := range keys {
		if ok, err := e.b.Delete(ctx, k); !ok || err != nil {
			e.t.Errorf("Delete(%q) = (%v, %v), want (true, nil)", k, ok, err)
		}
		e.check(e.exists(k, false))
	}
	keys = e.kinds("b:")
	if n, err := e.b.DeleteMatch(ctx, e.key("b:*")); n != len(keys) || err != nil {
		e.t.Errorf("DeleteMatch(b:*) over one key of each kind = (%d, %v), want (%d, nil)", n, err, len(keys))
	}
	for _, k := range keys {
		e.check(e.exists(k, false))
	}
	keys = e.kinds("c:")
	if n, err := e.b.DeleteMany(ctx, keys); n != len(keys) || err != nil {
		e.t.Errorf("DeleteMany(one key of each kind) = (%d, %v), want (%d, nil)", n, err, len(keys))
	}
}

func testKeysOpaque(e *env) {
	odd := []string{"a*b", "a?b", "a[b]c", `a\b`, "with space", "tab\there", "new\nline", "ünïcødé ✓", "colon:colon", "x"}
	for i, name := range odd {
		k := e.key(name)
		e.set(k, e.val(strconv.Itoa(i)), 0)
	}
	for i, name := range odd {
		e.check(e.hit(e.key(name), e.val(strconv.Itoa(i))))
	}
	// Only the literal key matches an escaped pattern.
	e.checkScanned(e.key(`a\*b`), e.scan(e.key(`a\*b`), 1000), []string{e.key("a*b")})
	if n, err := e.b.DeleteMatch(e.ctx(), e.key(`a\?b`)); n != 1 || err != nil {
		e.t.Errorf("DeleteMatch(`a\\?b`) = (%d, %v), want (1, nil)", n, err)
	}
	e.check(e.exists(e.key("a?b"), false))
	e.check(e.exists(e.key("a*b"), true))
}

// globKeys are the keys the pattern cases write, each under its own sub-prefix.
var globKeys = []string{"user:1", "user:2", "user:10", "users:1", "item:a", "item:b", "item:c", "item:d",
	"star:*", "star:x", "q?", "qa", `back\slash`, "backslash"}

// globCases are glob patterns (relative to the sub-prefix) and the globKeys they match.
var globCases = []struct {
	pattern string
	want    []string
}{
	{"*", globKeys},
	{"user:*", []string{"user:1", "user:2", "user:10"}},
	{"user:?", []string{"user:1", "user:2"}},
	{"user:1*", []string{"user:1", "user:10"}},
	{"*:1*", []string{"user:1", "user:10", "users:1"}},
	{"item:[a-c]", []string{"item:a", "item:b", "item:c"}},
	{"item:[^a]", []string{"item:b", "item:c", "item:d"}},
	{"item:[bd]", []string{"item:b", "item:d"}},
	{`star:\*`, []string{"star:*"}},
	{`q\?`, []string{"q?"}},
	{`back\\slash`, []string{`back\slash`}},
	{"nothing*", nil},
}

// writeGlobKeys writes globKeys under sub with SetMany.
func (e *env) writeGlobKeys(sub string) {
	e.t.Helper()
	items := make([]backends.Item, len(globKeys))
	for i, k := range globKeys {
		items[i] = backends.Item{Key: e.key(sub + k), Value: e.val("v")}
	}
	e.must(e.b.SetMany(e.ctx(), items), "SetMany(%d keys)", len(items))
}

func testDeleteMatch(e *env) {
	for i, gc := range globCases {
		sub := fmt.Sprintf("p%d:", i)
		e.writeGlobKeys(sub)
		pattern := e.key(sub + gc.pattern)
		n, err := e.b.DeleteMatch(e.ctx(), pattern)
		if n != len(gc.want) || err != nil {
			e.t.Errorf("DeleteMatch(%q) = (%d, %v), want (%d, nil)", pattern, n, err, len(gc.want))
		}
		for _, k := range globKeys {
			e.check(e.exists(e.key(sub+k), !slices.Contains(gc.want, k)))
		}
	}
}

// writeMany writes n keys named sub+"0000"... with SetMany and returns them.
func (e *env) writeMany(sub string, n int) []string {
	e.t.Helper()
	keys := make([]string, n)
	items := make([]backends.Item, n)
	for i := range n {
		keys[i] = e.key(fmt.Sprintf("%s%04d", sub, i))
		items[i] = backends.Item{Key: keys[i], Value: e.val("v")}
	}
	for chunk := range slices.Chunk(items, 500) {
		e.must(e.b.SetMany(e.ctx(), chunk), "SetMany(%d items)", len(chunk))
	}
	return keys
}

func testDeleteMatchMany(e *env) {
	ctx := e.ctx()
	doomed := e.writeMany("many:", 2500)
	kept := e.writeMany("keep:", 100)
	if n, err := e.b.DeleteMatch(ctx, e.key("many:*")); n != len(doomed) || err != nil {
		e.t.Errorf("DeleteMatch(many:*) over %d matching keys = (%d, %v), want (%d, nil)", len(doomed), n, err, len(doomed))
	}
	entries, err := e.b.GetMany(ctx, doomed)
	e.must(err, "GetMany(%d deleted keys)", len(doomed))
	for i, en := range entries {
		if en.Found {
			e.t.Errorf("after DeleteMatch(many:*), Get(%q) found the key, want a miss", doomed[i])
			break
		}
	}
	entries, err = e.b.GetMany(ctx, kept)
	e.must(err, "GetMany(%d kept keys)", len(kept))
	for i, en := range entries {
		if !en.Found {
			e.t.Errorf("after DeleteMatch(many:*), Get(%q) missed, want the key not matching the pattern kept", kept[i])
			break
		}
	}
}

// scan collects the keys Scan yields, stopping the case on an error.
func (e *env) scan(pattern string, batch int) []string {
	e.t.Helper()
	var keys []string
	for b, err := range e.b.Scan(e.ctx(), pattern, batch) {
		e.must(err, "Scan(%q, %d)", pattern, batch)
		keys = append(keys, b...)
	}
	return keys
}

// checkScanned reports keys of want that got lacks and keys of got that do not match pattern.
// Duplicates are allowed: Scan may yield a key more than once.
func (e *env) checkScanned(pattern string, got, want []string) {
	e.t.Helper()
	seen := make(map[string]bool, len(got))
	var unexpected []string
	for _, k := range got {
		seen[k] = true
		if !backends.Match(pattern, k) || !slices.Contains(want, k) {
			unexpected = append(unexpected, k)
		}
	}
	var missing []string
	for _, k := range want {
		if !seen[k] {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 || len(unexpected) > 0 {
		e.t.Errorf("Scan(%q) yielded %d keys: missing %d %q, unexpected %d %q", pattern, len(got),
			len(missing), head(missing), len(unexpected), head(unexpected))
	}
}

// head returns the first few strings of s, for messages.
func head(s []string) []string {
	if len(s) > 5 {
		return s[:5]
	}
	return s
}

func testScanPatterns(e *env) {
	for i, gc := range globCases {
		sub := fmt.Sprintf("p%d:", i)
		e.writeGlobKeys(sub)
		pattern := e.key(sub + gc.pattern)
		want := make([]string, len(gc.want))
		for j, k := range gc.want {
			want[j] = e.key(sub + k)
		}
		e.checkScanned(pattern, e.scan(pattern, 1000), want)
		if gc.pattern == "*" {
			// Small batches: the keys come in several. (Only once: on a shared Redis database a
			// small batch means a round trip per few keys of the whole database.)
			e.checkScanned(pattern, e.scan(pattern, 4), want)
		}
	}
}

func testScanMany(e *env) {
	const batch = 100
	want := e.writeMany("many:", 2500)
	e.writeMany("other:", 100)
	pattern := e.key("many:*")
	var got []string
	largest, batches := 0, 0
	for b, err := range e.b.Scan(e.ctx(), pattern, batch) {
		e.must(err, "Scan(%q, %d)", pattern, batch)
		got = append(got, b...)
		largest = max(largest, len(b))
		batches++
	}
	e.checkScanned(pattern, got, want)
	if largest > 10*batch {
		e.t.Errorf("Scan(%q, %d) yielded a batch of %d keys (in %d batches), want batches of about %d keys", pattern, batch, largest, batches, batch)
	}
}

func testScanBreak(e *env) {
	ctx := e.ctx()
	want := e.writeMany("k:", 300)
	pattern := e.key("k:*")
	batches := 0
	for b, err := range e.b.Scan(ctx, pattern, 10) {
		e.must(err, "Scan(%q, 10)", pattern)
		batches++
		if len(b) > 0 {
			break
		}
	}
	if batches == 0 {
		e.t.Errorf("Scan(%q, 10) over 300 keys yielded nothing", pattern)
	}
	// The backend must be usable after the loop stopped early: no lock held, no scan left behind.
	k := e.key("after")
	e.set(k, e.val("v"), 0)
	e.check(e.hit(k, e.val("v")))
	e.checkScanned(pattern, e.scan(pattern, 1000), want)
}

func testScanWhileWriting(e *env) {
	ctx := e.ctx()
	stable := e.writeMany("a:stable:", 300)
	churn := e.writeMany("a:churn:", 300)
	pattern := e.key("a:*")
	var got []string
	i := 0
	for b, err := range e.b.Scan(ctx, pattern, 20) {
		e.must(err, "Scan(%q, 20)", pattern)
		got = append(got, b...)
		// The loop body writes to the backend while the scan is under way.
		for range 5 {
			if i < len(churn) {
				_, err := e.b.Delete(ctx, churn[i])
				e.must(err, "Delete(%q) during Scan", churn[i])
				e.set(e.key(fmt.Sprintf("a:new:%04d", i)), e.val("v"), 0)
				i++
			}
		}
	}
	seen := make(map[string]bool, len(got))
	for _, k := range got {
		seen[k] = true
		if !backends.Match(pattern, k) {
			e.t.Errorf("Scan(%q) yielded %q, which does not match", pattern, k)
		}
	}
	for _, k := range stable {
		if !seen[k] {
			e.t.Errorf("Scan(%q) with writes in its loop did not yield %q, present for the whole scan", pattern, k)
			break
		}
	}
}

func testScanCancel(e *env) {
	e.writeMany("k:", 1000)
	pattern := e.key("k:*")

	// Cancelled while the scan is under way.
	ctx, cancel := context.WithCancel(e.ctx())
	defer cancel()
	e.checkScanCancelled(ctx, pattern, cancel, "cancelled after the first batch")

	// Cancelled before the scan starts.
	ctx, cancel = context.WithCancel(e.ctx())
	cancel()
	e.checkScanCancelled(ctx, pattern, nil, "cancelled before the scan")
}

// checkScanCancelled scans pattern (1000 keys, batches of 10), calling cancel after the first batch,
// and checks that the sequence ends with an error wrapping context.Canceled.
func (e *env) checkScanCancelled(ctx context.Context, pattern string, cancel func(), how string) {
	e.t.Helper()
	var last error
	afterErr, batches := 0, 0
	for _, err := range e.b.Scan(ctx, pattern, 10) {
		if last != nil {
			afterErr++
		}
		if err != nil {
			last = err
			continue
		}
		batches++
		if cancel != nil {
			cancel()
		}
	}
	if !errors.Is(last, context.Canceled) {
		e.t.Errorf("Scan(%q, 10) with its context %s: yielded %d batches and last error %v, want the sequence to end with an error wrapping context.Canceled", pattern, how, batches, last)
	}
	if afterErr > 0 {
		e.t.Errorf("Scan(%q, 10) with its context %s: yielded %d more times after an error, want the sequence to end after an error", pattern, how, afterErr)
	}
}
