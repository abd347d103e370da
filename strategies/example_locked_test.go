package strategies_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/strategies"
)

func ExampleLocked() {
	c := cashews.New()
	defer c.Close()
	if err := c.Setup("mem://"); err != nil {
		panic(err)
	}
	var builds atomic.Int64
	buildReport := func(ctx context.Context, day string) (string, error) {
		builds.Add(1)
		return "sales report for " + day, nil
	}
	// One caller in the cluster builds a missing report; the others wait for it and read it from
	// the cache. Each caller waits at most as long as its context lasts.
	report := cashews.MustWrap(c, buildReport, cashews.Key("report:{.}"), cashews.TTL(time.Hour),
		strategies.Locked(strategies.LockTTL(30*time.Second)))

	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { _, _ = report(context.Background(), "2025-01-01") })
	}
	wg.Wait()
	fmt.Println(report(context.Background(), "2025-01-01"))
	fmt.Println("builds:", builds.Load())
	// Output:
	// sales report for 2025-01-01 <nil>
	// builds: 1
}
