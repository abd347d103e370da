package goredis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	goredisv9 "github.com/redis/go-redis/v9"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/backends/redis"
	"github.com/cashews-go/cashews/backends/redis/goredis"
	"github.com/cashews-go/cashews/internal/redistest"
)

// TestNewFromClientChecks covers the arguments NewFromClient rejects.
func TestNewFromClientChecks(t *testing.T) {
	if _, err := goredis.NewFromClient(nil, redis.Options{}); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Fatalf("nil client: got %v, want ErrInvalidArgument", err)
	}
	c := goredisv9.NewClient(&goredisv9.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for _, o := range []redis.Options{{Addrs: []string{"127.0.0.1:1"}}, {ClientSide: true}, {Driver: redis.DriverRueidis}} {
		if _, err := goredis.NewFromClient(c, o); !errors.Is(err, backends.ErrInvalidArgument) {
			t.Errorf("NewFromClient with %+v: got %v, want ErrInvalidArgument", o, err)
		}
	}
}

// TestImportRegistersDriver: with this package imported, driver=go-redis works, and so does a
// backend over the application's client.
func TestImportRegistersDriver(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	c := cashews.New()
	t.Cleanup(func() { c.Close() })
	if err := c.Setup(srv.URL() + "?driver=go-redis&timeout=10s"); err != nil {
		t.Fatalf("Setup with driver=go-redis: %v", err)
	}
	if ok, err := c.Set(ctx, "k", "v", time.Minute); !ok || err != nil {
		t.Fatalf("Set = (%v, %v)", ok, err)
	}
	client := goredisv9.NewClient(&goredisv9.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { client.Close() })
	b, err := goredis.NewFromClient(client, redis.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("NewFromClient: %v", err)
	}
	if err := c.SetupBackend(b, "", cashews.WithPrefix("other:")); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.Set(ctx, "other:k", "w", time.Minute); !ok || err != nil {
		t.Fatalf("Set through NewFromClient = (%v, %v)", ok, err)
	}
	for k, want := range map[string]string{"k": "v", "other:k": "w"} {
		if v, found, err := cashews.Get[string](ctx, c, k); v != want || !found || err != nil {
			t.Errorf("Get(%s) = (%q, %v, %v), want (%q, true, nil)", k, v, found, err, want)
		}
	}
}
