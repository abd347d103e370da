// Package flight deduplicates concurrent calls for the same key, like x/sync/singleflight, with what
// a cache needs on top:
//
//   - Each waiter honours its own context, while the shared call goes on detached from any one
//     caller's cancellation. When every waiter has given up, the call's context is cancelled and the
//     key is free: the next caller starts a new call, instead of joining one that nobody waits for
//     (a source that hangs would otherwise pin its key until the process restarts).
//   - A call may have a timeout of its own, which bounds it even while callers wait.
//   - A panic in the call reaches every waiter as an error instead of crashing the process.
//   - A caller that looked the key up in the cache before calling Do passes a [Mark] taken before
//     that read; if a call for the key finished after the mark, the caller takes its result instead
//     of starting a new call. Its read may have missed what that call stored, and reading again
//     would cost a second round trip on every miss.
package flight

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// PanicError is the error every waiter of a call that panicked receives.
type PanicError struct {
	Value any    // what the function panicked with
	Stack []byte // the stack of the panicking goroutine
}

func (p *PanicError) Error() string {
	return fmt.Sprintf("cashews: the function panicked: %v\n\n%s", p.Value, p.Stack)
}

// Unwrap returns the panic value when it is an error.
func (p *PanicError) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}

// Mark is a point in a Group's sequence of finished calls; see [Group.Mark].
type Mark uint64

// NoMark is the mark of a caller that did not read the cache first: it never takes the result of a
// finished call.
const NoMark Mark = ^Mark(0)

// recentFor is how long a finished call's result stays available to callers whose reads began
// before it finished. A caller whose read and hand-over took longer starts a new call: one more run
// of the function, never a wrong result.
const recentFor = 2 * time.Second

type call[V any] struct {
	done     chan struct{}
	val      V
	err      error
	shared   bool               // written under the group's lock before done closes
	waiters  int                // callers waiting, under the group's lock
	cancel   context.CancelFunc // ends the call's context
	gone     bool               // every waiter gave up; the call is no longer in calls
	finished Mark               // the group's sequence number when the call finished
	at       time.Time          // when it finished
}

// Group runs one call per key at a time. The zero Group is ready to use.
type Group[V any] struct {
	mu     sync.Mutex
	calls  map[string]*call[V]
	recent map[string]*call[V] // finished successful calls, for callers with an earlier mark
	swept  time.Time
	seq    atomic.Uint64 // calls finished so far
}

// Mark returns the current point of the group's sequence of finished calls. Take it before reading
// the cache, and pass it to Do after a miss.
func (g *Group[V]) Mark() Mark { return Mark(g.seq.Load()) }

// Do runs fn once for all concurrent callers with the same key and returns its result. fn runs in a
// goroutine of its own with a context that carries the first caller's values but not its
// cancellation, bounded by timeout when it is positive. Each caller waits on its own ctx and returns
// ctx.Err() if that ends first, while the call goes on for the others; when the last waiter gives
// up, the call's context is cancelled and the next caller starts a new call.
//
// A caller with a mark (see [Group.Mark]) that finds no running call takes the result of a call for
// the key that succeeded after the mark, if there is one. shared reports whether the result went to
// more than one caller.
func (g *Group[V]) Do(ctx context.Context, key string, mark Mark, timeout time.Duration, fn func(ctx context.Context) (V, error)) (v V, shared bool, err error) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = make(map[string]*call[V])
	}
	c, running := g.calls[key]
	if running {
		c.shared = true
	} else if r := g.recent[key]; r != nil && mark != NoMark && r.finished > mark {
		g.mu.Unlock()
		return r.val, true, r.err
	} else {
		c = &call[V]{done: make(chan struct{})}
		cctx := context.WithoutCancel(ctx)
		if timeout > 0 {
			cctx, c.cancel = context.WithTimeout(cctx, timeout)
		} else {
			cctx, c.cancel = context.WithCancel(cctx)
		}
		g.calls[key] = c
		go g.run(cctx, key, c, fn)
	}
	c.waiters++
	g.mu.Unlock()

	select {
	case <-c.done:
		return c.val, c.shared, c.err
	case <-ctx.Done():
	}
	g.mu.Lock()
	select {
	case <-c.done: // it finished meanwhile: take its result
		g.mu.Unlock()
		return c.val, c.shared, c.err
	default:
	}
	c.waiters--
	if c.waiters == 0 && !c.gone {
		c.gone = true
		c.cancel()
		if g.calls[key] == c {
			delete(g.calls, key)
		}
	}
	g.mu.Unlock()
	var zero V
	return zero, running, ctx.Err()
}

func (g *Group[V]) run(ctx context.Context, key string, c *call[V], fn func(ctx context.Context) (V, error)) {
	defer func() {
		if r := recover(); r != nil {
			c.err = &PanicError{Value: r, Stack: debug.Stack()}
		}
		c.cancel()
		now := time.Now()
		g.mu.Lock()
		if g.calls[key] == c {
			delete(g.calls, key)
		}
		c.finished, c.at = Mark(g.seq.Add(1)), now
		if c.err == nil && !c.gone {
			if g.recent == nil {
				g.recent = make(map[string]*call[V])
			}
			g.recent[key] = c
		}
		if now.Sub(g.swept) > recentFor {
			g.swept = now
			for k, r := range g.recent {
				if now.Sub(r.at) > recentFor {
					delete(g.recent, k)
				}
			}
		}
		g.mu.Unlock()
		close(c.done)
	}()
	c.val, c.err = fn(ctx)
}

// Forget makes the next Do for key start a new call even if one is running or has just finished.
func (g *Group[V]) Forget(key string) {
	g.mu.Lock()
	delete(g.calls, key)
	delete(g.recent, key)
	g.mu.Unlock()
}
