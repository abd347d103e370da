package main

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	out := `goos: linux
BenchmarkMemory/Get/otter/seq-2         	  500000	       120.0 ns/op	       110.0 cpu-ns/op	         1.000 hit-ratio	       0 B/op	       0 allocs/op
BenchmarkMemory/Get/otter/seq-2         	  500000	       100.0 ns/op	       100.0 cpu-ns/op	         0.900 hit-ratio	       8 B/op	       1 allocs/op
BenchmarkMemory/Get/otter/seq-2         	  500000	       300.0 ns/op	       100.0 cpu-ns/op	         1.000 hit-ratio	       0 B/op	       0 allocs/op
--- FAIL: BenchmarkRedis/Get/cashews-rueidis
    redis_test.go:158: boom
BenchmarkDisk/Set/sqlite/seq	2000	5000 ns/op
`
	r := newResults(0.25)
	problems := r.parse(strings.NewReader(out))
	if len(problems) != 2 {
		t.Errorf("got %d problems %q; want 2 (the FAIL line and its log)", len(problems), problems)
	}
	st, ok := r.get("BenchmarkMemory/Get/otter/seq")
	if !ok {
		t.Fatal("no samples for BenchmarkMemory/Get/otter/seq (the -2 suffix must be dropped)")
	}
	if st.n != 3 || st.ns != 120 || st.min != 100 || st.max != 300 || st.hit != 1 || st.allocs != 0 || st.busy {
		t.Errorf("got n=%d ns=%v min=%v max=%v hit=%v allocs=%v busy=%v; want 3, 120, 100, 300, 1, 0, false", st.n, st.ns, st.min, st.max, st.hit, st.allocs, st.busy)
	}
	if st, ok := r.get("BenchmarkDisk/Set/sqlite/seq"); !ok || st.ns != 5000 || st.hit != -1 {
		t.Errorf("BenchmarkDisk/Set/sqlite/seq: got %+v, %v; want ns 5000, no hit ratio", st, ok)
	}
}

// TestRoundsAndRatios checks that samples carry the round and the foreign share of their "### run"
// line, that busy rounds are left out while enough quiet ones remain, and that ratios pair rounds.
func TestRoundsAndRatios(t *testing.T) {
	var b strings.Builder
	line := func(round int, foreign float64, bench string, ns float64) {
		b.WriteString(`### run {"round":` + itoa(round) + `,"bench":"` + bench + `","foreign":` + ftoa(foreign) + "}\n")
		b.WriteString(bench + "-2 \t 1000\t " + ftoa(ns) + " ns/op\t 0 B/op\t 0 allocs/op\n")
	}
	// Round 2 is busy for both: its ratio (4) must not count while three quiet rounds remain.
	for round, v := range []struct{ a, ref, foreign float64 }{{90, 100, 0}, {400, 100, 0.9}, {110, 100, 0.1}, {50, 100, 0.2}} {
		line(round+1, v.foreign, "BenchmarkX/a/seq", v.a)
		line(round+1, v.foreign, "BenchmarkX/ref/seq", v.ref)
	}
	r := newResults(0.25)
	r.parse(strings.NewReader(b.String()))
	st, _ := r.get("BenchmarkX/a/seq")
	if st.n != 3 || st.all != 4 || st.busy || st.max != 110 {
		t.Errorf("a: n=%d all=%d busy=%v max=%v; want 3 of 4 samples, not busy, max 110 (the busy 400 left out)", st.n, st.all, st.busy, st.max)
	}
	rs, ok := r.ratio("BenchmarkX/a/seq", "BenchmarkX/ref/seq")
	if !ok || rs.n != 3 || rs.median != 0.9 || rs.best != 0.5 || rs.worst != 1.1 || rs.busy {
		t.Errorf("ratio = %+v, %v; want 3 rounds, median 0.9, best 0.5, worst 1.1, not busy", rs, ok)
	}

	// With only two quiet rounds, every round counts and the figures say busy.
	r = newResults(0.05)
	r.parse(strings.NewReader(b.String()))
	if st, _ := r.get("BenchmarkX/a/seq"); st.n != 4 || !st.busy {
		t.Errorf("threshold 0.05: n=%d busy=%v; want all 4 samples, busy", st.n, st.busy)
	}
	if rs, _ := r.ratio("BenchmarkX/a/seq", "BenchmarkX/ref/seq"); rs.n != 4 || rs.worst != 4 || !rs.busy {
		t.Errorf("threshold 0.05: ratio %+v; want 4 rounds, worst 4, busy", rs)
	}
}

