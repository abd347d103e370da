package cashews_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
)

// The byte-path benchmarks: the same hits as BenchmarkCacheGet and BenchmarkWrapHit on a byte store
// (mem:// with copy=true), with and without a secret, so that the cost of the value format (codec,
// type fingerprint, MAC) shows apart from the network.
var byteModes = []struct{ name, url string }{
	{"copy", "mem://?copy=true"},
	{"copy-secret", "mem://?copy=true&secret=0123456789abcdef0123456789abcdef"},
}

func BenchmarkCacheGetBytes(b *testing.B) {
	for _, m := range byteModes {
		c, _ := newCache(b, m.url)
		ctx := context.Background()
		keys := make([]string, 1024)
		for i := range keys {
			keys[i] = fmt.Sprintf("user:%d", i)
			c.Set(ctx, keys[i], user{i, "name"}, time.Hour)
		}
		b.Run(m.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, ok, err := cashews.Get[user](ctx, c, keys[i&1023]); !ok || err != nil {
					b.Fatal("miss", err)
				}
				i++
			}
		})
	}
}

func BenchmarkWrapHitBytes(b *testing.B) {
	for _, m := range byteModes {
		c, _ := newCache(b, m.url)
		ctx := context.Background()
		var runs atomic.Int64
		get := cashews.MustWrap(c, counted(&runs), cashews.TTL(time.Hour), cashews.Key("user:{ID}:{Lang:lower}"))
		qs := make([]query, 1024)
		for i := range qs {
			qs[i] = query{i, "EN"}
			get(ctx, qs[i])
		}
		b.Run(m.name, func(b *testing.B) {
			b.ReportAllocs()
			before := runs.Load()
			i := 0
			for b.Loop() {
				get(ctx, qs[i&1023])
				i++
			}
			if runs.Load() != before {
				b.Fatal("a hit ran the function")
			}
		})
	}
}
