package strategies_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/strategies"
)

func ExampleHit() {
	c := cashews.New()
	defer c.Close()
	if err := c.Setup("mem://"); err != nil {
		panic(err)
	}
	issued := 0
	issue := func(ctx context.Context, user int) (string, error) {
		issued++
		return fmt.Sprintf("token #%d", issued), nil
	}
	// Each token is handed out from cache twice after it was issued, then a new one is issued.
	token := cashews.MustWrap(c, issue, cashews.TTL(time.Hour), cashews.Key("token:{.}"), strategies.Hit(2))

	for range 5 {
		fmt.Println(token(context.Background(), 42))
	}
	// Output:
	// token #1 <nil>
	// token #1 <nil>
	// token #1 <nil>
	// token #2 <nil>
	// token #2 <nil>
}
