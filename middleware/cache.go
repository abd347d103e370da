package middleware

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/detect"
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
// field names and each variant is stored at its own key. Request and response Cache-Control, Expires,
// Age, ETag and Last-Modified are honoured; stale responses are revalidated with a conditional
// request; a successful request with an unsafe method drops the stored response of its URL, Location
// and Content-Location. Concurrent misses of one URL reach the handler once.
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
	shared := &flights{}
	return func(next http.Handler) http.Handler {
		return &handler{c: c, cfg: &cfg, next: next, flights: shared}
	}, nil
}

type handler struct {
	c       *cashews.Cache
	cfg     *config
	next    http.Handler
	flights *flights
	twice   sync.Once
}

type activeKey struct{}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Context().Value(activeKey{}) != nil {
		h.twice.Do(func() { h.cfg.logger.Error(ErrAppliedTwice.Error(), "path", r.URL.Path) })
		h.next.ServeHTTP(w, r)
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), activeKey{}, true))
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.serveCacheable(w, r)
	case http.MethodOptions, http.MethodTrace, http.MethodConnect:
		h.status(w.Header(), "fwd=bypass")
		h.next.ServeHTTP(w, r)
	default:
		h.serveUnsafe(w, r)
	}
}

// lookup is what the cache holds for a request.
type lookup struct {
	resp  *Response // the stored response, or nil
	key   string    // where resp is (or would be) stored
	index *Entry    // the URL's Vary index, when the response varies
	miss  string    // the Cache-Status fwd value of a miss
}

func (h *handler) now() time.Time { return h.c.Clock().Now() }

// baseKey is the key of the URL of r.
func (h *handler) baseKey(r *http.Request) string {
	var part string
	if h.cfg.keyFunc != nil {
		part = h.cfg.keyFunc(r)
	} else {
		part = r.Host + "?" + r.URL.RawQuery
	}
	return h.cfg.prefix + r.URL.EscapedPath() + " " + part
}

func (h *handler) find(ctx context.Context, r *http.Request, base string) lookup {
	e, found, err := cashews.Get[Entry](ctx, h.c, base)
	if err != nil {
		h.cfg.logger.Warn("cashews/middleware: read", "key", base, "err", err)
	}
	if !found {
		return lookup{key: base, miss: "uri-miss"}
	}
	if len(e.Vary) == 0 {
		if e.Response == nil {
			return lookup{key: base, miss: "uri-miss"}
		}
		return lookup{resp: e.Response, key: base}
	}
	vk := variantKey(base, e.Variant, e.Vary, r.Header)
	v, found, err := cashews.Get[Entry](ctx, h.c, vk)
	if err != nil {
		h.cfg.logger.Warn("cashews/middleware: read", "key", vk, "err", err)
	}
	if !found || v.Response == nil {
		return lookup{key: vk, index: &e, miss: "vary-miss"}
	}
	return lookup{resp: v.Response, key: vk, index: &e}
}

// variantKey is the key of the variant of a URL selected by the request's values of the vary fields.
func variantKey(base, variant string, vary []string, reqHeader http.Header) string {
	hash := sha256.New()
	for _, name := range vary {
		hash.Write([]byte(name))
		values, present := reqHeader[name]
		if present {
			hash.Write([]byte{1})
			v := normalizeValues(values)
			if caseInsensitive[name] {
				v = strings.ToLower(v)
			}
			hash.Write([]byte(v))
		}
		hash.Write([]byte{0})
	}
	return base + "#" + variant + ":" + hex.EncodeToString(hash.Sum(nil)[:16])
}

// caseInsensitive lists the request fields whose values select the same variant in any case.
var caseInsensitive = map[string]bool{"Accept-Language": true, "Accept-Encoding": true, "Accept-Charset": true}

// normalizeValues joins the field lines of a request field as one list with single commas.
func normalizeValues(values []string) string {
	var b strings.Builder
	for _, line := range values {
		for _, f := range strings.Split(line, ",") {
			if f = strings.TrimSpace(f); f != "" {
				if b.Len() > 0 {
					b.WriteByte(',')
				}
				b.WriteString(f)
			}
		}
	}
	return b.String()
}

// varyNames returns the canonical, sorted field names of the Vary field of h; star reports Vary: *.
func varyNames(h http.Header) (names []string, star bool) {
	for _, f := range headerList(h, "Vary") {
		if f == "*" {
			return nil, true
		}
		names = append(names, http.CanonicalHeaderKey(f))
	}
	slices.Sort(names)
	return slices.Compact(names), false
}

