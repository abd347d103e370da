package middleware

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cashews-go/cashews"
)

// lookup is what the cache holds for a request.
type lookup struct {
	resp  *Response // the stored response, or nil
	key   string    // where resp is (or would be) stored
	index *Entry    // the URL's Vary index, when the response varies
	miss  string    // the Cache-Status fwd value of a miss
	skip  bool      // the backend is failing: neither read nor written
}

// backendError logs a failed read or write, once per pause of the gate when the backend cannot be
// reached, and every time for other errors (a value that does not decode).
func (h *handler) backendError(ctx context.Context, op, key string, err error) {
	closed := h.gate.fail(ctx, h.now(), err)
	if closed || !unavailable(err) {
		h.cfg.logger.Warn("cashews/middleware: "+op+" failed; requests go to the handler", "key", key, "err", err)
	}
}

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

// find reads what the cache holds for r at base, at now. A backend error is logged and read as a miss: the
// request goes to the handler, as it would without a cache.
func (h *handler) find(ctx context.Context, r *http.Request, base string, now time.Time) lookup {
	if !h.gate.open(now) || !h.settled(ctx) {
		return lookup{key: base, miss: "uri-miss", skip: true}
	}
	e, found, err := cashews.Get[Entry](ctx, h.c, base)
	if err != nil {
		h.backendError(ctx, "read", base, err)
	} else {
		h.gate.ok()
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
	index := new(Entry) // a copy, so that e itself stays off the heap on the hit path
	*index = e
	vk := variantKey(base, e.Variant, e.Vary, r.Header)
	v, found, err := cashews.Get[Entry](ctx, h.c, vk)
	if err != nil {
		h.backendError(ctx, "read", vk, err)
	}
	if !found || v.Response == nil {
		return lookup{key: vk, index: index, miss: "vary-miss"}
	}
	return lookup{resp: v.Response, key: vk, index: index}
}

// variantKey is the key of the variant of a URL selected by the request's values of the vary fields.
func variantKey(base, variant string, vary []string, reqHeader http.Header) string {
	hash := sha256.New()
	for _, name := range vary {
		hash.Write([]byte(name))
		if v, present := varyValue(reqHeader, name); present {
			hash.Write([]byte{1})
			hash.Write([]byte(v))
		}
		hash.Write([]byte{0})
	}
	return base + "#" + variant + ":" + hex.EncodeToString(hash.Sum(nil)[:16])
}

// varyValue is the normalised value of a request field that a response varies on.
func varyValue(reqHeader http.Header, name string) (string, bool) {
	values, present := reqHeader[name]
	if !present {
		return "", false
	}
	v := normalizeValues(values)
	if caseInsensitive[name] {
		v = strings.ToLower(v)
	}
	return v, true
}

// variantOf returns the request's normalised values of the fields a response varies on: two
// requests with the same one select the same variant.
func variantOf(reqHeader http.Header, vary []string) string {
	var b strings.Builder
	for _, name := range vary {
		if v, present := varyValue(reqHeader, name); present {
			b.WriteString(strconv.Quote(v))
		}
		b.WriteByte(0)
	}
	return b.String()
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
