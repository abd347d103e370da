package cashews

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/cashews-go/cashews/internal/quote"
)

// Lock is a held lock. Its token proves ownership: only the holder can release or extend it, and a
// lock whose TTL ran out is not released by its old owner. A Lock is safe for concurrent use.
type Lock struct {
	c     *Cache
	key   string
	token string
	noop  bool // granted while set_lock was disabled: nothing to release
}

// Key returns the key of the lock.
func (l *Lock) Key() string { return l.key }

// Token returns the owner token of the lock.
func (l *Lock) Token() string { return l.token }

// Unlock releases the lock. It returns an error matching [ErrLockNotHeld] when the lock expired or
// another owner holds it now.
func (l *Lock) Unlock(ctx context.Context) error {
	if l.noop {
		return nil
	}
	ok, err := l.c.unlock(ctx, l.key, l.token)
	if err == nil && !ok {
		err = fmt.Errorf("%w: %s", ErrLockNotHeld, quote.String(l.key))
	}
	return err
}

// Extend sets the lock's TTL to ttl from now. It returns an error matching [ErrLockNotHeld] when the
// lock expired or another owner holds it now.
func (l *Lock) Extend(ctx context.Context, ttl time.Duration) error {
	if l.noop {
		return nil
	}
	ok, err := l.c.extendLock(ctx, l.key, l.token, ttl)
	if err == nil && !ok {
		err = fmt.Errorf("%w: %s", ErrLockNotHeld, quote.String(l.key))
	}
	return err
}

// newToken returns a random owner token for a lock: the one token generator of the module's front
// half (Cache.TryLock and Env.Claim use it).
func newToken() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// TryLock takes the lock at key for ttl if it is free, without waiting. It returns the lock and true,
// or nil and false when another owner holds it. When set_lock is disabled, the lock is granted
// without being taken. When the backend cannot answer, the error matches [ErrUnavailable], also on a
// backend set up with suppress=true: a lock never pretends.
func (c *Cache) TryLock(ctx context.Context, key string, ttl time.Duration) (*Lock, bool, error) {
	token := newToken()
	r, err := c.route(key)
	if err != nil {
		return nil, false, err
	}
	if c.off(ctx, r, CmdSetLock) {
		return &Lock{c: c, key: key, token: token, noop: true}, true, nil
	}
	ok, err := c.setLock(ctx, key, token, ttl)
	if err != nil || !ok {
		return nil, false, err
	}
	return &Lock{c: c, key: key, token: token}, true, nil
}

// Lock takes the lock at key for ttl, waiting while another owner holds it until ctx is done; then
// it returns an error wrapping ctx.Err(). While it waits it retries with a backoff from 1 ms to
// 100 ms. It also returns when the backend cannot answer, with an error matching [ErrUnavailable].
func (c *Cache) Lock(ctx context.Context, key string, ttl time.Duration) (*Lock, error) {
	var b backoff
	for {
		l, ok, err := c.TryLock(ctx, key, ttl)
		if err != nil || ok {
			return l, err
		}
		if err := b.wait(ctx); err != nil {
			return nil, fmt.Errorf("cashews: lock %s: %w", quote.String(key), err)
		}
	}
}

// WithLock takes the lock at key for ttl (waiting as [Cache.Lock] does), runs fn, and releases the
// lock, also when fn panics. It returns fn's error, or the error of taking or releasing the lock.
// The release runs even when ctx is cancelled by then. A nil fn is an error matching
// [ErrInvalidArgument], and the lock is not taken.
func (c *Cache) WithLock(ctx context.Context, key string, ttl time.Duration, fn func(ctx context.Context) error) (err error) {
	if fn == nil {
		return fmt.Errorf("%w: WithLock %s with a nil function", ErrInvalidArgument, quote.String(key))
	}
	l, err := c.Lock(ctx, key, ttl)
	if err != nil {
		return err
	}
	defer func() {
		if uerr := l.Unlock(context.WithoutCancel(ctx)); uerr != nil && err == nil {
			err = uerr
		}
	}()
	return fn(ctx)
}

// setLock takes the lock at key for token with ttl (which must be positive) unless it is held, and
// reports whether it did.
func (c *Cache) setLock(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, fmt.Errorf("%w: set_lock %s: TTL %v must be positive", ErrInvalidArgument, quote.String(key), ttl)
	}
	return c.keyBool(ctx, CmdSetLock, key, func(ctx context.Context, r *route) (bool, error) {
		return r.locker.SetLock(ctx, key, token, ttl)
	})
}

// unlock releases the lock at key only when token holds it, and reports whether it did.
func (c *Cache) unlock(ctx context.Context, key, token string) (bool, error) {
	return c.keyBool(ctx, CmdUnlock, key, func(ctx context.Context, r *route) (bool, error) {
		return r.locker.Unlock(ctx, key, token)
	})
}

// extendLock sets the TTL of the lock at key to ttl only when token holds it, and reports whether it
// did.
func (c *Cache) extendLock(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, fmt.Errorf("%w: extend_lock %s: TTL %v must be positive", ErrInvalidArgument, quote.String(key), ttl)
	}
	return c.keyBool(ctx, CmdExtendLock, key, func(ctx context.Context, r *route) (bool, error) {
		return r.locker.ExtendLock(ctx, key, token, ttl)
	})
}

// isLocked reports whether the lock at key is held. With wait > 0 it waits up to wait (and while
// ctx lasts) for the lock to be released, and reports whether it is still held.
func (c *Cache) isLocked(ctx context.Context, key string, wait time.Duration) (bool, error) {
	check := func(ctx context.Context) (bool, error) {
		return c.keyBool(ctx, CmdIsLocked, key, func(ctx context.Context, r *route) (bool, error) {
			return r.locker.IsLocked(ctx, key)
		})
	}
	locked, err := check(ctx)
	if err != nil || !locked || wait <= 0 {
		return locked, err
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var b backoff
	for {
		if b.wait(wctx) != nil {
			if ctx.Err() != nil {
				return true, ctx.Err()
			}
			return true, nil
		}
		if locked, err = check(ctx); err != nil || !locked {
			return locked, err
		}
	}
}

// backoff waits between retries: 1 ms, doubling up to 100 ms.
type backoff struct{ d time.Duration }

func (b *backoff) wait(ctx context.Context) error {
	switch {
	case b.d == 0:
		b.d = time.Millisecond
	default:
		b.d = min(2*b.d, 100*time.Millisecond)
	}
	t := time.NewTimer(b.d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