// fresh tells how a stored response may be used for a request.
type use int

const (
	useFresh      use = iota // serve it
	useStale                 // serve it although stale (max-stale)
	useSWR                   // serve it and revalidate in the background
	useRevalidate            // go to the handler (conditionally when it has validators)
)

func (h *handler) decide(resp *Response, reqCC directives, now time.Time) (u use, age, lifetime time.Duration) {
	cc := h.responseCC(resp.Header)
	age = resp.age(now)
	lifetime, _ = freshness(resp.Status, resp.Header, cc, resp.ResponseTime, h.cfg.fallback())
	if cc.has("no-cache") && cc["no-cache"] == "" {
		return useRevalidate, age, lifetime
	}
	left := lifetime - age
	if h.cfg.allowRefresh {
		if reqCC.has("no-cache") {
			return useRevalidate, age, lifetime
		}
		if ma, ok := reqCC.seconds("max-age"); ok && age > ma {
			return useRevalidate, age, lifetime
		}
		if mf, ok := reqCC.seconds("min-fresh"); ok && left < mf {
			return useRevalidate, age, lifetime
		}
	}
	if left > 0 {
		return useFresh, age, lifetime
	}
	if mustRevalidate(cc) {
		return useRevalidate, age, lifetime
	}
	staleness := -left
	if ms, ok := reqCC[`max-stale`]; ok && (ms == "" || staleness <= deltaSeconds(ms)) {
		return useStale, age, lifetime
	}
	if swr, ok := cc.seconds("stale-while-revalidate"); ok && staleness <= swr {
		return useSWR, age, lifetime
	}
	return useRevalidate, age, lifetime
}

// responseCC returns the directives that rule a response for this cache: its Cache-Control, or, for
// a surrogate (see [Surrogate]) when Surrogate-Control says max-age or no-store, those of
// Surrogate-Control (Edge Architecture 1.0), which then override Cache-Control.
func (h *handler) responseCC(hd http.Header) directives {
	if h.cfg.surrogate != "" && len(hd["Surrogate-Control"]) > 0 {
		sc := parseSurrogate(hd, h.cfg.surrogate)
		if sc.has("no-store") {
			return directives{"no-store": ""}
		}
		if ma, ok := sc["max-age"]; ok {
			d := directives{"max-age": ma}
			for _, k := range []string{"stale-while-revalidate", "stale-if-error"} {
				if v, ok := sc[k]; ok {
					d[k] = v
				}
			}
			return d
		}
	}
	return parseDirectives(hd)
}

// mustRevalidate reports whether a stale response may never be served without revalidation.
func mustRevalidate(cc directives) bool {
	return cc.has("must-revalidate") || cc.has("proxy-revalidate") || cc.has("s-maxage")
}

// sharedForAuth reports whether a response may answer a request with Authorization (RFC 9111 3.5).
func sharedForAuth(cc directives) bool {
	return cc.has("public") || cc.has("s-maxage") || cc.has("must-revalidate")
}

func (h *handler) serveCacheable(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	reqCC := parseDirectives(r.Header)
	base := h.baseKey(r)
	auth := r.Header.Get("Authorization") != ""
	for attempt := 0; ; attempt++ {
		now := h.now()
		look := h.find(ctx, r, base)
		var stored *Response // a stored response to revalidate or to cover an error
		if resp := look.resp; resp != nil && (!auth || sharedForAuth(h.responseCC(resp.Header))) {
			u, age, lifetime := h.decide(resp, reqCC, now)
			switch u {
			case useFresh, useStale:
				h.serveStored(w, r, resp, look.key, age, lifetime, "hit")
				return
			case useSWR:
				h.serveStored(w, r, resp, look.key, age, lifetime, "hit; detail=stale-while-revalidate")
				h.revalidateInBackground(r, base, look)
				return
			}
			stored = resp
		}
		if _, ok := reqCC["only-if-cached"]; ok {
			h.status(w.Header(), "fwd=miss; detail=only-if-cached")
			http.Error(w, "not in cache (only-if-cached)", http.StatusGatewayTimeout)
			return
		}
		if attempt == 0 {
			if leader, wait := h.flights.lead(base); !leader {
				select {
				case <-wait:
					continue // the leader may have stored it
				case <-ctx.Done():
					return
				}
			}
			defer h.flights.done(base)
		}
		h.forward(w, r, look, stored, reqCC, false)
		return
	}
}

