package strategies_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends/backendtest"
	"github.com/cashews-go/cashews/strategies"
)

func ExamplePerf() {
	ctx := context.Background()
	clock := backendtest.NewClock() // a fake clock, to make the search slow on demand
	c := cashews.New(cashews.WithClock(clock))
	defer c.Close()
	if err := c.Setup("mem://"); err != nil {
		panic(err)
	}

	latency := 20 * time.Millisecond
	search := func(ctx context.Context, q string) ([]string, error) {
		clock.Advance(latency) // the search takes this long
		return []string{q}, nil
	}
	guarded := cashews.MustWrap(c, search, cashews.Name("search"),
		strategies.Perf(time.Minute, strategies.PerfTrace(5)))

	for range 5 { // the record of normal latencies
		guarded(ctx, "go")
	}
	latency = time.Second // the search slows down
	_, err := guarded(ctx, "go")
	fmt.Println("slow call:", err)
	_, err = guarded(ctx, "go")
	fmt.Println("next call degraded:", errors.Is(err, cashews.ErrPerfDegraded))

	clock.Advance(time.Minute)
	latency = 20 * time.Millisecond
	_, err = guarded(ctx, "go")
	fmt.Println("a minute later:", err)
	// Output:
	// slow call: <nil>
	// next call degraded: true
	// a minute later: <nil>
}
