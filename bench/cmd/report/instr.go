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
// depend on the machine's load (nor on its caches: a cache miss costs no instruction, so the counts
// cross-check the timings rather than replace them). A benchmark runs twice under callgrind, for
// n1 and n2 iterations; the difference of the two totals divided by n2 - n1 is the cost of one
// operation, without the set-up both runs share. GOGC=off keeps the collector's work (which
// depends on when it happens to run) out of the difference, so allocating paths are counted
// without their share of garbage collection; GODEBUG=asyncpreemptoff=1 keeps the runtime's
// preemption signals away from valgrind. Only single-goroutine benchmarks are counted: under
// valgrind, goroutines run one at a time.

var collectedRE = regexp.MustCompile(`Collected : (\d+)`)

// instrIters returns the two iteration counts for a suite whose timed runs use n iterations.
func instrIters(n int) (n1, n2 int) {
	n = min(n, 200_000)
	n1 = max(1, n/10)
	return n1, n1 + n
}

// callgrind runs one benchmark for n iterations under callgrind and returns the instructions the
// whole process executed.
func callgrind(dir, testBin, redisAddr, bench string, n int) (int64, error) {
	cmd := exec.Command("valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
		testBin, "-test.run", "^$", "-test.bench", benchPattern(bench), "-test.benchmem",
		"-test.count", "1", "-test.benchtime", fmt.Sprintf("%dx", n), "-test.timeout", "60m")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CASHEWS_BENCH_REDIS="+redisAddr, "GOGC=off", "GODEBUG=asyncpreemptoff=1")
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
		n1, n2 := instrIters(suiteNamed(t.suite).benchN(cfg.scale))
		for _, rw := range t.rows {
			if !instrWanted(cfg.instr, t.suite, rw.bench) {
				continue
			}
			logf("instructions: %s (%d and %d iterations under callgrind)", rw.bench, n1, n2)
			i1, err1 := callgrind(dir, testBin, redisAddr, rw.bench, n1)
			i2, err2 := callgrind(dir, testBin, redisAddr, rw.bench, n2)
			if err := cmpErr(err1, err2); err != nil {
				*notes = append(*notes, fmt.Sprintf("instructions of %s: %v", rw.bench, err))
				continue
			}
			m := instrMark{Bench: rw.bench, PerOp: float64(i2-i1) / float64(n2-n1), N1: n1, N2: n2}
			j, _ := json.Marshal(m)
			fmt.Fprintf(raw, "### instr %s\n", j)
			res.instr[rw.bench] = m.PerOp
		}
	}
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
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
