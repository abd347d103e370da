package memory

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math/rand"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cashews-go/cashews/backends"
)

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newTest returns a backend closed when the test ends.
func newTest(t testing.TB, opts Options) *Backend {
	t.Helper()
	b := New(opts)
	t.Cleanup(func() { b.Close() })
	return b
}

var ctx = context.Background()

func mustSet(t testing.TB, b *Backend, key string, v any, ttl time.Duration) {
	t.Helper()
	ok, err := b.Set(ctx, key, v, ttl, backends.SetAlways)
	if err != nil || !ok {
		t.Fatalf("Set(%q) = %v, %v; want true, nil", key, ok, err)
	}
}

func exists(t testing.TB, b *Backend, key string) bool {
	t.Helper()
	ok, err := b.Exists(ctx, key)
	if err != nil {
		t.Fatalf("Exists(%q): %v", key, err)
	}
	return ok
}

func get(t testing.TB, b *Backend, key string) (any, bool) {
	t.Helper()
	v, ok, err := b.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return v, ok
}

// checkInvariants verifies that the counters agree with the shards' contents and the queues.
func checkInvariants(t *testing.T, b *Backend) {
	t.Helper()
	var n, bytes int64
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.RLock()
		inQueue, withTTL, inTable, used := 0, 0, 0, 0
		for e := s.tail; e != nil; e = e.newer {
			inQueue++
			if s.find(e.key, e.hash) != e {
				t.Errorf("shard %d: queued entry %q is not the table's", i, e.key)
			}
		}
		if tab := s.tab.Load(); tab != nil {
			for j := range tab.slots {
				switch e := tab.slots[j].Load(); e {
				case nil:
				case tombstone:
					used++
				default:
					used++
					inTable++
					if e.hash != maphash.String(b.seed, e.key) {
						t.Errorf("shard %d: entry %q has hash %x, want the key's", i, e.key, e.hash)
					}
					if e.expiry() != 0 {
						withTTL++
					}
					bytes += e.cost()
				}
			}
			if 4*used > 3*len(tab.slots) {
				t.Errorf("shard %d: %d of %d slots used; want at most 3/4", i, used, len(tab.slots))
			}
		}
		if inQueue != inTable || inTable != s.entries || used != s.used {
			t.Errorf("shard %d: queue holds %d entries, table %d (%d slots used), counts %d (%d used)", i, inQueue, inTable, used, s.entries, s.used)
		}
		if withTTL != s.withTTL {
			t.Errorf("shard %d: withTTL = %d, want %d", i, s.withTTL, withTTL)
		}
		n += int64(inTable)
		s.mu.RUnlock()
	}
	if got := b.count.Load(); got != n {
		t.Errorf("count = %d, want %d", got, n)
	}
	if b.maxBytes > 0 {
		if got := b.bytes.Load(); got != bytes {
			t.Errorf("bytes = %d, want %d", got, bytes)
		}
	}
	checkTagIndex(t, b)
}

// checkTagIndex verifies that the tag index holds exactly the keys whose entries carry each tag.
func checkTagIndex(t *testing.T, b *Backend) {
	t.Helper()
	want := map[string]map[string]struct{}{}
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.RLock()
		tagged := 0
		s.each(func(e *entry) bool {
			if e.tags == nil {
				return true
			}
			tagged++
			for _, tag := range e.tags.names {
				if want[tag] == nil {
					want[tag] = map[string]struct{}{}
				}
				want[tag][e.key] = struct{}{}
			}
			return true
		})
		if tagged != s.tagged {
			t.Errorf("shard %d: tagged = %d, want %d", i, s.tagged, tagged)
		}
		s.mu.RUnlock()
	}
	got := map[string]map[string]struct{}{}
	for i := range b.tags {
		sh := &b.tags[i]
		sh.mu.Lock()
		for tag, keys := range sh.m {
			if len(keys) == 0 {
				t.Errorf("tag %q: an empty key set is kept", tag)
			}
			got[tag] = keys
		}
		sh.mu.Unlock()
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tag index = %v, want %v (the tags the entries carry)", got, want)
	}
}

func TestEvictByEntries(t *testing.T) {
	for _, shards := range []int{1, 4, 64} {
		t.Run(fmt.Sprint("shards=", shards), func(t *testing.T) {
			b := newTest(t, Options{MaxEntries: 100, Shards: shards})
			for i := range 1000 {
				mustSet(t, b, fmt.Sprint("k", i), i, 0)
				if n := b.count.Load(); n > 100 {
					t.Fatalf("after %d sets, %d entries; want at most 100", i+1, n)
				}
			}
			n, err := b.KeysCount(ctx)
			if err != nil || n != 100 {
				t.Errorf("KeysCount = %d, %v; want 100, nil", n, err)
			}
			if !exists(t, b, "k999") {
				t.Error("the last key written was evicted")
			}
			checkInvariants(t, b)
		})
	}
}

func TestEvictByBytes(t *testing.T) {
	const max = 10 * (1000 + 3 + EntryOverhead)
	b := newTest(t, Options{MaxBytes: max, Shards: 4})
	val := make([]byte, 1000)
	for i := range 100 {
		mustSet(t, b, fmt.Sprintf("k%02d", i), val, 0)
		if got := b.bytes.Load(); got > max {
			t.Fatalf("after %d sets, %d bytes; want at most %d", i+1, got, max)
		}
	}
	if n, _ := b.KeysCount(ctx); n != 10 {
		t.Errorf("KeysCount = %d, want 10", n)
	}
	if n, _ := b.ValueSize(ctx, "k99"); n != 1000 {
		t.Errorf("ValueSize = %d, want 1000", n)
	}
	// A value that cannot fit is refused, and evicts nothing.
	_, err := b.Set(ctx, "big", make([]byte, max), 0, backends.SetAlways)
	if !errors.Is(err, backends.ErrInvalidArgument) {
		t.Errorf("Set of a value larger than max_bytes: err = %v, want ErrInvalidArgument", err)
	}
	if n, _ := b.KeysCount(ctx); n != 10 {
		t.Errorf("after the refused Set, KeysCount = %d, want 10", n)
	}
	// A bigger value for an existing key evicts others.
	mustSet(t, b, "k99", make([]byte, 5000), 0)
	if got := b.bytes.Load(); got > max {
		t.Errorf("after growing a value, %d bytes; want at most %d", got, max)
	}
	if !exists(t, b, "k99") {
		t.Error("the key just written was evicted")
	}
	checkInvariants(t, b)
}

