package middleware

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// rules is what a response's header says to this cache: its directives and what follows from them.
// It depends on the response and on the handler's configuration only, so a stored response computes
// it once (Response.rules).
type rules struct {
	cfg        *config       // the configuration it was computed for
	cc         directives    // the directives that rule the response for this cache
	targeted   bool          // a targeted field (CDN-Cache-Control, ...) ruled: Cache-Control and Expires are ignored
	lifetime   time.Duration // freshness lifetime (RFC 9111 4.2.1)
	explicit   bool          // the lifetime was stated, not a fallback
	initialAge time.Duration // the age when the response was received (RFC 9111 4.2.3 corrected_initial_age)

	noCache        bool // every use must be revalidated (unqualified no-cache)
	mustRevalidate bool // never served stale without revalidation
	sharedForAuth  bool // may answer a request with Authorization (RFC 9111 3.5)
	validator      bool // has an ETag or Last-Modified

	swr, sie       time.Duration // stale-while-revalidate, stale-if-error
	hasSWR, hasSIE bool

	hit atomic.Pointer[hitFields] // the Age and Cache-Status of a hit, for the last second served
}

// hitFields are the field values of a hit at one age, kept so that the hits of one second share
// them instead of formatting them again.
type hitFields struct {
	ageSec, ttlSec int64
	age, status    []string
}

// hitFields returns the Age and Cache-Status values of a plain hit at age.
func (r *rules) hitFields(h *handler, age time.Duration) *hitFields {
	ageSec, ttlSec := int64(age/time.Second), int64((r.lifetime-age)/time.Second)
	if f := r.hit.Load(); f != nil && f.ageSec == ageSec && f.ttlSec == ttlSec {
		return f
	}
	f := &hitFields{ageSec: ageSec, ttlSec: ttlSec, age: []string{strconv.FormatInt(ageSec, 10)}}
	if h.cfg.statusName != "" {
		f.status = []string{h.cfg.statusName + "; hit; ttl=" + strconv.FormatInt(ttlSec, 10)}
	}
	r.hit.Store(f)
	return f
}

// rulesOf returns the rules of a stored response, computed once per configuration.
func (h *handler) rulesOf(resp *Response) *rules {
	if r := resp.rules.Load(); r != nil && r.cfg == h.cfg {
		return r
	}
	r := h.cfg.rules(resp.Status, resp.Header, resp.RequestTime, resp.ResponseTime)
	resp.rules.Store(r)
	return r
}

// rules computes the rules of a response with status and header hd, requested at reqTime and
// received at respTime.
func (c *config) rules(status int, hd http.Header, reqTime, respTime time.Time) *rules {
	cc, targeted := c.responseCC(hd)
	date := dateOf(hd, respTime)
	r := &rules{cfg: c, cc: cc, targeted: targeted}
	r.lifetime, r.explicit = c.freshness(status, hd, cc, targeted, date)
	// Date has a resolution of one second, and servers (Node, nginx) refresh the Date they send once a
	// second: compare in whole seconds and forgive one, or a fresh response would look up to two
	// seconds old when it arrives. Clock skew beyond that still counts, as RFC 9111 4.2.3 wants.
	apparent := max(0, respTime.Truncate(time.Second).Sub(date)-time.Second)
	corrected := ageValue(hd) + max(0, respTime.Sub(reqTime))
	r.initialAge = max(apparent, corrected)
	r.noCache = cc.whole("no-cache")
	r.mustRevalidate = cc.has("must-revalidate") || cc.has("proxy-revalidate") || cc.has("s-maxage")
	r.sharedForAuth = cc.has("public") || cc.has("s-maxage") || cc.has("must-revalidate")
	r.validator = hd.Get("ETag") != "" || hd.Get("Last-Modified") != ""
	r.swr, r.hasSWR = cc.seconds("stale-while-revalidate")
	r.sie, r.hasSIE = cc.seconds("stale-if-error")
	return r
}

// age returns the current age of a response received at respTime (RFC 9111 4.2.3).
func (r *rules) age(respTime, now time.Time) time.Duration {
	return r.initialAge + max(0, now.Sub(respTime))
}

// responseCC returns the directives that rule a response for this cache: those of the first
// targeted field of the configuration that is present and valid (RFC 9213), else Cache-Control.
// targeted reports the former, in which case Expires does not count either.
func (c *config) responseCC(hd http.Header) (cc directives, targeted bool) {
	for _, name := range c.targets {
		lines := hd[name]
		if len(lines) == 0 {
			continue
		}
		if name == "Surrogate-Control" {
			if d := parseSurrogate(lines, c.surrogate); d != nil {
				return d, true
			}
			continue
		}
		if d, ok := parseTargeted(lines); ok {
			return d, true
		}
	}
	return parseDirectives(hd), false
}

// freshness returns the freshness lifetime of a response for a shared cache (RFC 9111 4.2.1):
// s-maxage, max-age, Expires - Date. explicit is false when the response says nothing; then the
// configured fallback applies (see fallbackApplies). date is the response's Date (or the time it
// was received).
func (c *config) freshness(status int, hd http.Header, cc directives, targeted bool, date time.Time) (lifetime time.Duration, explicit bool) {
	if d, ok := cc.seconds("s-maxage"); ok {
		return d, true
	}
	if d, ok := cc.seconds("max-age"); ok {
		return d, true
	}
	if exp := hd["Expires"]; len(exp) > 0 && !targeted {
		t, ok := parseHTTPDate(exp[0])
		if !ok || len(exp) > 1 {
			return 0, true // an invalid Expires, or several, means already expired (RFC 9111 5.3)
		}
		return max(0, t.Sub(date)), true
	}
	if c.heuristic > 0 && (heuristicStatus[status] || cc.has("public")) {
		if lm, ok := parseHTTPDate(hd.Get("Last-Modified")); ok {
			if d := date.Sub(lm); d > 0 {
				return time.Duration(float64(d) * c.heuristic).Truncate(time.Second), false
			}
		}
	}
	if c.defaultTTL > 0 && c.fallbackApplies(status, cc) {
		return c.defaultTTL, false
	}
	return 0, false
}

// fallbackApplies reports whether DefaultTTL applies to a response that says nothing about its
// freshness: a heuristically cacheable (or public) 2xx or 3xx, or a status the route named with
// DefaultTTLStatuses. An error status an attacker can provoke (404, 405, 501, ...) is never stored
// for DefaultTTL unless the route asks for it.
func (c *config) fallbackApplies(status int, cc directives) bool {
	if c.ttlStatuses[status] {
		return true
	}
	return status >= 200 && status < 400 && (heuristicStatus[status] || cc.has("public"))
}

// dateOf returns the Date of h, or fallback when it is missing or invalid.
func dateOf(h http.Header, fallback time.Time) time.Time {
	if v := h["Date"]; len(v) > 0 {
		if t, ok := parseHTTPDate(v[0]); ok {
			return t
		}
	}
	return fallback
}

// ageValue returns the Age of a response (RFC 9111 5.1): the first member of the first line; a
// value that is not a non-negative integer is ignored (0); a huge one is capped at 2^31 s.
func ageValue(h http.Header) time.Duration {
	lines := h["Age"]
	if len(lines) == 0 {
		return 0
	}
	first, _, _ := strings.Cut(lines[0], ",")
	first = strings.Trim(first, " \t")
	if !isDigits(first) {
		return 0
	}
	return deltaSeconds(first)
}
