package backendtest

import (
	"fmt"
	"math"
	"slices"

	"github.com/cashews-go/cashews/backends"
)

// bitsCall reports unless a GetBits or IncrBits call returned want.
func (e *env) bitsCall(call string, got []int64, err error, want ...int64) {
	e.t.Helper()
	if err != nil || !slices.Equal(got, want) {
		e.t.Errorf("%s = (%v, %v), want (%v, nil)", call, got, err, want)
	}
}

func testBits(e *env) {
	ctx := e.ctx()
	for _, size := range []int{1, 4, 8, 63} {
		k := e.key(fmt.Sprintf("bits%d", size))
		top := int64(1)<<size - 1
		got, err := e.b.GetBits(ctx, k, size, 0, 1, 2, 100)
		e.bitsCall(fmt.Sprintf("GetBits(missing, %d, 0, 1, 2, 100)", size), got, err, 0, 0, 0, 0)
		got, err = e.b.IncrBits(ctx, k, size, 1, 0, 2)
		e.bitsCall(fmt.Sprintf("IncrBits(%d, by 1, 0, 2)", size), got, err, 1, 1)
		got, err = e.b.GetBits(ctx, k, size, 0, 1, 2, 3)
		e.bitsCall(fmt.Sprintf("GetBits(%d, 0, 1, 2, 3)", size), got, err, 1, 0, 1, 0)
		if top > 1 {
			got, err = e.b.IncrBits(ctx, k, size, 1, 2)
			e.bitsCall(fmt.Sprintf("IncrBits(%d, by 1, 2)", size), got, err, 2)
			got, err = e.b.IncrBits(ctx, k, size, -1, 0)
			e.bitsCall(fmt.Sprintf("IncrBits(%d, by -1, 0)", size), got, err, 0)
			got, err = e.b.IncrBits(ctx, k, size, top-1, 1)
			e.bitsCall(fmt.Sprintf("IncrBits(%d, by %d, 1)", size, top-1), got, err, top-1)
			got, err = e.b.GetBits(ctx, k, size, 0, 1, 2, 3)
			e.bitsCall(fmt.Sprintf("GetBits(%d, 0, 1, 2, 3)", size), got, err, 0, top-1, 2, 0)
		}
		e.check(e.exists(k, true))
	}
}

func testBitsSaturate(e *env) {
	ctx := e.ctx()
	for _, size := range []int{1, 4, 8, 63} {
		k := e.key(fmt.Sprintf("bits%d", size))
		top := int64(1)<<size - 1
		call := func(by int64, idx int64, want int64) {
			e.t.Helper()
			got, err := e.b.IncrBits(ctx, k, size, by, idx)
			e.bitsCall(fmt.Sprintf("IncrBits(size %d, by %d, index %d)", size, by, idx), got, err, want)
		}
		call(top, 1, top)
		call(1, 1, top)
		call(math.MaxInt64, 1, top)
		call(-1, 1, top-1)
		call(-top, 1, 0)
		call(-1, 1, 0)
		call(math.MinInt64+1, 1, 0)
		// Saturating one counter leaves its neighbours alone.
		call(math.MaxInt64, 2, top)
		got, err := e.b.GetBits(ctx, k, size, 0, 1, 2, 3)
		e.bitsCall(fmt.Sprintf("GetBits(size %d, 0, 1, 2, 3)", size), got, err, 0, 0, top, 0)
	}
}

func testBitsInvalid(e *env) {
	ctx, k := e.ctx(), e.key("bits")
	for _, size := range []int{0, 64, -1, 65} {
		_, err := e.b.GetBits(ctx, k, size, 0)
		e.wantErrIs(err, backends.ErrInvalidArgument, "GetBits(size %d)", size)
		_, err = e.b.IncrBits(ctx, k, size, 1, 0)
		e.wantErrIs(err, backends.ErrInvalidArgument, "IncrBits(size %d)", size)
	}
	_, err := e.b.GetBits(ctx, k, 4, 0, -1)
	e.wantErrIs(err, backends.ErrInvalidArgument, "GetBits(size 4, indexes 0, -1)")
	_, err = e.b.IncrBits(ctx, k, 4, 1, 0, -1)
	e.wantErrIs(err, backends.ErrInvalidArgument, "IncrBits(size 4, indexes 0, -1)")
	e.check(e.exists(k, false))
}

func testBitsLargeIndex(e *env) {
	ctx := e.ctx()
	for _, size := range []int{1, 4} {
		k := e.key(fmt.Sprintf("bits%d", size))
		got, err := e.b.IncrBits(ctx, k, size, 1, 1_000_000)
		e.bitsCall(fmt.Sprintf("IncrBits(size %d, by 1, index 1000000)", size), got, err, 1)
		got, err = e.b.GetBits(ctx, k, size, 0, 999_999, 1_000_000, 1_000_001, 5_000_000)
		e.bitsCall(fmt.Sprintf("GetBits(size %d, 0, 999999, 1000000, 1000001, 5000000)", size), got, err, 0, 0, 1, 0, 0)
	}
}

// testBitsLayout checks the one layout of bit arrays, Redis' BITFIELD: the counter at index i of size
// bits occupies bits i*size to i*size+size-1 of the array, most significant bit first, bit 0 being
// the most significant bit of byte 0. So counters written with one size read the same with another
// on every backend.
func testBitsLayout(e *env) {
	ctx := e.ctx()
	k := e.key("bits")
	_, err := e.b.IncrBits(ctx, k, 1, 1, 0, 3) // bits 0 and 3: 1001....
	e.must(err, "IncrBits(size 1, by 1, indexes 0, 3)")
	got, err := e.b.GetBits(ctx, k, 2, 0, 1)
	e.bitsCall("GetBits(size 2, 0, 1) after setting bits 0 and 3", got, err, 0b10, 0b01)
	got, err = e.b.GetBits(ctx, k, 4, 0)
	e.bitsCall("GetBits(size 4, 0) after setting bits 0 and 3", got, err, 0b1001)

	k2 := e.key("bits2")
	_, err = e.b.IncrBits(ctx, k2, 8, 0x81, 1) // byte 1 = 10000001
	e.must(err, "IncrBits(size 8, by 0x81, index 1)")
	got, err = e.b.GetBits(ctx, k2, 1, 7, 8, 9, 14, 15, 16)
	e.bitsCall("GetBits(size 1, 7, 8, 9, 14, 15, 16) after byte 1 = 0x81", got, err, 0, 1, 0, 0, 1, 0)
	got, err = e.b.GetBits(ctx, k2, 4, 2, 3)
	e.bitsCall("GetBits(size 4, 2, 3) after byte 1 = 0x81", got, err, 0b1000, 0b0001)

	k3 := e.key("bits3")
	_, err = e.b.IncrBits(ctx, k3, 5, 0b10110, 1) // bits 5 to 9, across a byte boundary
	e.must(err, "IncrBits(size 5, by 22, index 1)")
	got, err = e.b.GetBits(ctx, k3, 1, 4, 5, 6, 7, 8, 9, 10)
	e.bitsCall("GetBits(size 1, 4..10) after counter 1 of size 5 = 10110", got, err, 0, 1, 0, 1, 1, 0, 0)
	got, err = e.b.GetBits(ctx, k3, 3, 1, 2)
	e.bitsCall("GetBits(size 3, 1, 2) after counter 1 of size 5 = 10110", got, err, 0b001, 0b011) // bits 3-5, 6-8
}
