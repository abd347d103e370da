// Package burst spaces log records of repeated events: the first event of a burst is logged at
// once, and the later ones are summed up in one record per period, so that a failure on every call
// does not flood the log. The Cache, the Redis backend and the HTTP middleware use it.
package burst

import (
	"sync"
	"time"
)

// Log remembers when a record went out and how many events it has not told of since. Its zero
// value is ready to use.
type Log struct {
	mu      sync.Mutex
	lastLog time.Time
	unseen  int64
}

// Due reports whether an event at now should be logged: no record went out within every before it.
// If so, it returns how many events went unlogged since the last record and notes the record;
// otherwise it counts the event for the next one.
func (l *Log) Due(now time.Time, every time.Duration) (unseen int64, due bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.lastLog.IsZero() && now.Sub(l.lastLog) < every {
		l.unseen++
		return 0, false
	}
	unseen = l.unseen
	l.lastLog, l.unseen = now, 0
	return unseen, true
}
