package backendtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cashews-go/cashews/backends"
)

// command is one call of a Backend method with valid arguments, for the cases that run every method.
type command struct {
	name string
	call func(ctx context.Context, b caps, key string) error
}

// need returns the capability the command needs, or "" for a command of the core.
func (c command) need() string {
	switch c.name {
	case "Get", "Set", "Exists", "Delete", "Expire", "GetExpire":
		return ""
	case "GetMany", "SetMany", "DeleteMany":
		return "Batcher"
	case "DeleteMatch":
		return "MatchDeleter"
	case "Scan":
		return "Scanner"
	case "Incr":
		return "Counter"
	case "Ping":
		return "Pinger"
	case "SetLock", "Unlock", "ExtendLock", "IsLocked":
		return "Locker"
	case "KeysCount", "ValueSize", "Clear":
		return "Admin"
	case "SetAdd", "SetRemove", "SetPop", "SetMembers":
		return "SetStore"
	case "GetBits", "IncrBits":
		return "BitStore"
	case "SliceIncr":
		return "SlidingWindow"
	}
	panic("backendtest: command " + c.name + " has no capability")
}

// commandsOf returns the commands b has.
func commandsOf(b caps) []command {
	var out []command
	for _, c := range commands {
		if n := c.need(); n == "" || b.has[n] {
			out = append(out, c)
		}
	}
	return out
}

// commands calls every method of Backend but Close.
var commands = []command{
	{"Get", func(ctx context.Context, b caps, k string) error { _, _, err := b.Get(ctx, k); return err }},
	{"GetMany", func(ctx context.Context, b caps, k string) error {
		_, err := b.GetMany(ctx, []string{k})
		return err
	}},
	{"Set", func(ctx context.Context, b caps, k string) error {
		_, err := b.Set(ctx, k, []byte("v"), 0, backends.SetAlways)
		return err
	}},
	{"SetMany", func(ctx context.Context, b caps, k string) error {
		return b.SetMany(ctx, []backends.Item{{Key: k, Value: []byte("v")}})
	}},
	{"Exists", func(ctx context.Context, b caps, k string) error { _, err := b.Exists(ctx, k); return err }},
	{"Delete", func(ctx context.Context, b caps, k string) error { _, err := b.Delete(ctx, k); return err }},
	{"DeleteMany", func(ctx context.Context, b caps, k string) error {
		_, err := b.DeleteMany(ctx, []string{k})
		return err
	}},
	{"DeleteMatch", func(ctx context.Context, b caps, k string) error {
		_, err := b.DeleteMatch(ctx, k+"*")
		return err
	}},
	{"Scan", func(ctx context.Context, b caps, k string) error {
		for _, err := range b.Scan(ctx, k+"*", 10) {
			if err != nil {
				return err
			}
		}
		return nil
	}},
	{"Incr", func(ctx context.Context, b caps, k string) error {
		_, err := b.Incr(ctx, k+":n", 1, 0)
		return err
	}},
	{"Expire", func(ctx context.Context, b caps, k string) error {
		_, err := b.Expire(ctx, k, time.Minute)
		return err
	}},
	{"GetExpire", func(ctx context.Context, b caps, k string) error {
		_, _, err := b.GetExpire(ctx, k)
		return err
	}},
	{"Ping", func(ctx context.Context, b caps, k string) error { return b.Ping(ctx) }},
	{"SetLock", func(ctx context.Context, b caps, k string) error {
		_, err := b.SetLock(ctx, k+":lock", "t", time.Minute)
		return err
	}},
	{"Unlock", func(ctx context.Context, b caps, k string) error {
		_, err := b.Unlock(ctx, k+":lock", "t")
		return err
	}},
	{"ExtendLock", func(ctx context.Context, b caps, k string) error {
		_, err := b.ExtendLock(ctx, k+":lock", "t", time.Minute)
		return err
	}},
	{"IsLocked", func(ctx context.Context, b caps, k string) error {
		_, err := b.IsLocked(ctx, k+":lock")
		return err
	}},
	{"KeysCount", func(ctx context.Context, b caps, k string) error { _, err := b.KeysCount(ctx); return err }},
	{"ValueSize", func(ctx context.Context, b caps, k string) error {
		_, err := b.ValueSize(ctx, k)
		return err
	}},
	{"SetAdd", func(ctx context.Context, b caps, k string) error {
		_, err := b.SetAdd(ctx, k+":set", 0, "m")
		return err
	}},
	{"SetRemove", func(ctx context.Context, b caps, k string) error {
		_, err := b.SetRemove(ctx, k+":set", "m")
		return err
	}},
	{"SetPop", func(ctx context.Context, b caps, k string) error {
		_, err := b.SetPop(ctx, k+":set", 1)
		return err
	}},
	{"SetMembers", func(ctx context.Context, b caps, k string) error {
		_, err := b.SetMembers(ctx, k+":set")
		return err
	}},
	{"GetBits", func(ctx context.Context, b caps, k string) error {
		_, err := b.GetBits(ctx, k+":bits", 4, 0)
		return err
	}},
	{"IncrBits", func(ctx context.Context, b caps, k string) error {
		_, err := b.IncrBits(ctx, k+":bits", 4, 1, 0)
		return err
	}},
	{"SliceIncr", func(ctx context.Context, b caps, k string) error {
		_, _, err := b.SliceIncr(ctx, k+":window", time.Now(), time.Minute, 10)
		return err
	}},
	// Clear runs last: on a closed backend it must fail; under a cancelled context it may succeed.
	{"Clear", func(ctx context.Context, b caps, k string) error { return b.Clear(ctx) }},
}

