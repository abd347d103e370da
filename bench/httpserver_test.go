package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gregjones/httpcache"
)

// The "server" group of BenchmarkHTTP measures what serving a cached GET costs the server: each
// library serves from a child process (this test binary, run as TestHTTPServerChild), the benchmark
// is its keep-alive client over loopback, and the reported cpu-ns/op, B/op and allocs/op are the
// server process's (getrusage and runtime.MemStats before and after the timed loop), so that the
// client's own work does not dilute the comparison. ns/op is the wall time the client saw.

// serverEnv names the library a child process serves.
const serverEnv = "CASHEWS_BENCH_HTTP_SERVER"

// serverStats is what a child reports at /__stats.
type serverStats struct {
	CPU     int64  // user + system CPU time of the process, ns
	Mallocs uint64 // heap objects allocated
	Bytes   uint64 // heap bytes allocated
	Runs    int64  // requests that reached the origin handler
}

// TestHTTPServerChild serves one library of the server group on a loopback port until its stdin
// closes; it runs only as a child of BenchmarkHTTP/server.
func TestHTTPServerChild(t *testing.T) {
	lib := os.Getenv(serverEnv)
	if lib == "" {
		t.Skip("runs as a child process of BenchmarkHTTP/server")
	}
	o := &origin{}
	var h http.Handler
	switch lib {
	case "bare-handler":
		h = o
	case "cashews-middleware":
		h = ourMiddleware(t, o)
	case "httpcache-proxy":
		up := httptest.NewServer(o)
		defer up.Close()
		target, _ := url.Parse(up.URL)
		tr := httpcache.NewMemoryCacheTransport()
		tr.Transport = &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, DisableCompression: true}
		h = &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) }, Transport: tr}
	default:
		t.Fatalf("unknown library %q", lib)
	}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("/__stats", func(w http.ResponseWriter, r *http.Request) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		json.NewEncoder(w).Encode(serverStats{CPU: int64(cpuTime()), Mallocs: ms.Mallocs, Bytes: ms.TotalAlloc, Runs: o.runs.Load()})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	fmt.Printf("LISTEN %s\n", ln.Addr())
	io.Copy(io.Discard, os.Stdin) // until the benchmark closes it
	srv.Close()
}

// startServer runs lib in a child process and returns its base URL; cleanup stops it.
func startServer(b *testing.B, lib string) string {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestHTTPServerChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), serverEnv+"="+lib)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "LISTEN "); ok {
				addr <- a
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case a := <-addr:
		return "http://" + a
	case <-time.After(60 * time.Second):
		b.Fatalf("%s: the child server did not start within 60s", lib)
		return ""
	}
}

func benchHTTPServer(b *testing.B) {
	ids := httpTrace()
	mask := len(ids) - 1
	for _, lib := range []string{"cashews-middleware", "httpcache-proxy", "bare-handler"} {
		b.Run(lib, func(b *testing.B) {
			base := startServer(b, lib)
			tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, DisableCompression: true}
			b.Cleanup(tr.CloseIdleConnections)
			c := &http.Client{Transport: tr}
			get := func(path string) ([]byte, error) {
				resp, err := c.Get(base + path)
				if err != nil {
					return nil, err
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				if err == nil && resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("GET %s: status %d", path, resp.StatusCode)
				}
				return body, err
			}
			stats := func() serverStats {
				body, err := get("/__stats")
				var s serverStats
				if err == nil {
					err = json.Unmarshal(body, &s)
				}
				if err != nil {
					b.Fatal(err)
				}
				return s
			}
			paths := make([]string, httpURLs)
			for i := range paths {
				paths[i] = "/item/" + strconv.Itoa(i)
				if _, err := get(paths[i]); err != nil {
					b.Fatal(err)
				}
			}
			fetch := func(i int) {
				if body, err := get(paths[ids[i&mask]]); err != nil || len(body) != 1024 {
					b.Fatalf("GET: %d bytes, %v; want 1024 bytes", len(body), err)
				}
			}
			measure := func(b *testing.B, loop func()) {
				b.ReportAllocs() // shows the B/op and allocs/op reported below: the server's
				s0 := stats()
				loop()
				s1 := stats()
				n := float64(b.N)
				b.ReportMetric(float64(s1.CPU-s0.CPU)/n, "cpu-ns/op")
				b.ReportMetric(float64(s1.Bytes-s0.Bytes)/n, "B/op")
				b.ReportMetric(float64(s1.Mallocs-s0.Mallocs)/n, "allocs/op")
				if lib != "bare-handler" {
					b.ReportMetric(1-float64(s1.Runs-s0.Runs)/n, "hit-ratio")
				}
			}
			b.Run("seq", func(b *testing.B) {
				measure(b, func() {
					i := 0
					for b.Loop() {
						fetch(i)
						i++
					}
				})
			})
			b.Run("par", func(b *testing.B) {
				measure(b, func() {
					var seed atomic.Int64
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						i := int(seed.Add(1)) * 9973
						for pb.Next() {
							fetch(i)
							i++
						}
					})
				})
			})
		})
	}
}
