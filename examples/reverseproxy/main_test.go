package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
)

// start runs the example's handler with its default flags in front of origin.
func start(t *testing.T, origin http.Handler, edit func(*options)) *httptest.Server {
	t.Helper()
	o := options{cacheURL: defaultCacheURL, maxBody: 1 << 20, staleIfError: time.Minute}
	if edit != nil {
		edit(&o)
	}
	up := httptest.NewServer(origin)
	t.Cleanup(up.Close)
	target, _ := url.Parse(up.URL)
	c := cashews.New()
	t.Cleanup(func() { c.Close() })
	h, err := newHandler(c, target, slog.New(slog.DiscardHandler), o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string, kv ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// A client's X-Forwarded-Host is not part of the key: it must not reach an origin that reflects it.
func TestClientForwardedHostIsNotForwarded(t *testing.T) {
	var calls atomic.Int32
	srv := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "host="+r.Header.Get("X-Forwarded-Host")+" for="+r.Header.Get("X-Forwarded-For"))
	}), nil)
	u, _ := url.Parse(srv.URL)
	_, body := get(t, srv.URL+"/page", "X-Forwarded-Host", "evil.example", "X-Forwarded-For", "6.6.6.6")
	if want := "host=" + u.Host + " for=127.0.0.1"; body != want {
		t.Fatalf("origin saw %q, want %q (set by the proxy, not the client)", body, want)
	}
	if _, again := get(t, srv.URL+"/page"); again != body || calls.Load() != 1 {
		t.Fatalf("second GET: %q after %d origin calls, want the stored page", again, calls.Load())
	}
}

// By default a client cannot force a refetch of a fresh response; -client-refresh allows it.
func TestClientRefreshIsOptIn(t *testing.T) {
	for _, allow := range []bool{false, true} {
		t.Run(strconv.FormatBool(allow), func(t *testing.T) {
			var calls atomic.Int32
			srv := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := calls.Add(1)
				w.Header().Set("Cache-Control", "max-age=60")
				io.WriteString(w, strconv.Itoa(int(n)))
			}), func(o *options) { o.clientRefresh = allow })
			get(t, srv.URL+"/r")
			_, body := get(t, srv.URL+"/r", "Cache-Control", "no-cache")
			want := "1"
			if allow {
				want = "2"
			}
			if body != want {
				t.Fatalf("no-cache request got %q, want %q", body, want)
			}
		})
	}
}

// When the origin goes away, a stored response that went stale is served instead of the 502.
func TestStaleWhenOriginFails(t *testing.T) {
	var fail atomic.Bool
	srv := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			panic(http.ErrAbortHandler) // drops the connection
		}
		w.Header().Set("Cache-Control", "max-age=0")
		w.Header().Set("ETag", `"v1"`)
		io.WriteString(w, "stored")
	}), nil)
	get(t, srv.URL+"/s")
	fail.Store(true)
	resp, body := get(t, srv.URL+"/s")
	if resp.StatusCode != 200 || body != "stored" {
		t.Fatalf("origin down: %d %q, want the stale 200", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Cache-Status"); got == "" || resp.Header.Get("Age") == "" {
		t.Fatalf("Cache-Status %q, Age %q: want both", got, resp.Header.Get("Age"))
	}
}

// The default cache URL is bounded.
func TestDefaultCacheIsBounded(t *testing.T) {
	if got := defaultCacheURL; got != "mem://?max_bytes=64MiB" {
		t.Fatalf("default -cache = %q, want a bounded mem://", got)
	}
}
