package memory_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/backends/backendtest"
	"github.com/cashews-go/cashews/backends/memory"
)

// recorder collects what OnDeletion reports.
type recorder struct {
	mu   sync.Mutex
	got  []string // "key=value cause"
	each func(d backends.Deletion)
}

func (r *recorder) fn(d backends.Deletion) {
	if r.each != nil {
		r.each(d)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	v, _ := d.Value.(string)
	if b, ok := d.Value.([]byte); ok {
		v = string(b)
	}
	r.got = append(r.got, d.Key+"="+v+" "+d.Cause.String())
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.got
	r.got = nil
	return out
}

func (r *recorder) want(t *testing.T, want ...string) {
	t.Helper()
	got := r.take()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("deletions = %q;\nwant %q", got, want)
	}
}

// TestOnDeletion drives every way an entry leaves and checks the reports, with their causes, and the
// eviction counts, in both value modes.
func TestOnDeletion(t *testing.T) {
	for _, copyMode := range []bool{false, true} {
		t.Run(map[bool]string{false: "GoValues", true: "Copy"}[copyMode], func(t *testing.T) {
			ctx := context.Background()
			clock := backendtest.NewClock()
			b := memory.New(memory.Options{Clock: clock, MaxEntries: 3, Shards: 1, CheckInterval: -1, Copy: copyMode})
			defer b.Close()
			var r recorder
			b.OnDeletion(r.fn)
			set := func(k, v string, ttl time.Duration) {
				t.Helper()
				if _, err := b.Set(ctx, k, v, ttl, backends.SetAlways); err != nil {
					t.Fatal(err)
				}
			}

			set("a", "1", 0)
			set("a", "2", 0) // replaced
			r.want(t, "a=1 replaced")
			set("b", "1", time.Second)
			set("c", "1", 0)
			set("d", "1", 0) // over 3 entries: one evicted for size (b, c or a: SIEVE's choice)
			if got := r.take(); len(got) != 1 || !strings.HasSuffix(got[0], " size") {
				t.Errorf("deletions = %q; want one eviction for size", got)
			}
			b.Delete(ctx, "d")
			r.want(t, "d=1 deleted")
			b.Clear(ctx)
			if got := r.take(); len(got) != 2 {
				t.Errorf("Clear reported %q; want the two entries left, deleted", got)
			}

			set("e", "1", time.Second)
			set("f", "1", time.Second)
			set("g", "1", 0)
			clock.Advance(2 * time.Second)
			set("e", "2", 0)   // e expired: a new entry, the old one reported expired
			b.Delete(ctx, "f") // expired: removed, reported expired
			r.want(t, "e=1 expired", "f=1 expired")
			b.SetLock(ctx, "lock", "tok", time.Minute)
			b.Unlock(ctx, "lock", "tok")
			b.SetAdd(ctx, "set", 0, "m")
			b.Delete(ctx, "set") // sets are not reported
			b.Incr(ctx, "n", 1, 0)
			b.Incr(ctx, "n", 1, 0) // in place: nothing
			r.want(t, "lock=tok deleted")

			if got, want := b.Evictions(), (backends.Evictions{Size: 1, Expired: 2}); got != want {
				t.Errorf("Evictions = %+v; want %+v", got, want)
			}
			b.OnDeletion(nil)
			b.Delete(ctx, "g")
			r.want(t)
		})
	}
}

// TestEvictionCauses: a bound on bytes evicts for bytes; the purge and evictions of expired entries
// count as expired.
func TestEvictionCauses(t *testing.T) {
	ctx := context.Background()
	clock := backendtest.NewClock()
	b := memory.New(memory.Options{Clock: clock, MaxBytes: 10 * (memory.EntryOverhead + 2 + 10), Shards: 1, CheckInterval: time.Hour})
	defer b.Close()
	var r recorder
	b.OnDeletion(r.fn)
	val := strings.Repeat("x", 10)
	for i := range 15 { // 15 entries of about one tenth of the bound each
		b.Set(ctx, "k"+string(rune('a'+i)), val, 0, backends.SetAlways)
	}
	ev := b.Evictions()
	if ev.Bytes < 5 || ev.Size != 0 || ev.Expired != 0 {
		t.Errorf("Evictions = %+v; want at least 5 for bytes, none else", ev)
	}
	if got := r.take(); int64(len(got)) != ev.Bytes || !strings.HasSuffix(got[0], " bytes") {
		t.Errorf("deletions = %q; want %d evictions for bytes", got, ev.Bytes)
	}
}

// TestPurgeReportsExpired: the purge's removals are expired, reported in the janitor's goroutine.
func TestPurgeReportsExpired(t *testing.T) {
	ctx := context.Background()
	clock := backendtest.NewClock()
	b := memory.New(memory.Options{Clock: clock, CheckInterval: time.Millisecond})
	defer b.Close()
	var r recorder
	b.OnDeletion(r.fn)
	b.Set(ctx, "x", "1", time.Second, backends.SetAlways)
	b.Set(ctx, "y", "1", time.Second, backends.SetAlways)
	clock.Advance(2 * time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for b.Evictions().Expired < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	r.want(t, "x=1 expired", "y=1 expired")
}

// TestOnDeletionOutsideLocks: the function may use the backend, on the very key and shard it
// reports (it would deadlock under the shard's lock).
func TestOnDeletionOutsideLocks(t *testing.T) {
	ctx := context.Background()
	b := memory.New(memory.Options{Shards: 1, MaxEntries: 1})
	defer b.Close()
	var r recorder
	r.each = func(d backends.Deletion) {
		if d.Cause == backends.CauseReplaced {
			if v, found, err := b.Get(ctx, d.Key); err != nil || !found || v != "new" {
				t.Errorf("Get(%s) in the callback = %v, %v, %v; want the new value", d.Key, v, found, err)
			}
			b.Set(ctx, "other", "x", 0, backends.SetAlways) // evicts: reported too
		}
	}
	b.OnDeletion(r.fn)
	b.Set(ctx, "k", "old", 0, backends.SetAlways)
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Set(ctx, "k", "new", 0, backends.SetAlways)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Set did not return: the callback ran under the shard's lock")
	}
	r.want(t, "k=old replaced", "k=new size")
}

// TestCloseReportsNothing: Close drops the entries without reporting them.
func TestCloseReportsNothing(t *testing.T) {
	b := memory.New(memory.Options{})
	var r recorder
	b.OnDeletion(r.fn)
	b.Set(context.Background(), "k", "v", 0, backends.SetAlways)
	b.Close()
	r.want(t)
}
