package redis

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/internal/redistest"
	"github.com/cashews-go/cashews/internal/shared"
	"github.com/cashews-go/cashews/internal/testenv"
)

// getString reads key and returns its value ("" for a miss).
func getString(t testing.TB, ctx context.Context, b *Backend, key string) (string, error) {
	v, found, err := b.Get(ctx, key)
	if err != nil || !found {
		return "", err
	}
	return string(v.([]byte)), nil
}

func mustSet(t testing.TB, ctx context.Context, b *Backend, key, value string, ttl time.Duration) {
	t.Helper()
	if _, err := b.Set(ctx, key, []byte(value), ttl, backends.SetAlways); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

// TestClientSideInvalidation: a write by another client is seen by a client-side-caching reader
// within 50ms, in 1,000 trials. The reader holds the old value in its local cache before each write
// (each trial checks that the read before the write was a hit).
func TestClientSideInvalidation(t *testing.T) {
	srv := server(t)
	testInvalidation(t, srv.URL(), 1000)
}

func testInvalidation(t *testing.T, url string, trials int) {
	ctx := testCtx(t)
	reader := openURL(t, withParams(url, relaxed+"&client_side=true"))
	writer := openURL(t, withParams(url, relaxed))
	const key = "csc:inv"
	mustSet(t, ctx, writer, key, "v0", 0)
	stalls := startStallMeter(t)
	var latencies []time.Duration
	unexplained := 0
	for i := 1; i <= trials; i++ {
		// Warm the local cache with the current value, and check it is served from there.
		want := "v" + strconv.Itoa(i-1)
		if !eventually(time.Second, func() bool { v, _ := getString(t, ctx, reader, key); return v == want }) {
			t.Fatalf("trial %d: reader never saw %s", i, want)
		}
		before := reader.Stats().Hits
		if v, err := getString(t, ctx, reader, key); v != want || err != nil || reader.Stats().Hits != before+1 {
			t.Fatalf("trial %d: read before the write: got %q, %v, hits +%d; want %s from the local cache",
				i, v, err, reader.Stats().Hits-before, want)
		}
		next := "v" + strconv.Itoa(i)
		mustSet(t, ctx, writer, key, next, 0)
		written := time.Now()
		var seen time.Duration
		for {
			v, err := getString(t, ctx, reader, key)
			if err != nil {
				t.Fatalf("trial %d: Get: %v", i, err)
			}
			if v == next {
				seen = time.Since(written)
				break
			}
			if v != want {
				t.Fatalf("trial %d: got %q, want %s or %s", i, v, want, next)
			}
			if time.Since(written) > time.Second {
				t.Fatalf("trial %d: the write of %s not seen after 1s (still %s)", i, next, v)
			}
			time.Sleep(20 * time.Microsecond)
		}
		latencies = append(latencies, seen)
		if seen > 50*time.Millisecond && testenv.Timing() {
			if stall := stalls.during(written, written.Add(seen)); seen > 50*time.Millisecond+stall {
				unexplained++
				t.Errorf("trial %d: the write seen after %s, want at most 50ms (+ %s the machine stalled meanwhile)", i, seen, stall)
			}
		}
	}
	slices.Sort(latencies)
	p := func(q float64) time.Duration { return latencies[int(q*float64(len(latencies)-1))] }
	t.Logf("write seen by the client-side cache after: p50 %s, p99 %s, max %s over %d trials; %d over 50ms not explained by machine stalls (worst stall %s)",
		p(0.5), p(0.99), p(1), trials, unexplained, stalls.worst())
}

// TestClientSideExactMisses: 10,000 reads over 100 keys are exactly 100 misses (one per key) and
// 9,900 hits, read in sequence and from 8 goroutines at once.
func TestClientSideExactMisses(t *testing.T) {
	srv := server(t)
	ctx := testCtx(t)
	writer := openURL(t, withParams(srv.URL(), relaxed))
	for i := 0; i < 100; i++ {
		mustSet(t, ctx, writer, "m"+strconv.Itoa(i), "value"+strconv.Itoa(i), 0)
	}
	t.Run("sequential", func(t *testing.T) {
		reader := openURL(t, withParams(srv.URL(), relaxed+"&client_side=true"))
		for i := 0; i < 10000; i++ {
			k := "m" + strconv.Itoa(i%100)
			if v, err := getString(t, ctx, reader, k); v != "value"+strconv.Itoa(i%100) || err != nil {
				t.Fatalf("Get(%s): got %q, %v", k, v, err)
			}
		}
		if s := reader.Stats(); s.Misses != 100 || s.Hits != 9900 {
			t.Fatalf("stats: got %+v, want 100 misses and 9900 hits", s)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		reader := openURL(t, withParams(srv.URL(), relaxed+"&client_side=true"))
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 1250; i++ {
					k := (i*7 + g) % 100
					if v, err := getString(t, ctx, reader, "m"+strconv.Itoa(k)); v != "value"+strconv.Itoa(k) || err != nil {
						errs <- fmt.Errorf("Get(m%d): got %q, %v", k, v, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if s := reader.Stats(); s.Misses != 100 || s.Hits != 9900 {
			t.Fatalf("stats: got %+v, want 100 misses and 9900 hits", s)
		}
	})
	t.Run("GetMany", func(t *testing.T) {
		reader := openURL(t, withParams(srv.URL(), relaxed+"&client_side=true"))
		keys := make([]string, 100)
		for i := range keys {
			keys[i] = "m" + strconv.Itoa(i)
		}
		for round := 0; round < 100; round++ {
			es, err := reader.GetMany(ctx, keys)
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range es {
				if !e.Found || string(e.Value.([]byte)) != "value"+strconv.Itoa(i) {
					t.Fatalf("GetMany[%d]: got %+v, want value%d", i, e, i)
				}
			}
		}
		if s := reader.Stats(); s.Misses != 100 || s.Hits != 9900 {
			t.Fatalf("stats: got %+v, want 100 misses and 9900 hits", s)
		}
	})
}

// TestClientSideHitNeedsNoServer: a hit is served from local memory, so it answers at once even
// while the server is frozen, and a miss then fails at the deadline.
func TestClientSideHitNeedsNoServer(t *testing.T) {
	testenv.RequireTiming(t)
	srv := server(t)
	ctx := testCtx(t)
	// A timeout that setup's writes keep on a loaded machine; the misses below are held to it.
	reader := openURL(t, withParams(srv.URL(), "client_side=true&timeout=500ms"))
	mustSet(t, ctx, reader, "hot", "value", 0)
	if v, _ := getString(t, ctx, reader, "hot"); v != "value" {
		t.Fatalf("Get: got %q, want value", v)
	}
	// Connect every pipelined connection (each serves a share of the keys) before the freeze.
	for i := 0; i < 32; i++ {
		getString(t, ctx, reader, "warm"+strconv.Itoa(i))
	}
	stalls := startStallMeter(t)
	srv.Freeze()
	defer srv.Thaw()
	start := time.Now()
	for i := 0; i < 1000; i++ {
		if v, err := getString(t, ctx, reader, "hot"); v != "value" || err != nil {
			t.Fatalf("hit while the server is frozen: got %q, %v; want value", v, err)
		}
	}
	if d, stall := time.Since(start), stalls.during(start, time.Now()); d > 100*time.Millisecond+stall {
		t.Fatalf("1000 hits took %s with the server frozen, want them local (under 100ms + %s of machine stalls)", d, stall)
	}
	for i := 0; i < 5; i++ {
		start = time.Now()
		if _, err := getString(t, ctx, reader, "cold"+strconv.Itoa(i)); err == nil {
			t.Fatal("a miss while the server is frozen: got no error")
		}
		d, stall := time.Since(start), stalls.during(start, time.Now())
		if d > reader.timeout+slack+stall {
			t.Errorf("a miss while the server is frozen took %s, want at most the timeout + 50ms (+ %s of machine stalls)", d, stall)
		}
	}
}

// TestClientSideNoStaleAfterReconnect: when the connection breaks, invalidations may be lost, so
// the local cache must be emptied. The reader caches a value, Redis is killed and restarted empty,
// another client writes a new value, and the reader must never return the old one.
func TestClientSideNoStaleAfterReconnect(t *testing.T) {
	srv := server(t)
	ctx := testCtx(t)
	reader := openURL(t, withParams(srv.URL(), relaxed+"&client_side=true"))
	writer := openURL(t, withParams(srv.URL(), relaxed))
	for i := 0; i < 50; i++ {
		mustSet(t, ctx, writer, "r"+strconv.Itoa(i), "old", 0)
		if v, _ := getString(t, ctx, reader, "r"+strconv.Itoa(i)); v != "old" {
			t.Fatalf("Get: got %q, want old", v)
		}
	}
	srv.Kill()
	srv.Restart()
	// The restarted server is empty: until the writer writes, a key must read as missing.
	readAll := func(want string) {
		t.Helper()
		for i := 0; i < 50; i++ {
			k := "r" + strconv.Itoa(i)
			var v string
			ok := eventually(2*time.Second, func() bool {
				var err error
				v, err = getString(t, ctx, reader, k)
				if err == nil && v == "old" {
					t.Fatalf("Get(%s) after the reconnect: got the stale value old, want %q", k, want)
				}
				return err == nil
			})
			if !ok || v != want {
				t.Fatalf("Get(%s) after the reconnect: got %q (ok=%v), want %q", k, v, ok, want)
			}
		}
	}
	readAll("")
	for i := 0; i < 50; i++ {
		if !eventually(2*time.Second, func() bool {
			_, err := writer.Set(ctx, "r"+strconv.Itoa(i), []byte("new"), 0, backends.SetAlways)
			return err == nil
		}) {
			t.Fatal("the writer cannot write after the restart")
		}
	}
	readAll("new")
}

// TestClientSideNoStaleAfterClientKill: the server drops the reader's connection (CLIENT KILL), a
// value changes while it is disconnected, and after the reader reconnects it never returns the
// old value.
func TestClientSideNoStaleAfterClientKill(t *testing.T) {
	srv := server(t)
	ctx := testCtx(t)
	reader := openURL(t, withParams(srv.URL(), relaxed+"&client_side=true&client_name=reader"))
	mustSet(t, ctx, reader, "ck", "old", 0)
	if v, _ := getString(t, ctx, reader, "ck"); v != "old" {
		t.Fatalf("Get: got %q, want old", v)
	}
	// Kill the reader's connections, then change the value: the invalidation of this write can only
	// reach a connection the reader opened after the kill.
	if _, err := redistest.Do(srv.Addr(), "CLIENT", "KILL", "TYPE", "normal"); err != nil {
		t.Fatal(err)
	}
	srv.MustDo("SET", "ck", "new")
	// The reader notices the broken connection; from then on the old value must be gone.
	if !eventually(2*time.Second, func() bool { v, err := getString(t, ctx, reader, "ck"); return err == nil && v == "new" }) {
		v, err := getString(t, ctx, reader, "ck")
		t.Fatalf("after CLIENT KILL and a write: got %q, %v; want new within 2s", v, err)
	}
	for i := 0; i < 100; i++ {
		if v, _ := getString(t, ctx, reader, "ck"); v != "new" {
			t.Fatalf("read %d after the reconnect: got %q, want new", i, v)
		}
	}
}

// TestClientSideFlush: FLUSHDB by another client invalidates every key the reader cached.
func TestClientSideFlush(t *testing.T) {
	srv := server(t)
	ctx := testCtx(t)
	reader := openURL(t, withParams(srv.URL(), relaxed+"&client_side=true"))
	for i := 0; i < 100; i++ {
		mustSet(t, ctx, reader, "f"+strconv.Itoa(i), "v", 0)
		getString(t, ctx, reader, "f"+strconv.Itoa(i))
	}
	srv.MustDo("FLUSHDB")
	start := time.Now()
	for i := 0; i < 100; i++ {
		k := "f" + strconv.Itoa(i)
		if !eventually(time.Second, func() bool { v, _ := getString(t, ctx, reader, k); return v == "" }) {
			t.Fatalf("Get(%s) still hits 1s after FLUSHDB", k)
		}
	}
	t.Logf("every key missed %s after FLUSHDB", time.Since(start))
	// And it stays a miss: no stale value comes back.
	for i := 0; i < 100; i++ {
		if v, _ := getString(t, ctx, reader, "f"+strconv.Itoa(i)); v != "" {
			t.Fatalf("Get(f%d) after FLUSHDB: got %q, want a miss", i, v)
		}
	}
}

// TestClientSideKeyTTL: a value never stays local beyond its key's TTL.
func TestClientSideKeyTTL(t *testing.T) {
	srv := server(t)
	ctx := testCtx(t)
	reader := openURL(t, withParams(srv.URL(), relaxed+"&client_side=true"))
	const ttl = 500 * time.Millisecond
	start := time.Now()
	mustSet(t, ctx, reader, "ttl", "v", ttl)
	v, _ := getString(t, ctx, reader, "ttl")
	if time.Since(start) > ttl*8/10 {
		t.Skipf("the machine took %s to write and read a key: too busy to test a %s TTL", time.Since(start), ttl)
	}
	if v != "v" {
		t.Fatalf("Get: got %q, want v", v)
	}
	if !eventually(3*time.Second, func() bool { v, _ := getString(t, ctx, reader, "ttl"); return v == "" }) {
		t.Fatalf("a key with a %s TTL still hits after 3s", ttl)
	}
	if d := time.Since(start); d < ttl-50*time.Millisecond {
		t.Fatalf("the key missed after %s, before its TTL of %s", d, ttl)
	}
}

// TestClientSideBounded: the local cache holds at most client_side_size bytes per connection, so
// reading more than that evicts (more misses than keys), and the reads stay correct.
func TestClientSideBounded(t *testing.T) {
	srv := server(t)
	ctx := testCtx(t)
	writer := openURL(t, withParams(srv.URL(), relaxed))
	value := string(make([]byte, 1024))
	for i := 0; i < 500; i++ {
		mustSet(t, ctx, writer, "b"+strconv.Itoa(i), value, 0)
	}
	reader := openURL(t, withParams(srv.URL(), relaxed+"&client_side=true&client_side_size=64KiB&pipeline_multiplex=0"))
	for round := 0; round < 3; round++ {
		for i := 0; i < 500; i++ {
			if v, err := getString(t, ctx, reader, "b"+strconv.Itoa(i)); v != value || err != nil {
				t.Fatalf("Get(b%d): got %d bytes, %v", i, len(v), err)
			}
		}
	}
	// 500 KiB of values through a 64 KiB cache read in a cycle: almost every read misses.
	if s := reader.Stats(); s.Misses < 1000 {
		t.Fatalf("stats with a 64KiB cache over 500KiB: got %+v, want most of 1500 reads to miss", s)
	}
}

// TestClientSideCluster: client-side caching on a 3-master Cluster: exact miss counts over keys of
// every node, and writes by another client seen within 50ms.
func TestClientSideCluster(t *testing.T) {
	cl := redistest.StartCluster(t, 3)
	ctx := testCtx(t)
	writer := openURL(t, withParams(cl.URL(), relaxed))
	reader := openURL(t, withParams(cl.URL(), relaxed+"&client_side=true"))
	for i := 0; i < 100; i++ {
		mustSet(t, ctx, writer, "c"+strconv.Itoa(i), "v"+strconv.Itoa(i), 0)
	}
	for i := 0; i < 10000; i++ {
		k := i % 100
		if v, err := getString(t, ctx, reader, "c"+strconv.Itoa(k)); v != "v"+strconv.Itoa(k) || err != nil {
			t.Fatalf("Get(c%d): got %q, %v", k, v, err)
		}
	}
	if s := reader.Stats(); s.Misses != 100 || s.Hits != 9900 {
		t.Fatalf("stats: got %+v, want 100 misses and 9900 hits", s)
	}
	stalls := startStallMeter(t)
	for i := 0; i < 100; i++ {
		k := "c" + strconv.Itoa(i)
		mustSet(t, ctx, writer, k, "new", 0)
		written := time.Now()
		if !eventually(time.Second, func() bool { v, _ := getString(t, ctx, reader, k); return v == "new" }) {
			t.Fatalf("Get(%s): the write not seen after 1s", k)
		}
		if d, stall := time.Since(written), stalls.during(written, time.Now()); d > 50*time.Millisecond+stall && testenv.Timing() {
			t.Errorf("Get(%s): the write seen after %s, want at most 50ms (+ %s of machine stalls)", k, d, stall)
		}
	}
	testInvalidation(t, cl.URL(), 100)
}

// TestClientSideTTLBound: a value stays local for at most client_side_ttl even when no
// invalidation can come: with the server frozen, a cached key is served from memory until its
// client_side_ttl runs out, and then the read goes to the server (and fails at its deadline).
func TestClientSideTTLBound(t *testing.T) {
	testenv.RequireTiming(t)
	srv := server(t)
	ctx := testCtx(t)
	reader := openURL(t, withParams(srv.URL(), "client_side=true&client_side_ttl=500ms&timeout=200ms"))
	mustSet(t, ctx, reader, "bound", "v", 0)
	if v, _ := getString(t, ctx, reader, "bound"); v != "v" { // a miss: cached for 500ms from now
		t.Fatalf("Get: got %q, want v", v)
	}
	cached := time.Now()
	srv.Freeze()
	defer srv.Thaw()
	var lastHit time.Time
	for time.Since(cached) < 2*time.Second {
		start := time.Now()
		v, err := getString(t, ctx, reader, "bound")
		if err != nil {
			break
		}
		if v != "v" {
			t.Fatalf("Get while frozen: got %q, want v", v)
		}
		lastHit = start
		time.Sleep(10 * time.Millisecond)
	}
	if lastHit.IsZero() || lastHit.Sub(cached) < 300*time.Millisecond {
		t.Fatalf("the value was served from memory for %s after it was cached, want about client_side_ttl (500ms)", lastHit.Sub(cached))
	}
	if age := lastHit.Sub(cached); age > 500*time.Millisecond {
		t.Fatalf("a value was served from memory %s after it was cached, beyond client_side_ttl=500ms", age)
	}
	t.Logf("served from memory until %s after it was cached (client_side_ttl=500ms)", lastHit.Sub(cached).Round(time.Millisecond))
}

// TestClientSideSharedReads: a read marked by the Cache (internal/shared) gets the local copy
// itself, the same memory on every hit and without an allocation, while an unmarked read gets a
// copy of its own; the backend's own writes and deletes, and other clients' writes, reach marked
// reads as they reach the others.
func TestClientSideSharedReads(t *testing.T) {
	srv := server(t)
	ctx := testCtx(t)
	reader := openURL(t, withParams(srv.URL(), relaxed+"&client_side=true"))
	writer := openURL(t, withParams(srv.URL(), relaxed))
	if !reader.SharesReads() || writer.SharesReads() {
		t.Fatalf("SharesReads: %v with client-side caching, %v without; want true, false", reader.SharesReads(), writer.SharesReads())
	}
	marked := shared.Mark(ctx)
	get := func(ctx context.Context) []byte {
		t.Helper()
		v, found, err := reader.Get(ctx, "k")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if !found {
			return nil
		}
		return v.([]byte)
	}
	mustSet(t, ctx, reader, "k", "v1", 0)
	get(ctx) // cached
	before := reader.Stats().Hits
	a, b := get(marked), get(marked)
	if string(a) != "v1" || unsafe.SliceData(a) != unsafe.SliceData(b) {
		t.Fatalf("marked hits: %q and %q at %p and %p; want v1, the same memory", a, b, unsafe.SliceData(a), unsafe.SliceData(b))
	}
	if hits := reader.Stats().Hits - before; hits != 2 {
		t.Fatalf("marked reads counted %d hits, want 2", hits)
	}
	own := get(ctx)
	if string(own) != "v1" || unsafe.SliceData(own) == unsafe.SliceData(a) {
		t.Fatal("an unmarked hit returned the local copy, want a copy of its own")
	}
	own[0] = 'X'
	if v := get(marked); string(v) != "v1" {
		t.Fatalf("after the caller modified its copy: %q, want v1", v)
	}
	if !raceEnabled {
		if n := testing.AllocsPerRun(100, func() { get(marked) }); n != 0 {
			t.Errorf("a marked hit allocates %v times, want 0", n)
		}
	}

	mustSet(t, ctx, reader, "k", "v2", 0) // the backend's own write: seen at once
	if v := get(marked); string(v) != "v2" {
		t.Fatalf("after the backend's own write: %q, want v2", v)
	}
	get(marked) // cached again
	mustSet(t, ctx, writer, "k", "v3", 0)
	if !eventually(time.Second, func() bool { return string(get(marked)) == "v3" }) {
		t.Fatalf("another client's write not seen by marked reads: %q", get(marked))
	}
	get(marked)
	if _, err := reader.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if v := get(marked); v != nil {
		t.Fatalf("after the backend's own delete: %q, want a miss", v)
	}
	mustSet(t, ctx, reader, "k", "v4", 0)
	get(marked)
	if err := reader.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if v := get(marked); v != nil {
		t.Fatalf("after Clear: %q, want a miss", v)
	}
}
