package driver_test

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/backends/redis"
)

// This test binary links package redis without package goredis, as a program that does not ask for
// go-redis does.

// TestGoRedisNeedsItsImport: driver=go-redis without the import of package goredis is an error
// that names the import, at setup.
func TestGoRedisNeedsItsImport(t *testing.T) {
	const want = `import _ "github.com/cashews-go/cashews/backends/redis/goredis"`
	_, err := redis.New(redis.Options{Driver: redis.DriverGoRedis})
	if !errors.Is(err, backends.ErrInvalidArgument) || !strings.Contains(err.Error(), want) {
		t.Errorf("redis.New with Driver go-redis = %v, want an ErrInvalidArgument that says %s", err, want)
	}
	c := cashews.New()
	defer c.Close()
	err = c.Setup("redis://127.0.0.1:1/0?driver=go-redis")
	if !errors.Is(err, backends.ErrInvalidArgument) || !strings.Contains(err.Error(), want) {
		t.Errorf("Setup with driver=go-redis = %v, want an ErrInvalidArgument that says %s", err, want)
	}
}

// TestGoRedisLinkedOnlyWhenAsked: package redis does not depend on go-redis; package goredis does.
func TestGoRedisLinkedOnlyWhenAsked(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	deps := func(pkg string) string {
		t.Helper()
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		return string(out)
	}
	const goredis = "github.com/redis/go-redis/v9\n"
	if d := deps("github.com/cashews-go/cashews/backends/redis"); strings.Contains(d, goredis) {
		t.Errorf("package redis depends on go-redis:\n%s", d)
	} else if !strings.Contains(d, "github.com/redis/rueidis\n") {
		t.Errorf("package redis does not depend on rueidis, which it is built on:\n%s", d)
	}
	if d := deps("github.com/cashews-go/cashews/backends/redis/goredis"); !strings.Contains(d, goredis) {
		t.Errorf("package goredis does not depend on go-redis:\n%s", d)
	}
}
