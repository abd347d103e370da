package middleware

import (
	"net/http"
	"sync"
)

// recorder is the ResponseWriter the caching middleware hands to the next handler. The handler writes
// into its own header map; on the final status, onHeader decides what reaches the client (it writes
// the client's header itself) and whether a copy of the body is kept, up to limit bytes. Writes that
// go to the client go at once, and Flush flushes the client, so streaming keeps working.
type recorder struct {
	client   http.ResponseWriter
	h        http.Header
	onHeader func(status int) (bodyToClient, capture bool)
	limit    int

	status       int
	bodyToClient bool
	capture      bool
	overflow     bool // the body passed limit: the copy was dropped
	body         []byte
}

func (r *recorder) Header() http.Header { return r.h }

func (r *recorder) WriteHeader(code int) {
	if r.status != 0 {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		r.interim(code)
		return
	}
	r.status = code
	r.bodyToClient, r.capture = r.onHeader(code)
}

// interim forwards a 1xx response (103 Early Hints) with the handler's current header, then restores
// the client's header: as for net/http, an interim response's fields are not part of the final one.
func (r *recorder) interim(code int) {
	ch := r.client.Header()
	saved := ch.Clone()
	for k, v := range r.h {
		ch[k] = v
	}
	r.client.WriteHeader(code)
	clear(ch)
	for k, v := range saved {
		ch[k] = v
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	if r.capture {
		if len(r.body)+len(p) > r.limit {
			r.capture, r.overflow, r.body = false, true, nil
		} else {
			r.body = append(r.body, p...)
		}
	}
	if r.bodyToClient {
		return r.client.Write(p)
	}
	return len(p), nil
}

// Flush sends what was written so far to the client.
func (r *recorder) Flush() {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	if r.bodyToClient {
		_ = http.NewResponseController(r.client).Flush()
	}
}

// Unwrap returns the client's ResponseWriter, for http.ResponseController.
func (r *recorder) Unwrap() http.ResponseWriter { return r.client }

// finish writes the implicit 200 of a handler that wrote nothing.
func (r *recorder) finish() {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
}

// discard is the client of background revalidations.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header {
	if d.h == nil {
		d.h = http.Header{}
	}
	return d.h
}
func (*discard) Write(p []byte) (int, error) { return len(p), nil }
func (*discard) WriteHeader(int)             {}

// flights lets one request per key reach the handler while the others wait for it.
type flights struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

// lead makes the caller the leader for key, or returns the channel that closes when the leader is
// done.
func (f *flights) lead(key string) (leader bool, wait <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ch, ok := f.m[key]; ok {
		return false, ch
	}
	if f.m == nil {
		f.m = make(map[string]chan struct{})
	}
	f.m[key] = make(chan struct{})
	return true, nil
}

// done ends the leader's flight for key and wakes its followers.
func (f *flights) done(key string) {
	f.mu.Lock()
	ch := f.m[key]
	delete(f.m, key)
	f.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}
