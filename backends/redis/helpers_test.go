package redis

import (
	"context"
	"io"
	"net"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/cashews-go/cashews/backends/redis/internal/driver"
	"github.com/cashews-go/cashews/backends/redis/internal/goredisdrv" // registers driver=go-redis for the tests

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/internal/redistest"
)

// openURL opens a backend through the registered factory, as the Cache does, and closes it at
// cleanup.
func openURL(t testing.TB, raw string) *Backend {
	t.Helper()
	u, p, err := backends.ParseURL(raw)
	if err != nil {
		t.Fatalf("ParseURL(%q): %v", raw, err)
	}
	f, err := backends.Lookup(u.Scheme)
	if err != nil {
		t.Fatal(err)
	}
	b, err := f(backends.Config{URL: u, Params: p, Clock: backends.SystemClock{}})
	if err != nil {
		t.Fatalf("open %q: %v", raw, err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b.(*Backend)
}

// withParams appends query parameters to a server URL.
func withParams(url, params string) string {
	if params == "" {
		return url
	}
	if strings.Contains(url, "?") {
		return url + "&" + params
	}
	return url + "?" + params
}

// engine opens a backend on a server one way.
type engine struct {
	name string
	open func(t testing.TB, url string) *Backend
}

// relaxed is the timeout of the functional tests: they check semantics, not deadlines, and the
// race detector on a loaded 2-core machine has been seen to stall a process for seconds (a loopback
// dial timed out after 5s while three Clusters started). The fault tests use the defaults.
const relaxed = "timeout=15s&dial_timeout=15s"

// engines are the ways to open the backend on one server: rueidis, go-redis from the URL, go-redis
// from the application's client, and rueidis with client-side caching.
func engines() []engine {
	return []engine{
		{"rueidis", func(t testing.TB, url string) *Backend { return openURL(t, withParams(url, relaxed)) }},
		{"goredis", func(t testing.TB, url string) *Backend {
			return openURL(t, withParams(url, relaxed+"&driver=go-redis"))
		}},
		{"fromclient", func(t testing.TB, url string) *Backend {
			opt, err := goredis.ParseURL(strings.SplitN(url, "?", 2)[0])
			if err != nil {
				t.Fatalf("goredis.ParseURL(%q): %v", url, err)
			}
			opt.ContextTimeoutEnabled = true
			c := goredis.NewClient(opt)
			t.Cleanup(func() { _ = c.Close() })
			b := newFromClient(t, c, Options{Timeout: 5 * time.Second})
			t.Cleanup(func() { _ = b.Close() })
			return b
		}},
		{"clientside", func(t testing.TB, url string) *Backend {
			return openURL(t, withParams(url, relaxed+"&client_side=true"))
		}},
	}
}

// newFromClient is goredis.NewFromClient, which the tests of this package cannot import (it imports
// this package).
func newFromClient(t testing.TB, c goredis.UniversalClient, opts Options) *Backend {
	t.Helper()
	opts.Driver = DriverGoRedis
	b, err := fromClient(opts, func(cfg driver.Config) driver.Driver { return goredisdrv.Wrap(c, cfg) })
	if err != nil {
		t.Fatalf("fromClient: %v", err)
	}
	return b.(*Backend)
}

// ctx returns a context for one test step.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond every 2ms until it holds or timeout passes, and reports whether it held.
func eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// server starts a redis-server for one test.
func server(t testing.TB) *redistest.Server { return redistest.Start(t) }

// stallMeter measures how busy the machine is, to tell a slow command from a machine too busy to
// run the test on time (a CI box shared with other jobs, the race detector on two cores). Every
// millisecond it pings a control redis-server of its own, which nothing else uses, over a raw
// connection, and reads how long tasks waited for a CPU (see cpuPressure); goroutines sleeping 1ms
// on every P note when they wake late. A stall is a ping slower than 3ms, a sleeper woken 2ms late,
// or time spent waiting for a CPU: the machine's doing (this process, a Redis process or the
// loopback could not run), not the code's. Latency checks allow
// their bound plus the stalls measured while the call ran; on a quiet machine those are about a
// millisecond, so the checks keep their bounds. Tests log the stalls next to their figures.
type stallMeter struct {
	stop, done chan struct{}
	mu         sync.Mutex
	samples    []stall    // slow pings
	pressure   []pressure // CPU pressure readings, in time order
	last       time.Time  // the end of the last measurement
	wg         sync.WaitGroup
}

type stall struct {
	from, to time.Time
}

type pressure struct {
	at    time.Time
	total time.Duration // the kernel's "some" CPU stall time so far
}

// cpuPressure returns the time tasks have waited for a CPU so far: the kernel's "some" CPU
// pressure (/proc/pressure/cpu) plus the time the hypervisor took the CPUs away (steal, in
// /proc/stat), or false when neither can be read.
func cpuPressure() (time.Duration, bool) {
	var total time.Duration
	ok := false
	if b, err := os.ReadFile("/proc/pressure/cpu"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n") // some avg10=... total=N (µs)
		if i := strings.Index(line, "total="); strings.HasPrefix(line, "some") && i >= 0 {
			if us, err := strconv.ParseInt(strings.TrimSpace(line[i+len("total="):]), 10, 64); err == nil {
				total += time.Duration(us) * time.Microsecond
				ok = true
			}
		}
	}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n") // cpu user nice system idle iowait irq softirq steal ...
		if f := strings.Fields(line); len(f) > 8 && f[0] == "cpu" {
			if ticks, err := strconv.ParseInt(f[8], 10, 64); err == nil {
				total += time.Duration(ticks) * 10 * time.Millisecond // USER_HZ is 100 on Linux
				ok = true
			}
		}
	}
	return total, ok
}

func startStallMeter(t testing.TB) *stallMeter {
	t.Helper()
	control := redistest.Start(t)
	conn, err := net.Dial("tcp", control.Addr())
	if err != nil {
		t.Fatalf("stall meter: %v", err)
	}
	m := &stallMeter{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		defer conn.Close()
		buf := make([]byte, 7)
		for {
			select {
			case <-m.stop:
				return
			default:
			}
			t0 := time.Now()
			if _, err := conn.Write([]byte("PING\r\n")); err != nil {
				return
			}
			if _, err := io.ReadFull(conn, buf); err != nil { // +PONG\r\n
				return
			}
			time.Sleep(time.Millisecond)
			t1 := time.Now()
			p, ok := cpuPressure()
			m.mu.Lock()
			m.last = t1
			if t1.Sub(t0) > 3*time.Millisecond {
				m.samples = append(m.samples, stall{t0, t1})
			}
			if ok {
				m.pressure = append(m.pressure, pressure{t1, p})
			}
			m.mu.Unlock()
		}
	}()
	// Sleepers on every P: a goroutine that wakes late says its P (its OS thread, its CPU) stood
	// still, which the pinger, running on another P, may not see.
	for i := 0; i < 2*runtime.GOMAXPROCS(0); i++ {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			for {
				select {
				case <-m.stop:
					return
				default:
				}
				t0 := time.Now()
				time.Sleep(time.Millisecond)
				if t1 := time.Now(); t1.Sub(t0) > 3*time.Millisecond {
					m.mu.Lock()
					m.samples = append(m.samples, stall{t0, t1})
					m.mu.Unlock()
				}
			}
		}()
	}
	t.Cleanup(m.close)
	return m
}

