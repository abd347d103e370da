package cashews

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/internal/stats"
	"github.com/cashews-go/cashews/keytemplate"
)

// DefaultSeqLimit is how many values a wrapped sequence records at most when [SeqLimit] is not
// given.
const DefaultSeqLimit = 10_000

// SeqOption configures [WrapSeq] and [WrapSeq2] on top of the options of Wrap.
type SeqOption interface {
	WrapOption
	applySeq(*seqConfig)
}

type seqConfig struct {
	limit int
}

type seqLimit int

// applyWrap makes SeqLimit a mistake for the wrappers that take no sequence (Wrap, WrapMany);
// WrapSeq and WrapSeq2 clear the mark.
func (seqLimit) applyWrap(c *WrapConfig) { c.seqOnly = true }
func (n seqLimit) applySeq(s *seqConfig) { s.limit = int(n) }

// SeqLimit bounds how many values [WrapSeq] and [WrapSeq2] record from one run of the source (default
// [DefaultSeqLimit]). Past the bound, recording stops and nothing is stored: the caller still gets
// every value, streamed from the source, and the next call runs the source again. n must be
// positive.
func SeqLimit(n int) SeqOption { return seqLimit(n) }

// WrapSeq caches a function that returns a sequence (cashews' cache.iterator). The wrapped
// function returns a sequence at once; ranging over it
//
//   - on a miss, ranges over fn's sequence and yields its values to the caller as they come, while
//     recording them; when the sequence ends, the recorded values are stored as one entry (a []V
//     at the key, readable with Get[[]V]) for the TTL;
//   - on a hit, replays the stored values without calling fn.
//
// A caller that stops early (breaks out of its range loop) stores nothing, and neither does a run
// that yields more than [SeqLimit] values. An error from fn itself is returned as Wrap returns it,
// and nothing is stored. Concurrent callers of a cold key each run fn: a stream is not shared.
//
// The options are Wrap's (TTL, TTLFunc, ResultTTL over the []V, Key, KeyPrefix, Tags, StoreIf over
// the []V, Name, Version, Strict) and SeqLimit; strategies other than the default, StoreErrors and
// OnlyStoreErrors are configuration errors. The read happens when the wrapped function is called (a
// hit records its detect hit then); the write when the caller's range loop ends. Like Wrap it fails
// open: a read that fails runs fn, a write that fails is logged and counted.
//
// Configuration mistakes are returned, as by [Wrap]; [MustWrapSeq] panics with them.
func WrapSeq[A, V any](c *Cache, fn func(context.Context, A) (iter.Seq[V], error), opts ...WrapOption) (func(context.Context, A) (iter.Seq[V], error), error) {
	if fn == nil {
		return nil, fmt.Errorf("%w: WrapSeq of a nil function", ErrConfig)
	}
	s, err := newSeqWrap[A, V](c, fn, opts)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, a A) (iter.Seq[V], error) {
		call, hit, err := s.read(ctx, a)
		if err != nil || hit != nil {
			return seqOf(hit), err
		}
		src, err := fn(ctx, a)
		if err != nil || src == nil {
			return src, err
		}
		return func(yield func(V) bool) {
			rec := s.recorder()
			for v := range src {
				rec.add(v)
				if !yield(v) {
					return // stopped early: nothing stored
				}
			}
			s.store(ctx, call, rec)
		}, nil
	}, nil
}

