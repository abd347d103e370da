package middleware

import (
	"net/http"
	"strings"
)

// CacheControl returns a wrapper that sets the Cache-Control field of a route's responses to value,
// replacing what the handler set, as asgi-caches' cache_control does. The value is checked here: a
// list of directives, each a token with an optional argument (a token or a quoted string), and the
// arguments of max-age, s-maxage, stale-while-revalidate and stale-if-error must be non-negative
// integers.
//
//	cc, err := middleware.CacheControl("public, max-age=60")
//	mux.Handle("/news", cc(news))
func CacheControl(value string) (func(http.Handler) http.Handler, error) {
	if strings.TrimSpace(value) == "" {
		return nil, configError("CacheControl(%q): empty", value)
	}
	for rest := value; len(rest) > 0; {
		var part string
		part, rest = nextElement(rest)
		name, arg, hasArg := strings.Cut(strings.TrimSpace(part), "=")
		if !validToken(name) {
			return nil, configError("CacheControl(%q): %q is not a directive", value, part)
		}
		if !hasArg {
			continue
		}
		quoted := len(arg) >= 2 && arg[0] == '"' && arg[len(arg)-1] == '"'
		if !quoted && !validToken(arg) {
			return nil, configError("CacheControl(%q): bad argument in %q", value, part)
		}
		switch strings.ToLower(name) {
		case "max-age", "s-maxage", "stale-while-revalidate", "stale-if-error", "max-stale", "min-fresh":
			if arg == "" || strings.Trim(arg, "0123456789") != "" {
				return nil, configError("CacheControl(%q): %s wants seconds, got %q", value, name, arg)
			}
		}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cw := &ccWriter{ResponseWriter: w, value: value}
			next.ServeHTTP(cw, r)
			cw.set() // a handler that wrote nothing: net/http sends the header after it returns
		})
	}, nil
}

type ccWriter struct {
	http.ResponseWriter
	value string
	done  bool
}

func (w *ccWriter) set() {
	if !w.done {
		w.done = true
		w.ResponseWriter.Header().Set("Cache-Control", w.value)
	}
}

func (w *ccWriter) WriteHeader(code int) {
	if code < 100 || code >= 200 || code == http.StatusSwitchingProtocols {
		w.set()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *ccWriter) Write(p []byte) (int, error) {
	w.set()
	return w.ResponseWriter.Write(p)
}

// Flush sends the header and what was written so far.
func (w *ccWriter) Flush() {
	w.set()
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap returns the client's ResponseWriter, for http.ResponseController.
func (w *ccWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
