package middleware

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/detect"
	"github.com/cashews-go/cashews/strategies"
)

func TestFromCacheHeaders(t *testing.T) {
	c, clk := newCache(t, "mem://")
	errDown := errors.New("upstream down\nsecond line")
	fail := false
	load := cashews.MustWrap(c, func(ctx context.Context, id string) (string, error) {
		if fail {
			return "", errDown
		}
		return "user " + id, nil
	}, cashews.TTL(time.Minute), cashews.Key("user:{.}"), strategies.Failover())

	h := FromCacheHeaders(c)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := load(r.Context(), r.URL.Query().Get("id"))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		io.WriteString(w, v)
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()

	r := get(t, srv.URL+"/?id=1")
	r.want(t, 200, "user 1")
	if v := r.header.Values("X-From-Cache"); len(v) != 0 {
		t.Fatalf("first call: X-From-Cache = %q, want none", v)
	}
	fail = true
	clk.Advance(20 * time.Second)
	r = get(t, srv.URL+"/?id=1")
	r.want(t, 200, "user 1")
	if got := r.header.Get("X-From-Cache"); got != "user:1" {
		t.Fatalf("X-From-Cache = %q, want user:1", got)
	}
	if got := r.header.Get("X-From-Cache-Expire-In-Seconds"); got != "40" {
		t.Fatalf("X-From-Cache-Expire-In-Seconds = %q, want 40", got)
	}
	if got := r.header.Get("X-From-Cache-Exc"); got != "upstream down second line" {
		t.Fatalf("X-From-Cache-Exc = %q, want the covered error on one line", got)
	}
}

// TestFromCacheHeadersSeesInnerDetectors checks that hits recorded under a detector the handler
// made for itself reach the headers too.
func TestFromCacheHeadersSeesInnerDetectors(t *testing.T) {
	c, _ := newCache(t, "mem://")
	load := cashews.MustWrap(c, func(ctx context.Context, id string) (string, error) { return "user " + id, nil },
		cashews.TTL(time.Minute), cashews.Key("user:{.}"))
	var inner []string
	h := FromCacheHeaders(c)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, d := detect.New(r.Context()) // the handler's own detector, for its own logging
		v, _ := load(ctx, "1")
		inner = d.Keys()
		io.WriteString(w, v)
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	get(t, srv.URL).want(t, 200, "user 1")
	r := get(t, srv.URL)
	r.want(t, 200, "user 1")
	if got := r.header.Get("X-From-Cache"); got != "user:1" || len(inner) != 1 {
		t.Fatalf("X-From-Cache = %q (the inner detector saw %q), want user:1 in both", got, inner)
	}
}

func TestFromCacheHeadersStreaming(t *testing.T) {
	c, _ := newCache(t, "mem://")
	cached := cashews.MustWrap0(c, func(context.Context) (string, error) { return "v", nil },
		cashews.TTL(time.Minute), cashews.Key("k"))
	if _, err := cached(context.Background()); err != nil { // stores it
		t.Fatal(err)
	}
	read := make(chan struct{})
	h := FromCacheHeaders(c)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, _ := cached(r.Context())
		io.WriteString(w, v+"\n")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
		<-read // the client has the header and the first line while the handler runs
		io.WriteString(w, "end\n")
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer func() {
		select {
		case <-read:
		default:
			close(read)
		}
	}() // before srv.Close, which waits for the handler
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got := resp.Header.Get("X-From-Cache"); got != "k" {
		t.Fatalf("X-From-Cache = %q, want k", got)
	}
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	if line != "v\n" {
		t.Fatalf("first line = %q, want the cached value", line)
	}
}

func TestFromCacheHeadersWithResponseCache(t *testing.T) {
	c, _ := newCache(t, "mem://")
	o := headersHandler("Cache-Control", "max-age=60")
	mw, err := Cache(c)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(FromCacheHeaders(c)(mw(o)))
	defer srv.Close()
	get(t, srv.URL+"/p")
	r := get(t, srv.URL+"/p")
	if got := r.header.Get("X-From-Cache"); got != "http:/p "+srv.Listener.Addr().String()+"?" {
		t.Fatalf("X-From-Cache = %q, want the response's key", got)
	}
	if got := r.header.Get("X-From-Cache-Expire-In-Seconds"); got != "60" {
		t.Fatalf("X-From-Cache-Expire-In-Seconds = %q, want 60", got)
	}
}
