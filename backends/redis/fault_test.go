package redis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/internal/redistest"
	"github.com/cashews-go/cashews/internal/testenv"
)

// slack is what a call may take beyond the backend's timeout.
const slack = 50 * time.Millisecond

// load runs 64 goroutines doing 90% Get and 10% Set on the backend until stop is closed, and
// records each call's outcome.
type load struct {
	mu      sync.Mutex
	calls   []call
	panics  atomic.Int64
	started time.Time
	wg      sync.WaitGroup
}

type call struct {
	at  time.Duration // when the call started, since the load started
	dur time.Duration
	err error
}

func runLoad(b backends.Backend, stop <-chan struct{}) *load {
	l := &load{started: time.Now()}
	for g := 0; g < 64; g++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer func() {
				if r := recover(); r != nil {
					l.panics.Add(1)
				}
			}()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			var local []call
			for {
				select {
				case <-stop:
					l.mu.Lock()
					l.calls = append(l.calls, local...)
					l.mu.Unlock()
					return
				default:
				}
				k := "load:" + strconv.Itoa(rng.IntN(1000))
				start := time.Now()
				var err error
				if rng.IntN(10) == 0 {
					_, err = b.Set(context.Background(), k, []byte("value-"+k), time.Minute, backends.SetAlways)
				} else {
					var v any
					var found bool
					v, found, err = b.Get(context.Background(), k)
					if err == nil && found && string(v.([]byte)) != "value-"+k {
						err = fmt.Errorf("Get(%s) returned %q, another key's value", k, v)
						l.panics.Add(1) // a wrong value is as bad as a panic
					}
				}
				local = append(local, call{at: start.Sub(l.started), dur: time.Since(start), err: err})
			}
		}()
	}
	return l
}

// done waits for the load's goroutines, after stop was closed.
func (l *load) done() { l.wg.Wait() }

// TestKillUnderLoad: redis-server is killed under the load of 64 goroutines and restarted on the
// same port. No call panics or returns another key's value, no call takes longer than the timeout
// plus 50ms, and within 2s of the restart service is back (99% of the calls of each 100ms
// succeed).
func TestKillUnderLoad(t *testing.T) {
	testenv.RequireTiming(t)
	forEachFaultEngine(t, func(t *testing.T, srv *redistest.Server, b *Backend) {
		stalls := startStallMeter(t)
		stop := make(chan struct{})
		l := runLoad(b, stop)
		time.Sleep(500 * time.Millisecond) // the load runs against a healthy server
		killedAt := time.Since(l.started)
		srv.Kill()
		time.Sleep(500 * time.Millisecond) // the server is down
		srv.Restart()
		restartedAt := time.Since(l.started)
		time.Sleep(2200 * time.Millisecond) // recovery must show within 2s
		close(stop)
		l.done()
		report(t, l, stalls, b.timeout, killedAt, restartedAt)
	})
}

// forEachFaultEngine runs test on a server of its own with each engine at the default timeout.
func forEachFaultEngine(t *testing.T, test func(t *testing.T, srv *redistest.Server, b *Backend)) {
	for _, params := range []string{"", "always_pipelining=true", "driver=go-redis", "client_side=true"} {
		name := params
		if name == "" {
			name = "rueidis"
		}
		t.Run(name, func(t *testing.T) {
			srv := server(t)
			test(t, srv, openURL(t, withParams(srv.URL(), params)))
		})
	}
}

// excusedStall is how much machine stall during a call excuses its failure: a call that fails at its
// deadline while the machine stood still for this long says nothing about the backend.
const excusedStall = 20 * time.Millisecond

// report checks and logs the figures of a fault run: no panic or wrong value; no call slower than
// the timeout plus 50ms (plus the machine's stalls meanwhile); no failure before the fault and,
// within 2s of the heal, a 100ms stretch where at most 1% of the calls fail (failures during machine
// stalls excused in both).
func report(t *testing.T, l *load, stalls *stallMeter, timeout, faultAt, healedAt time.Duration) {
	t.Helper()
	if n := l.panics.Load(); n != 0 {
		t.Fatalf("%d goroutines panicked or read a wrong value, want 0", n)
	}
	var (
		durs                     []time.Duration
		errs, before, slow, excd int
		firstErr, slowReport     error
	)
	buckets := map[int][2]int{} // 100ms buckets after the heal: calls, unexcused failures
	for _, c := range l.calls {
		durs = append(durs, c.dur)
		start := l.started.Add(c.at)
		var stall time.Duration
		if c.err != nil || c.dur > timeout+slack {
			stall = stalls.during(start, start.Add(c.dur))
		}
		if c.dur > timeout+slack+stall {
			slow++
			if slowReport == nil {
				slowReport = fmt.Errorf("a call at %s took %s, with machine stalls of %s meanwhile (error: %v)", c.at, c.dur, stall, c.err)
			}
		}
		failed := c.err != nil && stall < excusedStall
		if c.err != nil {
			errs++
			if firstErr == nil {
				firstErr = c.err
			}
			if !failed {
				excd++
			}
		}
		if c.at+c.dur < faultAt && failed { // ended before the fault began
			before++
			if before == 1 {
				t.Logf("first failure before the fault: a call at %s took %s (machine stalls %s): %v", c.at, c.dur, stall, c.err)
			}
		}
		if c.at >= healedAt {
			i := int((c.at - healedAt) / (100 * time.Millisecond))
			bk := buckets[i]
			bk[0]++
			if failed {
				bk[1]++
			}
			buckets[i] = bk
		}
	}
	slices.Sort(durs)
	recovered := time.Duration(-1)
	for i := 0; i < 100; i++ {
		bk, ok := buckets[i]
		if !ok {
			continue
		}
		if bk[0] > 0 && float64(bk[1]) <= 0.01*float64(bk[0]) {
			recovered = time.Duration(i+1) * 100 * time.Millisecond
			break
		}
	}
	t.Logf("%d calls, %d errors (%d during machine stalls; first: %v); latency p50 %s, p99 %s, max %s; %d calls over timeout+%s beyond the machine's stalls (worst stall %s); service back within %s of the heal",
		len(durs), errs, excd, firstErr, durs[len(durs)/2], durs[len(durs)*99/100], durs[len(durs)-1], slow, slack, stalls.worst(), recovered)
	if before > 0 {
		t.Errorf("%d calls failed before the fault while the machine was not stalled, want 0", before)
	}
	if slow > 0 {
		t.Errorf("%d calls took longer than the timeout %s + %s plus the machine's stalls; first: %v", slow, timeout, slack, slowReport)
	}
	if recovered < 0 || recovered > 2*time.Second {
		t.Errorf("service back after %v, want within 2s (99%% of the calls of 100ms succeeding)", recovered)
	}
}

// TestFrozenServer: with the server stopped (SIGSTOP; the kernel still accepts connections), every
// call of 64 goroutines returns within the timeout plus 50ms, and service comes back after SIGCONT.
func TestFrozenServer(t *testing.T) {
	testenv.RequireTiming(t)
	forEachFaultEngine(t, func(t *testing.T, srv *redistest.Server, b *Backend) {
		stalls := startStallMeter(t)
		stop := make(chan struct{})
		l := runLoad(b, stop)
		time.Sleep(300 * time.Millisecond)
		frozenAt := time.Since(l.started)
		srv.Freeze()
		time.Sleep(700 * time.Millisecond)
		srv.Thaw()
		thawedAt := time.Since(l.started)
		time.Sleep(2200 * time.Millisecond) // recovery must show within 2s
		close(stop)
		l.done()
		report(t, l, stalls, b.timeout, frozenAt, thawedAt)
	})
}
