package cashews

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cashews-go/cashews/internal/coarse"
)

// TestCoarseClock: on the system clock, expiry checks read a clock that lags the system clock by at
// most its resolution while reads come, read the system clock itself after an idle spell (the
// goroutine parked), and after Close; Close stops the goroutine (synctest.Test fails otherwise).
// With WithClock there is no coarse clock.
func TestCoarseClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New()
		if c.coarse == nil {
			t.Fatal("no coarse clock on the system clock")
		}
		if got, want := c.coarse.Read(), time.Now().UnixNano(); got != want {
			t.Fatalf("first read %d, want the clock's %d", got, want)
		}
		for range 50 { // reads every 100 µs: the goroutine keeps ticking
			time.Sleep(100 * time.Microsecond)
			now := time.Now().UnixNano()
			if got := c.coarse.Read(); got > now || now-got > int64(coarse.Resolution) {
				t.Fatalf("read %d, %s behind the clock; want at most %s", got, time.Duration(now-got), coarse.Resolution)
			}
		}
		time.Sleep(10 * time.Millisecond) // idle: the goroutine parks
		synctest.Wait()
		if got, want := c.coarse.Read(), time.Now().UnixNano(); got != want {
			t.Fatalf("read after an idle spell %d, want the clock's %d", got, want)
		}
		c.Close()
		for range 3 {
			time.Sleep(time.Second)
			if got, want := c.coarse.Read(), time.Now().UnixNano(); got != want {
				t.Fatalf("read after Close %d, want the clock's %d", got, want)
			}
		}
	})
	if New(WithClock(&testClock{})).coarse != nil {
		t.Fatal("a coarse clock with an injected clock")
	}
}

// TestCoarseClockNeverStartedAfterClose: a Cache closed before its first read never starts the
// goroutine, and reads the system clock.
func TestCoarseClockNeverStartedAfterClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New()
		c.Close()
		for range 3 {
			time.Sleep(time.Second)
			if got, want := c.coarse.Read(), time.Now().UnixNano(); got != want {
				t.Fatalf("read %d, want the clock's %d", got, want)
			}
		}
	})
}

// TestWrapExpiresOnTheCoarseClock: on the system clock a wrapped function's entry is served until
// its TTL and not after it (give or take the coarse clock's millisecond).
func TestWrapExpiresOnTheCoarseClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New()
		defer c.Close()
		if err := c.Setup("mem://"); err != nil {
			t.Fatal(err)
		}
		runs := 0
		get := MustWrap(c, func(ctx context.Context, id int) (int, error) { runs++; return id, nil }, TTL(time.Second), Key("coarse:{.}"))
		ctx := context.Background()
		get(ctx, 1)
		for range 99 { // hits every 10 ms, up to 10 ms before the TTL
			time.Sleep(10 * time.Millisecond)
			get(ctx, 1)
		}
		if runs != 1 {
			t.Fatalf("%d runs before the TTL, want 1", runs)
		}
		time.Sleep(10*time.Millisecond + 2*coarse.Resolution)
		get(ctx, 1)
		if runs != 2 {
			t.Fatalf("%d runs after the TTL, want 2", runs)
		}
	})
}

type testClock struct{}

func (*testClock) Now() time.Time { return time.Unix(0, 0) }
