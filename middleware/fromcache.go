package middleware

import (
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/detect"
)

// FromCacheHeaders returns a middleware that tells the client what in a response came from cache.
// It puts a detector (package detect) in the request's context; when anything the handler used was
// served from cache by the time the response header is written, the response carries:
//
//	X-From-Cache                     the key, one field line per hit
//	X-From-Cache-Expire-In-Seconds   the smallest remaining TTL of the hits, rounded up
//	                                 (left out when no hit knows its TTL)
//	X-From-Cache-Exc                 the error a failover covered, one line per covered error
//
// The fields are set just before the first byte of the header goes out (on WriteHeader, the first
// Write or Flush, or when the handler returns without writing), so hits recorded after that do not
// show. The writer handed to the handler implements Flush and Unwrap, so streaming and
// http.ResponseController keep working. c is the Cache whose hits are reported; hits of other Caches
// in the same request show as well.
func FromCacheHeaders(c *cashews.Cache) func(http.Handler) http.Handler {
	_ = c // every Cache records into the same detector
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, d := detect.New(r.Context())
			fw := &fromCacheWriter{ResponseWriter: w, d: d}
			next.ServeHTTP(fw, r.WithContext(ctx))
			fw.setHeaders()
		})
	}
}

type fromCacheWriter struct {
	http.ResponseWriter
	d    *detect.Detector
	done bool
}

// setHeaders adds the X-From-Cache fields once.
func (w *fromCacheWriter) setHeaders() {
	if w.done {
		return
	}
	w.done = true
	hits := w.d.Hits()
	if len(hits) == 0 {
		return
	}
	h := w.ResponseWriter.Header()
	minTTL := int64(-1)
	for _, hit := range hits {
		h.Add("X-From-Cache", hit.Key)
		if hit.TTL > 0 {
			s := int64(math.Ceil(hit.TTL.Seconds()))
			if minTTL < 0 || s < minTTL {
				minTTL = s
			}
		}
		if hit.Err != nil {
			h.Add("X-From-Cache-Exc", oneLine(hit.Err.Error()))
		}
	}
	if minTTL >= 0 {
		h.Set("X-From-Cache-Expire-In-Seconds", strconv.FormatInt(minTTL, 10))
	}
}

// oneLine makes s a valid field value.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return ' '
		}
		return r
	}, s)
}

func (w *fromCacheWriter) WriteHeader(code int) {
	if code < 100 || code >= 200 || code == http.StatusSwitchingProtocols {
		w.setHeaders()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *fromCacheWriter) Write(p []byte) (int, error) {
	w.setHeaders()
	return w.ResponseWriter.Write(p)
}

// Flush sends the header (with the X-From-Cache fields) and what was written so far.
func (w *fromCacheWriter) Flush() {
	w.setHeaders()
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap returns the client's ResponseWriter, for http.ResponseController.
func (w *fromCacheWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
