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
}

func (c *config) fallback() fallback { return fallback{ttl: c.defaultTTL, fraction: c.heuristic} }

func defaultConfig() config {
	return config{
		keepStale:  10 * time.Minute,
		prefix:     "http:",
		maxBody:    1 << 20,
		statusName: "cashews",
	}
}

// DefaultTTL is the freshness lifetime of responses that say nothing about it (no Cache-Control
// max-age or s-maxage, no Expires) and have a heuristically cacheable status (200, 203, 204, 300,
// 301, 308, 404, 405, 410, 414, 501) or Cache-Control: public. Zero, the default, means such
// responses are not stored, as the HTTP caching conformance suite expects of a shared cache.
func DefaultTTL(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return configError("DefaultTTL(%v): negative", d)
		}
		c.defaultTTL = d
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
// target="Surrogate/1.0", and the response's Surrogate-Control max-age or no-store (untargeted or
// targeted at ";target") override its Cache-Control for this cache.
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
