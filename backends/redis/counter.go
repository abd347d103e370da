package redis

import (
	"math/rand/v2"
	"sync/atomic"
)

// counter is an int64 counter striped over cache lines, so that client-side hits on several cores
// do not contend for one line. Load sums the stripes.
type counter struct {
	stripes [8]struct {
		n atomic.Int64
		_ [56]byte
	}
}

// Add adds d to a stripe picked at random (rand.Uint32 is per-thread state: no contention).
func (c *counter) Add(d int64) { c.stripes[rand.Uint32()&7].n.Add(d) }

// Load returns the sum of the stripes.
func (c *counter) Load() int64 {
	var sum int64
	for i := range c.stripes {
		sum += c.stripes[i].n.Load()
	}
	return sum
}
