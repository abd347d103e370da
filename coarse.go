package cashews

import (
	"context"
	"sync/atomic"
	"time"
)

// coarseResolution is how often the coarse clock reads the system clock while entries are read.
const coarseResolution = time.Millisecond

// coarseClock serves the time to the expiry checks of reads (a wrapped function's entry, an entry
// read with Get) when the Cache runs on the system clock, as the memory backend's does for its TTL
// checks: a goroutine of the Cache reads the clock once per millisecond and stores it, and a read
// loads that. Reading the system clock costs from about 20 ns to a few hundred on virtual machines
// whose hypervisor traps the time-stamp counter, as much as the rest of a Wrap hit. In exchange, a
// read may take an entry up to about a millisecond (more when the goroutine runs late) after it
// expired; writes read the clock itself, so an entry never expires early, and an injected clock
// (WithClock) is always read directly.
//
// The goroutine starts at the first read, and parks when a millisecond passes without a read, so
// an idle Cache costs no wake-ups; readers then read the clock themselves and wake it. It is the
// Cache's (see Cache.Go): Close stops it, and reads after that read the clock themselves.
type coarseClock struct {
	now     atomic.Int64 // the time of the last tick, Unix ns; 0 while the goroutine is parked, -1 once it stopped
	used    atomic.Bool  // now was read since the last tick
	started atomic.Bool
	wake    chan struct{}
	start   func(func(context.Context)) bool // Cache.Go
}

func newCoarseClock(start func(func(context.Context)) bool) *coarseClock {
	return &coarseClock{wake: make(chan struct{}, 1), start: start}
}

// read returns the time of the last tick. While the goroutine is parked, it reads the system clock,
// stores it for the readers that follow until the goroutine runs, and wakes the goroutine.
func (c *coarseClock) read() int64 {
	t := c.now.Load()
	if t > 0 {
		if !c.used.Load() { // one write per tick, not per read
			c.used.Store(true)
		}
		return t
	}
	if t < 0 { // stopped
		return time.Now().UnixNano()
	}
	if !c.started.Load() && c.started.CompareAndSwap(false, true) && !c.start(c.run) {
		c.now.Store(-1) // the Cache is closed
	}
	t = time.Now().UnixNano()
	if c.now.CompareAndSwap(0, t) {
		c.used.Store(true)
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	return t
}

// run ticks until ctx ends, parking while nobody reads.
func (c *coarseClock) run(ctx context.Context) {
	defer c.now.Store(-1) // a reader's store of its own time after this would stay: see read
	t := time.NewTicker(coarseResolution)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		case <-t.C:
			if !c.used.Swap(false) {
				c.now.Store(0)
				select {
				case <-ctx.Done():
					return
				case <-c.wake: // a reader stored the time when it woke us
					t.Reset(coarseResolution)
					continue
				}
			}
		}
		c.now.Store(time.Now().UnixNano())
	}
}