func TestSieveVisited(t *testing.T) {
	b := newTest(t, Options{MaxEntries: 3, Shards: 1})
	for _, k := range []string{"a", "b", "c"} {
		mustSet(t, b, k, k, 0)
	}
	get(t, b, "a") // visited: survives the next eviction
	mustSet(t, b, "d", "d", 0)
	for k, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if got := exists(t, b, k); got != want {
			t.Errorf("after reading a and writing d: Exists(%q) = %v, want %v (SIEVE evicts the oldest unvisited)", k, got, want)
		}
	}
	// The hand cleared a's bit and stopped past b: c goes next, then a (no longer visited).
	mustSet(t, b, "e", "e", 0)
	if exists(t, b, "c") || !exists(t, b, "a") {
		t.Errorf("after writing e: c present = %v, a present = %v; want false, true", exists(t, b, "c"), exists(t, b, "a"))
	}
	// The hand goes on towards newer entries: d goes before a, whose bit is now clear.
	mustSet(t, b, "f", "f", 0)
	if exists(t, b, "d") || !exists(t, b, "a") {
		t.Errorf("after writing f: d present = %v, a present = %v; want false, true", exists(t, b, "d"), exists(t, b, "a"))
	}
	checkInvariants(t, b)
}

func TestSieveEvictsExpiredFirstOnTheHand(t *testing.T) {
	clock := newFakeClock()
	b := newTest(t, Options{MaxEntries: 2, Shards: 1, Clock: clock, CheckInterval: -1})
	mustSet(t, b, "a", 1, time.Second)
	mustSet(t, b, "b", 2, 0)
	get(t, b, "a")
	clock.Advance(time.Second)
	mustSet(t, b, "c", 3, 0)
	if !exists(t, b, "b") || !exists(t, b, "c") {
		t.Errorf("an expired but visited entry was kept over a live one")
	}
	checkInvariants(t, b)
}

func TestTTL(t *testing.T) {
	clock := newFakeClock()
	b := newTest(t, Options{Clock: clock})
	mustSet(t, b, "k", "v", 10*time.Second)
	mustSet(t, b, "forever", "v", 0)
	clock.Advance(9 * time.Second)
	if v, ok := get(t, b, "k"); !ok || v != "v" {
		t.Fatalf("Get before expiry = %v, %v; want v, true", v, ok)
	}
	if ttl, ok, err := b.GetExpire(ctx, "k"); ttl != time.Second || !ok || err != nil {
		t.Errorf("GetExpire = %v, %v, %v; want 1s, true, nil", ttl, ok, err)
	}
	if ttl, ok, err := b.GetExpire(ctx, "forever"); ttl != backends.NoExpiration || !ok || err != nil {
		t.Errorf("GetExpire(forever) = %v, %v, %v; want NoExpiration, true, nil", ttl, ok, err)
	}
	clock.Advance(time.Second)
	if v, ok := get(t, b, "k"); ok {
		t.Errorf("Get at expiry = %v, true; want a miss", v)
	}
	if exists(t, b, "k") {
		t.Error("Exists at expiry = true, want false")
	}
	if n, _ := b.KeysCount(ctx); n != 1 {
		t.Errorf("KeysCount with one expired, unpurged key = %d, want 1", n)
	}
	if ttl, ok, _ := b.GetExpire(ctx, "k"); ok || ttl != 0 {
		t.Errorf("GetExpire(expired) = %v, %v; want 0, false", ttl, ok)
	}
	// SetIfAbsent treats the expired key as absent.
	if ok, _ := b.Set(ctx, "k", "w", 0, backends.SetIfAbsent); !ok {
		t.Error("SetIfAbsent over an expired key = false, want true")
	}
	if ttl, _, _ := b.GetExpire(ctx, "k"); ttl != backends.NoExpiration {
		t.Errorf("after SetIfAbsent without TTL, GetExpire = %v, want NoExpiration", ttl)
	}
	checkInvariants(t, b)
}

func TestPurge(t *testing.T) {
	clock := newFakeClock()
	b := newTest(t, Options{Clock: clock, CheckInterval: -1, MaxBytes: 1 << 30})
	for i := range 1000 {
		ttl := time.Duration(0)
		if i%2 == 0 {
			ttl = time.Duration(1+i%10) * time.Second
		}
		mustSet(t, b, fmt.Sprint("k", i), i, ttl)
	}
	if n := b.purge(); n != 0 {
		t.Errorf("purge before any expiry removed %d, want 0", n)
	}
	clock.Advance(5 * time.Second) // ttl 1..5s expire: i%10 in {0,2} -> 1s,3s; {4} -> 5s
	want := 0
	for i := 0; i < 1000; i += 2 {
		if 1+i%10 <= 5 {
			want++
		}
	}
	if n := b.purge(); n != want {
		t.Errorf("purge removed %d, want %d", n, want)
	}
	if got := b.count.Load(); got != int64(1000-want) {
		t.Errorf("entries after purge = %d, want %d", got, 1000-want)
	}
	clock.Advance(time.Hour)
	if n := b.purge(); n != 500-want {
		t.Errorf("second purge removed %d, want %d", n, 500-want)
	}
	if n, _ := b.KeysCount(ctx); n != 500 {
		t.Errorf("KeysCount = %d, want 500", n)
	}
	checkInvariants(t, b)
}

