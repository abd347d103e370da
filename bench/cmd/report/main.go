// Command report runs the cashews benchmarks against their peers and writes RESULTS.md,
// chart.svg and raw.txt in the bench module's directory.
//
//	cd bench && go run ./cmd/report            # full run: 9 rounds
//	cd bench && go run ./cmd/report -quick     # 1 round at a tenth of the iterations; *.quick.* files
//
// It starts its own redis-server on a free loopback port (`--save "" --appendonly no`) and stops
// it at the end; without redis-server on the PATH the Redis sections are skipped with a note. It
// compiles the benchmarks once (go test -c) and runs them round by round: in each round, every
// table's libraries run one after the other (A, B, C; the next round B, C, A, ...), each in its
// own run of the test binary for a fixed number of iterations, so that a library and the
// reference it is compared with run seconds apart. Each round's ratio to the reference is computed
// on its own, and the report gives the median and the best of those ratios: a burst of load
// slows both sides of a ratio alike or shows as one bad round, which the median ignores.
//
// Before each round it waits (a bounded while) for the rest of the machine to quiet down, and it
// measures, for every run, the share of the machine that other processes used meanwhile (from
// /proc/stat, minus the benchmark's own CPU time and redis-server's). Runs above -max-foreign are
// marked busy and left out of a library's figures when it has enough quiet ones; the tables say
// when they could not be. The load averages at the start and end are printed in the header. With
// -instr, the single-goroutine benchmarks of the listed suites are also run under valgrind's
// callgrind, whose instruction counts per operation do not depend on the load at all. The raw go
// test output is kept (raw.txt). The counts that are not timings (hit ratio, loader runs per cold
// key) run once, in process.
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
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/cashews-go/cashews/bench"
)

// A suite is one group of tables whose benchmarks run with the same fixed number of iterations
// (-benchtime Nx): on a loaded machine a time-based benchtime mispredicts the count and can run for
// minutes; a fixed count keeps the run bounded and every round comparable.
type suite struct {
	name  string
	iters int  // -benchtime <iters>x, times -scale
	redis bool // needs the Redis server
}

var suites = []suite{
	{"memory", 500_000, false},
	{"loader", 200_000, false},
	{"loader-redis", 5_000, true},
	{"redis", 5_000, true},
	{"redis-csc", 300_000, true},
	{"disk", 2_000, false},
	{"http", 5_000, false},
}

func suiteNamed(name string) suite {
	for _, s := range suites {
		if s.name == name {
			return s
		}
	}
	panic("report: no suite " + name)
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
	maxForeign float64       // a run during which other processes used more of the machine is busy
	loadWait   time.Duration // how long to wait for a quiet machine before each round
	instr      string        // suites whose single-goroutine benchmarks are counted under callgrind
}

