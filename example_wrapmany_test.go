package cashews_test

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"slices"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/detect"
)

func ExampleWrapMany() {
	c := cashews.New()
	defer c.Close()
	c.Setup("mem://")
	ctx := context.Background()

	// fetchNames loads many users in one query.
	fetchNames := func(ctx context.Context, ids []int) (map[int]string, error) {
		fmt.Println("query", ids)
		names := map[int]string{1: "Ann", 2: "Bob", 3: "Cid"}
		out := map[int]string{}
		for _, id := range ids {
			if n, ok := names[id]; ok {
				out[id] = n
			}
		}
		return out, nil
	}
	names := cashews.MustWrapMany(c, fetchNames, cashews.Key("name:{.}"), cashews.TTL(time.Hour))

	got, _ := names(ctx, []int{1, 2})
	fmt.Println(got)
	ctx, d := detect.New(ctx)
	got, _ = names(ctx, []int{1, 2, 3, 4}) // only 3 and 4 reach the source; 4 does not exist
	fmt.Println(got)
	var hits []string
	for _, h := range d.Hits() {
		hits = append(hits, h.Key)
	}
	fmt.Println("from cache:", slices.Sorted(slices.Values(hits)))
	v, _, _ := cashews.Get[string](ctx, c, "name:3") // each id has its own entry
	fmt.Println(v, slices.Sorted(maps.Keys(got)))
	// Output:
	// query [1 2]
	// map[1:Ann 2:Bob]
	// query [3 4]
	// map[1:Ann 2:Bob 3:Cid]
	// from cache: [name:1 name:2]
	// Cid [1 2 3]
}

func ExampleResultTTL() {
	c := cashews.New()
	defer c.Close()
	c.Setup("mem://")
	ctx := context.Background()

	type Token struct {
		Value     string
		ExpiresIn time.Duration
	}
	issue := func(ctx context.Context, user string) (Token, error) {
		if user == "" {
			return Token{}, nil
		}
		return Token{Value: "t-" + user, ExpiresIn: 10 * time.Minute}, nil
	}
	token := cashews.MustWrap(c, issue, cashews.Key("token:{.}"),
		cashews.ResultTTL(func(t Token, err error) time.Duration {
			if t.Value == "" {
				return 0 // an empty result is not stored
			}
			return t.ExpiresIn - time.Minute // until a minute before the token expires
		}))
	token(ctx, "ann")
	token(ctx, "")
	ttl, found, _ := c.GetExpire(ctx, "token:ann")
	fmt.Println(found, ttl.Round(time.Minute))
	_, found, _ = c.GetExpire(ctx, "token:")
	fmt.Println(found)
	// Output:
	// true 9m0s
	// false
}

func ExampleWrapSeq() {
	c := cashews.New()
	defer c.Close()
	c.Setup("mem://")
	ctx := context.Background()

	// lines streams the lines of a document from a slow source.
	lines := func(ctx context.Context, doc string) (iter.Seq[string], error) {
		fmt.Println("reading", doc)
		return slices.Values([]string{"one", "two", "three"}), nil
	}
	cached := cashews.MustWrapSeq(c, lines, cashews.Key("doc:{.}"), cashews.TTL(time.Hour))

	seq, _ := cached(ctx, "a")
	for line := range seq { // stopped early: nothing is stored
		fmt.Println(line)
		break
	}
	seq, _ = cached(ctx, "a")
	fmt.Println(slices.Collect(seq)) // read to its end: stored
	seq, _ = cached(ctx, "a")
	fmt.Println(slices.Collect(seq)) // replayed: the source is not called
	// Output:
	// reading a
	// one
	// reading a
	// [one two three]
	// [one two three]
}