func TestCloseIdempotentAndStopsJanitor(t *testing.T) {
	b := New(Options{CheckInterval: time.Millisecond})
	mustSet(t, b, "k", "v", 0)
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	select {
	case <-b.done:
	default:
		t.Error("the janitor is still running after Close")
	}
	checks := map[string]error{}
	_, _, checks["Get"] = b.Get(ctx, "k")
	_, checks["Set"] = b.Set(ctx, "k", 1, 0, backends.SetAlways)
	_, checks["Incr"] = b.Incr(ctx, "k", 1, 0)
	_, checks["KeysCount"] = b.KeysCount(ctx)
	checks["Ping"] = b.Ping(ctx)
	checks["Clear"] = b.Clear(ctx)
	_, checks["SetAdd"] = b.SetAdd(ctx, "s", 0, "a")
	_, _, checks["SliceIncr"] = b.SliceIncr(ctx, "w", time.Now(), time.Second, 1)
	for _, err := range b.Scan(ctx, "*", 10) {
		checks["Scan"] = err
	}
	for name, err := range checks {
		if !errors.Is(err, backends.ErrClosed) {
			t.Errorf("%s after Close: err = %v, want ErrClosed", name, err)
		}
	}
}

func TestNoJanitor(t *testing.T) {
	b := newTest(t, Options{CheckInterval: -1})
	if b.done != nil {
		t.Error("a janitor was started with CheckInterval < 0")
	}
}

func TestGetHitAllocatesNothing(t *testing.T) {
	clock := newFakeClock()
	b := newTest(t, Options{Clock: clock})
	mustSet(t, b, "plain", struct{ A, B string }{"a", "b"}, 0)
	mustSet(t, b, "ttl", 12345678, time.Hour)
	for _, key := range []string{"plain", "ttl", "missing"} {
		allocs := testing.AllocsPerRun(1000, func() {
			_, _, _ = b.Get(ctx, key)
		})
		if allocs != 0 {
			t.Errorf("Get(%q) allocates %v times, want 0", key, allocs)
		}
	}
}

func TestIncr(t *testing.T) {
	clock := newFakeClock()
	b := newTest(t, Options{Clock: clock})
	for _, v := range []any{int(5), int8(5), int16(5), int32(5), int64(5), uint(5), uint8(5), uint16(5), uint32(5), uint64(5), uintptr(5)} {
		mustSet(t, b, "n", v, 0)
		n, err := b.Incr(ctx, "n", 2, 0)
		if err != nil || n != 7 {
			t.Errorf("Incr on %T(5) = %d, %v; want 7, nil", v, n, err)
		}
		if got, _ := get(t, b, "n"); got != int64(7) {
			t.Errorf("after Incr on %T, Get = %#v, want int64(7)", v, got)
		}
	}
	for _, v := range []any{"5", 5.0, []byte("5"), uint64(1 << 63), nil} {
		mustSet(t, b, "x", v, 0)
		if _, err := b.Incr(ctx, "x", 1, 0); !errors.Is(err, backends.ErrNotInteger) {
			t.Errorf("Incr on %#v: err = %v, want ErrNotInteger", v, err)
		}
	}
	mustSet(t, b, "max", int64(1<<63-1), 0)
	if _, err := b.Incr(ctx, "max", 1, 0); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Errorf("Incr past MaxInt64: err = %v, want ErrInvalidArgument", err)
	}
	// A new counter takes the TTL, an existing one keeps its own.
	if n, err := b.Incr(ctx, "c", -3, time.Minute); n != -3 || err != nil {
		t.Errorf("Incr on a missing key = %d, %v; want -3, nil", n, err)
	}
	clock.Advance(30 * time.Second)
	if _, err := b.Incr(ctx, "c", 1, time.Hour); err != nil {
		t.Fatal(err)
	}
	if ttl, _, _ := b.GetExpire(ctx, "c"); ttl != 30*time.Second {
		t.Errorf("GetExpire after Incr on an existing key = %v, want 30s", ttl)
	}
	if _, err := b.Incr(ctx, "c", 1, -time.Second); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Errorf("Incr with a negative TTL: err = %v, want ErrInvalidArgument", err)
	}
}

func TestCopyMode(t *testing.T) {
	b := newTest(t, Options{Copy: true})
	if b.StoresGoValues() {
		t.Error("StoresGoValues() = true in copy mode, want false")
	}
	in := []byte("hello")
	mustSet(t, b, "k", in, 0)
	in[0] = 'J'
	v, _ := get(t, b, "k")
	out, ok := v.([]byte)
	if !ok || string(out) != "hello" {
		t.Fatalf("Get = %#v, want []byte(\"hello\") unaffected by the caller's later write", v)
	}
	out[0] = 'Y'
	if v, _ := get(t, b, "k"); string(v.([]byte)) != "hello" {
		t.Errorf("a reader's write changed the stored value to %q", v)
	}
	if _, err := b.Set(ctx, "k", 42, 0, backends.SetAlways); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Errorf("Set of an int in copy mode: err = %v, want ErrInvalidArgument", err)
	}
	mustSet(t, b, "n", []byte("40"), 0)
	if n, err := b.Incr(ctx, "n", 2, 0); n != 42 || err != nil {
		t.Errorf("Incr on []byte(\"40\") = %d, %v; want 42, nil", n, err)
	}
	if v, _ := get(t, b, "n"); string(v.([]byte)) != "42" {
		t.Errorf("Get after Incr = %q, want \"42\"", v)
	}
	if ok, _ := b.SetLock(ctx, "lock", "tok", time.Minute); !ok {
		t.Fatal("SetLock = false")
	}
	if v, _ := get(t, b, "lock"); string(v.([]byte)) != "tok" {
		t.Errorf("Get(lock) = %#v, want []byte(\"tok\")", v)
	}
	if ok, _ := b.Unlock(ctx, "lock", "tok"); !ok {
		t.Error("Unlock with the right token = false")
	}
	if New(Options{}).StoresGoValues() != true {
		t.Error("StoresGoValues() = false by default, want true")
	}
}

