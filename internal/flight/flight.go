// Package flight deduplicates concurrent calls for the same key, like x/sync/singleflight, with the
// two differences a cache needs: each waiter honours its own context while the shared call goes on
// detached from every caller's cancellation, and a panic in the call reaches every waiter as an error
// instead of crashing the process.
package flight

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
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

type call[V any] struct {
	done   chan struct{}
	val    V
	err    error
	shared bool // written under the group's lock before done closes
}

// Group runs one call per key at a time. The zero Group is ready to use.
type Group[V any] struct {
	mu    sync.Mutex
	calls map[string]*call[V]
}

// Do runs fn once for all concurrent callers with the same key and returns its result. fn runs in a
// goroutine of its own with a context that carries the first caller's values but not its
// cancellation; each caller waits on its own ctx and returns ctx.Err() if that ends first, while the
// call goes on for the others. shared reports whether the result went to more than one caller.
func (g *Group[V]) Do(ctx context.Context, key string, fn func(ctx context.Context) (V, error)) (v V, shared bool, err error) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = make(map[string]*call[V])
	}
	c, running := g.calls[key]
	if running {
		c.shared = true
	} else {
		c = &call[V]{done: make(chan struct{})}
		g.calls[key] = c
		go g.run(context.WithoutCancel(ctx), key, c, fn)
	}
	g.mu.Unlock()

	select {
	case <-c.done:
		return c.val, c.shared, c.err
	case <-ctx.Done():
		var zero V
		return zero, running, ctx.Err()
	}
}

func (g *Group[V]) run(ctx context.Context, key string, c *call[V], fn func(ctx context.Context) (V, error)) {
	defer func() {
		if r := recover(); r != nil {
			c.err = &PanicError{Value: r, Stack: debug.Stack()}
		}
		g.mu.Lock()
		if g.calls[key] == c {
			delete(g.calls, key)
		}
		g.mu.Unlock()
		close(c.done)
	}()
	c.val, c.err = fn(ctx)
}

// Forget makes the next Do for key start a new call even if one is running.
func (g *Group[V]) Forget(key string) {
	g.mu.Lock()
	delete(g.calls, key)
	g.mu.Unlock()
}