func (m *stallMeter) close() {
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	<-m.done
	m.wg.Wait()
}

// during returns the stalls measured over [from, to]: the longest slow ping that overlapped it
// (beyond the 1ms pause) plus the CPU waiting time from the reading before from to the one after to.
func (m *stallMeter) during(from, to time.Time) time.Duration {
	// Wait (up to 5s) for a reading after to, so that the whole interval is measured.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		m.mu.Lock()
		caught := m.last.After(to)
		m.mu.Unlock()
		if caught {
			break
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var worst time.Duration
	for _, s := range m.samples {
		if s.to.After(from) && s.from.Before(to) {
			worst = max(worst, s.to.Sub(s.from)-time.Millisecond)
		}
	}
	if n := len(m.pressure); n > 1 {
		i := sort.Search(n, func(i int) bool { return !m.pressure[i].at.Before(from) })
		j := sort.Search(n, func(i int) bool { return m.pressure[i].at.After(to) })
		i, j = max(i-1, 0), min(j, n-1)
		if j > i {
			worst += m.pressure[j].total - m.pressure[i].total
		}
	}
	return worst
}

// worst returns the longest slow ping seen.
func (m *stallMeter) worst() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	var worst time.Duration
	for _, s := range m.samples {
		worst = max(worst, s.to.Sub(s.from)-time.Millisecond)
	}
	return worst
}
