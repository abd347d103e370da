package middleware

import (
	"context"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cashews-go/cashews"
)

// fetch is one request on its way to the handler.
type fetch struct {
	r           *http.Request
	base        string // the URL's key: flights and pass marks go by it
	look        lookup
	stored      *Response  // a stored response to revalidate, or to cover an error with
	reqCC       directives // the request's directives
	flight      *flight    // the flight this request leads, or nil
	collapsible bool       // the request could collapse with others: its outcome updates the pass marks
	background  bool       // a stale-while-revalidate refresh: nothing goes to a client
}

// forward sends the request to the handler. With a stored response that has validators the request is
// made conditional, and a 304 refreshes the stored response; a 5xx is covered by a stored response
// that allows stale-if-error. The response goes to the client as the handler writes it; a copy is
// kept (up to MaxBodySize) when it will be stored, which followers of the flight read as it grows.
func (h *handler) forward(w http.ResponseWriter, f *fetch) {
	r := f.r
	reqTime := h.now()
	if f.stored != nil {
		h.stats.Revalidation()
	} else {
		h.stats.Miss()
	}
	revalidating := f.stored != nil && h.rulesOf(f.stored).validator
	fl := f.flight
	if fl == nil {
		fl = newFlight(f.base, h.cfg.maxBody) // private: only this request reads it
	}
	defer func() {
		// On every way out, a panic included: end the body, release the followers, and let later
		// requests lead.
		fl.finish(false)
		fl.publish(outcomeLookup)
		h.flights.remove(fl)
	}()

	ctx := context.WithValue(r.Context(), activeKey{}, true)
	if f.flight != nil && !f.background {
		// The handler's context is detached from the leader's client while followers read the
		// response; leaderLeft cancels it when nobody does.
		dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		defer cancel()
		if deadline, ok := r.Context().Deadline(); ok {
			var cancelDeadline context.CancelFunc
			dctx, cancelDeadline = context.WithDeadline(dctx, deadline)
			defer cancelDeadline()
		}
		fl.setCancel(cancel)
		stop := context.AfterFunc(r.Context(), fl.leaderLeft)
		defer stop()
		ctx = dctx
	}
	out := r.WithContext(ctx)
	if revalidating || h.cfg.surrogate != "" || r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Modified-Since") != "" {
		// The cache answers the client's conditions from the full response, so that it can store it.
		out = r.Clone(ctx)
		out.Header.Del("If-None-Match")
		out.Header.Del("If-Modified-Since")
		if h.cfg.surrogate != "" {
			out.Header.Add("Surrogate-Capability", h.cfg.surrogate+`="Surrogate/1.0"`)
		}
		if revalidating {
			out.Header.Del("Range") // a range is served from the refreshed response
			out.Header.Del("If-Range")
			if etag := f.stored.Header.Get("ETag"); etag != "" {
				out.Header.Set("If-None-Match", etag)
			}
			if lm := f.stored.Header.Get("Last-Modified"); lm != "" {
				out.Header.Set("If-Modified-Since", lm)
			}
		}
	}

	var (
		respTime  time.Time
		resp      *Response // the response to store
		header304 http.Header
		coverErr  bool
	)
	rec := &recorder{client: w, h: make(http.Header), fl: fl}
	rec.onOverflow = func() {
		h.flights.remove(fl)
		if f.collapsible {
			h.flights.setPass(f.base, h.now().Add(passTime))
		}
	}
	rec.onHeader = func(status int) (toClient, capture bool) {
		respTime = h.now()
		if revalidating && status == http.StatusNotModified {
			header304 = rec.h.Clone()
			return false, false
		}
		if f.stored != nil && isServerError(status) && h.staleIfError(f.stored, f.reqCC, respTime) {
			coverErr = true
			return false, false
		}
		rl := h.cfg.rules(status, rec.h, reqTime, respTime)
		miss := f.look.miss
		switch {
		case h.cfg.allowRefresh && f.reqCC.has("no-cache"):
			miss = "request"
		case f.stored != nil:
			miss = "stale"
		case r.Method == http.MethodHead || miss == "":
			miss = "miss"
		}
		if h.storable(r, status, rec.h, rl, f.reqCC) {
			resp = &Response{Status: status, Header: rec.h.Clone(), RequestTime: reqTime, ResponseTime: respTime}
			prepare(resp, rl)
			vary, _ := varyNames(resp.Header)
			fl.publishStream(resp, vary, variantOf(r.Header, vary), miss)
			capture = true
		} else {
			fl.publish(outcomePass)
			h.flights.remove(fl)
			if f.collapsible {
				h.flights.setPass(f.base, respTime.Add(passTime))
			}
		}
		if f.background {
			return false, capture
		}
		ch := w.Header()
		for k, v := range rec.h {
			ch[k] = v
		}
		fwd := miss
		if revalidating {
			fwd += "; fwd-status=" + strconv.Itoa(status)
		}
		if f.look.skip {
			fwd += "; detail=backend-unavailable"
		}
		if capture {
			fwd += "; stored"
		}
		h.status(ch, "fwd="+fwd)
		if status == http.StatusOK && notModified(r, rec.h) {
			ch.Del("Content-Length")
			w.WriteHeader(http.StatusNotModified)
			return false, capture
		}
		w.WriteHeader(status)
		return r.Method != http.MethodHead, capture
	}
	h.next.ServeHTTP(rec, out)
	rec.finish()
	body, whole := fl.finish(true)

	sctx := context.WithoutCancel(r.Context())
	switch {
	case header304 != nil:
		fresh := merge(f.stored, header304, reqTime, respTime)
		prepare(fresh, h.cfg.rules(fresh.Status, fresh.Header, reqTime, respTime))
		rl := h.rulesOf(fresh)
		if h.storable(r, fresh.Status, fresh.Header, rl, f.reqCC) {
			h.store(sctx, r, f.look, fresh)
		}
		if !f.background {
			h.serveStored(w, r, fresh, f.look.key, rl.age(fresh.ResponseTime, respTime), "fwd=stale; fwd-status=304")
		}
	case coverErr:
		if !f.background {
			h.stats.Stale()
			h.serveStored(w, r, f.stored, f.look.key, h.rulesOf(f.stored).age(f.stored.ResponseTime, respTime), "hit; detail=stale-if-error")
		}
	case resp != nil && whole:
		// A new Response: followers may still read the header of the one they were given.
		stored := &Response{Status: resp.Status, Header: resp.Header.Clone(), Body: body, RequestTime: reqTime, ResponseTime: respTime}
		if bodyAllowed(stored.Status) {
			stored.Header["Content-Length"] = []string{strconv.Itoa(len(body))}
		}
		h.store(sctx, r, f.look, stored)
		if f.collapsible {
			h.flights.clearPass(f.base)
		}
	}
}

