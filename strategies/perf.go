package strategies

import (
	"context"
	"fmt"
	"github.com/cashews-go/cashews"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/cashews-go/cashews/internal/quote"
)

type perf struct {
	degradeFor time.Duration
	trace      int
	factor     float64
	cond       func(took time.Duration, record []time.Duration) bool
	key        string
}

// PerfOption configures [Perf].
type PerfOption func(*perf)

// PerfTrace sets how many latencies make the record a call is compared with (default 10). Until
// that many calls succeeded, no call is found slow.
func PerfTrace(n int) PerfOption {
	return func(p *perf) { p.trace = n }
}

// PerfFactor sets how many times the median of the record a call may take before it is found
// slow (default 2).
func PerfFactor(f float64) PerfOption {
	return func(p *perf) { p.factor = f }
}

// PerfCondition replaces the comparison with the median: slow reports whether a call that took
// took is slow against record, the latencies of the last calls that were not (oldest first). slow
// must not keep or change record. It is called without any lock held, possibly concurrently.
func PerfCondition(slow func(took time.Duration, record []time.Duration) bool) PerfOption {
	return func(p *perf) { p.cond = slow }
}

// PerfKey sets the key at which the degraded state is kept, instead of "_cashews:perf:" and the
// wrapped function's name. The key routes like any key, so use one that starts with the prefix of
// the backend the state should live in.
func PerfKey(key string) PerfOption {
	return func(p *perf) { p.key = key }
}

// Perf returns the perf strategy, after cashews' perf decorator: it watches how long the function
// takes, and when a call takes longer than twice the median of the last 10 successful calls
// ([PerfFactor], [PerfTrace], [PerfCondition]), the function is degraded for degradeFor: every call
// returns an error matching [cashews.ErrPerfDegraded] without running the function, so that a slow
// dependency gets room to recover and callers fail fast (a failover Wrap around it can serve cached
// results meanwhile). The slow call itself returns its result. After degradeFor, calls run again;
// the first one that is still slow degrades the function again.
//
// Perf stores no results: nest it inside a caching Wrap to cache them. Latencies are measured with
// the Cache's clock, from just before the function runs to just after it returns; only successful
// calls count.
//
// # Where the state lives
//
// The record of latencies is local to the Wrap call: each process learns its own. A slow call is
// not added to the record, so the record stays the function's normal speed and a slowdown that
// lasts keeps the function degraded; but when more calls in a row than the record holds are slow,
// the latest of them become the record: the function's new normal speed. With the defaults, a
// lasting slowdown is accepted after 10 rounds of degradeFor, each ended by one slow call, and the
// 11th slow call in a row is not taken as slow.
//
// The degraded state is per function, not per key, and lives in the backend, so every process
// sharing it is degraded together: an entry at "_cashews:perf:" and the wrapped function's name
// ([PerfKey] changes it), which expires degradeFor after the slow call by the Cache's clock (its
// backend TTL only cleans up). Deleting it ends the degradation. When the state cannot be read (the
// backend fails), the function runs as if it were not degraded, and the failure is logged once per
// burst and counted; a strict Wrap returns the error instead. An error while storing the state is
// dropped (the slow call's result is still good).
//
// Configuration mistakes (degradeFor or PerfTrace not positive, PerfFactor not above 1) are errors
// of Wrap matching [cashews.ErrConfig].
func Perf(degradeFor time.Duration, opts ...PerfOption) cashews.WrapOption {
	p := &perf{degradeFor: degradeFor, trace: 10, factor: 2}
	for _, o := range opts {
		if o != nil {
			o(p)
		}
	}
	return cashews.WithStrategy(p)
}

func (*perf) Name() string { return "perf" }

