package strategies_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/detect"
	"github.com/cashews-go/cashews/strategies"
)

func ExampleFailover() {
	c := cashews.New()
	defer c.Close()
	if err := c.Setup("mem://"); err != nil {
		panic(err)
	}
	errUpstream := errors.New("rates service unavailable")
	down := false
	fetchRate := func(ctx context.Context, currency string) (float64, error) {
		if down {
			return 0, errUpstream
		}
		return 1.08, nil
	}
	// Every call asks the service; when it fails, the last rate it gave (kept for a day) stands in.
	rate := cashews.MustWrap(c, fetchRate, cashews.TTL(24*time.Hour), cashews.Key("rate:{.}"),
		strategies.Failover(strategies.FailoverOn(errUpstream)))

	ctx := context.Background()
	fmt.Println(rate(ctx, "EUR"))
	down = true
	ctx, d := detect.New(ctx)
	fmt.Println(rate(ctx, "EUR"))
	fmt.Println("covered:", d.Hits()[0].Err)
	fmt.Println(rate(ctx, "USD")) // never fetched: nothing to fall back on
	// Output:
	// 1.08 <nil>
	// 1.08 <nil>
	// covered: rates service unavailable
	// 0 rates service unavailable
}
