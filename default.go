package cashews

// defaultCache is the Cache behind the package-level functions.
var defaultCache = New()

// Default returns the package-level Cache that [Setup] and [Close] act on, for small programs that
// set up one cache once, as Python's "from cashews import cache" does; larger ones create their own
// with [New]. Everything else takes the Cache: its methods, the generic functions and Wrap:
//
//	c := cashews.Default()
//	getUser, err := cashews.Wrap(c, fetchUser, cashews.TTL(time.Hour))
//	u, found, err := cashews.Get[User](ctx, c, "user:1")
func Default() *Cache { return defaultCache }

// Setup calls [Cache.Setup] on the default Cache.
func Setup(rawURL string, opts ...SetupOption) error {
	return defaultCache.Setup(rawURL, opts...)
}

// Close calls [Cache.Close] on the default Cache.
func Close() error {
	return defaultCache.Close()
}
