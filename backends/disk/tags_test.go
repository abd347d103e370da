package disk_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/backends/disk"
)

// checkTagRows opens every shard file of dir and checks that the tag rows describe exactly the live
// and expired entries that are marked tagged: no row without its entry, no tagged entry without rows.
func checkTagRows(t *testing.T, dir string, shards int) (rows int) {
	t.Helper()
	for i := range shards {
		db, err := sql.Open("sqlite", filepath.Join(dir, fmt.Sprintf("shard-%03d.db", i)))
		if err != nil {
			t.Fatal(err)
		}
		var orphans, untracked, n int
		err = db.QueryRow(`SELECT
			(SELECT count(*) FROM cashews_tags t WHERE NOT EXISTS (SELECT 1 FROM cashews_entries e WHERE e.key = t.key AND e.tagged <> 0)),
			(SELECT count(*) FROM cashews_entries e WHERE e.tagged <> 0 AND NOT EXISTS (SELECT 1 FROM cashews_tags t WHERE t.key = e.key)),
			(SELECT count(*) FROM cashews_tags)`).Scan(&orphans, &untracked, &n)
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		if orphans != 0 || untracked != 0 {
			t.Errorf("shard %d: %d tag rows without their tagged entry, %d tagged entries without rows", i, orphans, untracked)
		}
		rows += n
	}
	return rows
}

// TestTagsUnderSizeLimit fills a small directory with tagged keys under each eviction policy: the
// evicted keys take their tag rows with them, tag rows are never evicted apart from their keys, and
// DeleteTags then removes every key still there.
func TestTagsUnderSizeLimit(t *testing.T) {
	for _, ev := range []disk.Eviction{disk.LeastRecentlyStored, disk.LeastRecentlyUsed} {
		t.Run(ev.String(), func(t *testing.T) {
			b := openT(t, disk.Options{Shards: 2, SizeLimit: 10_000, Eviction: ev, CheckInterval: -1})
			ctx := t.Context()
			val := []byte(strings.Repeat("x", 96))
			for i := range 300 {
				if i%10 == 0 {
					mustGet(t, b, "k"+pad(0)) // an often-read key, for LRU
				}
				if _, err := b.SetTagged(ctx, "k"+pad(i), val, 0, backends.SetAlways, []string{"all", "t" + pad(i%7)}); err != nil {
					t.Fatal(err)
				}
			}
			n, _ := b.KeysCount(ctx)
			if n >= 300 {
				t.Fatalf("KeysCount = %d: nothing was evicted, the test needs eviction", n)
			}
			rows := checkTagRows(t, b.Dir(), 2)
			if rows != 2*int(n) {
				t.Errorf("%d tag rows for %d keys of 2 tags each", rows, n)
			}
			keys, err := b.TagKeys(ctx, "all")
			if err != nil || int64(len(keys)) != n {
				t.Errorf("TagKeys(all) = %d keys, %v; want the %d keys kept", len(keys), err, n)
			}
			if got, err := b.DeleteTags(ctx, "all"); int64(got) != n || err != nil {
				t.Errorf("DeleteTags(all) = %d, %v; want %d", got, err, n)
			}
			if n, _ := b.KeysCount(ctx); n != 0 {
				t.Errorf("KeysCount after DeleteTags(all) = %d, want 0", n)
			}
			if rows := checkTagRows(t, b.Dir(), 2); rows != 0 {
				t.Errorf("%d tag rows left after every key went", rows)
			}
		})
	}
}

// TestTagsCullAndRewrite checks that culled, rewritten and in-place changed entries keep their tag
// rows exactly as the contract says.
func TestTagsCullAndRewrite(t *testing.T) {
	clock := newClock()
	b := openT(t, disk.Options{Shards: 1, Clock: clock, CheckInterval: -1})
	ctx := t.Context()
	set := func(key string, ttl time.Duration, tags ...string) {
		t.Helper()
		if ok, err := b.SetTagged(ctx, key, []byte("1"), ttl, backends.SetAlways, tags); !ok || err != nil {
			t.Fatalf("SetTagged(%q) = %v, %v", key, ok, err)
		}
	}
	set("expiring", time.Minute, "a")
	set("counter", 0, "a")
	set("rewritten", 0, "a")
	set("renewed", time.Minute, "a")
	if _, err := b.Incr(ctx, "counter", 1, 0); err != nil {
		t.Fatal(err)
	}
	mustSet(t, b, "rewritten", "plain", 0)
	clock.Advance(2 * time.Minute)
	// An expired entry written again in place (Incr over it) starts without tags.
	if _, err := b.Incr(ctx, "renewed", 1, 0); err != nil {
		t.Fatal(err)
	}
	if n, err := b.Cull(ctx); n != 1 || err != nil {
		t.Fatalf("Cull = %d, %v; want 1 (expiring)", n, err)
	}
	if rows := checkTagRows(t, b.Dir(), 1); rows != 1 {
		t.Errorf("%d tag rows, want 1 (counter's)", rows)
	}
	keys, _ := b.TagKeys(ctx, "a")
	if !slices.Equal(keys, []string{"counter"}) {
		t.Errorf("TagKeys(a) = %q, want [counter]", keys)
	}
}

// TestMigrateFromVersion1 makes a directory of format version 1 (no tags) with a tag set of the old
// Cache in it, opens it, and checks that it was migrated in place: its keys are kept, tags work, and
// DeleteTags still deletes the keys the old tag set lists.
func TestMigrateFromVersion1(t *testing.T) {
	dir := t.TempDir()
	b := openT(t, disk.Options{Dir: dir, Shards: 2, CheckInterval: -1})
	ctx := t.Context()
	mustSet(t, b, "old:1", "v", 0)
	mustSet(t, b, "old:2", "v", 0)
	mustSet(t, b, "untagged", "v", 0)
	if _, err := b.SetAdd(ctx, "_cashews:tag:users", 0, "old:1", "old:2"); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	downgrade(t, dir, 2, 1)
	b = openT(t, disk.Options{Dir: dir, Shards: 2, CheckInterval: -1})
	if v, found := mustGet(t, b, "untagged"); !found || v != "v" {
		t.Fatalf("after the migration, Get(untagged) = %q, %v", v, found)
	}
	if _, err := b.SetTagged(ctx, "new", []byte("v"), 0, backends.SetAlways, []string{"users"}); err != nil {
		t.Fatalf("SetTagged after the migration: %v", err)
	}
	if n, err := b.DeleteTags(ctx, "users"); n != 3 || err != nil {
		t.Fatalf("DeleteTags(users) = %d, %v; want 3 (new, and old:1 and old:2 of the old tag set)", n, err)
	}
	if n, _ := b.KeysCount(ctx); n != 1 {
		t.Errorf("KeysCount = %d, want 1 (untagged; the old tag set goes too)", n)
	}
	checkTagRows(t, dir, 2)
	// Opened again, the file is at the current version and is not migrated twice.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	openT(t, disk.Options{Dir: dir, Shards: 2, CheckInterval: -1})
}