func TestLocks(t *testing.T) {
	clock := newFakeClock()
	b := newTest(t, Options{Clock: clock})
	if ok, err := b.SetLock(ctx, "l", "a", time.Second); !ok || err != nil {
		t.Fatalf("SetLock = %v, %v; want true, nil", ok, err)
	}
	if ok, _ := b.SetLock(ctx, "l", "b", time.Second); ok {
		t.Error("SetLock on a held lock = true")
	}
	if ok, _ := b.Unlock(ctx, "l", "b"); ok {
		t.Error("Unlock with another token = true")
	}
	if ok, _ := b.ExtendLock(ctx, "l", "b", time.Minute); ok {
		t.Error("ExtendLock with another token = true")
	}
	if ok, _ := b.ExtendLock(ctx, "l", "a", time.Minute); !ok {
		t.Error("ExtendLock with the owner's token = false")
	}
	clock.Advance(30 * time.Second)
	if ok, _ := b.IsLocked(ctx, "l"); !ok {
		t.Error("IsLocked after an extension = false")
	}
	clock.Advance(30 * time.Second)
	if ok, _ := b.IsLocked(ctx, "l"); ok {
		t.Error("IsLocked after the lock's TTL = true")
	}
	if ok, _ := b.Unlock(ctx, "l", "a"); ok {
		t.Error("Unlock of an expired lock = true")
	}
	for _, ttl := range []time.Duration{0, -time.Second} {
		if _, err := b.SetLock(ctx, "l", "a", ttl); !errors.Is(err, backends.ErrInvalidArgument) {
			t.Errorf("SetLock with TTL %v: err = %v, want ErrInvalidArgument", ttl, err)
		}
		if _, err := b.ExtendLock(ctx, "l", "a", ttl); !errors.Is(err, backends.ErrInvalidArgument) {
			t.Errorf("ExtendLock with TTL %v: err = %v, want ErrInvalidArgument", ttl, err)
		}
	}
}

func TestSets(t *testing.T) {
	clock := newFakeClock()
	b := newTest(t, Options{Clock: clock, MaxBytes: 1 << 20})
	if n, err := b.SetAdd(ctx, "s", time.Minute, "a", "b", "a"); n != 2 || err != nil {
		t.Fatalf("SetAdd = %d, %v; want 2, nil", n, err)
	}
	if n, _ := b.SetAdd(ctx, "s", 0, "b", "c"); n != 1 {
		t.Errorf("SetAdd of one new member = %d, want 1", n)
	}
	if ttl, _, _ := b.GetExpire(ctx, "s"); ttl != backends.NoExpiration {
		t.Errorf("after SetAdd with ttl 0, GetExpire = %v, want NoExpiration", ttl)
	}
	if _, _, err := b.Get(ctx, "s"); !errors.Is(err, backends.ErrWrongType) {
		t.Errorf("Get on a set: err = %v, want ErrWrongType", err)
	}
	if n, _ := b.ValueSize(ctx, "s"); n != 3*(1+setMemberOverhead) {
		t.Errorf("ValueSize(set) = %d, want %d", n, 3*(1+setMemberOverhead))
	}
	got, _ := b.SetMembers(ctx, "s")
	slices.Sort(got)
	if !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("SetMembers = %v, want [a b c]", got)
	}
	if n, _ := b.SetRemove(ctx, "s", "a", "x"); n != 1 {
		t.Errorf("SetRemove = %d, want 1", n)
	}
	popped, _ := b.SetPop(ctx, "s", 5)
	slices.Sort(popped)
	if !slices.Equal(popped, []string{"b", "c"}) {
		t.Errorf("SetPop = %v, want [b c]", popped)
	}
	if exists(t, b, "s") {
		t.Error("an emptied set still exists")
	}
	mustSet(t, b, "plain", "v", 0)
	if _, err := b.SetAdd(ctx, "plain", 0, "a"); !errors.Is(err, backends.ErrWrongType) {
		t.Errorf("SetAdd on a plain value: err = %v, want ErrWrongType", err)
	}
	if m, err := b.SetMembers(ctx, "missing"); len(m) != 0 || err != nil {
		t.Errorf("SetMembers(missing) = %v, %v; want [], nil", m, err)
	}
	// TTL: the later expiry is kept.
	b.SetAdd(ctx, "t", time.Hour, "a")
	b.SetAdd(ctx, "t", time.Minute, "b")
	if ttl, _, _ := b.GetExpire(ctx, "t"); ttl != time.Hour {
		t.Errorf("after SetAdd with a shorter TTL, GetExpire = %v, want 1h", ttl)
	}
	b.SetAdd(ctx, "t", 2*time.Hour, "c")
	if ttl, _, _ := b.GetExpire(ctx, "t"); ttl != 2*time.Hour {
		t.Errorf("after SetAdd with a longer TTL, GetExpire = %v, want 2h", ttl)
	}
	checkInvariants(t, b)
}