// forward sends the request to the handler. With a stored response that has validators the request is
// made conditional, and a 304 refreshes the stored response; a 5xx is covered by a stored response
// that allows stale-if-error. In the background (the client is a discard writer) nothing is sent.
func (h *handler) forward(w http.ResponseWriter, r *http.Request, look lookup, stored *Response, reqCC directives, background bool) {
	reqTime := h.now()
	out := r
	revalidating := stored != nil && stored.hasValidator()
	if revalidating || h.cfg.surrogate != "" || r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Modified-Since") != "" {
		// The cache answers the client's conditions from the full response, so that it can store it.
		out = r.Clone(r.Context())
		out.Header.Del("If-None-Match")
		out.Header.Del("If-Modified-Since")
		if h.cfg.surrogate != "" {
			out.Header.Add("Surrogate-Capability", h.cfg.surrogate+`="Surrogate/1.0"`)
		}
		if revalidating {
			if etag := stored.Header.Get("ETag"); etag != "" {
				out.Header.Set("If-None-Match", etag)
			}
			if lm := stored.Header.Get("Last-Modified"); lm != "" {
				out.Header.Set("If-Modified-Since", lm)
			}
		}
	}

	var (
		respTime    time.Time
		snapshot    http.Header
		store       bool
		revalidated bool
		coverErr    bool
	)
	rec := &recorder{client: w, h: make(http.Header), limit: h.cfg.maxBody}
	rec.onHeader = func(status int) (bool, bool) {
		respTime = h.now()
		if revalidating && status == http.StatusNotModified {
			revalidated = true
			snapshot = rec.h.Clone()
			return false, false
		}
		if stored != nil && isServerError(status) && h.staleIfError(stored, reqCC, respTime) {
			coverErr = true
			return false, false
		}
		store = h.storable(r, status, rec.h, reqCC)
		if store {
			snapshot = rec.h.Clone()
		}
		if background {
			return false, store
		}
		ch := w.Header()
		for k, v := range rec.h {
			ch[k] = v
		}
		fwd := look.miss
		switch {
		case h.cfg.allowRefresh && reqCC.has("no-cache"):
			fwd = "request"
		case stored != nil:
			fwd = "stale"
		case r.Method == http.MethodHead || fwd == "":
			fwd = "miss"
		}
		if revalidating {
			fwd += "; fwd-status=" + strconv.Itoa(status)
		}
		if store {
			fwd += "; stored"
		}
		h.status(ch, "fwd="+fwd)
		if status == http.StatusOK && notModified(r, rec.h) {
			ch.Del("Content-Length")
			w.WriteHeader(http.StatusNotModified)
			return false, store
		}
		w.WriteHeader(status)
		return r.Method != http.MethodHead, store
	}
	h.next.ServeHTTP(rec, out)
	rec.finish()

	ctx := context.WithoutCancel(r.Context())
	switch {
	case revalidated:
		fresh := merge(stored, snapshot, reqTime, respTime)
		cc := h.responseCC(fresh.Header)
		if h.storable(r, fresh.Status, fresh.Header, reqCC) {
			h.store(ctx, r, look, fresh, cc)
		}
		if !background {
			age := fresh.age(respTime)
			lifetime, _ := freshness(fresh.Status, fresh.Header, cc, fresh.ResponseTime, h.cfg.fallback())
			h.serveStored(w, r, fresh, look.key, age, lifetime, "fwd=stale; fwd-status=304")
		}
	case coverErr:
		if !background {
			cc := h.responseCC(stored.Header)
			lifetime, _ := freshness(stored.Status, stored.Header, cc, stored.ResponseTime, h.cfg.fallback())
			h.serveStored(w, r, stored, look.key, stored.age(respTime), lifetime, "hit; detail=stale-if-error")
		}
	case store && !rec.overflow && rec.status != 0:
		resp := &Response{
			Status:       rec.status,
			Header:       snapshot,
			Body:         rec.body,
			RequestTime:  reqTime,
			ResponseTime: respTime,
		}
		prepare(resp)
		h.store(ctx, r, look, resp, h.responseCC(resp.Header))
	}
}

