package middleware

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/backends/backendtest"
	"github.com/cashews-go/cashews/backends/memory"
	_ "github.com/cashews-go/cashews/backends/redis"
	"github.com/cashews-go/cashews/internal/redistest"
)

// A failing cache backend never fails a request: a value that does not decode, a frozen Redis and a
// dead one all send the request to the handler, and unsafe methods still succeed.
func TestFailingBackendServesFromOrigin(t *testing.T) {
	rs := redistest.Start(t)
	c := cashews.New()
	t.Cleanup(func() { c.Close() })
	if err := c.Setup(rs.URL()); err != nil {
		t.Fatal(err)
	}
	o := headersHandler("Cache-Control", "max-age=60")
	srv := serve(t, c, o)
	u, _ := url.Parse(srv.URL)

	get(t, srv.URL+"/a").want(t, 200, "v01")
	get(t, srv.URL+"/a").want(t, 200, "v01")

	// A value no codec of ours wrote: the read fails, the handler answers, the value is replaced.
	rs.MustDo("SET", "http:/a "+u.Host+"?", "not an entry")
	get(t, srv.URL+"/a").want(t, 200, "v02")
	get(t, srv.URL+"/a").want(t, 200, "v02")

	rs.Freeze() // every command runs into its deadline
	get(t, srv.URL+"/b").want(t, 200, "v03")
	get(t, srv.URL+"/b").want(t, 200, "v04")
	do(t, http.MethodPost, srv.URL+"/b").want(t, 200, "v05")
	rs.Thaw()

	rs.Kill() // connections refused
	get(t, srv.URL+"/a").want(t, 200, "v06")
	get(t, srv.URL+"/a").want(t, 200, "v07")
	do(t, http.MethodHead, srv.URL+"/a").want(t, 200, "")
	do(t, http.MethodDelete, srv.URL+"/a").want(t, 200, "v09")
	wantCalls(t, o, 9)
}

// After the backend fails to answer, requests leave it alone for a second (doubling while it keeps
// failing), so that only one request pays its timeout; once it answers again, the cache is back.
func TestUnavailableBackendIsPaused(t *testing.T) {
	rs, clk, c := onRedis(t)
	var calls atomic.Int32
	c.OnCommand(func(context.Context, *cashews.Call, cashews.Result, error) { calls.Add(1) }, cashews.CmdGet, cashews.CmdSet)
	o := headersHandler("Cache-Control", "max-age=600")
	srv := serve(t, c, o)
	wantBackendCalls := func(want int32) {
		t.Helper()
		if got := calls.Load(); got != want {
			t.Fatalf("backend calls = %d, want %d", got, want)
		}
	}

	rs.Freeze()
	get(t, srv.URL+"/p").want(t, 200, "v01") // the read times out; the store is skipped
	wantBackendCalls(1)
	for i := 2; i <= 4; i++ {
		r := get(t, srv.URL+"/p")
		r.want(t, 200, "v0"+string(rune('0'+i)))
		if got := r.header.Get("Cache-Status"); !strings.Contains(got, "backend-unavailable") {
			t.Fatalf("Cache-Status = %q, want the backend-unavailable detail", got)
		}
	}
	wantBackendCalls(1)
	clk.Advance(time.Second)
	get(t, srv.URL+"/p").want(t, 200, "v05") // tried again: still frozen, paused for 2 s now
	wantBackendCalls(2)
	clk.Advance(time.Second)
	get(t, srv.URL+"/p").want(t, 200, "v06")
	wantBackendCalls(2)

	rs.Thaw()
	clk.Advance(time.Second)
	get(t, srv.URL+"/p").want(t, 200, "v07") // a miss, stored
	get(t, srv.URL+"/p").want(t, 200, "v07")
	wantBackendCalls(5)

	rs.Freeze() // a new failure pauses for a second again, not for the doubled pause of before
	get(t, srv.URL+"/q").want(t, 200, "v08")
	wantBackendCalls(6)
	clk.Advance(time.Second)
	get(t, srv.URL+"/q").want(t, 200, "v09")
	wantBackendCalls(7)
	rs.Thaw()
}

