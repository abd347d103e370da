package main

import (
	"fmt"
	"math"
	"strings"

	"github.com/cashews-go/cashews/bench"
)

// A row is one library in a comparison table: the benchmark that measures it.
type row struct {
	label string
	bench string // full benchmark name, without the -GOMAXPROCS suffix
	ours  bool
}

// A table compares libraries on one operation. Each round runs its rows one after the other, in an
// order that rotates from round to round, so that every per-round ratio to ref compares two runs
// taken seconds apart.
type table struct {
	section string // the comparison it belongs to (Memory, Loader, ...)
	suite   string // the suite whose iteration count its benchmarks run with
	title   string
	ref     string // label of the reference row: ratios are to it
	seq     bool   // its benchmarks run on one goroutine (instruction counts apply)
	rows    []row
}

// refBench returns the benchmark of the reference row, or "".
func (t table) refBench() string {
	for _, rw := range t.rows {
		if rw.label == t.ref {
			return rw.bench
		}
	}
	return ""
}

// allTables returns every table of the report, in its order.
func allTables() []table {
	var ts []table
	for _, f := range []func() []table{memTables, loaderTables, redisTables, diskTables, httpTables} {
		ts = append(ts, f()...)
	}
	return ts
}

func memTables() []table {
	var ts []table
	for _, w := range []struct{ name, what string }{
		{"Get", "Get (hit)"}, {"Set", "Set (evicting, bound = 1/4 of the keys)"}, {"Mixed", "75% Get / 25% Set"},
	} {
		for _, m := range []struct{ mode, what string }{{"seq", "1 goroutine"}, {"par", "GOMAXPROCS goroutines"}} {
			t := table{section: "Memory", suite: "memory", title: fmt.Sprintf("Memory %s, %s", w.what, m.what), ref: "otter", seq: m.mode == "seq"}
			for _, lib := range bench.MemLibs() {
				t.rows = append(t.rows, row{lib.Name, fmt.Sprintf("BenchmarkMemory/%s/%s/%s", w.name, lib.Name, m.mode), lib.Ours})
			}
			ts = append(ts, t)
		}
	}
	return ts
}

func loaderTables() []table {
	var ts []table
	for _, tier := range []struct {
		redis bool
		what  string
		modes [2]string
	}{
		{false, "in memory", [2]string{"1 goroutine", "GOMAXPROCS goroutines"}},
		{true, "Redis tier", [2]string{"1 goroutine", "64 goroutines"}},
	} {
		for i, mode := range []string{"seq", "par"} {
			t := table{section: "Loader", suite: map[bool]string{false: "loader", true: "loader-redis"}[tier.redis],
				title: fmt.Sprintf("Wrapped loader hit, %s, %s", tier.what, tier.modes[i]), seq: mode == "seq",
				ref: map[bool]string{false: "sturdyc", true: "go-redis-cache-redis"}[tier.redis]}
			for _, lib := range bench.LoaderLibs() {
				if lib.Redis != tier.redis {
					continue
				}
				fn := "BenchmarkLoaderHit"
				if lib.Redis {
					fn = "BenchmarkLoaderRedisHit"
				}
				t.rows = append(t.rows, row{lib.Name, fmt.Sprintf("%s/%s/%s", fn, lib.Name, mode), lib.Ours})
			}
			ts = append(ts, t)
		}
	}
	return ts
}

var redisLibs = []struct {
	name string
	ours bool
}{{"cashews-rueidis", true}, {"cashews-goredis", true}, {"rueidis", false}, {"goredis", false}}

var cscLibs = []struct {
	name string
	ours bool
}{{"cashews-csc", true}, {"rueidis-docache", false}, {"cashews-mem", true}}

func redisTables() []table {
	var ts []table
	for _, op := range []string{"Get", "Set"} {
		for _, g := range []struct{ name, what string }{{"g1", "1 goroutine"}, {"g64", "64 goroutines"}} {
			t := table{section: "Redis", suite: "redis", title: fmt.Sprintf("Redis %s, %s", op, g.what), ref: "rueidis", seq: g.name == "g1"}
			for _, l := range redisLibs {
				t.rows = append(t.rows, row{l.name, fmt.Sprintf("BenchmarkRedis/%s/%s/%s", op, l.name, g.name), l.ours})
			}
			ts = append(ts, t)
		}
	}
	for _, m := range []struct{ mode, what string }{{"seq", "1 goroutine"}, {"par", "GOMAXPROCS goroutines"}} {
		t := table{section: "Redis", suite: "redis-csc", title: "Client-side cache hit, " + m.what, ref: "rueidis-docache", seq: m.mode == "seq"}
		for _, l := range cscLibs {
			t.rows = append(t.rows, row{l.name, fmt.Sprintf("BenchmarkRedisClientSide/Hit/%s/%s", l.name, m.mode), l.ours})
		}
		ts = append(ts, t)
	}
	return ts
}

func diskTables() []table {
	var ts []table
	for _, c := range []struct{ op, mode, what string }{
		{"Get", "seq", "Get, 1 goroutine"}, {"Get", "par", "Get, GOMAXPROCS goroutines"}, {"Set", "seq", "Set, 1 goroutine"},
	} {
		ts = append(ts, table{section: "Disk", suite: "disk", title: "Disk " + c.what, ref: "sqlite (plain)", seq: c.mode == "seq", rows: []row{
			{"cashews-disk", fmt.Sprintf("BenchmarkDisk/%s/cashews-disk/%s", c.op, c.mode), true},
			{"sqlite (plain)", fmt.Sprintf("BenchmarkDisk/%s/sqlite/%s", c.op, c.mode), false},
		}})
	}
	return ts
}

