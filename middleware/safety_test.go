package middleware

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cashews-go/cashews/internal/testenv"
)

// stream opens a GET whose body the test reads line by line; the request is cancelled at cleanup.
type stream struct {
	resp   *http.Response
	br     *bufio.Reader
	cancel context.CancelFunc
}

func openStream(t *testing.T, url string, kv ...string) *stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Add(kv[i], kv[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return &stream{resp: resp, br: bufio.NewReader(resp.Body), cancel: cancel}
}

// line reads the next line; the stream's 10 s deadline turns a request that queues into a failure.
func (s *stream) line(t *testing.T) string {
	t.Helper()
	l, err := s.br.ReadString('\n')
	if err != nil {
		t.Fatalf("read: %q, %v", l, err)
	}
	return l
}

func (s *stream) rest(t *testing.T) string {
	t.Helper()
	b, err := io.ReadAll(s.br)
	if err != nil {
		t.Fatalf("read the rest: %q, %v", b, err)
	}
	return string(b)
}

// A second client of an uncacheable streaming URL gets its first byte while the first client's
// stream goes on: it never waits on a body streamed to someone else.
func TestUncacheableStreamDoesNotQueue(t *testing.T) {
	tests := []struct {
		name string
		kv   []string
	}{
		{"event stream", []string{"Content-Type", "text/event-stream", "Cache-Control", "max-age=60"}},
		{"no-store", []string{"Cache-Control", "no-store"}},
		{"private", []string{"Cache-Control", "private, max-age=60"}},
		{"says nothing", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newCache(t, "mem://")
			stop := make(chan struct{})
			o := &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
				for i := 0; i+1 < len(tc.kv); i += 2 {
					w.Header().Set(tc.kv[i], tc.kv[i+1])
				}
				io.WriteString(w, "data: "+itoa(n)+"\n")
				http.NewResponseController(w).Flush()
				select { // an endless stream, until the test ends or the client goes
				case <-stop:
				case <-r.Context().Done():
				}
			}}
			srv := serve(t, c, o)
			t.Cleanup(func() { close(stop) }) // before srv.Close, which waits for the handlers

			first := openStream(t, srv.URL+"/events")
			if got := first.line(t); got != "data: 01\n" {
				t.Fatalf("first client: %q", got)
			}
			for i, want := range []string{"data: 02\n", "data: 03\n"} {
				start := time.Now()
				next := openStream(t, srv.URL+"/events")
				got := next.line(t)
				elapsed := time.Since(start)
				if got != want {
					t.Fatalf("client %d: %q, want %q", i+2, got, want)
				}
				t.Logf("client %d: first byte after %v while the first stream goes on", i+2, elapsed)
				if testenv.Timing() && elapsed > 50*time.Millisecond {
					t.Errorf("client %d waited %v for its first byte, want at most 50ms", i+2, elapsed)
				}
			}
			wantCalls(t, o, 3)
		})
	}
}

// A request whose leader has not written its header (a long poll) waits at most CollapseWait.
func TestCollapseWaitBoundsTheWait(t *testing.T) {
	c, _ := newCache(t, "mem://")
	stop := make(chan struct{})
	o := &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			select { // no header until the test ends
			case <-stop:
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, "v"+itoa(n))
	}}
	srv := serve(t, c, o, CollapseWait(20*time.Millisecond))
	t.Cleanup(func() { close(stop) })
	go func() {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/poll", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	waitFor(t, func() bool { return o.calls.Load() == 1 })
	get(t, srv.URL+"/poll").want(t, 200, "v02") // while the first request still holds its header
}

