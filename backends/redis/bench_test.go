package redis

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/internal/redistest"
)

// The benchmarks compare the backend's engines with the raw clients on one local server: Get and
// Set, sequential and from 64 goroutines, values of 64 bytes over 1024 keys. The backend runs with
// timeout=15s (each call is still bounded by it) so that a busy machine does not fail them.
//
//	go test -run '^$' -bench . -benchtime 2s ./backends/redis/

const benchKeys = 1024

var benchValue = []byte(strings.Repeat("v", 64))

func benchKeyNames() []string {
	keys := make([]string, benchKeys)
	for i := range keys {
		keys[i] = "bench:" + strconv.Itoa(i)
	}
	return keys
}

// run64 runs f from 64 goroutines in all (SetParallelism multiplies GOMAXPROCS).
func run64(b *testing.B, f func(i int)) {
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			f(i)
			i++
		}
	})
}

// seqAndPar64 runs f as name/seq (one goroutine) and name/par64 (64 goroutines).
func seqAndPar64(b *testing.B, name string, f func(i int)) {
	b.Run(name+"/seq", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			f(i)
		}
	})
	b.Run(name+"/par64", func(b *testing.B) {
		b.ReportAllocs()
		run64(b, f)
	})
}

func fill(b *testing.B, bk *Backend, keys []string) {
	items := make([]backends.Item, len(keys))
	for i, k := range keys {
		items[i] = backends.Item{Key: k, Value: benchValue}
	}
	if err := bk.SetMany(context.Background(), items); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkGet(b *testing.B) {
	srv := redistest.Start(b)
	keys := benchKeyNames()
	for _, e := range []struct{ name, params string }{
		{"rueidis", relaxed}, {"goredis", relaxed + "&driver=go-redis"}, {"clientside", relaxed + "&client_side=true"},
	} {
		bk := openURL(b, withParams(srv.URL(), e.params))
		fill(b, bk, keys)
		ctx := context.Background()
		get := func(i int) {
			if _, found, err := bk.Get(ctx, keys[i%benchKeys]); err != nil || !found {
				b.Fatalf("Get: %v, found %v", err, found)
			}
		}
		seqAndPar64(b, e.name, get)
	}
}

func BenchmarkSet(b *testing.B) {
	srv := redistest.Start(b)
	keys := benchKeyNames()
	for _, e := range []struct{ name, params string }{
		{"rueidis", relaxed}, {"goredis", relaxed + "&driver=go-redis"},
	} {
		bk := openURL(b, withParams(srv.URL(), e.params))
		ctx := context.Background()
		set := func(i int) {
			if _, err := bk.Set(ctx, keys[i%benchKeys], benchValue, 0, backends.SetAlways); err != nil {
				b.Fatal(err)
			}
		}
		seqAndPar64(b, e.name, set)
	}
}

// BenchmarkRawGet is GET on the raw clients, for comparison with BenchmarkGet.
func BenchmarkRawGet(b *testing.B) {
	srv := redistest.Start(b)
	keys := benchKeyNames()
	ctx := context.Background()
	bk := openURL(b, withParams(srv.URL(), relaxed))
	fill(b, bk, keys)

	rc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr()}, DisableCache: true})
	if err != nil {
		b.Fatal(err)
	}
	defer rc.Close()
	rget := func(i int) {
		if _, err := rc.Do(ctx, rc.B().Get().Key(keys[i%benchKeys]).Build()).AsBytes(); err != nil {
			b.Fatal(err)
		}
	}
	gc := goredis.NewClient(&goredis.Options{Addr: srv.Addr()})
	defer gc.Close()
	gget := func(i int) {
		if _, err := gc.Get(ctx, keys[i%benchKeys]).Bytes(); err != nil {
			b.Fatal(err)
		}
	}
	cc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr()}})
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Close()
	cget := func(i int) {
		if _, err := cc.DoCache(ctx, cc.B().Get().Key(keys[i%benchKeys]).Cache(), DefaultClientSideTTL).AsBytes(); err != nil {
			b.Fatal(err)
		}
	}
	for _, e := range []struct {
		name string
		f    func(int)
	}{{"rueidis", rget}, {"goredis", gget}, {"rueidis-clientside", cget}} {
		seqAndPar64(b, e.name, e.f)
	}
}
