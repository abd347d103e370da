// Command reverseproxy is a caching reverse proxy: the cashews response-caching middleware in front of
// httputil.ReverseProxy. It is also what the HTTP caching conformance suite drives:
//
//	go run ./examples/reverseproxy -listen 127.0.0.1:4444 -origin http://127.0.0.1:8001
//
// It is meant as a template, so its defaults are the safe ones:
//
//   - the cache is bounded: -cache defaults to mem://?max_bytes=64MiB (with at most -max-body, 1 MiB,
//     per response); any cashews setup URL works, such as disk:///var/cache/rp?shards=2&size_limit=1GiB;
//   - a client cannot make the proxy refetch a response it holds fresh (Cache-Control: no-cache or
//     max-age=0 from a client would otherwise let anyone send every request through to the origin):
//     -client-refresh turns that on;
//   - the origin sees X-Forwarded-For, X-Forwarded-Host and X-Forwarded-Proto set by the proxy from the
//     connection (httputil.ProxyRequest.SetXForwarded), never the client's own values: a client-sent
//     X-Forwarded-Host is not part of the cache key, and an origin that reflects it would otherwise
//     store a poisoned page for everyone;
//   - when the origin fails (the ReverseProxy answers 502 when it drops the connection or cannot be
//     reached) a stored response up to -stale-if-error (1m) past its freshness is served instead,
//     unless it says must-revalidate, proxy-revalidate, s-maxage or no-cache (RFC 9111 4.2.4).
//
// -plain runs the bare ReverseProxy without caching, for comparison.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cashews-go/cashews"
	_ "github.com/cashews-go/cashews/backends/disk" // registers disk://
	"github.com/cashews-go/cashews/middleware"
)

// defaultCacheURL bounds the memory the cache may take: each new URL may hold up to -max-body.
const defaultCacheURL = "mem://?max_bytes=64MiB"

type options struct {
	listen, origin, cacheURL string
	plain, clientRefresh     bool
	maxBody                  int
	staleIfError             time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.listen, "listen", "127.0.0.1:4444", "address to listen on")
	flag.StringVar(&o.origin, "origin", "", "origin server URL (required), e.g. http://127.0.0.1:8001")
	flag.StringVar(&o.cacheURL, "cache", defaultCacheURL, "cashews setup URL of the cache")
	flag.IntVar(&o.maxBody, "max-body", 1<<20, "largest response body stored, in bytes")
	flag.BoolVar(&o.clientRefresh, "client-refresh", false, "let clients' Cache-Control (no-cache, max-age, min-fresh) make the proxy refetch")
	flag.DurationVar(&o.staleIfError, "stale-if-error", time.Minute, "serve a stored response up to this long past its freshness when the origin fails (0: never)")
	flag.BoolVar(&o.plain, "plain", false, "no caching middleware: a bare httputil.ReverseProxy")
	flag.Parse()

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(logger, o); err != nil {
		logger.Error("reverseproxy", "err", err)
		os.Exit(1)
	}
}

// newProxy returns the ReverseProxy to target: the request is rewritten for the origin, with the
// X-Forwarded fields set from the client's connection (the client's own are dropped).
func newProxy(target *url.URL, logger *slog.Logger) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelError),
	}
}

// newHandler returns the proxy with the caching middleware in front (or bare, with o.plain).
func newHandler(c *cashews.Cache, target *url.URL, logger *slog.Logger, o options) (http.Handler, error) {
	proxy := newProxy(target, logger)
	if o.plain {
		return proxy, nil
	}
	if err := c.Setup(o.cacheURL); err != nil {
		return nil, fmt.Errorf("-cache: %w", err)
	}
	mw, err := middleware.Cache(c,
		middleware.AllowClientRefresh(o.clientRefresh),
		middleware.MaxBodySize(o.maxBody),
		middleware.StaleIfError(o.staleIfError),
		middleware.Heuristic(0.1), // 10% of the time since Last-Modified, as RFC 9111 4.2.2 suggests
		middleware.Logger(logger),
	)
	if err != nil {
		return nil, err
	}
	return mw(proxy), nil
}

func run(logger *slog.Logger, o options) error {
	if o.origin == "" {
		return errors.New("-origin is required")
	}
	target, err := url.Parse(o.origin)
	if err != nil || target.Scheme == "" || target.Host == "" {
		return fmt.Errorf("-origin %q: want an absolute URL such as http://127.0.0.1:8001", o.origin)
	}
	c := cashews.New(cashews.WithLogger(logger))
	defer c.Close()
	handler, err := newHandler(c, target, logger, o)
	if err != nil {
		return err
	}

	srv := &http.Server{Addr: o.listen, Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info("listening", "addr", o.listen, "origin", o.origin, "cache", o.cacheURL, "plain", o.plain)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
