package flight

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestLastWaiterCancels: the call goes on while one waiter is left, and its context ends when the
// last one gives up; the next Do starts a new call.
func TestLastWaiterCancels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g Group[int]
		var runs atomic.Int64
		var ended atomic.Int64
		start := time.Now()
		fn := func(ctx context.Context) (int, error) {
			runs.Add(1)
			<-ctx.Done()
			ended.Store(int64(time.Since(start)))
			return 0, ctx.Err()
		}
		a, cancelA := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancelA()
		b, cancelB := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancelB()
		errs := make(chan error, 2)
		go func() { _, _, err := g.Do(a, "k", NoMark, 0, fn); errs <- err }()
		go func() { _, _, err := g.Do(b, "k", NoMark, 0, fn); errs <- err }()
		for range 2 {
			if err := <-errs; !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("waiter = %v; want its own deadline", err)
			}
		}
		synctest.Wait()
		if runs.Load() != 1 || time.Duration(ended.Load()) != 30*time.Millisecond {
			t.Fatalf("runs %d, call ended at %v; want one call, ended when the last waiter left at 30ms", runs.Load(), time.Duration(ended.Load()))
		}
		c, cancelC := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancelC()
		g.Do(c, "k", NoMark, 0, fn)
		synctest.Wait()
		if runs.Load() != 2 {
			t.Fatalf("runs = %d after the key was freed; want a new call", runs.Load())
		}
	})
}

// TestTimeout: a call's own timeout ends its context while a waiter without a deadline waits.
func TestTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g Group[int]
		start := time.Now()
		_, _, err := g.Do(context.Background(), "k", NoMark, 50*time.Millisecond, func(ctx context.Context) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		})
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 50*time.Millisecond {
			t.Fatalf("Do = %v after %v; want DeadlineExceeded at 50ms", err, time.Since(start))
		}
	})
}

// TestMark: a caller with a mark taken before a call finished takes its result; a caller with a
// later mark, or none, starts a new call; a failed call is never handed out.
func TestMark(t *testing.T) {
	var g Group[int]
	ctx := context.Background()
	n := 0
	fn := func(context.Context) (int, error) { n++; return n, nil }
	before := g.Mark()
	if v, _, _ := g.Do(ctx, "k", NoMark, 0, fn); v != 1 {
		t.Fatalf("first Do = %d; want 1", v)
	}
	if v, shared, _ := g.Do(ctx, "k", before, 0, fn); v != 1 || !shared || n != 1 {
		t.Fatalf("Do with an earlier mark = %d (shared %v), runs %d; want the finished call's 1", v, shared, n)
	}
	if v, _, _ := g.Do(ctx, "k", g.Mark(), 0, fn); v != 2 {
		t.Fatalf("Do with a later mark = %d; want a new call", v)
	}
	if v, _, _ := g.Do(ctx, "k", NoMark, 0, fn); v != 3 {
		t.Fatalf("Do without a mark = %d; want a new call", v)
	}
	m := g.Mark()
	g.Do(ctx, "e", NoMark, 0, func(context.Context) (int, error) { return 0, errors.New("boom") })
	if v, _, err := g.Do(ctx, "e", m, 0, fn); err != nil || v != 4 {
		t.Fatalf("Do after a failed call = %d, %v; want a new call", v, err)
	}
	g.Forget("e")
	if v, _, _ := g.Do(ctx, "e", m, 0, fn); v != 5 {
		t.Fatalf("Do after Forget = %d; want a new call", v)
	}
}

// TestPanic: a panic reaches the waiter as a *PanicError.
func TestPanic(t *testing.T) {
	var g Group[int]
	_, _, err := g.Do(context.Background(), "k", NoMark, 0, func(context.Context) (int, error) { panic("boom") })
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Value != "boom" {
		t.Fatalf("Do of a panicking call = %v; want a *PanicError with boom", err)
	}
}
