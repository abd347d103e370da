package cashews_test

import (
	"context"
	"errors"
	"iter"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/strategies"
)

func count(ctx context.Context, n int) (iter.Seq[int], error) {
	return slices.Values(make([]int, n)), nil
}

func TestWrapSeqConfigErrors(t *testing.T) {
	c, _ := newCache(t, "mem://")
	for _, tc := range []struct {
		name string
		opts []cashews.WrapOption
		want string
	}{
		{"no TTL", nil, "needs a TTL"},
		{"a strategy", []cashews.WrapOption{cashews.TTL(time.Hour), strategies.Early(time.Minute)}, "takes no strategy"},
		{"store errors", []cashews.WrapOption{cashews.TTL(time.Hour), cashews.StoreErrors(errors.New("x"))}, "does not store errors"},
		{"limit", []cashews.WrapOption{cashews.TTL(time.Hour), cashews.SeqLimit(0)}, "must be positive"},
		{"ResultTTL of the element type", []cashews.WrapOption{cashews.ResultTTL(func(int, error) time.Duration { return 1 })}, "ResultTTL takes int, but the function returns []int"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cashews.WrapSeq(c, count, tc.opts...)
			if !errors.Is(err, cashews.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("WrapSeq: %v; want ErrConfig containing %q", err, tc.want)
			}
		})
	}
	// SeqLimit belongs to WrapSeq and WrapSeq2 only.
	_, err := cashews.Wrap(c, func(ctx context.Context, n int) (int, error) { return n, nil }, cashews.Name("x"), cashews.TTL(time.Hour), cashews.SeqLimit(3))
	if !errors.Is(err, cashews.ErrConfig) || !strings.Contains(err.Error(), "WrapSeq") {
		t.Errorf("Wrap with SeqLimit: %v; want ErrConfig naming WrapSeq", err)
	}
	// Wrap of an iterator points at WrapSeq.
	_, err = cashews.Wrap(c, count, cashews.TTL(time.Hour))
	if err == nil || !strings.Contains(err.Error(), "WrapSeq") {
		t.Errorf("Wrap of an iterator: %v; want an error naming WrapSeq", err)
	}
	// ResultTTL over the collected slice works.
	if _, err := cashews.WrapSeq(c, count, cashews.ResultTTL(func(v []int, err error) time.Duration { return time.Duration(len(v)) * time.Second })); err != nil {
		t.Errorf("ResultTTL over []int: %v", err)
	}
}

func TestWrapSeqSourceError(t *testing.T) {
	c, _ := newCache(t, "mem://")
	boom := errors.New("boom")
	list := cashews.MustWrapSeq(c, func(ctx context.Context, n int) (iter.Seq[int], error) { return nil, boom }, cashews.Name("e"), cashews.TTL(time.Hour))
	if _, err := list(context.Background(), 1); !errors.Is(err, boom) {
		t.Errorf("error %v; want boom", err)
	}
}

// TestWrapSeqReadersRacingAStore: callers that read while the first run is being consumed stream
// from the source themselves; once it is stored, every caller replays it.
func TestWrapSeqReadersRacingAStore(t *testing.T) {
	c, _ := newCache(t, "mem://")
	ctx := context.Background()
	gate := make(chan struct{})
	runs := 0
	list := cashews.MustWrapSeq(c, func(ctx context.Context, n int) (iter.Seq[int], error) {
		runs++
		run := runs
		return func(yield func(int) bool) {
			for i := range n {
				if i == 1 && run == 1 {
					<-gate // the first run pauses in the middle
				}
				if !yield(i) {
					return
				}
			}
		}, nil
	}, cashews.Name("race"), cashews.TTL(time.Hour))
	first, _ := list(ctx, 3)
	done := make(chan []int)
	go func() { done <- slices.Collect(first) }()
	second, _ := list(ctx, 3) // read while the first run has not ended: a miss
	if got := slices.Collect(second); !slices.Equal(got, []int{0, 1, 2}) {
		t.Errorf("second: %v", got)
	}
	close(gate)
	if got := <-done; !slices.Equal(got, []int{0, 1, 2}) {
		t.Errorf("first: %v", got)
	}
	third, _ := list(ctx, 3)
	if got := slices.Collect(third); !slices.Equal(got, []int{0, 1, 2}) || runs != 2 {
		t.Errorf("third: %v after %d runs; want a replay after 2", got, runs)
	}
}
