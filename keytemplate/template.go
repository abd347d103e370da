package keytemplate

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"unsafe"
)

// A Template renders cache keys from arguments of type A. It is compiled once, by Compile or Default,
// and is safe for concurrent use by multiple goroutines.
type Template[A any] struct {
	prog *program
}

// Compile parses a template and resolves its placeholders against the type A. It returns a
// [*SyntaxError] for a template that is not well formed, a [*FieldError] for a field that A does not
// have or a value that cannot be rendered, and a [*FormatterError] for a formatter that does not
// exist, does not apply, or was given a bad argument.
//
// The template keeps the formatters and renderers registered when Compile is called.
func Compile[A any](src string) (*Template[A], error) {
	nodes, err := parse(src)
	if err != nil {
		return nil, err
	}
	pr, err := compile(src, nodes, reflect.TypeFor[A](), currentRegistry())
	if err != nil {
		return nil, err
	}
	return &Template[A]{prog: pr}, nil
}

// MustCompile is like Compile but panics if the template does not compile. It simplifies the
// initialization of global variables holding templates written in the program.
func MustCompile[A any](src string) *Template[A] {
	t, err := Compile[A](src)
	if err != nil {
		panic(err)
	}
	return t
}

// Default returns the template of the default key of a function named name, such as
// "github.com/x/pkg.FetchUser", taking arguments of type A: the name, a colon, and the argument in
// the default-key encoding, as written by the placeholder {*}. In the name, "%" and ":" are escaped
// as "%25" and "%3A", so that keys of different functions differ too.
//
// Default fails for a type A whose values cannot all be told apart by the encoding: a struct with
// fields but no exported ones, and a type that holds functions or channels.
func Default[A any](name string) (*Template[A], error) {
	name = strings.NewReplacer("%", "%25", ":", "%3A").Replace(name)
	return Compile[A](quoteLiteral(name) + ":{*}")
}

// String returns the source of the template.
func (t *Template[A]) String() string {
	return t.prog.src
}

// Fields returns the field paths that the template's placeholders name, in order of first
// appearance and without repetition: "User.Name" for {User.Name:lower}, "Params" for
// {Params:get(lang)}, "." for {.} and "*" for {*}. Context values are not included.
func (t *Template[A]) Fields() []string {
	return slices.Clone(t.prog.fields)
}

// Render returns the key for arg. ctx supplies the values of {@name} placeholders; it may be nil
// when the template has none.
func (t *Template[A]) Render(ctx context.Context, arg A) (string, error) {
	if ops := t.prog.ops; len(ops) == 1 && ops[0].kind == opText {
		return ops[0].text, nil
	}
	var buf [128]byte
	b, err := t.AppendRender(ctx, buf[:0], arg)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// AppendRender appends the key for arg to dst and returns the extended buffer. On error, the
// contents of the returned buffer past len(dst) are unspecified.
func (t *Template[A]) AppendRender(ctx context.Context, dst []byte, arg A) ([]byte, error) {
	if t.prog.slow {
		h := new(A)
		*h = arg
		return t.prog.run(ctx, dst, unsafe.Pointer(h), unsafe.Pointer(h))
	}
	// The argument stays on the stack: run reads it through field offsets only.
	return t.prog.run(ctx, dst, unsafe.Pointer(&arg), nil)
}
