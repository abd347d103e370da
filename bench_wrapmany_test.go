package cashews_test

import (
	"context"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
)

// BenchmarkWrapManyHit compares, on mem:// with every id cached, one WrapMany call for 50 ids with
// 50 calls of a wrapped function (ns/op and allocs/op are per batch of 50).
func BenchmarkWrapManyHit(b *testing.B) {
	c, _ := newCache(b, "mem://")
	ctx := context.Background()
	ids := make([]int, 50)
	for i := range ids {
		ids[i] = i
	}
	many := cashews.MustWrapMany(c, func(ctx context.Context, ids []int) (map[int]int, error) {
		out := make(map[int]int, len(ids))
		for _, id := range ids {
			out[id] = id
		}
		return out, nil
	}, cashews.Name("bench"), cashews.Key("b:{.}"), cashews.TTL(time.Hour))
	one := cashews.MustWrap(c, func(ctx context.Context, id int) (int, error) { return id, nil },
		cashews.Name("bench1"), cashews.Key("b:{.}"), cashews.TTL(time.Hour))
	if _, err := many(ctx, ids); err != nil {
		b.Fatal(err)
	}
	b.Run("WrapMany", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if m, err := many(ctx, ids); err != nil || len(m) != len(ids) {
				b.Fatal(len(m), err)
			}
		}
	})
	b.Run("Wrap-loop", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, id := range ids {
				if _, err := one(ctx, id); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
