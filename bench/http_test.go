package bench

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gregjones/httpcache"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/middleware"
)

// The HTTP workload: 1,024 URLs /item/N, each a 1 KiB JSON body with Cache-Control: public,
// max-age=3600, requested along a Zipf (s = 1.01, seed 19) trace; every URL is requested once
// before the timer starts, so every timed request should be a cache hit (the hit-ratio metric is
// the share of requests that did not reach the handler).
//
// In process, the handler chain is called directly with an httptest.ResponseRecorder (httpcache,
// a client-side RoundTripper, gets an in-process transport that calls the handler). Over loopback,
// a keep-alive client talks to an httptest server: ours is the middleware in the server; httpcache
// runs as a caching reverse proxy in front of the handler's server (a shared cache, as ours is) and,
// apart, as the client's own transport (a private cache: a hit makes no request at all).
const httpURLs = 1024

var (
	httpTrace = sync.OnceValue(func() []int {
		tr := NewTrace(19, 1<<16, httpURLs, 1.01, "")
		ids := make([]int, len(tr.Keys))
		for i, k := range tr.Keys {
			ids[i], _ = strconv.Atoi(k)
		}
		return ids
	})
	httpBodies = sync.OnceValue(func() [][]byte {
		b := make([][]byte, httpURLs)
		for i := range b {
			head := fmt.Sprintf(`{"id":%d,"name":"item %d","data":"`, i, i)
			b[i] = []byte(head + strings.Repeat("x", 1024-len(head)-2) + `"}`)
		}
		return b
	})
)

// origin is the application's handler; runs counts the requests that reached it.
type origin struct{ runs atomic.Int64 }

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.runs.Add(1)
	id, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/item/"))
	if err != nil || id < 0 || id >= httpURLs {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(httpBodies()[id])
}

func ourMiddleware(tb testing.TB, next http.Handler) http.Handler {
	c := cashews.New()
	tb.Cleanup(func() { c.Close() })
	if err := c.Setup("mem://?size=100000"); err != nil {
		tb.Fatal(err)
	}
	mw, err := middleware.Cache(c)
	if err != nil {
		tb.Fatal(err)
	}
	return mw(next)
}

// handlerTransport is an http.RoundTripper that serves requests with a handler, in process. It adds
// the Date header as net/http's server does (httpcache needs it to compute freshness).
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	resp := rec.Result()
	if resp.Header.Get("Date") == "" {
		resp.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	return resp, nil
}

// fetch is one GET of the i-th URL; it returns the body length.
type fetch func(i int) (int, error)

func BenchmarkHTTP(b *testing.B) {
	ids := httpTrace()
	mask := len(ids) - 1
	reqs := make([]*http.Request, httpURLs)
	for i := range reqs {
		reqs[i] = httptest.NewRequest(http.MethodGet, fmt.Sprintf("http://bench.local/item/%d", i), nil)
	}
	serve := func(h http.Handler) fetch {
		return func(i int) (int, error) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, reqs[i])
			if rec.Code != http.StatusOK {
				return 0, fmt.Errorf("status %d", rec.Code)
			}
			return rec.Body.Len(), nil
		}
	}
	roundTrip := func(rt http.RoundTripper) fetch {
		return func(i int) (int, error) {
			resp, err := rt.RoundTrip(reqs[i])
			if err != nil {
				return 0, err
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return 0, fmt.Errorf("status %d", resp.StatusCode)
			}
			return int(n), err
		}
	}
	inproc := []struct {
		name string
		open func(b *testing.B, o *origin) fetch
	}{
		{"cashews-middleware", func(b *testing.B, o *origin) fetch { return serve(ourMiddleware(b, o)) }},
		{"httpcache", func(b *testing.B, o *origin) fetch {
			t := httpcache.NewMemoryCacheTransport()
			t.Transport = handlerTransport{o}
			return roundTrip(t)
		}},
		{"bare-handler", func(b *testing.B, o *origin) fetch { return serve(o) }},
	}
	client := func(b *testing.B, rt http.RoundTripper) *http.Client {
		return &http.Client{Transport: rt}
	}
	newTransport := func(b *testing.B) *http.Transport {
		t := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, DisableCompression: true}
		b.Cleanup(t.CloseIdleConnections)
		return t
	}
	get := func(c *http.Client, base string) fetch {
		return func(i int) (int, error) {
			resp, err := c.Get(base + "/item/" + strconv.Itoa(i))
			if err != nil {
				return 0, err
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return 0, fmt.Errorf("status %d", resp.StatusCode)
			}
			return int(n), err
		}
	}
	server := func(b *testing.B, h http.Handler) string {
		s := httptest.NewServer(h)
		b.Cleanup(s.Close)
		return s.URL
	}
	loopback := []struct {
		name string
		open func(b *testing.B, o *origin) fetch
	}{
		{"cashews-middleware", func(b *testing.B, o *origin) fetch {
			return get(client(b, newTransport(b)), server(b, ourMiddleware(b, o)))
		}},
		{"httpcache-proxy", func(b *testing.B, o *origin) fetch {
			target, _ := url.Parse(server(b, o))
			t := httpcache.NewMemoryCacheTransport()
			t.Transport = newTransport(b)
			proxy := &httputil.ReverseProxy{
				Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(target) },
				Transport: t,
			}
			return get(client(b, newTransport(b)), server(b, proxy))
		}},
		{"httpcache-client", func(b *testing.B, o *origin) fetch {
			t := httpcache.NewMemoryCacheTransport()
			t.Transport = newTransport(b)
			return get(client(b, t), server(b, o))
		}},
		{"bare-handler", func(b *testing.B, o *origin) fetch {
			return get(client(b, newTransport(b)), server(b, o))
		}},
	}
	for _, group := range []struct {
		name string
		libs []struct {
			name string
			open func(b *testing.B, o *origin) fetch
		}
	}{{"inproc", inproc}, {"loopback", loopback}} {
		b.Run(group.name, func(b *testing.B) {
			for _, lib := range group.libs {
				b.Run(lib.name, func(b *testing.B) {
					o := &origin{}
					f := lib.open(b, o)
					for i := range httpURLs {
						if _, err := f(i); err != nil {
							b.Fatal(err)
						}
					}
					bare := strings.HasPrefix(lib.name, "bare")
					modes(b, runtime.GOMAXPROCS(0), func(i int) (bool, bool) {
						before := o.runs.Load()
						n, err := f(ids[i&mask])
						if err != nil || n != 1024 {
							b.Fatalf("GET: %d bytes, %v; want 1024 bytes", n, err)
						}
						if bare {
							return false, false
						}
						return o.runs.Load() == before, true
					})
				})
			}
		})
	}
	b.Run("server", benchHTTPServer)
}