func testContext(e *env) {
	cancelled, cancel := context.WithCancel(e.ctx())
	cancel()
	expired, cancel2 := context.WithDeadline(e.ctx(), time.Now().Add(-time.Second))
	defer cancel2()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want error
	}{{"cancelled", cancelled, context.Canceled}, {"past deadline", expired, context.DeadlineExceeded}} {
		for _, c := range commandsOf(e.b) {
			if c.name == "Clear" {
				continue // Clear would clear the keys of the cases running beside this one
			}
			// The call must return (the test's timeout catches a hang) and either succeed or say why not.
			if err := c.call(tc.ctx, e.b, e.key("k")); err != nil && !errors.Is(err, tc.want) {
				e.t.Errorf("%s with a %s context: error = %v, want nil or an error wrapping %v", c.name, tc.name, err, tc.want)
			}
		}
	}
	// The backend still works with a live context.
	k := e.key("after")
	e.set(k, e.val("v"), 0)
	e.check(e.hit(k, e.val("v")))
}

func testClose(e *env) {
	k := e.key("k")
	e.set(k, e.val("v"), 0)
	errs := make(chan error, 4)
	parallel(4, func(int) { errs <- e.b.Close() })
	close(errs)
	for err := range errs {
		if err != nil {
			e.t.Errorf("Close() from one of 4 concurrent callers = %v, want nil", err)
		}
	}
	if err := e.b.Close(); err != nil {
		e.t.Errorf("Close() again = %v, want nil", err)
	}
	for _, c := range commandsOf(e.b) {
		err := c.call(e.ctx(), e.b, k)
		e.wantErrIs(err, backends.ErrClosed, "%s after Close", c.name)
	}
	if e.b.Scanner == nil {
		return
	}
	for batch, err := range e.b.Scan(e.ctx(), e.key("*"), 10) {
		if err == nil {
			e.t.Errorf("Scan after Close yielded %q, want only an error wrapping ErrClosed", batch)
		}
	}
}

func testConcurrency(e *env) {
	const workers, ops = 32, 100
	values := make([]string, 8)
	counters := make([]string, 8)
	for i := range 8 {
		values[i] = e.key(fmt.Sprintf("v%d", i))
		counters[i] = e.key(fmt.Sprintf("n%d", i))
	}
	set, lock, bits := e.key("set"), e.key("lock"), e.key("bits")
	parallel(workers, func(w int) {
		ctx := e.ctx()
		fail := func(op string, err error) bool {
			if err != nil {
				e.t.Errorf("goroutine %d: %s: %v", w, op, err)
				return true
			}
			return false
		}
		for i := range ops {
			v, n := values[(w+i)%8], counters[(w*3+i)%8]
			var err error
			switch op := (w + i) % 12; op {
			case 0, 1:
				_, err = e.b.Set(ctx, v, e.val(fmt.Sprintf("v-%d-%d", w, i)), time.Hour, backends.SetAlways)
			case 2, 3:
				var got any
				var found bool
				got, found, err = e.b.Get(ctx, v)
				if err == nil && found {
					if s, ok := got.(string); !ok || !strings.HasPrefix(s, "v-") {
						if b, ok := got.([]byte); !ok || !strings.HasPrefix(string(b), "v-") {
							e.t.Errorf("goroutine %d: Get(%q) = %s, want one of the values written", w, v, show(got))
						}
					}
				}
			case 4:
				_, err = e.b.Delete(ctx, v)
			case 5, 6:
				_, err = e.b.Incr(ctx, n, 1, 0)
			case 7:
				_, _, err = e.b.Get(ctx, n)
			case 8:
				_, err = e.b.DeleteMany(ctx, []string{n, v})
			case 9:
				if _, err = e.b.SetAdd(ctx, set, time.Hour, fmt.Sprint(i)); err == nil {
					_, err = e.b.SetMembers(ctx, set)
				}
			case 10:
				tok := fmt.Sprint(w)
				var ok bool
				if ok, err = e.b.SetLock(ctx, lock, tok, time.Minute); err == nil && ok {
					_, err = e.b.Unlock(ctx, lock, tok)
				}
			case 11:
				if _, err = e.b.IncrBits(ctx, bits, 4, 1, int64(i%16)); err == nil {
					_, err = e.b.GetMany(ctx, values)
				}
			}
			if fail(fmt.Sprintf("op %d on %q/%q", (w+i)%12, v, n), err) {
				return
			}
		}
	})
}