func (p *perf) Decorate(next cashews.Func, env *cashews.Env) (cashews.Func, error) {
	switch {
	case p.degradeFor <= 0:
		return nil, fmt.Errorf("%w: %s: perf: degraded duration %v must be positive", cashews.ErrConfig, env.Name, p.degradeFor)
	case p.trace <= 0:
		return nil, fmt.Errorf("%w: %s: perf: PerfTrace(%d) must be positive", cashews.ErrConfig, env.Name, p.trace)
	case p.cond == nil && !(p.factor > 1 && !math.IsInf(p.factor, 1)):
		return nil, fmt.Errorf("%w: %s: perf: PerfFactor(%v) must be a number above 1", cashews.ErrConfig, env.Name, p.factor)
	}
	key := p.key
	if key == "" {
		key = "_cashews:perf:" + env.Name
	}
	slow := p.cond
	if slow == nil {
		factor := p.factor
		slow = func(took time.Duration, record []time.Duration) bool {
			return float64(took) > factor*float64(perfMedian(record))
		}
	}
	rec := &perfRecord{n: p.trace}
	return func(ctx context.Context, call cashews.WrapCall) (any, error) {
		state, found, err := env.GetEntry(ctx, key)
		if err != nil {
			if !env.RouteAround(ctx, key, err) {
				return nil, fmt.Errorf("cashews: %s: perf state %s: %w", env.Name, quote.String(key), err)
			}
			found = false // the state cannot be read: run the function, as when not degraded
		}
		if found {
			return nil, perfDegraded(env.Name, state)
		}
		start := env.Now()
		v, err := next(ctx, call)
		if err != nil {
			return v, err
		}
		end := env.Now()
		took := end.Sub(start)
		if record := rec.snapshot(); record != nil && slow(took, record) {
			if !rec.slow(took) {
				until := end.Add(p.degradeFor)
				state := &cashews.Entry{
					Err:     fmt.Errorf("%s took %v, slower than its record of %d calls (median %v); degraded until %s", env.Name, took, len(record), perfMedian(record), until.UTC().Format(time.RFC3339Nano)),
					Expires: until.UnixNano(),
				}
				env.SetEntry(ctx, key, state, p.degradeFor, nil)
			}
			return v, err
		}
		rec.add(took)
		return v, err
	}, nil
}

// perfDegraded returns the error of a call while the function is degraded: it matches
// cashews.ErrPerfDegraded and says why.
func perfDegraded(name string, state *cashews.Entry) error {
	if state.Err != nil {
		return fmt.Errorf("%w: %s", cashews.ErrPerfDegraded, state.Err.Error())
	}
	return fmt.Errorf("%w: %s", cashews.ErrPerfDegraded, name)
}

// perfRecord holds the latencies of the last n calls that were not slow, and of the slow calls in a
// row since.
type perfRecord struct {
	mu    sync.Mutex
	n     int
	ring  []time.Duration // up to n latencies; next is where the next one goes once it is full
	next  int
	slows []time.Duration // slow latencies in a row
}

// snapshot returns a copy of the record, oldest first, or nil while it holds fewer than n.
func (r *perfRecord) snapshot() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ring) < r.n {
		return nil
	}
	out := make([]time.Duration, 0, r.n)
	out = append(out, r.ring[r.next:]...)
	return append(out, r.ring[:r.next]...)
}

// add records a latency that was not slow, which ends a run of slow ones.
func (r *perfRecord) add(took time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.slows = r.slows[:0]
	r.push(took)
}

func (r *perfRecord) push(took time.Duration) {
	if len(r.ring) < r.n {
		r.ring = append(r.ring, took)
		return
	}
	r.ring[r.next] = took
	r.next = (r.next + 1) % r.n
}

// slow records a slow latency and reports whether it made the run of slow ones longer than the
// record; then the last of them replace the record, as the new normal, and the call is not taken
// as slow.
func (r *perfRecord) slow(took time.Duration) (newNormal bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.slows = append(r.slows, took)
	if len(r.slows) <= r.n {
		return false
	}
	r.ring, r.next = append(r.ring[:0], r.slows[len(r.slows)-r.n:]...), 0
	r.slows = r.slows[:0]
	return true
}

// perfMedian returns the median of record, which is not empty.
func perfMedian(record []time.Duration) time.Duration {
	s := slices.Clone(record)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return s[len(s)/2-1] + (s[len(s)/2]-s[len(s)/2-1])/2
}
