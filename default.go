package cashews

import (
	"context"
	"iter"
	"time"

	"github.com/cashews-go/cashews/backends"
)

// defaultCache is the Cache behind the package-level functions.
var defaultCache = New()

// Default returns the package-level Cache that Setup and the other package-level functions use, for
// the generic functions: cashews.Get[User](ctx, cashews.Default(), "user:1"). Small programs set it
// up once, as Python's "from cashews import cache" does; larger ones create their own with New.
func Default() *Cache { return defaultCache }

// Setup calls [Cache.Setup] on the default Cache.
func Setup(rawURL string, opts ...SetupOption) error {
	return defaultCache.Setup(rawURL, opts...)
}

// SetupBackend calls [Cache.SetupBackend] on the default Cache.
func SetupBackend(b backends.Backend, params string, opts ...SetupOption) error {
	return defaultCache.SetupBackend(b, params, opts...)
}

// Close calls [Cache.Close] on the default Cache.
func Close() error {
	return defaultCache.Close()
}

// SuppressedErrors calls [Cache.SuppressedErrors] on the default Cache.
func SuppressedErrors() int64 {
	return defaultCache.SuppressedErrors()
}

// Set calls [Cache.Set] on the default Cache.
func Set(ctx context.Context, key string, value any, ttl time.Duration, opts ...SetOption) (bool, error) {
	return defaultCache.Set(ctx, key, value, ttl, opts...)
}

// SetRaw calls [Cache.SetRaw] on the default Cache.
func SetRaw(ctx context.Context, key string, value any, ttl time.Duration, opts ...SetOption) (bool, error) {
	return defaultCache.SetRaw(ctx, key, value, ttl, opts...)
}

// GetRaw calls [Cache.GetRaw] on the default Cache.
func GetRaw(ctx context.Context, key string) (any, bool, error) {
	return defaultCache.GetRaw(ctx, key)
}

// Exists calls [Cache.Exists] on the default Cache.
func Exists(ctx context.Context, key string) (bool, error) {
	return defaultCache.Exists(ctx, key)
}

// Delete calls [Cache.Delete] on the default Cache.
func Delete(ctx context.Context, key string) (bool, error) {
	return defaultCache.Delete(ctx, key)
}

// Expire calls [Cache.Expire] on the default Cache.
func Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	return defaultCache.Expire(ctx, key, ttl)
}

// GetExpire calls [Cache.GetExpire] on the default Cache.
func GetExpire(ctx context.Context, key string) (ttl time.Duration, found bool, err error) {
	return defaultCache.GetExpire(ctx, key)
}

// Incr calls [Cache.Incr] on the default Cache.
func Incr(ctx context.Context, key string, by int64, ttl time.Duration) (int64, error) {
	return defaultCache.Incr(ctx, key, by, ttl)
}

// ValueSize calls [Cache.ValueSize] on the default Cache.
func ValueSize(ctx context.Context, key string) (int64, error) {
	return defaultCache.ValueSize(ctx, key)
}

// SetMany calls [Cache.SetMany] on the default Cache.
func SetMany(ctx context.Context, items map[string]any, ttl time.Duration) error {
	return defaultCache.SetMany(ctx, items, ttl)
}

// DeleteMany calls [Cache.DeleteMany] on the default Cache.
func DeleteMany(ctx context.Context, keys ...string) (int, error) {
	return defaultCache.DeleteMany(ctx, keys...)
}

// DeleteMatch calls [Cache.DeleteMatch] on the default Cache.
func DeleteMatch(ctx context.Context, pattern string) (int, error) {
	return defaultCache.DeleteMatch(ctx, pattern)
}

// Scan calls [Cache.Scan] on the default Cache.
func Scan(ctx context.Context, pattern string, opts ...ScanOption) iter.Seq2[string, error] {
	return defaultCache.Scan(ctx, pattern, opts...)
}

// Ping calls [Cache.Ping] on the default Cache.
func Ping(ctx context.Context) error {
	return defaultCache.Ping(ctx)
}

// Clear calls [Cache.Clear] on the default Cache.
func Clear(ctx context.Context) error {
	return defaultCache.Clear(ctx)
}

