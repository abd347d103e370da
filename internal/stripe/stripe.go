// Package stripe holds counters that many goroutines add to without contending: a Set keeps one
// cell of its counters per P (the runtime's processors, GOMAXPROCS of them), and an add touches
// only the cell of the P it runs on, so goroutines on different cores never write the same cache
// line. Reading sums the cells. The Cache counts its statistics with it on the hit path.
package stripe

import (
	"math/bits"
	"runtime"
	"sync/atomic"
	_ "unsafe" // for go:linkname
)

// procPin pins the calling goroutine to its P (it is not preempted until procUnpin) and returns the
// P's id. The runtime keeps both for packages outside it (go.dev/issue/67401); sync.Pool and
// otter's counters find their stripe the same way.
//
//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

// cellBytes is the size of a cell: two cache lines, so that the adjacent-line prefetcher does not
// pair two Ps' cells either.
const cellBytes = 128

// maxCells bounds the cells of a Set; beyond it Ps share cells.
const maxCells = 256

// Set is a fixed number of int64 counters, indexed from 0. Make one with New.
//
// Each P adds to its own cell (the cell of P id p is p modulo the number of cells, a power of two at
// least GOMAXPROCS when New ran), with an atomic add: Ps that share a cell, after GOMAXPROCS grew,
// stay correct, only slower.
type Set struct {
	n      int            // counters
	stride int            // int64 slots per cell: n rounded up to whole cells
	mask   int            // cells-1
	slots  []atomic.Int64 // cells*stride
}

// New returns a Set of n counters, all zero.
func New(n int) *Set {
	stride := (n*8 + cellBytes - 1) / cellBytes * cellBytes / 8
	cells := min(1<<bits.Len(uint(max(runtime.GOMAXPROCS(0), runtime.NumCPU())-1)), maxCells)
	return &Set{n: n, stride: stride, mask: cells - 1, slots: make([]atomic.Int64, cells*stride)}
}

// Len returns the number of counters.
func (s *Set) Len() int { return s.n }

// Add adds d to counter i.
func (s *Set) Add(i int, d int64) { s.slots[s.cell()+i].Add(d) }

// cell returns the index of the first slot of the running P's cell. It stays apart from Add, so
// that Add inlines into its callers and only this call remains.
func (s *Set) cell() int {
	p := procPin()
	procUnpin()
	return (p & s.mask) * s.stride
}

// Inc adds 1 to counter i.
func (s *Set) Inc(i int) { s.Add(i, 1) }

// Inc2 adds 1 to counters i and j, finding the cell once.
func (s *Set) Inc2(i, j int) {
	base := s.cell()
	s.slots[base+i].Add(1)
	s.slots[base+j].Add(1)
}

// Load returns the sum of counter i. An add that returned before Load started is in it; adds that
// run meanwhile may or may not be.
func (s *Set) Load(i int) int64 {
	var sum int64
	for base := 0; base < len(s.slots); base += s.stride {
		sum += s.slots[base+i].Load()
	}
	return sum
}

// Snapshot returns the sums of every counter, in order, in dst (reused when it is long enough).
func (s *Set) Snapshot(dst []int64) []int64 {
	if cap(dst) < s.n {
		dst = make([]int64, s.n)
	}
	dst = dst[:s.n]
	clear(dst)
	for base := 0; base < len(s.slots); base += s.stride {
		for i := range dst {
			dst[i] += s.slots[base+i].Load()
		}
	}
	return dst
}
