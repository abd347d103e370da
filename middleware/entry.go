package middleware

import (
	"net/http"
	"time"
)

// Response is a stored response. Its fields are exported so that byte backends (disk, Redis) can
// encode it with their codec (json or gob); Header keeps every field line, such as several
// Set-Cookie lines. Never modify a Response read from the cache: the memory backend shares it.
type Response struct {
	Status       int         // the status code
	Header       http.Header // the header fields, as the handler wrote them
	Body         []byte      // the whole body
	RequestTime  time.Time   // when the request that produced the response (or its revalidation) started
	ResponseTime time.Time   // when the handler wrote the response header
	StoredAt     time.Time   // when the response was stored
}

// Entry is what [Cache] stores. At a URL's key it holds either the Response (when the response does
// not vary) or the Vary field names and the id of the current set of variants, each stored at
// key + "#" + Variant + a hash of the request's values of those fields.
type Entry struct {
	Vary     []string  `json:",omitempty"` // canonical field names the response varies on
	Variant  string    `json:",omitempty"` // the id of the current variants of this URL
	Response *Response `json:",omitempty"` // the stored response, when Vary is empty
}

// heuristicStatus lists the status codes that are heuristically cacheable (RFC 9110 15.1), less 206,
// since partial content is never stored.
var heuristicStatus = map[int]bool{200: true, 203: true, 204: true, 300: true, 301: true, 308: true,
	404: true, 405: true, 410: true, 414: true, 501: true}

// understoodStatus reports whether the cache may store a response with this status code at all: a
// final status, not 206 (ranges are not handled) and not 304.
func understoodStatus(code int) bool {
	return code >= 200 && code <= 599 && code != http.StatusPartialContent && code != http.StatusNotModified
}

// knownStatus reports whether the status code is one the cache knows the meaning of, as the
// must-understand directive requires.
func knownStatus(code int) bool {
	return understoodStatus(code) && http.StatusText(code) != ""
}

// fallback is how a cache gives a lifetime to a response that does not state one: a fraction of the
// time since Last-Modified (see Heuristic), else a default TTL.
type fallback struct {
	ttl      time.Duration
	fraction float64
}

// freshness returns the freshness lifetime of a response with header h received at responseTime, for
// a shared cache (RFC 9111 4.2.1): s-maxage, max-age, Expires - Date. explicit is false when the
// response says nothing; then fb applies to heuristically cacheable status codes (and to any status
// when the response is public).
func freshness(status int, h http.Header, cc directives, responseTime time.Time, fb fallback) (lifetime time.Duration, explicit bool) {
	if d, ok := cc.seconds("s-maxage"); ok {
		return d, true
	}
	if d, ok := cc.seconds("max-age"); ok {
		return d, true
	}
	if exp := h.Values("Expires"); len(exp) > 0 {
		t, err := http.ParseTime(exp[0])
		if err != nil {
			return 0, true // an invalid Expires means already expired
		}
		return max(0, t.Sub(dateOf(h, responseTime))), true
	}
	if heuristicStatus[status] || cc.has("public") {
		if fb.fraction > 0 {
			if lm, err := http.ParseTime(h.Get("Last-Modified")); err == nil {
				if d := dateOf(h, responseTime).Sub(lm); d > 0 {
					return time.Duration(float64(d) * fb.fraction).Truncate(time.Second), false
				}
			}
		}
		return fb.ttl, false
	}
	return 0, false
}

// dateOf returns the Date of h, or fallback when it is missing or invalid.
func dateOf(h http.Header, fallback time.Time) time.Time {
	if v := h.Get("Date"); v != "" {
		if t, err := http.ParseTime(v); err == nil {
			return t
		}
	}
	return fallback
}

// age returns the current age of a stored response at now (RFC 9111 4.2.3).
func (r *Response) age(now time.Time) time.Duration {
	// Date has a resolution of one second, and servers (Node, nginx) refresh the Date they send once a
	// second: compare in whole seconds and forgive one, or a fresh response would look up to two
	// seconds old when it arrives. Clock skew beyond that still counts, as RFC 9111 4.2.3 wants.
	apparent := max(0, r.ResponseTime.Truncate(time.Second).Sub(dateOf(r.Header, r.ResponseTime))-time.Second)
	var ageValue time.Duration
	if v := r.Header.Values("Age"); len(v) > 0 {
		if len(v) > 1 || !isDigits(v[0]) {
			return invalidAge // an Age that does not parse: treat the response as stale
		}
		ageValue = deltaSeconds(v[0])
	}
	corrected := ageValue + max(0, r.ResponseTime.Sub(r.RequestTime))
	return max(apparent, corrected) + max(0, now.Sub(r.ResponseTime))
}

// invalidAge is the age of a response whose Age field does not parse: older than any lifetime.
const invalidAge = 1 << 62

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// hasValidator reports whether the response can be revalidated.
func (r *Response) hasValidator() bool {
	return r.Header.Get("ETag") != "" || r.Header.Get("Last-Modified") != ""
}
