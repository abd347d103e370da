package keytemplate

import (
	"context"
	"errors"
	"testing"
)

type fuzzArg struct {
	S      string
	N      int
	F      float64
	B      []byte
	Tags   []string
	P      *string
	M      map[string]string
	Any    any
	Nested struct{ S string }
}

func FuzzParse(f *testing.F) {
	for _, tt := range parseTests {
		f.Add(tt.input)
	}
	f.Fuzz(func(t *testing.T, src string) {
		nodes, err := parse(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("parse(%q) = %v; want a *SyntaxError", src, err)
			}
			if se.Pos < 0 || se.Pos >= len(src) {
				t.Fatalf("parse(%q) error at %d, outside the template", src, se.Pos)
			}
			return
		}
		if got := formatNodes(nodes); got != src {
			t.Fatalf("formatNodes(parse(%q)) = %q", src, got)
		}
		// Compiling never panics, whatever the template names.
		_, _ = Compile[fuzzArg](src)
		_, _ = Compile[map[string]int](src)
		_, _ = Compile[any](src)
	})
}

func FuzzRender(f *testing.F) {
	seeds := []string{
		"{S}:{N}:{F}:{B}:{Tags}:{P}:{M}:{Any}:{Nested.S}",
		"{S:lower:hash(md5)}:{Tags:len}:{M:get(k):upper}:{M.k}",
		"{S:jwt(sub)}",
		"{@ctx}:{*}",
		"{*:hash(sha1)}",
		"{Any:reverse}:{S:prefix(x)}",
	}
	for _, s := range seeds {
		f.Add(s, "Hello", 1, []byte("\xff"), "k")
	}
	f.Fuzz(func(t *testing.T, src, s string, n int, b []byte, k string) {
		tmpl, err := Compile[fuzzArg](src)
		if err != nil {
			return
		}
		arg := fuzzArg{S: s, N: n, F: float64(n) / 3, B: b, Tags: []string{s, k}, M: map[string]string{k: s}}
		if n%2 == 0 {
			arg.P = &k
			arg.Any = b
		}
		ctx := WithValue(context.Background(), "ctx", k)
		got, err := tmpl.Render(ctx, arg)
		if err != nil {
			var ee *ExecError
			if !errors.As(err, &ee) {
				t.Fatalf("Render = %v; want an *ExecError", err)
			}
			return
		}
		if again, _ := tmpl.Render(ctx, arg); again != got {
			t.Fatalf("Render twice = %q, then %q", got, again)
		}
	})
}