func isServerError(status int) bool {
	switch status {
	case 500, 502, 503, 504:
		return true
	}
	return false
}

// staleIfError reports whether stored may cover an error at now (RFC 5861 4, and StaleIfError).
func (h *handler) staleIfError(stored *Response, reqCC directives, now time.Time) bool {
	rl := h.rulesOf(stored)
	if rl.mustRevalidate || rl.noCache {
		return false
	}
	staleness := rl.age(stored.ResponseTime, now) - rl.lifetime
	if rl.hasSIE {
		if staleness <= rl.sie {
			return true
		}
	} else if h.cfg.staleIfError > 0 && staleness <= h.cfg.staleIfError {
		return true
	}
	if sie, ok := reqCC.seconds("stale-if-error"); ok && staleness <= sie {
		return true
	}
	return false
}

// prepare finishes a response before it is stored: it gets a Date when it has none (RFC 9110
// 6.6.1), and loses the fields that no-cache="..." and private="..." name (those of Cache-Control and
// of the directives that rule it).
func prepare(resp *Response, rl *rules) {
	if resp.Header.Get("Date") == "" {
		resp.Header.Set("Date", resp.ResponseTime.UTC().Format(http.TimeFormat))
	}
	cc := parseDirectives(resp.Header)
	for _, d := range []directives{cc, rl.cc} {
		for _, name := range []string{"no-cache", "private"} {
			for _, f := range d.fields(name) {
				resp.Header.Del(f)
			}
		}
	}
}