// Once a URL's response could not be stored, later requests for it do not wait for each other.
func TestPassMarkSkipsCollapsing(t *testing.T) {
	for _, vary := range []string{"", "Accept-Language"} {
		t.Run("vary="+vary, func(t *testing.T) {
			c, _ := newCache(t, "mem://")
			stop := make(chan struct{})
			o := &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 2 {
					select {
					case <-stop:
					case <-r.Context().Done():
					}
				}
				w.Header().Set("Cache-Control", "private")
				if vary != "" {
					w.Header().Set("Vary", vary)
				}
				io.WriteString(w, "v"+itoa(n))
			}}
			srv := serve(t, c, o, CollapseWait(time.Hour)) // a request 3 that waits for request 2 times out
			t.Cleanup(func() { close(stop) })
			get(t, srv.URL+"/me").want(t, 200, "v01")
			go func() {
				if resp, err := http.Get(srv.URL + "/me"); err == nil {
					resp.Body.Close()
				}
			}()
			waitFor(t, func() bool { return o.calls.Load() == 2 })
			get(t, srv.URL+"/me").want(t, 200, "v03") // while request 2 is held
		})
	}
}

// Followers of a response that will be stored read it as the handler writes it, without waiting for
// the whole body; the handler runs once and the response is stored.
func TestCollapsedFollowersReadWhileWriting(t *testing.T) {
	c, _ := newCache(t, "mem://")
	release := make(chan struct{})
	var once sync.Once
	releaseOnce := func() { once.Do(func() { close(release) }) }
	o := &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "part1\n")
		http.NewResponseController(w).Flush()
		<-release
		io.WriteString(w, "part2\n")
	}}
	srv := serve(t, c, o)
	t.Cleanup(releaseOnce)

	leader := openStream(t, srv.URL+"/big")
	if got := leader.line(t); got != "part1\n" {
		t.Fatalf("leader: %q", got)
	}
	follower := openStream(t, srv.URL+"/big")
	if got := follower.line(t); got != "part1\n" { // before the handler wrote part2
		t.Fatalf("follower: %q", got)
	}
	if got := follower.resp.Header.Get("Cache-Status"); got != "cashews; fwd=uri-miss; collapsed" {
		t.Fatalf("follower Cache-Status = %q", got)
	}
	releaseOnce()
	if got := follower.rest(t); got != "part2\n" {
		t.Fatalf("follower rest: %q", got)
	}
	if got := leader.rest(t); got != "part2\n" {
		t.Fatalf("leader rest: %q", got)
	}
	get(t, srv.URL+"/big").want(t, 200, "part1\npart2\n")
	wantCalls(t, o, 1)
}

// When the leader's client goes away, the handler finishes for the followers (its context stays
// alive) and the response is stored; with nobody left, the handler's context is cancelled.
func TestFollowersOutliveTheLeader(t *testing.T) {
	c, _ := newCache(t, "mem://")
	release := make(chan struct{})
	var once sync.Once
	releaseOnce := func() { once.Do(func() { close(release) }) }
	handlerErr := make(chan error, 2)
	o := &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "part1\n")
		http.NewResponseController(w).Flush()
		wait := release
		if r.URL.Path == "/alone" {
			wait = nil // only the client's going away ends it
		}
		select {
		case <-wait:
		case <-r.Context().Done():
		case <-time.After(20 * time.Second):
		}
		handlerErr <- r.Context().Err()
		io.WriteString(w, "part2\n")
	}}
	mw, err := Cache(c)
	if err != nil {
		t.Fatal(err)
	}
	h := mw(o).(*handler)
	srv := newServer(t, h)
	t.Cleanup(releaseOnce)
	flightOf := func(path string) *flight {
		h.flights.mu.Lock()
		defer h.flights.mu.Unlock()
		for k, f := range h.flights.m {
			if strings.Contains(k, path+" ") {
				return f
			}
		}
		return nil
	}
	gone := func(f *flight) bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.leaderGone
	}

	leader := openStream(t, srv.URL+"/shared")
	leader.line(t)
	follower := openStream(t, srv.URL+"/shared")
	follower.line(t)
	f := flightOf("/shared")
	if f == nil {
		t.Fatal("no flight for /shared")
	}
	leader.cancel() // the leader's client goes away
	waitFor(t, func() bool { return gone(f) })
	releaseOnce()
	if err := <-handlerErr; err != nil {
		t.Fatalf("handler context: %v, want alive while a follower reads", err)
	}
	if got := follower.rest(t); got != "part2\n" {
		t.Fatalf("follower rest: %q", got)
	}
	get(t, srv.URL+"/shared").want(t, 200, "part1\npart2\n")
	wantCalls(t, o, 1)

	// Alone, a leader that goes away cancels its handler.
	alone := openStream(t, srv.URL+"/alone")
	alone.line(t)
	alone.cancel()
	select {
	case err := <-handlerErr:
		if err == nil {
			t.Fatal("handler context alive after its only client left")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("handler not cancelled 10s after its only client left")
	}
}

