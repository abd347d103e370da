package cashews

import (
	"context"
	"time"

	"github.com/cashews-go/cashews/backends"
)

// suppressedTagger is the tags of a backend set up with suppress=true: errors are suppressed as
// for every other command (see suppressed).
type suppressedTagger struct {
	s  *suppressed
	tg backends.Tagger
}

func (t suppressedTagger) SetTagged(ctx context.Context, key string, value any, ttl time.Duration, mode backends.SetMode, tags []string) (bool, error) {
	ok, err := t.tg.SetTagged(ctx, key, value, ttl, mode, tags)
	if t.s.swallow(ctx, CmdSet, err) {
		return false, nil
	}
	return ok, err
}

func (t suppressedTagger) DeleteTags(ctx context.Context, tags ...string) (int, error) {
	// An invalidation never pretends (see suppressed.Delete).
	return neverPretend(t.tg.DeleteTags(ctx, tags...))
}

func (t suppressedTagger) TagKeys(ctx context.Context, tag string) ([]string, error) {
	keys, err := t.tg.TagKeys(ctx, tag)
	if t.s.swallow(ctx, CmdTagKeys, err) {
		return nil, nil
	}
	return keys, err
}
