package keytemplate

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/cashews-go/cashews/internal/quote"
)

// A Formatter transforms a rendered value. It receives the value as text, and arg, the text between
// the parentheses when the formatter is written as name(arg), or "" when it is written without them.
// An error it returns fails the Render call, wrapped in an [*ExecError].
type Formatter func(value, arg string) (string, error)

// RegisterFormatter makes f available to templates compiled afterwards under name, as in
// "{Name:name}" or "{Name:name(arg)}". Templates compiled before keep the formatters they found.
//
// RegisterFormatter is meant to be called from init functions, but it is safe for concurrent use.
// It panics if name is empty, has characters other than letters, digits and underscores, is the name
// of a built-in formatter or was registered before, or if f is nil.
func RegisterFormatter(name string, f Formatter) {
	if name == "" || !isFormatterName(name) {
		panic(fmt.Sprintf("keytemplate: invalid formatter name %q", name))
	}
	if isBuiltin(name) {
		panic(fmt.Sprintf("keytemplate: RegisterFormatter of built-in formatter %q", name))
	}
	if f == nil {
		panic("keytemplate: RegisterFormatter of nil formatter " + name)
	}
	register(func(r *registry) {
		if _, dup := r.formatters[name]; dup {
			panic(fmt.Sprintf("keytemplate: RegisterFormatter called twice for %q", name))
		}
		r.formatters[name] = f
	})
}

// RegisterType sets how values of type T render, in templates compiled afterwards, wherever a value
// of type T is rendered: as a field, as an element of a slice or map, as the argument itself in {.},
// and in default keys. A registered renderer takes precedence over a String method and over the
// built-in rules, including those for time.Time and time.Duration. For pointer types, register T and
// not *T: a pointer is dereferenced before its target is rendered.
//
// RegisterType is meant to be called from init functions, but it is safe for concurrent use. It
// panics if render is nil or if T was registered before.
func RegisterType[T any](render func(T) string) {
	if render == nil {
		panic("keytemplate: RegisterType with nil function")
	}
	t := reflect.TypeFor[T]()
	register(func(r *registry) {
		if _, dup := r.types[t]; dup {
			panic(fmt.Sprintf("keytemplate: RegisterType called twice for type %v", t))
		}
		r.types[t] = func(p unsafe.Pointer) string { return render(*(*T)(p)) }
	})
}

// A JWTVerifier checks a JSON Web Token (its signature, and whatever else the program requires:
// issuer, audience, expiry) and returns its claims, or an error when the token is not valid. Any JWT
// library provides one; golang-jwt's jwt.MapClaims converts to map[string]any.
type JWTVerifier func(token string) (claims map[string]any, err error)

// RegisterJWT makes the formatter jwt(claim) available to templates compiled afterwards: it passes
// the text (without a leading "Bearer ") to verify and renders the claim it names from the claims
// verify returns. A token that verify rejects fails the Render call, so a wrapped function given
// one fails instead of reading or writing a cached entry.
//
// There is no jwt formatter without a verifier: a template that uses jwt before RegisterJWT is a
// compile error. Tokens are never decoded unverified, because a key is read before the wrapped
// function runs: on a hit, the function (where the program verifies the token) never runs, so a
// forged token with sub=alice would be served alice's cached data.
//
// RegisterJWT is meant to be called from init functions, but it is safe for concurrent use. It
// panics if verify is nil or if a verifier was registered before.
func RegisterJWT(verify JWTVerifier) {
	if verify == nil {
		panic("keytemplate: RegisterJWT with a nil verifier")
	}
	register(func(r *registry) {
		if r.jwtVerify != nil {
			panic("keytemplate: RegisterJWT called twice")
		}
		r.jwtVerify = verify
	})
}

