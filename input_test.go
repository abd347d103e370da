package cashews_test

import (
	"context"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/strategies"
)

// forever is the largest Duration, a TTL that overflows any expiry time computed in nanoseconds.
const forever = time.Duration(math.MaxInt64)

// TestWrapLongTTL: a TTL over backends.MaxTTL (up to the largest Duration) caches like any other, for
// the simple strategy and for the strategies that compute expiry times from the TTL.
func TestWrapLongTTL(t *testing.T) {
	for name, opts := range map[string][]cashews.WrapOption{
		"simple":  {cashews.TTL(forever)},
		"hit":     {cashews.TTL(forever), strategies.Hit(3)},
		"TTLFunc": {cashews.TTLFunc(func(int) time.Duration { return forever })},
	} {
		for _, u := range []string{"mem://", "mem://?copy=true"} {
			t.Run(name+"/"+u, func(t *testing.T) {
				c, clock := newCache(t, u)
				var runs atomic.Int64
				f := cashews.Wrap(c, func(ctx context.Context, n int) (int, error) {
					runs.Add(1)
					return n, nil
				}, append(opts, cashews.Key("k:{.}"))...)
				for range 2 {
					if _, err := f(context.Background(), 1); err != nil {
						t.Fatal(err)
					}
					clock.Advance(time.Hour)
				}
				if n := runs.Load(); n != 1 {
					t.Errorf("the function ran %d times in two calls with a TTL of %v; want 1", n, forever)
				}
			})
		}
	}
}