func TestBits(t *testing.T) {
	b := newTest(t, Options{MaxBytes: 1 << 20})
	// Counters of 5 bits straddle word boundaries (index 12 covers bits 60..64).
	idx := []int64{0, 1, 12, 13, 100}
	got, err := b.IncrBits(ctx, "bits", 5, 3, idx...)
	if err != nil || !slices.Equal(got, []int64{3, 3, 3, 3, 3}) {
		t.Fatalf("IncrBits = %v, %v; want [3 3 3 3 3]", got, err)
	}
	got, _ = b.IncrBits(ctx, "bits", 5, 40, 12)
	if !slices.Equal(got, []int64{31}) {
		t.Errorf("IncrBits past the maximum = %v, want [31]", got)
	}
	got, _ = b.IncrBits(ctx, "bits", 5, -5, 13, 13)
	if !slices.Equal(got, []int64{0, 0}) {
		t.Errorf("IncrBits below zero = %v, want [0 0]", got)
	}
	got, _ = b.GetBits(ctx, "bits", 5, 0, 1, 11, 12, 13, 14, 100, 1000)
	if want := []int64{3, 3, 0, 31, 0, 0, 3, 0}; !slices.Equal(got, want) {
		t.Errorf("GetBits = %v, want %v", got, want)
	}
	got, _ = b.GetBits(ctx, "missing", 63, 7)
	if !slices.Equal(got, []int64{0}) {
		t.Errorf("GetBits(missing) = %v, want [0]", got)
	}
	got, _ = b.IncrBits(ctx, "wide", 63, 1<<62, 1, 1, 1)
	if want := []int64{1 << 62, 1<<63 - 1, 1<<63 - 1}; !slices.Equal(got, want) {
		t.Errorf("IncrBits of 63-bit counters = %v, want %v", got, want)
	}
	for _, size := range []int{0, 64, -1} {
		if _, err := b.GetBits(ctx, "bits", size, 0); !errors.Is(err, backends.ErrInvalidArgument) {
			t.Errorf("GetBits with size %d: err = %v, want ErrInvalidArgument", size, err)
		}
	}
	if _, err := b.IncrBits(ctx, "bits", 1, 1, -1); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Errorf("IncrBits at index -1: err = %v, want ErrInvalidArgument", err)
	}
	if _, err := b.IncrBits(ctx, "bits", 1, 1, 1<<32); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Errorf("IncrBits at index 2^32: err = %v, want ErrInvalidArgument", err)
	}
	mustSet(t, b, "plain", 1, 0)
	if _, err := b.IncrBits(ctx, "plain", 1, 1, 0); !errors.Is(err, backends.ErrWrongType) {
		t.Errorf("IncrBits on a plain value: err = %v, want ErrWrongType", err)
	}
	checkInvariants(t, b)
}

func TestBitFieldsRandom(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for range 200 {
		size := uint(1 + r.Intn(63))
		n := 1 + r.Intn(40)
		buf := make([]byte, (uint64(n)*uint64(size)+7)/8)
		want := make([]uint64, n)
		for range 200 {
			i := r.Intn(n)
			v := r.Uint64() & (1<<size - 1)
			setField(buf, uint64(i)*uint64(size), size, v)
			want[i] = v
		}
		for i := range n {
			if got := field(buf, uint64(i)*uint64(size), size); got != want[i] {
				t.Fatalf("size %d: field %d = %d, want %d", size, i, got, want[i])
			}
			// BITFIELD's layout: the counter's bits, most significant first, from bit i*size on,
			// bit 0 being the most significant bit of byte 0.
			for j := range uint64(size) {
				o := uint64(i)*uint64(size) + j
				bit := uint64(buf[o/8]>>(7-o%8)) & 1
				if wantBit := want[i] >> (uint64(size) - 1 - j) & 1; bit != wantBit {
					t.Fatalf("size %d: counter %d bit %d = %d, want %d", size, i, j, bit, wantBit)
				}
			}
		}
	}
}

func TestSliceIncr(t *testing.T) {
	clock := newFakeClock()
	b := newTest(t, Options{Clock: clock, MaxBytes: 1 << 20})
	now := clock.Now()
	for i, want := range []struct {
		count    int64
		recorded bool
	}{{1, true}, {2, true}, {3, true}, {3, false}} {
		count, recorded, err := b.SliceIncr(ctx, "w", now.Add(time.Duration(i)*time.Second), 10*time.Second, 3)
		if err != nil || count != want.count || recorded != want.recorded {
			t.Errorf("call %d: SliceIncr = %d, %v, %v; want %d, %v, nil", i, count, recorded, err, want.count, want.recorded)
		}
	}
	// The key expires a window after its newest event (at +2s).
	if ttl, _, _ := b.GetExpire(ctx, "w"); ttl != 12*time.Second {
		t.Errorf("GetExpire = %v, want 12s", ttl)
	}
	// At +10s the event at 0 leaves the window (events at or before now-window are forgotten).
	count, recorded, _ := b.SliceIncr(ctx, "w", now.Add(10*time.Second), 10*time.Second, 3)
	if count != 3 || !recorded {
		t.Errorf("SliceIncr at +10s = %d, %v; want 3, true", count, recorded)
	}
	clock.Advance(20 * time.Second)
	if exists(t, b, "w") {
		t.Error("the window exists after its last event + window")
	}
	count, recorded, _ = b.SliceIncr(ctx, "w", clock.Now(), 10*time.Second, 3)
	if count != 1 || !recorded {
		t.Errorf("SliceIncr after expiry = %d, %v; want 1, true", count, recorded)
	}
	if _, _, err := b.SliceIncr(ctx, "zero", clock.Now(), time.Second, 0); !errors.Is(err, backends.ErrInvalidArgument) || exists(t, b, "zero") {
		t.Errorf("SliceIncr with limit 0: err = %v (key exists: %v); want ErrInvalidArgument, no key", err, exists(t, b, "zero"))
	}
	if _, _, err := b.SliceIncr(ctx, "w", now, 0, 1); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Errorf("SliceIncr with window 0: err = %v, want ErrInvalidArgument", err)
	}
	if _, _, err := b.SliceIncr(ctx, "w", now, time.Second, -1); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Errorf("SliceIncr with limit -1: err = %v, want ErrInvalidArgument", err)
	}
	checkInvariants(t, b)
}

