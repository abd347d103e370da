package middleware

import (
	"net/http"
)

// recorder is the ResponseWriter the caching middleware hands to the next handler. The handler writes
// into its own header map; on the final status, onHeader decides what reaches the client (it writes
// the client's header itself) and whether the body is kept in the flight (for storing, and for the
// followers that read it as it grows). Writes that go to the client go at once, and Flush flushes the
// client, so streaming keeps working.
type recorder struct {
	client     http.ResponseWriter
	h          http.Header
	onHeader   func(status int) (toClient, capture bool)
	onOverflow func() // the kept body outgrew the limit
	fl         *flight

	status    int
	toClient  bool
	capture   bool
	clientErr error // a write to the client failed while followers read the response
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
	r.toClient, r.capture = r.onHeader(code)
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
	if r.capture && r.fl.write(p) {
		if r.onOverflow != nil {
			r.onOverflow()
		}
	}
	if r.toClient && r.clientErr == nil {
		n, err := r.client.Write(p)
		if err != nil {
			if r.capture && r.fl.hasFollowers() {
				// The leader's client is gone, but others read the response: go on for them.
				r.clientErr = err
				r.fl.leaderLeft()
				return len(p), nil
			}
			return n, err
		}
	}
	return len(p), nil
}

// Flush sends what was written so far to the client.
func (r *recorder) Flush() {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	if r.toClient && r.clientErr == nil {
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
