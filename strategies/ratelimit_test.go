package strategies_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends/backendtest"
	"github.com/cashews-go/cashews/strategies"
)

// rlSource counts its runs per argument and returns "<id>:v<run>".
type rlSource struct{ runs atomic.Int64 }

func (s *rlSource) load(ctx context.Context, id int) (string, error) {
	return fmt.Sprintf("%d:v%d", id, s.runs.Add(1)), nil
}

// rlStep moves the clock by advance, then calls the function with id, which must run (ok) or be
// refused with ErrRateLimited; runs is the number of runs after the call.
type rlStep struct {
	advance time.Duration
	id      int
	ok      bool
	runs    int64
}

func rlRun(t *testing.T, clock *backendtest.Clock, get func(context.Context, int) (string, error), src *rlSource, steps []rlStep) {
	t.Helper()
	for i, s := range steps {
		now := clock.Advance(s.advance)
		got, err := get(context.Background(), s.id)
		at := now.Sub(backendtest.ClockStart)
		if s.ok {
			if want := fmt.Sprintf("%d:v%d", s.id, s.runs); got != want || err != nil {
				t.Fatalf("step %d at +%v: get(%d) = %q, %v; want %q, nil", i+1, at, s.id, got, err, want)
			}
		} else if !errors.Is(err, cashews.ErrRateLimited) || got != "" {
			t.Fatalf("step %d at +%v: get(%d) = %q, %v; want an error matching ErrRateLimited", i+1, at, s.id, got, err)
		}
		if n := src.runs.Load(); n != s.runs {
			t.Fatalf("step %d at +%v: runs = %d; want %d", i+1, at, n, s.runs)
		}
	}
}

func rlWrap(t *testing.T, c *cashews.Cache, src *rlSource, s cashews.WrapOption) func(context.Context, int) (string, error) {
	return cashews.MustWrap(c, src.load, s, cashews.KeyPrefix(t.Name()+":"), cashews.Key("{.}"))
}

func TestRateLimitFixedWindow(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		var src rlSource
		get := rlWrap(t, c, &src, strategies.RateLimit(3, time.Minute))
		// The clock starts on a minute: windows are [0, 1m), [1m, 2m), ...
		rlRun(t, clock, get, &src, []rlStep{
			{0, 1, true, 1},
			{0, 1, true, 2},
			{0, 2, true, 3}, // another key has its own count
			{0, 1, true, 4},
			{0, 1, false, 4},
			{59 * time.Second, 1, false, 4},
			{time.Second - 1, 1, false, 4}, // the last nanosecond of the window
			{1, 1, true, 5},                // a new window
			{0, 1, true, 6},
			{0, 1, true, 7},
			{0, 1, false, 7},
			{0, 2, true, 8},
			{0, 2, true, 9},
			{0, 2, true, 10},
			{0, 2, false, 10},
			{90 * time.Second, 1, true, 11}, // two windows later, in the middle of one
			{29 * time.Second, 1, true, 12},
			{0, 1, true, 13},
			{0, 1, false, 13},
			{time.Second, 1, true, 14}, // the window edge lets 2×limit through in two seconds
		})
	})
}

func TestRateLimitBan(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		var src rlSource
		get := rlWrap(t, c, &src, strategies.RateLimit(2, time.Minute, strategies.RateLimitBan(90*time.Second)))
		rlRun(t, clock, get, &src, []rlStep{
			{0, 1, true, 1},
			{0, 1, true, 2},
			{0, 1, false, 2}, // over the limit: banned until +90s
			{0, 2, true, 3},  // another key is not banned
			{60 * time.Second, 1, false, 3},
			{30*time.Second - 1, 1, false, 3}, // the last nanosecond of the ban
			// The ban is over. Banned calls were not counted: the window of +60s has its whole
			// limit left.
			{1, 1, true, 4},
			{0, 1, true, 5},
			{0, 1, false, 5}, // banned again, until +180s
			{30 * time.Second, 1, false, 5},
			{60*time.Second - 1, 1, false, 5},
			{1, 1, true, 6},
		})
	})
}

func TestRateLimitAction(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		var src rlSource
		var actions atomic.Int64
		get := rlWrap(t, c, &src, strategies.RateLimit(1, time.Minute, strategies.RateLimitAction(
			func(ctx context.Context, call cashews.WrapCall) (any, error) {
				actions.Add(1)
				return fmt.Sprintf("busy:%d", call.Arg.(int)), nil
			})))
		for i, want := range []string{"5:v1", "busy:5", "busy:5"} {
			if got, err := get(context.Background(), 5); got != want || err != nil {
				t.Fatalf("call %d = %q, %v; want %q, nil", i+1, got, err, want)
			}
		}
		if r, a := src.runs.Load(), actions.Load(); r != 1 || a != 2 {
			t.Fatalf("runs = %d, actions = %d; want 1, 2", r, a)
		}
		clock.Advance(time.Minute)
		if got, err := get(context.Background(), 5); got != "5:v2" || err != nil {
			t.Fatalf("call in the next window = %q, %v; want %q, nil", got, err, "5:v2")
		}
	})
}

