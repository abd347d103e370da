package cashews_test

import (
	"context"
	"errors"
	"testing"

	"github.com/cashews-go/cashews"
)

// TestTransactionsOfTwoCaches: a transaction of one Cache inside a transaction of another leaves
// each Cache's writes to its own transaction.
func TestTransactionsOfTwoCaches(t *testing.T) {
	c1, _ := newCache(t, "mem://")
	c2, _ := newCache(t, "mem://")
	ctx := context.Background()
	err := c1.Transaction(ctx, func(ctx context.Context) error {
		c1.Set(ctx, "a", "1", 0)
		err := c2.Transaction(ctx, func(ctx context.Context) error {
			c1.Set(ctx, "b", "1", 0) // still c1's transaction
			c2.Set(ctx, "c", "1", 0)
			if _, found, _ := cashews.Get[string](context.Background(), c1, "b"); found {
				t.Error("c1's write inside c2's transaction was applied at once")
			}
			return nil
		})
		if err != nil {
			return err
		}
		if _, found, _ := cashews.Get[string](context.Background(), c2, "c"); !found {
			t.Error("c2's transaction did not commit")
		}
		return errors.New("rollback c1")
	})
	if err == nil {
		t.Fatal("c1's transaction did not fail")
	}
	for _, k := range []string{"a", "b"} {
		if _, found, _ := cashews.Get[string](ctx, c1, k); found {
			t.Errorf("c1 %s applied after the rollback", k)
		}
	}
}
