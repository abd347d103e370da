package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/internal/redistest"
)

func TestCRC16AndSlotTags(t *testing.T) {
	if got := crc16("123456789"); got != 0x31C3 {
		t.Fatalf("crc16(123456789) = %#x, want 0x31c3 (Redis Cluster specification)", got)
	}
	for slot := range uint16(16384) {
		tag := slotTag(slot)
		if tag == "" || strings.ContainsAny(tag, "{}") || crc16(tag)&16383 != slot {
			t.Fatalf("slotTag(%d) = %q, whose slot is %d", slot, tag, crc16(tag)&16383)
		}
	}
}

// TestKeySlotMatchesRedis compares keySlot, and the slot of each key's record, with what a real
// Cluster node computes (CLUSTER KEYSLOT), for keys with and without hash tags.
func TestKeySlotMatchesRedis(t *testing.T) {
	srv := redistest.Start(t, "--cluster-enabled", "yes")
	keys := []string{"", "a", "user:1", "123456789", "{user1000}.following", "foo{}{bar}", "foo{{bar}}zap",
		"foo{bar}{zap}", "{", "}", "{}", "a{b", "a}b{c}", "é{ü}", "\x00{\xff}", strings.Repeat("k", 300)}
	for i := range 100 {
		keys = append(keys, fmt.Sprintf("key:%d", i), fmt.Sprintf("{t%d}x", i))
	}
	for _, k := range keys {
		want, err := srv.Do("CLUSTER", "KEYSLOT", k)
		if err != nil {
			t.Fatal(err)
		}
		if got := int64(keySlot(k)); got != want.(int64) {
			t.Errorf("keySlot(%q) = %d, CLUSTER KEYSLOT says %d", k, got, want)
		}
		rec, _ := srv.Do("CLUSTER", "KEYSLOT", recordKey(k))
		if rec != want {
			t.Errorf("recordKey(%q) = %q is in slot %v, its key in %v", k, recordKey(k), rec, want)
		}
	}
}

func TestRecordCodec(t *testing.T) {
	for _, tags := range [][]string{nil, {""}, {"a"}, {"user:1", "", "x\x00y", strings.Repeat("t", 300)}} {
		tok := newToken()
		got, gotTags, ok := decodeRecord(encodeRecord(tok, tags))
		if !ok || got != tok || !slices.Equal(gotTags, tags) {
			t.Errorf("decode(encode(%q, %q)) = %q, %q, %v", tok, tags, got, gotTags, ok)
		}
	}
	for _, bad := range []string{"", "short", newToken() + "\x05ab"} {
		if _, _, ok := decodeRecord(bad); ok {
			t.Errorf("decodeRecord(%q) ok, want a failure", bad)
		}
	}
}

// faulty is an executor that fails the commands fail picks: a Redis that answers one step of a
// tagged Set and not another, which a real server does not do on demand. With after, the command
// runs and only its reply is lost (a timeout after the write).
type faulty struct {
	executor
	fail  func(c command) bool
	after bool
	hits  atomic.Int64
}

var errInjected = errors.New("injected fault")

func (f *faulty) do(ctx context.Context, c command) reply { return f.doMulti(ctx, []command{c})[0] }

func (f *faulty) doMulti(ctx context.Context, cs []command) []reply {
	out := make([]reply, len(cs))
	var pass []command
	var at []int
	for i, c := range cs {
		if f.fail(c) {
			f.hits.Add(1)
			out[i] = reply{err: errInjected, fault: true}
			if !f.after {
				continue
			}
		}
		pass, at = append(pass, c), append(at, i)
	}
	for j, r := range f.executor.doMulti(ctx, pass) {
		if out[at[j]].err == nil {
			out[at[j]] = r
		}
	}
	return out
}

// tagStep reports whether c writes a tag's index with a member of the given state.
func tagStep(state byte) func(c command) bool {
	return func(c command) bool {
		// EVALSHA sha 1 index op ttl margin member...
		return len(c.args) > 7 && c.args[0] == "EVALSHA" && c.args[1] == tagIndexScript.sha &&
			c.args[4] == "add" && len(c.args[7]) > tokenLen && c.args[7][tokenLen] == state
	}
}

