package middleware

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestHitMissAndAge(t *testing.T) {
	for name, url := range backendURLs(t) {
		t.Run(name, func(t *testing.T) {
			c, clk := newCache(t, url)
			o := headersHandler("Cache-Control", "max-age=60", "Set-Cookie2", "x")
			o.serve = func(w http.ResponseWriter, r *http.Request, n int) {
				w.Header().Set("Cache-Control", "max-age=60")
				w.Header().Add("X-Multi", "a")
				w.Header().Add("X-Multi", "b")
				w.Write([]byte("v" + itoa(n)))
			}
			srv := serve(t, c, o)

			r := get(t, srv.URL+"/a?q=1")
			r.want(t, 200, "v01")
			if got, want := r.header.Get("Cache-Status"), "cashews; fwd=uri-miss; stored"; got != want {
				t.Fatalf("miss Cache-Status = %q, want %q", got, want)
			}
			clk.Advance(10 * time.Second)
			r = get(t, srv.URL+"/a?q=1")
			r.want(t, 200, "v01")
			if got, want := r.header.Get("Age"), "10"; got != want {
				t.Fatalf("Age = %q, want %q", got, want)
			}
			if got, want := r.header.Get("Cache-Status"), "cashews; hit; ttl=50"; got != want {
				t.Fatalf("hit Cache-Status = %q, want %q", got, want)
			}
			if got := r.header.Values("X-Multi"); len(got) != 2 || got[0] != "a" || got[1] != "b" {
				t.Fatalf("X-Multi = %q, want [a b]", got)
			}
			wantCalls(t, o, 1)

			get(t, srv.URL+"/a?q=2").want(t, 200, "v02") // the query is part of the key
			clk.Advance(51 * time.Second)
			get(t, srv.URL+"/a?q=1").want(t, 200, "v03") // stale, no validator: fetched again
			wantCalls(t, o, 3)
		})
	}
}

func TestHeadFromStoredGet(t *testing.T) {
	c, _ := newCache(t, "mem://")
	o := headersHandler("Cache-Control", "max-age=60")
	srv := serve(t, c, o)

	r := do(t, http.MethodHead, srv.URL+"/h")
	r.want(t, 200, "")
	get(t, srv.URL+"/h").want(t, 200, "v02") // a HEAD response is not stored
	r = do(t, http.MethodHead, srv.URL+"/h")
	r.want(t, 200, "")
	if got := r.header.Get("Content-Length"); got != "3" {
		t.Fatalf("HEAD from stored GET: Content-Length = %q, want 3", got)
	}
	if !strings.HasPrefix(r.header.Get("Cache-Status"), "cashews; hit") {
		t.Fatalf("HEAD Cache-Status = %q, want a hit", r.header.Get("Cache-Status"))
	}
	wantCalls(t, o, 2)
}

func TestVary(t *testing.T) {
	for name, url := range backendURLs(t) {
		t.Run(name, func(t *testing.T) {
			c, _ := newCache(t, url)
			o := &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
				w.Header().Set("Cache-Control", "max-age=60")
				w.Header().Set("Vary", "Accept-Language")
				io.WriteString(w, r.Header.Get("Accept-Language")+itoa(n))
			}}
			srv := serve(t, c, o)
			get(t, srv.URL+"/v", "Accept-Language", "en").want(t, 200, "en01")
			get(t, srv.URL+"/v", "Accept-Language", "fr").want(t, 200, "fr02")
			r := get(t, srv.URL+"/v", "Accept-Language", "fr")
			r.want(t, 200, "fr02")
			get(t, srv.URL+"/v", "Accept-Language", "en").want(t, 200, "en01")
			get(t, srv.URL+"/v").want(t, 200, "03") // absent is a variant of its own
			get(t, srv.URL+"/v").want(t, 200, "03")
			wantCalls(t, o, 3)
			if got := get(t, srv.URL+"/v", "Accept-Language", "de").header.Get("Cache-Status"); got != "cashews; fwd=vary-miss; stored" {
				t.Fatalf("new variant: Cache-Status = %q, want fwd=vary-miss; stored", got)
			}
		})
	}
}

func TestVaryStarIsNotStored(t *testing.T) {
	c, _ := newCache(t, "mem://")
	o := headersHandler("Cache-Control", "max-age=60", "Vary", "*")
	srv := serve(t, c, o)
	get(t, srv.URL+"/").want(t, 200, "v01")
	get(t, srv.URL+"/").want(t, 200, "v02")
}