// A follower that falls more than the limit behind the handler is cut off; one that keeps up reads
// the whole body, which is no longer stored.
func TestFlightWindow(t *testing.T) {
	f := newFlight("k", 10)
	f.publishStream(&Response{Status: 200, Header: http.Header{}}, nil, "", "miss")
	for range 2 { // two followers
		if !f.attach(http.Header{}) {
			t.Fatal("attach refused on a whole flight")
		}
	}
	f.write([]byte("01234567"))
	bufs, off, state, _ := f.read(0)
	if len(bufs) != 1 || string(bufs[0]) != "01234567" || off != 8 || state != readMore {
		t.Fatalf("read(0) = %q, %d, %v", bufs, off, state)
	}
	if !f.write([]byte("89abcdef")) {
		t.Fatal("write past the limit did not report the overflow")
	}
	if f.attach(http.Header{}) {
		t.Fatal("a follower joined after the body outgrew the limit")
	}
	f.write([]byte(strings.Repeat("x", 600))) // a new chunk: the first one is dropped
	if _, _, state, _ := f.read(0); state != readFailed {
		t.Fatalf("a reader 616 bytes behind: state %v, want readFailed", state)
	}
	bufs, _, state, _ = f.read(16)
	if len(bufs) != 1 || len(bufs[0]) != 600 || state != readMore {
		t.Fatalf("read(16) = %d bufs, %v", len(bufs), state)
	}
	if body, whole := f.finish(true); whole || body != nil {
		t.Fatalf("finish: whole = %v, want false after an overflow", whole)
	}
	if _, _, state, _ := f.read(616); state != readDone {
		t.Fatalf("read at the end: %v, want readDone", state)
	}
}

// Repeated and qualified directives: the most restrictive reading wins, so a page marked private
// (or no-cache) anywhere is never served to someone else.
func TestDuplicateDirectivesNeverStore(t *testing.T) {
	tests := [][]string{
		{`max-age=60, private="Set-Cookie"`, `private`},
		{`max-age=60, no-cache="Set-Cookie"`, `no-cache`},
		{`max-age=60, private="Set-Cookie", private`},
		{`private, max-age=60, private="Set-Cookie"`},
		{`max-age=60`, `no-store`},
		{`max-age=60, max-age=0`},
	}
	for _, lines := range tests {
		t.Run(strings.Join(lines, " / "), func(t *testing.T) {
			c, _ := newCache(t, "mem://")
			o := &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
				for _, l := range lines {
					w.Header().Add("Cache-Control", l)
				}
				w.Header().Set("Set-Cookie", "session="+r.Header.Get("X-User"))
				io.WriteString(w, "page of "+r.Header.Get("X-User"))
			}}
			srv := serve(t, c, o)
			get(t, srv.URL+"/account", "X-User", "alice", "Cookie", "a=1").want(t, 200, "page of alice")
			r := get(t, srv.URL+"/account", "X-User", "bob", "Cookie", "b=1")
			r.want(t, 200, "page of bob")
			if got := r.header.Get("Set-Cookie"); got != "session=bob" {
				t.Fatalf("bob got Set-Cookie %q", got)
			}
			wantCalls(t, o, 2)
			if n, err := c.KeysCount(context.Background()); err != nil || n != 0 {
				t.Fatalf("keys stored: %d, %v; want none", n, err)
			}
		})
	}
}

