package backendtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cashews-go/cashews/backends"
)

// Timing of the cases that let keys expire.
const (
	// clockTTL is the TTL of keys the kit lets expire by moving the fake clock.
	clockTTL = 10 * time.Second
	// realTTL is the TTL of keys the kit lets expire in real time (RealTime backends).
	realTTL = 100 * time.Millisecond
	// margin is how far before and after a TTL the kit moves the fake clock to check a key.
	margin = 100 * time.Millisecond
	// ttlSlack is how much shorter than expected a reported TTL may be, for stores that keep
	// expiry times in coarser units or round.
	ttlSlack = time.Second
	// pollTimeout bounds how long the kit polls a RealTime backend for an expiry to show.
	pollTimeout = 5 * time.Second
	// pollInterval is the pause between two polls.
	pollInterval = 5 * time.Millisecond
)

// env is what a case works with: its backend, its clock and its key prefix.
type env struct {
	t        *testing.T
	b        caps
	clock    *Clock
	realTime bool
	// bytes says the backend stores []byte values only.
	bytes  bool
	prefix string
}

// newEnv opens the case's backend and arranges for it to be closed.
func newEnv(t *testing.T, h Harness, prefix string) *env {
	t.Helper()
	clock := NewClock()
	b := h.New(t, clock)
	if b == nil {
		t.Fatal("backendtest: Harness.New returned a nil Backend")
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close() = %v, want nil (Close is idempotent and succeeds)", err)
		}
	})
	return &env{t: t, b: capsOf(b), clock: clock, realTime: h.RealTime, bytes: !backends.StoresGoValues(b), prefix: prefix}
}

func (e *env) ctx() context.Context { return e.t.Context() }

// key returns the name of the case's key, under its prefix.
func (e *env) key(name string) string { return e.prefix + name }

// val returns a value the backend stores: []byte(s) for a byte store, s itself for a Go value store.
func (e *env) val(s string) any {
	if e.bytes {
		return []byte(s)
	}
	return s
}

// counter returns how Get reports a counter of value n after Incr.
func (e *env) counter(n int64) any {
	if e.bytes {
		return []byte(strconv.FormatInt(n, 10))
	}
	return n
}

// now returns the time the backend reads: the fake clock, or the real time for RealTime backends.
func (e *env) now() time.Time {
	if e.realTime {
		return time.Now()
	}
	return e.clock.Now()
}

// shortTTL is the TTL of keys the case lets expire.
func (e *env) shortTTL() time.Duration {
	if e.realTime {
		return realTTL
	}
	return clockTTL
}

// must stops the case when a call that should work fails.
func (e *env) must(err error, format string, args ...any) {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("%s: unexpected error: %v", fmt.Sprintf(format, args...), err)
	}
}

// check reports the error of a condition, if any.
func (e *env) check(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Error(err)
	}
}

// set stores v at key with ttl and stops the case if it cannot.
func (e *env) set(key string, v any, ttl time.Duration) {
	e.t.Helper()
	ok, err := e.b.Set(e.ctx(), key, v, ttl, backends.SetAlways)
	e.must(err, "Set(%q, %s, %v, always)", key, show(v), ttl)
	if !ok {
		e.t.Fatalf("Set(%q, %s, %v, always) = false, want true", key, show(v), ttl)
	}
}

// hit returns nil when Get(key) finds want.
func (e *env) hit(key string, want any) error {
	got, found, err := e.b.Get(e.ctx(), key)
	if err != nil || !found || !equal(got, want) {
		return fmt.Errorf("Get(%q) = (%s, %v, %v), want (%s, true, nil)", key, show(got), found, err, show(want))
	}
	return nil
}

// miss returns nil when Get(key) is a miss.
func (e *env) miss(key string) error {
	got, found, err := e.b.Get(e.ctx(), key)
	if err != nil || found || got != nil {
		return fmt.Errorf("Get(%q) = (%s, %v, %v), want (nil, false, nil)", key, show(got), found, err)
	}
	return nil
}

// exists returns nil when Exists(key) reports want.
func (e *env) exists(key string, want bool) error {
	got, err := e.b.Exists(e.ctx(), key)
	if err != nil || got != want {
		return fmt.Errorf("Exists(%q) = (%v, %v), want (%v, nil)", key, got, err, want)
	}
	return nil
}

