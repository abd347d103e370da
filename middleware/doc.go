// Package middleware is the net/http side of cashews: [FromCacheHeaders] tells clients which parts of
// a response came from cache, and [Cache] caches whole responses in a cashews Cache the way a shared
// HTTP cache does (RFC 9111), for a whole application or for one route. Both are plain
// func(http.Handler) http.Handler middlewares; the ResponseWriters they hand on implement Flush and
// Unwrap, so streaming and http.ResponseController keep working.
//
// # Response caching
//
//	c := cashews.New()
//	err := c.Setup("mem://?max_bytes=64MiB")
//	cache, err := middleware.Cache(c, middleware.DefaultTTL(time.Minute), middleware.Drop("/news/"))
//	mux.Handle("GET /news/", cache(news))
//
// Configuration errors are returned by [Cache] and [CacheControl] (they match [ErrConfig]); nothing
// panics at request time. The rules:
//
//	methods         GET responses are stored; GET and HEAD are answered from them. OPTIONS, TRACE and
//	                CONNECT pass through, and so does a GET or HEAD with content (it is neither
//	                answered from the cache nor stored). Any other method that succeeds (status
//	                < 400) drops the stored response of its URL, Location and Content-Location
//	                (same host).
//	key             KeyPrefix (default "http:") + escaped path + " " + host and query (or KeyFunc);
//	                Vary: the URL's key holds the field names, each variant has its own key;
//	                Vary: * is never stored.
//	directives      the first targeted field present with a valid value (CDN-Cache-Control by
//	                default, see TargetedFields) replaces Cache-Control and Expires for this cache.
//	                A directive given twice is read the most restrictive way: the shortest max-age,
//	                an unqualified private or no-cache over a qualified one.
//	freshness       s-maxage, max-age, Expires - Date (an Expires that is not a valid HTTP-date,
//	                or several, means stale); Age is its first value, ignored when invalid.
//	                Heuristic (Last-Modified) and DefaultTTL for responses that say nothing:
//	                DefaultTTL only for 2xx and 3xx unless DefaultTTLStatuses names others.
//	                Freshness is computed from the stored times with the Cache's clock.
//	not stored      no-store (unless must-understand with a known status), private, 206, 304, 1xx,
//	                Set-Cookie (see StoreSetCookie), Authorization without public, s-maxage or
//	                must-revalidate, text/event-stream, bodies over MaxBodySize.
//	requests        no-store, max-stale and only-if-cached (504 on a miss) always; no-cache, max-age
//	                and min-fresh only with AllowClientRefresh.
//	validation      If-None-Match and If-Modified-Since are answered with 304 from the cache; stale
//	                responses with validators are revalidated with a conditional request, and a 304
//	                refreshes the stored header; no-cache and must-revalidate are honoured.
//	ranges          a single-range Range request (with If-Range) on a stored 200 is answered with
//	                206 from the stored body, or 416; several ranges get the whole response.
//	stale           stale-while-revalidate (served, refreshed in a goroutine the Cache owns),
//	                stale-if-error (500, 502, 503, 504 answered from cache; StaleIfError gives
//	                responses that do not say it an allowance), KeepStale.
//	collapsing      concurrent misses of one URL reach the handler once. The others wait for the
//	                first response's header only (CollapseWait at most): when it will be stored,
//	                they read it as it streams; otherwise they go to the handler at once, and the
//	                URL is not collapsed for a minute. HEAD, Range, Authorization and no-store
//	                requests are not collapsed.
//	failures        a backend that cannot be read or written sends requests to the handler (and
//	                logs); the cache never fails a request. After a backend that cannot be reached,
//	                requests leave it alone for a second (doubling up to 30 s while it fails).
//	headers         Age on every response from cache; Cache-Status (RFC 9211), such as
//	                "cashews; hit; ttl=42", "cashews; fwd=uri-miss; stored" or
//	                "cashews; fwd=uri-miss; collapsed".
//	twice           a request already inside a caching middleware passes through the inner one,
//	                which logs ErrAppliedTwice once.
//
// Responses are stored as [Entry] values holding a [Response], so byte backends (disk, Redis) encode
// them with their codec; route the key prefix to Redis to share responses between instances.
package middleware
