package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// Instruction counts: valgrind's callgrind counts the instructions a program executes, which does not
// depend on the machine's load (nor on its caches: a cache miss costs no instruction, and neither
// does the hypervisor's trap of an instruction it emulates, so the counts cross-check the timings
// rather than replace them). The benchmark runs under callgrind with collection switched on only
// inside the harness's timed loop (bench.seq, --toggle-collect; the loop's goroutine is locked to
// its thread, CASHEWS_BENCH_LOCK_THREAD=1), so set-up, other goroutines (tickers, janitors) and the
// runtime's background work stay out; the count divided by the
// iterations is the cost of one operation, the harness's own loop included (the same for every
// library). Callgrind follows calls per thread, and Go switches goroutines within a thread, so now
// and then another goroutine's work lands inside the loop (or the loop runs uncounted): each count
// is the median of three runs, zeros left out. GOGC=off keeps the collector's assists out of the loop, so allocating paths are counted
// without their share of garbage collection; GODEBUG=asyncpreemptoff=1 keeps the runtime's
// preemption signals away from valgrind. Only single-goroutine benchmarks are counted: under
// valgrind, goroutines run one at a time.

var collectedRE = regexp.MustCompile(`Collected : (\d+)`)

// instrIters returns the iterations of an instruction count for a suite whose timed runs use n.
func instrIters(n int) int { return max(1, min(n, 100_000)) }

// callgrind runs one benchmark for n iterations under callgrind and returns the instructions
// executed inside its timed loop.
func callgrind(dir, testBin, redisAddr, bench string, n int) (int64, error) {
	cmd := exec.Command("valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", "--toggle-collect=*bench.seq",
		testBin, "-test.run", "^$", "-test.bench", benchPattern(bench), "-test.benchmem",
		"-test.count", "1", "-test.benchtime", fmt.Sprintf("%dx", n), "-test.timeout", "60m")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CASHEWS_BENCH_REDIS="+redisAddr, "GOGC=off", "GODEBUG=asyncpreemptoff=1", "CASHEWS_BENCH_LOCK_THREAD=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("valgrind: %w: %s", err, lastLines(out.String(), 3))
	}
	m := collectedRE.FindStringSubmatch(out.String())
	if m == nil {
		return 0, fmt.Errorf("valgrind printed no instruction count: %s", lastLines(out.String(), 3))
	}
	if strings.Contains(out.String(), "--- FAIL") || strings.Contains(out.String(), "--- SKIP") {
		return 0, fmt.Errorf("the benchmark did not run: %s", lastLines(out.String(), 3))
	}
	return strconv.ParseInt(m[1], 10, 64)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " / ")
}

// countInstructions counts the instructions per operation of every single-goroutine benchmark that
// cfg.instr selects (by suite, "memory", or by the start of the benchmark's name without
// "Benchmark", "Memory/Get"), writes them to raw ("### instr" lines) and adds them to res.
func countInstructions(cfg config, dir, testBin, redisAddr string, tables []table, raw io.Writer, res *results, notes *[]string) {
	if _, err := exec.LookPath("valgrind"); err != nil {
		*notes = append(*notes, "instruction counts skipped: valgrind is not on the PATH")
		return
	}
	for _, t := range tables {
		if !t.seq {
			continue
		}
		n := instrIters(suiteNamed(t.suite).benchN(cfg.scale))
		for _, rw := range t.rows {
			if !instrWanted(cfg.instr, t.suite, rw.bench) {
				continue
			}
			logf("instructions: %s (3 × %d iterations under callgrind)", rw.bench, n)
			var counts []float64
			var err error
			for range 3 {
				var c int64
				if c, err = callgrind(dir, testBin, redisAddr, rw.bench, n); err != nil {
					break
				}
				if c > 0 {
					counts = append(counts, float64(c))
				}
			}
			if err == nil && len(counts) == 0 {
				err = fmt.Errorf("no instruction was counted inside bench.seq")
			}
			if err != nil {
				*notes = append(*notes, fmt.Sprintf("instructions of %s: %v", rw.bench, err))
				continue
			}
			m := instrMark{Bench: rw.bench, PerOp: median(counts) / float64(n), N: n}
			j, _ := json.Marshal(m)
			fmt.Fprintf(raw, "### instr %s\n", j)
			res.instr[rw.bench] = m.PerOp
		}
	}
}

// instrWanted reports whether the -instr list selects the benchmark bench of suite.
func instrWanted(list, suite, bench string) bool {
	for _, w := range strings.Split(list, ",") {
		if w = strings.TrimSpace(w); w != "" && (w == suite || strings.HasPrefix(bench, "Benchmark"+w+"/")) {
			return true
		}
	}
	return false
}