// noExpiry returns nil when GetExpire(key) reports a key without expiry.
func (e *env) noExpiry(key string) error {
	got, found, err := e.b.GetExpire(e.ctx(), key)
	if err != nil || !found || got != backends.NoExpiration {
		return fmt.Errorf("GetExpire(%q) = (%v, %v, %v), want (NoExpiration, true, nil)", key, got, found, err)
	}
	return nil
}

// ttlWithin returns nil when GetExpire(key) reports a TTL in (0, ttl] and no shorter than ttl less
// the time since since (the time the TTL was set) and ttlSlack.
func (e *env) ttlWithin(key string, ttl time.Duration, since time.Time) error {
	got, found, err := e.b.GetExpire(e.ctx(), key)
	low := ttl - e.now().Sub(since) - ttlSlack
	if err != nil || !found || got <= 0 || got > ttl || got < low {
		return fmt.Errorf("GetExpire(%q) = (%v, %v, %v), want (TTL in [%v, %v], true, nil)", key, got, found, err, max(low, 1), ttl)
	}
	return nil
}

// ttlAbove returns nil when GetExpire(key) reports a TTL above min and at most max.
func (e *env) ttlAbove(key string, min, max time.Duration) error {
	got, found, err := e.b.GetExpire(e.ctx(), key)
	if err != nil || !found || got <= min || got > max {
		return fmt.Errorf("GetExpire(%q) = (%v, %v, %v), want (TTL in (%v, %v], true, nil)", key, got, found, err, min, max)
	}
	return nil
}

// members returns nil when the set at key holds exactly want.
func (e *env) members(key string, want ...string) error {
	got, err := e.b.SetMembers(e.ctx(), key)
	if err != nil || !sameSet(got, want) {
		return fmt.Errorf("SetMembers(%q) = (%q, %v), want (%q in any order, nil)", key, sorted(got), err, sorted(want))
	}
	return nil
}

// all joins the errors of several conditions.
func all(errs ...error) error { return errors.Join(errs...) }

// beforeExpiry checks cond just before a key written at start with ttl expires. On the fake clock it
// moves the clock to margin before the TTL runs out; in real time it checks at once and reports a
// failure only if the TTL had not run out when the check ended.
func (e *env) beforeExpiry(start time.Time, ttl time.Duration, what string, cond func() error) {
	e.t.Helper()
	if !e.realTime {
		if at := start.Add(ttl - margin); e.clock.Now().Before(at) {
			e.clock.Set(at)
		}
		if err := cond(); err != nil {
			e.t.Errorf("%s, %v before the TTL of %v runs out: %v", what, margin, ttl, err)
		}
		return
	}
	if err := cond(); err != nil {
		// A store may round its expiry time to the millisecond: leave it some room.
		if elapsed := time.Since(start); elapsed < ttl-10*time.Millisecond {
			e.t.Errorf("%s, %v after it was written with a TTL of %v: %v", what, elapsed, ttl, err)
		} else {
			e.t.Logf("%s: inconclusive, the machine took %v (longer than the TTL of %v) to check", what, elapsed, ttl)
		}
	}
}

// afterExpiry checks cond once a key written at start with ttl has expired. On the fake clock it moves
// the clock to margin after the TTL and cond must hold at once; in real time it polls cond until
// pollTimeout.
func (e *env) afterExpiry(start time.Time, ttl time.Duration, what string, cond func() error) {
	e.t.Helper()
	if !e.realTime {
		if at := start.Add(ttl + margin); e.clock.Now().Before(at) {
			e.clock.Set(at)
		}
		if err := cond(); err != nil {
			e.t.Errorf("%s, %v after the TTL of %v ran out on the fake clock (does the backend read the time "+
				"from the Clock given to Harness.New? If it cannot, set Harness.RealTime): %v", what, margin, ttl, err)
		}
		return
	}
	e.poll(what, cond)
}

// poll calls cond until it returns nil or pollTimeout passes, and reports the last error then.
func (e *env) poll(what string, cond func() error) {
	e.t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			e.t.Errorf("%s: still not so after polling for %v: %v", what, pollTimeout, err)
			return
		}
		time.Sleep(pollInterval)
	}
}

