package middleware

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

// serveUnsafe runs a request with an unsafe method and, when it succeeds, drops what it changed.
func (h *handler) serveUnsafe(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{client: w, h: w.Header()}
	rec.onHeader = func(status int) (bool, bool) {
		if status < 400 {
			h.invalidate(r, rec.h)
		}
		h.status(w.Header(), "fwd=bypass")
		w.WriteHeader(status)
		return true, false
	}
	h.next.ServeHTTP(rec, marked(r))
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
		h.invalidationFailed(ctx, "invalidate", err, keys, nil, nil, false)
	}
	for _, p := range h.cfg.dropPrefixes {
		glob := h.cfg.prefix + globEscape(p) + "*"
		if _, err := h.c.DeleteMatch(ctx, glob); err != nil {
			h.invalidationFailed(ctx, "drop", err, nil, []string{glob}, nil, false)
		}
	}
	if len(h.cfg.dropRegexps) > 0 {
		var drop []string
		for key, err := range h.c.Scan(ctx, h.cfg.prefix+"*") {
			if err != nil {
				// The keys the scan did not reach are unknown: everything under the prefix goes.
				h.invalidationFailed(ctx, "drop", err, nil, nil, nil, true)
				drop = nil
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
				h.invalidationFailed(ctx, "drop", err, drop, nil, nil, false)
			}
		}
	}
	if len(h.cfg.dropTags) > 0 {
		if _, err := h.c.DeleteTags(ctx, h.cfg.dropTags...); err != nil {
			h.invalidationFailed(ctx, "drop tags", err, nil, nil, h.cfg.dropTags, false)
		}
	}
}

// invalidationFailed remembers an invalidation that failed (see [pending]), so that the responses it
// should have dropped are never served, and logs it.
func (h *handler) invalidationFailed(ctx context.Context, op string, err error, keys, globs, tags []string, all bool) {
	h.pending.add(keys, globs, tags, all)
	h.gate.fail(ctx, h.now(), err)
	h.cfg.logger.Warn("cashews/middleware: "+op+" failed; the cache is bypassed until it succeeds", "keys", keys, "patterns", globs, "tags", tags, "err", err)
}

// settled reports whether no failed invalidation is pending, trying the pending ones again first.
func (h *handler) settled(ctx context.Context) bool {
	if !h.pending.any.Load() {
		return true
	}
	ok, err := h.pending.settle(context.WithoutCancel(ctx), h)
	if err != nil {
		// An unavailable backend is logged once per pause of the gate; other errors once per burst.
		log := h.gate.fail(ctx, h.now(), err)
		var unseen int64
		if !unavailable(err) {
			unseen, log = h.pending.log.Due(h.now(), pendingLogEvery)
		}
		if log {
			h.cfg.logger.Warn("cashews/middleware: retry of a failed invalidation failed; the cache is bypassed until it succeeds", "err", err, "unlogged_since_last_record", unseen)
		}
	}
	return ok
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