// A registry holds what RegisterFormatter, RegisterType and RegisterJWT added. A published registry is never
// modified: a registration publishes a modified copy, and a template keeps the registry it was
// compiled with, so rendering takes no lock.
type registry struct {
	formatters map[string]Formatter
	types      map[reflect.Type]func(unsafe.Pointer) string
	jwtVerify  JWTVerifier // nil until RegisterJWT
}

var (
	registryMu sync.Mutex // serializes registrations
	registered atomic.Pointer[registry]
)

// currentRegistry returns the registry that new templates use.
func currentRegistry() *registry {
	if r := registered.Load(); r != nil {
		return r
	}
	return &registry{} // reading nil maps is fine
}

func register(update func(*registry)) {
	registryMu.Lock()
	defer registryMu.Unlock()
	old := currentRegistry()
	r := &registry{
		formatters: maps.Clone(old.formatters),
		types:      maps.Clone(old.types),
		jwtVerify:  old.jwtVerify,
	}
	if r.formatters == nil {
		r.formatters = make(map[string]Formatter)
	}
	if r.types == nil {
		r.types = make(map[reflect.Type]func(unsafe.Pointer) string)
	}
	update(r)
	registered.Store(r)
}

func isFormatterName(name string) bool {
	for _, r := range name {
		if !isFormatterRune(r) {
			return false
		}
	}
	return true
}

// isBuiltin reports whether name is a built-in formatter. Compile handles "get" and "len" on raw
// values itself; the others are string formatters.
func isBuiltin(name string) bool {
	switch name {
	case "lower", "upper", "len", "hash", "jwt", "get":
		return true
	}
	return false
}

// formatKind identifies a formatter that works on text.
type formatKind uint8

const (
	formatLower formatKind = iota
	formatUpper
	formatLen // the length of the text in bytes
	formatMD5
	formatSHA1
	formatSHA256
	formatJWT
	formatCustom
)

// A format is a compiled formatter that rewrites text.
type format struct {
	kind   formatKind
	arg    string      // formatJWT: the claim; formatCustom: the argument
	fn     Formatter   // formatCustom
	verify JWTVerifier // formatJWT
}

// newFormat compiles the formatter c, which applies to text: a rendered value, or a context value.
func newFormat(c call, reg *registry) (format, error) {
	noArg := func(f format) (format, error) {
		if c.hasArg {
			return format{}, fmt.Errorf("formatter %s takes no argument", c.name)
		}
		return f, nil
	}
	switch c.name {
	case "lower":
		return noArg(format{kind: formatLower})
	case "upper":
		return noArg(format{kind: formatUpper})
	case "len":
		return noArg(format{kind: formatLen})
	case "hash":
		switch c.arg {
		case "md5":
			return format{kind: formatMD5}, nil
		case "sha1":
			return format{kind: formatSHA1}, nil
		case "sha256":
			return format{kind: formatSHA256}, nil
		}
		if !c.hasArg {
			return format{}, errors.New("formatter hash needs an algorithm: hash(md5), hash(sha1) or hash(sha256)")
		}
		return format{}, fmt.Errorf("unknown hash algorithm %q, want md5, sha1 or sha256", c.arg)
	case "jwt":
		if reg.jwtVerify == nil {
			return format{}, errors.New("formatter jwt needs a verifier: call keytemplate.RegisterJWT first (tokens are never decoded unverified)")
		}
		if c.arg == "" {
			return format{}, errors.New("formatter jwt needs a claim name, as in jwt(sub)")
		}
		return format{kind: formatJWT, arg: c.arg, verify: reg.jwtVerify}, nil
	case "get":
		return format{}, errors.New("formatter get cannot apply to string")
	}
	if f := reg.formatters[c.name]; f != nil {
		return format{kind: formatCustom, arg: c.arg, fn: f}, nil
	}
	return format{}, fmt.Errorf("unknown formatter %q", c.name)
}

