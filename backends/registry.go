package backends

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/cashews-go/cashews/internal/quote"
)

// Config is what a [Factory] receives to open a backend.
type Config struct {
	// URL is the parsed setup URL. Its query is also in Params; read parameters from Params only.
	URL *url.URL
	// Params holds the query parameters the Cache did not take for itself. The factory takes the
	// ones it knows; the Cache reports every parameter left over as unknown.
	Params *Params
	// Clock tells the time; never nil when the Cache calls a factory.
	Clock Clock
	// Logger receives the backend's log records; never nil when the Cache calls a factory.
	Logger *slog.Logger
}

// Factory opens a backend from a setup URL.
type Factory func(cfg Config) (Backend, error)

var (
	registryMu sync.RWMutex
	registry   = make(map[string]Factory)
	// hints name the import that registers a well-known scheme, for the unknown-scheme error.
	hints = map[string]string{
		"redis":  "github.com/cashews-go/cashews/backends/redis",
		"rediss": "github.com/cashews-go/cashews/backends/redis",
		"disk":   "github.com/cashews-go/cashews/backends/disk",
	}
)

// Register makes a backend available under a URL scheme. It is meant to be called from the init
// function of the backend's package, and panics if the scheme is empty or already registered, as
// database/sql.Register does: both are programming errors.
func Register(scheme string, f Factory) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if scheme == "" || f == nil {
		panic("cashews: Register with an empty scheme or a nil factory")
	}
	if _, dup := registry[scheme]; dup {
		panic("cashews: Register called twice for scheme " + scheme)
	}
	registry[scheme] = f
}

// Schemes returns the registered URL schemes, sorted.
func Schemes() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	s := make([]string, 0, len(registry))
	for k := range registry {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// Lookup returns the factory registered for scheme. The error for an unknown scheme names the
// registered ones and, for a well-known scheme, the import that registers it.
func Lookup(scheme string) (Factory, error) {
	registryMu.RLock()
	f, ok := registry[scheme]
	registryMu.RUnlock()
	if ok {
		return f, nil
	}
	msg := fmt.Sprintf("cashews: unknown URL scheme %s (registered: %s)", quote.String(scheme), strings.Join(Schemes(), ", "))
	if imp, ok := hints[scheme]; ok {
		msg += fmt.Sprintf(`; add import _ %q`, imp)
	}
	return nil, fmt.Errorf("%s: %w", msg, ErrUnknownScheme)
}

// ErrUnknownScheme is wrapped by the error for a setup URL whose scheme no imported backend registered.
var ErrUnknownScheme = errors.New("cashews: unknown scheme")

// ParseURL parses a setup URL and checks that it has a scheme, no fragment and no repeated query
// parameter.
func ParseURL(raw string) (*url.URL, *Params, error) {
	if raw == "" {
		return nil, nil, fmt.Errorf("cashews: setup URL is empty (want mem://, redis://, disk://...)")
	}
	if strings.Contains(raw, "#") {
		// The URL is not echoed: an unencoded # in a password starts the fragment, so the text
		// around it may hold part of the password.
		scheme, _, _ := strings.Cut(raw, ":")
		if len(scheme) > 16 || strings.ContainsAny(scheme, "/@#?") {
			scheme = "?"
		}
		return nil, nil, fmt.Errorf("cashews: setup URL of scheme %q has a fragment (#...), which no backend reads; write a # in a value as %%23", scheme)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("cashews: setup URL %s: %s", quote.String(RedactString(raw)), parseProblem(err))
	}
	if err := checkSecretsParsed(raw, u); err != nil {
		return nil, nil, err
	}
	if u.Scheme == "" {
		return nil, nil, fmt.Errorf("cashews: setup URL %s has no scheme (want mem://, redis://, disk://...)", quote.String(RedactString(raw)))
	}

	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, nil, fmt.Errorf("cashews: setup URL %s: query: %s", quote.String(RedactString(raw)), parseProblem(err))
	}
	for k, v := range q {
		if len(v) > 1 {
			return nil, nil, fmt.Errorf("cashews: setup URL parameter %s is given %d times", quoteParam(k), len(v))
		}
	}
	return u, &Params{values: q, scheme: u.Scheme}, nil
}