// KeysCount calls [Cache.KeysCount] on the default Cache.
func KeysCount(ctx context.Context) (int64, error) {
	return defaultCache.KeysCount(ctx)
}

// DeleteTags calls [Cache.DeleteTags] on the default Cache.
func DeleteTags(ctx context.Context, tags ...string) (int, error) {
	return defaultCache.DeleteTags(ctx, tags...)
}

// TagKeys calls [Cache.TagKeys] on the default Cache.
func TagKeys(ctx context.Context, tag string) ([]string, error) {
	return defaultCache.TagKeys(ctx, tag)
}

// SetAdd calls [Cache.SetAdd] on the default Cache.
func SetAdd(ctx context.Context, key string, ttl time.Duration, members ...string) (int, error) {
	return defaultCache.SetAdd(ctx, key, ttl, members...)
}

// SetRemove calls [Cache.SetRemove] on the default Cache.
func SetRemove(ctx context.Context, key string, members ...string) (int, error) {
	return defaultCache.SetRemove(ctx, key, members...)
}

// SetPop calls [Cache.SetPop] on the default Cache.
func SetPop(ctx context.Context, key string, count int) ([]string, error) {
	return defaultCache.SetPop(ctx, key, count)
}

// SetMembers calls [Cache.SetMembers] on the default Cache.
func SetMembers(ctx context.Context, key string) ([]string, error) {
	return defaultCache.SetMembers(ctx, key)
}

// GetBits calls [Cache.GetBits] on the default Cache.
func GetBits(ctx context.Context, key string, size int, indexes ...int64) ([]int64, error) {
	return defaultCache.GetBits(ctx, key, size, indexes...)
}

// IncrBits calls [Cache.IncrBits] on the default Cache.
func IncrBits(ctx context.Context, key string, size int, by int64, indexes ...int64) ([]int64, error) {
	return defaultCache.IncrBits(ctx, key, size, by, indexes...)
}

// SliceIncr calls [Cache.SliceIncr] on the default Cache.
func SliceIncr(ctx context.Context, key string, window time.Duration, limit int64) (count int64, recorded bool, err error) {
	return defaultCache.SliceIncr(ctx, key, window, limit)
}

// Disable calls [Cache.Disable] on the default Cache.
func Disable(cmds ...Command) {
	defaultCache.Disable(cmds...)
}

// Enable calls [Cache.Enable] on the default Cache.
func Enable(cmds ...Command) {
	defaultCache.Enable(cmds...)
}

// IsEnabled calls [Cache.IsEnabled] on the default Cache.
func IsEnabled(ctx context.Context, key string, cmd Command) bool {
	return defaultCache.IsEnabled(ctx, key, cmd)
}

// WithLock calls [Cache.WithLock] on the default Cache.
func WithLock(ctx context.Context, key string, ttl time.Duration, fn func(ctx context.Context) error) (err error) {
	return defaultCache.WithLock(ctx, key, ttl, fn)
}

// SetLock calls [Cache.SetLock] on the default Cache.
func SetLock(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	return defaultCache.SetLock(ctx, key, token, ttl)
}

// Unlock calls [Cache.Unlock] on the default Cache.
func Unlock(ctx context.Context, key, token string) (bool, error) {
	return defaultCache.Unlock(ctx, key, token)
}

// ExtendLock calls [Cache.ExtendLock] on the default Cache.
func ExtendLock(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	return defaultCache.ExtendLock(ctx, key, token, ttl)
}

// IsLocked calls [Cache.IsLocked] on the default Cache.
func IsLocked(ctx context.Context, key string, wait time.Duration) (bool, error) {
	return defaultCache.IsLocked(ctx, key, wait)
}

// Use calls [Cache.Use] on the default Cache.
func Use(mws ...Middleware) error {
	return defaultCache.Use(mws...)
}

// OnCommand calls [Cache.OnCommand] on the default Cache.
func OnCommand(fn func(ctx context.Context, call *Call, res Result, err error), cmds ...Command) error {
	return defaultCache.OnCommand(fn, cmds...)
}

// BackendName calls [Cache.BackendName] on the default Cache.
func BackendName(key string) string {
	return defaultCache.BackendName(key)
}
