package strategies_test

import (
	"context"
	"fmt"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/strategies"
)

func ExampleBloom() {
	ctx := context.Background()
	c := cashews.New()
	defer c.Close()
	if err := c.Setup("mem://"); err != nil {
		panic(err)
	}

	users := map[int]bool{1: true, 2: true} // the database
	lookups := 0
	userExists := func(ctx context.Context, id int) (bool, error) {
		lookups++
		return users[id], nil
	}

	filter := strategies.Bloom(10_000, 0.01)
	exists := cashews.MustWrap(c, userExists, cashews.Key("user:{.}"), filter)

	// Fill the filter with the keys of every user that exists, then let it answer.
	for id := range users {
		if err := filter.Add(ctx, fmt.Sprintf("user:%d", id)); err != nil {
			panic(err)
		}
	}
	if err := filter.Ready(ctx); err != nil {
		panic(err)
	}

	for _, id := range []int{1, 3, 4} {
		ok, err := exists(ctx, id)
		fmt.Println(id, ok, err)
	}
	fmt.Println("lookups:", lookups)
	// Output:
	// 1 true <nil>
	// 3 false <nil>
	// 4 false <nil>
	// lookups: 1
}