func isServerError(status int) bool {
	switch status {
	case 500, 502, 503, 504:
		return true
	}
	return false
}

// staleIfError reports whether stored may cover an error at now (RFC 5861 4).
func (h *handler) staleIfError(stored *Response, reqCC directives, now time.Time) bool {
	cc := h.responseCC(stored.Header)
	if mustRevalidate(cc) || (cc.has("no-cache") && cc["no-cache"] == "") {
		return false
	}
	lifetime, _ := freshness(stored.Status, stored.Header, cc, stored.ResponseTime, h.cfg.fallback())
	staleness := stored.age(now) - lifetime
	for _, d := range []directives{reqCC, cc} {
		if sie, ok := d.seconds("stale-if-error"); ok && staleness <= sie {
			return true
		}
	}
	return false
}

// prepare finishes a response before it is stored: it gets a Date when it has none (RFC 9110
// 6.6.1), and loses the fields that no-cache="..." and private="..." name.
func prepare(resp *Response) {
	if resp.Header.Get("Date") == "" {
		resp.Header.Set("Date", resp.ResponseTime.UTC().Format(http.TimeFormat))
	}
	cc := parseDirectives(resp.Header)
	for _, d := range []string{"no-cache", "private"} {
		for _, f := range cc.fields(d) {
			resp.Header.Del(f)
		}
	}
}

// notUpdated lists the fields a 304 does not update in the stored response (RFC 9111 3.2).
var notUpdated = map[string]bool{"Content-Length": true, "Etag": true, "Content-Md5": true, "Transfer-Encoding": true, "Connection": true,
	"Keep-Alive": true, "Content-Encoding": true, "Content-Range": true, "Trailer": true, "Upgrade": true}

// merge returns stored updated by the header of a 304 (RFC 9111 4.3.4). stored is not modified.
func merge(stored *Response, h http.Header, reqTime, respTime time.Time) *Response {
	fresh := *stored
	fresh.Header = stored.Header.Clone()
	for k, v := range h {
		if !notUpdated[k] {
			fresh.Header[k] = v
		}
	}
	if h.Get("Date") == "" {
		fresh.Header.Del("Date")
	}
	if h.Get("Age") == "" {
		fresh.Header.Del("Age")
	}
	fresh.RequestTime, fresh.ResponseTime = reqTime, respTime
	prepare(&fresh)
	return &fresh
}

// storable reports whether a response to r with status and header h may be stored (RFC 9111 3).
func (h *handler) storable(r *http.Request, status int, hd http.Header, reqCC directives) bool {
	if r.Method != http.MethodGet || !understoodStatus(status) || reqCC.has("no-store") {
		return false
	}
	cc := h.responseCC(hd)
	if cc.has("must-understand") {
		// must-understand: store only status codes the cache knows, and then ignore no-store.
		if !knownStatus(status) {
			return false
		}
	} else if cc.has("no-store") {
		return false
	}
	if cc.has("private") && cc["private"] == "" {
		return false
	}
	if r.Header.Get("Authorization") != "" && !sharedForAuth(cc) {
		return false
	}
	if len(hd["Set-Cookie"]) > 0 && !slices.Contains(parseDirectives(hd).fields("no-cache"), "Set-Cookie") &&
		!slices.Contains(parseDirectives(hd).fields("private"), "Set-Cookie") &&
		!(h.cfg.cookies && r.Header.Get("Cookie") != "") {
		return false
	}
	if _, star := varyNames(hd); star {
		return false
	}
	lifetime, explicit := freshness(status, hd, cc, h.now(), h.cfg.fallback())
	revalidated := cc.has("no-cache") && cc["no-cache"] == "" // every use is revalidated
	if !explicit && !revalidated && (lifetime == 0 || !(heuristicStatus[status] || cc.has("public"))) {
		return false
	}
	if lifetime <= 0 && hd.Get("ETag") == "" && hd.Get("Last-Modified") == "" {
		return false
	}
	if ct := hd.Get("Content-Type"); strings.HasPrefix(ct, "text/event-stream") {
		return false
	}
	if cl := hd.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n > int64(h.cfg.maxBody) {
			return false
		}
	}
	return true
}

