package crossbackend_test

import (
	"context"
	"errors"
	"iter"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends/backendtest"
	"github.com/cashews-go/cashews/detect"
)

type row struct {
	ID   int
	Name string
}

// rows returns a source of n rows per call, counting its runs.
func rows(runs *atomic.Int64) func(context.Context, int) (iter.Seq[row], error) {
	return func(ctx context.Context, n int) (iter.Seq[row], error) {
		runs.Add(1)
		return func(yield func(row) bool) {
			for i := range n {
				if !yield(row{i, "r"}) {
					return
				}
			}
		}, nil
	}
}

// TestWrapSeqEveryBackend: a sequence read to its end is stored and replayed; one stopped early, or
// past the limit, is not; on every backend, with concurrent readers.
func TestWrapSeqEveryBackend(t *testing.T) {
	forEachSetup(t, nil, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, s *setup) {
		ctx := context.Background()
		var runs atomic.Int64
		list := cashews.MustWrapSeq(c, rows(&runs), cashews.Name("rows"), cashews.Key("rows:{.}"), cashews.TTL(time.Minute), cashews.SeqLimit(5))
		collect := func(ctx context.Context, n int) []row {
			t.Helper()
			seq, err := list(ctx, n)
			if err != nil {
				t.Fatal(err)
			}
			return slices.Collect(seq)
		}
		want := []row{{0, "r"}, {1, "r"}, {2, "r"}}

		// Stopped early: nothing stored.
		seq, _ := list(ctx, 3)
		for range seq {
			break
		}
		if _, found, _ := c.GetExpire(ctx, "rows:3"); found {
			t.Fatal("a sequence the caller stopped early was stored")
		}
		// Read to its end: stored, then replayed without the source, with a detect hit.
		if got := collect(ctx, 3); !slices.Equal(got, want) {
			t.Fatalf("first run: %v; want %v", got, want)
		}
		before := runs.Load()
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				ctx, d := detect.New(ctx)
				seq, err := list(ctx, 3)
				if err != nil {
					t.Error(err)
					return
				}
				if got := slices.Collect(seq); !slices.Equal(got, want) {
					t.Errorf("replay: %v; want %v", got, want)
				}
				if h := d.Hits(); len(h) != 1 || h[0].Strategy != "iterator" || h[0].Key != "rows:3" {
					t.Errorf("detect: %+v; want one iterator hit at rows:3", h)
				}
			})
		}
		wg.Wait()
		if n := runs.Load() - before; n != 0 {
			t.Errorf("the source ran %d times for hits; want 0", n)
		}
		if v, found, err := cashews.Get[[]row](ctx, c, "rows:3"); err != nil || !found || !slices.Equal(v, want) {
			t.Errorf("Get[[]row](rows:3) = %v, %v, %v; want the stored sequence", v, found, err)
		}
		// Past the limit (5): the caller gets every value, nothing is stored.
		if got := collect(ctx, 7); len(got) != 7 {
			t.Errorf("past the limit: %d values; want 7", len(got))
		}
		if _, found, _ := c.GetExpire(ctx, "rows:7"); found {
			t.Error("a sequence past the limit was stored")
		}
		// An empty sequence is a sequence: stored, and replayed empty.
		collect(ctx, 0)
		before = runs.Load()
		if got := collect(ctx, 0); len(got) != 0 || runs.Load() != before {
			t.Errorf("empty: %v, %d runs; want a hit with no values", got, runs.Load()-before)
		}
		clock.Advance(2 * time.Minute)
		before = runs.Load()
		collect(ctx, 3)
		if runs.Load() != before+1 {
			t.Error("after the TTL the source did not run again")
		}
	})
}

// TestWrapSeq2EveryBackend: a sequence that yields an error stores nothing.
func TestWrapSeq2EveryBackend(t *testing.T) {
	forEachSetup(t, func(s *setup) bool { return !s.secret }, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, s *setup) {
		ctx := context.Background()
		boom := errors.New("boom")
		var runs atomic.Int64
		fail := true
		list := cashews.MustWrapSeq2(c, func(ctx context.Context, n int) (iter.Seq2[int, error], error) {
			runs.Add(1)
			return func(yield func(int, error) bool) {
				for i := range n {
					if !yield(i, nil) {
						return
					}
				}
				if fail {
					yield(0, boom)
				}
			}, nil
		}, cashews.Name("seq2"), cashews.Key("seq2:{.}"), cashews.TTL(time.Minute))
		run := func() (vals []int, err error) {
			seq, err := list(ctx, 2)
			if err != nil {
				return nil, err
			}
			for v, err := range seq {
				if err != nil {
					return vals, err
				}
				vals = append(vals, v)
			}
			return vals, nil
		}
		if vals, err := run(); !errors.Is(err, boom) || !slices.Equal(vals, []int{0, 1}) {
			t.Fatalf("failing run: %v, %v", vals, err)
		}
		fail = false
		if vals, err := run(); err != nil || !slices.Equal(vals, []int{0, 1}) {
			t.Fatalf("good run: %v, %v", vals, err)
		}
		if vals, err := run(); err != nil || !slices.Equal(vals, []int{0, 1}) || runs.Load() != 2 {
			t.Fatalf("replay: %v, %v after %d runs; want a hit after 2", vals, err, runs.Load())
		}
	})
}
