package strategies_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends/backendtest"
)

// TestTagsOnEveryBackend runs the invalidation cases of issue 13 through Wrap on every backend: a
// tagged result is recomputed after DeleteTags of any of its tags, a key written again without the
// tag survives it, and the bookkeeping goes with the keys.
func TestTagsOnEveryBackend(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		ctx := context.Background()
		type q struct{ ID int }
		runs := 0
		get := cashews.MustWrap(c, func(_ context.Context, a q) (string, error) {
			runs++
			return fmt.Sprintf("%d:v%d", a.ID, runs), nil
		}, cashews.Name("tagged"), cashews.TTL(time.Hour), cashews.Key("tg:{ID}"), cashews.Tags("all", "user:{ID}"))

		for id := range 150 {
			if _, err := get(ctx, q{id}); err != nil {
				t.Fatal(err)
			}
		}
		if v, _ := get(ctx, q{1}); v != "1:v2" || runs != 150 {
			t.Fatalf("get(1) = %q after %d runs; want the cached 1:v2 after 150", v, runs)
		}
		if n, err := c.DeleteTags(ctx, "user:1"); n != 1 || err != nil {
			t.Fatalf("DeleteTags(user:1) = %d, %v; want 1", n, err)
		}
		if v, _ := get(ctx, q{1}); v != "1:v151" {
			t.Fatalf("get(1) after DeleteTags = %q; want a fresh 1:v151", v)
		}
		if n, err := c.DeleteTags(ctx, "all"); n != 150 || err != nil {
			t.Fatalf("DeleteTags(all) = %d, %v; want 150", n, err)
		}
		if n, err := c.KeysCount(ctx); n != 0 || err != nil {
			t.Fatalf("KeysCount after DeleteTags(all) = %d, %v; want 0: the per-key tags go with their keys", n, err)
		}

		// Delete, then a write without the tag: the new value survives DeleteTags.
		c.Set(ctx, "key", "value", 0, cashews.Tags("tag"))
		c.Delete(ctx, "key")
		c.Set(ctx, "key", "value2", 0)
		if n, err := c.DeleteTags(ctx, "tag"); n != 0 || err != nil {
			t.Fatalf("DeleteTags(tag) = %d, %v; want 0", n, err)
		}
		if v, _, _ := cashews.Get[string](ctx, c, "key"); v != "value2" {
			t.Fatalf("Get(key) = %q; want value2", v)
		}
		// An overwrite without the tag, and an expired tagged key written again: the same.
		c.Set(ctx, "over", "value", 0, cashews.Tags("tag"))
		c.Set(ctx, "over", "value2", 0)
		if n, err := c.DeleteTags(ctx, "tag"); n != 0 || err != nil {
			t.Fatalf("DeleteTags(tag) after an overwrite = %d, %v; want 0", n, err)
		}
		if v, _, _ := cashews.Get[string](ctx, c, "over"); v != "value2" {
			t.Fatalf("Get(over) = %q; want value2", v)
		}
	})
}
