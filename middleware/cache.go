package middleware

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/cashews-go/cashews"
)

// ErrAppliedTwice is logged when a request passes through two caching middlewares: the inner one
// passes the request through untouched, so only the outer one caches.
var ErrAppliedTwice = errors.New("cashews/middleware: the caching middleware is applied twice to one request; the inner one passes through")

// Cache returns a middleware that caches whole responses in c, as a shared HTTP cache does (RFC
// 9111), for a whole application or one route. A configuration error is returned here, never at
// request time.
//
// GET responses are stored and answer GET and HEAD requests. The key is the key prefix, the path and
// the host and query (see [KeyFunc]); when the response has a Vary field, the URL's key holds the
// field names and each variant is stored at its own key. Request and response Cache-Control, the
// targeted CDN-Cache-Control (see [TargetedFields]), Expires, Age, ETag and Last-Modified are
// honoured; stale responses are revalidated with a conditional request; a Range request is answered
// from a stored complete response; a successful request with an unsafe method drops the stored
// response of its URL, Location and Content-Location. Concurrent misses of one URL reach the handler
// once, and the others never wait longer than the first response's header (see [CollapseWait]).
//
// The cache never makes a request fail: when the backend cannot be read, the request goes to the
// handler; when it cannot be written, the response reaches the client unstored. Both are logged.
//
// A request that already passed through a caching middleware (two middlewares nested, or one
// applied twice) is passed through by the inner one, which logs [ErrAppliedTwice] once.
func Cache(c *cashews.Cache, opts ...Option) (func(http.Handler) http.Handler, error) {
	if c == nil {
		return nil, configError("Cache: nil *cashews.Cache")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if o == nil {
			return nil, configError("Cache: nil Option")
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	if cfg.surrogate != "" && !slices.Contains(cfg.targets, "Surrogate-Control") {
		cfg.targets = append([]string{"Surrogate-Control"}, cfg.targets...)
	}
	shared, g, pend := &flights{}, &gate{}, &pending{}
	stats := c.RouteCounter(cfg.route)
	return func(next http.Handler) http.Handler {
		return &handler{c: c, cfg: &cfg, next: next, flights: shared, gate: g, pending: pend, stats: stats}
	}, nil
}

type handler struct {
	c       *cashews.Cache
	stats   *cashews.RouteCounter
	cfg     *config
	next    http.Handler
	flights *flights
	gate    *gate
	pending *pending
	twice   sync.Once
}

type activeKey struct{}

// marked returns r with a context that tells an inner caching middleware to pass it through.
func marked(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), activeKey{}, true))
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Context().Value(activeKey{}) != nil {
		h.twice.Do(func() { h.cfg.logger.Error(ErrAppliedTwice.Error(), "path", r.URL.Path) })
		h.next.ServeHTTP(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.serveCacheable(w, r)
	case http.MethodOptions, http.MethodTrace, http.MethodConnect:
		h.stats.Bypass()
		h.status(w.Header(), "fwd=bypass")
		h.next.ServeHTTP(w, marked(r))
	default:
		h.stats.Bypass()
		h.serveUnsafe(w, r)
	}
}

func (h *handler) now() time.Time { return h.c.Clock().Now() }

// hasBody reports whether a request carries content.
func hasBody(r *http.Request) bool {
	return r.ContentLength != 0 || len(r.TransferEncoding) > 0
}

// use tells how a stored response may be used for a request.
type use int

const (
	useFresh      use = iota // serve it
	useStale                 // serve it although stale (max-stale)
	useSWR                   // serve it and revalidate in the background
	useRevalidate            // go to the handler (conditionally when it has validators)
)

func (h *handler) decide(resp *Response, rl *rules, reqCC directives, now time.Time) (u use, age time.Duration) {
	age = rl.age(resp.ResponseTime, now)
	if rl.noCache {
		return useRevalidate, age
	}
	left := rl.lifetime - age
	if h.cfg.allowRefresh && reqCC != nil {
		if reqCC.has("no-cache") {
			return useRevalidate, age
		}
		if ma, ok := reqCC.seconds("max-age"); ok && age > ma {
			return useRevalidate, age
		}
		if mf, ok := reqCC.seconds("min-fresh"); ok && left < mf {
			return useRevalidate, age
		}
	}
	if left > 0 {
		return useFresh, age
	}
	if rl.mustRevalidate {
		return useRevalidate, age
	}
	staleness := -left
	if ms, ok := reqCC["max-stale"]; ok && (ms == "" || staleness <= deltaSeconds(ms)) {
		return useStale, age
	}
	if rl.hasSWR && staleness <= rl.swr {
		return useSWR, age
	}
	return useRevalidate, age
}

