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

// A table compares libraries on one operation.
type table struct {
	section string // the comparison it belongs to (Memory, Loader, ...)
	title   string
	rows    []row
}

func memTables() []table {
	var ts []table
	for _, w := range []struct{ name, what string }{
		{"Get", "Get (hit)"}, {"Set", "Set (evicting, bound = 1/4 of the keys)"}, {"Mixed", "75% Get / 25% Set"},
	} {
		for _, m := range []struct{ mode, what string }{{"seq", "1 goroutine"}, {"par", "GOMAXPROCS goroutines"}} {
			t := table{section: "Memory", title: fmt.Sprintf("Memory %s, %s", w.what, m.what)}
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
			t := table{section: "Loader", title: fmt.Sprintf("Wrapped loader hit, %s, %s", tier.what, tier.modes[i])}
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
			t := table{section: "Redis", title: fmt.Sprintf("Redis %s, %s", op, g.what)}
			for _, l := range redisLibs {
				t.rows = append(t.rows, row{l.name, fmt.Sprintf("BenchmarkRedis/%s/%s/%s", op, l.name, g.name), l.ours})
			}
			ts = append(ts, t)
		}
	}
	for _, m := range []struct{ mode, what string }{{"seq", "1 goroutine"}, {"par", "GOMAXPROCS goroutines"}} {
		t := table{section: "Redis", title: "Client-side cache hit, " + m.what}
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
		ts = append(ts, table{section: "Disk", title: "Disk " + c.what, rows: []row{
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
			t := table{section: "HTTP", title: fmt.Sprintf("HTTP cached GET %s, %s", g.what, m.what)}
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

// bestPeer returns the lowest median ns/op among the peers of t, and its label.
func (r results) bestPeer(t table) (float64, string) {
	best, label := math.Inf(1), ""
	for _, rw := range t.rows {
		if rw.ours {
			continue
		}
		if st, ok := r.get(rw.bench); ok && st.ns < best {
			best, label = st.ns, rw.label
		}
	}
	return best, label
}

// markdown renders t with the results.
func (r results) markdown(t table) string {
	var b strings.Builder
	hasHit := false
	for _, rw := range t.rows {
		if st, ok := r.get(rw.bench); ok && st.hit >= 0 {
			hasHit = true
		}
	}
	best, bestLabel := r.bestPeer(t)
	fmt.Fprintf(&b, "#### %s\n\n", t.title)
	b.WriteString("| library | ns/op (median) | spread (min–max) | cpu-ns/op | B/op | allocs/op |")
	if hasHit {
		b.WriteString(" hit ratio |")
	}
	b.WriteString(" × best peer |\n|---|---:|---:|---:|---:|---:|")
	if hasHit {
		b.WriteString("---:|")
	}
	b.WriteString("---:|\n")
	for _, rw := range t.rows {
		label := rw.label
		if rw.ours {
			label = "**" + label + "**"
		}
		st, ok := r.get(rw.bench)
		if !ok {
			fmt.Fprintf(&b, "| %s | not run |  |  |  |  |", label)
			if hasHit {
				b.WriteString("  |")
			}
			b.WriteString("  |\n")
			continue
		}
		ratio := "–"
		if !math.IsInf(best, 1) && best > 0 {
			ratio = fmt.Sprintf("%.2f×", st.ns/best)
			if rw.label == bestLabel {
				ratio = "1.00× (best peer)"
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s – %s | %s | %.0f | %.0f |", label, fmtNS(st.ns), fmtNS(st.min), fmtNS(st.max), fmtNS(st.cpu), st.bytes, st.allocs)
		if hasHit {
			if st.hit >= 0 {
				fmt.Fprintf(&b, " %.3f |", st.hit)
			} else {
				b.WriteString(" |")
			}
		}
		fmt.Fprintf(&b, " %s |\n", ratio)
	}
	b.WriteString("\n")
	return b.String()
}
