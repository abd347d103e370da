package redis

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/internal/redistest"
)

// TestCluster checks on a 3-master Cluster that the multi-key and whole-keyspace commands reach
// every master: keys of one SetMany land on all three nodes, and GetMany, DeleteMany, Scan,
// DeleteMatch, KeysCount and Clear see them all, with rueidis and with go-redis.
func TestCluster(t *testing.T) {
	cl := redistest.StartCluster(t, 3)
	for _, params := range []string{"", "driver=go-redis", "client_side=true"} {
		t.Run("params="+params, func(t *testing.T) {
			if err := cl.Do("FLUSHALL"); err != nil {
				t.Fatal(err)
			}
			ctx := testCtx(t)
			b := openURL(t, withParams(cl.URL(), relaxed+"&"+params))
			keys := make([]string, 300)
			items := make([]backends.Item, len(keys))
			for i := range keys {
				keys[i] = "c:" + strconv.Itoa(i)
				items[i] = backends.Item{Key: keys[i], Value: []byte(keys[i]), TTL: time.Hour}
			}
			if err := b.SetMany(ctx, items); err != nil {
				t.Fatalf("SetMany across slots: %v", err)
			}
			for _, n := range cl.Nodes() {
				if got := n.MustDo("DBSIZE").(int64); got < 50 {
					t.Fatalf("node %s holds %d keys after SetMany of 300, want them spread over the 3 masters", n.Addr(), got)
				}
			}
			entries, err := b.GetMany(ctx, append(keys, "c:missing"))
			if err != nil {
				t.Fatalf("GetMany across slots: %v", err)
			}
			for i, e := range entries[:len(keys)] {
				if !e.Found || string(e.Value.([]byte)) != keys[i] {
					t.Fatalf("GetMany[%d]: got %+v, want %s", i, e, keys[i])
				}
			}
			if entries[len(keys)].Found {
				t.Fatal("GetMany of a missing key: found")
			}
			if n, err := b.KeysCount(ctx); n != 300 || err != nil {
				t.Fatalf("KeysCount: got %d, %v; want 300 summed over the masters", n, err)
			}
			var seen []string
			for page, err := range b.Scan(ctx, "c:1*", 25) {
				if err != nil {
					t.Fatal(err)
				}
				seen = append(seen, page...)
			}
			slices.Sort(seen)
			if seen = slices.Compact(seen); len(seen) != 111 {
				t.Fatalf("Scan c:1* over the masters: got %d keys, want 111", len(seen))
			}
			if n, err := b.DeleteMatch(ctx, "c:2*"); n != 111 || err != nil {
				t.Fatalf("DeleteMatch c:2*: got %d, %v; want 111 (c:2, c:20-29, c:200-299)", n, err)
			}
			if n, err := b.DeleteMany(ctx, keys[:100]); n != 89 || err != nil {
				t.Fatalf("DeleteMany of c:0-99 across slots: got %d, %v; want the 89 still present", n, err)
			}
			if n, err := b.KeysCount(ctx); n != 100 || err != nil {
				t.Fatalf("KeysCount after deleting: got %d, %v; want 100", n, err)
			}
			if err := b.Clear(ctx); err != nil {
				t.Fatal(err)
			}
			for _, n := range cl.Nodes() {
				if got := n.MustDo("DBSIZE").(int64); got != 0 {
					t.Fatalf("node %s holds %d keys after Clear, want 0", n.Addr(), got)
				}
			}
		})
	}
}
