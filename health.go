package cashews

import (
	"context"
	"errors"
	"fmt"
	"iter"
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
// needs only a Ping. [healthy] puts it around a Backend; the Cache puts one around every backend.
type health struct {
	cache *Cache
	name  string                      // the backend's redacted URL, for logs and errors
	ping  func(context.Context) error // the backend's Ping, below the breaker
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

// healthy runs every command of a backend through its health breaker, and counts its answers in
// the backend's stats (see stats.go): the breaker's fast failures count as errors, and so do the
// errors that suppression, outside it, hides. The stats calls are one line each, apart from the
// breaker's, so that they can move to a command hook of their own.
type healthy struct {
	backends.Backend
	h  *health
	st *backendStats
}

func newHealthy(c *Cache, b backends.Backend, name string, st *backendStats) *healthy {
	return &healthy{Backend: b, h: &health{cache: c, name: name, ping: b.Ping, st: st}, st: st}
}

// Ping is not held back by the breaker: it asks the backend, and an answer closes the breaker.
func (s *healthy) Ping(ctx context.Context) error {
	err := s.Backend.Ping(ctx)
	if err == nil || !errors.Is(err, backends.ErrUnavailable) {
		s.h.close()
	}
	s.st.failed(ctx, err)
	return err
}

func (s *healthy) Get(ctx context.Context, key string) (any, bool, error) {
	if err := s.h.allow(); err != nil {
		s.st.failed(ctx, err)
		return nil, false, err
	}
	v, ok, err := s.Backend.Get(ctx, key)
	s.h.record(err)
	switch { // the stats' read, written out: this is the hit path
	case err != nil:
		s.st.failed(ctx, err)
	case ok:
		s.st.n.Inc(stats.Hits)
	default:
		s.st.n.Inc(stats.Misses)
	}
	return v, ok, err
}

func (s *healthy) GetMany(ctx context.Context, keys []string) ([]backends.Entry, error) {
	if err := s.h.allow(); err != nil {
		s.st.failed(ctx, err)
		return nil, err
	}
	e, err := s.Backend.GetMany(ctx, keys)
	s.h.record(err)
	s.st.readMany(ctx, e, err)
	return e, err
}

func (s *healthy) Set(ctx context.Context, key string, value any, ttl time.Duration, mode backends.SetMode) (bool, error) {
	if err := s.h.allow(); err != nil {
		s.st.failed(ctx, err)
		return false, err
	}
	ok, err := s.Backend.Set(ctx, key, value, ttl, mode)
	s.h.record(err)
	s.st.wrote(ctx, ok, err)
	return ok, err
}

func (s *healthy) SetMany(ctx context.Context, items []backends.Item) error {
	if err := s.h.allow(); err != nil {
		s.st.failed(ctx, err)
		return err
	}
	err := s.Backend.SetMany(ctx, items)
	s.h.record(err)
	s.st.wroteMany(ctx, len(items), err)
	return err
}

func (s *healthy) Exists(ctx context.Context, key string) (bool, error) {
	return guarded(s, ctx, func() (bool, error) { return s.Backend.Exists(ctx, key) })
}

func (s *healthy) Delete(ctx context.Context, key string) (bool, error) {
	ok, err := guarded(s, ctx, func() (bool, error) { return s.Backend.Delete(ctx, key) })
	if ok {
		s.st.deleted(1)
	}
	return ok, err
}

func (s *healthy) DeleteMany(ctx context.Context, keys []string) (int, error) {
	n, err := guarded(s, ctx, func() (int, error) { return s.Backend.DeleteMany(ctx, keys) })
	s.st.deleted(n)
	return n, err
}

func (s *healthy) DeleteMatch(ctx context.Context, pattern string) (int, error) {
	n, err := guarded(s, ctx, func() (int, error) { return s.Backend.DeleteMatch(ctx, pattern) })
	s.st.deleted(n)
	return n, err
}

func (s *healthy) Scan(ctx context.Context, pattern string, batch int) iter.Seq2[[]string, error] {
	return func(yield func([]string, error) bool) {
		if err := s.h.allow(); err != nil {
			s.st.failed(ctx, err)
			yield(nil, err)
			return
		}
		answered := false
		for keys, err := range s.Backend.Scan(ctx, pattern, batch) {
			if err != nil || !answered {
				s.h.record(err)
				answered = true
			}
			s.st.failed(ctx, err)
			if !yield(keys, err) {
				return
			}
		}
		if !answered {
			s.h.record(nil)
		}
	}
}

func (s *healthy) Incr(ctx context.Context, key string, by int64, ttl time.Duration) (int64, error) {
	return guarded(s, ctx, func() (int64, error) { return s.Backend.Incr(ctx, key, by, ttl) })
}

func (s *healthy) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	return guarded(s, ctx, func() (bool, error) { return s.Backend.Expire(ctx, key, ttl) })
}

func (s *healthy) GetExpire(ctx context.Context, key string) (time.Duration, bool, error) {
	if err := s.h.allow(); err != nil {
		s.st.failed(ctx, err)
		return 0, false, err
	}
	ttl, ok, err := s.Backend.GetExpire(ctx, key)
	s.h.record(err)
	s.st.failed(ctx, err)
	return ttl, ok, err
}

func (s *healthy) Clear(ctx context.Context) error {
	_, err := guarded(s, ctx, func() (struct{}, error) { return struct{}{}, s.Backend.Clear(ctx) })
	return err
}

func (s *healthy) SetLock(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	return guarded(s, ctx, func() (bool, error) { return s.Backend.SetLock(ctx, key, token, ttl) })
}

func (s *healthy) Unlock(ctx context.Context, key, token string) (bool, error) {
	return guarded(s, ctx, func() (bool, error) { return s.Backend.Unlock(ctx, key, token) })
}

func (s *healthy) ExtendLock(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	return guarded(s, ctx, func() (bool, error) { return s.Backend.ExtendLock(ctx, key, token, ttl) })
}

func (s *healthy) IsLocked(ctx context.Context, key string) (bool, error) {
	return guarded(s, ctx, func() (bool, error) { return s.Backend.IsLocked(ctx, key) })
}

func (s *healthy) KeysCount(ctx context.Context) (int64, error) {
	return guarded(s, ctx, func() (int64, error) { return s.Backend.KeysCount(ctx) })
}

func (s *healthy) ValueSize(ctx context.Context, key string) (int64, error) {
	return guarded(s, ctx, func() (int64, error) { return s.Backend.ValueSize(ctx, key) })
}

func (s *healthy) SetAdd(ctx context.Context, key string, ttl time.Duration, members ...string) (int, error) {
	return guarded(s, ctx, func() (int, error) { return s.Backend.SetAdd(ctx, key, ttl, members...) })
}

func (s *healthy) SetRemove(ctx context.Context, key string, members ...string) (int, error) {
	return guarded(s, ctx, func() (int, error) { return s.Backend.SetRemove(ctx, key, members...) })
}

func (s *healthy) SetPop(ctx context.Context, key string, count int) ([]string, error) {
	return guarded(s, ctx, func() ([]string, error) { return s.Backend.SetPop(ctx, key, count) })
}

func (s *healthy) SetMembers(ctx context.Context, key string) ([]string, error) {
	return guarded(s, ctx, func() ([]string, error) { return s.Backend.SetMembers(ctx, key) })
}

func (s *healthy) GetBits(ctx context.Context, key string, size int, indexes ...int64) ([]int64, error) {
	return guarded(s, ctx, func() ([]int64, error) { return s.Backend.GetBits(ctx, key, size, indexes...) })
}

func (s *healthy) IncrBits(ctx context.Context, key string, size int, by int64, indexes ...int64) ([]int64, error) {
	return guarded(s, ctx, func() ([]int64, error) { return s.Backend.IncrBits(ctx, key, size, by, indexes...) })
}

func (s *healthy) SliceIncr(ctx context.Context, key string, now time.Time, window time.Duration, limit int64) (int64, bool, error) {
	if err := s.h.allow(); err != nil {
		s.st.failed(ctx, err)
		return 0, false, err
	}
	n, ok, err := s.Backend.SliceIncr(ctx, key, now, window, limit)
	s.h.record(err)
	s.st.failed(ctx, err)
	return n, ok, err
}

// healthyTagger runs the tag commands of a backend through its health breaker, and counts them.
type healthyTagger struct {
	s *healthy
	t backends.Tagger
}

func (t healthyTagger) SetTagged(ctx context.Context, key string, value any, ttl time.Duration, mode backends.SetMode, tags []string) (bool, error) {
	if err := t.s.h.allow(); err != nil {
		t.s.st.failed(ctx, err)
		return false, err
	}
	ok, err := t.t.SetTagged(ctx, key, value, ttl, mode, tags)
	t.s.h.record(err)
	t.s.st.wrote(ctx, ok, err)
	return ok, err
}

func (t healthyTagger) DeleteTags(ctx context.Context, tags ...string) (int, error) {
	n, err := guarded(t.s, ctx, func() (int, error) { return t.t.DeleteTags(ctx, tags...) })
	t.s.st.deleted(n)
	return n, err
}

func (t healthyTagger) TagKeys(ctx context.Context, tag string) ([]string, error) {
	return guarded(t.s, ctx, func() ([]string, error) { return t.t.TagKeys(ctx, tag) })
}

// guarded runs a command of one result through the breaker, and counts its error.
func guarded[V any](s *healthy, ctx context.Context, cmd func() (V, error)) (V, error) {
	if err := s.h.allow(); err != nil {
		s.st.failed(ctx, err)
		var zero V
		return zero, err
	}
	v, err := cmd()
	s.h.record(err)
	s.st.failed(ctx, err)
	return v, err
}
