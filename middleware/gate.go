package middleware

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/cashews-go/cashews"
)

// gate keeps the middleware off a backend that cannot be reached. Every read and write of a frozen
// Redis waits out its timeout, so that each request would pay it twice; after such an error the
// gate closes for a second (doubling while the backend keeps failing, up to maxGateWait) and requests
// go straight to the handler, as on a miss, without storing. The first request after the pause tries
// the backend again. Invalidations are always tried, since one that is skipped could leave a stale
// response behind.
type gate struct {
	mu    sync.Mutex
	until time.Time     // closed until then
	wait  time.Duration // the current pause; 0 when the backend works
}

const (
	minGateWait = time.Second
	maxGateWait = 30 * time.Second
)

// open reports whether the backend may be used at now.
func (g *gate) open(now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !now.Before(g.until)
}

// result records the outcome of a backend call made at now for a request with context ctx; it
// reports whether the error closed the gate (so the caller logs it once, not at every request).
func (g *gate) result(ctx context.Context, now time.Time, err error) (closed bool) {
	if err == nil {
		g.mu.Lock()
		g.wait = 0
		g.mu.Unlock()
		return false
	}
	if ctx.Err() != nil || !unavailable(err) {
		return false // the client went away, or one value is bad: not the backend's fault
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Before(g.until) {
		return false // another request closed it already
	}
	g.wait = min(max(2*g.wait, minGateWait), maxGateWait)
	g.until = now.Add(g.wait)
	return true
}

// unavailable reports whether err means the backend could not be reached or did not answer in time.
func unavailable(err error) bool {
	var ne net.Error
	return errors.Is(err, cashews.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne)
}
