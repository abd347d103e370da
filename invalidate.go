package cashews

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/cashews-go/cashews/internal/quote"
	"github.com/cashews-go/cashews/keytemplate"
)

// ErrInvalidation is matched by the error of a function wrapped by [InvalidateAfter] or
// [InvalidateKey] when the function succeeded but the keys it invalidates could not all be
// deleted. The call's result is then the function's, and good: only the cache may still hold what
// the function changed. The error also wraps the backend's error.
var ErrInvalidation = errors.New("cashews: invalidation failed")

// A KeyTemplate is a key template compiled for arguments of type A, to share between the wrapped
// function whose keys it renders and the functions that invalidate them:
//
//	userKey := cashews.MustNewKey[int]("user:{.}")
//	getUser := cashews.MustWrap(c, fetchUser, cashews.TTL(time.Hour), userKey)
//	saveUser := cashews.MustInvalidateKey(c, storeUser, userKey, func(u User) int { return u.ID })
//
// As an option of [Wrap] it is the [Key] option with its template, and the wrapped function must
// take an A. Put any prefix into the template rather than adding [KeyPrefix], which would change
// the keys of the Wrap and not the keys the KeyTemplate renders (Wrap reports a KeyPrefix given
// before the KeyTemplate; one given after cannot be seen).
//
// A KeyTemplate is safe for concurrent use.
type KeyTemplate[A any] struct {
	t *keytemplate.Template[A]
}

// NewKey compiles a key template for arguments of type A (see package keytemplate). A template
// that does not compile returns a *keytemplate.SyntaxError, *keytemplate.FieldError or
// *keytemplate.FormatterError; [MustNewKey] panics with it.
func NewKey[A any](template string) (*KeyTemplate[A], error) {
	t, err := keytemplate.Compile[A](template)
	if err != nil {
		return nil, fmt.Errorf("cashews: key template: %w", err)
	}
	return &KeyTemplate[A]{t: t}, nil
}

// MustNewKey is [NewKey] that panics with the error, for templates in package-level vars, as
// regexp.MustCompile is.
func MustNewKey[A any](template string) *KeyTemplate[A] {
	k, err := NewKey[A](template)
	if err != nil {
		panic(err)
	}
	return k
}

// String returns the template's source.
func (k *KeyTemplate[A]) String() string { return k.t.String() }

// Render returns the key for arg, as a function wrapped with k stores it. ctx supplies the
// template's context values ({@name}).
func (k *KeyTemplate[A]) Render(ctx context.Context, arg A) (string, error) {
	return k.t.Render(ctx, arg)
}

// applyWrap makes k the key template of a Wrap call, compiled already.
func (k *KeyTemplate[A]) applyWrap(c *WrapConfig) {
	if c.Prefix != "" {
		c.errs = append(c.errs, fmt.Errorf("%w: KeyPrefix(%q) with the KeyTemplate %q: the prefix would not be in the keys the KeyTemplate renders; put it into the template", ErrConfig, c.Prefix, k.String()))
	}
	c.Key, c.key, c.keyArg = k.String(), k.t, reflect.TypeFor[A]()
}

// InvalidateAfter returns fn wrapped so that, each time fn succeeds, the keys matching patterns are
// deleted: "user:{ID}:*" deletes every key of the user whose ID the argument has. A pattern is a key
// template over the argument (see package keytemplate) whose literal text is a glob, as for
// [Cache.DeleteMatch]: * ? [a-z] and \ have their glob meaning there. The values that placeholders
// render are always literal: a "*" in an ID matches only a "*", so that no argument can widen a
// pattern. A pattern without glob characters in its text names one key, which is deleted with
// [Cache.Delete] instead of a scan.
//
// Patterns are compiled here; a pattern that does not compile, or no pattern at all, is a mistake in
// the program: InvalidateAfter returns an error matching [ErrConfig], or the template error of a
// pattern, and [MustInvalidateAfter] panics with it.
//
// When fn fails, nothing is deleted. When fn succeeds, every pattern is deleted, even if the caller's
// context is cancelled meanwhile (the change fn made is done); if one cannot be deleted, or rendered,
// the call returns fn's result with an error matching [ErrInvalidation] and the cause. Keys are
// deleted after fn returns, so a call of the cached function that started before may store the old
// value again: invalidation is as good as the cache-aside pattern it serves.
func InvalidateAfter[A, R any](c *Cache, fn func(context.Context, A) (R, error), patterns ...string) (func(context.Context, A) (R, error), error) {
	if c == nil || fn == nil {
		return nil, fmt.Errorf("%w: InvalidateAfter needs a Cache and a function", ErrConfig)
	}
	if len(patterns) == 0 {
		return nil, fmt.Errorf("%w: InvalidateAfter without patterns", ErrConfig)
	}
	compiled := make([]*invPattern[A], len(patterns))
	for i, src := range patterns {
		p, err := compileInvPattern[A](src)
		if err != nil {
			return nil, fmt.Errorf("cashews: InvalidateAfter: pattern: %w", err)
		}
		compiled[i] = p
	}
	return func(ctx context.Context, a A) (R, error) {
		r, err := fn(ctx, a)
		if err != nil {
			return r, err
		}
		dctx := context.WithoutCancel(ctx)
		var errs []error
		for _, p := range compiled {
			if err := p.delete(dctx, c, a); err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			return r, fmt.Errorf("%w: %w", ErrInvalidation, errors.Join(errs...))
		}
		return r, nil
	}, nil
}

