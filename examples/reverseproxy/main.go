// Command reverseproxy is a caching reverse proxy: the cashews response-caching middleware in front of
// httputil.ReverseProxy. It is also what the HTTP caching conformance suite drives:
//
//	go run ./examples/reverseproxy -listen 127.0.0.1:4444 -origin http://127.0.0.1:8001
//
// -cache takes any cashews setup URL (mem:// by default; disk:///path?shards=2 works too), and -plain
// runs the bare ReverseProxy without caching, for comparison.
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

func main() {
	listen := flag.String("listen", "127.0.0.1:4444", "address to listen on")
	origin := flag.String("origin", "", "origin server URL (required), e.g. http://127.0.0.1:8001")
	cacheURL := flag.String("cache", "mem://", "cashews setup URL of the cache")
	plain := flag.Bool("plain", false, "no caching middleware: a bare httputil.ReverseProxy")
	flag.Parse()

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(logger, *listen, *origin, *cacheURL, *plain); err != nil {
		logger.Error("reverseproxy", "err", err)
		os.Exit(1)
	}
}

func run(logger *slog.Logger, listen, origin, cacheURL string, plain bool) error {
	if origin == "" {
		return errors.New("-origin is required")
	}
	target, err := url.Parse(origin)
	if err != nil || target.Scheme == "" || target.Host == "" {
		return fmt.Errorf("-origin %q: want an absolute URL such as http://127.0.0.1:8001", origin)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelError)

	var handler http.Handler = proxy
	c := cashews.New(cashews.WithLogger(logger))
	defer c.Close()
	if !plain {
		if err := c.Setup(cacheURL); err != nil {
			return fmt.Errorf("-cache: %w", err)
		}
		mw, err := middleware.Cache(c,
			middleware.AllowClientRefresh(true), // let clients' no-cache and max-age refresh entries
			middleware.Surrogate("cashews"),     // a reverse proxy is a surrogate: honour Surrogate-Control
			middleware.Heuristic(0.1),           // 10% of the time since Last-Modified, as RFC 9111 4.2.2 suggests
			middleware.Logger(logger),
		)
		if err != nil {
			return err
		}
		handler = mw(proxy)
	}

	srv := &http.Server{Addr: listen, Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info("listening", "addr", listen, "origin", origin, "cache", cacheURL, "plain", plain)

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
