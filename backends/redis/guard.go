package redis

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// maxAbandoned bounds the commands that callers gave up on and that still run in the background;
// beyond it, commands fail at once instead of adding more.
const maxAbandoned = 10000

// errBackedUp is returned when too many abandoned commands are still waiting for Redis.
var errBackedUp = errors.New("too many commands still waiting for Redis after their deadline")

// holdDown is how long commands stay guarded after the last sign of trouble.
const holdDown = 2 * time.Second

// guard keeps the backend's deadline even where a driver does not. rueidis and go-redis honour a
// context's deadline while a command waits for its reply, but not always while they set up a new
// connection: rueidis may spend up to a second closing a connection whose handshake timed out,
// go-redis hundreds of milliseconds in its pool and dialer. So while Redis looks healthy, commands
// run directly, at no cost. After a sign of trouble (a command failing with a network or timeout
// error, a command slower than the timeout, or the driver dialing a new connection), the guard runs
// each command in a goroutine for the next two seconds and returns at the deadline whatever the
// driver does. The goroutine ends when the driver returns; Close waits for it. go-redis commands are
// always guarded: they cost tens of microseconds and several allocations anyway, and its pool and
// dialer block in more places.
type guard struct {
	ex  executor
	csc cachingExecutor // nil without client-side caching
	st  *guardState
}

// guardState is shared by a guard and the guards of its nodes.
type guardState struct {
	timeout   time.Duration // the backend's timeout; a direct call slower than this trips the guard
	until     atomic.Int64  // commands run guarded until this time (unix ns)
	armed     atomic.Bool   // set once the backend is open: the first dials do not trip the guard
	always    bool          // guard every command (go-redis, whose pool and dialer may block)
	abandoned atomic.Int64  // guarded commands still running
	wg        sync.WaitGroup
}

// trip guards the commands of the next holdDown.
func (st *guardState) trip() {
	if st.armed.Load() {
		st.until.Store(time.Now().Add(holdDown).UnixNano())
	}
}

// guarded reports whether commands run guarded at now.
func (st *guardState) guarded(now time.Time) bool {
	u := st.until.Load()
	return st.always || (u != 0 && now.UnixNano() < u)
}

func newGuard(ex executor, st *guardState) *guard {
	g := &guard{ex: ex, st: st}
	if c, ok := ex.(cachingExecutor); ok {
		g.csc = c
	}
	return g
}

// direct tells whether to run a command directly, and returns the time to pass to done.
func (st *guardState) direct() (time.Time, bool) {
	now := time.Now()
	return now, !st.guarded(now)
}

// done trips the guard after a direct command that failed with a network or timeout error or took
// longer than the timeout.
func (st *guardState) done(start time.Time, fault bool) {
	if fault || (st.timeout > 0 && time.Since(start) > st.timeout) {
		st.trip()
	}
}

// run runs f, directly or guarded. faulty tells whether its result is a network or timeout error.
// The hot paths (do, getCached) check direct themselves, so that no closure is allocated then.
func run[T any](ctx context.Context, st *guardState, f func(context.Context) T, faulty func(T) bool) T {
	if start, ok := st.direct(); ok {
		r := f(ctx)
		st.done(start, faulty(r))
		return r
	}
	return runGuarded(ctx, st, f, faulty)
}

// runGuarded runs f in a goroutine and returns its result, or the context's error at the deadline.
func runGuarded[T any](ctx context.Context, st *guardState, f func(context.Context) T, faulty func(T) bool) T {
	if st.abandoned.Add(1) > maxAbandoned {
		st.abandoned.Add(-1)
		var zero T
		return zeroWithErr(zero, errBackedUp)
	}
	ch := make(chan T, 1)
	st.wg.Add(1)
	go func() { // owned by the guard: ends when the driver returns; Close waits for it
		defer st.wg.Done()
		defer st.abandoned.Add(-1)
		ch <- f(ctx)
	}()
	select {
	case r := <-ch:
		if faulty(r) {
			st.trip()
		}
		return r
	case <-ctx.Done():
		st.trip()
		var zero T
		return zeroWithErr(zero, ctx.Err())
	}
}

// zeroWithErr returns the error result of a guarded call of any result type.
func zeroWithErr[T any](zero T, err error) T {
	switch p := any(&zero).(type) {
	case *reply:
		*p = faultReply(err)
	case *[]reply:
		*p = nil // the caller sees the error through errMulti
	case *cachedOne:
		p.r = faultReply(err)
	case *cachedMany:
		p.err = err
	case *nodeList:
		p.err = err
	}
	return zero
}