// MustInvalidateAfter is [InvalidateAfter] that panics with a configuration mistake.
func MustInvalidateAfter[A, R any](c *Cache, fn func(context.Context, A) (R, error), patterns ...string) func(context.Context, A) (R, error) {
	w, err := InvalidateAfter(c, fn, patterns...)
	if err != nil {
		panic(err)
	}
	return w
}

// InvalidateKey returns fn wrapped so that, each time fn succeeds, the key that key renders for
// arg(a) is deleted, where a is fn's argument: the entry of another wrapped function, whose key
// template key is, for the argument that this call changed. See [KeyTemplate] for an example.
// Failures are handled as by [InvalidateAfter]. When c, fn, key or arg is nil, InvalidateKey returns
// an error matching [ErrConfig]; [MustInvalidateKey] panics with it.
func InvalidateKey[A, R, B any](c *Cache, fn func(context.Context, A) (R, error), key *KeyTemplate[B], arg func(A) B) (func(context.Context, A) (R, error), error) {
	if c == nil || fn == nil || key == nil || arg == nil {
		return nil, fmt.Errorf("%w: InvalidateKey needs a Cache, a function, a KeyTemplate and a function mapping the argument", ErrConfig)
	}
	return func(ctx context.Context, a A) (R, error) {
		r, err := fn(ctx, a)
		if err != nil {
			return r, err
		}
		k, err := key.Render(ctx, arg(a))
		if err == nil {
			_, err = c.Delete(context.WithoutCancel(ctx), k)
			if err != nil {
				err = fmt.Errorf("delete %s: %w", quote.String(k), err)
			}
		} else {
			err = fmt.Errorf("key %q: %w", key.String(), err)
		}
		if err != nil {
			return r, fmt.Errorf("%w: %w", ErrInvalidation, err)
		}
		return r, nil
	}, nil
}

// invPattern is a compiled pattern of InvalidateAfter: literal glob text and placeholders, each
// compiled on its own so that its value can be escaped.
type invPattern[A any] struct {
	src   string
	parts []invPart[A]
	exact bool // the literal text has no glob characters: the pattern names one key
}

type invPart[A any] struct {
	text string                   // literal glob text, when t is nil
	t    *keytemplate.Template[A] // a placeholder
}

// compileInvPattern compiles src, first as a whole, so that errors point into src, then piece by
// piece, with the template syntax: "{{" and "}}" are literal braces, and a placeholder runs from "{"
// to the next "}".
func compileInvPattern[A any](src string) (*invPattern[A], error) {
	if _, err := keytemplate.Compile[A](src); err != nil {
		return nil, err
	}
	p := &invPattern[A]{src: src, exact: true}
	var text strings.Builder
	flush := func() {
		if text.Len() > 0 {
			lit := text.String()
			if strings.ContainsAny(lit, `*?[\`) {
				p.exact = false
			}
			p.parts = append(p.parts, invPart[A]{text: lit})
			text.Reset()
		}
	}
	for i := 0; i < len(src); {
		ch := src[i]
		switch {
		case (ch == '{' || ch == '}') && i+1 < len(src) && src[i+1] == ch:
			text.WriteByte(ch)
			i += 2
		case ch == '{':
			end := i + strings.IndexByte(src[i:], '}')
			t, err := keytemplate.Compile[A](src[i : end+1])
			if err != nil {
				return nil, err
			}
			flush()
			p.parts = append(p.parts, invPart[A]{t: t})
			i = end + 1
		default:
			text.WriteByte(ch)
			i++
		}
	}
	flush()
	return p, nil
}

// delete deletes the keys that the pattern matches for a.
func (p *invPattern[A]) delete(ctx context.Context, c *Cache, a A) error {
	var b []byte
	for _, part := range p.parts {
		if part.t == nil {
			b = append(b, part.text...)
			continue
		}
		v, err := part.t.Render(ctx, a)
		if err != nil {
			return fmt.Errorf("pattern %q: %w", p.src, err)
		}
		if p.exact {
			b = append(b, v...)
		} else {
			b = appendGlobLiteral(b, v)
		}
	}
	var err error
	if p.exact {
		_, err = c.Delete(ctx, string(b))
	} else {
		_, err = c.DeleteMatch(ctx, string(b))
	}
	if err != nil {
		return fmt.Errorf("pattern %q: delete %s: %w", p.src, quote.String(string(b)), err)
	}
	return nil
}

// appendGlobLiteral appends s to a glob pattern so that it matches only itself.
func appendGlobLiteral(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return b
}

// MustInvalidateKey is [InvalidateKey] that panics with a configuration mistake.
func MustInvalidateKey[A, R, B any](c *Cache, fn func(context.Context, A) (R, error), key *KeyTemplate[B], arg func(A) B) func(context.Context, A) (R, error) {
	w, err := InvalidateKey(c, fn, key, arg)
	if err != nil {
		panic(err)
	}
	return w
}
