package middleware

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cashews-go/cashews/detect"
)

// serveStored writes a stored response: a 304 when the request's conditions hold, one range of the
// body (206) for a Range request the response can satisfy, else the whole response. status is the
// Cache-Status parameters; a "hit" gets its remaining freshness as ttl.
func (h *handler) serveStored(w http.ResponseWriter, r *http.Request, resp *Response, key string, age time.Duration, status string) {
	rl := h.rulesOf(resp)
	hd := w.Header()
	for k, v := range resp.Header {
		hd[k] = v[:len(v):len(v)] // an append by a later writer copies, so the stored slice stays intact
	}
	ttl := rl.lifetime - age
	if status == "hit" {
		// The values are shared by the hits of this second (as the stored ones are by every hit).
		f := rl.hitFields(h, age)
		hd["Age"] = f.age
		if f.status != nil {
			hd["Cache-Status"] = f.status
		}
	} else {
		hd["Age"] = []string{strconv.FormatInt(int64(age/time.Second), 10)}
		if strings.HasPrefix(status, "hit") {
			status = "hit; ttl=" + strconv.FormatInt(int64(ttl/time.Second), 10) + status[len("hit"):]
		}
		h.status(hd, status)
	}
	if d := detect.FromContext(r.Context()); d != nil {
		d.Add(detect.Hit{Key: key, Strategy: "http", TTL: max(0, ttl), Backend: h.c.BackendName(key)})
	}
	if resp.Status == http.StatusOK && notModified(r, resp.Header) {
		delete(hd, "Content-Length")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := resp.Body
	code := resp.Status
	if code == http.StatusOK && r.Method == http.MethodGet && len(r.Header["Range"]) > 0 {
		switch first, last, ok := byteRange(r, resp); {
		case ok && first < 0:
			hd["Content-Range"] = []string{"bytes */" + strconv.Itoa(len(body))}
			delete(hd, "Content-Length")
			delete(hd, "Content-Type")
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		case ok:
			hd["Content-Range"] = []string{"bytes " + strconv.Itoa(first) + "-" + strconv.Itoa(last) + "/" + strconv.Itoa(len(body))}
			body, code = body[first:last+1], http.StatusPartialContent
		}
	}
	if bodyAllowed(code) && (len(body) != len(resp.Body) || len(hd["Content-Length"]) != 1) {
		hd["Content-Length"] = []string{strconv.Itoa(len(body))} // stored responses have their own
	}
	w.WriteHeader(code)
	if r.Method != http.MethodHead && bodyAllowed(code) {
		_, _ = w.Write(body)
	}
}

// byteRange evaluates the Range and If-Range of a GET against a stored complete response (RFC 9110
// 14.2, 13.1.5). ok is false when the whole response is to be served: no usable Range (not bytes,
// several ranges, bad syntax) or an If-Range that does not match. Otherwise first and last are the
// byte positions to serve, or first is -1 when the range cannot be satisfied (416).
func byteRange(r *http.Request, resp *Response) (first, last int, ok bool) {
	lines := r.Header["Range"]
	if len(lines) != 1 {
		return 0, 0, false
	}
	unit, spec, found := strings.Cut(strings.TrimSpace(lines[0]), "=")
	if !found || !strings.EqualFold(strings.TrimSpace(unit), "bytes") || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	if ir := r.Header["If-Range"]; len(ir) > 0 && !ifRangeMatches(ir, resp.Header) {
		return 0, 0, false
	}
	size := len(resp.Body)
	a, b, found := strings.Cut(strings.TrimSpace(spec), "-")
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if !found || (a == "" && b == "") || (a != "" && !isDigits(a)) || (b != "" && !isDigits(b)) {
		return 0, 0, false
	}
	if a == "" { // suffix: the last b bytes
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil {
			n = math.MaxInt64 // more digits than int64: the whole body
		}
		if n == 0 || size == 0 {
			return -1, 0, true
		}
		return size - int(min(n, int64(size))), size - 1, true
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start >= int64(size) {
		return -1, 0, true
	}
	end := int64(size - 1)
	if b != "" {
		e, err := strconv.ParseInt(b, 10, 64)
		if err != nil {
			e = end
		}
		if e < start {
			return 0, 0, false // invalid: ignored
		}
		end = min(e, end)
	}
	return int(start), int(end), true
}

// ifRangeMatches evaluates If-Range against the stored response's validators: a strong entity-tag
// equal to the stored strong ETag, or an HTTP-date equal to a strong Last-Modified (one at least a
// second before Date).
func ifRangeMatches(lines []string, stored http.Header) bool {
	if len(lines) != 1 {
		return false
	}
	v := strings.TrimSpace(lines[0])
	if strings.HasPrefix(v, `"`) || strings.HasPrefix(v, "W/") {
		etag := stored.Get("ETag")
		return !strings.HasPrefix(v, "W/") && !strings.HasPrefix(etag, "W/") && etag == v
	}
	t, ok := parseHTTPDate(v)
	if !ok {
		return false
	}
	lm, ok := parseHTTPDate(stored.Get("Last-Modified"))
	if !ok || !lm.Equal(t) {
		return false
	}
	d, ok := parseHTTPDate(stored.Get("Date"))
	return ok && d.Sub(lm) >= time.Second
}

func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified && status >= 200
}

// status sets the Cache-Status field.
func (h *handler) status(hd http.Header, params string) {
	if h.cfg.statusName != "" {
		hd["Cache-Status"] = []string{h.cfg.statusName + "; " + params}
	}
}

// notModified evaluates If-None-Match and If-Modified-Since of r against a response header (RFC 9110
// 13.1.2, 13.1.3).
func notModified(r *http.Request, hd http.Header) bool {
	if inm := r.Header["If-None-Match"]; len(inm) > 0 {
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
	ims := r.Header["If-Modified-Since"]
	if len(ims) == 0 {
		return false
	}
	lm := hd.Get("Last-Modified")
	if lm == "" {
		lm = hd.Get("Date") // the response was current then (RFC 9110 13.1.3)
	}
	t, ok := parseHTTPDate(ims[0])
	if !ok {
		return false
	}
	m, ok := parseHTTPDate(lm)
	return ok && !m.After(t)
}
