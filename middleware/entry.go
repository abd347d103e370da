package middleware

import (
	"net/http"
	"sync/atomic"
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

	// rules caches what the header says for one handler's configuration, so that a response the
	// memory backend hands out again is parsed once. Encoding leaves it out.
	rules atomic.Pointer[rules]
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
// final status, not 206 (ranges are served from complete responses only) and not 304.
func understoodStatus(code int) bool {
	return code >= 200 && code <= 599 && code != http.StatusPartialContent && code != http.StatusNotModified
}

// knownStatus reports whether the status code is one the cache knows the meaning of, as the
// must-understand directive requires.
func knownStatus(code int) bool {
	return understoodStatus(code) && http.StatusText(code) != ""
}
