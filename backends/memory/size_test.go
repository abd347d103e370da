package memory

import (
	"fmt"
	"runtime"
	"testing"
)

// deep is a value whose data sits many levels down.
type deep struct {
	Next *deep
	Data []byte
}

func chain(levels, data int) *deep {
	d := &deep{Data: make([]byte, data)}
	for range levels {
		d = &deep{Next: d}
	}
	return d
}

// panicky implements Sizer with a value receiver: CacheSize on a nil *panicky panics.
type panicky struct{ buf []byte }

func (p panicky) CacheSize() int64 { return int64(len(p.buf)) }

type negative struct{ buf []byte }

func (n negative) CacheSize() int64 { return -1 }

// TestSizeCountsWhatIsKeptAlive: the size of a value is at least the memory it keeps alive, for the
// cases that escaped the bound before: byte slices shorter than their array, data deeper than 8
// levels, and values whose Sizer fails.
func TestSizeCountsWhatIsKeptAlive(t *testing.T) {
	arr := make([]byte, 4096)
	for _, tt := range []struct {
		name string
		v    any
		min  int64
	}{
		{"16 bytes of a 4 KiB array", arr[:16], 4096},
		{"16 bytes of a 4 KiB array in a struct", struct{ B []byte }{arr[:16]}, 4096},
		{"data 20 levels down", chain(20, 1<<20), 1 << 20},
		{"data 200 levels down", chain(200, 1<<20), 1 << 20},
		{"nil pointer whose CacheSize panics", (*panicky)(nil), 8},
		{"CacheSize negative", negative{make([]byte, 1000)}, 1000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := sizeOf(tt.v); got < tt.min {
				t.Errorf("sizeOf = %d; want at least %d", got, tt.min)
			}
		})
	}
	// Options.Sizer that panics falls back to the estimate.
	b := newTest(t, Options{MaxBytes: 1 << 30, Sizer: func(any) int64 { panic("boom") }})
	mustSet(t, b, "k", arr[:16], 0)
	if got, _ := b.ValueSize(ctx, "k"); got != 4096 {
		t.Errorf("ValueSize with a panicking Options.Sizer = %d; want 4096", got)
	}
}

// TestMaxBytesBoundsLiveHeap stores far more than max_bytes of values that used to be under-counted
// and measures the live heap: it stays near max_bytes.
func TestMaxBytesBoundsLiveHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates about 160 MiB")
	}
	const maxBytes = 10 << 20
	for _, tt := range []struct {
		name string
		make func() any
	}{
		{"16-byte slices of 4 KiB arrays", func() any { return make([]byte, 4096)[:16] }},
		{"4 KiB 12 levels down", func() any { return chain(12, 4096) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			b := New(Options{MaxBytes: maxBytes, CheckInterval: -1})
			for i := range 20_000 { // 80 MiB of arrays
				mustSet(t, b, fmt.Sprint("k", i), tt.make(), 0)
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
			t.Logf("max_bytes=%d MiB: live heap grew by %.1f MiB for 20,000 values of about 4 KiB", maxBytes>>20, float64(grew)/(1<<20))
			if grew > 3*maxBytes {
				t.Errorf("live heap grew by %d MiB under max_bytes=%d MiB; want at most %d MiB", grew>>20, maxBytes>>20, 3*maxBytes>>20)
			}
			runtime.KeepAlive(b)
			b.Close()
		})
	}
}

// BenchmarkSizeOf measures the estimate for a typical struct value: a pointer, a slice of structs
// with strings, and a map.
func BenchmarkSizeOf(b *testing.B) {
	type item struct {
		Name string
		Tags []string
	}
	type user struct {
		ID      int
		Name    string
		Profile *item
		Items   []item
		Attrs   map[string]string
	}
	v := user{ID: 1, Name: "alice", Profile: &item{Name: "p", Tags: []string{"a", "b"}},
		Items: []item{{"x", []string{"1"}}, {"y", nil}, {"z", []string{"2", "3"}}},
		Attrs: map[string]string{"lang": "en", "tz": "UTC"}}
	b.ReportAllocs()
	for b.Loop() {
		sizeOf(v)
	}
}