// WrapSeq2 is [WrapSeq] for a function whose sequence yields errors beside its values. A run whose
// sequence yields a non-nil error stores nothing: the caller gets the values and the error as the
// source yielded them. Hits replay the stored values with nil errors.
func WrapSeq2[A, V any](c *Cache, fn func(context.Context, A) (iter.Seq2[V, error], error), opts ...WrapOption) (func(context.Context, A) (iter.Seq2[V, error], error), error) {
	if fn == nil {
		return nil, fmt.Errorf("%w: WrapSeq2 of a nil function", ErrConfig)
	}
	s, err := newSeqWrap[A, V](c, fn, opts)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, a A) (iter.Seq2[V, error], error) {
		call, hit, err := s.read(ctx, a)
		if err != nil {
			return nil, err
		}
		if hit != nil {
			return func(yield func(V, error) bool) {
				for _, v := range *hit {
					if !yield(v, nil) {
						return
					}
				}
			}, nil
		}
		src, err := fn(ctx, a)
		if err != nil || src == nil {
			return src, err
		}
		return func(yield func(V, error) bool) {
			rec := s.recorder()
			for v, err := range src {
				if err != nil {
					rec.failed = true
				} else {
					rec.add(v)
				}
				if !yield(v, err) {
					return
				}
			}
			s.store(ctx, call, rec)
		}, nil
	}, nil
}

// MustWrapSeq is [WrapSeq] that panics with a configuration mistake instead of returning it.
func MustWrapSeq[A, V any](c *Cache, fn func(context.Context, A) (iter.Seq[V], error), opts ...WrapOption) func(context.Context, A) (iter.Seq[V], error) {
	w, err := WrapSeq(c, fn, opts...)
	if err != nil {
		panic(err)
	}
	return w
}

// MustWrapSeq2 is [WrapSeq2] that panics with a configuration mistake instead of returning it.
func MustWrapSeq2[A, V any](c *Cache, fn func(context.Context, A) (iter.Seq2[V, error], error), opts ...WrapOption) func(context.Context, A) (iter.Seq2[V, error], error) {
	w, err := WrapSeq2(c, fn, opts...)
	if err != nil {
		panic(err)
	}
	return w
}

// seqOf returns a sequence that replays *vals, or nil for nil.
func seqOf[V any](vals *[]V) iter.Seq[V] {
	if vals == nil {
		return nil
	}
	return func(yield func(V) bool) {
		for _, v := range *vals {
			if !yield(v) {
				return
			}
		}
	}
}

// seqWrap is what WrapSeq and WrapSeq2 share for one wrapped function.
type seqWrap[A, V any] struct {
	c      *Cache
	name   string
	cfg    *WrapConfig
	env    *Env
	tmpl   *keytemplate.Template[A]
	prefix string // the KeyPrefix of a default key
	tags   []*keytemplate.Template[A]
	st     *stats.Func
	limit  int
}

func newSeqWrap[A, V any](c *Cache, fn any, opts []WrapOption) (*seqWrap[A, V], error) {
	cfg, name, err := wrapConfig("WrapSeq", c, fn, opts)
	if err != nil {
		return nil, err
	}
	sc := seqConfig{limit: DefaultSeqLimit}
	for _, o := range opts {
		if so, ok := o.(SeqOption); ok {
			so.applySeq(&sc)
		}
	}
	cfg.seqOnly = false // WrapSeq takes SeqLimit
	errs := resolve[A, []V](cfg, name)
	if sc.limit <= 0 {
		errs = append(errs, fmt.Errorf("%w: %s: SeqLimit %d must be positive", ErrConfig, name, sc.limit))
	}
	if cfg.strategy != nil {
		errs = append(errs, fmt.Errorf("%w: %s: WrapSeq takes no strategy (%s): it stores a sequence once it has been read to its end", ErrConfig, name, cfg.strategy.Name()))
	}
	if cfg.Replay != nil {
		errs = append(errs, fmt.Errorf("%w: %s: WrapSeq does not store errors (StoreErrors, OnlyStoreErrors)", ErrConfig, name))
	}
	if !cfg.HasTTL() {
		errs = append(errs, fmt.Errorf("%w: %s: WrapSeq stores sequences and needs a TTL (cashews.TTL)", ErrConfig, name))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("cashews: WrapSeq %s: %w", name, errors.Join(errs...))
	}
	if cfg.Key == "" && anonymous(name) {
		return nil, fmt.Errorf("%w: %s is an anonymous function: give it a Key template or a Name, so that its keys mean something and stay the same across builds", ErrConfig, name)
	}
	s := &seqWrap[A, V]{c: c, name: name, cfg: cfg, limit: sc.limit}
	s.tmpl, err = keyTemplate[A](cfg, name)
	if cfg.Key == "" {
		s.prefix = cfg.Prefix
	}
	if err != nil {
		return nil, fmt.Errorf("cashews: WrapSeq %s: %w", name, err)
	}
	s.tags = make([]*keytemplate.Template[A], len(cfg.Tags))
	for i, src := range cfg.Tags {
		if s.tags[i], err = keytemplate.Compile[A](src); err != nil {
			return nil, fmt.Errorf("cashews: WrapSeq %s: tag: %w", name, err)
		}
	}
	if err := checkResultType[[]V](c, s.prefix+literalPrefix(s.tmpl.String())); err != nil {
		return nil, fmt.Errorf("cashews: WrapSeq %s: %w", name, err)
	}
	s.st = c.stats.fn(statsName(name, s.tmpl.String()))
	s.env = &Env{Cache: c, entries: newEntries[[]V](c, shapeOf[[]V](cfg.Version), nil), Config: cfg, Name: name, Strict: cfg.Strict || c.strict, Stats: s.st}
	return s, nil
}

