package middleware

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cashews-go/cashews"
)

var benchBody = strings.Repeat("x", 1024)

func benchHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte(benchBody))
	})
}

// discardWriter is a ResponseWriter that keeps nothing but a header map it reuses.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

func runBench(b *testing.B, h http.Handler) {
	req := httptest.NewRequest(http.MethodGet, "http://example.com/bench?id=1", nil)
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, req)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
}

// BenchmarkCachedHit serves a stored 1 KiB response through the caching middleware (memory backend).
func BenchmarkCachedHit(b *testing.B) {
	c := cashews.New()
	defer c.Close()
	if err := c.Setup("mem://"); err != nil {
		b.Fatal(err)
	}
	mw, err := Cache(c)
	if err != nil {
		b.Fatal(err)
	}
	runBench(b, mw(benchHandler()))
}

// BenchmarkBareHandler is the same handler without the middleware.
func BenchmarkBareHandler(b *testing.B) {
	runBench(b, benchHandler())
}
