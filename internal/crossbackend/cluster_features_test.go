package crossbackend_test

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends/backendtest"
	"github.com/cashews-go/cashews/internal/redistest"
)

// TestFeaturesOnCluster runs WrapMany and a transaction on a Redis Cluster of three masters, where
// a batch's keys and a transaction's keys and locks spread over every node.
func TestFeaturesOnCluster(t *testing.T) {
	cl := redistest.StartCluster(t, 3)
	for _, driver := range []string{"rueidis", "go-redis"} {
		t.Run(driver, func(t *testing.T) {
			clock := backendtest.NewClock()
			c := cashews.New(cashews.WithClock(clock))
			t.Cleanup(func() { c.Close() })
			if err := c.Setup(cl.URL() + "&timeout=15s&dial_timeout=15s&driver=" + driver); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if err := c.Clear(ctx); err != nil {
				t.Fatal(err)
			}
			count := commands(t, c)

			// WrapMany: one get_many per batch, each id loaded once, whatever node holds it.
			var loaded atomic.Int64
			src := &source{limit: 1000, hook: func(ids []int) { loaded.Add(int64(len(ids))) }}
			get := cashews.MustWrapMany(c, src.load, cashews.Name("cl"), cashews.Key("cl:{.}"), cashews.TTL(time.Hour))
			const batches = 20
			var wg sync.WaitGroup
			for b := range batches {
				wg.Go(func() {
					var ids []int
					for i := range 30 {
						ids = append(ids, (b*11+i)%200)
					}
					got, err := get(ctx, ids)
					if err != nil || len(got) != len(ids) {
						t.Errorf("batch %d: %d values, %v", b, len(got), err)
					}
				})
			}
			wg.Wait()
			n := count()
			if n["get_many"] != batches {
				t.Errorf("%d get_many for %d batches; want one each", n["get_many"], batches)
			}
			distinct := map[int]bool{}
			for b := range batches {
				for i := range 30 {
					distinct[(b*11+i)%200] = true
				}
			}
			if loaded.Load() != int64(len(distinct)) {
				t.Errorf("%d ids loaded; want each of %d once", loaded.Load(), len(distinct))
			}
			t.Logf("%d batches of 30 ids over 200: %v, %d source calls, %d ids", batches, n, len(src.took()), loaded.Load())

			// A locked transaction over keys in every slot range.
			keys := make([]string, 12)
			for i := range keys {
				keys[i] = fmt.Sprint("tx:", i)
			}
			err := c.Transaction(ctx, func(ctx context.Context) error {
				for i, k := range keys {
					if _, err := c.Set(ctx, k, i, 0); err != nil {
						return err
					}
				}
				if _, err := c.Incr(ctx, "tx:0", 100, 0); err != nil { // 0 + 100
					return err
				}
				if n, err := c.DeleteMatch(ctx, "tx:1*"); err != nil || n != 3 { // tx:1, tx:10, tx:11
					t.Errorf("DeleteMatch inside = %d, %v; want 3", n, err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			got, err := cashews.GetMany[int](ctx, c, keys...)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]int{"tx:0": 100}
			for i := 2; i < 10; i++ {
				want[fmt.Sprint("tx:", i)] = i
			}
			if !maps.Equal(got, want) {
				t.Errorf("after the commit: %v; want %v", got, want)
			}
			for _, k := range keys {
				if ok, err := c.Exists(ctx, cashews.TxLockPrefix+k); ok || err != nil {
					t.Errorf("the lock of %s after the commit: %v, %v; want released", k, ok, err)
				}
			}
		})
	}
}