func itoa(i int) string     { return strconv.Itoa(i) }
func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func TestOldRawFormat(t *testing.T) {
	out := "### round 2, suite memory, load 1.0, 1.0, 1.0\nBenchmarkMemory/Get/otter/seq-2  500000  120.0 ns/op\n"
	r := newResults(0.25)
	r.parse(strings.NewReader(out))
	if ss := r.samples["BenchmarkMemory/Get/otter/seq"]; len(ss) != 1 || ss[0].round != 2 || ss[0].foreign != -1 {
		t.Errorf("samples %+v; want one of round 2 with an unknown foreign share", ss)
	}
}

func TestForeignShare(t *testing.T) {
	before := cpuTimes{busy: 10 * time.Second, ok: true}
	after := cpuTimes{busy: 13 * time.Second, ok: true}
	// 3 s of CPU used in 2 s on 2 cores, 1 s of it ours: the others used 2 s of 4, half the machine.
	if got := foreignShare(before, after, time.Second, 2*time.Second, 2); got != 0.5 {
		t.Errorf("foreignShare = %v; want 0.5", got)
	}
	if got := foreignShare(cpuTimes{}, after, 0, time.Second, 2); got != -1 {
		t.Errorf("foreignShare without a reading = %v; want -1", got)
	}
	if got := foreignShare(before, after, 5*time.Second, time.Second, 2); got != 0 {
		t.Errorf("foreignShare with more CPU of ours than the machine's = %v; want 0 (clamped)", got)
	}
	if c := readCPUTimes(); !c.ok || c.busy <= 0 {
		t.Errorf("readCPUTimes() = %+v; want a reading of /proc/stat", c)
	}
}

func TestBenchPatternAndRotate(t *testing.T) {
	if got, want := benchPattern("BenchmarkDisk/Get/sqlite (plain)/seq"), `^BenchmarkDisk$/^Get$/^sqlite \(plain\)$/^seq$`; got != want {
		t.Errorf("benchPattern = %q; want %q", got, want)
	}
	rows := []row{{label: "a"}, {label: "b"}, {label: "c"}}
	var got []string
	for _, r := range rotate(rows, 4) {
		got = append(got, r.label)
	}
	if strings.Join(got, "") != "bca" {
		t.Errorf("rotate(abc, 4) = %v; want b c a", got)
	}
}

func TestInstrIters(t *testing.T) {
	if n := instrIters(500_000); n != 100_000 {
		t.Errorf("instrIters(500000) = %d; want 100000", n)
	}
	if n := instrIters(5); n != 5 {
		t.Errorf("instrIters(5) = %d; want 5", n)
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{4, 1, 2, 3}, 2.5}, {[]float64{5, 1, 3}, 3}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v; want %v", c.in, got, c.want)
		}
	}
}

func TestFmtNS(t *testing.T) {
	for ns, want := range map[float64]string{0: "–", 45.3: "45.3 ns", 1234: "1.23 µs", 250_000: "250 µs", 3.5e6: "3.50 ms"} {
		if got := fmtNS(ns); got != want {
			t.Errorf("fmtNS(%v) = %q; want %q", ns, got, want)
		}
	}
}

func TestInstrWanted(t *testing.T) {
	for _, c := range []struct {
		list, suite, bench string
		want               bool
	}{
		{"memory", "memory", "BenchmarkMemory/Get/otter/seq", true},
		{"Memory/Get", "memory", "BenchmarkMemory/Get/otter/seq", true},
		{"Memory/Get", "memory", "BenchmarkMemory/GetMany/otter/seq", false},
		{"loader, Memory/Set", "memory", "BenchmarkMemory/Get/otter/seq", false},
		{"", "memory", "BenchmarkMemory/Get/otter/seq", false},
	} {
		if got := instrWanted(c.list, c.suite, c.bench); got != c.want {
			t.Errorf("instrWanted(%q, %q, %q) = %v; want %v", c.list, c.suite, c.bench, got, c.want)
		}
	}
}

func TestTableSelected(t *testing.T) {
	get := table{suite: "memory", rows: []row{{bench: "BenchmarkMemory/Get/otter/seq"}}}
	for _, c := range []struct {
		sel  map[string]bool
		want bool
	}{
		{nil, true},
		{map[string]bool{"memory": true}, true},
		{map[string]bool{"Memory/Get": true}, true},
		{map[string]bool{"Memory/Set": true}, false},
		{map[string]bool{"disk": true}, false},
	} {
		if got := tableSelected(c.sel, get); got != c.want {
			t.Errorf("tableSelected(%v) = %v; want %v", c.sel, got, c.want)
		}
	}
}
