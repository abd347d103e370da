package middleware

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// ErrConfig is matched (with errors.Is) by every error of [Cache] and [CacheControl] about their
// configuration.
var ErrConfig = errors.New("cashews/middleware: bad configuration")

func configError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
}

// Option configures [Cache].
type Option func(*config) error

type config struct {
	defaultTTL   time.Duration
	keepStale    time.Duration
	keyFunc      func(*http.Request) string
	prefix       string
	maxBody      int
	allowRefresh bool
	cookies      bool
	statusName   string
	tags         []string
	tagsFunc     func(*http.Request) []string
	dropPrefixes []string
	dropRegexps  []*regexp.Regexp
	dropTags     []string
	logger       *slog.Logger
	surrogate    string
	heuristic    float64
	targets      []string     // targeted cache-control fields, canonical, in order of precedence
	ttlStatuses  map[int]bool // statuses DefaultTTL applies to besides 2xx and 3xx
	staleIfError time.Duration
	collapseWait time.Duration
	route        string // the route's name in the Cache's Stats
}

func defaultConfig() config {
	return config{
		keepStale:    10 * time.Minute,
		prefix:       "http:",
		maxBody:      1 << 20,
		statusName:   "cashews",
		targets:      []string{"Cdn-Cache-Control"},
		collapseWait: 5 * time.Second,
		route:        "default",
	}
}

// Route names the route this middleware caches, for the Cache's statistics: cashews.Cache.Stats
// reports what it did (hits, stale responses served, misses, revalidations, bypasses) in Routes
// under this name (default "default"). Middlewares given the same name add up.
func Route(name string) Option {
	return func(c *config) error {
		if name == "" {
			return configError("Route(\"\"): a route needs a name")
		}
		c.route = name
		return nil
	}
}

// DefaultTTL is the freshness lifetime of responses that say nothing about it (no Cache-Control
// max-age or s-maxage, no Expires) and have a heuristically cacheable 2xx or 3xx status (200, 203,
// 204, 300, 301, 308; any 2xx or 3xx with Cache-Control: public), or a status named with
// [DefaultTTLStatuses]. Error statuses are left out by default because a client can often provoke
// them (a 404 for a made-up URL, a 405 or 501 through a method-override header) and would then keep
// the error in the cache for everyone. Zero, the default, means such responses are not stored.
func DefaultTTL(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return configError("DefaultTTL(%v): negative", d)
		}
		c.defaultTTL = d
		return nil
	}
}

// DefaultTTLStatuses adds status codes to which [DefaultTTL] applies, for a route whose error
// answers are worth caching, such as DefaultTTLStatuses(404, 410).
func DefaultTTLStatuses(codes ...int) Option {
	return func(c *config) error {
		for _, code := range codes {
			if code < 200 || code > 599 || code == http.StatusPartialContent || code == http.StatusNotModified {
				return configError("DefaultTTLStatuses(%d): not a status code that can be stored", code)
			}
			if c.ttlStatuses == nil {
				c.ttlStatuses = map[int]bool{}
			}
			c.ttlStatuses[code] = true
		}
		return nil
	}
}

// StaleIfError lets a stored response be served up to d after it turned stale when the handler
// answers 500, 502, 503 or 504, as if the response said stale-if-error=d (RFC 5861); a response's
// own stale-if-error still applies as it says. RFC 9111 4.2.4 allows a cache to serve stale content
// when it is disconnected from the origin, which is what a reverse proxy's 502 (httputil.ReverseProxy's
// answer when the origin drops the connection or cannot be reached) or 504 means. A response that
// says must-revalidate, proxy-revalidate, s-maxage or no-cache is never served stale this way.
//
// Zero, the default, serves errors as they are: an application's own 500 or 503 is its business,
// and a response asks for this with stale-if-error when it wants it. The response is served with
// Cache-Status "hit; detail=stale-if-error". Stored responses are kept at least d past their
// freshness (see [KeepStale]).
func StaleIfError(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return configError("StaleIfError(%v): negative", d)
		}
		c.staleIfError = d
		return nil
	}
}

