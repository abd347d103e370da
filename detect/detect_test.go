package detect_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/detect"
)

// The benchmarks come first in this file so that, run alone (go test -run '^$' -bench .), the
// ones without a detector measure the path taken before any call of New in the process: one atomic
// load. After New, a context without a detector costs a ctx.Value lookup.

type dtKey struct{}

func BenchmarkRecordWithoutDetector(b *testing.B) {
	ctx := context.Background()
	h := detect.Hit{Key: "user:1", Strategy: "simple", TTL: time.Minute, Backend: "mem://"}
	b.ReportAllocs()
	for b.Loop() {
		detect.Record(ctx, h)
	}
}

func BenchmarkRecordWithoutDetectorDeepContext(b *testing.B) {
	detect.New(context.Background()) // detectors are in use somewhere in the process
	ctx := context.Background()
	for i := range 5 {
		ctx = context.WithValue(ctx, dtKey{}, i)
	}
	h := detect.Hit{Key: "user:1", Strategy: "simple"}
	b.ReportAllocs()
	for b.Loop() {
		detect.Record(ctx, h)
	}
}

func BenchmarkNewAndRecord(b *testing.B) {
	h := detect.Hit{Key: "user:1", Strategy: "simple"}
	b.ReportAllocs()
	for b.Loop() {
		ctx, d := detect.New(context.Background())
		detect.Record(ctx, h)
		if d.Len() != 1 {
			b.Fatal("hit not recorded")
		}
	}
}

func TestWithoutDetectorNothingIsRecordedOrAllocated(t *testing.T) {
	ctx := context.Background()
	if d := detect.FromContext(ctx); d != nil {
		t.Fatalf("FromContext(Background) = %v; want nil", d)
	}
	detect.New(ctx) // a detector elsewhere changes nothing for this context
	h := detect.Hit{Key: "k", Strategy: "simple"}
	if n := testing.AllocsPerRun(100, func() { detect.Record(ctx, h) }); n != 0 {
		t.Fatalf("Record without a detector allocates %v times; want 0", n)
	}
	if d := detect.FromContext(ctx); d != nil {
		t.Fatalf("FromContext(Background) after New elsewhere = %v; want nil", d)
	}
}

func TestDetectorTravelsAndNests(t *testing.T) {
	ctx, outer := detect.New(context.Background())
	child, cancel := context.WithCancel(context.WithValue(ctx, dtKey{}, 1))
	defer cancel()
	if detect.FromContext(child) != outer {
		t.Fatal("FromContext of a derived context is not the detector of its parent")
	}
	detect.Record(child, detect.Hit{Key: "a"})
	innerCtx, inner := detect.New(child)
	detect.Record(innerCtx, detect.Hit{Key: "b"})
	innermostCtx, innermost := detect.New(innerCtx)
	innermost.Add(detect.Hit{Key: "c"}) // Add, as the HTTP middleware records, nests the same way
	detect.Record(child, detect.Hit{Key: "d"})
	if got := fmt.Sprint(outer.Keys(), inner.Keys(), innermost.Keys()); got != "[a b c d] [b c] [c]" {
		t.Fatalf("outer, inner and innermost keys = %s; want [a b c d] [b c] [c] (a detector sees the hits "+
			"recorded under it, in detectors nested in it too, and no other)", got)
	}
	if detect.FromContext(innermostCtx) != innermost {
		t.Fatal("FromContext does not return the innermost detector")
	}
}

func TestHitsReturnsACopy(t *testing.T) {
	ctx, d := detect.New(context.Background())
	detect.Record(ctx, detect.Hit{Key: "a"})
	hits := d.Hits()
	hits[0].Key = "changed"
	detect.Record(ctx, detect.Hit{Key: "b"})
	if got := fmt.Sprint(d.Keys()); got != "[a b]" {
		t.Fatalf("Keys() = %s; want [a b], unchanged by edits of a returned slice", got)
	}
}

func TestDetectorConcurrent(t *testing.T) {
	ctx, d := detect.New(context.Background())
	const goroutines, each = 16, 200
	var wg sync.WaitGroup
	var reads atomic.Int64
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				detect.Record(ctx, detect.Hit{Key: fmt.Sprintf("%d:%d", g, i), Strategy: "simple"})
				if i%20 == 0 { // readers race with writers
					reads.Add(int64(len(d.Hits()) + len(d.Keys()) + d.Len()))
				}
			}
		})
	}
	wg.Wait()
	if n := d.Len(); n != goroutines*each {
		t.Fatalf("Len() = %d; want %d", n, goroutines*each)
	}
	keys := d.Keys()
	sort.Strings(keys)
	for i := 1; i < len(keys); i++ {
		if keys[i] == keys[i-1] {
			t.Fatalf("key %q recorded twice", keys[i])
		}
	}
	// Hits of one goroutine keep their order.
	last := map[int]int{}
	for _, h := range d.Hits() {
		var g, i int
		if _, err := fmt.Sscanf(h.Key, "%d:%d", &g, &i); err != nil {
			t.Fatal(err)
		}
		if prev, ok := last[g]; ok && i <= prev {
			t.Fatalf("hits of goroutine %d out of order: %d after %d", g, i, prev)
		}
		last[g] = i
	}
}

// dtUser is the loader of the tests that go through cashews.Wrap.
func dtUser(_ context.Context, id int) (string, error) { return fmt.Sprint("user ", id), nil }

func TestWrappedFunctionsRecordHits(t *testing.T) {
	c := cashews.New()
	defer c.Close()
	if err := c.Setup("mem://"); err != nil {
		t.Fatal(err)
	}
	get := cashews.MustWrap(c, dtUser, cashews.TTL(time.Hour), cashews.Key("user:{.}"))
	ctx, d := detect.New(context.Background())
	get(ctx, 1) // a miss: nothing recorded
	if n := d.Len(); n != 0 {
		t.Fatalf("Len() after a miss = %d; want 0", n)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 25 {
				if _, err := get(ctx, 1); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	hits := d.Hits()
	if len(hits) != 200 {
		t.Fatalf("Len() = %d; want 200 hits", len(hits))
	}
	h := hits[0]
	if h.Key != "user:1" || h.Strategy != "simple" || h.Backend != "mem://" || h.Err != nil || h.TTL <= 0 || h.TTL > time.Hour {
		t.Fatalf("hit = %+v; want user:1 served by simple from mem:// with a TTL in (0, 1h]", h)
	}
	if _, err := get(context.Background(), 1); err != nil || d.Len() != 200 {
		t.Fatalf("a hit without the detector's context was recorded: Len() = %d, err = %v", d.Len(), err)
	}
}

func ExampleNew() {
	c := cashews.New()
	defer c.Close()
	if err := c.Setup("mem://"); err != nil {
		panic(err)
	}
	getUser := cashews.MustWrap(c, dtUser, cashews.TTL(time.Hour), cashews.Key("user:{.}"))

	ctx, d := detect.New(context.Background())
	getUser(ctx, 1) // computed and stored
	getUser(ctx, 1) // served from cache
	for _, h := range d.Hits() {
		fmt.Println(h.Key, h.Strategy, h.Backend, h.TTL.Round(time.Minute))
	}
	// Output:
	// user:1 simple mem:// 1h0m0s
}
