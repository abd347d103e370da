package redistest

import (
	"strings"
	"testing"
	"time"
)

func TestServerLifecycle(t *testing.T) {
	s := Start(t)
	if got := s.MustDo("SET", "k", "v"); got != "OK" {
		t.Fatalf("SET: got %v, want OK", got)
	}
	if got := s.MustDo("GET", "k"); got != "v" {
		t.Fatalf("GET: got %v, want v", got)
	}
	if got := s.MustDo("CONFIG", "GET", "save"); len(got.([]any)) != 2 || got.([]any)[1] != "" {
		t.Fatalf("CONFIG GET save: got %v, want [save \"\"]", got)
	}

	s.Freeze()
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		_, err := s.Do("PING")
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("PING on a frozen server answered after %s (err %v); want no answer", time.Since(start), err)
	case <-time.After(200 * time.Millisecond):
	}
	s.Thaw()
	if err := <-done; err != nil {
		t.Fatalf("PING after Thaw: got %v, want PONG", err)
	}

	s.Kill()
	if _, err := s.Do("PING"); err == nil {
		t.Fatal("PING after Kill: got no error, want connection refused")
	}
	s.Restart()
	if got := s.MustDo("GET", "k"); got != nil {
		t.Fatalf("GET after restart: got %v, want nil (no persistence)", got)
	}
	if !strings.HasPrefix(s.URL(), "redis://127.0.0.1:") {
		t.Fatalf("URL: got %q, want redis://127.0.0.1:PORT/0", s.URL())
	}
}

func TestCluster(t *testing.T) {
	c := StartCluster(t, 3)
	if len(c.Nodes()) != 3 {
		t.Fatalf("nodes: got %d, want 3", len(c.Nodes()))
	}
	// Every slot is served by exactly one node: a key is accepted by one node and MOVED by the others.
	for _, key := range []string{"a", "b", "c", "user:1", "{x}y"} {
		owners := 0
		for _, n := range c.Nodes() {
			if _, err := n.Do("SET", key, "1"); err == nil {
				owners++
			} else if !strings.HasPrefix(err.Error(), "MOVED") {
				t.Fatalf("SET %s on %s: got %v, want OK or MOVED", key, n.Addr(), err)
			}
		}
		if owners != 1 {
			t.Fatalf("key %q: %d nodes accepted it, want 1", key, owners)
		}
	}
}
