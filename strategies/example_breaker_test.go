package strategies_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/strategies"
)

func ExampleCircuitBreaker() {
	c := cashews.New()
	defer c.Close()
	if err := c.Setup("mem://"); err != nil {
		panic(err)
	}
	calls := 0
	fetchPrice := func(ctx context.Context, sku string) (float64, error) {
		calls++
		return 0, errors.New("pricing service timed out")
	}
	// When half the calls of an hour fail (and there were at least 3), stop calling the service for
	// 30 seconds; then let one trial call through to see whether it is back.
	price := cashews.MustWrap(c, fetchPrice, cashews.Key("price:{.}"),
		strategies.CircuitBreaker(50, time.Hour, 30*time.Second, strategies.BreakerMinCalls(3)))

	for range 5 {
		_, err := price(context.Background(), "sku-1")
		if errors.Is(err, cashews.ErrCircuitOpen) {
			fmt.Println("refused: the circuit is open")
			continue
		}
		fmt.Println(err)
	}
	fmt.Println("calls:", calls)
	// Output:
	// pricing service timed out
	// pricing service timed out
	// pricing service timed out
	// refused: the circuit is open
	// refused: the circuit is open
	// calls: 3
}

// A failover around a breaker serves the last good result while the breaker is open.
func ExampleCircuitBreaker_failover() {
	c := cashews.New()
	defer c.Close()
	if err := c.Setup("mem://"); err != nil {
		panic(err)
	}
	down := false
	fetchPrice := func(ctx context.Context, sku string) (float64, error) {
		if down {
			return 0, errors.New("pricing service timed out")
		}
		return 9.99, nil
	}
	guarded := cashews.MustWrap(c, fetchPrice, cashews.Key("price:{.}"),
		strategies.CircuitBreaker(50, time.Hour, 30*time.Second, strategies.BreakerMinCalls(1)))
	price := cashews.MustWrap(c, guarded, cashews.Key("price-cache:{.}"), cashews.TTL(24*time.Hour),
		strategies.Failover())

	fmt.Println(price(context.Background(), "sku-1")) // stored
	down = true
	fmt.Println(price(context.Background(), "sku-1")) // fails, opens the breaker: the stored price
	fmt.Println(price(context.Background(), "sku-1")) // refused by the breaker: the stored price
	// Output:
	// 9.99 <nil>
	// 9.99 <nil>
	// 9.99 <nil>
}
