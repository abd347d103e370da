package middleware

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends/backendtest"
	_ "github.com/cashews-go/cashews/backends/disk"
)

// backends lists the setup URLs the storage tests run on: Go values and encoded bytes.
func backendURLs(t *testing.T) map[string]string {
	return map[string]string{
		"mem":  "mem://",
		"disk": "disk://" + t.TempDir() + "?shards=2",
	}
}

// newCache returns a Cache on url with a fake clock, closed at the end of the test.
func newCache(t *testing.T, url string) (*cashews.Cache, *backendtest.Clock) {
	t.Helper()
	clk := backendtest.NewClock()
	c := cashews.New(cashews.WithClock(clk))
	if err := c.Setup(url); err != nil {
		t.Fatalf("Setup(%q): %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	return c, clk
}

// origin is a handler that counts its calls and answers with what the test sets.
type origin struct {
	calls atomic.Int32
	serve func(w http.ResponseWriter, r *http.Request, n int)
}

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(o.calls.Add(1))
	o.serve(w, r, n)
}

// headersHandler answers with the given header lines and the body "v<call number>".
func headersHandler(kv ...string) *origin {
	return &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
		for i := 0; i+1 < len(kv); i += 2 {
			w.Header().Add(kv[i], kv[i+1])
		}
		io.WriteString(w, "v"+itoa(n))
	}}
}

func itoa(n int) string {
	return string(rune('0'+n/10%10)) + string(rune('0'+n%10))
}

// serve starts a real server with the caching middleware in front of h.
func serve(t *testing.T, c *cashews.Cache, h http.Handler, opts ...Option) *httptest.Server {
	t.Helper()
	mw, err := Cache(c, opts...)
	if err != nil {
		t.Fatalf("Cache: %v", err)
	}
	srv := httptest.NewServer(mw(h))
	t.Cleanup(srv.Close)
	return srv
}

type result struct {
	status int
	header http.Header
	body   string
}

// do sends a request with header lines kv and returns the response.
func do(t *testing.T, method, url string, kv ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Add(kv[i], kv[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return result{resp.StatusCode, resp.Header, string(b)}
}

func get(t *testing.T, url string, kv ...string) result {
	t.Helper()
	return do(t, http.MethodGet, url, kv...)
}

// want checks a response's status and body.
func (r result) want(t *testing.T, status int, body string) {
	t.Helper()
	if r.status != status || r.body != body {
		t.Fatalf("got %d %q, want %d %q (Cache-Status %q)", r.status, r.body, status, body, r.header.Get("Cache-Status"))
	}
}

func wantCalls(t *testing.T, o *origin, want int) {
	t.Helper()
	if got := int(o.calls.Load()); got != want {
		t.Fatalf("handler ran %d times, want %d", got, want)
	}
}

func newServer(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func c0(t *testing.T) *cashews.Cache {
	c, _ := newCache(t, "mem://")
	return c
}
