package memory_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/backends/memory"
)

type user struct {
	ID   int
	Name string
}

func Example() {
	ctx := context.Background()
	b := memory.New(memory.Options{MaxEntries: 10_000, MaxBytes: 64 << 20})
	defer b.Close()

	// Go values are kept as they are: a hit returns the stored value itself.
	u := &user{ID: 1, Name: "Ada"}
	if _, err := b.Set(ctx, "user:1", u, time.Hour, backends.SetAlways); err != nil {
		panic(err)
	}
	v, found, err := b.Get(ctx, "user:1")
	fmt.Println(v.(*user).Name, found, err, v == any(u))

	// A miss is not an error.
	_, found, err = b.Get(ctx, "user:2")
	fmt.Println(found, err)

	n, _ := b.Incr(ctx, "visits", 1, 0)
	n, _ = b.Incr(ctx, "visits", 1, 0)
	fmt.Println("visits:", n)
	// Output:
	// Ada true <nil> true
	// false <nil>
	// visits: 2
}

// A backend opened through the registry, as the Cache does for mem:// URLs.
func Example_url() {
	u, params, err := backends.ParseURL("mem://?size=1000&check_interval=30s")
	if err != nil {
		panic(err)
	}
	open, err := backends.Lookup(u.Scheme)
	if err != nil {
		panic(err)
	}
	b, err := open(backends.Config{URL: u, Params: params, Clock: backends.SystemClock{}})
	if err != nil {
		panic(err)
	}
	defer b.Close()
	fmt.Println(backends.StoresGoValues(b), params.Unused())

	// A bad parameter is an error that names it.
	u, params, _ = backends.ParseURL("mem://?shards=3")
	_, err = open(backends.Config{URL: u, Params: params})
	fmt.Println(err)
	// Output:
	// true []
	// cashews: URL parameter shards="3": want a power of two from 1 to 65536
}
