package redis

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// TestDeadlinesShared: commands started within one step share a context, whose deadline is between
// the timeout and the timeout plus a step after each of them started, and which ends at it; a
// command started after the step gets a new one.
func TestDeadlinesShared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 100 * time.Millisecond
		d := newDeadlines(timeout)
		defer d.close()
		if d.step <= 0 || d.step > timeout/16 {
			t.Fatalf("step %s, want a small part of the timeout %s", d.step, timeout)
		}
		start := time.Now()
		first := d.get(start)
		check := func(ctx context.Context, at time.Time) {
			t.Helper()
			dl, ok := ctx.Deadline()
			if !ok || dl.Sub(at) < timeout || dl.Sub(at) > timeout+d.step {
				t.Fatalf("deadline %v after the start (set %v), want between %s and %s", dl.Sub(at), ok, timeout, timeout+d.step)
			}
		}
		check(first, start)
		time.Sleep(d.step / 2)
		if ctx := d.get(time.Now()); ctx != first {
			t.Fatal("a command within the step got another context")
		} else {
			check(ctx, time.Now())
		}
		time.Sleep(d.step)
		next := d.get(time.Now())
		if next == first {
			t.Fatal("a command after the step got the first context")
		}
		check(next, time.Now())
		<-first.Done()
		if took := time.Since(start); took < timeout || took > timeout+d.step {
			t.Fatalf("the context ended after %s, want between %s and %s", took, timeout, timeout+d.step)
		}
		if first.Err() != context.DeadlineExceeded {
			t.Fatalf("Err() = %v, want context.DeadlineExceeded", first.Err())
		}
	})
}

type ctxKey struct{}

// TestWithTimeout: withTimeout keeps a caller's sooner deadline, bounds a context that nothing else
// ends with the shared deadline (keeping its values), and derives a context from one that can be
// cancelled.
func TestWithTimeout(t *testing.T) {
	b := &Backend{timeout: time.Second, deadlines: newDeadlines(time.Second)}
	defer b.deadlines.close()
	inBounds := func(ctx context.Context) {
		t.Helper()
		dl, ok := ctx.Deadline()
		if left := time.Until(dl); !ok || left > b.timeout+b.deadlines.step || left < b.timeout-time.Second/10 {
			t.Fatalf("deadline in %s (set %v), want about %s", time.Until(dl), ok, b.timeout)
		}
	}

	ctx, cancel := b.withTimeout(context.Background())
	cancel()
	inBounds(ctx)
	if ctx != b.deadlines.get(time.Now()) {
		t.Error("context.Background: not the shared deadline")
	}

	vals := context.WithValue(context.Background(), ctxKey{}, "span")
	ctx, cancel = b.withTimeout(vals)
	cancel()
	inBounds(ctx)
	if got := ctx.Value(ctxKey{}); got != "span" {
		t.Errorf("Value = %v, want the caller's value", got)
	}

	soon, cancelSoon := context.WithTimeout(context.Background(), time.Second/2)
	defer cancelSoon()
	if ctx, cancel = b.withTimeout(soon); ctx != soon {
		t.Error("a sooner deadline of the caller was replaced")
	}
	cancel()

	parent, cancelParent := context.WithCancel(vals)
	ctx, cancel = b.withTimeout(parent)
	defer cancel()
	inBounds(ctx)
	cancelParent()
	select {
	case <-ctx.Done():
	case <-time.After(time.Second):
		t.Fatal("the caller's cancellation did not reach the command's context")
	}
}
