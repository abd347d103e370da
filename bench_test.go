package cashews_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
)

func TestGetHitAllocatesNothing(t *testing.T) {
	c, _ := newCache(t, "mem://", "user:=mem://")
	ctx := context.Background()
	c.Set(ctx, "user:1", user{1, "Ann"}, time.Hour)
	c.Set(ctx, "n", 42, 0)
	if n := testing.AllocsPerRun(1000, func() { cashews.Get[user](ctx, c, "user:1") }); n != 0 {
		t.Errorf("Get[user] hit allocates %v times; want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() { cashews.Get[int](ctx, c, "n") }); n != 0 {
		t.Errorf("Get[int] hit allocates %v times; want 0", n)
	}
}

// BenchmarkCacheGet measures cashews.Get through the Cache on a mem:// hit: routing, the disable
// switches and the typed return.
func BenchmarkCacheGet(b *testing.B) {
	c, _ := newCache(b, "mem://", "user:=mem://")
	ctx := context.Background()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("user:%d", i)
		c.Set(ctx, keys[i], user{i, "name"}, time.Hour)
	}
	b.Run("sequential", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, ok, _ := cashews.Get[user](ctx, c, keys[i&1023]); !ok {
				b.Fatal("miss")
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				cashews.Get[user](ctx, c, keys[i&1023])
				i++
			}
		})
	})
}

func BenchmarkCacheSet(b *testing.B) {
	c, _ := newCache(b, "mem://")
	ctx := context.Background()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("user:%d", i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Set(ctx, keys[i&1023], i, time.Hour)
		i++
	}
}
