package middleware

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cashews-go/cashews"
)

// gate keeps the middleware off a backend that cannot be reached. Every read and write of a frozen
// Redis waits out its timeout, so that each request would pay it twice; after such an error the
// gate closes for a second (doubling while the backend keeps failing, up to maxGateWait) and requests
// go straight to the handler, as on a miss, without storing. The first request after the pause tries
// the backend again. Invalidations are always tried, since one that is skipped could leave a stale
// response behind. The hit path only loads two atomics.
type gate struct {
	until atomic.Int64 // closed until then (Unix nanoseconds)
	wait  atomic.Int64 // the current pause (ns); 0 when the backend works
	mu    sync.Mutex   // serialises closing
}

const (
	minGateWait = time.Second
	maxGateWait = 30 * time.Second
)

// open reports whether the backend may be used at now.
func (g *gate) open(now time.Time) bool {
	return now.UnixNano() >= g.until.Load()
}

// ok records a call that worked.
func (g *gate) ok() {
	if g.wait.Load() != 0 {
		g.wait.Store(0)
	}
}

// fail records a failed call made at now for a request with context ctx; it reports whether the
// error closed the gate (so the caller logs it once, not at every request).
func (g *gate) fail(ctx context.Context, now time.Time, err error) (closed bool) {
	if ctx.Err() != nil || !unavailable(err) {
		return false // the client went away, or one value is bad: not the backend's fault
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.UnixNano() < g.until.Load() {
		return false // another request closed it already
	}
	wait := min(max(2*time.Duration(g.wait.Load()), minGateWait), maxGateWait)
	g.wait.Store(int64(wait))
	g.until.Store(now.Add(wait).UnixNano())
	return true
}

// unavailable reports whether err means the backend could not be reached or did not answer in time.
func unavailable(err error) bool {
	var ne net.Error
	return errors.Is(err, cashews.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne)
}
