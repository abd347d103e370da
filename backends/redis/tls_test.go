package redis

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/internal/redistest"
)

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestTLS talks rediss:// to a real redis-server that requires TLS and a client certificate signed
// by the test's CA, on both drivers, and checks that a wrong CA, a missing client certificate and
// a wrong server name fail at setup with an error naming the cause.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeSelfSigned(t, dir) // a CA that also serves as the server's and the client's certificate
	port := freePort(t)
	redistest.Start(t, "--tls-port", strconv.Itoa(port), "--tls-cert-file", cert, "--tls-key-file", key,
		"--tls-ca-cert-file", cert, "--tls-auth-clients", "yes")
	base := "rediss://127.0.0.1:" + strconv.Itoa(port) + "/0?timeout=5s&tls_server_name=cache.internal&tls_ca=" + cert
	withClient := base + "&tls_cert=" + cert + "&tls_key=" + key

	for _, driver := range []string{"rueidis", "go-redis"} {
		t.Run(driver, func(t *testing.T) {
			b := openURL(t, withClient+"&driver="+driver)
			ctx := context.Background()
			if _, err := b.Set(ctx, "tls:k", []byte("over TLS"), 0, backends.SetAlways); err != nil {
				t.Fatalf("Set over TLS: %v", err)
			}
			v, found, err := b.Get(ctx, "tls:k")
			if err != nil || !found || string(v.([]byte)) != "over TLS" {
				t.Fatalf("Get over TLS: got %q, %v, %v; want \"over TLS\", true, nil", v, found, err)
			}

			other, _ := writeSelfSigned(t, t.TempDir())
			for _, c := range []struct{ name, url, want string }{
				{"wrong CA", strings.Replace(withClient, "tls_ca="+cert, "tls_ca="+other, 1), "certificate"},
				{"no client certificate", base, ""},
				{"wrong server name", strings.Replace(withClient, "cache.internal", "other.internal", 1), "certificate"},
			} {
				u, p, err := backends.ParseURL(c.url + "&dial_timeout=2s&driver=" + driver)
				if err != nil {
					t.Fatalf("%s: ParseURL: %v", c.name, err)
				}
				f, _ := backends.Lookup("rediss")
				b, err := f(backends.Config{URL: u, Params: p, Clock: backends.SystemClock{}})
				if err == nil {
					_, _, err = b.Get(ctx, "tls:k") // a server may refuse a client certificate only after the handshake
					b.Close()
				}
				if err == nil {
					t.Errorf("%s: setup and Get succeeded, want an error", c.name)
					continue
				}
				if c.want != "" && !strings.Contains(err.Error(), c.want) {
					t.Errorf("%s: got %v, want an error mentioning %q", c.name, err, c.want)
				}
			}
		})
	}
}