// An invalidation that fails while the backend cannot answer is not forgotten: once the backend
// answers again, it is tried before anything is read, so the response the POST changed is never
// served. Until it succeeds, requests bypass the cache.
func TestFailedInvalidationIsRetried(t *testing.T) {
	rs, clk, c := onRedis(t)
	o := headersHandler("Cache-Control", "max-age=600")
	srv := serve(t, c, o)

	get(t, srv.URL+"/a").want(t, 200, "v01")
	get(t, srv.URL+"/a").want(t, 200, "v01")

	rs.Freeze()
	do(t, http.MethodPost, srv.URL+"/a").want(t, 200, "v02") // its invalidation of /a times out
	rs.Thaw()

	get(t, srv.URL+"/a").want(t, 200, "v03") // the gate is closed: bypassed
	// Past the pause, the invalidation runs first, then a miss, stored. On a stalled machine the
	// retry may miss its 100 ms deadline: then the cache stays bypassed and the next pause tries
	// again. Either way the stale v01 is never served.
	next := 4
	for try := 0; ; try++ {
		clk.Advance(time.Minute)
		first := get(t, srv.URL+"/a")
		first.want(t, 200, fmt.Sprintf("v%02d", next))
		next++
		if second := get(t, srv.URL+"/a"); second.body == first.body {
			break // stored and served from the cache again
		} else {
			second.want(t, 200, fmt.Sprintf("v%02d", next))
			next++
		}
		if try == 4 {
			t.Fatal("the cache still bypassed after 5 pauses")
		}
	}
	wantCalls(t, o, next-1)
}

// Past maxPendingKeys failed invalidations, the retry drops every response under the prefix: more than
// needed, never less.
func TestFailedInvalidationsOverflow(t *testing.T) {
	old := maxPendingKeys
	maxPendingKeys = 2
	t.Cleanup(func() { maxPendingKeys = old })
	rs, clk, c := onRedis(t)
	o := headersHandler("Cache-Control", "max-age=600")
	srv := serve(t, c, o)

	get(t, srv.URL+"/z").want(t, 200, "v01")
	get(t, srv.URL+"/z").want(t, 200, "v01")
	rs.Kill()
	for i, p := range []string{"/a", "/b", "/c"} {
		do(t, http.MethodPost, srv.URL+p).want(t, 200, "v0"+string(rune('2'+i)))
	}
	rs.Restart()
	for c.Ping(context.Background()) != nil { // until the client has reconnected
		clk.Advance(time.Millisecond)
	}
	rs.MustDo("SET", "http:/z never-dropped", "x") // under the prefix, as a stored response would be
	rs.MustDo("SET", "http:other", "x")            // shares the prefix but is no response: it stays
	// A retry may still meet a connection from before the restart (EOF): then the gate pauses and the
	// next request past the pause tries again. Every request meanwhile goes to the handler.
	for try := 0; ; try++ {
		clk.Advance(time.Minute)
		get(t, srv.URL+"/z").want(t, 200, fmt.Sprintf("v%02d", 5+try))
		if n, _ := rs.Do("EXISTS", "http:/z never-dropped"); n == int64(0) {
			if n, _ := rs.Do("EXISTS", "http:other"); n != int64(1) {
				t.Errorf("EXISTS of a key that is not the middleware's = %v, want 1", n)
			}
			break
		} else if try == 4 {
			t.Fatalf("EXISTS of a key under the prefix after %d retries = %v, want 0", try+1, n)
		}
	}
}

// coreOnly is a memory backend seen through the Backend core alone: it cannot delete by pattern.
type coreOnly struct{ backends.Backend }

// A failed invalidation that fails again for another reason than an unavailable backend (here a
// backend that cannot delete by pattern) keeps the cache bypassed, with one record per 10 s, not
// one per request.
func TestFailedInvalidationNotUnavailable(t *testing.T) {
	clk := backendtest.NewClock()
	c := cashews.New(cashews.WithClock(clk))
	t.Cleanup(func() { c.Close() })
	if err := c.SetupBackend(coreOnly{memory.New(memory.Options{})}, ""); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	o := headersHandler("Cache-Control", "max-age=600")
	srv := serve(t, c, o, Drop("/"), Logger(slog.New(slog.NewTextHandler(&logs, nil))))

	get(t, srv.URL+"/a").want(t, 200, "v01")
	get(t, srv.URL+"/a").want(t, 200, "v01")
	do(t, http.MethodPost, srv.URL+"/b").want(t, 200, "v02") // Drop("/") cannot run
	for i := 3; i <= 6; i++ {
		get(t, srv.URL+"/a").want(t, 200, fmt.Sprintf("v%02d", i)) // bypassed, never v01
	}
	if n := strings.Count(logs.String(), "retry of a failed invalidation failed"); n != 1 {
		t.Errorf("%d records of the failed retries in one instant, want 1:\n%s", n, logs.String())
	}
	clk.Advance(11 * time.Second)
	get(t, srv.URL+"/a").want(t, 200, "v07")
	if n := strings.Count(logs.String(), "retry of a failed invalidation failed"); n != 2 {
		t.Errorf("%d records after 11 s, want 2", n)
	}
}

// onRedis returns a Cache on a new redis-server, with an injected clock.
func onRedis(t *testing.T) (*redistest.Server, *backendtest.Clock, *cashews.Cache) {
	t.Helper()
	rs := redistest.Start(t)
	clk := backendtest.NewClock()
	c := cashews.New(cashews.WithClock(clk))
	t.Cleanup(func() { c.Close() })
	if err := c.Setup(rs.URL()); err != nil {
		t.Fatal(err)
	}
	return rs, clk, c
}
