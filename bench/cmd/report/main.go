// Command report runs the cashews benchmarks against their peers and writes RESULTS.md,
// chart.svg and raw.txt in the bench module's directory.
//
//	cd bench && go run ./cmd/report            # full run: 5 rounds
//	cd bench && go run ./cmd/report -quick     # 1 round at a tenth of the iterations; *.quick.* files
//
// It starts its own redis-server on a free loopback port (`--save "" --appendonly no`) and stops
// it at the end; without redis-server on the PATH the Redis sections are skipped with a note. It
// compiles the benchmarks once (go test -c) and runs the suites round by round (memory, loader,
// loader-redis, redis, redis-csc, disk, http in each round), each benchmark for a fixed number of
// iterations, so that a burst of load on a shared machine spreads over every library instead of
// hitting one; medians and spread (min–max) are over the rounds. The raw go test output is kept
// (raw.txt). The counts that are not timings (hit ratio, loader runs per cold key) run once, in
// process.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/cashews-go/cashews/bench"
)

// A suite is one group of benchmarks, run by one invocation of the test binary per round with a
// fixed number of iterations per benchmark (-benchtime Nx): on a loaded machine a time-based
// benchtime mispredicts the count and can run for minutes; a fixed count keeps the run bounded and
// every round comparable.
type suite struct {
	name    string
	pattern string // -test.bench
	iters   int    // -benchtime <iters>x, times -scale
	redis   bool   // needs the Redis server
}

var suites = []suite{
	{"memory", "^BenchmarkMemory$", 500_000, false},
	{"loader", "^BenchmarkLoaderHit$", 200_000, false},
	{"loader-redis", "^BenchmarkLoaderRedisHit$", 5_000, true},
	{"redis", "^BenchmarkRedis$", 5_000, true},
	{"redis-csc", "^BenchmarkRedisClientSide$", 300_000, true},
	{"disk", "^BenchmarkDisk$", 2_000, false},
	{"http", "^BenchmarkHTTP$", 5_000, false},
}

type config struct {
	quick      bool
	count      int
	scale      float64
	only       string
	out        string
	hitReqs    int
	callers    int
	redisBin   string
	sourceWait time.Duration
	from       string
}

