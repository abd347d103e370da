package coarse

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestCoarseClock checks, in a synctest bubble (fake time), that the coarse clock parks when a tick
// passes without a read, that a read while parked returns the time and wakes it, and that a ticking
// clock lags by at most its resolution.
func TestCoarseClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		precise := func() int64 { return time.Now().UnixNano() }
		c := New(precise, nil)
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			c.Run(stop)
		}()
		defer func() {
			close(stop)
			<-done
			if got, now := c.Read(), time.Now().UnixNano(); got != now {
				t.Errorf("read after the clock stopped = %d, want the time %d", got, now)
			}
		}()
		if c.now.Load() != 0 {
			t.Fatal("the clock ticks before anyone read it")
		}
		start := time.Now().UnixNano()
		if got := c.Read(); got != start {
			t.Fatalf("read while parked = %d, want the time %d", got, start)
		}
		for range 10 {
			time.Sleep(Resolution / 3)
			now := time.Now().UnixNano()
			got := c.Read()
			if got > now || now-got > int64(Resolution) {
				t.Fatalf("read = %d at %d: lags %v; want at most %v", got, now, time.Duration(now-got), Resolution)
			}
		}
		time.Sleep(3 * Resolution)
		synctest.Wait()
		if c.now.Load() != 0 {
			t.Error("the clock still ticks after ticks without a read; want it parked")
		}
		time.Sleep(time.Hour) // a parked clock does not wake every millisecond of the hour
		if got, now := c.Read(), time.Now().UnixNano(); got != now {
			t.Errorf("read after an hour parked = %d, want the time %d", got, now)
		}
	})
}