// An error an attacker can provoke is not stored for DefaultTTL, for instance a 405 answered to a
// method-override header the cache does not key on.
func TestDefaultTTLDoesNotStoreErrors(t *testing.T) {
	c, _ := newCache(t, "mem://")
	o := &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
		if r.Header.Get("X-HTTP-Method-Override") != "" {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		io.WriteString(w, "v"+itoa(n))
	}}
	srv := serve(t, c, o, DefaultTTL(time.Hour))
	get(t, srv.URL+"/item", "X-HTTP-Method-Override", "DELETE").want(t, 405, "method not allowed\n")
	get(t, srv.URL+"/item").want(t, 200, "v02")
	get(t, srv.URL+"/item").want(t, 200, "v02") // the 200 is stored for DefaultTTL

	c2, _ := newCache(t, "mem://")
	o2 := &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
		http.Error(w, "gone "+itoa(n), http.StatusNotFound)
	}}
	optIn := serve(t, c2, o2, DefaultTTL(time.Hour), DefaultTTLStatuses(404))
	get(t, optIn.URL+"/x").want(t, 404, "gone 01\n")
	get(t, optIn.URL+"/x").want(t, 404, "gone 01\n")
}

// A GET with content is neither answered from the cache nor stored.
func TestGetWithContentBypasses(t *testing.T) {
	c, _ := newCache(t, "mem://")
	o := &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "v"+itoa(n)+string(b))
	}}
	srv := serve(t, c, o)
	send := func(body string) result {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/q", strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return result{resp.StatusCode, resp.Header, string(b)}
	}
	r := send("{a}")
	r.want(t, 200, "v01{a}")
	if got := r.header.Get("Cache-Status"); !strings.Contains(got, "fwd=bypass") {
		t.Fatalf("Cache-Status = %q, want a bypass", got)
	}
	get(t, srv.URL+"/q").want(t, 200, "v02") // the answer to the GET with content was not stored
	get(t, srv.URL+"/q").want(t, 200, "v02")
	send("{b}").want(t, 200, "v03{b}") // nor is it answered from the cache
	get(t, srv.URL+"/q").want(t, 200, "v02")
}

// A Range request on a hit gets 206 with the right bytes from the stored response.
func TestRangeFromStoredResponse(t *testing.T) {
	for name, url := range backendURLs(t) {
		t.Run(name, func(t *testing.T) {
			c, _ := newCache(t, url)
			var ranges []string
			o := &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
				ranges = append(ranges, r.Header.Get("Range"))
				w.Header().Set("Cache-Control", "max-age=60")
				w.Header().Set("ETag", `"e1"`)
				w.Header().Set("Date", "Wed, 01 Jan 2025 00:00:10 GMT")
				w.Header().Set("Last-Modified", "Wed, 01 Jan 2025 00:00:00 GMT")
				io.WriteString(w, "0123456789")
			}}
			srv := serve(t, c, o)
			get(t, srv.URL+"/file").want(t, 200, "0123456789")
			tests := []struct {
				kv     []string
				status int
				body   string
				cr     string
			}{
				{[]string{"Range", "bytes=0-1"}, 206, "01", "bytes 0-1/10"},
				{[]string{"Range", "bytes=5-"}, 206, "56789", "bytes 5-9/10"},
				{[]string{"Range", "bytes=-3"}, 206, "789", "bytes 7-9/10"},
				{[]string{"Range", "bytes=-30"}, 206, "0123456789", "bytes 0-9/10"},
				{[]string{"Range", "bytes=8-100"}, 206, "89", "bytes 8-9/10"},
				{[]string{"Range", "bytes=10-"}, 416, "", "bytes */10"},
				{[]string{"Range", "bytes=-0"}, 416, "", "bytes */10"},
				{[]string{"Range", "bytes=0-1,4-5"}, 200, "0123456789", ""},
				{[]string{"Range", "bytes=5-2"}, 200, "0123456789", ""},
				{[]string{"Range", "items=0-1"}, 200, "0123456789", ""},
				{[]string{"Range", "bytes=0-1", "If-Range", `"e1"`}, 206, "01", "bytes 0-1/10"},
				{[]string{"Range", "bytes=0-1", "If-Range", `"e2"`}, 200, "0123456789", ""},
				{[]string{"Range", "bytes=0-1", "If-Range", `W/"e1"`}, 200, "0123456789", ""},
				{[]string{"Range", "bytes=0-1", "If-Range", "Wed, 01 Jan 2025 00:00:00 GMT"}, 206, "01", "bytes 0-1/10"},
				{[]string{"Range", "bytes=0-1", "If-Range", "Wed, 01 Jan 2025 00:00:01 GMT"}, 200, "0123456789", ""},
				{[]string{"Range", "bytes=0-1", "If-None-Match", `"e1"`}, 304, "", ""},
			}
			for _, tc := range tests {
				r := get(t, srv.URL+"/file", tc.kv...)
				if r.status != tc.status || r.body != tc.body || r.header.Get("Content-Range") != tc.cr {
					t.Errorf("%q: got %d %q Content-Range %q, want %d %q %q", tc.kv, r.status, r.body, r.header.Get("Content-Range"), tc.status, tc.body, tc.cr)
				}
				if tc.status == 206 && r.header.Get("Content-Length") != strconv.Itoa(len(tc.body)) {
					t.Errorf("%q: Content-Length %q for %d bytes", tc.kv, r.header.Get("Content-Length"), len(tc.body))
				}
			}
			r := do(t, http.MethodHead, srv.URL+"/file", "Range", "bytes=0-1")
			r.want(t, 200, "")
			wantCalls(t, o, 1)
			get(t, srv.URL+"/other", "Range", "bytes=0-1") // a miss goes to the handler as it is
			if ranges[len(ranges)-1] != "bytes=0-1" {
				t.Fatalf("the handler saw Range %q on a miss, want it passed on", ranges[len(ranges)-1])
			}
		})
	}
}

