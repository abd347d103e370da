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

func ExampleSoft() {
	clock := backendtest.NewClock() // a fake clock, to move time in the example
	c := cashews.New(cashews.WithClock(clock))
	defer c.Close()
	if err := c.Setup("mem://"); err != nil {
		panic(err)
	}
	forecasts := []string{"sunny", "rain"}
	var fail error
	fetch := func(ctx context.Context, city string) (string, error) {
		if fail != nil {
			return "", fail
		}
		f := forecasts[0]
		forecasts = forecasts[1:]
		return f, nil
	}
	// Fresh for 5 minutes; then recomputed, but while the service fails the stale forecast serves
	// until the hard TTL of an hour.
	forecast := cashews.MustWrap(c, fetch, cashews.TTL(time.Hour), cashews.Key("forecast:{.}"),
		strategies.Soft(5*time.Minute))

	ctx := context.Background()
	fmt.Println(forecast(ctx, "Oslo"))
	clock.Advance(5 * time.Minute)
	fmt.Println(forecast(ctx, "Oslo")) // stale: recomputed
	clock.Advance(5 * time.Minute)
	fail = errors.New("weather service down")
	fmt.Println(forecast(ctx, "Oslo")) // the recompute failed: the stale forecast
	clock.Advance(time.Hour)
	_, err := forecast(ctx, "Oslo") // past the hard TTL
	fmt.Println("error:", err)
	// Output:
	// sunny <nil>
	// rain <nil>
	// rain <nil>
	// error: weather service down
}
