package middleware

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Request collapsing. Concurrent misses of one URL send one request to the handler (the leader); the
// others (followers) wait for its response header and no longer:
//
//   - when the response will be stored, each follower reads it from the flight as the handler writes
//     it (read-while-writer), at its own pace: the leader never waits for a follower, and a follower
//     never waits for the whole body to reach someone else;
//   - when it will not be stored, the followers go to the handler themselves at once, and the URL is
//     marked "pass" for passTime, so that later requests do not wait at all (until a response of the
//     URL is stored again);
//   - a follower waits at most CollapseWait for the header.
//
// While followers read a response, the handler's context is detached from the leader's client: if
// the leader goes away, the handler still finishes for the followers (and the response is stored);
// it is cancelled when the leader is gone and no follower is left.

// passTime is how long a URL whose response could not be stored is not collapsed.
const passTime = time.Minute

// maxPass bounds the number of URLs marked pass.
const maxPass = 10000

type outcome int

const (
	outcomeLookup outcome = iota // look in the cache again: the leader stored or refreshed it, or failed before a header
	outcomePass                  // go to the handler: the response will not be stored
	outcomeStream                // read the response from the flight
)

// flight is one request at the handler, with what its followers need: the outcome, and for a
// response that will be stored, its header and its body as far as it has been written.
type flight struct {
	key    string
	ready  chan struct{} // closed once outcome is set
	shared bool          // in the flights map: followers may join

	// Set before ready is closed, immutable afterwards.
	outcome outcome
	resp    *Response // the response as it will be stored (Body is filled when complete)
	vary    []string  // the fields it varies on
	variant string    // the leader's values of those fields (variantOf), to match the followers'
	miss    string    // the Cache-Status fwd value of the leader

	mu         sync.Mutex
	published  bool
	cancel     context.CancelFunc // cancels the handler's context when nobody reads the response
	cancelled  bool
	leaderGone bool
	followers  int
	limit      int64    // the most bytes held for followers that fall behind, and the most stored
	chunks     [][]byte // the body bytes [base, end)
	base, end  int64
	whole      bool // every byte from 0 is held: the response can be stored and followers may join
	done       bool // the body is complete
	failed     bool // the handler failed (or was cancelled) before the body was complete
	wake       chan struct{}
}

func newFlight(key string, limit int) *flight {
	return &flight{key: key, ready: make(chan struct{}), limit: int64(limit), whole: true}
}

// flights are the requests at the handler by URL key, and the URLs marked pass.
type flights struct {
	mu   sync.Mutex
	m    map[string]*flight
	pass map[string]time.Time
}

// join makes the caller the leader of a new flight for key, or returns the flight in progress. It
// returns nil when the URL is marked pass at now.
func (fs *flights) join(key string, limit int, now time.Time) (f *flight, leader bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if until, ok := fs.pass[key]; ok {
		if now.Before(until) {
			return nil, false
		}
		delete(fs.pass, key)
	}
	return fs.leadLocked(key, limit)
}

// lead is join without the pass marks, for background revalidation.
func (fs *flights) lead(key string, limit int) (f *flight, leader bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.leadLocked(key, limit)
}

func (fs *flights) leadLocked(key string, limit int) (*flight, bool) {
	if f, ok := fs.m[key]; ok {
		return f, false
	}
	if fs.m == nil {
		fs.m = make(map[string]*flight)
	}
	f := newFlight(key, limit)
	f.shared = true
	fs.m[key] = f
	return f, true
}

// remove takes f out of the map, so that no other request joins it.
func (fs *flights) remove(f *flight) {
	if !f.shared {
		return
	}
	fs.mu.Lock()
	if fs.m[f.key] == f {
		delete(fs.m, f.key)
	}
	fs.mu.Unlock()
}