func main() {
	var cfg config
	flag.BoolVar(&cfg.quick, "quick", false, "one short round (count 1, scale 0.1, short hit-ratio trace), written to *.quick.* files")
	flag.IntVar(&cfg.count, "count", 5, "rounds: each benchmark runs this many times (medians and spread are over them)")
	flag.Float64Var(&cfg.scale, "scale", 1, "multiply every suite's iteration count by this")
	flag.StringVar(&cfg.only, "suites", "", "comma-separated suites to run (memory, loader, loader-redis, redis, redis-csc, disk, http); default all")
	flag.StringVar(&cfg.out, "out", "", "directory for RESULTS.md, chart.svg and raw.txt (default: the bench module's directory)")
	flag.IntVar(&cfg.hitReqs, "hit-requests", 500_000, "requests of each hit-ratio trace")
	flag.IntVar(&cfg.callers, "callers", 1000, "concurrent callers of a cold key")
	flag.StringVar(&cfg.redisBin, "redis-server", "redis-server", "the redis-server binary")
	flag.StringVar(&cfg.from, "from", "", "render from this raw.txt of an earlier run instead of running the benchmarks (the counts still run)")
	flag.Parse()
	cfg.sourceWait = 20 * time.Millisecond
	if cfg.quick {
		cfg.count, cfg.scale, cfg.hitReqs = 1, 0.1, 100_000
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	started := time.Now()
	dir, err := moduleDir()
	if err != nil {
		return err
	}
	if cfg.out == "" {
		cfg.out = dir
	}
	suffix := ""
	if cfg.quick {
		suffix = ".quick"
	}
	env := machine(started)
	env.Command = "cd bench && go run ./cmd/report " + strings.Join(os.Args[1:], " ")
	var iters []string
	for _, s := range suites {
		iters = append(iters, fmt.Sprintf("%s %dx", s.name, s.benchN(cfg.scale)))
	}
	env.Config = fmt.Sprintf("%d round(s), -benchmem, GOMAXPROCS %d, -benchtime per suite: %s", cfg.count, runtime.GOMAXPROCS(0), strings.Join(iters, ", "))

	selected := map[string]bool{}
	for _, s := range strings.Split(cfg.only, ",") {
		if s = strings.TrimSpace(s); s != "" {
			selected[s] = true
		}
	}
	var notes []string

	// Redis: our own server, stopped at the end.
	redisAddr := ""
	if srv, err := startRedis(cfg.redisBin); err != nil {
		notes = append(notes, "Redis sections skipped: "+err.Error())
		logf("no Redis: %v", err)
	} else {
		defer srv.stop()
		redisAddr = srv.addr
		env.Redis = srv.version
		logf("redis-server %s on %s", srv.version, srv.addr)
	}

	res := results{}
	if cfg.from != "" {
		data, err := os.ReadFile(cfg.from)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(data), "\n") {
			if j, ok := strings.CutPrefix(line, "### env "); ok {
				if err := json.Unmarshal([]byte(j), &env); err != nil {
					return fmt.Errorf("%s: %w", cfg.from, err)
				}
			}
		}
		notes = append(notes, res.parse(bytes.NewReader(data))...)
		logf("rendering the timings of %s (run of %s)", cfg.from, env.Date)
	} else if err := runRounds(cfg, dir, suffix, redisAddr, selected, started, &env, res, &notes); err != nil {
		return err
	}

	// Counts, not timings.
	var hits []bench.HitRatio
	if len(selected) == 0 || selected["memory"] {
		logf("hit ratios (%d requests per trace)", cfg.hitReqs)
		if hits, err = bench.HitRatios(cfg.hitReqs); err != nil {
			notes = append(notes, "hit ratio: "+err.Error())
		}
	}
	var cold []coldResult
	if len(selected) == 0 || selected["loader"] || selected["loader-redis"] {
		for _, lib := range bench.LoaderLibs() {
			if lib.Redis && redisAddr == "" || len(selected) > 0 && !selected[map[bool]string{false: "loader", true: "loader-redis"}[lib.Redis]] {
				continue
			}
			logf("cold key: %s", lib.Name)
			runs, failed, err := bench.ColdKeyLoads(lib, cfg.callers, cfg.sourceWait, redisAddr)
			cold = append(cold, coldResult{lib: lib, runs: runs, failed: failed, err: err})
		}
	}

	if cfg.from == "" {
		env.LoadEnd = loadavg()
		env.Wall = time.Since(started).Round(time.Second)
		if f, err := os.OpenFile(filepath.Join(cfg.out, "raw"+suffix+".txt"), os.O_APPEND|os.O_WRONLY, 0); err == nil {
			writeEnv(f, env) // the whole run's wall time, counts included
			f.Close()
		}
	} else {
		notes = append([]string{fmt.Sprintf("The timings are those of the run of %s, rendered from %s; the counts (hit ratio, cold keys) were recomputed on %s.",
			env.Date, cfg.from, started.Format("2006-01-02 15:04 MST"))}, notes...)
	}
	doc := render(env, cfg, res, hits, cold, notes)
	if err := os.WriteFile(filepath.Join(cfg.out, "RESULTS"+suffix+".md"), []byte(doc), 0o644); err != nil {
		return err
	}
	rounds := 0
	for _, ss := range res {
		rounds = max(rounds, len(ss))
	}
	subtitle := fmt.Sprintf("%s, %d cores, %s, %s; medians of %d round(s); orange = cashews",
		env.CPU, env.Cores, env.GoVersion, env.Date, rounds)
	if err := os.WriteFile(filepath.Join(cfg.out, "chart"+suffix+".svg"), []byte(res.chart(memTables(), subtitle)), 0o644); err != nil {
		return err
	}
	logf("wrote RESULTS%s.md, chart%s.svg, raw%s.txt in %s (wall time %s)", suffix, suffix, suffix, cfg.out, env.Wall)
	return nil
}

