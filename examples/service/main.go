// Command service is a small JSON API that caches a slow lookup with cashews: GET /users/{id}
// answers from cache after the first call (the X-From-Cache header says so), POST /users/{id}
// updates the user and invalidates its entry, and GET /metrics serves cashews' statistics through
// the Prometheus adapter. It runs on mem:// by default, and on Redis with -redis:
//
//	cd examples/service
//	go run .                                      # mem://, on :8080
//	go run . -redis redis://localhost:6379/0      # Redis
//
//	curl -i localhost:8080/users/1                # slow (200 ms), then X-From-Cache: user:1
//	curl -i -X POST -d '{"name":"Ann"}' localhost:8080/users/1
//	curl localhost:8080/metrics | grep cashews_
//
// It has a module of its own because it imports contrib/prometheus: the cashews module never
// depends on the Prometheus client.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cashews-go/cashews"
	_ "github.com/cashews-go/cashews/backends/redis" // redis://, for -redis
	cashewsprom "github.com/cashews-go/cashews/contrib/prometheus"
	"github.com/cashews-go/cashews/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func main() {
	addr := flag.String("addr", "localhost:8080", "the address to listen on")
	redisURL := flag.String("redis", "", "a Redis URL (redis://host:6379/0) to cache in instead of memory")
	delay := flag.Duration("delay", 200*time.Millisecond, "how long the slow lookup takes")
	flag.Parse()

	cacheURL := "mem://?size=10000"
	if *redisURL != "" {
		cacheURL = *redisURL
	}
	svc, err := newService(cacheURL, *delay)
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Close()
	log.Printf("serving on http://%s, caching in %s", *addr, svc.cache.BackendName("user:"))
	log.Fatal(http.ListenAndServe(*addr, svc))
}

// User is what the API serves.
type User struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// db is the slow source: a map behind a delay.
type db struct {
	mu    sync.Mutex
	users map[int]User
	delay time.Duration
}

var errNoUser = fmt.Errorf("no such user: %w", cashews.ErrNotFound)

func (d *db) lookup(ctx context.Context, id int) (User, error) {
	select {
	case <-time.After(d.delay):
	case <-ctx.Done():
		return User{}, ctx.Err()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.users[id]
	if !ok {
		return User{}, errNoUser
	}
	return u, nil
}

func (d *db) save(ctx context.Context, u User) (User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.users[u.ID] = u
	return u, nil
}

// service is the API: an http.Handler with the Cache it owns.
type service struct {
	http.Handler
	cache *cashews.Cache
}

func (s *service) Close() error { return s.cache.Close() }

// newService sets up a Cache on cacheURL, wraps the slow lookup and returns the API.
func newService(cacheURL string, delay time.Duration) (*service, error) {
	c := cashews.New()
	if err := c.Setup(cacheURL); err != nil {
		return nil, err
	}
	d := &db{users: map[int]User{1: {1, "Ann"}, 2: {2, "Bob"}}, delay: delay}

	userKey := cashews.MustNewKey[int]("user:{.}")
	getUser := cashews.MustWrap(c, d.lookup, cashews.Name("getUser"), userKey, cashews.TTL(10*time.Minute),
		cashews.StoreErrors(cashews.ErrNotFound)) // "no such user" is cached too
	saveUser := cashews.MustInvalidateKey(c, d.save, userKey, func(u User) int { return u.ID })

	reg := prometheus.NewRegistry()
	reg.MustRegister(cashewsprom.NewCollector(c))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil {
			http.Error(w, "bad id", http.StatusBadRequest)
			return
		}
		u, err := getUser(r.Context(), id)
		reply(w, u, err)
	})
	mux.HandleFunc("POST /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil {
			http.Error(w, "bad id", http.StatusBadRequest)
			return
		}
		var u User
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&u); err != nil {
			http.Error(w, "bad JSON: "+err.Error(), http.StatusBadRequest)
			return
		}
		u.ID = id
		u, err = saveUser(r.Context(), u) // stores, then deletes the cached user:<id>
		reply(w, u, err)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	// X-From-Cache names the keys a response was served from.
	return &service{Handler: middleware.FromCacheHeaders(c)(mux), cache: c}, nil
}

// reply writes v as JSON, or the error's status.
func reply(w http.ResponseWriter, v any, err error) {
	switch {
	case errors.Is(err, cashews.ErrNotFound):
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	case errors.Is(err, cashews.ErrInvalidation):
		// The write succeeded but the cached copy could not be dropped: say so, and answer.
		w.Header().Set("Warning", `199 - "cache not invalidated"`)
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
