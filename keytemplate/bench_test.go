package keytemplate

import (
	"context"
	"testing"
)

type benchQuery struct {
	ID   int
	Lang string
}

type benchRequest struct {
	User struct {
		Profile struct {
			Name string
		}
	}
	Password string
}

func benchmarkRender[A any](b *testing.B, t *Template[A], arg A) {
	b.Helper()
	ctx := context.Background()
	if _, err := t.Render(ctx, arg); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := t.Render(ctx, arg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRender(b *testing.B) {
	q := benchQuery{ID: 42, Lang: "EN"}
	var r benchRequest
	r.User.Profile.Name = "Gopher"
	r.Password = "hunter2"

	b.Run("literal", func(b *testing.B) {
		benchmarkRender(b, MustCompile[benchQuery]("users:all"), q)
	})
	b.Run("two_fields", func(b *testing.B) {
		benchmarkRender(b, MustCompile[benchQuery]("user:{ID}:{Lang:lower}"), q)
	})
	b.Run("nested_field", func(b *testing.B) {
		benchmarkRender(b, MustCompile[benchRequest]("user:{User.Profile.Name}"), r)
	})
	b.Run("hash", func(b *testing.B) {
		benchmarkRender(b, MustCompile[benchRequest]("login:{Password:hash(sha256)}"), r)
	})
	b.Run("default_key", func(b *testing.B) {
		d, err := Default[benchQuery]("github.com/x/pkg.FetchUser")
		if err != nil {
			b.Fatal(err)
		}
		benchmarkRender(b, d, q)
	})
	b.Run("default_key_pointer", func(b *testing.B) {
		d, err := Default[*benchQuery]("github.com/x/pkg.FetchUser")
		if err != nil {
			b.Fatal(err)
		}
		benchmarkRender(b, d, &q)
	})
	b.Run("context_value", func(b *testing.B) {
		t := MustCompile[benchQuery]("user:{@tenant}:{ID}")
		ctx := WithValue(context.Background(), "tenant", "acme")
		b.ReportAllocs()
		for b.Loop() {
			if _, err := t.Render(ctx, q); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("map_get", func(b *testing.B) {
		type params struct{ Params map[string]string }
		benchmarkRender(b, MustCompile[params]("search:{Params:get(lang)}"), params{map[string]string{"lang": "en"}})
	})
	b.Run("reflect_fallback", func(b *testing.B) {
		type tags struct{ Tags map[string]int }
		benchmarkRender(b, MustCompile[tags]("t:{Tags}"), tags{map[string]int{"a": 1, "b": 2}})
	})
}

func BenchmarkAppendRender(b *testing.B) {
	t := MustCompile[benchQuery]("user:{ID}:{Lang:lower}")
	q := benchQuery{ID: 42, Lang: "EN"}
	ctx := context.Background()
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = t.AppendRender(ctx, buf[:0], q); err != nil {
			b.Fatal(err)
		}
	}
}
