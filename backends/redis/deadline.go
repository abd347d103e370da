package redis

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// deadlines hands out the contexts that bound commands by the backend's timeout when the caller's
// context cannot end by itself (context.Background, or values over it), without deriving a context
// per command: a derived context costs a timer and four allocations, more than the rest of a GET.
// Commands started within one step share a context whose deadline is the timeout plus at most one
// step after each of them started (a step is a 32nd of the timeout, from 100 µs to 5 ms), so a
// command still ends at its deadline, at most a step late. A context is made once per step while
// commands come, and ends by itself at its deadline.
type deadlines struct {
	timeout time.Duration
	step    time.Duration
	cur     atomic.Pointer[sharedDeadline]
	mu      sync.Mutex // serialises renew
}

// sharedDeadline is one step's context.
type sharedDeadline struct {
	ctx    context.Context
	cancel context.CancelFunc
	made   time.Time // with its monotonic reading: a change of the wall clock does not matter
}

func newDeadlines(timeout time.Duration) *deadlines {
	return &deadlines{timeout: timeout, step: min(max(timeout/32, 100*time.Microsecond), 5*time.Millisecond)}
}

// get returns a context that ends between the timeout and the timeout plus a step after now.
func (d *deadlines) get(now time.Time) context.Context {
	if s := d.cur.Load(); s != nil && now.Sub(s.made) < d.step {
		return s.ctx
	}
	return d.renew(now)
}

func (d *deadlines) renew(now time.Time) context.Context {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s := d.cur.Load(); s != nil && now.Sub(s.made) < d.step {
		return s.ctx
	}
	ctx, cancel := context.WithDeadline(context.Background(), now.Add(d.timeout+d.step))
	d.cur.Store(&sharedDeadline{ctx: ctx, cancel: cancel, made: now})
	return ctx
}

// close stops the timer of the current context (earlier ones have ended or end within the timeout).
func (d *deadlines) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s := d.cur.Load(); s != nil {
		s.cancel()
	}
}

// valuesCtx is a shared deadline context that carries the caller's values (a trace span, say), for
// drivers and hooks that read them.
type valuesCtx struct {
	context.Context // the shared deadline
	vals            context.Context
}

func (c *valuesCtx) Value(key any) any { return c.vals.Value(key) }
