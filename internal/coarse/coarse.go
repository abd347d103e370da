// Package coarse is a clock for hot read paths: a goroutine reads the system clock once per
// [Resolution] and stores it, and a read loads that. Reading the system clock costs from about 20 ns
// to a few hundred on virtual machines whose hypervisor traps the time-stamp counter, as much as the
// rest of a cache hit. In exchange, a read may see a time up to about a millisecond old (more when the
// goroutine runs late), so it serves checks that may accept an entry slightly after it expired, never
// before: writes read the clock itself.
//
// The goroutine parks when a tick passes without a read, so an idle clock costs no wake-ups (and a
// testing/synctest bubble can skip ahead in time); readers then read the time themselves and wake it.
// The memory backend and the Cache each own one.
package coarse

import (
	"sync/atomic"
	"time"
)

// Resolution is how often the clock reads the system clock while it is read.
const Resolution = time.Millisecond

// Clock is a coarse clock. Its zero value is not usable: use [New].
type Clock struct {
	now     atomic.Int64  // the time of the last tick; 0 while the goroutine is parked, -1 once it stopped
	used    atomic.Uint32 // 1: now was read since the last tick
	wake    chan struct{}
	precise func() int64 // the system clock, Unix ns
	start   func(run func(stop <-chan struct{})) bool
	started atomic.Bool
}

// New returns a clock that reads the time with precise (the system clock, in Unix nanoseconds, or a
// monotonic reading of it). With start nil, its goroutine is not running yet: its owner runs
// [Clock.Run]. Otherwise the first read calls start, which runs run in a goroutine its owner stops
// (closing stop) and reports whether it could; when it could not (the owner is closed), reads use
// the precise time.
func New(precise func() int64, start func(run func(stop <-chan struct{})) bool) *Clock {
	return &Clock{wake: make(chan struct{}, 1), precise: precise, start: start}
}

// Read returns the time of the last tick. While the goroutine is parked (or not started yet), it reads
// the precise time, stores it for the readers that follow until the goroutine runs, and wakes
// the goroutine; once the goroutine has stopped, it returns the precise time. The common case (a tick
// already read since it was stored) is two loads.
func (c *Clock) Read() int64 {
	t := c.now.Load()
	if t <= 0 || c.used.Load() == 0 {
		t = c.read()
	}
	return t
}

func (c *Clock) read() int64 {
	t := c.now.Load()
	if t > 0 {
		c.used.Store(1) // one write per tick, not per read
		return t
	}
	if t < 0 {
		return c.precise()
	}
	if c.start != nil && !c.started.Load() && c.started.CompareAndSwap(false, true) && !c.start(c.Run) {
		c.Stop()
		return c.precise()
	}
	t = c.precise()
	if c.now.CompareAndSwap(0, t) {
		c.used.Store(1)
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	return t
}

// Stop makes every later read use the precise time, for a clock whose goroutine will never run.
func (c *Clock) Stop() { c.now.Store(-1) }

// Run ticks until stop is closed, parking while nobody reads; then reads use the precise time.
func (c *Clock) Run(stop <-chan struct{}) {
	defer c.Stop()
	t := time.NewTicker(Resolution)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-c.wake:
		case <-t.C:
			if c.used.Swap(0) == 0 {
				c.now.Store(0)
				select {
				case <-stop:
					return
				case <-c.wake: // a reader stored the time when it woke us
					t.Reset(Resolution)
					continue
				}
			}
		}
		c.now.Store(c.precise())
	}
}
