package crossbackend_test

import (
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/cashews-go/cashews"
)

// BenchmarkIncr compares Incr with a secret (a verified compare-and-swap loop) and without one (the
// store's own increment), on one key from one goroutine and from 64 at once (every writer contends
// for the same counter), and on 64 keys from 64 goroutines (little contention).
//
//	go test -run '^$' -bench Incr -benchmem ./internal/crossbackend/
func BenchmarkIncr(b *testing.B) {
	for _, s := range setups() {
		if !s.bytes {
			continue
		}
		b.Run(s.name, func(b *testing.B) {
			c := cashews.New()
			b.Cleanup(func() { c.Close() })
			if err := c.Setup(s.url(b)); err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.Run("seq", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.Incr(ctx, "seq", 1, 0); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("par64-one-key", func(b *testing.B) {
				b.ReportAllocs()
				b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := c.Incr(ctx, "hot", 1, 0); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
			b.Run("par64-64-keys", func(b *testing.B) {
				b.ReportAllocs()
				b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
				var next atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					key := "k" + strconv.FormatInt(next.Add(1)%64, 10)
					for pb.Next() {
						if _, err := c.Incr(ctx, key, 1, 0); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		})
	}
}
