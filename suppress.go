package cashews

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"time"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/internal/stats"
)

// suppressed wraps a backend set up with suppress=true: backend errors become misses, false and
// zeros, are counted in Cache.SuppressedErrors, and logged once per burst. Errors about the caller's
// arguments (invalid argument, wrong type, not an integer) and ErrClosed still reach the caller, and
// so do Ping's errors: a health check must see the outage. Lock commands, counters (Incr,
// IncrBits, SliceIncr) and invalidations (Delete, DeleteMany, DeleteMatch, DeleteTags, Clear) never
// pretend: their errors reach the caller, matching ErrUnavailable.
type suppressed struct {
	backends.Backend
	cache *Cache
	name  string
	st    *backendStats
	log   burstLog
}

// swallow reports whether err is to be suppressed, counting and logging it if so.
func (s *suppressed) swallow(ctx context.Context, cmd Command, err error) bool {
	if err == nil {
		return false
	}
	for _, keep := range []error{backends.ErrInvalidArgument, backends.ErrWrongType, backends.ErrNotInteger, backends.ErrClosed} {
		if errors.Is(err, keep) {
			return false
		}
	}
	s.cache.suppressed.Add(1)
	s.st.n.Inc(stats.Suppressed)
	s.log.log(ctx, s.cache, slog.LevelError, "cashews: backend error suppressed",
		slog.String("backend", s.name), slog.String("command", cmd.String()), slog.Any("error", err))
	return true
}

// neverPretend returns the result of a lock command, a counter or an invalidation as it is: with the
// backend gone, an answer such as "not locked", 0 or "deleted" would look real. An error that does not say so already is
// made to match ErrUnavailable.
func neverPretend[V any](v V, err error) (V, error) {
	if err == nil || errors.Is(err, backends.ErrUnavailable) {
		return v, err
	}
	for _, keep := range []error{backends.ErrInvalidArgument, backends.ErrWrongType, backends.ErrNotInteger, backends.ErrClosed} {
		if errors.Is(err, keep) {
			return v, err
		}
	}
	return v, fmt.Errorf("%w: %w", backends.ErrUnavailable, err)
}

func (s *suppressed) Get(ctx context.Context, key string) (any, bool, error) {
	v, ok, err := s.Backend.Get(ctx, key)
	if s.swallow(ctx, CmdGet, err) {
		return nil, false, nil
	}
	return v, ok, err
}

func (s *suppressed) GetMany(ctx context.Context, keys []string) ([]backends.Entry, error) {
	e, err := s.Backend.GetMany(ctx, keys)
	if s.swallow(ctx, CmdGetMany, err) {
		return make([]backends.Entry, len(keys)), nil
	}
	return e, err
}

func (s *suppressed) Set(ctx context.Context, key string, value any, ttl time.Duration, mode backends.SetMode) (bool, error) {
	ok, err := s.Backend.Set(ctx, key, value, ttl, mode)
	if s.swallow(ctx, CmdSet, err) {
		return false, nil
	}
	return ok, err
}

func (s *suppressed) SetMany(ctx context.Context, items []backends.Item) error {
	if err := s.Backend.SetMany(ctx, items); !s.swallow(ctx, CmdSetMany, err) {
		return err
	}
	return nil
}

func (s *suppressed) Exists(ctx context.Context, key string) (bool, error) {
	return suppressValue(s, ctx, CmdExists, false)(s.Backend.Exists(ctx, key))
}

// Delete is an invalidation: it never pretends. A delete that failed while it said "done" would
// leave the old value to be served once the backend answers again.
func (s *suppressed) Delete(ctx context.Context, key string) (bool, error) {
	return neverPretend(s.Backend.Delete(ctx, key))
}

func (s *suppressed) DeleteMany(ctx context.Context, keys []string) (int, error) {
	return neverPretend(s.Backend.DeleteMany(ctx, keys))
}

func (s *suppressed) DeleteMatch(ctx context.Context, pattern string) (int, error) {
	return neverPretend(s.Backend.DeleteMatch(ctx, pattern))
}

func (s *suppressed) Scan(ctx context.Context, pattern string, batch int) iter.Seq2[[]string, error] {
	return func(yield func([]string, error) bool) {
		for keys, err := range s.Backend.Scan(ctx, pattern, batch) {
			if s.swallow(ctx, CmdScan, err) {
				return
			}
			if !yield(keys, err) {
				return
			}
		}
	}
}

