package strategies_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends/backendtest"
	"github.com/cashews-go/cashews/strategies"
)

func ExampleEarly() {
	clock := backendtest.NewClock() // a fake clock, to move time in the example
	c := cashews.New(cashews.WithClock(clock))
	defer c.Close()
	if err := c.Setup("mem://"); err != nil {
		panic(err)
	}
	version := 0
	build := func(ctx context.Context, page string) (string, error) {
		version++
		return fmt.Sprintf("%s v%d", page, version), nil
	}
	// Stored for 10 minutes; after 8 the first caller starts one refresh in the background and,
	// like every caller until it ends, gets the stored page at once.
	page := cashews.MustWrap(c, build, cashews.TTL(10*time.Minute), cashews.Key("page:{.}"),
		strategies.Early(8*time.Minute))

	ctx := context.Background()
	fmt.Println(page(ctx, "home"))
	clock.Advance(8 * time.Minute)
	fmt.Println(page(ctx, "home")) // the stored page; a refresh starts
	// The refresh holds a lock until it ends: wait for it by taking the lock, and give it back.
	if l, err := c.Lock(ctx, "page:home"+strategies.EarlyLockSuffix, time.Minute); err == nil {
		l.Unlock(ctx)
	}
	fmt.Println(page(ctx, "home"))
	// Output:
	// home v1 <nil>
	// home v1 <nil>
	// home v2 <nil>
}
