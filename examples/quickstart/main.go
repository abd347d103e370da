// Command quickstart runs cashews on the memory backend and prints what it did: setup by URL with
// prefix routing, typed get and set, a counter, get-or-set with one load for concurrent callers, a
// lock, and a scan.
package main

import (
	"context"
	"fmt"
	"log"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cashews-go/cashews"
)

type User struct {
	ID   int
	Name string
}

func main() {
	ctx := context.Background()
	c := cashews.New()
	defer c.Close()

	// Every key goes to a bounded memory backend; keys starting with "user:" to a second one.
	must(c.Setup("mem://?size=10000&check_interval=1m"))
	must(c.Setup("mem://?size=1000", cashews.WithPrefix("user:")))
	fmt.Println("set up mem:// for every key and mem:// for user:*")

	ok, err := c.Set(ctx, "user:1", User{ID: 1, Name: "Ann"}, time.Hour)
	check(err)
	fmt.Println("set user:1:", ok)

	u, found, err := cashews.Get[User](ctx, c, "user:1")
	check(err)
	fmt.Printf("get user:1: %+v found=%v\n", u, found)
	_, found, err = cashews.Get[User](ctx, c, "user:2")
	check(err)
	fmt.Println("get user:2: found =", found, "(a miss is not an error)")

	_, err = c.Incr(ctx, "visits", 1, 24*time.Hour)
	check(err)
	n, err := c.Incr(ctx, "visits", 1, 24*time.Hour)
	check(err)
	fmt.Println("incr visits twice:", n)

	// 100 concurrent callers of a cold key: the loader runs once.
	var loads atomic.Int32
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			_, err := cashews.GetOrSet(ctx, c, "user:42", time.Hour, func(ctx context.Context) (User, error) {
				loads.Add(1)
				time.Sleep(10 * time.Millisecond) // a slow database
				return User{ID: 42, Name: "Zed"}, nil
			})
			check(err)
		})
	}
	wg.Wait()
	fmt.Println("get-or-set user:42 from 100 goroutines: loader ran", loads.Load(), "time(s)")

	err = c.WithLock(ctx, "lock:report", time.Minute, func(ctx context.Context) error {
		_, free, err := c.TryLock(ctx, "lock:report", time.Minute)
		fmt.Println("inside the lock, another TryLock takes it:", free)
		return err
	})
	check(err)

	count := 0
	for key, err := range c.Scan(ctx, "user:*") {
		check(err)
		count++
		_ = key
	}
	fmt.Println("scan user:*:", count, "keys")
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func check(err error) { must(err) }
