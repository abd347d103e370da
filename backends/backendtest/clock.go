package backendtest

import (
	"sync"
	"time"
)

// ClockStart is the time a [Clock] from [NewClock] starts at: a fixed date, so that failures repeat.
var ClockStart = time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)

// Clock is a fake [backends.Clock] that moves only when told to. It is safe for concurrent use, so a
// backend's own goroutines (a janitor) may read it while a test moves it.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock that reads [ClockStart].
func NewClock() *Clock {
	return &Clock{now: ClockStart}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d (backward if d is negative) and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// Set sets the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