func main() {
	var cfg config
	flag.BoolVar(&cfg.quick, "quick", false, "one short round (count 1, scale 0.1, short hit-ratio trace), written to *.quick.* files")
	flag.IntVar(&cfg.count, "count", 9, "rounds: each benchmark runs this many times (medians and per-round ratios are over them)")
	flag.Float64Var(&cfg.scale, "scale", 1, "multiply every suite's iteration count by this")
	flag.StringVar(&cfg.only, "suites", "", "comma-separated suites to run (memory, loader, loader-redis, redis, redis-csc, disk, http) or benchmark name prefixes (Memory/Get); default all")
	flag.StringVar(&cfg.out, "out", "", "directory for RESULTS.md, chart.svg and raw.txt (default: the bench module's directory)")
	flag.IntVar(&cfg.hitReqs, "hit-requests", 500_000, "requests of each hit-ratio trace")
	flag.IntVar(&cfg.callers, "callers", 1000, "concurrent callers of a cold key")
	flag.StringVar(&cfg.redisBin, "redis-server", "redis-server", "the redis-server binary")
	flag.StringVar(&cfg.from, "from", "", "render from this raw.txt of an earlier run instead of running the benchmarks (the counts still run)")
	flag.Float64Var(&cfg.maxForeign, "max-foreign", 0.25, "a run is busy when other processes used more than this share of the machine (0 to 1) while it ran")
	flag.DurationVar(&cfg.loadWait, "load-wait", time.Minute, "before each round, wait at most this long for other processes to use at most -max-foreign of the machine (0: do not wait)")
	flag.StringVar(&cfg.instr, "instr", "", "comma-separated suites (memory) or benchmark name prefixes (Memory/Get) whose single-goroutine benchmarks are also run under valgrind --tool=callgrind for instructions per operation (slow: about 20 s of CPU per library)")
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
	env.Config = fmt.Sprintf("%d round(s), -benchmem, GOMAXPROCS %d, -benchtime per suite: %s; a run is busy above %.0f%% of the machine used by other processes; up to %s of waiting for a quiet machine before each round",
		cfg.count, runtime.GOMAXPROCS(0), strings.Join(iters, ", "), cfg.maxForeign*100, cfg.loadWait)

	selected := map[string]bool{}
	for _, s := range strings.Split(cfg.only, ",") {
		if s = strings.TrimSpace(s); s != "" {
			selected[s] = true
		}
	}
	var notes []string

	// Redis: our own server, stopped at the end.
	redisAddr, redisPID := "", 0
	if srv, err := startRedis(cfg.redisBin); err != nil {
		notes = append(notes, "Redis sections skipped: "+err.Error())
		logf("no Redis: %v", err)
	} else {
		defer srv.stop()
		redisAddr, redisPID = srv.addr, srv.cmd.Process.Pid
		env.Redis = srv.version
		logf("redis-server %s on %s", srv.version, srv.addr)
	}

	res := newResults(cfg.maxForeign)
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
	} else if err := runRounds(cfg, dir, suffix, redisAddr, redisPID, selected, started, &env, res, &notes); err != nil {
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
	for _, ss := range res.samples {
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

// runRounds compiles the benchmarks and runs every selected table once per round, each library in
// its own run of the test binary, writing the output to raw.txt (with the run's description first
// and last, for -from, and a "### run" line before each benchmark) and parsing it into res.
func runRounds(cfg config, dir, suffix, redisAddr string, redisPID int, selected map[string]bool, started time.Time, env *env, res *results, notes *[]string) error {
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
	var tables []table
	for _, t := range allTables() {
		s := suiteNamed(t.suite)
		if tableSelected(selected, t) && (!s.redis || redisAddr != "") {
			tables = append(tables, t)
		}
	}
	seenProblem := map[string]bool{}
	problems := func(what string, out []byte, runErr error) {
		for _, p := range res.parse(bytes.NewReader(out)) {
			if !seenProblem[p] {
				seenProblem[p] = true
				*notes = append(*notes, fmt.Sprintf("%s: %s", what, p))
			}
		}
		if runErr != nil {
			*notes = append(*notes, fmt.Sprintf("%s: the test binary failed: %v (see raw%s.txt)", what, runErr, suffix))
		}
	}
	cores := runtime.NumCPU()
	busyRuns, runs := 0, 0
	for round := 1; round <= cfg.count; round++ {
		if cfg.loadWait > 0 {
			share, ok := waitQuiet(cfg.maxForeign, cfg.loadWait, cores, redisPID)
			if !ok {
				logf("round %d/%d: other processes still use %.0f%% of the machine after %s; running anyway (busy runs are marked)", round, cfg.count, share*100, cfg.loadWait)
			}
		}
		logf("round %d/%d (load %s)", round, cfg.count, loadavg())
		for _, t := range tables {
			n := suiteNamed(t.suite).benchN(cfg.scale)
			for _, rw := range rotate(t.rows, round-1) {
				mark := runMark{Round: round, Bench: rw.bench, Load: loadavg()}
				before, r0, t0 := readCPUTimes(), procCPU(redisPID), time.Now()
				var out bytes.Buffer
				cmd := exec.Command(testBin, "-test.run", "^$", "-test.bench", benchPattern(rw.bench), "-test.benchmem",
					"-test.count", "1", "-test.benchtime", fmt.Sprintf("%dx", n), "-test.timeout", "60m")
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "CASHEWS_BENCH_REDIS="+redisAddr)
				cmd.Stdout, cmd.Stderr = &out, &out
				runErr := cmd.Run()
				ours := procCPU(redisPID) - r0
				if cmd.ProcessState != nil {
					ours += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
				}
				mark.Foreign = foreignShare(before, readCPUTimes(), ours, time.Since(t0), cores)
				runs++
				if !res.quiet(sample{foreign: mark.Foreign}) {
					busyRuns++
				}
				j, _ := json.Marshal(mark)
				fmt.Fprintf(raw, "### run %s\n", j)
				raw.Write(out.Bytes())
				problems(fmt.Sprintf("round %d, %s", round, rw.bench), append([]byte(fmt.Sprintf("### run %s\n", j)), out.Bytes()...), runErr)
			}
		}
		logf("round %d/%d done: %d of %d runs so far were busy", round, cfg.count, busyRuns, runs)
	}
	env.Busy = fmt.Sprintf("%d of %d runs", busyRuns, runs)

	if cfg.instr != "" {
		countInstructions(cfg, dir, testBin, redisAddr, tables, raw, res, notes)
	}

	// The end of the run, so that -from renders the same header.
	end := *env
	end.LoadEnd = loadavg()
	end.Wall = time.Since(started).Round(time.Second)
	writeEnv(raw, end)
	return nil
}

// tableSelected reports whether -suites selects t: all tables when it is empty, else the tables of
// the suites it names and those whose benchmarks start with a name it gives without "Benchmark"
// ("Memory/Get").
func tableSelected(selected map[string]bool, t table) bool {
	if len(selected) == 0 || selected[t.suite] {
		return true
	}
	for w := range selected {
		if len(t.rows) > 0 && strings.HasPrefix(t.rows[0].bench, "Benchmark"+w+"/") {
			return true
		}
	}
	return false
}

// rotate returns rows starting at index k (mod len), wrapping around: round r runs the libraries
// in a different order than round r-1, so that no library always runs first or last.
func rotate(rows []row, k int) []row {
	if len(rows) == 0 {
		return nil
	}
	k %= len(rows)
	return append(append([]row(nil), rows[k:]...), rows[:k]...)
}

// benchPattern returns the -test.bench pattern that selects exactly the benchmark called name
// (Benchmark/sub/sub: one anchored element per level).
func benchPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
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
	Busy                                         string // how many benchmark runs were busy
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
