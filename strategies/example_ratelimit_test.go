package strategies_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/strategies"
)

func ExampleRateLimit() {
	c := cashews.New()
	defer c.Close()
	if err := c.Setup("mem://"); err != nil {
		panic(err)
	}
	sendSMS := func(ctx context.Context, phone string) (string, error) { return "sent to " + phone, nil }
	// Two messages per phone number and hour, counted in the backend: every process sharing it
	// shares the limit.
	send := cashews.MustWrap(c, sendSMS, cashews.Name("sendSMS"), cashews.Key("sms:{.}"),
		strategies.RateLimit(2, time.Hour))

	for _, phone := range []string{"+15550100", "+15550100", "+15550100", "+15550199"} {
		msg, err := send(context.Background(), phone)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(msg)
	}
	// Output:
	// sent to +15550100
	// sent to +15550100
	// cashews: rate limited: sendSMS: over 2 calls per 1h0m0s
	// sent to +15550199
}

func ExampleSlidingRateLimit() {
	c := cashews.New()
	defer c.Close()
	if err := c.Setup("mem://"); err != nil {
		panic(err)
	}
	search := func(ctx context.Context, query string) (string, error) { return "results for " + query, nil }
	// At most three searches in any minute; over that, the call gets an answer of its own instead of
	// an error.
	limited := cashews.MustWrap(c, search, cashews.Key("search"),
		strategies.SlidingRateLimit(3, time.Minute, strategies.RateLimitAction(
			func(ctx context.Context, call cashews.WrapCall) (any, error) {
				return "slow down, try again in a minute", nil
			})))

	for _, q := range []string{"go", "redis", "cache", "lock"} {
		fmt.Println(limited(context.Background(), q))
	}
	// Output:
	// results for go <nil>
	// results for redis <nil>
	// results for cache <nil>
	// slow down, try again in a minute <nil>
}