func (h *handler) serveCacheable(w http.ResponseWriter, r *http.Request) {
	if hasBody(r) {
		// A GET (or HEAD) with content: the content is not part of the key and its meaning is not
		// defined (RFC 9110 9.3.1), so the cache neither answers it nor stores its response.
		h.stats.Bypass()
		h.status(w.Header(), "fwd=bypass; detail=request-content")
		h.next.ServeHTTP(w, marked(r))
		return
	}
	ctx := r.Context()
	var reqCC directives
	if len(r.Header["Cache-Control"]) > 0 {
		reqCC = parseDirectives(r.Header)
	}
	base := h.baseKey(r)
	auth := len(r.Header["Authorization"]) > 0
	// Requests whose responses may be shared collapse with others: not HEAD (never stored), nor
	// with Authorization or no-store, nor a Range (its miss is answered with part of the response).
	collapsible := h.cfg.collapseWait > 0 && r.Method == http.MethodGet && !auth && !reqCC.has("no-store") &&
		len(r.Header["Range"]) == 0
	for attempt := 0; ; attempt++ {
		now := h.now()
		look := h.find(ctx, r, base, now)
		var stored *Response // a stored response to revalidate or to cover an error
		if resp := look.resp; resp != nil {
			rl := h.rulesOf(resp)
			if !auth || rl.sharedForAuth {
				switch u, age := h.decide(resp, rl, reqCC, now); u {
				case useFresh:
					h.stats.Hit()
					h.serveStored(w, r, resp, look.key, age, "hit")
					return
				case useStale:
					h.stats.Stale()
					h.serveStored(w, r, resp, look.key, age, "hit")
					return
				case useSWR:
					h.stats.Stale()
					h.serveStored(w, r, resp, look.key, age, "hit; detail=stale-while-revalidate")
					h.revalidateInBackground(r, base, look)
					return
				}
				stored = resp
			}
		}
		if _, ok := reqCC["only-if-cached"]; ok {
			h.stats.Miss()
			h.status(w.Header(), "fwd=miss; detail=only-if-cached")
			http.Error(w, "not in cache (only-if-cached)", http.StatusGatewayTimeout)
			return
		}
		f := &fetch{r: r, base: base, look: look, stored: stored, reqCC: reqCC, collapsible: collapsible}
		if collapsible && attempt == 0 {
			fl, leader := h.flights.join(base, h.cfg.maxBody, now)
			switch {
			case leader:
				f.flight = fl
			case fl != nil:
				switch h.follow(w, r, fl) {
				case followServed:
					h.stats.Miss() // collapsed: it waited for another request's response
					return
				case followRetry:
					continue // the leader stored or refreshed it
				}
			}
		}
		h.forward(w, f)
		return
	}
}

// revalidateInBackground refreshes a stale response for stale-while-revalidate, in a goroutine owned by
// the Cache (Close cancels and waits for it). One refresh per URL runs at a time.
func (h *handler) revalidateInBackground(r *http.Request, base string, look lookup) {
	fl, leader := h.flights.lead(base, h.cfg.maxBody)
	if !leader {
		return
	}
	req := r.Clone(r.Context())
	req.Body = http.NoBody
	started := h.c.Go(func(bg context.Context) {
		defer func() {
			if p := recover(); p != nil && p != http.ErrAbortHandler {
				h.cfg.logger.Error("cashews/middleware: background revalidation panicked", "key", base, "panic", p)
			}
		}()
		req = req.WithContext(valuesOf{Context: bg, values: r.Context()})
		h.forward(&discard{}, &fetch{r: req, base: base, look: look, stored: look.resp, flight: fl, background: true})
	})
	if !started {
		fl.publish(outcomeLookup)
		h.flights.remove(fl)
	}
}

// valuesOf is a context with the deadline and cancellation of Context and the values of values.
type valuesOf struct {
	context.Context
	values context.Context
}

func (v valuesOf) Value(key any) any { return v.values.Value(key) }