func httpTables() []table {
	var ts []table
	for _, g := range []struct {
		name, what string
		libs       []string
	}{
		{"inproc", "in process (handler chain, no network)", []string{"cashews-middleware", "httpcache", "bare-handler"}},
		{"loopback", "over loopback (keep-alive client)", []string{"cashews-middleware", "httpcache-proxy", "httpcache-client", "bare-handler"}},
		{"server", "served by a child process over loopback (cpu-ns/op, B/op and allocs/op are the server process's)", []string{"cashews-middleware", "httpcache-proxy", "bare-handler"}},
	} {
		for _, m := range []struct{ mode, what string }{{"seq", "1 goroutine"}, {"par", "GOMAXPROCS goroutines"}} {
			t := table{section: "HTTP", suite: "http", title: fmt.Sprintf("HTTP cached GET %s, %s", g.what, m.what), ref: g.libs[1], seq: m.mode == "seq"}
			for _, l := range g.libs {
				t.rows = append(t.rows, row{l, fmt.Sprintf("BenchmarkHTTP/%s/%s/%s", g.name, l, m.mode), l == "cashews-middleware"})
			}
			ts = append(ts, t)
		}
	}
	return ts
}

// fmtNS formats a duration in nanoseconds with three significant digits and a unit.
func fmtNS(ns float64) string {
	switch {
	case ns <= 0 || math.IsNaN(ns):
		return "–"
	case ns < 1000:
		return trimFloat(ns) + " ns"
	case ns < 1e6:
		return trimFloat(ns/1e3) + " µs"
	default:
		return trimFloat(ns/1e6) + " ms"
	}
}

func trimFloat(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// markdown renders t with the results: per library the median ns/op over the rounds it uses and its
// fastest round, the CPU time, the allocations, and the median and best of its per-round ratios to
// the reference library (and the instructions per operation when they were counted).
func (r *results) markdown(t table) string {
	var b strings.Builder
	hasHit, hasInstr := false, false
	quiet, all, busy := 0, 0, false
	for _, rw := range t.rows {
		if st, ok := r.get(rw.bench); ok {
			hasHit = hasHit || st.hit >= 0
			if !st.busy {
				quiet += st.n
			}
			all += st.all
			busy = busy || st.busy
		}
		if _, ok := r.instr[rw.bench]; ok {
			hasInstr = true
		}
	}
	ref := t.refBench()
	refInstr := r.instr[ref]
	fmt.Fprintf(&b, "#### %s\n\n", t.title)
	b.WriteString("| library | ns/op (median) | fastest round | cpu-ns/op | B/op | allocs/op |")
	align := "|---|---:|---:|---:|---:|---:|"
	if hasHit {
		b.WriteString(" hit ratio |")
		align += "---:|"
	}
	fmt.Fprintf(&b, " × %s (median of rounds) | × %s (best round) |", t.ref, t.ref)
	align += "---:|---:|"
	if hasInstr {
		b.WriteString(" instructions/op |")
		align += "---:|"
	}
	b.WriteString("\n" + align + "\n")
	for _, rw := range t.rows {
		label := rw.label
		if rw.ours {
			label = "**" + label + "**"
		}
		st, ok := r.get(rw.bench)
		if !ok {
			fmt.Fprintf(&b, "| %s | not run |%s\n", label, strings.Repeat(" |", strings.Count(align, "|")-3))
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %.0f | %.0f |", label, fmtNS(st.ns), fmtNS(st.min), fmtNS(st.cpu), st.bytes, st.allocs)
		if hasHit {
			if st.hit >= 0 {
				fmt.Fprintf(&b, " %.3f |", st.hit)
			} else {
				b.WriteString(" |")
			}
		}
		switch rs, ok := r.ratio(rw.bench, ref); {
		case rw.bench == ref:
			b.WriteString(" 1 (reference) | |")
		case ok:
			fmt.Fprintf(&b, " %.2f× | %.2f× |", rs.median, rs.best)
		default:
			b.WriteString(" – | – |")
		}
		if hasInstr {
			if n, ok := r.instr[rw.bench]; ok {
				if refInstr > 0 && rw.bench != ref {
					fmt.Fprintf(&b, " %s (%.2f×) |", fmtCount(n), n/refInstr)
				} else {
					fmt.Fprintf(&b, " %s |", fmtCount(n))
				}
			} else {
				b.WriteString(" |")
			}
		}
		b.WriteString("\n")
	}
	if busy {
		fmt.Fprintf(&b, "\n*Busy machine:* fewer than %d rounds of some libraries ran while other processes used at most %.0f%% of the machine, so their figures include busy rounds (%d quiet of %d samples in this table).\n", minQuiet, r.maxForeign*100, quiet, all)
	}
	b.WriteString("\n")
	return b.String()
}

// fmtCount formats an instruction count with three significant digits.
func fmtCount(n float64) string {
	switch {
	case n >= 1e6:
		return trimFloat(n/1e6) + " M"
	case n >= 1e4:
		return trimFloat(n/1e3) + " k"
	default:
		return fmt.Sprintf("%.0f", n)
	}
}
