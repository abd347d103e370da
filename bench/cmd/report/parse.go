package main

import (
	"bufio"
	"encoding/json"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// A sample is one benchmark result line of `go test -bench`, with the round it belongs to and how
// busy the rest of the machine was while it ran.
type sample struct {
	ns, cpu, bytes, allocs float64
	metrics                map[string]float64 // every unit reported, ns/op included
	round                  int                // 1, 2, ...; 0 when the output had no round marker
	foreign                float64            // share of the machine other processes used meanwhile; -1: unknown
}

// runMark is the line raw.txt holds before the output of each benchmark run ("### run {json}").
type runMark struct {
	Round   int     `json:"round"`
	Bench   string  `json:"bench"`
	Load    string  `json:"load"`    // load average when it started
	Foreign float64 `json:"foreign"` // share of the machine other processes used while it ran
}

// instrMark is the line raw.txt holds for an instruction count ("### instr {json}").
type instrMark struct {
	Bench string  `json:"bench"`
	PerOp float64 `json:"per_op"` // instructions per operation
	N     int     `json:"n"`      // iterations counted
}

// results holds every sample of the run by benchmark name (without the -GOMAXPROCS suffix), and the
// instruction counts.
type results struct {
	samples map[string][]sample
	instr   map[string]float64
	// maxForeign is the most of the machine other processes may use while a sample runs for the
	// sample to count as quiet.
	maxForeign float64
}

func newResults(maxForeign float64) *results {
	return &results{samples: map[string][]sample{}, instr: map[string]float64{}, maxForeign: maxForeign}
}

var (
	lineRE     = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+(.+)$`)
	oldRoundRE = regexp.MustCompile(`^### round (\d+), suite \S+, load`)
)

// parse reads go test -bench output (raw.txt, with its markers) and adds its samples to r. It
// returns the lines that report a failure or a skip, for the report's notes.
func (r *results) parse(in io.Reader) (problems []string) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	cur := runMark{Foreign: -1}
	for sc.Scan() {
		line := sc.Text()
		if j, ok := strings.CutPrefix(line, "### run "); ok {
			cur = runMark{Foreign: -1}
			json.Unmarshal([]byte(j), &cur)
			continue
		}
		if j, ok := strings.CutPrefix(line, "### instr "); ok {
			var m instrMark
			if json.Unmarshal([]byte(j), &m) == nil && m.Bench != "" {
				r.instr[m.Bench] = m.PerOp
			}
			continue
		}
		if m := oldRoundRE.FindStringSubmatch(line); m != nil { // raw.txt of an earlier report
			cur = runMark{Foreign: -1}
			cur.Round, _ = strconv.Atoi(m[1])
			continue
		}
		trim := strings.TrimSpace(line)
		if strings.HasPrefix(trim, "--- FAIL") || strings.HasPrefix(trim, "--- SKIP") || strings.Contains(trim, "_test.go:") {
			problems = append(problems, trim)
			continue
		}
		m := lineRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		f := strings.Fields(m[3])
		s := sample{metrics: map[string]float64{}, round: cur.Round, foreign: cur.Foreign}
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			s.metrics[f[i+1]] = v
		}
		s.ns = s.metrics["ns/op"]
		s.cpu = s.metrics["cpu-ns/op"]
		s.bytes = s.metrics["B/op"]
		s.allocs = s.metrics["allocs/op"]
		r.samples[m[1]] = append(r.samples[m[1]], s)
	}
	return problems
}

// minQuiet is how many quiet samples a benchmark needs for its figures to leave the busy ones out.
const minQuiet = 3

// quiet reports whether s ran while the rest of the machine stayed under r.maxForeign (or when
// that is unknown).
func (r *results) quiet(s sample) bool { return s.foreign < 0 || s.foreign <= r.maxForeign }

// used returns the samples the figures of benchmark name are computed from: the quiet ones when
// there are at least minQuiet of them (or all samples are quiet), otherwise all of them, with
// busy = true.
func (r *results) used(name string) (ss []sample, busy bool) {
	all := r.samples[name]
	var q []sample
	for _, s := range all {
		if r.quiet(s) {
			q = append(q, s)
		}
	}
	if len(q) == len(all) || len(q) >= minQuiet {
		return q, false
	}
	return all, true
}

// stat is the summary of one benchmark over the rounds it uses.
type stat struct {
	n, all            int     // samples used, samples taken
	busy              bool    // too few quiet samples: the figures include busy ones
	ns, min, max, cpu float64 // medians of ns/op and cpu-ns/op; min and max of ns/op
	bytes, allocs     float64 // medians
	hit               float64 // median hit ratio, or -1
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// get returns the summary of the benchmark called name, and false when it has no samples.
func (r *results) get(name string) (stat, bool) {
	ss, busy := r.used(name)
	if len(ss) == 0 {
		return stat{}, false
	}
	var ns, cpu, b, a, hit []float64
	st := stat{n: len(ss), all: len(r.samples[name]), busy: busy, min: ss[0].ns, max: ss[0].ns, hit: -1}
	for _, s := range ss {
		ns = append(ns, s.ns)
		cpu = append(cpu, s.cpu)
		b = append(b, s.bytes)
		a = append(a, s.allocs)
		if h, ok := s.metrics["hit-ratio"]; ok {
			hit = append(hit, h)
		}
		st.min = min(st.min, s.ns)
		st.max = max(st.max, s.ns)
	}
	st.ns, st.cpu, st.bytes, st.allocs = median(ns), median(cpu), median(b), median(a)
	if len(hit) > 0 {
		st.hit = median(hit)
	}
	return st, true
}

// ratioStat summarizes the per-round ratios of two benchmarks' ns/op: each round's a divided by the
// same round's b, so that both sides of a ratio ran seconds apart under the same load.
type ratioStat struct {
	n                   int
	median, best, worst float64
	busy                bool // either side's figures include busy rounds
}

// ratio returns the per-round ratios of a to b over the rounds both have figures for (rounds are
// paired by number; output without round markers pairs the samples in order). ok is false when no
// round has both.
func (r *results) ratio(a, b string) (rs ratioStat, ok bool) {
	sa, busyA := r.used(a)
	sb, busyB := r.used(b)
	byRound := map[int]float64{}
	ordered := true
	for _, s := range sb {
		if s.round == 0 {
			ordered = false
		}
		byRound[s.round] = s.ns
	}
	var v []float64
	for i, s := range sa {
		den := 0.0
		if ordered && s.round != 0 {
			den = byRound[s.round]
		} else if i < len(sb) {
			den = sb[i].ns
		}
		if den > 0 && s.ns > 0 {
			v = append(v, s.ns/den)
		}
	}
	if len(v) == 0 {
		return ratioStat{}, false
	}
	rs = ratioStat{n: len(v), median: median(v), best: math.Inf(1), worst: 0, busy: busyA || busyB}
	for _, x := range v {
		rs.best, rs.worst = min(rs.best, x), max(rs.worst, x)
	}
	return rs, true
}
