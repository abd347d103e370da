package redis

import (
	"time"

	"github.com/redis/rueidis"
)

// Exported for the tests of package redis_test, which use the Cache.

// StallMeter measures the machine's stalls (see stallMeter).
type StallMeter = stallMeter

// StartStallMeter starts a stall meter for the test.
var StartStallMeter = startStallMeter

// During returns the machine's stalls over [from, to].
func (m *stallMeter) During(from, to time.Time) time.Duration { return m.during(from, to) }

// Worst returns the longest stall seen.
func (m *stallMeter) Worst() time.Duration { return m.worst() }

// peek returns the cached reply of key at ms, as Flight does for a hit, from this store alone.
func (s *localStore) peek(key string, ms int64, g *slotGuard) (rueidis.RedisMessage, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if e := s.items[key]; e != nil && e.has && ms < e.xat && s.valid(e, g) {
		return e.val, true
	}
	return rueidis.RedisMessage{}, false
}

// RaceEnabled says the tests run under the race detector.
const RaceEnabled = raceEnabled
