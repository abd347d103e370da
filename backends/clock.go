package backends

import "time"

// Clock tells the time. Backends take it from [Config] so that tests can move time forward instead of
// sleeping; the zero Config uses the system clock.
type Clock interface {
	Now() time.Time
}

// SystemClock is the [Clock] that reads time.Now.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }
