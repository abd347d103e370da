package memory

import (
	"sync/atomic"
	"time"
)

// coarseResolution is how often the coarse clock reads the system clock while the backend is read.
const coarseResolution = time.Millisecond

// coarseClock serves the time to the backend's lock-free readers (Get, GetMany, Exists) when the
// backend runs on the system clock: a goroutine of the backend reads the clock once per
// millisecond and stores it, and a read loads that. Reading the system clock costs from about 20 ns
// to several hundred on virtual machines whose hypervisor traps the CPU's time-stamp counter: more
// than the rest of a Get. In exchange, a read may see an entry up to about a millisecond (more when
// the goroutine runs late) after its TTL ended; writes and every other command read the clock
// itself, so a TTL never ends early, and an injected clock (tests) is always read directly.
//
// The goroutine stops ticking when a millisecond passes without a read, so an idle backend costs no
// wake-ups (and a testing/synctest bubble can skip ahead in time): readers then read the clock
// themselves and wake it.
type coarseClock struct {
	now  atomic.Int64 // the time of the last tick; 0 while the goroutine is parked
	used atomic.Bool  // now was read since the last tick
	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

func newCoarseClock() *coarseClock {
	return &coarseClock{wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// read returns the time of the last tick. While the goroutine is parked, it reads the time with
// precise, stores it for the readers that follow until the goroutine runs, and wakes the goroutine.
func (c *coarseClock) read(precise func() int64) int64 {
	if t := c.now.Load(); t != 0 {
		if !c.used.Load() { // one write per tick, not per read
			c.used.Store(true)
		}
		return t
	}
	t := precise()
	if c.now.CompareAndSwap(0, t) {
		c.used.Store(true)
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	return t
}

// run ticks until stop is closed, parking while nobody reads.
func (c *coarseClock) run(precise func() int64) {
	defer close(c.done)
	t := time.NewTicker(coarseResolution)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		case <-t.C:
			if !c.used.Swap(false) {
				c.now.Store(0)
				select {
				case <-c.stop:
					return
				case <-c.wake: // a reader stored the time when it woke us
					t.Reset(coarseResolution)
					continue
				}
			}
		}
		c.now.Store(precise())
	}
}
