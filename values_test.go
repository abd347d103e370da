package cashews_test

import (
	"context"
	"errors"
	"testing"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/backends/memory"
)

// onlyBackend hides every optional interface of the backend it holds.
type onlyBackend struct{ backends.Full }

// TestSignedIncrNeedsCompareAndSwap: under a secret, a backend without compare-and-swap cannot
// update a signed counter, and says so rather than fall back to an unsigned one.
func TestSignedIncrNeedsCompareAndSwap(t *testing.T) {
	c := cashews.New()
	t.Cleanup(func() { c.Close() })
	if err := c.SetupBackend(onlyBackend{memory.New(memory.Options{Copy: true})}, "secret=s"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if n, err := c.Incr(ctx, "n", 1, 0); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Incr under a secret without compare-and-swap = %d, %v; want errors.ErrUnsupported", n, err)
	}
	if _, found, err := c.GetRaw(ctx, "n"); found || err != nil {
		t.Errorf("the failed Incr wrote something: found %v, %v", found, err)
	}
}

// TestSignedIncrHonoursContext: an Incr that waits for its turn on a counter gives up when its
// context ends.
func TestSignedIncrHonoursContext(t *testing.T) {
	c, _ := newCache(t, "mem://?copy=true&secret=s")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n, err := c.Incr(ctx, "n", 1, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Incr with a cancelled context = %d, %v; want context.Canceled", n, err)
	}
}
