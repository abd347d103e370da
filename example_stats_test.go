package cashews_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends"
)

func ExampleCache_Stats() {
	c := cashews.New()
	defer c.Close()
	c.Setup("mem://?size=1000")
	ctx := context.Background()

	getUser := cashews.MustWrap(c, func(ctx context.Context, id int) (string, error) {
		return fmt.Sprint("user ", id), nil
	}, cashews.Name("getUser"), cashews.Key("user:{.}"), cashews.TTL(time.Hour))
	for _, id := range []int{1, 1, 2, 1} {
		getUser(ctx, id)
	}

	s := c.Stats()
	b := s.Backends[0]
	fmt.Printf("%s: %d hits, %d misses, %d sets\n", b.Name, b.Hits, b.Misses, b.Sets)
	f := s.Funcs["getUser"]
	fmt.Printf("getUser: %d calls, %d hits, %d misses, %d loads\n", f.Calls, f.Hits, f.Misses, f.Loads)
	// Output:
	// mem://?size=1000: 2 hits, 2 misses, 2 sets
	// getUser: 4 calls, 2 hits, 2 misses, 2 loads
}

func ExampleOnDeletion() {
	c := cashews.New()
	defer c.Close()
	c.Setup("mem://?size=2&shards=1", cashews.OnDeletion(func(d backends.Deletion) {
		fmt.Printf("%s left: %s\n", d.Key, d.Cause)
	}))
	ctx := context.Background()
	c.Set(ctx, "a", 1, 0)
	c.Set(ctx, "a", 2, 0) // replaced
	c.Delete(ctx, "a")    // deleted
	c.Set(ctx, "x", 1, 0)
	c.Set(ctx, "y", 1, 0)
	c.Set(ctx, "z", 1, 0) // over size=2: x, the oldest not read since, is evicted
	fmt.Println(c.Stats().Backends[0].Evictions.Size, "evicted for size")
	// Output:
	// a left: replaced
	// a left: deleted
	// x left: size
	// 1 evicted for size
}