// read renders a's key and tags and reads its entry. It returns the stored values on a hit, and
// the call to store a recording under on a miss.
func (s *seqWrap[A, V]) read(ctx context.Context, a A) (WrapCall, *[]V, error) {
	s.st.Inc(stats.Calls)
	key, err := s.tmpl.Render(ctx, a)
	if err != nil {
		return WrapCall{}, nil, fmt.Errorf("cashews: %s: key: %w", s.name, err)
	}
	call := WrapCall{Key: s.prefix + key, TTL: s.cfg.TTL, Arg: a}
	if s.cfg.TTLFunc != nil {
		call.TTL = backends.CapTTL(s.cfg.TTLFunc(a))
	}
	if len(s.tags) > 0 {
		call.Tags = make([]string, len(s.tags))
		for i, t := range s.tags {
			if call.Tags[i], err = t.Render(ctx, a); err != nil {
				return call, nil, fmt.Errorf("cashews: %s: tag: %w", s.name, err)
			}
		}
	}
	e, found, err := s.env.Get(ctx, call.Key)
	if err != nil {
		if !s.env.RouteAround(ctx, call.Key, err) {
			return call, nil, err
		}
	} else if v, ok := entryValue[[]V](e); found && ok {
		s.st.Inc(stats.FuncHits)
		s.env.Hit(ctx, "iterator", call, e, nil)
		return call, &v, nil
	}
	s.st.Inc(stats.FuncMisses)
	return call, nil, nil
}

// seqRecorder records one run of a source sequence.
type seqRecorder[V any] struct {
	vals   []V
	limit  int
	over   bool // more than limit values: nothing is stored
	failed bool // the sequence yielded an error: nothing is stored
	start  int64
}

func (s *seqWrap[A, V]) recorder() *seqRecorder[V] {
	return &seqRecorder[V]{limit: s.limit, start: s.c.clock.Now().UnixNano()}
}

func (r *seqRecorder[V]) add(v V) {
	if r.over {
		return
	}
	if len(r.vals) == r.limit {
		r.over, r.vals = true, nil
		return
	}
	r.vals = append(r.vals, v)
}

// store stores a run that went to its end, unless it yielded an error or went past the limit.
func (s *seqWrap[A, V]) store(ctx context.Context, call WrapCall, r *seqRecorder[V]) {
	elapsed := s.c.clock.Now().UnixNano() - r.start
	s.st.Load(time.Duration(elapsed), r.failed)
	if r.over || r.failed {
		return
	}
	vals := r.vals
	if vals == nil {
		vals = []V{}
	}
	s.env.Save(ctx, call, vals, nil, time.Duration(elapsed), 0)
}