// StaleIfError serves a stored response past its freshness when the handler fails, unless the
// response forbids serving it stale.
func TestStaleIfErrorOption(t *testing.T) {
	tests := []struct {
		cc    string
		stale bool
	}{
		{"max-age=10", true},
		{"max-age=10, must-revalidate", false},
		{"max-age=10, proxy-revalidate", false},
		{"s-maxage=10", false},
		{"max-age=10, no-cache", false},
		{"max-age=10, stale-if-error=5", false}, // its own, shorter, allowance rules
	}
	for _, tc := range tests {
		t.Run(tc.cc, func(t *testing.T) {
			c, clk := newCache(t, "mem://")
			o := &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
				if n > 1 {
					http.Error(w, "bad gateway", http.StatusBadGateway)
					return
				}
				w.Header().Set("Cache-Control", tc.cc)
				w.Header().Set("ETag", `"x"`)
				io.WriteString(w, "good")
			}}
			srv := serve(t, c, o, StaleIfError(time.Minute))
			get(t, srv.URL+"/e").want(t, 200, "good")
			clk.Advance(30 * time.Second)
			r := get(t, srv.URL+"/e")
			if tc.stale {
				r.want(t, 200, "good")
				if got := r.header.Get("Cache-Status"); !strings.Contains(got, "stale-if-error") {
					t.Fatalf("Cache-Status = %q", got)
				}
				clk.Advance(time.Minute) // past the allowance
				get(t, srv.URL+"/e").want(t, 502, "bad gateway\n")
			} else {
				r.want(t, 502, "bad gateway\n")
			}
		})
	}
	c, clk := newCache(t, "mem://")
	o := &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
		if n > 1 {
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return
		}
		w.Header().Set("Cache-Control", "max-age=10")
		io.WriteString(w, "good")
	}}
	srv := serve(t, c, o) // off by default
	get(t, srv.URL+"/e").want(t, 200, "good")
	clk.Advance(30 * time.Second)
	get(t, srv.URL+"/e").want(t, 502, "bad gateway\n")
}