// apply rewrites dst[start:] and returns the extended buffer.
func (f *format) apply(dst []byte, start int) ([]byte, error) {
	switch f.kind {
	case formatLower:
		return mapText(dst, start, 'A', unicode.ToLower), nil
	case formatUpper:
		return mapText(dst, start, 'a', unicode.ToUpper), nil
	case formatLen:
		return strconv.AppendInt(dst[:start], int64(len(dst)-start), 10), nil
	case formatMD5:
		sum := md5.Sum(dst[start:])
		return hex.AppendEncode(dst[:start], sum[:]), nil
	case formatSHA1:
		sum := sha1.Sum(dst[start:])
		return hex.AppendEncode(dst[:start], sum[:]), nil
	case formatSHA256:
		sum := sha256.Sum256(dst[start:])
		return hex.AppendEncode(dst[:start], sum[:]), nil
	case formatJWT:
		return appendClaim(dst, start, f.arg, f.verify)
	}
	s, err := callFormatter(f.fn, string(dst[start:]), f.arg)
	return append(dst[:start], s...), err
}

// mapText maps the runes of dst[start:] through to, which is unicode.ToLower or unicode.ToUpper.
// ASCII text is changed in place; first is the first ASCII letter that changes ('A' for lower case,
// 'a' for upper case).
func mapText(dst []byte, start int, first byte, to func(rune) rune) []byte {
	for i := start; i < len(dst); i++ {
		c := dst[i]
		if c >= utf8.RuneSelf {
			s := string(dst[start:])
			dst = dst[:start]
			for _, r := range s {
				dst = utf8.AppendRune(dst, to(r))
			}
			return dst
		}
		if first <= c && c <= first+'Z'-'A' {
			dst[i] = c ^ 0x20 // flip the case of an ASCII letter
		}
	}
	return dst
}

// appendClaim replaces the JSON Web Token in dst[start:] by the value of its claim, as verify
// returns it. A leading "Bearer " is ignored, so an Authorization header works as it is. A string
// claim renders as the string; any other claim as its JSON text. Errors never quote the token.
func appendClaim(dst []byte, start int, claim string, verify JWTVerifier) ([]byte, error) {
	token := dst[start:]
	if len(token) > 7 && bytes.EqualFold(token[:7], []byte("bearer ")) {
		token = token[7:]
	}
	claims, err := callVerifier(verify, string(token))
	if err != nil {
		return dst, fmt.Errorf("JSON Web Token rejected: %w", err)
	}
	v, ok := claims[claim]
	if !ok || v == nil {
		return dst, fmt.Errorf("JSON Web Token has no claim %s", quote.String(claim))
	}
	dst = dst[:start]
	if s, ok := v.(string); ok {
		return append(dst, s...), nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return dst, fmt.Errorf("JSON Web Token claim %s: %v", quote.String(claim), err)
	}
	return append(dst, bytes.TrimSuffix(b.Bytes(), []byte("\n"))...), nil
}

// callVerifier calls the registered JWT verifier, turning a panic into an error.
func callVerifier(verify JWTVerifier, token string) (claims map[string]any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("verifier panicked: %v", r)
		}
	}()
	return verify(token)
}

// callFormatter calls a registered formatter and turns a panic into an error, as text/template
// does for the functions it calls.
func callFormatter(f Formatter, value, arg string) (s string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("formatter panicked: %v", r)
		}
	}()
	return f(value, arg)
}

// callRenderer calls a renderer registered with RegisterType, turning a panic into an error.
func callRenderer(render func(unsafe.Pointer) string, p unsafe.Pointer) (s string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("renderer panicked: %v", r)
		}
	}()
	return render(p), nil
}

// callString calls the String method of v, turning a panic into an error.
func callString(v reflect.Value) (s string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("String method panicked: %v", r)
		}
	}()
	var x any
	if v.CanAddr() && v.Kind() != reflect.Interface && v.Kind() != reflect.Pointer {
		x = v.Addr().Interface() // no copy: the method set of *T includes that of T
	} else {
		x = v.Interface()
	}
	return x.(fmt.Stringer).String(), nil
}
