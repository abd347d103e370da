package keytemplate

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

func TestCompileErrors(t *testing.T) {
	//lint:ignore U1000 unexported fields, seen only through reflection: templates must refuse them
	type hidden struct {
		id   int
		name string
	}
	type withFunc struct {
		ID int
		Fn func()
	}
	type byID struct{ ByID map[int]string }
	tests := []struct {
		name    string
		compile func() error
		want    string       // the error message
		field   string       // for a *FieldError: its Field
		typ     reflect.Type // for a *FieldError: its Type
		fmt     string       // for a *FormatterError: its Formatter
	}{
		{
			name:    "unknown field",
			compile: compiles[Query]("user:{Nmae}"),
			want:    `keytemplate: "user:{Nmae}": type keytemplate.Query has no field or key "Nmae"`,
			field:   "Nmae", typ: reflect.TypeFor[Query](),
		},
		{
			name:    "unknown nested field",
			compile: compiles[User]("{Profile.Nmae}"),
			want:    `keytemplate: "{Profile.Nmae}": type keytemplate.Profile has no field or key "Nmae"`,
			field:   "Profile.Nmae", typ: reflect.TypeFor[Profile](),
		},
		{
			name:    "unknown field of a pointer argument",
			compile: compiles[*Query]("{Nmae}"),
			want:    `keytemplate: "{Nmae}": type keytemplate.Query has no field or key "Nmae"`,
			field:   "Nmae", typ: reflect.TypeFor[Query](),
		},
		{
			name:    "unexported field",
			compile: compiles[User]("{secret}"),
			want:    `keytemplate: "{secret}": field "secret" of type keytemplate.User is not exported`,
			field:   "secret", typ: reflect.TypeFor[User](),
		},
		{
			name:    "field of an int",
			compile: compiles[Query]("{ID.X}"),
			want:    `keytemplate: "{ID.X}": type int has no field or key "X"`,
			field:   "ID.X", typ: reflect.TypeFor[int](),
		},
		{
			name:    "field of a scalar argument",
			compile: compiles[string]("{Name}"),
			want:    `keytemplate: "{Name}": type string has no field or key "Name"`,
			field:   "Name", typ: reflect.TypeFor[string](),
		},
		{
			name:    "field of an interface",
			compile: compiles[any]("{ID}"),
			want:    `keytemplate: "{ID}": type interface {} has no field or key "ID"`,
			field:   "ID", typ: reflect.TypeFor[any](),
		},
		{
			name:    "key of a map with int keys",
			compile: compiles[byID]("{ByID.x}"),
			want:    `keytemplate: "{ByID.x}": type map[int]string has no field or key "x" (map keys must be strings)`,
			field:   "ByID.x", typ: reflect.TypeFor[map[int]string](),
		},
		{
			name:    "struct field",
			compile: compiles[User]("{Profile}"),
			want:    `keytemplate: "{Profile}": cannot render Profile of type keytemplate.Profile; name its fields, or register a renderer with RegisterType`,
			field:   "Profile", typ: reflect.TypeFor[Profile](),
		},
		{
			name:    "struct argument",
			compile: compiles[Query]("{.}"),
			want:    `keytemplate: "{.}": cannot render the argument of type keytemplate.Query; name its fields, or register a renderer with RegisterType`,
			field:   ".", typ: reflect.TypeFor[Query](),
		},
		{
			name:    "slice of structs",
			compile: compiles[[]Query]("{.}"),
			want:    `keytemplate: "{.}": cannot render the argument of type []keytemplate.Query: it holds keytemplate.Query; name its fields, or register a renderer with RegisterType`,
			field:   ".", typ: reflect.TypeFor[Query](),
		},
		{
			name:    "func field",
			compile: compiles[User]("{Fn}"),
			want:    `keytemplate: "{Fn}": cannot render Fn of type func()`,
			field:   "Fn", typ: reflect.TypeFor[func()](),
		},
		{
			name:    "unknown formatter",
			compile: compiles[Query]("{ID:foo}"),
			want:    `keytemplate: "{ID:foo}": unknown formatter "foo"`,
			fmt:     "foo",
		},
		{
			name:    "unknown hash algorithm",
			compile: compiles[Query]("{Lang:hash(md4)}"),
			want:    `keytemplate: "{Lang:hash(md4)}": unknown hash algorithm "md4", want md5, sha1 or sha256`,
			fmt:     "hash(md4)",
		},
		{
			name:    "hash without algorithm",
			compile: compiles[Query]("{Lang:hash}"),
			want:    `keytemplate: "{Lang:hash}": formatter hash needs an algorithm: hash(md5), hash(sha1) or hash(sha256)`,
			fmt:     "hash",
		},
		{
			name:    "jwt without claim",
			compile: compiles[Query]("{Lang:jwt()}"),
			want:    `keytemplate: "{Lang:jwt()}": formatter jwt needs a claim name, as in jwt(sub)`,
			fmt:     "jwt()",
		},
		{
			name: "jwt without a verifier",
			compile: func() error {
				_, err := newFormat(call{name: "jwt", arg: "sub", hasArg: true}, &registry{})
				if err == nil {
					return nil
				}
				return &FormatterError{Template: "{Token:jwt(sub)}", Formatter: "jwt(sub)", Msg: err.Error()}
			},
			want: `keytemplate: "{Token:jwt(sub)}": formatter jwt needs a verifier: call keytemplate.RegisterJWT first (tokens are never decoded unverified)`,
			fmt:  "jwt(sub)",
		},
		{
			name:    "argument to lower",
			compile: compiles[Query]("{Lang:lower(x)}"),
			want:    `keytemplate: "{Lang:lower(x)}": formatter lower takes no argument`,
			fmt:     "lower(x)",
		},
		{
			name:    "argument to len",
			compile: compiles[User]("{Tags:len(x)}"),
			want:    `keytemplate: "{Tags:len(x)}": formatter len takes no argument`,
			fmt:     "len(x)",
		},
		{
			name:    "len on int",
			compile: compiles[Query]("{ID:len}"),
			want:    `keytemplate: "{ID:len}": formatter len cannot apply to int`,
			fmt:     "len",
		},
		{
			name:    "len on interface",
			compile: compiles[User]("{Any:len}"),
			want:    `keytemplate: "{Any:len}": formatter len cannot apply to interface {}`,
			fmt:     "len",
		},
		{
			name:    "get on slice",
			compile: compiles[User]("{Tags:get(x)}"),
			want:    `keytemplate: "{Tags:get(x)}": formatter get cannot apply to []string, want a map with string keys`,
			fmt:     "get(x)",
		},
		{
			name:    "get without key",
			compile: compiles[User]("{Params:get}"),
			want:    `keytemplate: "{Params:get}": formatter get needs a key, as in get(lang)`,
			fmt:     "get",
		},
		{
			name:    "get on text",
			compile: compiles[User]("{Params:lower:get(x)}"),
			want:    `keytemplate: "{Params:lower:get(x)}": formatter get cannot apply to string`,
			fmt:     "get(x)",
		},
		{
			name:    "get on a context value",
			compile: compiles[User]("{@tenant:get(x)}"),
			want:    `keytemplate: "{@tenant:get(x)}": formatter get cannot apply to string`,
			fmt:     "get(x)",
		},
		{
			name:    "unknown formatter on star",
			compile: compiles[Query]("{*:nope}"),
			want:    `keytemplate: "{*:nope}": unknown formatter "nope"`,
			fmt:     "nope",
		},
		{
			name:    "default key of unexported fields",
			compile: defaults[hidden]("f"),
			want:    `keytemplate: "f:{*}": type keytemplate.hidden has no exported fields: a default key would not depend on the argument`,
			field:   "*", typ: reflect.TypeFor[hidden](),
		},
		{
			name:    "default key of a func field",
			compile: defaults[withFunc]("f"),
			want:    `keytemplate: "f:{*}": cannot render Fn of type func()`,
			field:   "Fn", typ: reflect.TypeFor[func()](),
		},
		{
			name:    "default key of a channel",
			compile: defaults[chan int]("f"),
			want:    `keytemplate: "f:{*}": cannot render the argument of type chan int`,
			field:   "*", typ: reflect.TypeFor[chan int](),
		},
		{
			name:    "default key of a map of funcs",
			compile: defaults[map[string]func()]("f"),
			want:    `keytemplate: "f:{*}": cannot render the argument of type map[string]func(): it holds func()`,
			field:   "*", typ: reflect.TypeFor[func()](),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.compile()
			if err == nil {
				t.Fatalf("Compile succeeded; want %s", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Compile error = %s\nwant %s", err, tt.want)
			}
			var fe *FieldError
			var fme *FormatterError
			switch {
			case tt.fmt != "":
				if !errors.As(err, &fme) || fme.Formatter != tt.fmt {
					t.Errorf("Compile error = %#v; want a *FormatterError for %q", err, tt.fmt)
				}
			case !errors.As(err, &fe):
				t.Errorf("Compile error = %#v; want a *FieldError", err)
			case fe.Field != tt.field || fe.Type != tt.typ:
				t.Errorf("FieldError for %q of type %v; want %q of type %v", fe.Field, fe.Type, tt.field, tt.typ)
			}
		})
	}
}

