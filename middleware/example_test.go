package middleware_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/middleware"
)

func ExampleCache() {
	c := cashews.New()
	defer c.Close()
	if err := c.Setup("mem://"); err != nil {
		panic(err)
	}
	cache, err := middleware.Cache(c, middleware.DefaultTTL(time.Minute))
	if err != nil {
		panic(err)
	}
	calls := 0
	news := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Cache-Control", "public, max-age=60")
		fmt.Fprintf(w, "news #%d", calls)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /news", cache(news))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for range 2 {
		resp, err := http.Get(srv.URL + "/news")
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		status, _, _ := strings.Cut(resp.Header.Get("Cache-Status"), "; ttl=")
		fmt.Printf("%s | %s\n", body, status)
	}
	// Output:
	// news #1 | cashews; fwd=uri-miss; stored
	// news #1 | cashews; hit
}

func ExampleFromCacheHeaders() {
	c := cashews.New()
	defer c.Close()
	if err := c.Setup("mem://"); err != nil {
		panic(err)
	}
	getUser := cashews.MustWrap(c, func(ctx context.Context, id int) (string, error) {
		return fmt.Sprintf("user %d", id), nil
	}, cashews.TTL(time.Hour), cashews.Key("user:{.}"))

	h := middleware.FromCacheHeaders(c)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, err := getUser(r.Context(), 1)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, name)
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()

	for range 2 {
		resp, err := http.Get(srv.URL)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Printf("X-From-Cache: %q\n", resp.Header.Get("X-From-Cache"))
	}
	// Output:
	// X-From-Cache: ""
	// X-From-Cache: "user:1"
}

func ExampleCacheControl() {
	cc, err := middleware.CacheControl("public, max-age=300")
	if err != nil {
		panic(err)
	}
	h := cc(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	fmt.Println(rec.Header().Get("Cache-Control"))

	_, err = middleware.CacheControl("max-age=soon")
	fmt.Println(err)
	// Output:
	// public, max-age=300
	// cashews/middleware: bad configuration: CacheControl("max-age=soon"): max-age wants seconds, got "soon"
}