func replyFaulty(r reply) bool { return r.fault }

func repliesFaulty(rs []reply) bool {
	if rs == nil {
		return true
	}
	for _, r := range rs {
		if r.fault {
			return true
		}
	}
	return false
}

func (g *guard) do(ctx context.Context, c command) reply {
	if start, ok := g.st.direct(); ok {
		r := g.ex.do(ctx, c)
		g.st.done(start, r.fault)
		return r
	}
	return runGuarded(ctx, g.st, func(ctx context.Context) reply { return g.ex.do(ctx, c) }, replyFaulty)
}

func (g *guard) get(ctx context.Context, key string) reply {
	if start, ok := g.st.direct(); ok {
		r := getVia(ctx, g.ex, key)
		g.st.done(start, r.fault)
		return r
	}
	return runGuarded(ctx, g.st, func(ctx context.Context) reply { return getVia(ctx, g.ex, key) }, replyFaulty)
}

func (g *guard) doMulti(ctx context.Context, cs []command) []reply {
	if len(cs) == 0 {
		return nil
	}
	rs := run(ctx, g.st, func(ctx context.Context) []reply { return g.ex.doMulti(ctx, cs) }, repliesFaulty)
	if rs == nil { // abandoned: every command failed with the context's error
		err := ctx.Err()
		if err == nil {
			err = errBackedUp
		}
		rs = make([]reply, len(cs))
		for i := range rs {
			rs[i] = faultReply(err)
		}
	}
	return rs
}

// nodeList is the result of masters.
type nodeList struct {
	nodes []executor
	err   error
}

func (g *guard) masters(ctx context.Context) ([]executor, error) {
	l := run(ctx, g.st, func(ctx context.Context) nodeList {
		n, err := g.ex.masters(ctx)
		return nodeList{n, err}
	}, func(l nodeList) bool { return l.err != nil })
	if l.err != nil {
		return nil, l.err
	}
	out := make([]executor, len(l.nodes))
	for i, n := range l.nodes {
		if n == g.ex {
			out[i] = g
			continue
		}
		out[i] = &guard{ex: n, st: g.st}
	}
	return out, nil
}

func (g *guard) isCluster() bool { return g.ex.isCluster() }

func (g *guard) knownNodes() []string { return g.ex.knownNodes() }

// node returns the node's executor, guarded like g.
func (g *guard) node(addr string) (executor, error) {
	n, err := g.ex.node(addr)
	if err != nil {
		return nil, err
	}
	return &guard{ex: n, st: g.st}, nil
}

// close closes the executor, which makes guarded commands return, and waits for them (at most 5s).
func (g *guard) close() {
	g.ex.close()
	done := make(chan struct{})
	go func() { g.st.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}

// cachedOne and cachedMany are the results of the client-side cache's reads.
type cachedOne struct {
	r   reply
	hit bool
}

type cachedMany struct {
	rs   []reply
	hits int
	err  error
}

func (g *guard) getCached(ctx context.Context, key string, ttl time.Duration) (reply, bool) {
	if start, ok := g.st.direct(); ok {
		r, hit := g.csc.getCached(ctx, key, ttl)
		g.st.done(start, r.fault)
		return r, hit
	}
	c := runGuarded(ctx, g.st, func(ctx context.Context) cachedOne {
		r, hit := g.csc.getCached(ctx, key, ttl)
		return cachedOne{r, hit}
	}, func(c cachedOne) bool { return c.r.fault })
	return c.r, c.hit
}

func (g *guard) getManyCached(ctx context.Context, keys []string, ttl time.Duration) ([]reply, int) {
	c := run(ctx, g.st, func(ctx context.Context) cachedMany {
		rs, hits := g.csc.getManyCached(ctx, keys, ttl)
		return cachedMany{rs: rs, hits: hits}
	}, func(c cachedMany) bool { return c.err != nil || repliesFaulty(c.rs) })
	if c.err != nil {
		rs := make([]reply, len(keys))
		for i := range rs {
			rs[i] = faultReply(c.err)
		}
		return rs, 0
	}
	return c.rs, c.hits
}

// faultReply is an error reply for a network or timeout error, which trips the guard. A cancelled
// context is the caller's doing, not Redis' fault.
func faultReply(err error) reply {
	return reply{err: err, fault: !errors.Is(err, context.Canceled)}
}