func TestSlidingRateLimit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		var src rlSource
		get := rlWrap(t, c, &src, strategies.SlidingRateLimit(3, time.Minute))
		rlRun(t, clock, get, &src, []rlStep{
			{0, 1, true, 1},                // events at +0
			{20 * time.Second, 1, true, 2}, // +20s
			{0, 1, true, 3},                // +20s
			{0, 1, false, 3},
			{0, 2, true, 4}, // another key has its own events
			{40*time.Second - 1, 1, false, 4},
			// At +60s the event of +0 is a whole period old: forgotten.
			{1, 1, true, 5},
			{0, 1, false, 5},                  // refused calls are not recorded...
			{20*time.Second - 1, 1, false, 5}, // ...so at +80s-1ns the events of +20s still count
			{1, 1, true, 6},                   // +80s: both events of +20s are forgotten
			{0, 1, true, 7},
			{0, 1, false, 7},
			{10 * time.Minute, 1, true, 8},
			{0, 1, true, 9},
			{0, 1, true, 10},
			{0, 1, false, 10},
		})
	})
}

func TestSlidingRateLimitBan(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock) {
		var src rlSource
		get := rlWrap(t, c, &src, strategies.SlidingRateLimit(1, time.Minute, strategies.RateLimitBan(5*time.Minute)))
		rlRun(t, clock, get, &src, []rlStep{
			{0, 1, true, 1},
			{0, 1, false, 1}, // banned until +5m
			{4 * time.Minute, 1, false, 1},
			{time.Minute - 1, 1, false, 1},
			{1, 1, true, 2},
		})
	})
}

func TestRateLimitFailModes(t *testing.T) {
	for _, sliding := range []bool{false, true} {
		for _, tc := range []struct {
			name    string
			opts    []strategies.RateLimitOption
			disable bool
			wantRun bool
		}{
			{"error/default", nil, false, true},
			{"error/open", []strategies.RateLimitOption{strategies.FailOpen}, false, true},
			{"error/closed", []strategies.RateLimitOption{strategies.FailClosed}, false, false},
			{"error/closed/ban", []strategies.RateLimitOption{strategies.FailClosed, strategies.RateLimitBan(time.Minute)}, false, false},
			{"noanswer/default", nil, true, true},
			{"noanswer/closed", []strategies.RateLimitOption{strategies.FailClosed}, true, false},
		} {
			name := map[bool]string{false: "fixed/", true: "sliding/"}[sliding] + tc.name
			t.Run(name, func(t *testing.T) {
				forEachBackend(t, func(t *testing.T, c *cashews.Cache, _ *backendtest.Clock) {
					var src rlSource
					s := strategies.RateLimit(1, time.Minute, tc.opts...)
					if sliding {
						s = strategies.SlidingRateLimit(1, time.Minute, tc.opts...)
					}
					get := rlWrap(t, c, &src, s)
					fault := guardInject(c, cashews.CmdIncr, cashews.CmdSliceIncr)
					if tc.disable {
						c.Disable(cashews.CmdIncr, cashews.CmdSliceIncr)
					} else {
						fault.on.Store(true)
					}
					// The limit is 1; two calls tell a limiter that counts from one that does not.
					for i := 1; i <= 2; i++ {
						got, err := get(context.Background(), 1)
						if tc.wantRun {
							if want := fmt.Sprintf("1:v%d", i); got != want || err != nil {
								t.Fatalf("call %d = %q, %v; want %q, nil (run uncounted)", i, got, err, want)
							}
							continue
						}
						if !errors.Is(err, cashews.ErrRateLimited) || got != "" {
							t.Fatalf("call %d = %q, %v; want an error matching ErrRateLimited", i, got, err)
						}
						if !tc.disable && !errors.Is(err, errGuardDown) {
							t.Fatalf("call %d: err = %v; want it to wrap the backend's error", i, err)
						}
					}
					if n, want := src.runs.Load(), map[bool]int64{true: 2, false: 0}[tc.wantRun]; n != want {
						t.Fatalf("runs = %d; want %d", n, want)
					}
				})
			})
		}
	}
}

func TestRateLimitConfig(t *testing.T) {
	c := cashews.New()
	t.Cleanup(func() { c.Close() })
	if err := c.Setup("mem://"); err != nil {
		t.Fatal(err)
	}
	fn := func(ctx context.Context, id int) (int, error) { return id, nil }
	for _, tc := range []struct {
		name  string
		s     cashews.WrapOption
		extra []cashews.WrapOption
		want  string
	}{
		{"zero limit", strategies.RateLimit(0, time.Minute), nil, "limit 0 must be positive"},
		{"zero period", strategies.RateLimit(1, 0), nil, "period 0s must be positive"},
		{"sliding negative period", strategies.SlidingRateLimit(1, -time.Second), nil, "sliding_rate_limit: the period -1s must be positive"},
		{"zero ban", strategies.RateLimit(1, time.Minute, strategies.RateLimitBan(0)), nil, "RateLimitBan(0s)"},
		{"nil action", strategies.RateLimit(1, time.Minute, strategies.RateLimitAction(nil)), nil, "RateLimitAction(nil)"},
		{"bad fail mode", strategies.RateLimit(1, time.Minute, strategies.FailMode(0)), nil, "FailMode(0)"},
		{"TTL", strategies.RateLimit(1, time.Minute), []cashews.WrapOption{cashews.TTL(time.Minute)}, "stores no results"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cashews.Wrap(c, fn, append([]cashews.WrapOption{tc.s, cashews.Name("rlfn")}, tc.extra...)...)
			if !errors.Is(err, cashews.ErrConfig) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "rlfn") {
				t.Fatalf("Wrap error = %v; want ErrConfig naming rlfn and %q", err, tc.want)
			}
		})
	}
}