func compiles[A any](src string) func() error {
	return func() error {
		_, err := Compile[A](src)
		return err
	}
}

func defaults[A any](name string) func() error {
	return func() error {
		_, err := Default[A](name)
		return err
	}
}

func TestRegisterPanics(t *testing.T) {
	tests := []struct {
		name string
		f    func()
	}{
		{"empty name", func() { RegisterFormatter("", func(v, _ string) (string, error) { return v, nil }) }},
		{"bad name", func() { RegisterFormatter("a-b", func(v, _ string) (string, error) { return v, nil }) }},
		{"built-in", func() { RegisterFormatter("lower", func(v, _ string) (string, error) { return v, nil }) }},
		{"twice", func() { RegisterFormatter("reverse", func(v, _ string) (string, error) { return v, nil }) }},
		{"nil formatter", func() { RegisterFormatter("nilformatter", nil) }},
		{"type twice", func() { RegisterType(func(Money) string { return "" }) }},
		{"nil renderer", func() { RegisterType[Query](nil) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("no panic")
				}
			}()
			tt.f()
		})
	}
}

func TestRegisterConcurrent(t *testing.T) {
	// Registrations race with compiling and rendering; run with -race.
	base := len(currentRegistry().formatters)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 50 {
			name := "concurrent_" + string(rune('a'+i%26)) + string(rune('a'+i/26))
			if _, ok := currentRegistry().formatters[name]; !ok {
				RegisterFormatter(name, func(v, _ string) (string, error) { return v, nil })
			}
		}
	}()
	tmpl := MustCompile[Query]("{Lang:reverse}")
	for range 200 {
		if _, err := Compile[Query]("{Lang:reverse:upper}"); err != nil {
			t.Fatal(err)
		}
		if _, err := tmpl.Render(context.Background(), Query{Lang: "ab"}); err != nil {
			t.Fatal(err)
		}
	}
	<-done
	if got := len(currentRegistry().formatters); got < base {
		t.Errorf("%d formatters after registering, %d before", got, base)
	}
}