// setPass marks key pass until until; clearPass removes the mark.
func (fs *flights) setPass(key string, until time.Time) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.pass == nil {
		fs.pass = make(map[string]time.Time)
	}
	if _, ok := fs.pass[key]; !ok && len(fs.pass) >= maxPass {
		for k, t := range fs.pass { // expired marks first, then any (map order is random)
			if t.Before(until.Add(-passTime)) {
				delete(fs.pass, k)
			}
		}
		for k := range fs.pass {
			if len(fs.pass) < maxPass {
				break
			}
			delete(fs.pass, k)
		}
	}
	fs.pass[key] = until
}

func (fs *flights) clearPass(key string) {
	fs.mu.Lock()
	if fs.pass != nil {
		delete(fs.pass, key)
	}
	fs.mu.Unlock()
}

// publish sets the outcome and wakes the followers; only the first call counts.
func (f *flight) publish(o outcome) {
	f.mu.Lock()
	if f.published {
		f.mu.Unlock()
		return
	}
	f.published = true
	f.outcome = o
	f.mu.Unlock()
	close(f.ready)
}

// publishStream publishes a response that will be stored: followers read it from the flight.
func (f *flight) publishStream(resp *Response, vary []string, variant, miss string) {
	f.resp, f.vary, f.variant, f.miss = resp, vary, variant, miss
	f.publish(outcomeStream)
}

// setCancel records the cancel function of the handler's detached context.
func (f *flight) setCancel(cancel context.CancelFunc) {
	f.mu.Lock()
	f.cancel = cancel
	f.mu.Unlock()
}

// leaderLeft is called when the leader's client is gone: the handler goes on only for followers.
func (f *flight) leaderLeft() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.leaderGone = true
	f.cancelIfUnreadLocked()
}

func (f *flight) cancelIfUnreadLocked() {
	if f.leaderGone && f.followers == 0 && f.cancel != nil && !f.cancelled {
		f.cancelled = true
		f.cancel()
	}
}

// hasFollowers reports whether someone besides the leader reads the response.
func (f *flight) hasFollowers() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.followers > 0
}

// attach adds a follower with request header reqHeader, if it may read the response from the start:
// the response is still whole, complete or with a handler that still runs, and the request selects
// the same variant.
func (f *flight) attach(reqHeader http.Header) bool {
	if len(f.vary) > 0 && variantOf(reqHeader, f.vary) != f.variant {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.whole || f.failed || (f.cancelled && !f.done) {
		return false
	}
	f.followers++
	return true
}

// detach removes a follower.
func (f *flight) detach() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.followers--
	f.cancelIfUnreadLocked()
}

