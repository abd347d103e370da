package main

import (
	"bufio"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// A sample is one benchmark result line of `go test -bench`.
type sample struct {
	ns, cpu, bytes, allocs float64
	metrics                map[string]float64 // every unit reported, ns/op included
}

// results holds every sample of the run by benchmark name (without the -GOMAXPROCS suffix).
type results map[string][]sample

var lineRE = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+(.+)$`)

// parse reads go test -bench output and adds its samples to r. It returns the lines that report a
// failure or a skip, for the report's notes.
func (r results) parse(in io.Reader) (problems []string) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
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
		s := sample{metrics: map[string]float64{}}
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
		r[m[1]] = append(r[m[1]], s)
	}
	return problems
}

// stat is the summary of one benchmark over the rounds.
type stat struct {
	n                 int
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
func (r results) get(name string) (stat, bool) {
	ss := r[name]
	if len(ss) == 0 {
		return stat{}, false
	}
	var ns, cpu, b, a, hit []float64
	st := stat{n: len(ss), min: ss[0].ns, max: ss[0].ns, hit: -1}
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