// store saves resp for the request r, whose lookup was look.
func (h *handler) store(ctx context.Context, r *http.Request, look lookup, resp *Response, cc directives) {
	now := h.now()
	resp.StoredAt = now
	lifetime, _ := freshness(resp.Status, resp.Header, cc, resp.ResponseTime, h.cfg.fallback())
	keep := h.cfg.keepStale
	for _, d := range []string{"stale-while-revalidate", "stale-if-error"} {
		if v, ok := cc.seconds(d); ok {
			keep = max(keep, v)
		}
	}
	ttl := max(lifetime-resp.age(now)+keep, time.Second)
	var opts []cashews.SetOption
	if tags := h.tagsOf(r); len(tags) > 0 {
		opts = append(opts, cashews.Tags(tags...))
	}
	base := h.baseKey(r)
	vary, _ := varyNames(resp.Header)
	if len(vary) == 0 {
		if _, err := h.c.Set(ctx, base, Entry{Response: resp}, ttl, opts...); err != nil {
			h.cfg.logger.Warn("cashews/middleware: store", "key", base, "err", err)
		}
		return
	}
	variant := ""
	if look.index != nil && slices.Equal(look.index.Vary, vary) {
		variant = look.index.Variant
	} else {
		variant = strconv.FormatUint(rand.Uint64(), 36)
	}
	vk := variantKey(base, variant, vary, r.Header)
	if _, err := h.c.Set(ctx, vk, Entry{Response: resp}, ttl, opts...); err != nil {
		h.cfg.logger.Warn("cashews/middleware: store", "key", vk, "err", err)
		return
	}
	if _, err := h.c.Set(ctx, base, Entry{Vary: vary, Variant: variant}, max(ttl, 24*time.Hour), opts...); err != nil {
		h.cfg.logger.Warn("cashews/middleware: store", "key", base, "err", err)
	}
}

func (h *handler) tagsOf(r *http.Request) []string {
	if h.cfg.tagsFunc == nil {
		return h.cfg.tags
	}
	return append(slices.Clip(h.cfg.tags), h.cfg.tagsFunc(r)...)
}

// serveStored writes a stored response (or a 304 when the request's conditions hold).
func (h *handler) serveStored(w http.ResponseWriter, r *http.Request, resp *Response, key string, age, lifetime time.Duration, status string) {
	hd := w.Header()
	for k, v := range resp.Header {
		hd[k] = slices.Clip(v) // an append by a later writer copies, so the stored slice stays intact
	}
	hd.Set("Age", strconv.FormatInt(int64(age/time.Second), 10))
	if strings.HasPrefix(status, "hit") {
		status = strings.Replace(status, "hit", "hit; ttl="+strconv.FormatInt(int64((lifetime-age)/time.Second), 10), 1)
	}
	h.status(hd, status)
	if d := detect.FromContext(r.Context()); d != nil {
		d.Add(detect.Hit{Key: key, Strategy: "http", TTL: max(0, lifetime-age), Backend: h.c.BackendName(key)})
	}
	if resp.Status == http.StatusOK && notModified(r, resp.Header) {
		hd.Del("Content-Length")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if bodyAllowed(resp.Status) {
		hd.Set("Content-Length", strconv.Itoa(len(resp.Body)))
	}
	w.WriteHeader(resp.Status)
	if r.Method != http.MethodHead && bodyAllowed(resp.Status) {
		_, _ = w.Write(resp.Body)
	}
}

func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified && status >= 200
}

// status sets the Cache-Status field.
func (h *handler) status(hd http.Header, params string) {
	if h.cfg.statusName != "" {
		hd.Set("Cache-Status", h.cfg.statusName+"; "+params)
	}
}

// notModified evaluates If-None-Match and If-Modified-Since of r against a response header (RFC 9110
// 13.1.2, 13.1.3).
func notModified(r *http.Request, hd http.Header) bool {
	if inm := r.Header.Values("If-None-Match"); len(inm) > 0 {
		etag := hd.Get("ETag")
		if etag == "" {
			return false
		}
		for _, line := range inm {
			for len(line) > 0 {
				var tag string
				tag, line = nextElement(line)
				tag = strings.TrimSpace(tag)
				if tag == "*" || strings.TrimPrefix(tag, "W/") == strings.TrimPrefix(etag, "W/") {
					return true
				}
			}
		}
		return false
	}
	ims := r.Header.Get("If-Modified-Since")
	lm := hd.Get("Last-Modified")
	if lm == "" {
		lm = hd.Get("Date") // the response was current then (RFC 9110 13.1.3)
	}
	if ims == "" || lm == "" {
		return false
	}
	t, err := http.ParseTime(ims)
	if err != nil {
		return false
	}
	m, err := http.ParseTime(lm)
	return err == nil && !m.After(t)
}

