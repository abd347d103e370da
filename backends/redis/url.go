package redis

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/internal/quote"
)

// open is the factory registered for redis:// and rediss://.
func open(cfg backends.Config) (backends.Backend, error) {
	opts, err := ParseURL(cfg.URL, cfg.Params)
	if err != nil {
		return nil, err
	}
	// The Cache has taken its own parameters already: whatever is left is unknown, and saying so
	// now spares a connection attempt.
	if err := cfg.Params.CheckUnused(); err != nil {
		return nil, err
	}
	opts.Logger = cfg.Logger
	return New(opts)
}

// ParseURL turns a redis:// or rediss:// setup URL into Options, taking its query parameters from
// params (see the package documentation for the list). Every parameter is parsed strictly: a value
// that does not parse is an error naming it. Parameters it does not know are left in params for
// the caller to report. It reads the TLS files the URL names.
func ParseURL(u *url.URL, params *backends.Params) (Options, error) {
	var o Options
	if params == nil {
		params = backends.NewParams(url.Values{})
	}
	bad := func(format string, args ...any) (Options, error) {
		return Options{}, fmt.Errorf("cashews: redis URL %s: "+format, append([]any{backends.Redact(u)}, args...)...)
	}
	useTLS := false
	switch u.Scheme {
	case "redis":
	case "rediss":
		useTLS = true
	default:
		return bad("scheme %s: want redis or rediss", quote.String(u.Scheme))
	}
	if u.Opaque != "" {
		return bad("want redis://host:port/db")
	}

	// Hosts: "h1:6379,h2:6379"; a missing port is 6379.
	if u.Host != "" {
		for _, h := range strings.Split(u.Host, ",") {
			addr, err := hostPort(h)
			if err != nil {
				return bad("%v", err)
			}
			o.Addrs = append(o.Addrs, addr)
		}
	}

	// Database: the path "/3", or db=3.
	pathDB := -1
	if p := strings.Trim(u.Path, "/"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return bad("the path is not a database number: want one such as /0")
		}
		pathDB = n
	}
	db, err := params.Int("db", -1, 0, 1<<31-1)
	if err != nil {
		return Options{}, err
	}
	switch {
	case db >= 0 && pathDB >= 0 && int(db) != pathDB:
		return bad("database %d in the path and db=%d disagree", pathDB, db)
	case db >= 0:
		o.DB = int(db)
	case pathDB >= 0:
		o.DB = pathDB
	}

	if u.User != nil {
		o.Username = u.User.Username()
		o.Password, _ = u.User.Password()
	}

	if o.ClientName, err = stringParam(params, "client_name"); err != nil {
		return Options{}, err
	}
	proto, err := params.Int("protocol", 3, 2, 3)
	if err != nil {
		return Options{}, err
	}
	o.Protocol = int(proto)

	durations := []struct {
		name     string
		dst      *time.Duration
		def, min time.Duration
	}{
		{"dial_timeout", &o.DialTimeout, 0, time.Millisecond},
		{"read_timeout", &o.ReadTimeout, 0, time.Millisecond},
		{"write_timeout", &o.WriteTimeout, 0, time.Millisecond},
		{"timeout", &o.Timeout, DefaultTimeout, 0},
		{"conn_max_lifetime", &o.ConnMaxLifetime, 0, time.Second},
		{"client_side_ttl", &o.ClientSideTTL, DefaultClientSideTTL, time.Millisecond},
		{"cluster_refresh_interval", &o.ClusterRefreshInterval, DefaultClusterRefreshInterval, 100 * time.Millisecond},
	}
	for _, d := range durations {
		if *d.dst, err = params.Duration(d.name, d.def, d.min, 24*time.Hour); err != nil {
			return Options{}, err
		}
	}
	if o.Timeout == 0 {
		o.Timeout = -1 // timeout=0: no deadline of the backend's own
	}

	n, err := params.Int("pool_size", 0, 1, 1<<20)
	if err != nil {
		return Options{}, err
	}
	o.PoolSize = int(n)
	if params.Has("pipeline_multiplex") {
		if n, err = params.Int("pipeline_multiplex", 0, 0, 8); err != nil {
			return Options{}, err
		}
		o.PipelineMultiplex = int(n)
		if n == 0 {
			o.PipelineMultiplex = -1 // one connection, not the driver's default
		}
	}
	if o.AlwaysPipelining, err = params.Bool("always_pipelining", false); err != nil {
		return Options{}, err
	}
	if params.Has("max_retries") {
		if n, err = params.Int("max_retries", 0, 0, 100); err != nil {
			return Options{}, err
		}
		o.MaxRetries = int(n)
		if n == 0 {
			o.MaxRetries = -1 // max_retries=0: none
		}
	}

	if params.Has("cluster") {
		c, err := params.Bool("cluster", false)
		if err != nil {
			return Options{}, err
		}
		o.Mode = ModeSingle
		if c {
			o.Mode = ModeCluster
		}
	}
	if o.Mode == ModeSingle && len(o.Addrs) > 1 {
		return bad("cluster=false with %d hosts: a single server has one", len(o.Addrs))
	}
	if o.DB != 0 && (o.Mode == ModeCluster || len(o.Addrs) > 1) {
		return bad("Redis Cluster has only database 0 (got %d)", o.DB)
	}

	if o.ClientSide, err = params.Bool("client_side", false); err != nil {
		return Options{}, err
	}
	if o.ClientSideSize, err = params.Size("client_side_size", DefaultClientSideSize, 1<<10, 1<<40); err != nil {
		return Options{}, err
	}
	if o.Driver, err = params.Enum("driver", DriverRueidis, DriverGoRedis); err != nil {
		return Options{}, err
	}
	if o.ConnectAtSetup, err = params.Bool("connect_at_setup", false); err != nil {
		return Options{}, err
	}
	if o.ClientSide && o.Driver == DriverGoRedis {
		return bad("client_side=true needs driver=rueidis")
	}
	if o.AlwaysPipelining && o.Driver == DriverGoRedis {
		return bad("always_pipelining=true needs driver=rueidis")
	}
	if o.ClientSide && o.Protocol == 2 {
		return bad("client_side=true needs protocol=3")
	}

	if o.TLS, err = tlsConfig(params, useTLS); err != nil {
		return bad("%v", err)
	}
	return o, nil
}