// wantErrIs reports unless err wraps target.
func (e *env) wantErrIs(err, target error, format string, args ...any) {
	e.t.Helper()
	if !errors.Is(err, target) {
		e.t.Errorf("%s: error = %v, want an error wrapping %v", fmt.Sprintf(format, args...), err, target)
	}
}

// equal reports whether a value read back equals the value written. []byte values compare by
// content (nil equals empty); other values with reflect.DeepEqual.
func equal(got, want any) bool {
	if w, ok := want.([]byte); ok {
		g, ok := got.([]byte)
		return ok && bytes.Equal(g, w)
	}
	return reflect.DeepEqual(got, want)
}

// show formats a value for a failure message, with its type.
func show(v any) string {
	switch v := v.(type) {
	case nil:
		return "nil"
	case []byte:
		if len(v) > 40 {
			return fmt.Sprintf("[]byte(%q...) (%d bytes)", v[:40], len(v))
		}
		return fmt.Sprintf("[]byte(%q)", v)
	case string:
		if len(v) > 40 {
			return fmt.Sprintf("%q... (%d bytes)", v[:40], len(v))
		}
		return strconv.Quote(v)
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64, bool:
		return fmt.Sprintf("%T(%v)", v, v)
	}
	return fmt.Sprintf("%#v", v)
}

// showEntries formats GetMany results.
func showEntries(es []backends.Entry) string {
	parts := make([]string, len(es))
	for i, en := range es {
		parts[i] = fmt.Sprintf("{%s %v}", show(en.Value), en.Found)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	return slices.Equal(sorted(a), sorted(b))
}

// parallel runs f(0..n-1) in n goroutines released together, and waits for them.
func parallel(n int, f func(i int)) {
	start := make(chan struct{})
	done := make(chan struct{})
	for i := range n {
		go func() {
			defer func() { done <- struct{}{} }()
			<-start
			f(i)
		}()
	}
	close(start)
	for range n {
		<-done
	}
}

// caps is the backend under test with its capabilities, each nil when the backend lacks it. A case
// calls the methods of the capabilities it needs (testCase.needs) as methods of caps; Run skips it
// when the backend lacks one.
type caps struct {
	backends.Backend
	backends.Pinger
	backends.Batcher
	backends.Scanner
	backends.MatchDeleter
	backends.Counter
	backends.Locker
	backends.SetStore
	backends.BitStore
	backends.SlidingWindow
	backends.Admin
	has map[string]bool // the capabilities b has, by interface name
}

// capabilities are the names the cases use in testCase.needs, one per optional interface.
var capabilities = []string{"Pinger", "Batcher", "Scanner", "MatchDeleter", "Counter", "Locker", "SetStore", "BitStore", "SlidingWindow", "Admin", "Tagger", "CompareAndSwapper"}

func capsOf(b backends.Backend) caps {
	c := caps{Backend: b, has: map[string]bool{}}
	var ok bool
	note := func(name string, found bool) { c.has[name] = found }
	c.Pinger, ok = b.(backends.Pinger)
	note("Pinger", ok)
	c.Batcher, ok = b.(backends.Batcher)
	note("Batcher", ok)
	c.Scanner, ok = b.(backends.Scanner)
	note("Scanner", ok)
	c.MatchDeleter, ok = b.(backends.MatchDeleter)
	note("MatchDeleter", ok)
	c.Counter, ok = b.(backends.Counter)
	note("Counter", ok)
	c.Locker, ok = b.(backends.Locker)
	note("Locker", ok)
	c.SetStore, ok = b.(backends.SetStore)
	note("SetStore", ok)
	c.BitStore, ok = b.(backends.BitStore)
	note("BitStore", ok)
	c.SlidingWindow, ok = b.(backends.SlidingWindow)
	note("SlidingWindow", ok)
	c.Admin, ok = b.(backends.Admin)
	note("Admin", ok)
	_, ok = b.(backends.Tagger)
	note("Tagger", ok)
	_, ok = b.(backends.CompareAndSwapper)
	note("CompareAndSwapper", ok)
	return c
}

// missing returns the first of the space-separated capabilities in needs that c lacks, or "".
func (c caps) missing(needs string) string {
	for _, n := range strings.Fields(needs) {
		if !c.has[n] {
			return n
		}
	}
	return ""
}