func TestResponseRules(t *testing.T) {
	tests := []struct {
		name   string
		status int
		kv     []string
		opts   []Option
		stored bool
	}{
		{"max-age", 200, []string{"Cache-Control", "max-age=60"}, nil, true},
		{"max-age=0", 200, []string{"Cache-Control", "max-age=0"}, nil, false},
		{"no-cache with ETag", 200, []string{"Cache-Control", "no-cache", "ETag", `"e"`}, nil, false},
		{"s-maxage", 200, []string{"Cache-Control", "s-maxage=60"}, nil, true},
		{"s-maxage wins", 200, []string{"Cache-Control", "max-age=60, s-maxage=0"}, nil, false},
		{"expires", 200, []string{"Expires", "Wed, 01 Jan 2025 00:01:00 GMT", "Date", "Wed, 01 Jan 2025 00:00:00 GMT"}, nil, true},
		{"expires past", 200, []string{"Expires", "Tue, 31 Dec 2024 00:00:00 GMT"}, nil, false},
		{"expires invalid", 200, []string{"Expires", "0"}, nil, false},
		{"no-store", 200, []string{"Cache-Control", "max-age=60, no-store"}, nil, false},
		{"private", 200, []string{"Cache-Control", "private, max-age=60"}, nil, false},
		{"quoted and unknown", 200, []string{"Cache-Control", `foo="a,b", max-age=60`}, nil, true},
		{"nothing said", 200, nil, nil, false},
		{"nothing said, DefaultTTL", 200, nil, []Option{DefaultTTL(time.Minute)}, true},
		{"Last-Modified, no Heuristic", 200, []string{"Last-Modified", "Sun, 22 Dec 2024 00:00:00 GMT"}, nil, false},
		{"Last-Modified, Heuristic", 200, []string{"Last-Modified", "Sun, 22 Dec 2024 00:00:00 GMT"}, []Option{Heuristic(0.1)}, true},
		{"404 DefaultTTL", 404, nil, []Option{DefaultTTL(time.Minute)}, false},
		{"405 DefaultTTL", 405, nil, []Option{DefaultTTL(time.Minute)}, false},
		{"501 DefaultTTL", 501, nil, []Option{DefaultTTL(time.Minute)}, false},
		{"404 DefaultTTL, named", 404, nil, []Option{DefaultTTL(time.Minute), DefaultTTLStatuses(404)}, true},
		{"404 max-age", 404, []string{"Cache-Control", "max-age=60"}, []Option{DefaultTTL(time.Minute)}, true},
		{"500 DefaultTTL", 500, nil, []Option{DefaultTTL(time.Minute)}, false},
		{"500 max-age", 500, []string{"Cache-Control", "max-age=60"}, nil, true},
		{"299 max-age", 299, []string{"Cache-Control", "max-age=60"}, nil, true},
		{"299 must-understand", 299, []string{"Cache-Control", "max-age=60, must-understand, no-store"}, nil, false},
		{"200 must-understand no-store", 200, []string{"Cache-Control", "max-age=60, must-understand, no-store"}, nil, true},
		{"206", 206, []string{"Cache-Control", "max-age=60"}, nil, false},
		{"event stream", 200, []string{"Cache-Control", "max-age=60", "Content-Type", "text/event-stream"}, nil, false},
		{"set-cookie", 200, []string{"Cache-Control", "max-age=60", "Set-Cookie", "a=1"}, nil, false},
		{"set-cookie no-cache=field", 200, []string{"Cache-Control", `max-age=60, no-cache="Set-Cookie"`, "Set-Cookie", "a=1"}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newCache(t, "mem://")
			o := &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
				for i := 0; i < len(tc.kv); i += 2 {
					w.Header().Add(tc.kv[i], tc.kv[i+1])
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, "v"+itoa(n))
			}}
			srv := serve(t, c, o, tc.opts...)
			get(t, srv.URL+"/r").want(t, tc.status, "v01")
			r := get(t, srv.URL+"/r")
			want := "v02"
			if tc.stored {
				want = "v01"
			}
			r.want(t, tc.status, want)
			if tc.stored && r.header.Get("Set-Cookie") != "" {
				t.Fatalf("stored response replays Set-Cookie %q", r.header.Get("Set-Cookie"))
			}
		})
	}
}