func TestScanAndDeleteMatch(t *testing.T) {
	clock := newFakeClock()
	b := newTest(t, Options{Clock: clock, Shards: 8})
	var want []string
	for i := range 250 {
		k := fmt.Sprintf("user:%03d", i)
		mustSet(t, b, k, i, 0)
		want = append(want, k)
		mustSet(t, b, fmt.Sprintf("other:%03d", i), i, 0)
	}
	mustSet(t, b, "user:expired", 1, time.Second)
	mustSet(t, b, "a*b", 1, 0)
	clock.Advance(time.Second)

	var got []string
	for keys, err := range b.Scan(ctx, "user:*", 100) {
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) > 100 {
			t.Errorf("batch of %d keys, want at most 100", len(keys))
		}
		got = append(got, keys...)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("Scan(user:*) gave %d keys, want %d (first %v)", len(got), len(want), got[:min(3, len(got))])
	}
	got = nil
	for keys, err := range b.Scan(ctx, `a\*b`, 0) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, keys...)
	}
	if !slices.Equal(got, []string{"a*b"}) {
		t.Errorf(`Scan(a\*b) = %v, want [a*b]`, got)
	}
	// Breaking out of the loop stops the scan.
	batches := 0
	for range b.Scan(ctx, "*", 10) {
		batches++
		break
	}
	if batches != 1 {
		t.Errorf("batches after break = %d, want 1", batches)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	var scanErr error
	for _, err := range b.Scan(cctx, "*", 10) {
		scanErr = err
	}
	if !errors.Is(scanErr, context.Canceled) {
		t.Errorf("Scan with a cancelled context: err = %v, want context.Canceled", scanErr)
	}

	n, err := b.DeleteMatch(ctx, "user:1*")
	if err != nil || n != 100 {
		t.Errorf("DeleteMatch(user:1*) = %d, %v; want 100, nil", n, err)
	}
	n, _ = b.DeleteMatch(ctx, "user:*")
	if n != 150 {
		t.Errorf("DeleteMatch(user:*) = %d, want 150 (the expired key does not count)", n)
	}
	if n, _ := b.DeleteMatch(ctx, "other:007"); n != 1 {
		t.Errorf("DeleteMatch of a literal key = %d, want 1", n)
	}
	if n, _ := b.KeysCount(ctx); n != 250 {
		t.Errorf("KeysCount = %d, want 250", n)
	}
	checkInvariants(t, b)
}

func TestSetModesAndMany(t *testing.T) {
	clock := newFakeClock()
	b := newTest(t, Options{Clock: clock})
	if ok, _ := b.Set(ctx, "k", 1, 0, backends.SetIfPresent); ok {
		t.Error("SetIfPresent on a missing key = true")
	}
	if ok, _ := b.Set(ctx, "k", 1, 0, backends.SetIfAbsent); !ok {
		t.Error("SetIfAbsent on a missing key = false")
	}
	if ok, _ := b.Set(ctx, "k", 2, 0, backends.SetIfAbsent); ok {
		t.Error("SetIfAbsent on a present key = true")
	}
	if ok, _ := b.Set(ctx, "k", 3, 0, backends.SetIfPresent); !ok {
		t.Error("SetIfPresent on a present key = false")
	}
	if _, err := b.Set(ctx, "k", 3, -1, backends.SetAlways); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Errorf("Set with a negative TTL: err = %v, want ErrInvalidArgument", err)
	}
	if _, err := b.Set(ctx, "k", 3, 0, backends.SetMode(9)); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Errorf("Set with an unknown mode: err = %v, want ErrInvalidArgument", err)
	}
	err := b.SetMany(ctx, []backends.Item{{Key: "a", Value: 1}, {Key: "b", Value: 2, TTL: -1}})
	if !errors.Is(err, backends.ErrInvalidArgument) || exists(t, b, "a") {
		t.Errorf("SetMany with a bad TTL: err = %v, a written = %v; want ErrInvalidArgument, false", err, exists(t, b, "a"))
	}
	if err := b.SetMany(ctx, []backends.Item{{Key: "a", Value: 1}, {Key: "b", Value: nil, TTL: time.Second}}); err != nil {
		t.Fatal(err)
	}
	es, _ := b.GetMany(ctx, []string{"a", "b", "c"})
	want := []backends.Entry{{Value: 1, Found: true}, {Value: nil, Found: true}, {}}
	if !slices.Equal(es, want) {
		t.Errorf("GetMany = %v, want %v", es, want)
	}
	if n, _ := b.DeleteMany(ctx, []string{"a", "b", "c"}); n != 2 {
		t.Errorf("DeleteMany = %d, want 2", n)
	}
	if ok, _ := b.Expire(ctx, "k", time.Minute); !ok {
		t.Error("Expire on a present key = false")
	}
	if ok, _ := b.Expire(ctx, "k", 0); !ok {
		t.Error("Expire(0) on a present key = false")
	}
	if ttl, _, _ := b.GetExpire(ctx, "k"); ttl != backends.NoExpiration {
		t.Errorf("after Expire(0), GetExpire = %v, want NoExpiration", ttl)
	}
	if ok, _ := b.Expire(ctx, "missing", time.Minute); ok {
		t.Error("Expire on a missing key = true")
	}
	if err := b.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := b.KeysCount(ctx); n != 0 {
		t.Errorf("KeysCount after Clear = %d, want 0", n)
	}
	checkInvariants(t, b)
}

