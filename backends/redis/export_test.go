package redis

import "time"

// Exported for the tests of package redis_test, which use the Cache.

// StallMeter measures the machine's stalls (see stallMeter).
type StallMeter = stallMeter

// StartStallMeter starts a stall meter for the test.
var StartStallMeter = startStallMeter

// During returns the machine's stalls over [from, to].
func (m *stallMeter) During(from, to time.Time) time.Duration { return m.during(from, to) }

// Worst returns the longest stall seen.
func (m *stallMeter) Worst() time.Duration { return m.worst() }