func TestNoCacheResponseIsRevalidated(t *testing.T) {
	c, _ := newCache(t, "mem://")
	var inm []string
	o := &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
		inm = append(inm, r.Header.Get("If-None-Match"))
		w.Header().Set("Cache-Control", "max-age=60, no-cache")
		w.Header().Set("ETag", `"e1"`)
		if r.Header.Get("If-None-Match") == `"e1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, "v"+itoa(n))
	}}
	srv := serve(t, c, o)
	get(t, srv.URL+"/n").want(t, 200, "v01")
	r := get(t, srv.URL+"/n")
	r.want(t, 200, "v01")
	if got, want := r.header.Get("Cache-Status"), "cashews; fwd=stale; fwd-status=304"; got != want {
		t.Fatalf("Cache-Status = %q, want %q", got, want)
	}
	if len(inm) != 2 || inm[0] != "" || inm[1] != `"e1"` {
		t.Fatalf("If-None-Match seen by the handler = %q, want [\"\" \"e1\"]", inm)
	}
}

func TestRevalidationUpdatesStoredHeaders(t *testing.T) {
	for name, url := range backendURLs(t) {
		t.Run(name, func(t *testing.T) {
			c, clk := newCache(t, url)
			var ims []string
			o := &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
				ims = append(ims, r.Header.Get("If-Modified-Since"))
				w.Header().Set("Last-Modified", "Tue, 31 Dec 2024 00:00:00 GMT")
				w.Header().Set("X-Version", itoa(n))
				if n == 1 {
					w.Header().Set("Cache-Control", "max-age=10")
					io.WriteString(w, "body")
					return
				}
				w.Header().Set("Cache-Control", "max-age=100")
				w.Header().Set("Content-Length", "999") // must not replace the stored one
				w.WriteHeader(http.StatusNotModified)
			}}
			srv := serve(t, c, o)
			get(t, srv.URL+"/lm").want(t, 200, "body")
			clk.Advance(20 * time.Second)
			r := get(t, srv.URL+"/lm")
			r.want(t, 200, "body")
			if got := r.header.Get("X-Version"); got != "02" {
				t.Fatalf("after 304: X-Version = %q, want 02 (updated from the 304)", got)
			}
			if len(ims) != 2 || ims[1] != "Tue, 31 Dec 2024 00:00:00 GMT" {
				t.Fatalf("If-Modified-Since seen by the handler = %q, want the stored Last-Modified", ims)
			}
			clk.Advance(50 * time.Second) // fresh for 100 s after the 304
			r = get(t, srv.URL+"/lm")
			r.want(t, 200, "body")
			if got := r.header.Get("Age"); got != "50" {
				t.Fatalf("Age after revalidation = %q, want 50", got)
			}
			wantCalls(t, o, 2)
		})
	}
}

func TestConditionalRequestsAnsweredFromCache(t *testing.T) {
	c, _ := newCache(t, "mem://")
	var sawINM []string
	o := &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
		sawINM = append(sawINM, r.Header.Get("If-None-Match"))
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `W/"x"`)
		w.Header().Set("Last-Modified", "Tue, 31 Dec 2024 00:00:00 GMT")
		io.WriteString(w, "body")
	}}
	srv := serve(t, c, o)
	// A conditional miss: the handler gets an unconditional request, the client a 304.
	get(t, srv.URL+"/c", "If-None-Match", `"x"`).want(t, 304, "")
	if sawINM[0] != "" {
		t.Fatalf("handler saw If-None-Match %q on a miss, want none (the cache stores the full response)", sawINM[0])
	}
	tests := []struct {
		kv     []string
		status int
	}{
		{[]string{"If-None-Match", `"y", W/"x"`}, 304},
		{[]string{"If-None-Match", `"y"`}, 200},
		{[]string{"If-None-Match", `*`}, 304},
		{[]string{"If-Modified-Since", "Tue, 31 Dec 2024 00:00:00 GMT"}, 304},
		{[]string{"If-Modified-Since", "Mon, 30 Dec 2024 00:00:00 GMT"}, 200},
		{[]string{"If-None-Match", `"y"`, "If-Modified-Since", "Tue, 31 Dec 2024 00:00:00 GMT"}, 200},
	}
	for _, tc := range tests {
		r := get(t, srv.URL+"/c", tc.kv...)
		if r.status != tc.status {
			t.Errorf("%q: got %d, want %d", tc.kv, r.status, tc.status)
		}
		if r.status == 304 && r.header.Get("ETag") != `W/"x"` {
			t.Errorf("%q: 304 without the ETag: %v", tc.kv, r.header)
		}
	}
	wantCalls(t, o, 1)
}

func TestRequestDirectives(t *testing.T) {
	c, clk := newCache(t, "mem://")
	o := headersHandler("Cache-Control", "max-age=60")
	strict := serve(t, c, o)
	get(t, strict.URL+"/d").want(t, 200, "v01")

	// Without AllowClientRefresh a client cannot force the handler to run.
	get(t, strict.URL+"/d", "Cache-Control", "no-cache").want(t, 200, "v01")
	get(t, strict.URL+"/d", "Cache-Control", "max-age=0").want(t, 200, "v01")
	wantCalls(t, o, 1)

	// no-store: not stored, but may be answered from cache.
	get(t, strict.URL+"/ns", "Cache-Control", "no-store").want(t, 200, "v02")
	get(t, strict.URL+"/ns").want(t, 200, "v03")
	get(t, strict.URL+"/ns", "Cache-Control", "no-store").want(t, 200, "v03")

	// only-if-cached
	get(t, strict.URL+"/d", "Cache-Control", "only-if-cached").want(t, 200, "v01")
	r := get(t, strict.URL+"/none", "Cache-Control", "only-if-cached")
	if r.status != http.StatusGatewayTimeout {
		t.Fatalf("only-if-cached miss: got %d, want 504", r.status)
	}

	// max-stale serves a stale response.
	clk.Advance(70 * time.Second)
	get(t, strict.URL+"/d", "Cache-Control", "max-stale=5").want(t, 200, "v04")
	clk.Advance(70 * time.Second)
	get(t, strict.URL+"/d", "Cache-Control", "max-stale=60").want(t, 200, "v04")
	get(t, strict.URL+"/d", "Cache-Control", "max-stale").want(t, 200, "v04")

	c2, clk2 := newCache(t, "mem://")
	o2 := headersHandler("Cache-Control", "max-age=60")
	open := serve(t, c2, o2, AllowClientRefresh(true))
	get(t, open.URL+"/d").want(t, 200, "v01")
	clk2.Advance(10 * time.Second)
	get(t, open.URL+"/d", "Cache-Control", "max-age=20").want(t, 200, "v01")
	get(t, open.URL+"/d", "Cache-Control", "max-age=5").want(t, 200, "v02")
	get(t, open.URL+"/d", "Cache-Control", "min-fresh=70").want(t, 200, "v03")
	r = get(t, open.URL+"/d", "Cache-Control", "no-cache")
	r.want(t, 200, "v04")
	if got := r.header.Get("Cache-Status"); got != "cashews; fwd=request; stored" {
		t.Fatalf("client no-cache: Cache-Status = %q, want fwd=request; stored", got)
	}
	get(t, open.URL+"/d").want(t, 200, "v04")
}

func TestSetCookieRule(t *testing.T) {
	c, _ := newCache(t, "mem://")
	o := headersHandler("Cache-Control", "max-age=60", "Set-Cookie", "a=1", "Set-Cookie", "b=2")
	def := serve(t, c, o)
	get(t, def.URL+"/c", "Cookie", "s=1").want(t, 200, "v01")
	get(t, def.URL+"/c", "Cookie", "s=1").want(t, 200, "v02") // never stored by default

	c2, _ := newCache(t, "mem://")
	o2 := headersHandler("Cache-Control", "max-age=60", "Set-Cookie", "a=1", "Set-Cookie", "b=2")
	opt := serve(t, c2, o2, StoreSetCookie(true))
	get(t, opt.URL+"/c").want(t, 200, "v01") // the request had no cookie: not stored
	get(t, opt.URL+"/c", "Cookie", "s=1").want(t, 200, "v02")
	r := get(t, opt.URL+"/c", "Cookie", "s=1")
	r.want(t, 200, "v02")
	if got := r.header.Values("Set-Cookie"); len(got) != 2 {
		t.Fatalf("stored Set-Cookie lines = %q, want both", got)
	}
}

func TestAuthorizationRule(t *testing.T) {
	tests := []struct {
		cc     string
		stored bool
	}{
		{"max-age=60", false},
		{"max-age=60, public", true},
		{"s-maxage=60", true},
		{"max-age=60, must-revalidate", true},
	}
	for _, tc := range tests {
		t.Run(tc.cc, func(t *testing.T) {
			c, _ := newCache(t, "mem://")
			o := headersHandler("Cache-Control", tc.cc)
			srv := serve(t, c, o)
			get(t, srv.URL+"/a", "Authorization", "Bearer x").want(t, 200, "v01")
			want := "v02"
			if tc.stored {
				want = "v01"
			}
			get(t, srv.URL+"/a", "Authorization", "Bearer x").want(t, 200, want)
		})
	}
	// A response stored for anonymous requests is not served to an authorized one unless shared.
	c, _ := newCache(t, "mem://")
	o := headersHandler("Cache-Control", "max-age=60")
	srv := serve(t, c, o)
	get(t, srv.URL+"/p").want(t, 200, "v01")
	get(t, srv.URL+"/p").want(t, 200, "v01")
	get(t, srv.URL+"/p", "Authorization", "Bearer x").want(t, 200, "v02")
}

func TestInvalidationOnUnsafeMethods(t *testing.T) {
	c, _ := newCache(t, "mem://")
	o := &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
		switch r.Method {
		case http.MethodGet:
			w.Header().Set("Cache-Control", "max-age=60")
			io.WriteString(w, "v"+itoa(n))
		case "FAIL":
			w.WriteHeader(http.StatusInternalServerError)
		default:
			if l := r.Header.Get("X-Location"); l != "" {
				w.Header().Set("Location", l)
			}
			if l := r.Header.Get("X-Content-Location"); l != "" {
				w.Header().Set("Content-Location", l)
			}
			w.WriteHeader(http.StatusCreated)
		}
	}}
	srv := serve(t, c, o)
	prime := func(path, want string) {
		t.Helper()
		get(t, srv.URL+path).want(t, 200, want)
		get(t, srv.URL+path).want(t, 200, want)
	}
	prime("/x", "v01")
	do(t, "FAIL", srv.URL+"/x")
	get(t, srv.URL+"/x").want(t, 200, "v01") // a failed request invalidates nothing
	do(t, http.MethodPost, srv.URL+"/x")
	get(t, srv.URL+"/x").want(t, 200, "v04")

	for _, m := range []string{http.MethodPut, http.MethodPatch, http.MethodDelete, "M-SEARCH"} {
		do(t, m, srv.URL+"/x")
		r := get(t, srv.URL+"/x")
		if r.header.Get("Cache-Status") != "cashews; fwd=uri-miss; stored" {
			t.Fatalf("GET after %s: Cache-Status %q, want a miss", m, r.header.Get("Cache-Status"))
		}
	}

	prime("/loc", "v"+itoa(int(o.calls.Load())+1))
	prime("/cloc", "v"+itoa(int(o.calls.Load())+1))
	prime("/other", "v"+itoa(int(o.calls.Load())+1))
	do(t, http.MethodPost, srv.URL+"/x", "X-Location", "/loc", "X-Content-Location", srv.URL+"/cloc")
	do(t, http.MethodPost, srv.URL+"/x", "X-Location", "http://elsewhere.example/other")
	for path, missed := range map[string]bool{"/loc": true, "/cloc": true, "/other": false} {
		r := get(t, srv.URL+path)
		if got := strings.HasPrefix(r.header.Get("Cache-Status"), "cashews; fwd="); got != missed {
			t.Errorf("%s after POST: Cache-Status %q, want missed=%v", path, r.header.Get("Cache-Status"), missed)
		}
	}
}

func TestDropRulesAndTags(t *testing.T) {
	c, _ := newCache(t, "mem://")
	o := &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "v"+itoa(n))
	}}
	reader, err := Cache(c, Tags("all"), TagsFunc(func(r *http.Request) []string {
		return []string{"path:" + r.URL.Path}
	}))
	if err != nil {
		t.Fatal(err)
	}
	writer, err := Cache(c, Drop("/users/"), DropRegexp(`^/items/[0-9]+$`), DropTags("path:/news"))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", reader(o))
	mux.Handle("POST /admin", writer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	srv := newServer(t, mux)

	paths := []string{"/users/1", "/users/2?x=1", "/usersX", "/items/7", "/items/7/parts", "/news"}
	for _, p := range paths {
		get(t, srv.URL+p)
	}
	calls := o.calls.Load()
	do(t, http.MethodPost, srv.URL+"/admin")
	missed := map[string]bool{"/users/1": true, "/users/2?x=1": true, "/usersX": false,
		"/items/7": true, "/items/7/parts": false, "/news": true}
	for _, p := range paths {
		r := get(t, srv.URL+p)
		if got := !strings.Contains(r.header.Get("Cache-Status"), "hit"); got != missed[p] {
			t.Errorf("%s after the drop: Cache-Status %q, want missed=%v", p, r.header.Get("Cache-Status"), missed[p])
		}
	}
	if got, want := o.calls.Load()-calls, int32(4); got != want {
		t.Errorf("handler ran %d times after the drop, want %d", got, want)
	}
	n, err := c.DeleteTags(context.Background(), "all")
	if err != nil || n == 0 {
		t.Fatalf("DeleteTags(all) = %d, %v; want some keys", n, err)
	}
	if r := get(t, srv.URL+"/usersX"); strings.Contains(r.header.Get("Cache-Status"), "hit") {
		t.Fatalf("after DeleteTags: %q, want a miss", r.header.Get("Cache-Status"))
	}
}

func TestStaleWhileRevalidate(t *testing.T) {
	c, clk := newCache(t, "mem://")
	refreshed := make(chan struct{}, 1)
	o := &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=60")
		io.WriteString(w, "v"+itoa(n))
		if n == 2 {
			refreshed <- struct{}{}
		}
	}}
	srv := serve(t, c, o)
	get(t, srv.URL+"/s").want(t, 200, "v01")
	clk.Advance(30 * time.Second)
	r := get(t, srv.URL+"/s")
	r.want(t, 200, "v01")
	if got, want := r.header.Get("Cache-Status"), "cashews; hit; ttl=-20; detail=stale-while-revalidate"; got != want {
		t.Fatalf("Cache-Status = %q, want %q", got, want)
	}
	<-refreshed
	waitFor(t, func() bool { return get(t, srv.URL+"/s").body == "v02" })
	clk.Advance(100 * time.Second) // past the window: a plain miss
	get(t, srv.URL+"/s").want(t, 200, "v03")
}

// waitFor polls cond (a background goroutine's effect) until it holds, failing after 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestStaleIfError(t *testing.T) {
	c, clk := newCache(t, "mem://")
	o := &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
		if n > 1 {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Cache-Control", "max-age=10, stale-if-error=60")
		io.WriteString(w, "good")
	}}
	srv := serve(t, c, o)
	get(t, srv.URL+"/e").want(t, 200, "good")
	clk.Advance(30 * time.Second)
	r := get(t, srv.URL+"/e")
	r.want(t, 200, "good")
	if got, want := r.header.Get("Cache-Status"), "cashews; hit; ttl=-20; detail=stale-if-error"; got != want {
		t.Fatalf("Cache-Status = %q, want %q", got, want)
	}
	clk.Advance(60 * time.Second)
	get(t, srv.URL+"/e").want(t, 503, "down\n")
	wantCalls(t, o, 3)
}

func TestConcurrentMissesRunHandlerOnce(t *testing.T) {
	c, _ := newCache(t, "mem://")
	entered := make(chan struct{})
	release := make(chan struct{})
	o := &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			close(entered)
			<-release
		}
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "v"+itoa(n))
	}}
	srv := serve(t, c, o)
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	const n = 20
	var wg sync.WaitGroup
	bodies := make(chan string, n)
	wg.Go(func() { bodies <- get(t, srv.URL+"/stampede").body })
	<-entered
	for range n - 1 {
		wg.Go(func() { bodies <- get(t, srv.URL+"/stampede").body })
	}
	once.Do(func() { close(release) })
	wg.Wait()
	close(bodies)
	for b := range bodies {
		if b != "v01" {
			t.Fatalf("a concurrent caller got %q, want v01", b)
		}
	}
	wantCalls(t, o, 1)
}

func TestLargeStreamingResponsePassesThrough(t *testing.T) {
	c, _ := newCache(t, "mem://")
	firstRead := make(chan struct{})
	o := &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "chunk1\n")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush through the cache: %v", err)
		}
		if n == 1 {
			<-firstRead // the client got the first chunk before the handler wrote more
		}
		io.WriteString(w, strings.Repeat("x", 100)+"\n")
	}}
	srv := serve(t, c, o, MaxBodySize(50))
	var once sync.Once
	release := func() { once.Do(func() { close(firstRead) }) }
	t.Cleanup(release) // runs before srv.Close, which waits for the handler
	resp, err := http.Get(srv.URL + "/big")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "chunk1\n" {
		t.Fatalf("first line = %q, %v; want chunk1", line, err)
	}
	release()
	rest, _ := io.ReadAll(br)
	resp.Body.Close()
	if len(rest) != 101 {
		t.Fatalf("rest of the body: %d bytes, want 101", len(rest))
	}
	get(t, srv.URL+"/big")
	wantCalls(t, o, 2) // over the cap: not stored

	// Under the cap, a flushed response is stored once complete.
	c2, _ := newCache(t, "mem://")
	o2 := &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "part1 ")
		http.NewResponseController(w).Flush()
		io.WriteString(w, "part2")
	}}
	small := serve(t, c2, o2, MaxBodySize(50))
	get(t, small.URL+"/small").want(t, 200, "part1 part2")
	get(t, small.URL+"/small").want(t, 200, "part1 part2")
	wantCalls(t, o2, 1)
}

func TestCacheStatusName(t *testing.T) {
	c, _ := newCache(t, "mem://")
	o := headersHandler("Cache-Control", "max-age=60")
	srv := serve(t, c, o, CacheStatus("edge"))
	if got := get(t, srv.URL+"/").header.Get("Cache-Status"); got != "edge; fwd=uri-miss; stored" {
		t.Fatalf("Cache-Status = %q, want edge; fwd=uri-miss; stored", got)
	}
	off := serve(t, c, o, CacheStatus(""))
	if got := get(t, off.URL+"/").header.Values("Cache-Status"); len(got) != 0 {
		t.Fatalf("CacheStatus(\"\"): Cache-Status = %q, want none", got)
	}
}

func TestAppliedTwicePassesThrough(t *testing.T) {
	c, _ := newCache(t, "mem://")
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))
	o := headersHandler("Cache-Control", "max-age=60")
	inner, err := Cache(c, Logger(logger), KeyPrefix("inner:"))
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, c, inner(o))
	get(t, srv.URL+"/t").want(t, 200, "v01")
	r := get(t, srv.URL+"/t")
	r.want(t, 200, "v01")
	if got := r.header.Values("Cache-Status"); len(got) != 1 {
		t.Fatalf("Cache-Status lines = %q, want one", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "applied twice") {
		t.Fatalf("log = %q, want the applied-twice error", logs.String())
	}
	if n, _ := c.KeysCount(context.Background()); n != 1 {
		t.Fatalf("keys stored = %d, want 1 (only the outer middleware stores)", n)
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestCustomKeyFunc(t *testing.T) {
	c, _ := newCache(t, "mem://")
	o := headersHandler("Cache-Control", "max-age=60")
	srv := serve(t, c, o, KeyFunc(func(r *http.Request) string { return r.URL.Query().Get("id") }))
	get(t, srv.URL+"/k?id=1&utm=a").want(t, 200, "v01")
	get(t, srv.URL+"/k?utm=b&id=1").want(t, 200, "v01")
	get(t, srv.URL+"/k?id=2").want(t, 200, "v02")
	if ok, _ := c.Exists(context.Background(), "http:/k 1"); !ok {
		t.Fatal(`key "http:/k 1" not stored`)
	}
}

func TestConfigErrors(t *testing.T) {
	c, _ := newCache(t, "mem://")
	tests := map[string]Option{
		"DefaultTTL":         DefaultTTL(-time.Second),
		"KeepStale":          KeepStale(-1),
		"KeyFunc":            KeyFunc(nil),
		"KeyPrefix":          KeyPrefix("a*"),
		"MaxBodySize":        MaxBodySize(0),
		"CacheStatus":        CacheStatus("bad name"),
		"Tags":               Tags(""),
		"TagsFunc":           TagsFunc(nil),
		"Drop":               Drop("users"),
		"DropRegexp":         DropRegexp("("),
		"Logger":             Logger(nil),
		"Heuristic":          Heuristic(2),
		"Surrogate":          Surrogate(""),
		"DefaultTTLStatuses": DefaultTTLStatuses(304),
		"StaleIfError":       StaleIfError(-1),
		"CollapseWait":       CollapseWait(-1),
		"TargetedFields":     TargetedFields("a b"),
		"nil option":         nil,
	}
	for name, opt := range tests {
		t.Run(name, func(t *testing.T) {
			mw, err := Cache(c, opt)
			if !errors.Is(err, ErrConfig) || mw != nil {
				t.Fatalf("Cache(%s) = %v, %v; want nil and an error matching ErrConfig", name, mw != nil, err)
			}
			if name != "nil option" && !strings.Contains(err.Error(), name) {
				t.Fatalf("error %q does not name %s", err, name)
			}
		})
	}
	if _, err := Cache(nil); !errors.Is(err, ErrConfig) {
		t.Fatalf("Cache(nil) error = %v, want ErrConfig", err)
	}
}

func TestCacheControlWrapper(t *testing.T) {
	for _, bad := range []string{"", "max-age=x", "max-age=", "a b", "max-age=-1", `s-maxage="1"`} {
		if _, err := CacheControl(bad); !errors.Is(err, ErrConfig) {
			t.Errorf("CacheControl(%q) error = %v, want ErrConfig", bad, err)
		}
	}
	cc, err := CacheControl(`public, max-age=60, no-cache="Set-Cookie"`)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := newCache(t, "mem://")
	o := headersHandler("Cache-Control", "no-store")
	srv := serve(t, c, cc(o))
	r := get(t, srv.URL+"/")
	if got := r.header.Get("Cache-Control"); got != `public, max-age=60, no-cache="Set-Cookie"` {
		t.Fatalf("Cache-Control = %q, want the wrapper's", got)
	}
	get(t, srv.URL+"/").want(t, 200, "v01")
	empty := serve(t, c, cc(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	if got := get(t, empty.URL+"/e").header.Get("Cache-Control"); !strings.HasPrefix(got, "public") {
		t.Fatalf("handler that writes nothing: Cache-Control = %q", got)
	}
}

func TestInterimResponsesPassThrough(t *testing.T) {
	c, _ := newCache(t, "mem://")
	o := &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "v"+itoa(n))
	}}
	srv := serve(t, c, o)
	r := get(t, srv.URL+"/eh")
	r.want(t, 200, "v01")
	if r.header.Get("Link") != "" {
		t.Fatalf("final response carries the 103's Link: %q", r.header.Get("Link"))
	}
	get(t, srv.URL+"/eh").want(t, 200, "v01")
}

func TestSurrogateControl(t *testing.T) {
	tests := []struct {
		name   string
		kv     []string
		stored bool
	}{
		{"max-age overrides no-store", []string{"Cache-Control", "no-store", "Surrogate-Control", "max-age=60"}, true},
		{"no-store overrides max-age", []string{"Cache-Control", "max-age=60", "Surrogate-Control", "no-store"}, false},
		{"short wins over long", []string{"Cache-Control", "max-age=60", "Surrogate-Control", "max-age=0"}, false},
		{"targeted at us", []string{"Surrogate-Control", "max-age=60;edge"}, true},
		{"targeted elsewhere", []string{"Surrogate-Control", "max-age=60;other"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newCache(t, "mem://")
			var capability string
			o := &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
				capability = r.Header.Get("Surrogate-Capability")
				for i := 0; i < len(tc.kv); i += 2 {
					w.Header().Add(tc.kv[i], tc.kv[i+1])
				}
				io.WriteString(w, "v"+itoa(n))
			}}
			srv := serve(t, c, o, Surrogate("edge"))
			get(t, srv.URL+"/s").want(t, 200, "v01")
			if capability != `edge="Surrogate/1.0"` {
				t.Fatalf("Surrogate-Capability = %q, want edge=\"Surrogate/1.0\"", capability)
			}
			want := "v02"
			if tc.stored {
				want = "v01"
			}
			get(t, srv.URL+"/s").want(t, 200, want)
		})
	}
	if _, err := Cache(c0(t), Surrogate("a b")); !errors.Is(err, ErrConfig) {
		t.Fatalf("Surrogate(\"a b\"): error %v, want ErrConfig", err)
	}
}

func TestVaryNormalisesCase(t *testing.T) {
	c, _ := newCache(t, "mem://")
	o := headersHandler("Cache-Control", "max-age=60", "Vary", "Accept-Language")
	srv := serve(t, c, o)
	get(t, srv.URL+"/", "Accept-Language", "en, de").want(t, 200, "v01")
	get(t, srv.URL+"/", "Accept-Language", "EN,De").want(t, 200, "v01")
}

func TestBackgroundRevalidationStopsOnClose(t *testing.T) {
	c, clk := newCache(t, "mem://")
	started := make(chan struct{})
	stopped := make(chan error, 1)
	o := &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=60")
		if n == 2 { // the background refresh: blocks until the Cache is closed
			close(started)
			<-r.Context().Done()
			stopped <- r.Context().Err()
			return
		}
		io.WriteString(w, "v"+itoa(n))
	}}
	srv := serve(t, c, o)
	get(t, srv.URL+"/bg").want(t, 200, "v01")
	clk.Advance(20 * time.Second)
	get(t, srv.URL+"/bg").want(t, 200, "v01")
	<-started
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-stopped:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("background request context: %v, want context.Canceled", err)
		}
	default:
		t.Fatal("Close returned while the background refresh was still running")
	}
}
