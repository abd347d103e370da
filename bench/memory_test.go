package bench

import (
	"runtime"
	"sync"
	"testing"
)

// The in-memory workloads: a key space of 65,536 keys and a Zipf (s = 1.01) trace of 2^20 keys
// over it, seed 7.
//   - Get: capacity twice the key space, every key stored first, so every lookup should hit (the
//     hit-ratio metric shows any that did not).
//   - Set: capacity a quarter of the key space, warmed with the first 2^16 keys of the trace, so
//     that sets of cold keys insert and evict.
//   - Mixed: 75% Get, 25% Set on the same trace and bound.
//
// Every sub-benchmark runs on one goroutine (seq) and on GOMAXPROCS goroutines (par).
const memKeyspace = 1 << 16

var memTrace = sync.OnceValue(func() Trace { return NewTrace(7, 1<<20, memKeyspace, 1.01, "key:") })

// memValues are the values stored, one per key of the key space.
var memValues = sync.OnceValue(func() []*Value {
	v := make([]*Value, memKeyspace)
	for i := range v {
		v[i] = &Value{ID: i, Name: "value"}
	}
	return v
})

// warm returns lib's cache for the workload, warmed.
func warm(b *testing.B, lib MemLib, workload string) MemCache {
	tr, vals := memTrace(), memValues()
	capacity := memKeyspace / 4
	if workload == "Get" {
		capacity = 2 * memKeyspace
	}
	c, err := lib.New(capacity)
	if err != nil {
		b.Fatal(err)
	}
	if workload == "Get" {
		for i, k := range tr.Names {
			c.Set(k, vals[i])
		}
	} else {
		for i, k := range tr.Keys[:1<<16] {
			if _, ok := c.Get(k); !ok {
				c.Set(k, vals[i&(memKeyspace-1)])
			}
		}
	}
	Settle(c)
	return c
}

func BenchmarkMemory(b *testing.B) {
	tr, vals := memTrace(), memValues()
	mask := len(tr.Keys) - 1
	for _, workload := range []string{"Get", "Set", "Mixed"} {
		b.Run(workload, func(b *testing.B) {
			for _, lib := range MemLibs() {
				b.Run(lib.Name, func(b *testing.B) {
					c := warm(b, lib, workload)
					defer func() {
						c.Close()
						runtime.GC()
					}()
					var f op
					switch workload {
					case "Get":
						f = func(i int) (bool, bool) {
							_, ok := c.Get(tr.Keys[i&mask])
							return ok, true
						}
					case "Set":
						f = func(i int) (bool, bool) {
							c.Set(tr.Keys[i&mask], vals[i&(memKeyspace-1)])
							return false, false
						}
					case "Mixed":
						f = func(i int) (bool, bool) {
							k := tr.Keys[i&mask]
							if i&3 == 3 {
								c.Set(k, vals[i&(memKeyspace-1)])
								return false, false
							}
							_, ok := c.Get(k)
							return ok, true
						}
					}
					modes(b, runtime.GOMAXPROCS(0), f)
				})
			}
		})
	}
}
