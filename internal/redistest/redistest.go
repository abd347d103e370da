// Package redistest starts real redis-server processes for tests: one server ([Start]) or a Redis
// Cluster of several masters ([StartCluster]), each on free loopback ports, with persistence off
// (--save "" --appendonly no) and its files in a temporary directory. Cleanup kills them.
//
//	srv := redistest.Start(t)              // skips the test when redis-server is not on PATH
//	c := cashews.New()
//	err := c.Setup(srv.URL())              // "redis://127.0.0.1:PORT/0"
//	srv.Kill(); srv.Restart()              // a crash and a restart on the same port (data is lost)
//	srv.Freeze(); srv.Thaw()               // SIGSTOP and SIGCONT: a hung server
//	srv.Do("FLUSHALL")                     // a command over a fresh connection, without a client library
//
//	cl := redistest.StartCluster(t, 3)     // 3 masters, all 16384 slots assigned, cluster_state:ok
//	err = c.Setup(cl.URL())                // "redis://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3/?cluster=true"
//
//	cl = redistest.StartClusterWith(t, redistest.ClusterOptions{Masters: 3, Replicas: 1, NodeTimeout: 2 * time.Second})
//	m := cl.Masters()[0]; r := cl.ReplicaOf(m)
//	err = cl.Migrate(m, cl.Masters()[1]).Run(cl.SlotsOf(m)[:100], nil) // a reshard, as redis-cli does it
//	m.Kill(); promoted := cl.WaitRole(r, "master", 30*time.Second)       // a failover, and when it happened
//
// When redis-server is not on PATH the tests that need it are skipped with a message saying so; with
// the environment variable CASHEWS_REQUIRE_REDIS=1 (as CI sets it) they fail instead.
//
// Every server listens on 127.0.0.1 only, keeps its files (log, cluster config) in a t.TempDir,
// and is killed at cleanup; on Linux the kernel also kills it if the test process dies without
// running its cleanups. A test that must not share a server with another starts its own: a server
// starts in about 20ms. Tests that share one (a conformance run) flush it between cases.
//
// The helpers speak just enough RESP to wait for PING and to build a cluster, so the package needs
// no Redis client library.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequireEnv is the environment variable that turns a missing redis-server from a skip into a failure.
const RequireEnv = "CASHEWS_REQUIRE_REDIS"

// startTimeout bounds how long a server may take to answer PING after it was started.
const startTimeout = 10 * time.Second

// Server is one redis-server process started by [Start]. Its methods may be called from any
// goroutine; they fail the test (t.Fatal) when the process cannot be controlled.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	args []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{} // closed when cmd has exited
	frozen bool
}

// binary returns the path of redis-server, or skips (or fails, with CASHEWS_REQUIRE_REDIS=1) the test.
func binary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "redis-server is not on PATH: install it (Debian: apt-get install redis-server) to run the Redis tests"
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("%s (%s=1 makes this a failure)", msg, RequireEnv)
		}
		t.Skip(msg)
	}
	return bin
}

// Available reports whether redis-server is on PATH.
func Available() bool {
	_, err := exec.LookPath("redis-server")
	return err == nil
}

// Start starts redis-server on a free loopback port, waits until it answers PING and registers its
// kill with t.Cleanup. Extra arguments are passed to redis-server after the defaults, for example
// "--maxmemory", "1mb". Without redis-server on PATH the test is skipped (or fails, see the package
// documentation).
func Start(t testing.TB, extraArgs ...string) *Server {
	t.Helper()
	bin := binary(t)
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		ports, err := freePorts(1)
		if err != nil {
			t.Fatalf("redistest: find a free port: %v", err)
		}
		s, err := startOn(t, bin, ports[0], extraArgs)
		if err == nil {
			return s
		}
		lastErr = err
	}
	t.Fatalf("redistest: start redis-server: %v", lastErr)
	return nil
}

// startOn starts a server on port; on failure the test goes on, so the caller may try another port.
func startOn(t testing.TB, bin string, port int, args []string) (*Server, error) {
	s := &Server{t: t, bin: bin, dir: t.TempDir(), port: port, args: args}
	if err := s.launch(); err != nil {
		return nil, err
	}
	t.Cleanup(s.stop)
	return s, nil
}

// Addr returns the server's address, "127.0.0.1:PORT".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port returns the server's TCP port.
func (s *Server) Port() int { return s.port }

// URL returns the setup URL of the server's database 0, "redis://127.0.0.1:PORT/0".
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Kill kills the server with SIGKILL and waits until the process has exited. Its data is lost, as
// persistence is off. Killing a server that is not running does nothing.
func (s *Server) Kill() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killLocked()
}