// TestTagsFaults fails each step of a tagged Set in turn and checks that the invalidation never
// misses: the Set either reports an error and stores nothing, or a later DeleteTags removes the key.
func TestTagsFaults(t *testing.T) {
	srv := redistest.Start(t)
	for _, tc := range []struct {
		name       string
		fail       func(c command) bool
		after      bool
		wantStored bool     // whether the value is stored
		deleteTags []string // the tags whose DeleteTags must leave nothing behind
	}{
		{"pending members fail", tagStep('p'), false, false, []string{"b"}},
		// A write whose outcome is unknown keeps its pending members (it may have happened, or happen
		// yet): they go with a DeleteTags of their tag, or with their TTL.
		{"value write fails", func(c command) bool { return len(c.args) > 1 && c.args[1] == setScript.sha }, false, false, []string{"a", "b"}},
		{"value written, reply lost", func(c command) bool { return len(c.args) > 1 && c.args[1] == setScript.sha }, true, true, []string{"b"}},
		{"done members fail", tagStep('d'), false, true, []string{"b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := openURL(t, withParams(srv.URL(), relaxed))
			ctx := testCtx(t)
			// Load the scripts, so that the faults hit the scripts themselves, not NOSCRIPT.
			if _, err := b.SetTagged(ctx, "warm", []byte("v"), 0, backends.SetAlways, []string{"w"}); err != nil {
				t.Fatal(err)
			}
			srv.MustDo("FLUSHALL")
			f := &faulty{executor: b.ex, fail: tc.fail, after: tc.after}
			b.ex = f
			_, err := b.SetTagged(ctx, "k", []byte("v"), 0, backends.SetAlways, []string{"a", "b"})
			if !errors.Is(err, errInjected) || f.hits.Load() == 0 {
				t.Fatalf("SetTagged with the fault = %v (%d faults), want the injected error", err, f.hits.Load())
			}
			f.fail = func(command) bool { return false }
			stored, _ := b.Exists(ctx, "k")
			if stored != tc.wantStored {
				t.Fatalf("after the fault, Exists(k) = %v, want %v", stored, tc.wantStored)
			}
			n, err := b.DeleteTags(ctx, tc.deleteTags...)
			if err != nil || (stored && n != 1) {
				t.Fatalf("DeleteTags(%q) = %d, %v; want %d", tc.deleteTags, n, err, map[bool]int{true: 1}[stored])
			}
			if ok, _ := b.Exists(ctx, "k"); ok {
				t.Fatal("the key outlived DeleteTags of a tag it was stored with")
			}
			if n, _ := b.KeysCount(ctx); n != 0 {
				keys, _ := srv.Do("KEYS", "*")
				t.Errorf("KeysCount after DeleteTags = %d (%v), want 0: the failed Set's bookkeeping must go too", n, keys)
			}
		})
	}
}

// TestTagsLegacySets checks that DeleteTags deletes the keys listed in a tag set written by the Cache
// of earlier versions (a Redis set at _cashews:tag:<tag>), and the set.
func TestTagsLegacySets(t *testing.T) {
	srv := redistest.Start(t)
	b := openURL(t, withParams(srv.URL(), relaxed))
	ctx := testCtx(t)
	srv.MustDo("SET", "old:1", "v")
	srv.MustDo("SET", "old:2", "v")
	srv.MustDo("SADD", legacyTagPrefix+"users", "old:1", "old:2", "gone")
	srv.MustDo("SET", legacyTagPrefix+"plain", "not a set")
	if _, err := b.SetTagged(ctx, "new", []byte("v"), time.Hour, backends.SetAlways, []string{"users"}); err != nil {
		t.Fatal(err)
	}
	if n, err := b.DeleteTags(ctx, "users", "plain"); n != 3 || err != nil {
		t.Fatalf("DeleteTags(users, plain) = %d, %v; want 3 (new, old:1, old:2)", n, err)
	}
	if n, _ := b.KeysCount(ctx); n != 1 {
		keys, _ := srv.Do("KEYS", "*")
		t.Errorf("KeysCount = %d (%v), want 1 (the value at _cashews:tag:plain, which is not a tag set)", n, keys)
	}
}

// TestTagsSeen checks the trade-off of a backend that has not seen tags in use: its plain writes
// cost one SET, and when it overwrites a key that another process tagged, DeleteTags deletes the
// new value too (it never misses the tagged one). Once it has seen a record, its writes end tags.
func TestTagsSeen(t *testing.T) {
	srv := redistest.Start(t)
	tagger := openURL(t, withParams(srv.URL(), relaxed))
	other := openURL(t, withParams(srv.URL(), relaxed))
	ctx := testCtx(t)
	set := func(b *Backend, key, v string) {
		t.Helper()
		if _, err := b.Set(ctx, key, []byte(v), 0, backends.SetAlways); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tagger.SetTagged(ctx, "k", []byte("tagged"), 0, backends.SetAlways, []string{"t"}); err != nil {
		t.Fatal(err)
	}
	set(other, "k", "plain")
	if other.tagsSeen.Load() {
		t.Fatal("a backend that never met tags writes as if it had")
	}
	if n, err := tagger.DeleteTags(ctx, "t"); n != 1 || err != nil {
		t.Fatalf("DeleteTags(t) = %d, %v; want 1: the plain write left the record, so the key goes", n, err)
	}
	// Deleting a tagged key shows the other backend that tags are in use.
	if _, err := tagger.SetTagged(ctx, "k", []byte("tagged"), 0, backends.SetAlways, []string{"t"}); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if !other.tagsSeen.Load() {
		t.Fatal("a backend that deleted a tagged key did not notice tags in use")
	}
	if _, err := tagger.SetTagged(ctx, "k", []byte("tagged"), 0, backends.SetAlways, []string{"t"}); err != nil {
		t.Fatal(err)
	}
	set(other, "k", "plain")
	if n, err := tagger.DeleteTags(ctx, "t"); n != 0 || err != nil {
		t.Fatalf("DeleteTags(t) = %d, %v; want 0: the plain write ended the key's tags", n, err)
	}
	if n, _ := srv.Do("DBSIZE"); n != int64(1) {
		keys, _ := srv.Do("KEYS", "*")
		t.Errorf("DBSIZE = %v (%v), want 1 (k)", n, keys)
	}
}