// runRounds compiles the benchmarks and runs every selected suite once per round, writing their
// output to raw.txt (with the run's description first and last, for -from) and parsing it into res.
func runRounds(cfg config, dir, suffix, redisAddr string, selected map[string]bool, started time.Time, env *env, res results, notes *[]string) error {
	tmp, err := os.MkdirTemp("", "cashews-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	testBin := filepath.Join(tmp, "bench.test")
	logf("compiling the benchmarks")
	build := exec.Command("go", "test", "-c", "-o", testBin, ".")
	build.Dir, build.Stdout, build.Stderr = dir, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go test -c: %w", err)
	}

	raw, err := os.Create(filepath.Join(cfg.out, "raw"+suffix+".txt"))
	if err != nil {
		return err
	}
	defer raw.Close()
	writeEnv(raw, *env)
	seenProblem := map[string]bool{}
	for round := 1; round <= cfg.count; round++ {
		for _, s := range suites {
			if len(selected) > 0 && !selected[s.name] {
				continue
			}
			if s.redis && redisAddr == "" {
				continue
			}
			logf("round %d/%d: %s (load %s)", round, cfg.count, s.name, loadavg())
			fmt.Fprintf(raw, "### round %d, suite %s, load %s\n", round, s.name, loadavg())
			var out bytes.Buffer
			cmd := exec.Command(testBin, "-test.run", "^$", "-test.bench", s.pattern, "-test.benchmem",
				"-test.count", "1", "-test.benchtime", fmt.Sprintf("%dx", s.benchN(cfg.scale)), "-test.timeout", "60m")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "CASHEWS_BENCH_REDIS="+redisAddr)
			cmd.Stdout = io.MultiWriter(&out, raw)
			cmd.Stderr = io.MultiWriter(&out, raw)
			runErr := cmd.Run()
			for _, p := range res.parse(&out) {
				if !seenProblem[p] {
					seenProblem[p] = true
					*notes = append(*notes, fmt.Sprintf("suite %s: %s", s.name, p))
				}
			}
			if runErr != nil {
				*notes = append(*notes, fmt.Sprintf("round %d, suite %s: the test binary failed: %v (see raw%s.txt)", round, s.name, runErr, suffix))
			}
		}
	}

	// The end of the run, so that -from renders the same header.
	end := *env
	end.LoadEnd = loadavg()
	end.Wall = time.Since(started).Round(time.Second)
	writeEnv(raw, end)
	return nil
}

// writeEnv writes the run's description as a "### env" line of raw.txt; the last one wins.
func writeEnv(w io.Writer, e env) {
	j, _ := json.Marshal(e)
	fmt.Fprintf(w, "### env %s\n", j)
}

// benchN is the suite's iteration count at the given scale (at least 1).
func (s suite) benchN(scale float64) int { return max(1, int(float64(s.iters)*scale)) }

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// moduleDir returns the directory of the bench module (the report runs from there or below).
func moduleDir() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("go list -m: %w (run from the bench directory)", err)
	}
	dir := strings.TrimSpace(string(out))
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil || !strings.Contains(string(data), "module github.com/cashews-go/cashews/bench") {
		return "", fmt.Errorf("%s is not the bench module: run from the bench directory (cd bench && go run ./cmd/report)", dir)
	}
	return dir, nil
}

// env describes the machine and the run.
type env struct {
	CPU, GoVersion, Redis, Date, Command, Config string
	Cores                                        int
	LoadStart, LoadEnd                           string
	Wall                                         time.Duration
}

func machine(now time.Time) env {
	e := env{Cores: runtime.NumCPU(), Date: now.Format("2006-01-02 15:04 MST"), LoadStart: loadavg(), Redis: "not run"}
	e.CPU = "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				e.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	e.GoVersion = runtime.Version()
	if out, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil {
		e.GoVersion = strings.TrimSpace(string(out))
	}
	return e
}

// loadavg returns the 1, 5 and 15 minute load averages (as uptime prints them).
func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ")
}

// redisServer is the redis-server the report started; stop ends it.
type redisServer struct {
	addr, version string
	cmd           *exec.Cmd
	done          chan error
}

func startRedis(bin string) (*redisServer, error) {
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("%s not found on the PATH", bin)
	}
	version := "unknown"
	if out, err := exec.Command(path, "--version").Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			if v, ok := strings.CutPrefix(f, "v="); ok {
				version = v
			}
		}
	}
	// A free port: listen on :0, note the port, close; redis-server takes it right after.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	var logBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &redisServer{addr: addr, version: version, cmd: cmd, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		if err := ping(ctx, addr); err == nil {
			return s, nil
		}
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("redis-server exited: %v: %s", err, logBuf.String())
		case <-ctx.Done():
			s.stop()
			return nil, errors.New("redis-server did not answer PING within 10s")
		case <-time.After(20 * time.Millisecond): // poll for readiness
		}
	}
}

func ping(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 7)
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", buf)
	}
	return nil
}

func (s *redisServer) stop() {
	if s.cmd.Process != nil {
		s.cmd.Process.Signal(os.Interrupt)
	}
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}