type sized struct{ n int64 }

func (s sized) CacheSize() int64 { return s.n }

func TestValueSize(t *testing.T) {
	type inner struct {
		Name string
		Tags []string
	}
	type outer struct {
		ID    int64
		Inner *inner
		M     map[string]int
	}
	v := outer{ID: 1, Inner: &inner{Name: "abcdefghij", Tags: []string{"xy", "z"}}, M: map[string]int{"k": 1}}
	// Fixed parts: outer 24; *inner -> inner 40 + "abcdefghij" 10 + tags backing 2*16 + 3 bytes;
	// map: 1 * (16 + 8 + 8) + "k" 1.
	wantOuter := int64(24 + 40 + 10 + 32 + 3 + 32 + 1)
	cases := []struct {
		name string
		v    any
		want int64
	}{
		{"nil", nil, 0},
		{"bytes", []byte("abc"), 3},
		{"string", "hello", 5},
		{"bool", true, 1},
		{"int32", int32(1), 4},
		{"int", 1, 8},
		{"float64", 1.5, 8},
		{"time", time.Now(), 24},
		{"sizer", sized{1234}, 1234},
		{"pointer to string", ptr("abcd"), 8 + 16 + 4},
		{"slice of strings", []string{"ab", "cde"}, 24 + 2*16 + 5},
		{"struct", v, wantOuter},
		{"slice of ints", []int{1, 2, 3}, 24 + 24},
	}
	b := newTest(t, Options{})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mustSet(t, b, "k", c.v, 0)
			if got, err := b.ValueSize(ctx, "k"); got != c.want || err != nil {
				t.Errorf("ValueSize(%#v) = %d, %v; want %d, nil", c.v, got, err, c.want)
			}
		})
	}
	if n, _ := b.ValueSize(ctx, "missing"); n != 0 {
		t.Errorf("ValueSize(missing) = %d, want 0", n)
	}
	// Structures count their members, bytes and events, bounded by bytes or not.
	for _, bk := range []*Backend{b, newTest(t, Options{MaxBytes: 1 << 20})} {
		bk.SetAdd(ctx, "set", 0, "ab", "cde")
		bk.IncrBits(ctx, "bits", 1, 1, 100) // 101 bits: 13 bytes
		bk.SliceIncr(ctx, "win", time.Now(), time.Minute, 3)
		for key, want := range map[string]int64{"set": 5 + 2*setMemberOverhead, "bits": 13, "win": 8 * 3} {
			if got, _ := bk.ValueSize(ctx, key); got != want {
				t.Errorf("ValueSize(%s) with max bytes %d = %d, want %d", key, bk.maxBytes, got, want)
			}
		}
	}
	// A cyclic value terminates.
	type node struct {
		Next *node
		Name string
	}
	n := &node{Name: "x"}
	n.Next = n
	if got := sizeOf(n); got <= 0 || got > 10_000 {
		t.Errorf("sizeOf(cycle) = %d, want a small positive estimate", got)
	}
	// A large slice is sampled, not walked: the estimate extrapolates.
	big := make([]string, 100_000)
	for i := range big {
		big[i] = "0123456789"
	}
	if got, want := sizeOf(big), int64(24+100_000*(16+10)); got != want {
		t.Errorf("sizeOf(100k strings) = %d, want %d", got, want)
	}
	// Options.Sizer takes precedence; a negative answer falls back.
	bs := newTest(t, Options{MaxBytes: 1 << 20, Sizer: func(v any) int64 {
		if s, ok := v.(string); ok && s == "custom" {
			return 777
		}
		return -1
	}})
	mustSet(t, bs, "a", "custom", 0)
	mustSet(t, bs, "b", "other", 0)
	if got, _ := bs.ValueSize(ctx, "a"); got != 777 {
		t.Errorf("ValueSize with Options.Sizer = %d, want 777", got)
	}
	if got, _ := bs.ValueSize(ctx, "b"); got != 5 {
		t.Errorf("ValueSize with Options.Sizer returning -1 = %d, want 5", got)
	}
}

func ptr[T any](v T) *T { return &v }

// TestConcurrent hammers a bounded backend from several goroutines; run it with -race.
func TestConcurrent(t *testing.T) {
	clock := newFakeClock()
	b := newTest(t, Options{MaxEntries: 500, MaxBytes: 200_000, Shards: 4, Clock: clock, CheckInterval: -1})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(g)))
			for i := range 3000 {
				k := fmt.Sprint("k", r.Intn(2000))
				switch r.Intn(12) {
				case 0, 1, 2, 3:
					b.Get(ctx, k)
				case 4:
					b.Set(ctx, k, make([]byte, r.Intn(500)), time.Duration(r.Intn(3))*time.Second, backends.SetAlways)
				case 5:
					b.Incr(ctx, "n"+k, 1, time.Second)
				case 6:
					b.SetAdd(ctx, "s"+k, time.Second, "a", "b")
				case 7:
					b.IncrBits(ctx, "b"+k, 4, 1, int64(r.Intn(100)))
				case 8:
					b.SliceIncr(ctx, "w"+k, clock.Now(), time.Second, 5)
				case 9:
					if i%2 == 0 {
						b.Delete(ctx, k)
					} else {
						b.SetTagged(ctx, k, make([]byte, r.Intn(100)), time.Duration(r.Intn(3))*time.Second, backends.SetAlways,
							[]string{fmt.Sprint("t", r.Intn(5)), fmt.Sprint("t", r.Intn(50))})
					}
				case 10:
					if i%100 == 0 {
						b.purge()
						clock.Advance(100 * time.Millisecond)
					}
				case 11:
					if i%500 == 0 {
						for range b.Scan(ctx, "k1*", 50) {
						}
						b.KeysCount(ctx)
					}
					if i%50 == 0 {
						b.DeleteTags(ctx, fmt.Sprint("t", r.Intn(50)))
					}
				}
			}
		}()
	}
	wg.Wait()
	checkInvariants(t, b)
	if n := b.count.Load(); n > 500 {
		t.Errorf("%d entries, want at most 500", n)
	}
	if n := b.bytes.Load(); n > 200_000 {
		t.Errorf("%d bytes, want at most 200000", n)
	}
}

