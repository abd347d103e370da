// Package middleware is the net/http side of cashews: [FromCacheHeaders] tells clients which parts of
// a response came from cache, and [Cache] caches whole responses in a cashews Cache the way a shared
// HTTP cache does (RFC 9111), for a whole application or for one route. Both are plain
// func(http.Handler) http.Handler middlewares; the ResponseWriters they hand on implement Flush and
// Unwrap, so streaming and http.ResponseController keep working.
//
// # Response caching
//
//	c := cashews.New()
//	err := c.Setup("mem://?size=10000")
//	cache, err := middleware.Cache(c, middleware.DefaultTTL(time.Minute), middleware.Drop("/news/"))
//	mux.Handle("GET /news/", cache(news))
//
// Configuration errors are returned by [Cache] and [CacheControl] (they match [ErrConfig]); nothing
// panics at request time. The rules:
//
//	methods         GET responses are stored; GET and HEAD are answered from them. OPTIONS, TRACE and
//	                CONNECT pass through. Any other method that succeeds (status < 400) drops the
//	                stored response of its URL, Location and Content-Location (same host).
//	key             KeyPrefix (default "http:") + escaped path + " " + host and query (or KeyFunc);
//	                Vary: the URL's key holds the field names, each variant has its own key;
//	                Vary: * is never stored.
//	freshness       s-maxage, max-age, Expires - Date; DefaultTTL for responses that say nothing
//	                (heuristically cacheable status codes, or public); zero means not stored.
//	                Freshness is computed from the stored times with the Cache's clock.
//	not stored      no-store (unless must-understand with a known status), private, 206, 304, 1xx,
//	                Set-Cookie (see StoreSetCookie), Authorization without public, s-maxage or
//	                must-revalidate, text/event-stream, bodies over MaxBodySize.
//	requests        no-store, max-stale and only-if-cached (504 on a miss) always; no-cache, max-age
//	                and min-fresh only with AllowClientRefresh.
//	validation      If-None-Match and If-Modified-Since are answered with 304 from the cache; stale
//	                responses with validators are revalidated with a conditional request, and a 304
//	                refreshes the stored header; no-cache and must-revalidate are honoured.
//	stale           stale-while-revalidate (served, refreshed in a goroutine the Cache owns),
//	                stale-if-error (500, 502, 503, 504 answered from cache), KeepStale.
//	stampede        concurrent misses of one URL reach the handler once; the others wait and read
//	                the stored response.
//	headers         Age on every response from cache; Cache-Status (RFC 9211), such as
//	                "cashews; hit; ttl=42" or "cashews; fwd=uri-miss; stored".
//	twice           a request already inside a caching middleware passes through the inner one,
//	                which logs ErrAppliedTwice once.
//
// Responses are stored as [Entry] values holding a [Response], so byte backends (disk, Redis) encode
// them with their codec; route the key prefix to Redis to share responses between instances.
package middleware
