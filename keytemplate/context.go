package keytemplate

import (
	"context"
	"maps"
	"slices"
)

// WithValue returns a copy of ctx in which the placeholder {@name} renders as value. A value set
// later, on a context derived from the returned one, takes precedence.
//
// Middleware sets such values once per request, for example a tenant or client ID read from a
// header, and templates further down use them without the functions they wrap taking them as
// arguments.
func WithValue(ctx context.Context, name, value string) context.Context {
	l := contextValues(ctx).clone()
	l.set(name, value)
	return context.WithValue(ctx, contextKey{}, l)
}

// WithValues is like WithValue for each entry of values.
func WithValues(ctx context.Context, values map[string]string) context.Context {
	if len(values) == 0 {
		return ctx
	}
	l := contextValues(ctx).clone()
	for _, name := range slices.Sorted(maps.Keys(values)) {
		l.set(name, values[name])
	}
	return context.WithValue(ctx, contextKey{}, l)
}

// Value returns the value that {@name} renders as in ctx, and whether there is one.
func Value(ctx context.Context, name string) (string, bool) {
	return contextValues(ctx).lookup(name)
}

// contextKey is the key of the *valueList in a context. All values live under one key, so that a
// template with several context values calls ctx.Value once.
type contextKey struct{}

// A valueList holds the values set with WithValue. It is never modified once it is in a context.
type valueList struct {
	names, values []string
}

func contextValues(ctx context.Context) *valueList {
	if ctx == nil {
		return nil
	}
	l, _ := ctx.Value(contextKey{}).(*valueList)
	return l
}

// clone returns a copy of l that set may modify.
func (l *valueList) clone() *valueList {
	if l == nil {
		return &valueList{}
	}
	return &valueList{names: slices.Clone(l.names), values: slices.Clone(l.values)}
}

// set sets a value in a list that is not yet in a context.
func (l *valueList) set(name, value string) {
	if i := slices.Index(l.names, name); i >= 0 {
		l.values[i] = value
		return
	}
	l.names = append(l.names, name)
	l.values = append(l.values, value)
}

func (l *valueList) lookup(name string) (string, bool) {
	if l == nil {
		return "", false
	}
	for i, n := range l.names {
		if n == name {
			return l.values[i], true
		}
	}
	return "", false
}
