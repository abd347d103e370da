package disk

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cashews-go/cashews/backends"
)

// Tags live in cashews_tags, one row per tag of a key, in the key's own shard (see tagSchema): a
// tagged write, a delete and the part of a DeleteTags in one shard are each one transaction of that
// shard, so a DeleteTags that starts after a SetTagged committed sees its rows, and no row outlives
// its entry. Tag rows are bookkeeping: they are not counted in size_limit and never evicted apart from
// their entry.

var _ backends.Tagger = (*Backend)(nil)

// legacyTagPrefix starts the sets in which cashews before format version 2 kept the keys of a tag
// (through the Cache, in the tag's own key). DeleteTags still deletes the keys such a set lists, so
// that no value stored before an upgrade outlives the invalidation of its tag.
const legacyTagPrefix = "_cashews:tag:"

// SetTagged is Set that also attaches tags to the key, replacing the tags it had, in one
// transaction.
func (b *Backend) SetTagged(ctx context.Context, key string, value any, ttl time.Duration, mode backends.SetMode, tags []string) (bool, error) {
	if len(tags) == 0 {
		return b.Set(ctx, key, value, ttl, mode)
	}
	v, err := valueBytes(key, value)
	if err != nil {
		return false, err
	}
	if err := checkTTL(ttl); err != nil {
		return false, err
	}
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return false, err
	}
	defer cancel()
	s := b.shardOf(key)
	var st *stmt
	switch mode {
	case backends.SetAlways:
		st = s.putValue
	case backends.SetIfAbsent:
		st = s.putIfAbsent
	case backends.SetIfPresent:
		st = s.update
	default:
		return false, fmt.Errorf("cashews: disk: unknown set mode %d: %w", mode, backends.ErrInvalidArgument)
	}
	size := len(key) + len(v)
	stored := false
	err = s.tx(ctx, []*stmt{st, s.untagKey, s.addTag}, func(tx *sql.Tx) error {
		now := b.now()
		res, err := st.in(ctx, tx).ExecContext(ctx, []byte(key), now, kindString, v, expireAt(now, ttl), b.stamp(now), size, 1)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil || n == 0 {
			return err
		}
		stored = true
		// The entry was tagged before, or not: either way its tags are these now.
		if _, err := s.untagKey.in(ctx, tx).ExecContext(ctx, []byte(key)); err != nil {
			return err
		}
		add := s.addTag.in(ctx, tx)
		for _, t := range tags {
			if _, err := add.ExecContext(ctx, []byte(key), []byte(t)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return false, b.fail("set with tags", s, key, err)
	}
	if stored {
		b.wrote(ctx, s, size)
	}
	return stored, nil
}

// DeleteTags removes every key that carries one of tags: one transaction per shard, which deletes the
// entries (and by trigger all their tag rows) and counts the live ones.
func (b *Backend) DeleteTags(ctx context.Context, tags ...string) (int, error) {
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer cancel()
	if len(tags) == 0 {
		return 0, nil
	}
	total := 0
	for _, s := range b.shards {
		n := 0
		err := s.tx(ctx, []*stmt{s.deleteTag}, func(tx *sql.Tx) error {
			n = 0
			now := b.now()
			del := s.deleteTag.in(ctx, tx)
			for _, t := range tags {
				rows, err := del.QueryContext(ctx, []byte(t))
				if err != nil {
					return err
				}
				for rows.Next() {
					var exp int64
					if err := rows.Scan(&exp); err != nil {
						rows.Close()
						return err
					}
					if exp == 0 || exp > now {
						n++
					}
				}
				if err := rows.Close(); err != nil {
					return err
				}
			}
			return nil
		})
		total += n
		if err != nil {
			return total, b.fail("delete tags", s, "", err)
		}
	}
	n, err := b.deleteLegacyTags(ctx, tags)
	total += n
	return total, err
}

// deleteLegacyTags deletes the keys listed in the tag sets of format version 1, and the sets.
func (b *Backend) deleteLegacyTags(ctx context.Context, tags []string) (int, error) {
	total := 0
	for _, t := range tags {
		set := legacyTagPrefix + t
		members, err := b.SetMembers(ctx, set)
		switch {
		case errors.Is(err, backends.ErrWrongType):
			continue // not a set of ours
		case err != nil:
			return total, err
		case len(members) == 0:
			continue
		}
		n, err := b.DeleteMany(ctx, members)
		total += n
		if err != nil {
			return total, err
		}
		if _, err := b.Delete(ctx, set); err != nil {
			return total, err
		}
	}
	return total, nil
}

// TagKeys returns the live keys that carry tag, shard by shard.
func (b *Backend) TagKeys(ctx context.Context, tag string) ([]string, error) {
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	var out []string
	now := b.now()
	for _, s := range b.shards {
		rows, err := s.tagKeys.QueryContext(ctx, []byte(tag), now)
		if err != nil {
			return nil, b.fail("tag keys", s, tag, err)
		}
		for rows.Next() {
			var k []byte
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return nil, b.fail("tag keys", s, tag, err)
			}
			out = append(out, string(k))
		}
		if err := rows.Close(); err != nil {
			return nil, b.fail("tag keys", s, tag, err)
		}
	}
	return out, nil
}
