package backendtest

import (
	"sync/atomic"
	"time"

	"github.com/cashews-go/cashews/backends"
)

// window is a sliding-window key under test with a base time; at moves the fake clock along with the
// times passed to SliceIncr, so that a backend may read either.
type window struct {
	e    *env
	key  string
	base time.Time
}

func (e *env) window(name string) *window {
	return &window{e: e, key: e.key(name), base: e.now().Truncate(time.Millisecond)}
}

// at returns base+d, moving the fake clock there first.
func (w *window) at(d time.Duration) time.Time {
	t := w.base.Add(d)
	if !w.e.realTime && w.e.clock.Now().Before(t) {
		w.e.clock.Set(t)
	}
	return t
}

// incr calls SliceIncr at base+d and reports unless it returns (count, recorded, nil).
func (w *window) incr(d, size time.Duration, limit, count int64, recorded bool) {
	w.e.t.Helper()
	now := w.at(d)
	c, r, err := w.e.b.SliceIncr(w.e.ctx(), w.key, now, size, limit)
	if c != count || r != recorded || err != nil {
		w.e.t.Errorf("SliceIncr(%q, base+%v, window %v, limit %d) = (%d, %v, %v), want (%d, %v, nil)",
			w.key, d, size, limit, c, r, err, count, recorded)
	}
}

func testSliceIncrLimit(e *env) {
	const size, limit = 10 * time.Second, 3
	w := e.window("w")
	w.incr(0, size, limit, 1, true)
	w.incr(time.Second, size, limit, 2, true)
	w.incr(2*time.Second, size, limit, 3, true)
	w.incr(3*time.Second, size, limit, 3, false) // full: not recorded
	w.incr(4*time.Second, size, limit, 3, false)
	// At base+10.5s the event at base has left the window; those at +1s and +2s remain.
	w.incr(10*time.Second+500*time.Millisecond, size, limit, 3, true)
	// At base+12.5s the events at +1s and +2s have left too.
	w.incr(12*time.Second+500*time.Millisecond, size, limit, 2, true)
	// Long after, everything is forgotten.
	w.incr(time.Hour, size, limit, 1, true)

	// A limit of one.
	w = e.window("one")
	w.incr(0, size, 1, 1, true)
	w.incr(time.Second, size, 1, 1, false)
	w.incr(size+time.Millisecond, size, 1, 1, true)
}

func testSliceIncrLowerLimit(e *env) {
	const size = 10 * time.Second
	w := e.window("lower")
	w.incr(0, size, 3, 1, true)
	w.incr(time.Second, size, 3, 2, true)
	w.incr(2*time.Second, size, 3, 3, true)
	// The limit drops to 2: the window keeps its newest 2 events (at +1s and +2s), which fill it.
	w.incr(3*time.Second, size, 2, 2, false)
	// Back at 3, there is room for one more.
	w.incr(4*time.Second, size, 3, 3, true)
	// At +11.5s the event at +1s has left the window; +2s and +4s remain, and one more fits.
	w.incr(11*time.Second+500*time.Millisecond, size, 3, 3, true)
}

func testSliceIncrBoundary(e *env) {
	const size, limit = 10 * time.Second, 100
	w := e.window("exact")
	w.incr(0, size, limit, 1, true)
	w.incr(size/2, size, limit, 2, true)
	w.incr(size, size, limit, 2, true) // the event at base is at now-window: out; the one at size/2 stays

	w = e.window("inside")
	w.incr(0, size, limit, 1, true)
	w.incr(size-time.Millisecond, size, limit, 2, true) // the event at base is just inside
	w.incr(size, size, limit, 2, true)                  // now base leaves, base+size-1ms stays
}

func testSliceIncrConcurrent(e *env) {
	const workers, each, limit = 16, 10, 50
	w := e.window("w")
	now := w.at(0)
	var recorded atomic.Int64
	parallel(workers, func(int) {
		for range each {
			_, r, err := e.b.SliceIncr(e.ctx(), w.key, now, time.Minute, limit)
			if err != nil {
				e.t.Errorf("SliceIncr(%q): %v", w.key, err)
				return
			}
			if r {
				recorded.Add(1)
			}
		}
	})
	if n := recorded.Load(); n != limit {
		e.t.Errorf("%d goroutines x %d SliceIncr at one instant with limit %d recorded %d events, want %d", workers, each, limit, n, limit)
	}
	w.incr(0, time.Minute, limit, limit, false)
}

func testSliceIncrExpiry(e *env) {
	size := e.shortTTL()
	w := e.window("w")
	start := w.at(0)
	w.incr(0, size, 10, 1, true)
	e.beforeExpiry(start, size, "sliding-window key", func() error { return e.ttlWithin(w.key, size, start) })
	e.afterExpiry(start, size, "sliding-window key", func() error { return e.exists(w.key, false) })
}

func testSliceIncrInvalid(e *env) {
	ctx, k := e.ctx(), e.key("window")
	now := e.now()
	if n, rec, err := e.b.SliceIncr(ctx, k, now, time.Minute, 3); n != 1 || !rec || err != nil {
		e.t.Fatalf("SliceIncr(limit 3) = (%d, %v, %v), want (1, true, nil)", n, rec, err)
	}
	for _, c := range []struct {
		window time.Duration
		limit  int64
	}{{time.Minute, 0}, {time.Minute, -1}, {0, 3}, {-time.Second, 3}} {
		n, rec, err := e.b.SliceIncr(ctx, k, now, c.window, c.limit)
		e.wantErrIs(err, backends.ErrInvalidArgument, "SliceIncr(window %v, limit %d) = (%d, %v)", c.window, c.limit, n, rec)
	}
	if n, rec, err := e.b.SliceIncr(ctx, k, now, time.Minute, 3); n != 2 || !rec || err != nil {
		e.t.Errorf("SliceIncr(limit 3) after the refused calls = (%d, %v, %v), want (2, true, nil): they changed nothing", n, rec, err)
	}
	e.check(e.exists(e.key("never"), false))
	_, _, err := e.b.SliceIncr(ctx, e.key("never"), now, time.Minute, 0)
	e.wantErrIs(err, backends.ErrInvalidArgument, "SliceIncr(missing key, limit 0)")
	e.check(e.exists(e.key("never"), false))
}