func (s *suppressed) Incr(ctx context.Context, key string, by int64, ttl time.Duration) (int64, error) {
	return neverPretend(s.Backend.Incr(ctx, key, by, ttl))
}

func (s *suppressed) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	return suppressValue(s, ctx, CmdExpire, false)(s.Backend.Expire(ctx, key, ttl))
}

func (s *suppressed) GetExpire(ctx context.Context, key string) (time.Duration, bool, error) {
	ttl, ok, err := s.Backend.GetExpire(ctx, key)
	if s.swallow(ctx, CmdGetExpire, err) {
		return 0, false, nil
	}
	return ttl, ok, err
}

// Clear is an invalidation of every key: it never pretends.
func (s *suppressed) Clear(ctx context.Context) error {
	_, err := neverPretend(struct{}{}, s.Backend.Clear(ctx))
	return err
}

func (s *suppressed) SetLock(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	return neverPretend(s.Backend.SetLock(ctx, key, token, ttl))
}

func (s *suppressed) Unlock(ctx context.Context, key, token string) (bool, error) {
	return neverPretend(s.Backend.Unlock(ctx, key, token))
}

func (s *suppressed) ExtendLock(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	return neverPretend(s.Backend.ExtendLock(ctx, key, token, ttl))
}

func (s *suppressed) IsLocked(ctx context.Context, key string) (bool, error) {
	return neverPretend(s.Backend.IsLocked(ctx, key))
}

func (s *suppressed) KeysCount(ctx context.Context) (int64, error) {
	return suppressValue(s, ctx, CmdKeysCount, int64(0))(s.Backend.KeysCount(ctx))
}

func (s *suppressed) ValueSize(ctx context.Context, key string) (int64, error) {
	return suppressValue(s, ctx, CmdValueSize, int64(0))(s.Backend.ValueSize(ctx, key))
}

func (s *suppressed) SetAdd(ctx context.Context, key string, ttl time.Duration, members ...string) (int, error) {
	return suppressValue(s, ctx, CmdSetAdd, 0)(s.Backend.SetAdd(ctx, key, ttl, members...))
}

func (s *suppressed) SetRemove(ctx context.Context, key string, members ...string) (int, error) {
	return suppressValue(s, ctx, CmdSetRemove, 0)(s.Backend.SetRemove(ctx, key, members...))
}

func (s *suppressed) SetPop(ctx context.Context, key string, count int) ([]string, error) {
	return suppressValue[[]string](s, ctx, CmdSetPop, nil)(s.Backend.SetPop(ctx, key, count))
}

func (s *suppressed) SetMembers(ctx context.Context, key string) ([]string, error) {
	return suppressValue[[]string](s, ctx, CmdSetMembers, nil)(s.Backend.SetMembers(ctx, key))
}

func (s *suppressed) GetBits(ctx context.Context, key string, size int, indexes ...int64) ([]int64, error) {
	return suppressValue(s, ctx, CmdGetBits, make([]int64, len(indexes)))(s.Backend.GetBits(ctx, key, size, indexes...))
}

func (s *suppressed) IncrBits(ctx context.Context, key string, size int, by int64, indexes ...int64) ([]int64, error) {
	return neverPretend(s.Backend.IncrBits(ctx, key, size, by, indexes...))
}

// SliceIncr is a counter: it never pretends. The rate limit strategies fail open on its error by
// default (strategies.FailMode).
func (s *suppressed) SliceIncr(ctx context.Context, key string, now time.Time, window time.Duration, limit int64) (int64, bool, error) {
	n, ok, err := s.Backend.SliceIncr(ctx, key, now, window, limit)
	if _, err = neverPretend(0, err); err != nil {
		return 0, false, err
	}
	return n, ok, nil
}

// suppressValue returns a function that passes a command's result through, or replaces it with
// miss when its error is suppressed.
func suppressValue[V any](s *suppressed, ctx context.Context, cmd Command, miss V) func(V, error) (V, error) {
	return func(v V, err error) (V, error) {
		if s.swallow(ctx, cmd, err) {
			return miss, nil
		}
		return v, err
	}
}
