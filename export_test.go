package cashews

import (
	"context"
	"time"
)

// The lock commands under a token, unexported since the *Lock handle and Env.Claim carry the token;
// exported here for the tests of package cashews_test.

func IsLocked(ctx context.Context, c *Cache, key string, wait time.Duration) (bool, error) {
	return c.isLocked(ctx, key, wait)
}

func SetLock(ctx context.Context, c *Cache, key, token string, ttl time.Duration) (bool, error) {
	return c.setLock(ctx, key, token, ttl)
}

func Unlock(ctx context.Context, c *Cache, key, token string) (bool, error) {
	return c.unlock(ctx, key, token)
}