// write appends a copy of p to the body. It reports whether the body just outgrew the limit: it
// will not be stored, and no new follower may join.
func (f *flight) write(p []byte) (overflow bool) {
	if len(p) == 0 {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done || f.failed {
		return false
	}
	if !f.whole && f.followers == 0 {
		// Too big to store and nobody reads it (no follower can join any more): keep nothing.
		f.end += int64(len(p))
		f.base, f.chunks = f.end, nil
		return false
	}
	if n := len(f.chunks); n > 0 && cap(f.chunks[n-1])-len(f.chunks[n-1]) >= len(p) {
		// Appending past len leaves the bytes followers may hold untouched.
		f.chunks[n-1] = append(f.chunks[n-1], p...)
	} else {
		size := max(len(p), 512)
		if n > 0 {
			size = max(len(p), min(2*cap(f.chunks[n-1]), 64<<10))
		}
		f.chunks = append(f.chunks, append(make([]byte, 0, size), p...))
	}
	f.end += int64(len(p))
	if f.whole && f.end > f.limit {
		f.whole, overflow = false, true
	}
	if !f.whole {
		// Keep at most limit bytes for followers that fall behind; none when nobody reads.
		for len(f.chunks) > 0 && (f.followers == 0 || f.end-f.base-int64(len(f.chunks[0])) >= f.limit) {
			f.base += int64(len(f.chunks[0]))
			f.chunks[0] = nil
			f.chunks = f.chunks[1:]
		}
		if len(f.chunks) == 0 {
			f.base = f.end
		}
	}
	f.wakeLocked()
	return overflow
}

func (f *flight) wakeLocked() {
	if f.wake != nil {
		close(f.wake)
		f.wake = nil
	}
}

// finish ends the body: complete (ok) or failed. It returns the whole body when it can be stored.
// Only the first call counts.
func (f *flight) finish(ok bool) (body []byte, whole bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done || f.failed {
		return nil, false
	}
	if ok {
		f.done = true
	} else {
		f.failed = true
	}
	f.wakeLocked()
	if !ok || !f.whole {
		return nil, false
	}
	switch len(f.chunks) {
	case 0:
		return []byte{}, true
	case 1:
		if c := f.chunks[0]; cap(c) <= 2*len(c) {
			return c[:len(c):len(c)], true
		}
	}
	body = make([]byte, 0, f.end)
	for _, c := range f.chunks {
		body = append(body, c...)
	}
	return body, true
}

type readState int

const (
	readMore   readState = iota // more may come: wait on the channel
	readDone                    // the body is complete
	readFailed                  // the body will not be complete, or the reader fell too far behind
)

// read returns the body bytes from offset off that are there, the offset after them, and what to do
// next; with readMore and no bytes, wait is closed when there is news.
func (f *flight) read(off int64) (bufs [][]byte, next int64, state readState, wait <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if off < f.base {
		return nil, off, readFailed, nil
	}
	pos := f.base
	for _, c := range f.chunks {
		cend := pos + int64(len(c))
		if cend > off {
			bufs = append(bufs, c[off-pos:len(c):len(c)])
			off = cend
		}
		pos = cend
	}
	switch {
	case len(bufs) > 0:
		return bufs, off, readMore, nil
	case f.done:
		return nil, off, readDone, nil
	case f.failed:
		return nil, off, readFailed, nil
	}
	if f.wake == nil {
		f.wake = make(chan struct{})
	}
	return nil, off, readMore, f.wake
}

type followResult int

const (
	followServed followResult = iota // the response was served (or the client left)
	followRetry                      // look in the cache again
	followDirect                     // go to the handler without collapsing
)

// follow waits for the flight's outcome (at most CollapseWait) and serves the response from it
// when it will be stored.
func (h *handler) follow(w http.ResponseWriter, r *http.Request, f *flight) followResult {
	timer := time.NewTimer(h.cfg.collapseWait)
	defer timer.Stop()
	select {
	case <-f.ready:
	case <-timer.C:
		return followDirect
	case <-r.Context().Done():
		return followServed
	}
	switch f.outcome {
	case outcomeLookup:
		return followRetry
	case outcomePass:
		return followDirect
	}
	if !f.attach(r.Header) {
		return followDirect
	}
	defer f.detach()
	h.serveFollower(w, r, f)
	return followServed
}

// serveFollower writes the flight's response as the handler writes it. If the body fails (or this
// client falls more than MaxBodySize behind the handler), the response is aborted, so that the
// client sees a broken response rather than a short one.
func (h *handler) serveFollower(w http.ResponseWriter, r *http.Request, f *flight) {
	resp := f.resp
	rl := h.rulesOf(resp)
	hd := w.Header()
	for k, v := range resp.Header {
		hd[k] = v[:len(v):len(v)]
	}
	hd["Age"] = []string{strconv.FormatInt(int64(rl.age(resp.ResponseTime, h.now())/time.Second), 10)}
	h.status(hd, "fwd="+f.miss+"; collapsed")
	if resp.Status == http.StatusOK && notModified(r, resp.Header) {
		delete(hd, "Content-Length")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.WriteHeader(resp.Status)
	if r.Method == http.MethodHead || !bodyAllowed(resp.Status) {
		return
	}
	rc := http.NewResponseController(w)
	var off int64
	for {
		bufs, next, state, wait := f.read(off)
		for _, b := range bufs {
			if _, err := w.Write(b); err != nil {
				return
			}
		}
		off = next
		switch state {
		case readDone:
			return
		case readFailed:
			panic(http.ErrAbortHandler)
		}
		if wait != nil {
			_ = rc.Flush()
			select {
			case <-wait:
			case <-r.Context().Done():
				return
			}
		}
	}
}
