package redistest

import (
	"strconv"
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

// TestClusterReplicasMigrateFailover: a cluster of 3 masters with a replica each; slots migrate
// with their keys; a killed master's replica is promoted; the old master rejoins as a replica.
func TestClusterReplicasMigrateFailover(t *testing.T) {
	c := StartClusterWith(t, ClusterOptions{Masters: 3, Replicas: 1, NodeTimeout: 2 * time.Second})
	if got := len(c.Masters()); got != 3 {
		t.Fatalf("masters: got %d, want 3", got)
	}
	for _, key := range []string{"", "foo", "{user1000}.following", "foo{}{bar}", "{}foo", "a{b", "x}{y}"} {
		if got, want := Slot(key), c.Nodes()[0].MustDo("CLUSTER", "KEYSLOT", key); int64(got) != want {
			t.Fatalf("Slot(%q) = %d, want %v (CLUSTER KEYSLOT)", key, got, want)
		}
	}
	for i, m := range c.Nodes() {
		if r := c.ReplicaOf(m); r != c.Replicas()[i] {
			t.Fatalf("replica of %s: got %v, want %s", m.Addr(), r, c.Replicas()[i].Addr())
		}
	}
	// Keys of the first 100 slots of master 0, written where they belong.
	from, to := c.Nodes()[0], c.Nodes()[1]
	slots := c.SlotsOf(from)[:100]
	keys := map[int]string{}
	for i := 0; len(keys) < 100; i++ {
		k := "k" + strconv.Itoa(i)
		if s := Slot(k); s < 100 && keys[s] == "" {
			keys[s] = k
			from.MustDo("SET", k, k)
		}
	}
	var moved int
	if err := c.Migrate(from, to).Run(slots, func(int) { moved++ }); err != nil {
		t.Fatal(err)
	}
	if moved != 100 || len(c.SlotsOf(from)) != 16384/3-100 || c.MasterOf(0) != to {
		t.Fatalf("after migrating 100 slots: moved %d, source serves %d slots, slot 0 served by %v", moved, len(c.SlotsOf(from)), c.MasterOf(0))
	}
	for _, k := range keys {
		if got, err := to.Do("GET", k); got != k || err != nil {
			t.Fatalf("GET %s on the target: got %v, %v", k, got, err)
		}
	}
	// A master killed: its replica takes over, with every write (the migrated keys included).
	r := c.ReplicaOf(to)
	c.WaitReplicated(to, r, 10*time.Second)
	to.Kill()
	start := time.Now()
	at := c.WaitRole(r, "master", 30*time.Second)
	t.Logf("replica promoted %s after the kill", at.Sub(start))
	c.WaitOK(30 * time.Second)
	if got, err := r.Do("GET", keys[0]); got != keys[0] || err != nil {
		for _, s := range c.Servers() {
			v, err := s.Do("EXISTS", keys[0])
			role, _ := c.Role(s)
			n, _ := s.Do("DBSIZE")
			t.Logf("%s (%s): EXISTS %s: %v, %v; DBSIZE %v", s.Addr(), role, keys[0], v, err, n)
		}
		t.Fatalf("GET %s on the promoted replica %s: got %v, %v", keys[0], r.Addr(), got, err)
	}
	to.Restart()
	c.WaitRole(to, "slave", 30*time.Second)
	c.WaitOK(30 * time.Second)
	if got := len(c.Masters()); got != 3 {
		t.Fatalf("masters after the old one rejoined: got %d, want 3", got)
	}
}
