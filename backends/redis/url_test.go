package redis

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cashews-go/cashews/backends"
)

func parse(t testing.TB, raw string) (Options, *backends.Params, error) {
	t.Helper()
	u, p, err := backends.ParseURL(raw)
	if err != nil {
		t.Fatalf("backends.ParseURL(%q): %v", raw, err)
	}
	o, err := ParseURL(u, p)
	return o, p, err
}

// defaults are the Options every URL starts from.
func defaults() Options {
	return Options{
		Protocol:       3,
		Timeout:        DefaultTimeout,
		ClientSideSize: DefaultClientSideSize,
		ClientSideTTL:  DefaultClientSideTTL,
		Driver:         DriverRueidis,

		ClusterRefreshInterval: DefaultClusterRefreshInterval,
	}
}

func TestParseURL(t *testing.T) {
	with := func(f func(o *Options)) Options {
		o := defaults()
		f(&o)
		return o
	}
	tests := []struct {
		url  string
		want Options
	}{
		{"redis://", defaults()},
		{"redis://localhost", with(func(o *Options) { o.Addrs = []string{"localhost:6379"} })},
		{"redis://h:7000", with(func(o *Options) { o.Addrs = []string{"h:7000"} })},
		{"redis://[::1]:7000/3", with(func(o *Options) { o.Addrs = []string{"[::1]:7000"}; o.DB = 3 })},
		{"redis://[::1]", with(func(o *Options) { o.Addrs = []string{"[::1]:6379"} })},
		{"redis://h/2", with(func(o *Options) { o.Addrs = []string{"h:6379"}; o.DB = 2 })},
		{"redis://h/?db=5", with(func(o *Options) { o.Addrs = []string{"h:6379"}; o.DB = 5 })},
		{"redis://h/5?db=5", with(func(o *Options) { o.Addrs = []string{"h:6379"}; o.DB = 5 })},
		{"redis://u:p%40ss@h", with(func(o *Options) { o.Addrs = []string{"h:6379"}; o.Username = "u"; o.Password = "p@ss" })},
		{"redis://:secret@h", with(func(o *Options) { o.Addrs = []string{"h:6379"}; o.Password = "secret" })},
		{"redis://a,b:2,c:3/?cluster=true", with(func(o *Options) {
			o.Addrs = []string{"a:6379", "b:2", "c:3"}
			o.Mode = ModeCluster
		})},
		{"redis://a:1,b:2", with(func(o *Options) { o.Addrs = []string{"a:1", "b:2"} })},
		{"redis://h?cluster=false", with(func(o *Options) { o.Addrs = []string{"h:6379"}; o.Mode = ModeSingle })},
		{"redis://h?always_pipelining=true", with(func(o *Options) { o.Addrs = []string{"h:6379"}; o.AlwaysPipelining = true })},
		{"redis://h?client_name=app&protocol=2", with(func(o *Options) {
			o.Addrs = []string{"h:6379"}
			o.ClientName = "app"
			o.Protocol = 2
		})},
		{"redis://h?timeout=250ms&dial_timeout=1s&read_timeout=2s&write_timeout=3s&conn_max_lifetime=1h", with(func(o *Options) {
			o.Addrs = []string{"h:6379"}
			o.Timeout = 250 * time.Millisecond
			o.DialTimeout = time.Second
			o.ReadTimeout = 2 * time.Second
			o.WriteTimeout = 3 * time.Second
			o.ConnMaxLifetime = time.Hour
		})},
		{"redis://h?timeout=0", with(func(o *Options) { o.Addrs = []string{"h:6379"}; o.Timeout = -1 })},
		{"redis://h?pool_size=20&pipeline_multiplex=3", with(func(o *Options) {
			o.Addrs = []string{"h:6379"}
			o.PoolSize = 20
			o.PipelineMultiplex = 3
		})},
		{"redis://h?pipeline_multiplex=0", with(func(o *Options) { o.Addrs = []string{"h:6379"}; o.PipelineMultiplex = -1 })},
		{"redis://h?max_retries=0", with(func(o *Options) { o.Addrs = []string{"h:6379"}; o.MaxRetries = -1 })},
		{"redis://h?max_retries=5", with(func(o *Options) { o.Addrs = []string{"h:6379"}; o.MaxRetries = 5 })},
		{"redis://h?client_side=true&client_side_size=64MiB&client_side_ttl=1m", with(func(o *Options) {
			o.Addrs = []string{"h:6379"}
			o.ClientSide = true
			o.ClientSideSize = 64 << 20
			o.ClientSideTTL = time.Minute
		})},
		{"redis://h?client_side", with(func(o *Options) { o.Addrs = []string{"h:6379"}; o.ClientSide = true })},
		{"redis://a:1,b:2?cluster_refresh_interval=5s", with(func(o *Options) {
			o.Addrs = []string{"a:1", "b:2"}
			o.ClusterRefreshInterval = 5 * time.Second
		})},
		{"redis://h?driver=go-redis", with(func(o *Options) { o.Addrs = []string{"h:6379"}; o.Driver = DriverGoRedis })},
		{"redis://h?driver=rueidis", with(func(o *Options) { o.Addrs = []string{"h:6379"} })},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got, p, err := parse(t, tt.url)
			if err != nil {
				t.Fatalf("ParseURL: got error %v, want none", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseURL:\ngot  %+v\nwant %+v", got, tt.want)
			}
			if u := p.Unused(); len(u) != 0 {
				t.Errorf("parameters left unused: %v, want none", u)
			}
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	tests := []struct{ url, want string }{
		{"redis://h/x", "database number"},
		{"redis://h/-1", "database number"},
		{"redis://h/1?db=2", "disagree"},
		{"redis://h?db=x", "db="},
		{"redis://h:0", "port"},
		{"redis://h:99999", "port"},
		{"redis://a:1,,b:2", "empty host"},
		{"redis://a:1,b:2?cluster=false", "cluster=false"},
		{"redis://a:1,b:2/1", "only database 0"},
		{"redis://h/1?cluster=true", "only database 0"},
		{"redis://h?cluster=maybe", "cluster="},
		{"redis://h?protocol=4", "protocol="},
		{"redis://h?timeout=-1s", "timeout="},
		{"redis://h?timeout=fast", "timeout="},
		{"redis://h?dial_timeout=0", "dial_timeout="},
		{"redis://h?pool_size=0", "pool_size="},
		{"redis://h?pipeline_multiplex=9", "pipeline_multiplex="},
		{"redis://h?always_pipelining=maybe", "always_pipelining="},
		{"redis://h?always_pipelining=true&driver=go-redis", "always_pipelining=true needs driver=rueidis"},
		{"redis://h?max_retries=-1", "max_retries="},
		{"redis://h?client_side=yes&driver=go-redis", "needs driver=rueidis"},
		{"redis://h?client_side=yes&protocol=2", "needs protocol=3"},
		{"redis://h?client_side_size=lots", "client_side_size="},
		{"redis://h?client_side_ttl=0", "client_side_ttl="},
		{"redis://h?cluster_refresh_interval=10ms", "cluster_refresh_interval="},
		{"redis://h?driver=redigo", "driver="},
		{"redis://h?client_name=", "client_name is empty"},
		{"redis://h?tls_ca=/x.pem", "needs TLS"},
		{"redis://h?tls_insecure_skip_verify=true", "needs TLS"},
		{"rediss://h?tls_ca=/does/not/exist.pem", "tls_ca"},
		{"rediss://h?tls_cert=/a.pem", "both or neither"},
		{"rediss://h?tls_insecure_skip_verify=perhaps", "tls_insecure_skip_verify="},
		{"memcached://h", "scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, _, err := parse(t, tt.url)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseURL: got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestParseURLErrorHidesPassword(t *testing.T) {
	_, _, err := parse(t, "redis://user:hunter2@h/x")
	if err == nil {
		t.Fatal("got no error, want one for the bad path")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %q shows the password", err)
	}
}

func TestParseURLLeavesUnknown(t *testing.T) {
	_, p, err := parse(t, "redis://h?dbb=1&timeout=1s")
	if err != nil {
		t.Fatalf("ParseURL: %v", err)
	}
	if got := p.Unused(); !reflect.DeepEqual(got, []string{"dbb"}) {
		t.Fatalf("unused: got %v, want [dbb]", got)
	}
}

// TestFactoryRejectsUnknown checks that the registered factory names an unknown parameter before
// it tries to connect.
func TestFactoryRejectsUnknown(t *testing.T) {
	u, p, err := backends.ParseURL("redis://127.0.0.1:1/?dbb=1")
	if err != nil {
		t.Fatal(err)
	}
	f, err := backends.Lookup("redis")
	if err != nil {
		t.Fatalf("Lookup(redis): %v", err)
	}
	_, err = f(backends.Config{URL: u, Params: p, Clock: backends.SystemClock{}})
	if err == nil || !strings.Contains(err.Error(), `"dbb"`) {
		t.Fatalf("factory: got %v, want an error naming dbb", err)
	}
	if _, err := backends.Lookup("rediss"); err != nil {
		t.Fatalf("Lookup(rediss): %v", err)
	}
}

func TestParseURLTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeSelfSigned(t, dir)
	o, _, err := parse(t, "rediss://h?tls_ca="+certFile+"&tls_cert="+certFile+"&tls_key="+keyFile+
		"&tls_server_name=cache.internal&tls_insecure_skip_verify=true")
	if err != nil {
		t.Fatalf("ParseURL: %v", err)
	}
	switch {
	case o.TLS == nil:
		t.Fatal("TLS config: got nil, want one")
	case o.TLS.ServerName != "cache.internal":
		t.Errorf("ServerName: got %q, want cache.internal", o.TLS.ServerName)
	case !o.TLS.InsecureSkipVerify:
		t.Errorf("InsecureSkipVerify: got false, want true")
	case o.TLS.RootCAs == nil:
		t.Errorf("RootCAs: got nil, want the CA file's pool")
	case len(o.TLS.Certificates) != 1:
		t.Errorf("Certificates: got %d, want 1", len(o.TLS.Certificates))
	}
	o, _, err = parse(t, "rediss://h")
	if err != nil || o.TLS == nil || o.TLS.RootCAs != nil {
		t.Fatalf("rediss:// without parameters: got %+v, %v; want a TLS config with the system roots", o.TLS, err)
	}
	empty := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(empty, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := parse(t, "rediss://h?tls_ca="+empty); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("tls_ca without certificates: got %v, want an error saying so", err)
	}
}

func writeSelfSigned(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cache.internal"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, DNSNames: []string{"cache.internal"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestOptionsCheck(t *testing.T) {
	tests := []struct {
		name string
		o    Options
	}{
		{"bad address", Options{Addrs: []string{"nohostport"}}},
		{"single with several", Options{Addrs: []string{"a:1", "b:2"}, Mode: ModeSingle}},
		{"negative db", Options{DB: -1}},
		{"db on cluster", Options{DB: 1, Mode: ModeCluster}},
		{"protocol", Options{Protocol: 4}},
		{"driver", Options{Driver: "redigo"}},
		{"csc on go-redis", Options{ClientSide: true, Driver: DriverGoRedis}},
		{"csc on resp2", Options{ClientSide: true, Protocol: 2}},
		{"multiplex", Options{PipelineMultiplex: 9}},
		{"pool", Options{PoolSize: -1}},
		{"durations", Options{DialTimeout: -1}},
		{"mode", Options{Mode: 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.o)
			if !errors.Is(err, backends.ErrInvalidArgument) {
				t.Fatalf("New: got %v, want an error wrapping ErrInvalidArgument", err)
			}
		})
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"redis://", "redis://h:1/2?db=2", "redis://u:p@a:1,b:2/?cluster=true&timeout=1s",
		"rediss://h?tls_insecure_skip_verify", "redis://h?client_side=1&client_side_size=1KiB",
		"redis://[::1]:7/0?driver=go-redis&max_retries=3", "redis://h?pool_size=1_000",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, p, err := backends.ParseURL(raw)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
			return
		}
		if u.Query().Has("tls_ca") || u.Query().Has("tls_cert") || u.Query().Has("tls_key") {
			return // reads files
		}
		o, err := ParseURL(u, p)
		if err != nil {
			return
		}
		// What parses must pass New's own checks.
		if err := o.check(); err != nil {
			t.Fatalf("ParseURL(%q) = %+v, which New rejects: %v", raw, o, err)
		}
	})
}
