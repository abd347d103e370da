package cashews_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/cashews-go/cashews"
)

func ExampleCache_Transaction() {
	c := cashews.New()
	defer c.Close()
	c.Setup("mem://")
	ctx := context.Background()
	c.Set(ctx, "balance:ann", 100, 0)
	c.Set(ctx, "balance:bob", 0, 0)

	transfer := func(ctx context.Context, amount int64) error {
		return c.Transaction(ctx, func(ctx context.Context) error {
			ann, err := c.Incr(ctx, "balance:ann", -amount, 0)
			if err != nil {
				return err
			}
			if ann < 0 {
				return errors.New("insufficient funds") // nothing is applied
			}
			_, err = c.Incr(ctx, "balance:bob", amount, 0)
			return err
		}) // default mode: TxLocked; cashews.TxFast, cashews.TxSerializable
	}
	fmt.Println(transfer(ctx, 30))
	fmt.Println(transfer(ctx, 500))
	ann, _, _ := cashews.Get[int64](ctx, c, "balance:ann")
	bob, _, _ := cashews.Get[int64](ctx, c, "balance:bob")
	fmt.Println(ann, bob)
	// Output:
	// <nil>
	// insufficient funds
	// 70 30
}
