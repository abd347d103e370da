package memory_test

import (
	"testing"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/backends/backendtest"
	"github.com/cashews-go/cashews/backends/memory"
)

// modes are the configurations the conformance kit runs against: both value modes, and one bounded
// and coarsely sharded so that the eviction paths run too.
var modes = []struct {
	name string
	opts memory.Options
}{
	{"GoValues", memory.Options{}},
	{"Copy", memory.Options{Copy: true}},
	{"Bounded", memory.Options{MaxEntries: 100_000, MaxBytes: 256 << 20, Shards: 2}},
}

func harness(opts memory.Options) backendtest.Harness {
	return backendtest.Harness{
		New: func(t testing.TB, clock backends.Clock) backends.Backend {
			o := opts
			o.Clock = clock
			return memory.New(o)
		},
	}
}

func TestConformance(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) { backendtest.Run(t, harness(m.opts)) })
	}
}

func BenchmarkConformance(b *testing.B) {
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) { backendtest.Bench(b, harness(m.opts)) })
	}
}
