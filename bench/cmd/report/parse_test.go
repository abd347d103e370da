package main

import (
	"strings"
	"testing"
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
	r := results{}
	problems := r.parse(strings.NewReader(out))
	if len(problems) != 2 {
		t.Errorf("got %d problems %q; want 2 (the FAIL line and its log)", len(problems), problems)
	}
	st, ok := r.get("BenchmarkMemory/Get/otter/seq")
	if !ok {
		t.Fatal("no samples for BenchmarkMemory/Get/otter/seq (the -2 suffix must be dropped)")
	}
	if st.n != 3 || st.ns != 120 || st.min != 100 || st.max != 300 || st.hit != 1 || st.allocs != 0 {
		t.Errorf("got n=%d ns=%v min=%v max=%v hit=%v allocs=%v; want 3, 120, 100, 300, 1, 0", st.n, st.ns, st.min, st.max, st.hit, st.allocs)
	}
	if st, ok := r.get("BenchmarkDisk/Set/sqlite/seq"); !ok || st.ns != 5000 || st.hit != -1 {
		t.Errorf("BenchmarkDisk/Set/sqlite/seq: got %+v, %v; want ns 5000, no hit ratio", st, ok)
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