// stringParam takes a string parameter that must not be empty when given.
func stringParam(p *backends.Params, name string) (string, error) {
	if !p.Has(name) {
		return "", nil
	}
	v := p.String(name, "")
	if v == "" {
		return "", fmt.Errorf("cashews: URL parameter %s is empty: want a value", name)
	}
	return v, nil
}

// hostPort checks one host of the URL and adds the default port.
func hostPort(h string) (string, error) {
	if h == "" {
		return "", fmt.Errorf("empty host in the host list")
	}
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		// No port: "host" or "[::1]".
		host, port = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), "6379"
		if strings.ContainsAny(host, "[]") || host == "" {
			return "", fmt.Errorf("host %s: want host or host:port", quote.String(h))
		}
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("host %s: port %s is not from 1 to 65535", quote.String(h), quote.String(port))
	}
	if host == "" {
		return "", fmt.Errorf("host %s has no name", quote.String(h))
	}
	return net.JoinHostPort(host, port), nil
}

// tlsConfig builds the TLS configuration from the tls_* parameters (rediss:// only).
func tlsConfig(p *backends.Params, useTLS bool) (*tls.Config, error) {
	var (
		names = []string{"tls_ca", "tls_cert", "tls_key", "tls_server_name", "tls_insecure_skip_verify"}
		vals  = map[string]string{}
	)
	for _, n := range names[:4] {
		v, err := stringParam(p, n)
		if err != nil {
			return nil, err
		}
		vals[n] = v
	}
	skip, err := p.Bool("tls_insecure_skip_verify", false)
	if err != nil {
		return nil, err
	}
	if !useTLS {
		for _, n := range names {
			if vals[n] != "" || (n == "tls_insecure_skip_verify" && skip) {
				return nil, fmt.Errorf("parameter %s needs TLS: use rediss://", n)
			}
		}
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: vals["tls_server_name"], InsecureSkipVerify: skip}
	if ca := vals["tls_ca"]; ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("tls_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls_ca=%s holds no PEM certificate", quote.String(ca))
		}
		cfg.RootCAs = pool
	}
	cert, key := vals["tls_cert"], vals["tls_key"]
	switch {
	case cert != "" && key != "":
		// The key's name is never shown: it may be a secret of its own.
		certPEM, err := os.ReadFile(cert)
		if err != nil {
			return nil, fmt.Errorf("tls_cert: %w", err)
		}
		keyPEM, err := os.ReadFile(key)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the PathError would name the file
			}
			return nil, fmt.Errorf("tls_key: cannot read the file: %w", err)
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("tls_cert=%s and tls_key: %w", quote.String(cert), err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	case cert != "" || key != "":
		return nil, fmt.Errorf("tls_cert and tls_key go together: give both or neither")
	}
	return cfg, nil
}
