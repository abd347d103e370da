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

func ExampleLoadTimeout() {
	c := cashews.New()
	defer c.Close()
	c.Setup("mem://")
	// A source that hangs until its context ends.
	hang := func(ctx context.Context, id int) (string, error) {
		<-ctx.Done()
		return "", fmt.Errorf("source gave up: %w", ctx.Err())
	}
	get := cashews.MustWrap(c, hang, cashews.TTL(time.Minute), cashews.Key("slow:{.}"),
		cashews.LoadTimeout(50*time.Millisecond))
	_, err := get(context.Background(), 1) // the caller has no deadline; the load has one
	fmt.Println(err)
	// Output:
	// source gave up: context deadline exceeded
}

func ExampleStrict() {
	c := cashews.New()
	defer c.Close()
	c.Setup("mem://")
	// Every command fails, as when Redis is down.
	c.Use(func(next cashews.Handler) cashews.Handler {
		return func(ctx context.Context, call *cashews.Call) (cashews.Result, error) {
			return cashews.Result{}, fmt.Errorf("%s: %w", call.Command(), cashews.ErrUnavailable)
		}
	})
	double := func(ctx context.Context, n int) (int, error) { return 2 * n, nil }
	get := cashews.MustWrap(c, double, cashews.TTL(time.Minute), cashews.Key("double:{.}"))
	strict := cashews.MustWrap(c, double, cashews.TTL(time.Minute), cashews.Key("double:{.}"), cashews.Strict())

	fmt.Println(get(context.Background(), 21)) // fails open: the function answers
	fmt.Println(strict(context.Background(), 21))
	fmt.Println(c.SuppressedErrors(), "failures routed around")
	// Output:
	// 42 <nil>
	// 0 get: cashews: backend unavailable
	// 2 failures routed around
}
