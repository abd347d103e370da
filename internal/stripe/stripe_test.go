package stripe

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

func TestSetCountsEveryAdd(t *testing.T) {
	s := New(3)
	const goroutines, adds = 8, 10000
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for range adds {
				s.Inc(0)
				s.Add(1, int64(g))
				s.Inc2(2, 0)
			}
		})
	}
	wg.Wait()
	if got, want := s.Load(0), int64(2*goroutines*adds); got != want {
		t.Errorf("counter 0 = %d; want %d", got, want)
	}
	if got, want := s.Load(1), int64(adds*(goroutines*(goroutines-1)/2)); got != want {
		t.Errorf("counter 1 = %d; want %d", got, want)
	}
	if got, want := s.Snapshot(nil), []int64{2 * goroutines * adds, adds * (goroutines * (goroutines - 1) / 2), goroutines * adds}; got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("Snapshot = %v; want %v", got, want)
	}
}

// TestSetBeyondItsCells raises GOMAXPROCS above the cells a Set was made with: Ps share cells,
// added to atomically, and no add is lost.
func TestSetBeyondItsCells(t *testing.T) {
	s := New(1)
	s.mask = 0 // as if made when GOMAXPROCS was 1
	old := runtime.GOMAXPROCS(4)
	defer runtime.GOMAXPROCS(old)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5000 {
				s.Inc(0)
			}
		})
	}
	wg.Wait()
	if got := s.Load(0); got != 40000 {
		t.Errorf("counter = %d; want 40000", got)
	}
}

func TestSetPadsCells(t *testing.T) {
	for _, n := range []int{1, 16, 17, 40} {
		s := New(n)
		if s.stride*8%cellBytes != 0 || s.stride < n {
			t.Errorf("New(%d): stride %d slots; want whole %d-byte cells holding %d counters", n, s.stride, cellBytes, n)
		}
	}
}

func BenchmarkSetInc(b *testing.B) {
	s := New(4)
	b.Run("sequential", func(b *testing.B) {
		for b.Loop() {
			s.Inc(1)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				s.Inc(1)
			}
		})
	})
}

func BenchmarkAtomicAdd(b *testing.B) {
	var n atomic.Int64
	b.Run("sequential", func(b *testing.B) {
		for b.Loop() {
			n.Add(1)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				n.Add(1)
			}
		})
	})
}
