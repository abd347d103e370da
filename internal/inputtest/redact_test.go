package inputtest

import (
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/backends/disk"
	"github.com/cashews-go/cashews/backends/redis"
	_ "github.com/cashews-go/cashews/backends/redis/goredis" // driver=go-redis in keys_test.go
)

// closedAddr is a loopback address where nothing listens: Redis setups fail at once there.
const closedAddr = "127.0.0.1:1"

func init() {
	// No test here may look a name up: a fuzzed URL names any host. Lookups fail at once.
	net.DefaultResolver = &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("inputtest: no DNS")
	}}
}

// setupError runs Setup on a new Cache and returns the error's text and the backend's name
// (BackendName of the empty key), the two places a setup URL shows. It runs Setup only when the URL
// can do no harm: a Redis URL only when every host is a loopback IP, a disk URL only when the
// directory is inside root and has at most 8 shards. Other URLs go through the parsers that Setup would run, up to the
// point where Setup would connect or create files.
func setupError(t testing.TB, raw, root string) (errText, name string) {
	u, _ := url.Parse(raw)
	if u != nil && !harmless(u, root) {
		return parseOnly(u), ""
	}
	c := cashews.New()
	defer c.Close()
	if err := c.Setup(raw); err != nil {
		return err.Error(), ""
	}
	return "", c.BackendName("")
}

// harmless reports whether Setup of u connects only to loopback addresses and writes only under root.
func harmless(u *url.URL, root string) bool {
	_, params, err := backends.ParseURL(u.String())
	if err != nil {
		return true // Setup fails before any backend opens
	}
	switch u.Scheme {
	case "redis", "rediss":
		o, err := redis.ParseURL(u, params)
		if err != nil {
			return true
		}
		if len(o.Addrs) == 0 {
			return false // localhost:6379, where a real server may run
		}
		for _, a := range o.Addrs {
			host, _, err := net.SplitHostPort(a)
			if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
				return false
			}
		}
	case "disk":
		o, err := disk.ParseURL(u, params)
		if err != nil {
			return true
		}
		dir, err := filepath.Abs(o.Dir)
		if o.Dir == "" || err != nil || o.Shards > 8 {
			return false // outside root, or slow to create
		}
		if rel, err := filepath.Rel(root, dir); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return false
		}
	}
	return true
}

// parseOnly runs the parsers of Setup on u and returns the first error's text.
func parseOnly(u *url.URL) string {
	_, params, err := backends.ParseURL(u.String())
	if err == nil {
		switch u.Scheme {
		case "redis", "rediss":
			_, err = redis.ParseURL(u, params)
		case "disk":
			_, err = disk.ParseURL(u, params)
		}
	}
	if err != nil {
		return err.Error()
	}
	return backends.Redact(u)
}

// TestSetupHidesSecrets checks the URLs of issue 12 and the shapes around them on every scheme.
func TestSetupHidesSecrets(t *testing.T) {
	root := t.TempDir()
	dir := filepath.ToSlash(filepath.Join(root, "d"))
	certFile := filepath.Join(root, "c.pem")
	keyFile := filepath.Join(root, "S3CR3T-key.pem")
	for _, f := range []string{certFile, keyFile} {
		if err := os.WriteFile(f, []byte("not PEM"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		url    string
		secret []string // no piece of these may show
	}{
		{"mem://?copy=true&secret=S3CR3T%ok", []string{"S3CR3T", "%ok"}},
		{"redis://u:hun@ter2PW%zz@127.0.0.1:6379/0", []string{"hun", "ter2PW", "%zz"}},
		{"rediss://u:hun@ter2PW%zz@127.0.0.1:6379/0", []string{"hun", "ter2PW", "%zz"}},
		{"disk://u:hun@ter2PW%zz@" + dir, []string{"hun", "ter2PW", "%zz"}},
		{"disk://u:hunter2PW@" + dir, []string{"hunter2PW"}},
		{"redis://u:hunter2PW@" + closedAddr + "/0", []string{"hunter2PW"}},
		{"redis://u:hunter2PW@" + closedAddr + "/0?nope=1", []string{"hunter2PW"}},
		{"redis://u:pw99/S3CR3T@" + closedAddr + "/0", []string{"S3CR3T"}},
		{"redis://u:S3CR3T?x@" + closedAddr + "/0", []string{"S3CR3T"}},
		{"mem://?secret=S3CR3T;x=1", []string{"S3CR3T"}},
		{"mem://?secret=S3CR3T#frag", []string{"S3CR3T"}},
		{"mem://?secret%3DS3CR3T", []string{"S3CR3T"}},
		{"mem://?secr%65t=S3CR3T%zz", []string{"S3CR3T"}},
		{"mem://?copy=true&password=S3CR3T%ok", []string{"S3CR3T"}},
		{"mem://?tls_key=S3CR3T%ok", []string{"S3CR3T"}},
		{"mem://?secret=S3CR3T", []string{"S3CR3T"}}, // a memory backend takes no secret
		{"disk://" + dir + "?secret=S3CR3T&shards=1&nope=1", []string{"S3CR3T"}},
		{"redis://" + closedAddr + "/0?secret=S3CR3T&timeout=bad", []string{"S3CR3T"}},
		{"rediss://" + closedAddr + "/0?tls_cert=" + certFile + "&tls_key=" + keyFile, []string{"S3CR3T"}},
		{"rediss://" + closedAddr + "/0?tls_cert=" + certFile + "&tls_key=" + root + "/S3CR3T-missing.pem", []string{"S3CR3T"}},
		{"redis://" + closedAddr + "/0?tls_key=S3CR3T", []string{"S3CR3T"}},
	} {
		errText, name := setupError(t, tt.url, root)
		if errText == "" && name == "" {
			t.Errorf("Setup(%q) succeeded with no backend name", tt.url)
		}
		for _, s := range tt.secret {
			if strings.Contains(errText, s) || strings.Contains(name, s) {
				t.Errorf("Setup(%q): error %q, backend name %q; want neither to show %q", tt.url, errText, name, s)
			}
		}
	}
}
