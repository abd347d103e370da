package cashews

import (
	"context"
	"sync/atomic"

	"github.com/cashews-go/cashews/backends"
)

// commandMask is a set of commands, one bit each.
type commandMask uint64

const allCommands = commandMask(1<<numCommands-1) &^ 1

func maskOf(cmds []Command) commandMask {
	if len(cmds) == 0 {
		return allCommands
	}
	var m commandMask
	for _, c := range cmds {
		if c > 0 && c < numCommands {
			m |= 1 << c
		}
	}
	return m
}

// Disable turns off the given commands (all commands when none is given) on every backend of the
// Cache until [Cache.Enable] turns them on again. A disabled command reaches neither hooks nor
// backends and answers as if the cache were empty: reads miss, writes report false (or zero) with a
// nil error, and Wrap calls the wrapped function. Locks follow the same rule at two levels:
// [Cache.Lock], [Cache.TryLock] and [Cache.WithLock] grant the lock without taking it, while the
// raw [Cache.SetLock] is a write and reports false; the locked strategy, built on SetLock, then
// treats the cache as unavailable and fails open or closed as configured.
func (c *Cache) Disable(cmds ...Command) {
	m := maskOf(cmds)
	for _, r := range c.routeList() {
		r.disabled.Or(uint64(m))
	}
}

// Enable turns on the given commands (all commands when none is given) on every backend, including
// commands that a backend's setup URL disabled.
func (c *Cache) Enable(cmds ...Command) {
	m := maskOf(cmds)
	for _, r := range c.routeList() {
		r.disabled.And(^uint64(m))
	}
}

// IsEnabled reports whether cmd is enabled for the backend of key, in ctx.
func (c *Cache) IsEnabled(ctx context.Context, key string, cmd Command) bool {
	r, err := c.route(key)
	return err == nil && !c.off(ctx, r, cmd)
}

// ctxSwitches becomes true the first time a context switch is made; until then commands skip the
// context lookup.
var ctxSwitches atomic.Bool

type ctxMaskKey struct{}

// WithDisabled returns a context in which the given commands (all commands when none is given) are
// disabled, for every Cache the context reaches: a request can run with the cache off.
func WithDisabled(ctx context.Context, cmds ...Command) context.Context {
	ctxSwitches.Store(true)
	m, _ := ctx.Value(ctxMaskKey{}).(commandMask)
	return context.WithValue(ctx, ctxMaskKey{}, m|maskOf(cmds))
}

// WithEnabled returns a context in which the given commands (all commands when none is given) are no
// longer disabled by an enclosing [WithDisabled]. It does not override [Cache.Disable].
func WithEnabled(ctx context.Context, cmds ...Command) context.Context {
	m, _ := ctx.Value(ctxMaskKey{}).(commandMask)
	return context.WithValue(ctx, ctxMaskKey{}, m&^maskOf(cmds))
}

// off reports whether cmd is disabled for route r in ctx. It is small enough to be inlined; the
// context is searched only once some context has disabled a command.
func (c *Cache) off(ctx context.Context, r *route, cmd Command) bool { return r.off(ctx, cmd) }

func (r *route) off(ctx context.Context, cmd Command) bool {
	return r.disabled.Load()&(1<<cmd) != 0 || ctxSwitches.Load() && offInContext(ctx, cmd)
}

// switchHook is the disable switches, the outermost built-in hook (see Hook): a disabled command
// reaches neither the other hooks nor the backend, and answers as if the cache were empty. Commands
// that do work before they reach the chain (encoding a value to set, say) ask off first, so as not
// to do it for nothing; the hot path of get writes it out.
func switchHook(next Handler) Handler {
	return func(ctx context.Context, call *Call) (Result, error) {
		if call.r.off(ctx, call.cmd) {
			return offResult(call), nil
		}
		return next(ctx, call)
	}
}

// offResult is the answer of a disabled command: an empty cache's. Reads miss (get_many: one
// missing entry per key), writes report false or zero; slice_incr records (a rate limit lets the
// call through), and get_bits reads zeros (its caller makes them).
func offResult(call *Call) Result {
	switch call.cmd {
	case CmdGetMany:
		return Result{Value: make([]backends.Entry, len(call.keys))}
	case CmdSliceIncr:
		return Result{Value: int64(0), OK: true}
	}
	return Result{}
}

// offInContext reports whether ctx disables cmd (see WithDisabled).
func offInContext(ctx context.Context, cmd Command) bool {
	m, _ := ctx.Value(ctxMaskKey{}).(commandMask)
	return m&(1<<cmd) != 0
}
