package cashews

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/internal/stats"
)

// The health breaker's settings.
const (
	// healthTrip is how many commands in a row must fail with ErrUnavailable to open the breaker.
	healthTrip = 5
	// healthProbeEvery is the pause between two probes of an open breaker.
	healthProbeEvery = 100 * time.Millisecond
	// healthProbeTimeout bounds one probe (the backend's own timeout may be shorter).
	healthProbeTimeout = time.Second
)

// health is the health breaker of one backend: after healthTrip commands in a row failed with an
// error matching ErrUnavailable, it opens, and every command fails at once with an error matching
// ErrUnavailable instead of paying the backend's timeout; meanwhile a goroutine owned by the Cache
// pings the backend every healthProbeEvery and closes the breaker at the first answer. A command
// that gets any answer (a value, a miss, an error about its arguments) resets the count.
//
// Its seam is narrow on purpose: allow before a command, record after it, and the probe, which
// needs only a Ping. The hook healthHook (and builtins) puts it around every command of a backend.
type health struct {
	cache *Cache
	name  string                      // the backend's redacted URL, for logs and errors
	ping  func(context.Context) error // the backend's Ping (or its derived form), below the breaker
	fails atomic.Int32                // commands failed in a row
	open  atomic.Pointer[healthState]
	st    *backendStats // counts the openings
}

// healthState is an open breaker.
type healthState struct {
	err   error     // what every command gets while the breaker is open
	since time.Time // when it opened
}

// allow returns the breaker's error while it is open, and nil otherwise.
func (h *health) allow() error {
	if s := h.open.Load(); s != nil {
		return s.err
	}
	return nil
}

// record takes the result of a command that ran on the backend.
func (h *health) record(err error) {
	if err != nil && !errors.Is(err, backends.ErrUnavailable) &&
		(errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return // the caller gave up: no answer either way
	}
	if err == nil || !errors.Is(err, backends.ErrUnavailable) {
		if h.fails.Load() != 0 {
			h.fails.Store(0)
		}
		return
	}
	if h.fails.Add(1) >= healthTrip {
		h.trip(err)
	}
}

// trip opens the breaker, unless it is open, and starts the probe.
func (h *health) trip(cause error) {
	if h.open.Load() != nil {
		return
	}
	s := &healthState{
		err: fmt.Errorf("cashews: %s: %w: failing fast after %d failures in a row (last: %v); probing every %v",
			h.name, backends.ErrUnavailable, healthTrip, cause, healthProbeEvery),
		since: time.Now(),
	}
	if !h.open.CompareAndSwap(nil, s) {
		return
	}
	h.st.n.Inc(stats.BreakerOpens)
	h.cache.logger.LogAttrs(context.Background(), slog.LevelWarn, "cashews: backend unavailable: failing fast until it answers again",
		slog.String("backend", h.name), slog.Any("error", cause))
	if !h.cache.Go(h.probe) {
		h.open.Store(nil) // the Cache is closed: nothing to protect
	}
}

// probe pings the backend until it answers, then closes the breaker. It ends early when the Cache
// closes.
func (h *health) probe(bg context.Context) {
	t := time.NewTimer(healthProbeEvery)
	defer t.Stop()
	for {
		select {
		case <-bg.Done():
			return
		case <-t.C:
		}
		if h.open.Load() == nil {
			return // closed by a Ping of the Cache
		}
		ctx, cancel := context.WithTimeout(bg, healthProbeTimeout)
		err := h.ping(ctx)
		cancel()
		if err == nil || !errors.Is(err, backends.ErrUnavailable) {
			h.close()
			return
		}
		t.Reset(healthProbeEvery)
	}
}

// close closes the breaker, if it is open.
func (h *health) close() {
	h.fails.Store(0)
	s := h.open.Swap(nil)
	if s == nil {
		return
	}
	h.cache.logger.LogAttrs(context.Background(), slog.LevelInfo, "cashews: backend answers again",
		slog.String("backend", h.name), slog.Duration("failed_fast_for", time.Since(s.since)))
}

// The health breaker and the stats are the innermost built-in hook (see Hook): while the breaker is
// open a command fails at once, and every answer of the backend is recorded by the breaker and
// counted in the backend's stats (the breaker's fast failures count as errors, and so do the errors
// that suppression, outside it, hides). Ping is not held back: it asks the backend, and an answer
// closes the breaker. healthBefore and healthAfter are the hook's two halves, which healthHook puts
// around the next handler and builtins around the command itself.

// healthBefore returns the breaker's error while it is open (counted), and nil otherwise.
func healthBefore(ctx context.Context, call *Call) error {
	if call.cmd == CmdPing {
		return nil
	}
	if err := call.r.health.allow(); err != nil {
		call.r.stats.failed(ctx, err)
		return err
	}
	return nil
}

// healthAfter records the backend's answer to call in the breaker and the stats.
func healthAfter(ctx context.Context, call *Call, res Result, err error) {
	r := call.r
	if call.cmd == CmdPing {
		if err == nil || !errors.Is(err, backends.ErrUnavailable) {
			r.health.close()
		}
		r.stats.failed(ctx, err)
		return
	}
	r.health.record(err)
	r.stats.count(ctx, call, res, err)
}

// healthHook is the health breaker and the stats as a hook.
func healthHook(next Handler) Handler {
	return func(ctx context.Context, call *Call) (Result, error) {
		if err := healthBefore(ctx, call); err != nil {
			return Result{}, err
		}
		res, err := next(ctx, call)
		healthAfter(ctx, call, res, err)
		return res, err
	}
}