func testKeysCount(e *env) {
	ctx := e.ctx()
	count := func(what string, want int64) {
		e.t.Helper()
		if n, err := e.b.KeysCount(ctx); n != want || err != nil {
			e.t.Errorf("KeysCount() %s = (%d, %v), want (%d, nil)", what, n, err, want)
		}
	}
	n, err := e.b.KeysCount(ctx)
	e.must(err, "KeysCount()")
	if n != 0 {
		e.t.Fatalf("KeysCount() of a backend from Harness.New = %d, want 0 (New must return an empty backend)", n)
	}
	keys := e.writeMany("v:", 10)
	count("after 10 Sets", 10)
	e.kinds("kinds:") // a value, a set, a counter, a lock, a bit array, a sliding window
	count("after one key of each of 6 kinds", 16)
	_, err = e.b.Delete(ctx, keys[0])
	e.must(err, "Delete")
	_, err = e.b.DeleteMany(ctx, keys[1:3])
	e.must(err, "DeleteMany")
	count("after deleting 3 keys", 13)

	ttl := e.shortTTL()
	start := e.now()
	for i := range 5 {
		e.set(e.key(fmt.Sprintf("short:%d", i)), e.val("v"), ttl)
	}
	e.beforeExpiry(start, ttl, "KeysCount with 5 keys not yet expired", func() error {
		if n, err := e.b.KeysCount(ctx); n != 18 || err != nil {
			return fmt.Errorf("KeysCount() = (%d, %v), want (18, nil)", n, err)
		}
		return nil
	})
	// Expired keys may be counted until the backend collects them, so the count is bounded.
	e.afterExpiry(start, ttl, "KeysCount after 5 keys expired", func() error {
		if n, err := e.b.KeysCount(ctx); n < 13 || n > 18 || err != nil {
			return fmt.Errorf("KeysCount() = (%d, %v), want (13 live keys, plus at most the 5 expired ones, nil)", n, err)
		}
		return nil
	})
	e.must(e.b.Clear(ctx), "Clear()")
	count("after Clear", 0)
}

func testClear(e *env) {
	ctx := e.ctx()
	keys := e.kinds("a:")
	keys = append(keys, e.writeMany("many:", 50)...)
	k := e.key("with-ttl")
	e.set(k, e.val("v"), time.Hour)
	keys = append(keys, k)
	if err := e.b.Clear(ctx); err != nil {
		e.t.Fatalf("Clear() = %v, want nil", err)
	}
	for _, k := range keys {
		e.check(e.exists(k, false))
	}
	if n, err := e.b.KeysCount(ctx); n != 0 || err != nil {
		e.t.Errorf("KeysCount() after Clear = (%d, %v), want (0, nil)", n, err)
	}
	if got := e.scan("*", 100); len(got) != 0 {
		e.t.Errorf("Scan(*) after Clear yielded %d keys %q, want none", len(got), head(got))
	}
	e.check(e.members(e.key("a:set")))
	e.check(e.locked(e.key("a:lock"), false))
	got, err := e.b.GetBits(ctx, e.key("a:bits"), 4, 3)
	e.bitsCall("GetBits(cleared key, 4, 3)", got, err, 0)
	w := e.window("a:window")
	w.incr(0, time.Hour, 10, 1, true)
	// The backend stays usable.
	e.set(k, e.val("again"), 0)
	e.check(e.hit(k, e.val("again")))
	if err := e.b.Clear(ctx); err != nil {
		e.t.Errorf("Clear() again = %v, want nil", err)
	}
}