// notUpdated lists the fields a 304 does not update in the stored response (RFC 9111 3.2).
var notUpdated = map[string]bool{"Content-Length": true, "Etag": true, "Content-Md5": true, "Transfer-Encoding": true, "Connection": true,
	"Keep-Alive": true, "Content-Encoding": true, "Content-Range": true, "Trailer": true, "Upgrade": true}

// merge returns stored updated by the header of a 304 (RFC 9111 4.3.4). stored is not modified.
func merge(stored *Response, h http.Header, reqTime, respTime time.Time) *Response {
	fresh := &Response{Status: stored.Status, Header: stored.Header.Clone(), Body: stored.Body, RequestTime: reqTime, ResponseTime: respTime}
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
	return fresh
}

// storable reports whether a response to r with status and header hd (whose rules are rl) may be
// stored (RFC 9111 3).
func (h *handler) storable(r *http.Request, status int, hd http.Header, rl *rules, reqCC directives) bool {
	if r.Method != http.MethodGet || !understoodStatus(status) || reqCC.has("no-store") {
		return false
	}
	cc := rl.cc
	if cc.has("must-understand") {
		// must-understand: store only status codes the cache knows, and then ignore no-store.
		if !knownStatus(status) {
			return false
		}
	} else if cc.has("no-store") {
		return false
	}
	if cc.whole("private") {
		return false
	}
	if len(r.Header["Authorization"]) > 0 && !rl.sharedForAuth {
		return false
	}
	if len(hd["Set-Cookie"]) > 0 && !cc.names("no-cache", "Set-Cookie") && !cc.names("private", "Set-Cookie") &&
		!(h.cfg.cookies && r.Header.Get("Cookie") != "") {
		return false
	}
	if _, star := varyNames(hd); star {
		return false
	}
	if !rl.explicit && !rl.noCache && rl.lifetime == 0 {
		return false
	}
	if rl.lifetime <= 0 && !rl.validator {
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

// store saves resp for the request r, whose lookup was look. A backend error is logged: the
// response has reached the client anyway.
func (h *handler) store(ctx context.Context, r *http.Request, look lookup, resp *Response) {
	now := h.now()
	if look.skip || !h.gate.open(now) || h.pending.any.Load() {
		return
	}
	resp.StoredAt = now
	rl := h.rulesOf(resp)
	keep := h.cfg.keepStale
	if rl.hasSWR {
		keep = max(keep, rl.swr)
	}
	if rl.hasSIE {
		keep = max(keep, rl.sie)
	} else {
		keep = max(keep, h.cfg.staleIfError)
	}
	ttl := max(rl.lifetime-rl.age(resp.ResponseTime, now)+keep, time.Second)
	var opts []cashews.SetOption
	if tags := h.tagsOf(r); len(tags) > 0 {
		opts = append(opts, cashews.Tags(tags...))
	}
	base := h.baseKey(r)
	vary, _ := varyNames(resp.Header)
	if len(vary) == 0 {
		if _, err := h.c.Set(ctx, base, Entry{Response: resp}, ttl, opts...); err != nil {
			h.backendError(ctx, "store", base, err)
		} else {
			h.gate.ok()
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
		h.backendError(ctx, "store", vk, err)
		return
	}
	if _, err := h.c.Set(ctx, base, Entry{Vary: vary, Variant: variant}, max(ttl, 24*time.Hour), opts...); err != nil {
		h.backendError(ctx, "store", base, err)
	}
}

func (h *handler) tagsOf(r *http.Request) []string {
	if h.cfg.tagsFunc == nil {
		return h.cfg.tags
	}
	return append(slices.Clip(h.cfg.tags), h.cfg.tagsFunc(r)...)
}