// TestJanitorPurges checks that the janitor's ticker runs the purge: expiry is decided by the fake
// clock, and the test polls (until a deadline) only for the ticker to fire.
func TestJanitorPurges(t *testing.T) {
	clock := newFakeClock()
	b := newTest(t, Options{Clock: clock, CheckInterval: time.Millisecond})
	mustSet(t, b, "k", "v", time.Second)
	mustSet(t, b, "forever", "v", 0)
	clock.Advance(time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for b.count.Load() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the janitor left %d entries after 10s, want 1", b.count.Load())
		}
		time.Sleep(time.Millisecond)
	}
	if !exists(t, b, "forever") {
		t.Error("the janitor removed a key without TTL")
	}
}

func TestSystemClock(t *testing.T) {
	b := newTest(t, Options{})
	before := time.Now().UnixNano()
	now := b.now()
	after := time.Now().UnixNano()
	if now < before-int64(time.Millisecond) || now > after+int64(time.Millisecond) {
		t.Errorf("now() = %d, want between %d and %d", now, before, after)
	}
	mustSet(t, b, "k", "v", time.Hour)
	ttl, ok, err := b.GetExpire(ctx, "k")
	if !ok || err != nil || ttl <= time.Hour-time.Minute || ttl > time.Hour {
		t.Errorf("GetExpire = %v, %v, %v; want just under 1h, true, nil", ttl, ok, err)
	}
}

// TestTagsUnderEviction runs the cases of issue 13 on a bounded store: tags are not entries, so
// they are never evicted while their keys live and never count against the bound.
func TestTagsUnderEviction(t *testing.T) {
	t.Run("often-read key keeps its tag", func(t *testing.T) {
		b := newTest(t, Options{MaxEntries: 4, Shards: 1})
		if _, err := b.SetTagged(ctx, "user:1", "stale", 0, backends.SetAlways, []string{"user:1"}); err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			get(t, b, "user:1")
			mustSet(t, b, fmt.Sprint("other", i), i, 0)
		}
		if !exists(t, b, "user:1") {
			t.Fatal("the often-read key was evicted; the test needs it alive")
		}
		if n, err := b.DeleteTags(ctx, "user:1"); n != 1 || err != nil {
			t.Errorf("DeleteTags(user:1) = (%d, %v), want (1, nil)", n, err)
		}
		if v, ok := get(t, b, "user:1"); ok {
			t.Errorf("after DeleteTags, Get(user:1) = %v, want a miss", v)
		}
		checkInvariants(t, b)
	})
	t.Run("tags do not count against size", func(t *testing.T) {
		b := newTest(t, Options{MaxEntries: 3, Shards: 1})
		for i := range 3 {
			if _, err := b.SetTagged(ctx, fmt.Sprint("k", i), i, 0, backends.SetAlways, []string{"all", fmt.Sprint("t", i)}); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := b.KeysCount(ctx); n != 3 || err != nil {
			t.Errorf("KeysCount = (%d, %v), want (3, nil): a bound of 3 keeps 3 tagged keys", n, err)
		}
		if n, err := b.DeleteTags(ctx, "all"); n != 3 || err != nil {
			t.Errorf("DeleteTags(all) = (%d, %v), want (3, nil)", n, err)
		}
		checkInvariants(t, b)
	})
	t.Run("evicted key leaves its tags", func(t *testing.T) {
		b := newTest(t, Options{MaxEntries: 10, MaxBytes: 4000, Shards: 2})
		for i := range 200 {
			if _, err := b.SetTagged(ctx, fmt.Sprint("k", i), make([]byte, 100), 0, backends.SetAlways, []string{"all", fmt.Sprint("t", i)}); err != nil {
				t.Fatal(err)
			}
		}
		keys, err := b.TagKeys(ctx, "all")
		if err != nil || len(keys) == 0 || len(keys) > 10 {
			t.Errorf("TagKeys(all) = (%d keys, %v), want 1 to 10 keys: evicted keys leave the tag", len(keys), err)
		}
		checkInvariants(t, b) // the index holds only the keys still stored
		if n, err := b.DeleteTags(ctx, "all"); n != len(keys) || err != nil {
			t.Errorf("DeleteTags(all) = (%d, %v), want (%d, nil)", n, err, len(keys))
		}
		if n, _ := b.KeysCount(ctx); n != 0 {
			t.Errorf("KeysCount after DeleteTags(all) = %d, want 0", n)
		}
		checkInvariants(t, b)
	})
	t.Run("tags count against max_bytes", func(t *testing.T) {
		b := newTest(t, Options{MaxBytes: 1 << 20})
		mustSet(t, b, "k", "v", 0)
		before := b.bytes.Load()
		if _, err := b.SetTagged(ctx, "k", "v", 0, backends.SetAlways, []string{"a-tag"}); err != nil {
			t.Fatal(err)
		}
		if got, want := b.bytes.Load()-before, int64(len("a-tag")+tagOverhead); got != want {
			t.Errorf("a tag added %d bytes, want %d", got, want)
		}
		checkInvariants(t, b)
	})
}