// CDN-Cache-Control rules this cache over Cache-Control and Expires; TargetedFields changes the
// field names.
func TestTargetedFields(t *testing.T) {
	tests := []struct {
		name   string
		kv     []string
		opts   []Option
		stored bool
	}{
		{"CDN max-age over CC no-store", []string{"Cache-Control", "no-store", "CDN-Cache-Control", "max-age=60"}, nil, true},
		{"CDN no-store over CC max-age", []string{"Cache-Control", "max-age=60", "CDN-Cache-Control", "no-store"}, nil, false},
		{"CDN private", []string{"Cache-Control", "max-age=60", "CDN-Cache-Control", "private"}, nil, false},
		{"CDN max-age=0", []string{"Cache-Control", "max-age=60", "CDN-Cache-Control", "max-age=0"}, nil, false},
		{"invalid CDN is ignored", []string{"Cache-Control", "no-store", "CDN-Cache-Control", "max-age=60, &&"}, nil, false},
		{"off", []string{"Cache-Control", "no-store", "CDN-Cache-Control", "max-age=60"}, []Option{TargetedFields()}, false},
		{"own name first", []string{"Cashews-Cache-Control", "max-age=60", "CDN-Cache-Control", "no-store"}, []Option{TargetedFields("Cashews-Cache-Control", "CDN-Cache-Control")}, true},
		{"own name absent: next", []string{"Cache-Control", "max-age=60", "CDN-Cache-Control", "no-store"}, []Option{TargetedFields("Cashews-Cache-Control", "CDN-Cache-Control")}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newCache(t, "mem://")
			o := &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
				for i := 0; i+1 < len(tc.kv); i += 2 {
					w.Header().Add(tc.kv[i], tc.kv[i+1])
				}
				io.WriteString(w, "v"+itoa(n))
			}}
			srv := serve(t, c, o, tc.opts...)
			get(t, srv.URL+"/t").want(t, 200, "v01")
			want := "v02"
			if tc.stored {
				want = "v01"
			}
			get(t, srv.URL+"/t").want(t, 200, want)
		})
	}
}

// A follower that selects another variant of a varying response does not read the leader's.
func TestCollapsedFollowerOfAnotherVariant(t *testing.T) {
	c, _ := newCache(t, "mem://")
	release := make(chan struct{})
	var once sync.Once
	releaseOnce := func() { once.Do(func() { close(release) }) }
	o := &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
		lang := r.Header.Get("Accept-Language")
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Language")
		io.WriteString(w, lang+"1\n")
		http.NewResponseController(w).Flush()
		if lang == "en" {
			<-release
		}
		io.WriteString(w, lang+"2\n")
	}}
	srv := serve(t, c, o)
	t.Cleanup(releaseOnce)
	leader := openStream(t, srv.URL+"/v", "Accept-Language", "en")
	leader.line(t)
	get(t, srv.URL+"/v", "Accept-Language", "fr").want(t, 200, "fr1\nfr2\n") // while the leader is held
	same := openStream(t, srv.URL+"/v", "Accept-Language", "EN")
	if got := same.line(t); got != "en1\n" {
		t.Fatalf("follower of the same variant: %q", got)
	}
	releaseOnce()
	if got := same.rest(t); got != "en2\n" {
		t.Fatalf("follower rest: %q", got)
	}
	leader.rest(t)
	wantCalls(t, o, 2)
}

// A complete response may still be read by a late follower after its handler's context was
// cancelled (the leader left and the last follower finished), until the flight is removed.
func TestLateFollowerOfACompleteFlight(t *testing.T) {
	f := newFlight("k", 100)
	cancelled := false
	f.setCancel(func() { cancelled = true })
	f.publishStream(&Response{Status: 200, Header: http.Header{}}, nil, "", "miss")
	if !f.attach(http.Header{}) {
		t.Fatal("attach refused")
	}
	f.write([]byte("body"))
	f.leaderLeft()
	if _, whole := f.finish(true); !whole {
		t.Fatal("finish: not whole")
	}
	f.detach()
	if !cancelled {
		t.Fatal("handler context not cancelled with the leader gone and no follower left")
	}
	if !f.attach(http.Header{}) {
		t.Fatal("a late follower of a complete response was refused")
	}
	if bufs, _, state, _ := f.read(0); len(bufs) != 1 || string(bufs[0]) != "body" || state != readMore {
		t.Fatalf("late follower read %q, %v", bufs, state)
	}
	if _, _, state, _ := f.read(4); state != readDone {
		t.Fatalf("late follower at the end: %v, want readDone", state)
	}
}