// CollapseWait bounds how long a request waits for another request for the same URL that is already
// at the handler (request collapsing, the stampede guard; default 5 seconds). The waiting requests
// are released as soon as the first response's header is written: when it will be stored they read
// its body as it streams, and otherwise each goes to the handler itself, and for a while later
// requests for that URL do not wait at all. So the wait only ever covers the time until another
// request's response header, and never exceeds d. Zero turns request collapsing off.
func CollapseWait(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return configError("CollapseWait(%v): negative", d)
		}
		c.collapseWait = d
		return nil
	}
}

// TargetedFields sets the targeted cache-control fields (RFC 9213) the cache obeys, in order of
// precedence (default: CDN-Cache-Control, since the middleware is a shared cache run by the
// application's owner). The first of them that a response carries with a valid value (a Structured
// Field Dictionary, RFC 8941) replaces its Cache-Control and Expires for this cache, so that an
// application can tell this cache and browsers different things, for instance
// "CDN-Cache-Control: max-age=600" with "Cache-Control: max-age=60". A field whose value does not
// parse is ignored as a whole. TargetedFields() with no names turns them off; a name of your own,
// such as TargetedFields("Cashews-Cache-Control", "CDN-Cache-Control"), targets this cache alone.
// "Surrogate-Control" is read with its own syntax (see [Surrogate]).
func TargetedFields(names ...string) Option {
	return func(c *config) error {
		c.targets = nil
		for _, n := range names {
			if !validToken(n) {
				return configError("TargetedFields(%q): not a field name", n)
			}
			c.targets = append(c.targets, http.CanonicalHeaderKey(n))
		}
		return nil
	}
}

// Heuristic gives a response that says nothing about its freshness but has a Last-Modified (and a
// heuristically cacheable status, or public) a lifetime of fraction of the time between Last-Modified
// and Date, as RFC 9111 4.2.2 allows (10%, 0.1, is the usual fraction). It takes precedence over
// DefaultTTL; 0, the default, turns it off.
func Heuristic(fraction float64) Option {
	return func(c *config) error {
		if !(fraction >= 0 && fraction <= 1) {
			return configError("Heuristic(%v): want a fraction between 0 and 1", fraction)
		}
		c.heuristic = fraction
		return nil
	}
}

// KeepStale is how long a response stays stored after it turns stale (default 10 minutes): long
// enough to revalidate it with a conditional request (when it has an ETag or Last-Modified) instead
// of a full one, and to serve it to requests with max-stale or stale-if-error. The
// stale-while-revalidate and stale-if-error directives of a response keep it at least as long as they
// say. Freshness is decided by the stored times, never by the backend's TTL.
func KeepStale(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return configError("KeepStale(%v): negative", d)
		}
		c.keepStale = d
		return nil
	}
}

// KeyFunc replaces the part of the key after the path. By default it is the request's host and
// query ("example.com?page=2"); the full key is the key prefix, the escaped path, a space and this
// part, so that drop rules still find responses by path. The request fields the response names in
// Vary are added to the key in any case.
func KeyFunc(f func(r *http.Request) string) Option {
	return func(c *config) error {
		if f == nil {
			return configError("KeyFunc(nil)")
		}
		c.keyFunc = f
		return nil
	}
}

// KeyPrefix sets the prefix of every key the middleware stores (default "http:"). Route it to a
// backend with cashews.WithPrefix, for example Redis to share responses between instances.
func KeyPrefix(p string) Option {
	return func(c *config) error {
		if strings.ContainsAny(p, "*?[\\ ") {
			return configError("KeyPrefix(%q): a prefix may not hold glob characters or spaces", p)
		}
		c.prefix = p
		return nil
	}
}

// MaxBodySize is the largest body stored (default 1 MiB). A larger response passes through to the
// client as it is written, and only up to n bytes of it are ever held in memory.
func MaxBodySize(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return configError("MaxBodySize(%d): want a positive size", n)
		}
		c.maxBody = n
		return nil
	}
}

