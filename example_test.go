package cashews_test

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/cashews-go/cashews"
)

func ExampleCache_Setup() {
	c := cashews.New()
	defer c.Close()
	// Keys starting with "user:" go to their own bounded memory backend; the rest to the default.
	if err := c.Setup("mem://?size=10000"); err != nil {
		fmt.Println(err)
	}
	if err := c.Setup("mem://?size=100&check_interval=30s", cashews.WithPrefix("user:")); err != nil {
		fmt.Println(err)
	}
	// Mistakes are named.
	fmt.Println(c.Setup("mem://?sise=10", cashews.WithPrefix("x:")))
	fmt.Println(c.Setup("redis://localhost:6379", cashews.WithPrefix("y:")))
	// Output:
	// cashews: unknown URL parameter "sise" for the mem backend
	// cashews: unknown URL scheme "redis" (registered: mem); add import _ "github.com/cashews-go/cashews/backends/redis": cashews: unknown scheme
}

func ExampleGet() {
	c := cashews.New()
	defer c.Close()
	c.Setup("mem://")
	ctx := context.Background()

	type User struct {
		ID   int
		Name string
	}
	c.Set(ctx, "user:1", User{1, "Ann"}, time.Hour)

	u, found, err := cashews.Get[User](ctx, c, "user:1")
	fmt.Println(u, found, err)
	_, found, err = cashews.Get[User](ctx, c, "user:2") // a miss is not an error
	fmt.Println(found, err)
	// Output:
	// {1 Ann} true <nil>
	// false <nil>
}

func ExampleCache_Lock() {
	c := cashews.New()
	defer c.Close()
	c.Setup("mem://")
	ctx := context.Background()

	l, err := c.Lock(ctx, "lock:report", time.Minute) // waits while another owner holds it
	if err != nil {
		fmt.Println(err)
		return
	}
	_, free, _ := c.TryLock(ctx, "lock:report", time.Minute)
	fmt.Println("second owner got it:", free)
	fmt.Println("unlock:", l.Unlock(ctx))

	err = c.WithLock(ctx, "lock:report", time.Minute, func(ctx context.Context) error {
		fmt.Println("running alone")
		return nil
	})
	fmt.Println("with lock:", err)
	// Output:
	// second owner got it: false
	// unlock: <nil>
	// running alone
	// with lock: <nil>
}

func ExampleCache_Scan() {
	c := cashews.New()
	defer c.Close()
	c.Setup("mem://")
	ctx := context.Background()
	for _, k := range []string{"user:1", "user:2", "order:1"} {
		c.Set(ctx, k, k, 0)
	}
	var keys []string
	for key, err := range c.Scan(ctx, "user:*") {
		if err != nil {
			fmt.Println(err)
			break
		}
		keys = append(keys, key)
	}
	sort.Strings(keys)
	fmt.Println(keys)
	// Output:
	// [user:1 user:2]
}

func ExampleGetOrSet() {
	c := cashews.New()
	defer c.Close()
	c.Setup("mem://")
	ctx := context.Background()
	load := func(ctx context.Context) (string, error) {
		fmt.Println("loading")
		return "value", nil
	}
	for range 2 {
		v, err := cashews.GetOrSet(ctx, c, "k", time.Minute, load)
		fmt.Println(v, err)
	}
	// Output:
	// loading
	// value <nil>
	// value <nil>
}