// revalidateInBackground refreshes a stale response for stale-while-revalidate, in a goroutine owned by
// the Cache (Close cancels and waits for it). One refresh per URL runs at a time.
func (h *handler) revalidateInBackground(r *http.Request, base string, look lookup) {
	if leader, _ := h.flights.lead(base); !leader {
		return
	}
	req := r.Clone(r.Context())
	req.Body = http.NoBody
	stored := look.resp
	started := h.c.Go(func(bg context.Context) {
		defer h.flights.done(base)
		defer func() {
			if p := recover(); p != nil && p != http.ErrAbortHandler {
				h.cfg.logger.Error("cashews/middleware: background revalidation panicked", "key", base, "panic", p)
			}
		}()
		req = req.WithContext(valuesOf{Context: bg, values: r.Context()})
		h.forward(&discard{}, req, look, stored, nil, true)
	})
	if !started {
		h.flights.done(base)
	}
}

// valuesOf is a context with the deadline and cancellation of Context and the values of values.
type valuesOf struct {
	context.Context
	values context.Context
}

func (v valuesOf) Value(key any) any { return v.values.Value(key) }

// serveUnsafe runs a request with an unsafe method and, when it succeeds, drops what it changed.
func (h *handler) serveUnsafe(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{client: w, h: w.Header(), limit: 0}
	rec.onHeader = func(status int) (bool, bool) {
		if status < 400 {
			h.invalidate(r, rec.h)
		}
		h.status(w.Header(), "fwd=bypass")
		w.WriteHeader(status)
		return true, false
	}
	h.next.ServeHTTP(rec, r)
	rec.finish()
}

// invalidate drops the stored responses of the request's URL, of its Location and Content-Location
// (same host only), and those the drop rules name.
func (h *handler) invalidate(r *http.Request, hd http.Header) {
	ctx := context.WithoutCancel(r.Context())
	keys := []string{h.baseKey(asGet(r, r.URL))}
	for _, f := range []string{"Location", "Content-Location"} {
		v := hd.Get(f)
		if v == "" {
			continue
		}
		u, err := r.URL.Parse(v)
		if err != nil || (u.Host != "" && u.Host != r.Host) {
			continue
		}
		keys = append(keys, h.baseKey(asGet(r, u)))
	}
	if _, err := h.c.DeleteMany(ctx, keys...); err != nil {
		h.cfg.logger.Warn("cashews/middleware: invalidate", "keys", keys, "err", err)
	}
	for _, p := range h.cfg.dropPrefixes {
		if _, err := h.c.DeleteMatch(ctx, h.cfg.prefix+globEscape(p)+"*"); err != nil {
			h.cfg.logger.Warn("cashews/middleware: drop", "prefix", p, "err", err)
		}
	}
	if len(h.cfg.dropRegexps) > 0 {
		var drop []string
		for key, err := range h.c.Scan(ctx, h.cfg.prefix+"*") {
			if err != nil {
				h.cfg.logger.Warn("cashews/middleware: drop", "err", err)
				break
			}
			path, _, _ := strings.Cut(key[len(h.cfg.prefix):], " ")
			for _, re := range h.cfg.dropRegexps {
				if re.MatchString(path) {
					drop = append(drop, key)
					break
				}
			}
		}
		if len(drop) > 0 {
			if _, err := h.c.DeleteMany(ctx, drop...); err != nil {
				h.cfg.logger.Warn("cashews/middleware: drop", "err", err)
			}
		}
	}
	if len(h.cfg.dropTags) > 0 {
		if _, err := h.c.DeleteTags(ctx, h.cfg.dropTags...); err != nil {
			h.cfg.logger.Warn("cashews/middleware: drop tags", "tags", h.cfg.dropTags, "err", err)
		}
	}
}

// asGet returns a shallow copy of r as a GET of u, for computing the key of u.
func asGet(r *http.Request, u *url.URL) *http.Request {
	g := *r
	g.Method = http.MethodGet
	g.URL = u
	if u.Host != "" {
		g.Host = u.Host
	}
	return &g
}

// globEscape escapes the glob characters of s.
func globEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