// AllowClientRefresh lets the request's Cache-Control (no-cache, max-age, min-fresh) make the cache
// revalidate or refetch a response it holds fresh. It is off by default, so that a client cannot
// force every request through to the handler; no-store, max-stale and only-if-cached are honoured
// either way, since they never add load.
func AllowClientRefresh(allow bool) Option {
	return func(c *config) error {
		c.allowRefresh = allow
		return nil
	}
}

// StoreSetCookie lets a response that sets a cookie be stored when the request carried a cookie
// (asgi-caches' rule). By default such responses are never stored, since a shared cache would hand
// the cookie to everyone. Either way, a response with Cache-Control no-cache="Set-Cookie" or
// private="Set-Cookie" is stored without its Set-Cookie field.
func StoreSetCookie(allow bool) Option {
	return func(c *config) error {
		c.cookies = allow
		return nil
	}
}

// CacheStatus sets the cache name in the Cache-Status header (RFC 9211) added to every response that
// went through the cache (default "cashews"); "" turns the header off.
func CacheStatus(name string) Option {
	return func(c *config) error {
		if name != "" && !validToken(name) {
			return configError("CacheStatus(%q): not an HTTP token", name)
		}
		c.statusName = name
		return nil
	}
}

// Tags attaches tags to every stored response, so that cashews' Cache.DeleteTags drops them.
func Tags(tags ...string) Option {
	return func(c *config) error {
		for _, t := range tags {
			if t == "" {
				return configError("Tags: empty tag")
			}
		}
		c.tags = append(c.tags, tags...)
		return nil
	}
}

// TagsFunc attaches the tags f returns for the request to its stored response, in addition to Tags.
func TagsFunc(f func(r *http.Request) []string) Option {
	return func(c *config) error {
		if f == nil {
			return configError("TagsFunc(nil)")
		}
		c.tagsFunc = f
		return nil
	}
}

// Drop makes every successful request with an unsafe method (POST, PUT, PATCH, DELETE, ...) that
// passes through this middleware drop the stored responses whose path starts with one of the
// prefixes, as fast-cache-middleware's CacheDropConfig does. Successful means a status below 400;
// the stored GET of the request's own URL, Location and Content-Location is dropped in any case.
func Drop(pathPrefixes ...string) Option {
	return func(c *config) error {
		for _, p := range pathPrefixes {
			if !strings.HasPrefix(p, "/") {
				return configError("Drop(%q): a path prefix starts with /", p)
			}
		}
		c.dropPrefixes = append(c.dropPrefixes, pathPrefixes...)
		return nil
	}
}

// DropRegexp is [Drop] with regular expressions matched against the escaped path. Dropping by
// regular expression scans the keys under the key prefix.
func DropRegexp(exprs ...string) Option {
	return func(c *config) error {
		for _, e := range exprs {
			re, err := regexp.Compile(e)
			if err != nil {
				return configError("DropRegexp(%q): %v", e, err)
			}
			c.dropRegexps = append(c.dropRegexps, re)
		}
		return nil
	}
}

// DropTags makes every successful request with an unsafe method drop the responses stored with any
// of the tags.
func DropTags(tags ...string) Option {
	return func(c *config) error {
		c.dropTags = append(c.dropTags, tags...)
		return nil
	}
}

// Surrogate makes the middleware act as a surrogate (a reverse proxy cache run by the origin's owner,
// Edge Architecture 1.0) named target: requests to the handler carry Surrogate-Capability:
// target="Surrogate/1.0", and Surrogate-Control becomes the first targeted field (see
// [TargetedFields], unless they name it elsewhere): when it says max-age or no-store (untargeted, or targeted at ";target"), its
// directives replace Cache-Control and Expires for this cache. "max-age=60+30" reads as max-age=60
// with stale-if-error=30.
func Surrogate(target string) Option {
	return func(c *config) error {
		if !validToken(target) {
			return configError("Surrogate(%q): not an HTTP token", target)
		}
		c.surrogate = target
		return nil
	}
}

// Logger sets where the middleware reports backend errors and misuse (default slog.Default()).
func Logger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return configError("Logger(nil)")
		}
		c.logger = l
		return nil
	}
}

// validToken reports whether s is an HTTP token (RFC 9110 5.6.2).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