// Restart starts the server again on the same port after [Server.Kill] (killing it first if it is
// still running) and waits until it answers PING. The new server is empty.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	s.killLocked()
	s.mu.Unlock()
	deadline := time.Now().Add(startTimeout)
	for {
		err := s.launch()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redistest: restart redis-server on port %d: %v", s.port, err)
		}
		time.Sleep(20 * time.Millisecond) // the port may still be in TIME_WAIT on some systems
	}
}

// Freeze stops the server with SIGSTOP: the kernel still accepts connections, but nothing answers.
func (s *Server) Freeze() {
	s.t.Helper()
	s.signal(syscall.SIGSTOP, true)
}

// Thaw resumes a server stopped by [Server.Freeze] with SIGCONT.
func (s *Server) Thaw() {
	s.t.Helper()
	s.signal(syscall.SIGCONT, false)
}

func (s *Server) signal(sig syscall.Signal, frozen bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.t.Fatalf("redistest: signal %v: the server on port %d is not running", sig, s.port)
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("redistest: signal %v to redis-server on port %d: %v", sig, s.port, err)
	}
	s.frozen = frozen
}

// answering reports whether the server runs and is not frozen.
func (s *Server) answering() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil && !s.frozen
}

// Do sends one command over a new connection and returns its reply: a string for simple and bulk
// strings, an int64, a []any for arrays, nil for a nil reply, or an error for an error reply. The
// call gives up after 5 seconds.
func (s *Server) Do(args ...string) (any, error) {
	return Do(s.Addr(), args...)
}

// MustDo is [Server.Do] that fails the test on an error.
func (s *Server) MustDo(args ...string) any {
	s.t.Helper()
	v, err := s.Do(args...)
	if err != nil {
		s.t.Fatalf("redistest: %s on %s: %v", strings.Join(args, " "), s.Addr(), err)
	}
	return v
}

// launch starts the process on s.port and waits for PING.
func (s *Server) launch() error {
	args := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--logfile", filepath.Join(s.dir, "redis.log"),
		"--protected-mode", "no",
	}
	args = append(args, s.args...)
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	setDeathSignal(cmd) // the server dies with the test process, even if cleanups never run
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { // owned by the process: ends when it exits, which stop guarantees
		_ = cmd.Wait()
		close(done)
	}()
	deadline := time.Now().Add(startTimeout)
	for {
		v, err := Do(s.Addr(), "PING")
		var re replyError
		if (err == nil && v == "PONG") || (errors.As(err, &re) && strings.HasPrefix(string(re), "NOAUTH")) {
			break // answering, perhaps asking for a password (--requirepass)
		}
		select {
		case <-done:
			return fmt.Errorf("redis-server exited at start (port %d busy?); log: %s", s.port, s.logTail())
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("no PONG from port %d within %s (last error %v); log: %s", s.port, startTimeout, err, s.logTail())
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.mu.Lock()
	s.cmd, s.done, s.frozen = cmd, done, false
	s.mu.Unlock()
	return nil
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if len(b) > 600 {
		b = b[len(b)-600:]
	}
	return strings.TrimSpace(string(b))
}

func (s *Server) killLocked() {
	if s.cmd == nil {
		return
	}
	if s.frozen {
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd, s.done, s.frozen = nil, nil, false
}

func (s *Server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killLocked()
}

// freePorts returns n distinct loopback TCP ports that were free a moment ago: it holds them all
// open at once, so that they differ from each other.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Do sends one command to the server at addr over a new connection and returns its reply (see
// [Server.Do]).
func Do(addr string, args ...string) (any, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, encode(args)); err != nil {
		return nil, err
	}
	return readReply(bufio.NewReader(conn))
}

// conn is a connection kept open for many commands (see [Do] for the replies).
type conn struct {
	c net.Conn
	r *bufio.Reader
}

func dialConn(addr string) (*conn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &conn{c: c, r: bufio.NewReader(c)}, nil
}

// do sends one command and reads its reply, within 5 seconds.
func (c *conn) do(args ...string) (any, error) {
	_ = c.c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c.c, encode(args)); err != nil {
		return nil, err
	}
	return readReply(c.r)
}

func (c *conn) close() { _ = c.c.Close() }

// encode returns a command as a RESP array of bulk strings.
func encode(args []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// replyError is an error reply from the server.
type replyError string

func (e replyError) Error() string { return string(e) }

// readReply reads one RESP2 reply.
func readReply(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("redistest: empty reply line")
	}
	body := line[1:]
	switch line[0] {
	case '+':
		return body, nil
	case '-':
		return nil, replyError(body)
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, nil
		}
		out := make([]any, n)
		for i := range out {
			// An element that is an error reply is kept as the error value.
			v, err := readReply(r)
			var re replyError
			if errors.As(err, &re) {
				out[i] = re
				continue
			}
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("redistest: unexpected reply %q", line)
}
